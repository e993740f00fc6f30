//! `gvnet-harness testbed`: builds and caches runsc (trixie), a sid root filesystem with dockerd
//! and trixie's runc, and a busybox image tarball.
//!
//! Layout under the cache root (`$GVNET_CACHE`, default /var/cache/gvnet):
//!   apt/                    private apt configuration, lists and downloaded debs
//!   testbed-<hash>/         one finished testbed, named by a hash of the package versions
//!     runsc                 trixie's runsc binary
//!     rootfs/               sid minbase + docker.io, podman; runc 1.1.15 at /usr/local/sbin/runc
//!     bb.tar                busybox image (docker import ... bb:latest)
//!     manifest.txt          versions and choices, human readable
//!   current -> testbed-<hash>
//!   .build-<hash>-<pid>/    a build in progress (renamed into place when complete)

use crate::bail;
use crate::util::{self, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const MIRROR: &str = "http://deb.debian.org/debian";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// Bump when the recipe below changes in a way that needs a rebuild.
const RECIPE: &str = "gvnet-testbed-3";
/// Beyond docker.io: busybox for the bb image; golang and vishvananda/netlink to build the Go
/// event subscriber inside the sandbox (issue 3); docker-compose and dnsmasq-base for the
/// Docker feature scenarios (issue 4); docker-buildx for the BuildKit scenario (issue 15);
/// rootful podman with netavark, aardvark-dns, conmon, crun (podman's default runtime; runc is
/// there anyway), catatonit (`--init`) and podman-compose (issue 16; docs/podman.md).
/// debootstrap installs Depends only, so podman's Recommends (buildah, passt, slirp4netns,
/// criu, ...) stay out: rootful bridge networking needs none of them.
pub const INCLUDE: &str = "docker.io,docker-cli,iproute2,busybox-static,procps,iptables,\
python3-minimal,iputils-ping,golang-go,golang-github-vishvananda-netlink-dev,docker-compose,\
dnsmasq-base,docker-buildx,podman,netavark,aardvark-dns,conmon,crun,catatonit,podman-compose";
/// The runsc build known to work; the sid one panics inside gVisor (see docs).
const RUNSC_KNOWN_GOOD: &str = "0.0~20240729.0-4+b7";
/// Where trixie's runc goes in the rootfs; dockerd is told explicitly to use it.
pub const RUNC_IN_ROOTFS: &str = "/usr/local/sbin/runc";

/// Packages whose versions name the testbed: (package, suite).
const KEYED: &[(&str, &str)] = &[
    ("runsc", "trixie"),
    ("runc", "trixie"),
    ("docker.io", "sid"),
    ("docker-cli", "sid"),
    ("docker-buildx", "sid"),
    ("containerd", "sid"),
    ("podman", "sid"),
    ("netavark", "sid"),
    ("aardvark-dns", "sid"),
    ("iptables", "sid"),
    ("iproute2", "sid"),
    ("busybox-static", "sid"),
    ("libc6", "sid"),
];

/// A finished testbed.
#[derive(Debug, Clone)]
pub struct Testbed {
    pub dir: PathBuf,
}

impl Testbed {
    pub fn runsc(&self) -> PathBuf {
        self.dir.join("runsc")
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn bb_tar(&self) -> PathBuf {
        self.dir.join("bb.tar")
    }
    fn is_complete(dir: &Path) -> bool {
        dir.join("manifest.txt").is_file()
            && dir.join("runsc").is_file()
            && dir.join("bb.tar").is_file()
            && dir.join("rootfs/usr/sbin/dockerd").exists()
            && dir.join("rootfs/usr/bin/podman").exists()
    }
}

/// A host program the testbed build needs, and the Debian package that provides it.
const HOST_TOOLS: &[(&str, &str)] = &[
    ("debootstrap", "debootstrap"),
    ("apt-get", "apt"),
    ("apt-cache", "apt"),
    ("dpkg-deb", "dpkg"),
    ("chroot", "coreutils"),
    ("tar", "tar"),
];

/// The message naming missing host programs and the packages to install, if any are missing.
fn missing_prereqs(have: impl Fn(&str) -> bool, keyring: bool) -> Option<String> {
    let mut what = Vec::new();
    let mut pkgs: Vec<&str> = Vec::new();
    for (prog, pkg) in HOST_TOOLS {
        if !have(prog) {
            what.push(format!("{prog} (package {pkg})"));
            if !pkgs.contains(pkg) {
                pkgs.push(pkg);
            }
        }
    }
    if !keyring {
        what.push(format!("{KEYRING} (package debian-archive-keyring)"));
        pkgs.push("debian-archive-keyring");
    }
    (!what.is_empty()).then(|| {
        format!(
            "host prerequisites missing: {}; install with `apt-get install -y {}`",
            what.join(", "),
            pkgs.join(" ")
        )
    })
}

pub fn check_host_tools() -> Result<()> {
    if let Some(msg) = missing_prereqs(|p| util::which(p).is_some(), Path::new(KEYRING).is_file()) {
        return Err(msg.into());
    }
    // Root check without libc: the effective uid is the second field of Uid: in /proc/self/status.
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("0");
    if euid != "0" {
        bail!("the testbed needs root (debootstrap, chroot, runsc); running as uid {euid}");
    }
    Ok(())
}

/// The private apt setup: never touches the host's /etc/apt or /var/lib/apt.
struct Apt {
    dir: PathBuf,
}

impl Apt {
    fn new(cache: &Path) -> Result<Apt> {
        let dir = cache.join("apt");
        for d in [
            "etc/preferences.d",
            "lists/partial",
            "cache/archives/partial",
            "debs",
        ] {
            fs::create_dir_all(dir.join(d))
                .with_ctx(|| format!("cannot create {}", dir.join(d).display()))?;
        }
        let sources = ["trixie", "sid"]
            .iter()
            .map(|s| format!("deb [signed-by={KEYRING}] {MIRROR} {s} main\n"))
            .collect::<String>();
        util::write_file(&dir.join("etc/sources.list"), sources)?;
        Ok(Apt { dir })
    }

    fn opts(&self) -> Vec<String> {
        let d = |p: &str| self.dir.join(p).display().to_string();
        vec![
            format!("-oDir::Etc::SourceList={}", d("etc/sources.list")),
            "-oDir::Etc::SourceParts=-".into(),
            format!("-oDir::State::Lists={}", d("lists")),
            format!("-oDir::Cache={}", d("cache")),
            format!("-oDir::Etc::Preferences={}", d("etc/preferences")),
            format!("-oDir::Etc::PreferencesParts={}", d("etc/preferences.d")),
            "-oAPT::Get::List-Cleanup=true".into(),
            "-oDebug::NoLocking=true".into(),
        ]
    }

    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.args(self.opts());
        c
    }

    fn update(&self, log: &Path) -> Result<()> {
        util::run_step(
            "apt-get update (private lists: trixie + sid)",
            self.cmd("apt-get").args(["-q", "update"]),
            log,
            Duration::from_secs(600),
        )
    }

    /// Versions of (package, suite) pairs, from one `apt-cache madison` call (each call parses
    /// all lists: about 1.5 s).
    fn versions(&self, wanted: &[(&str, &str)]) -> Result<Vec<String>> {
        let mut cmd = self.cmd("apt-cache");
        cmd.arg("madison").args(wanted.iter().map(|w| w.0));
        let out = util::capture(&mut cmd, Duration::from_secs(120))?;
        if !out.ok() {
            bail!("apt-cache madison: {}", out.combined());
        }
        let mut found = Vec::new();
        for (pkg, suite) in wanted {
            let v = out.stdout.lines().find_map(|line| {
                let f: Vec<&str> = line.split('|').map(str::trim).collect();
                let in_suite = f.len() >= 3
                    && f[0] == *pkg
                    && f[2]
                        .split_whitespace()
                        .nth(1)
                        .is_some_and(|s| s.starts_with(&format!("{suite}/")));
                in_suite.then(|| f[1].to_string())
            });
            match v {
                Some(v) => found.push(v),
                None => bail!(
                    "package {pkg} not found in {suite} (apt-cache madison printed:\n{})",
                    out.stdout.trim_end()
                ),
            }
        }
        Ok(found)
    }

    /// Downloads `pkg/suite` into apt/debs (kept across builds) and returns the .deb path.
    fn download(&self, pkg: &str, suite: &str, version: &str, log: &Path) -> Result<PathBuf> {
        let debs = self.dir.join("debs");
        let name = format!("{pkg}_{}_", version.replace(':', "%3a"));
        let find = || -> Option<PathBuf> {
            fs::read_dir(&debs)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&name) && n.ends_with(".deb"))
                })
        };
        if let Some(p) = find() {
            return Ok(p);
        }
        util::run_step(
            &format!("download {pkg}/{suite} {version}"),
            self.cmd("apt-get")
                .args(["-q", "download", &format!("{pkg}/{suite}")])
                .current_dir(&debs),
            log,
            Duration::from_secs(600),
        )?;
        find().ok_or_else(|| {
            format!(
                "apt-get download {pkg}/{suite} left no {name}*.deb in {}",
                debs.display()
            )
            .into()
        })
    }
}

/// Resolves versions (needs the mirror) and returns the testbed, building it if needed.
/// Without network, falls back to the `current` testbed if there is one.
pub fn ensure(rebuild: bool) -> Result<Testbed> {
    let cache = util::cache_root();
    fs::create_dir_all(&cache)
        .with_ctx(|| format!("cannot create cache dir {}", cache.display()))?;
    check_host_tools()?;
    let apt = Apt::new(&cache)?;
    let log = cache.join("apt/apt.log");
    if let Err(e) = apt.update(&log) {
        if let Some(tb) = current(&cache) {
            eprintln!("warning: {e}\nwarning: cannot refresh package versions; using the cached testbed {}", tb.dir.display());
            return Ok(tb);
        }
        return Err(e).ctx("cannot resolve package versions for the testbed");
    }
    let found = apt.versions(KEYED).ctx("resolving versions")?;
    let versions: Vec<(&str, &str, String)> = KEYED
        .iter()
        .zip(found)
        .map(|((p, s), v)| (*p, *s, v))
        .collect();
    let runsc_v = &versions[0].2;
    if runsc_v != RUNSC_KNOWN_GOOD {
        eprintln!(
            "warning: trixie's runsc is now {runsc_v}, not the known-good {RUNSC_KNOWN_GOOD}"
        );
    }
    let key_text = std::iter::once(format!("{RECIPE} include={INCLUDE}"))
        .chain(versions.iter().map(|(p, s, v)| format!("{p}/{s}={v}")))
        .collect::<Vec<_>>()
        .join("\n");
    let hash = util::short_hash(&key_text);
    let dir = cache.join(format!("testbed-{hash}"));
    if Testbed::is_complete(&dir) && !rebuild {
        eprintln!("testbed: cached {}", dir.display());
        set_current(&cache, &dir)?;
        return Ok(Testbed { dir });
    }
    eprintln!(
        "testbed: building {} for:\n  {}",
        dir.display(),
        key_text.replace('\n', "\n  ")
    );
    let tmp = cache.join(format!(".build-{hash}-{}", std::process::id()));
    let result = build(&apt, &tmp, &versions, &key_text);
    if let Err(e) = result {
        eprintln!("testbed: build failed; partial tree left in {} for inspection (removed by the next build)", tmp.display());
        return Err(e);
    }
    if dir.exists() {
        let old = cache.join(format!(".old-{hash}-{}", std::process::id()));
        fs::rename(&dir, &old).ctx("cannot move the old testbed aside")?;
        let _ = fs::remove_dir_all(&old);
    }
    fs::rename(&tmp, &dir)
        .with_ctx(|| format!("cannot rename {} to {}", tmp.display(), dir.display()))?;
    set_current(&cache, &dir)?;
    eprintln!("testbed: ready at {}", dir.display());
    Ok(Testbed { dir })
}

/// The testbed `current` points at, if complete. Does not touch the network.
pub fn current(cache: &Path) -> Option<Testbed> {
    let dir = fs::canonicalize(cache.join("current")).ok()?;
    Testbed::is_complete(&dir).then_some(Testbed { dir })
}

fn set_current(cache: &Path, dir: &Path) -> Result<()> {
    let link = cache.join("current");
    let tmp = cache.join(format!(".current-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let target = dir.file_name().expect("testbed dir has a name");
    std::os::unix::fs::symlink(target, &tmp).ctx("cannot create the current symlink")?;
    fs::rename(&tmp, &link).ctx("cannot update the current symlink")?;
    Ok(())
}

fn build(apt: &Apt, tmp: &Path, versions: &[(&str, &str, String)], key_text: &str) -> Result<()> {
    // Leftovers of interrupted builds (their harness process is gone): nobody uses them, only
    // finished trees are renamed into place. A concurrent build of another harness is left alone.
    if let Some(cache) = tmp.parent() {
        for e in fs::read_dir(cache)?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let owner_alive = n
                .rsplit('-')
                .next()
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if (n.starts_with(".build-") || n.starts_with(".old-"))
                && e.path() != tmp
                && !owner_alive
            {
                eprintln!("testbed: removing leftover {}", e.path().display());
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let _ = fs::remove_dir_all(tmp);
    fs::create_dir_all(tmp)?;
    let log = tmp.join("build.log");
    eprintln!("testbed: build log {}", log.display());
    let v = |p: &str| {
        versions
            .iter()
            .find(|x| x.0 == p)
            .map(|x| x.2.clone())
            .unwrap_or_default()
    };

    // 1. runsc and runc from trixie, unpacked (not installed).
    let runsc_deb = apt.download("runsc", "trixie", &v("runsc"), &log)?;
    let runc_deb = apt.download("runc", "trixie", &v("runc"), &log)?;
    for (deb, into) in [(&runsc_deb, "x-runsc"), (&runc_deb, "x-runc")] {
        util::run_step(
            &format!(
                "unpack {}",
                deb.file_name().unwrap_or_default().to_string_lossy()
            ),
            Command::new("dpkg-deb")
                .arg("-x")
                .arg(deb)
                .arg(tmp.join(into)),
            &log,
            Duration::from_secs(120),
        )?;
    }
    let runsc_src = tmp.join("x-runsc/usr/bin/runsc");
    if !runsc_src.is_file() {
        bail!(
            "step 'unpack runsc': no usr/bin/runsc in {}",
            runsc_deb.display()
        );
    }
    fs::rename(&runsc_src, tmp.join("runsc"))?;
    let out = util::capture(
        Command::new(tmp.join("runsc")).arg("--version"),
        Duration::from_secs(20),
    )?;
    if !out.ok() {
        bail!("step 'runsc --version': {}", out.combined());
    }
    let runsc_version = out.stdout.lines().next().unwrap_or("").to_string();

    // 2. The sid root filesystem.
    let rootfs = tmp.join("rootfs");
    util::run_step(
        "debootstrap sid (minbase + docker.io, podman; about two minutes)",
        Command::new("debootstrap")
            .arg("--variant=minbase")
            .arg(format!("--include={INCLUDE}"))
            .arg(format!("--keyring={KEYRING}"))
            .arg("sid")
            .arg(&rootfs)
            .arg(MIRROR),
        &log,
        Duration::from_secs(1800),
    )?;
    let chroot = |args: &[&str]| {
        let mut c = Command::new("chroot");
        c.arg(&rootfs).args(args).env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
        c
    };
    for (name, path) in [
        ("iptables", "/usr/sbin/iptables-legacy"),
        ("ip6tables", "/usr/sbin/ip6tables-legacy"),
    ] {
        util::run_step(
            &format!("select {path} (gVisor has no nftables)"),
            &mut chroot(&["update-alternatives", "--set", name, path]),
            &log,
            Duration::from_secs(60),
        )?;
    }

    // 3. trixie's runc: sid's 1.3.6 refuses gVisor's procfs (root inode != 1).
    let runc_dst = rootfs.join(RUNC_IN_ROOTFS.trim_start_matches('/'));
    fs::create_dir_all(runc_dst.parent().expect("has parent"))?;
    fs::copy(tmp.join("x-runc/usr/sbin/runc"), &runc_dst)
        .ctx("step 'install trixie runc': copy")?;
    let out = util::capture(
        &mut chroot(&[RUNC_IN_ROOTFS, "--version"]),
        Duration::from_secs(20),
    )?;
    if !out.ok() {
        bail!(
            "step 'install trixie runc': `runc --version` in the rootfs failed: {}",
            out.combined()
        );
    }
    let runc_version = out.stdout.lines().next().unwrap_or("").to_string();
    eprintln!("    runc for dockerd: {RUNC_IN_ROOTFS} ({runc_version})");

    // 4. podman's storage: vfs, as dockerd's (--storage-driver=vfs). podman's default,
    // overlay, refuses the sandbox's root filesystem (gVisor's overlay over the rootfs):
    // `configure storage: native overlay not supported and fuse-overlayfs not found: backing
    // file system is unsupported for this graph driver` (docs/podman.md; on a tmpfs it works).
    // /etc/containers/storage.conf replaces containers-common's
    // /usr/share/containers/storage.conf as a whole.
    util::write_file(
        &rootfs.join("etc/containers/storage.conf"),
        "# gvnet testbed: gVisor runs no overlay storage (docs/podman.md)\n[storage]\ndriver = \"vfs\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n",
    )?;

    // Mount points the sandbox binds onto, and less weight.
    for d in ["opt/gvnet", "var/log/gvnet"] {
        fs::create_dir_all(rootfs.join(d))?;
    }
    if let Ok(rd) = fs::read_dir(rootfs.join("var/cache/apt/archives")) {
        for e in rd.flatten() {
            if e.path().extension().is_some_and(|x| x == "deb") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let out = util::capture(
        &mut chroot(&[
            "dpkg-query",
            "-W",
            "-f",
            "${Package} ${Version}\n",
            "docker.io",
            "docker-cli",
            "docker-buildx",
            "containerd",
            "runc",
            "podman",
            "netavark",
            "aardvark-dns",
            "conmon",
            "crun",
            "catatonit",
            "podman-compose",
            "golang-github-containers-common",
            "iptables",
            "iproute2",
            "busybox-static",
            "libc6",
        ]),
        Duration::from_secs(30),
    )?;
    let installed = out.stdout;

    // 5. The busybox image tarball.
    let busybox = ["usr/bin/busybox", "bin/busybox"]
        .iter()
        .map(|p| rootfs.join(p))
        .find(|p| p.is_file())
        .ok_or("step 'busybox image': no busybox in the rootfs (busybox-static not installed?)")?;
    make_bb_tar(&busybox, &tmp.join("bbroot"), &tmp.join("bb.tar"), &log)?;
    let _ = fs::remove_dir_all(tmp.join("bbroot"));
    let _ = fs::remove_dir_all(tmp.join("x-runsc"));
    let _ = fs::remove_dir_all(tmp.join("x-runc"));

    let manifest = format!(
        "# gvnet testbed, built {}\n[key]\n{key_text}\n\n[runsc]\n{runsc_version}\n\n[runc used by dockerd]\n{RUNC_IN_ROOTFS}: {runc_version}\n(dockerd runs with --add-runtime trixie-runc={RUNC_IN_ROOTFS} --default-runtime trixie-runc)\n\n[installed in rootfs]\n{installed}\n[iptables]\nlegacy alternative selected\n",
        util::timestamp()
    );
    util::write_file(&tmp.join("manifest.txt"), manifest)?;
    Ok(())
}

/// Builds a busybox image tarball: busybox plus one symlink per applet, and the usual dirs.
pub fn make_bb_tar(busybox: &Path, root: &Path, tar: &Path, log: &Path) -> Result<()> {
    eprintln!("==> busybox image tarball {}", tar.display());
    let _ = fs::remove_dir_all(root);
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "proc", "sys", "dev", "root", "var/www",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::copy(busybox, root.join("bin/busybox"))
        .with_ctx(|| format!("step 'busybox image': copy {}", busybox.display()))?;
    let out = util::capture(
        Command::new(root.join("bin/busybox")).arg("--list-full"),
        Duration::from_secs(20),
    )?;
    if !out.ok() {
        bail!(
            "step 'busybox image': busybox --list-full: {}",
            out.combined()
        );
    }
    let mut n = 0;
    for applet in out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let p = root.join(applet);
        if p.exists() || applet == "bin/busybox" {
            continue;
        }
        std::os::unix::fs::symlink("/bin/busybox", &p)
            .with_ctx(|| format!("symlink {}", p.display()))?;
        n += 1;
    }
    util::write_file(
        &root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    util::write_file(&root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    util::write_file(&root.join("var/www/index.html"), "hello from gvnet\n")?;
    util::run_step(
        "tar the busybox image",
        Command::new("tar")
            .arg("-C")
            .arg(root)
            .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
            .arg(tar)
            .arg("."),
        log,
        Duration::from_secs(120),
    )?;
    eprintln!("    {n} applet links");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_debootstrap_is_named_with_its_package() {
        let msg = missing_prereqs(|p| p != "debootstrap", true).unwrap();
        assert!(msg.contains("debootstrap (package debootstrap)"), "{msg}");
        assert!(msg.ends_with("`apt-get install -y debootstrap`"), "{msg}");
    }

    #[test]
    fn packages_are_listed_once() {
        let msg = missing_prereqs(|p| !p.starts_with("apt-"), false).unwrap();
        assert!(
            msg.ends_with("`apt-get install -y apt debian-archive-keyring`"),
            "{msg}"
        );
    }

    #[test]
    fn nothing_missing() {
        assert!(missing_prereqs(|_| true, true).is_none());
    }
}
