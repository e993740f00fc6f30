//! `gvnet podman-setup [--lib PATH] [--undo]`: what rootful podman needs inside gVisor, written
//! once per sandbox (docs/podman.md).
//!
//! Three steps, each testable alone:
//! 1. [`Facts::measure`] reads what this machine does (the only part that looks at the system);
//! 2. [`plan`] decides, as a pure function of the facts, which files to write with what text;
//! 3. [`apply`] / [`undo`] write or remove those files below a root directory (`/` for real,
//!    a temporary directory in the tests).
//!
//! What is written:
//! - `/etc/containers/containers.conf.d/50-gvnet.conf`: `default_sysctls = []` where
//!   `/proc/sys/net/ipv4/ping_group_range` is missing (runc fails on podman's default sysctl),
//!   a runc older than 1.2 as the runtime where `/proc`'s root inode is not 1 (runc 1.2+ refuses
//!   every container) and runc elsewhere (crun fails `--network none` in gVisor),
//!   `firewall_driver = "none"` where nftables is refused (netavark's
//!   nftables and iptables drivers need MASQUERADE, which gVisor lacks), and a
//!   `helper_binaries_dir` whose first directory holds the wrappers below;
//! - `/usr/local/lib/gvnet/podman/netavark`: runs podman's netavark with the library in
//!   `LD_PRELOAD`, so that only netavark loads it (not podman, conmon, the runtime or any
//!   container: their environments come from podman and the OCI spec, not from netavark);
//! - `/usr/local/lib/gvnet/podman/aardvark-dns`: runs the real aardvark-dns with the library
//!   taken out of `LD_PRELOAD` again (netavark starts it, and it would inherit netavark's).
//!
//! Every file starts with [`MARKER`]; `--undo` removes a file only when it carries it.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// First line of every file this command writes; `--undo` removes only files that start so.
pub const MARKER: &str =
    "# written by `gvnet podman-setup`; `gvnet podman-setup --undo` removes it";

/// The containers.conf drop-in.
pub const DROP_IN: &str = "/etc/containers/containers.conf.d/50-gvnet.conf";

/// Where the wrappers go (first entry of `helper_binaries_dir`).
pub const WRAPPER_DIR: &str = "/usr/local/lib/gvnet/podman";

/// podman's own `helper_binaries_dir` (containers-common's default), searched in this order;
/// the drop-in replaces the list, so it repeats it after the wrapper directory.
pub const HELPER_DIRS: &[&str] = &[
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
];

/// The name podman knows the old runc by (`[engine.runtimes]`).
pub const RUNTIME_NAME: &str = "gvnet-runc";

/// What the decision depends on, measured by [`Facts::measure`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Inside gVisor (the doctor's test).
    pub in_gvisor: bool,
    /// `/proc/sys/net/ipv4/ping_group_range` exists.
    pub ping_group_range: bool,
    /// Inode of `/proc` (gVisor 20240729: 86; Linux and current gVisor: 1).
    pub proc_root_inode: u64,
    /// A runc older than 1.2 and its version text, if one is installed.
    pub old_runc: Option<(PathBuf, String)>,
    /// `runc` in PATH (any version).
    pub runc: Option<PathBuf>,
    /// A NETLINK_NETFILTER socket can be made (nftables).
    pub nftables: bool,
    /// podman's netavark, found in [`HELPER_DIRS`].
    pub netavark: Option<PathBuf>,
    /// podman's aardvark-dns, found in [`HELPER_DIRS`].
    pub aardvark: Option<PathBuf>,
    /// The library to preload into netavark.
    pub lib: PathBuf,
    /// This `gvnet` command (the wrapper runs its `podman-nat` after netavark).
    pub gvnet: Option<PathBuf>,
}

/// One file to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Absolute path on the target system.
    pub path: &'static str,
    /// Full text, starting with [`MARKER`].
    pub text: String,
    /// Executable (the wrappers).
    pub exec: bool,
    /// What it changes, for the one line printed per file.
    pub what: String,
}

/// What `podman-setup` would do: files, or why nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Write these files.
    Write(Vec<File>),
    /// Nothing to write, and why.
    Nothing(String),
}

/// Every path [`plan`] can write, for `--undo`.
pub fn all_paths() -> [String; 3] {
    [
        DROP_IN.to_string(),
        format!("{WRAPPER_DIR}/netavark"),
        format!("{WRAPPER_DIR}/aardvark-dns"),
    ]
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Decides what to write. Pure: the facts in, the files out.
pub fn plan(f: &Facts) -> Result<Plan, String> {
    if !f.in_gvisor {
        return Ok(Plan::Nothing(
            "not gVisor: podman's networking needs nothing from gvnet here".into(),
        ));
    }
    let Some(netavark) = &f.netavark else {
        return Err(format!(
            "no netavark in {} (podman's network backend; Debian: netavark)",
            HELPER_DIRS.join(", ")
        ));
    };
    let mut containers = Vec::new();
    let mut network = Vec::new();
    let mut engine = Vec::new();
    let mut runtimes = Vec::new();
    let mut changed = Vec::new();
    if !f.ping_group_range {
        containers.push(
            "# podman's default sets net.ipv4.ping_group_range, which this kernel lacks: runc\n\
             # fails a container with a network namespace of its own on it (--network none)\n\
             default_sysctls = []"
                .to_string(),
        );
        changed.push("default_sysctls = [] (no /proc/sys/net/ipv4/ping_group_range)".to_string());
    }
    // Measured in gVisor 20240729 and release-20260817.0: removing a pod (podman pod rm,
    // podman-compose down) fails on its conmon cgroup, "remove .../libpod_parent/POD/conmon:
    // directory not empty", after conmon has exited; without a cgroup of its own for conmon
    // the pod goes cleanly.
    containers.push(
        "# gVisor keeps a pod's conmon cgroup \"not empty\" after conmon exits: podman pod rm\n\
         # (podman-compose down) fails on it; conmon gets no cgroup of its own\n\
         cgroups = \"no-conmon\""
            .to_string(),
    );
    changed.push("cgroups = \"no-conmon\" (a pod's conmon cgroup cannot be removed)".to_string());
    if !f.nftables {
        network.push(
            "# nftables is refused and iptables has no MASQUERADE here: netavark's firewall\n\
             # drivers fail; published ports and outbound SNAT come from `gvnet podman-nat`,\n\
             # which the netavark wrapper runs (docs/podman.md)\n\
             firewall_driver = \"none\""
                .to_string(),
        );
        changed.push("firewall_driver = \"none\" (nftables refused)".to_string());
    }
    let dirs = std::iter::once(WRAPPER_DIR)
        .chain(HELPER_DIRS.iter().copied())
        .map(toml_str)
        .collect::<Vec<_>>()
        .join(", ");
    engine.push(format!(
        "# netavark runs through {WRAPPER_DIR}/netavark, which preloads libgvnet.so into it alone\n\
         helper_binaries_dir = [{dirs}]"
    ));
    changed.push(format!(
        "netavark preloaded with {} through {WRAPPER_DIR}",
        f.lib.display()
    ));
    // crun (podman's default where installed) fails every `--network none` container in
    // gVisor (20240729 and current): `crun: ioctl SIOCSIFFLAGS: Inappropriate ioctl for
    // device`, it brings up the new namespace's lo with an ioctl gVisor lacks; runc works.
    if f.proc_root_inode == 1 && f.runc.is_some() {
        engine.push(
            "# crun fails --network none here (ioctl SIOCSIFFLAGS on lo); runc works\n\
             runtime = \"runc\""
                .to_string(),
        );
        changed.push("runtime runc (crun fails --network none)".to_string());
    }
    if f.proc_root_inode != 1 {
        let Some((runc, version)) = &f.old_runc else {
            return Err(format!(
                "/proc's root inode is {} (not 1): runc 1.2+ refuses every container here, and no \
                 runc older than 1.2 was found (Debian trixie's runc 1.1.15 at /usr/local/sbin/runc)",
                f.proc_root_inode
            ));
        };
        engine.push(format!(
            "# /proc's root inode is {}: runc 1.2+ refuses every container ({version})\n\
             runtime = {}",
            f.proc_root_inode,
            toml_str(RUNTIME_NAME)
        ));
        runtimes.push(format!(
            "{RUNTIME_NAME} = [{}]",
            toml_str(&runc.display().to_string())
        ));
        changed.push(format!(
            "runtime {RUNTIME_NAME} = {} (/proc root inode {})",
            runc.display(),
            f.proc_root_inode
        ));
    }
    let mut conf = format!("{MARKER}\n# gvnet: {}\n", changed.join("; "));
    for (table, lines) in [
        ("containers", &containers),
        ("network", &network),
        ("engine", &engine),
        ("engine.runtimes", &runtimes),
    ] {
        if !lines.is_empty() {
            conf.push_str(&format!("\n[{table}]\n{}\n", lines.join("\n")));
        }
    }
    let lib = f.lib.display().to_string();
    let mut files = vec![
        File {
            path: DROP_IN,
            text: conf,
            exec: false,
            what: changed.join("; "),
        },
        File {
            path: "/usr/local/lib/gvnet/podman/netavark",
            text: netavark_wrapper(&lib, netavark, f.gvnet.as_deref().filter(|_| !f.nftables)),
            exec: true,
            what: match f.gvnet.as_ref().filter(|_| !f.nftables) {
                Some(g) => format!(
                    "runs {} with LD_PRELOAD={lib}, then `{} podman-nat` for published ports and outbound SNAT",
                    netavark.display(),
                    g.display()
                ),
                None => format!("runs {} with LD_PRELOAD={lib}", netavark.display()),
            },
        },
    ];
    if let Some(aardvark) = &f.aardvark {
        files.push(File {
            path: "/usr/local/lib/gvnet/podman/aardvark-dns",
            text: format!(
                "#!/bin/sh\n{MARKER}\n# aardvark-dns without the libgvnet.so it inherits from netavark\n\
                 p=\n\
                 IFS=:\n\
                 for e in ${{LD_PRELOAD-}}; do [ \"$e\" = {} ] || p=\"${{p:+$p:}}$e\"; done\n\
                 unset IFS\n\
                 if [ -n \"$p\" ]; then export LD_PRELOAD=\"$p\"; else unset LD_PRELOAD; fi\n\
                 exec {} \"$@\"\n",
                sh_quote(&lib),
                sh_quote(&aardvark.display().to_string())
            ),
            exec: true,
            what: format!(
                "runs {} without libgvnet.so in LD_PRELOAD",
                aardvark.display()
            ),
        });
    }
    Ok(Plan::Write(files))
}

/// Where the wrapper appends `gvnet podman-nat`'s lines.
pub const NAT_LOG: &str = "/run/gvnet/podman-nat.log";

/// The netavark wrapper: netavark with the library preloaded; with `gvnet` (where netavark's
/// firewall is off), `setup` and `teardown` also hand netavark's input (podman's network
/// options, on stdin) to `gvnet podman-nat` (a teardown whatever netavark's status: the
/// container is gone either way). netavark's own output and status reach podman unchanged; a
/// failure of podman-nat is one line on stderr and the details in [`NAT_LOG`].
fn netavark_wrapper(lib: &str, netavark: &Path, gvnet: Option<&Path>) -> String {
    let nv = sh_quote(&netavark.display().to_string());
    let head = format!(
        "#!/bin/sh\n{MARKER}\n# netavark with libgvnet.so (docs/podman.md)\n\
         export LD_PRELOAD={}${{LD_PRELOAD:+:$LD_PRELOAD}}\n",
        sh_quote(lib)
    );
    let Some(gvnet) = gvnet else {
        return format!("{head}exec {nv} \"$@\"\n");
    };
    let g = sh_quote(&gvnet.display().to_string());
    format!(
        "{head}\
         # setup/teardown: then `gvnet podman-nat` (published ports, outbound SNAT)\n\
         op=\n\
         for a in \"$@\"; do case $a in setup | teardown) op=$a ;; esac; done\n\
         [ -n \"$op\" ] || exec {nv} \"$@\"\n\
         mkdir -p /run/gvnet\n\
         in=$(mktemp /run/gvnet/netavark-in.XXXXXX) || exec {nv} \"$@\"\n\
         cat >\"$in\"\n\
         {nv} \"$@\" <\"$in\"\n\
         rc=$?\n\
         if [ \"$op\" = teardown ] || [ $rc = 0 ]; then\n\
         \x20   LD_PRELOAD= {g} podman-nat \"$op\" \"$in\" 2>>{NAT_LOG} ||\n\
         \x20       echo \"gvnet: podman-nat $op failed: published ports or outbound of this container may be missing (see {NAT_LOG})\" >&2\n\
         fi\n\
         rm -f \"$in\"\n\
         exit $rc\n"
    )
}

fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Writes the plan's files below `root`; one line per file. Writes nothing when any of them
/// exists without [`MARKER`] (someone else's file).
pub fn apply(root: &Path, files: &[File]) -> io::Result<Vec<String>> {
    for f in files {
        if let Ok(old) = fs::read_to_string(under(root, f.path)) {
            if !written_by_us(&old) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and was not written by gvnet podman-setup: nothing written",
                        f.path
                    ),
                ));
            }
        }
    }
    let mut lines = Vec::new();
    for f in files {
        let p = under(root, f.path);
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = p.with_extension("gvnet-tmp");
        fs::write(&tmp, &f.text)?;
        fs::set_permissions(
            &tmp,
            fs::Permissions::from_mode(if f.exec { 0o755 } else { 0o644 }),
        )?;
        fs::rename(&tmp, &p)?;
        lines.push(format!("wrote {}: {}", f.path, f.what));
    }
    Ok(lines)
}

fn written_by_us(text: &str) -> bool {
    text.starts_with(MARKER) || text.starts_with(&format!("#!/bin/sh\n{MARKER}"))
}

/// Removes below `root` every file [`plan`] can write that carries [`MARKER`], and the wrapper
/// directory when that leaves it empty; one line per file found.
pub fn undo(root: &Path) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    for path in all_paths() {
        let p = under(root, &path);
        match fs::read_to_string(&p) {
            Ok(t) if written_by_us(&t) => {
                fs::remove_file(&p)?;
                lines.push(format!("removed {path}"));
            }
            Ok(_) => lines.push(format!("left {path}: not written by gvnet podman-setup")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{path}: {e}"))),
        }
    }
    // Only an empty directory goes; the ones above it may be someone else's.
    let _ = fs::remove_dir(under(root, WRAPPER_DIR));
    if lines.is_empty() {
        lines.push("nothing to remove: no file of gvnet podman-setup found".into());
    }
    Ok(lines)
}

/// What the drop-in below `root` says it changed (its `# gvnet:` line), for the doctor.
pub fn drop_in_summary(root: &Path) -> Option<String> {
    let text = fs::read_to_string(under(root, DROP_IN)).ok()?;
    if !written_by_us(&text) {
        return Some(format!(
            "{DROP_IN} exists but was not written by gvnet podman-setup"
        ));
    }
    Some(
        text.lines()
            .find_map(|l| l.strip_prefix("# gvnet: "))
            .unwrap_or("no summary line")
            .to_string(),
    )
}

/// A runc older than 1.2: `/usr/local/sbin/runc` (where the gVisor setup puts trixie's), then
/// `runc` in PATH.
fn old_runc() -> Option<(PathBuf, String)> {
    let candidates = std::iter::once(PathBuf::from("/usr/local/sbin/runc"))
        .chain(crate::doctor::which("runc"))
        .chain(crate::doctor::which("runc.1.1"));
    for p in candidates {
        let Ok(out) = std::process::Command::new(&p).arg("--version").output() else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some((a, b, c)) = crate::doctor::runc_version(&text) {
            if (a, b) < (1, 2) {
                let what = format!("{} is runc {a}.{b}.{c}", p.display());
                return Some((p, what));
            }
        }
    }
    None
}

fn helper(name: &str) -> Option<PathBuf> {
    HELPER_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

impl Facts {
    /// Measures this machine.
    pub fn measure(lib: PathBuf) -> Facts {
        use std::os::unix::fs::MetadataExt;
        Facts {
            in_gvisor: crate::doctor::gvisor().0,
            ping_group_range: Path::new("/proc/sys/net/ipv4/ping_group_range").exists(),
            proc_root_inode: fs::metadata("/proc").map(|m| m.ino()).unwrap_or(0),
            old_runc: old_runc(),
            runc: crate::doctor::which("runc"),
            nftables: crate::probe::nftables().is_ok(),
            netavark: helper("netavark"),
            aardvark: helper("aardvark-dns"),
            lib,
            gvnet: std::env::current_exe()
                .ok()
                .map(|p| p.canonicalize().unwrap_or(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gvisor_20240729() -> Facts {
        Facts {
            in_gvisor: true,
            ping_group_range: false,
            proc_root_inode: 86,
            old_runc: Some((
                "/usr/local/sbin/runc".into(),
                "/usr/local/sbin/runc is runc 1.1.15".into(),
            )),
            runc: Some("/usr/sbin/runc".into()),
            nftables: false,
            netavark: Some("/usr/lib/podman/netavark".into()),
            aardvark: Some("/usr/lib/podman/aardvark-dns".into()),
            lib: "/usr/local/lib/gvnet/libgvnet.so".into(),
            gvnet: Some("/usr/local/bin/gvnet".into()),
        }
    }

    fn files(f: &Facts) -> Vec<File> {
        match plan(f).unwrap() {
            Plan::Write(files) => files,
            Plan::Nothing(why) => panic!("nothing: {why}"),
        }
    }

    #[test]
    fn linux_gets_nothing() {
        let f = Facts {
            in_gvisor: false,
            ..gvisor_20240729()
        };
        assert!(matches!(plan(&f), Ok(Plan::Nothing(_))));
    }

    #[test]
    fn gvisor_20240729_gets_every_setting() {
        let out = files(&gvisor_20240729());
        assert_eq!(out.len(), 3);
        let conf = &out[0].text;
        assert!(conf.starts_with(MARKER), "{conf}");
        assert!(conf.contains("[containers]\n# podman"), "{conf}");
        assert!(conf.contains("\ndefault_sysctls = []\n"), "{conf}");
        assert!(conf.contains("\ncgroups = \"no-conmon\"\n"), "{conf}");
        assert!(conf.contains("[network]\n"), "{conf}");
        assert!(conf.contains("\nfirewall_driver = \"none\"\n"), "{conf}");
        assert!(conf.contains("\nruntime = \"gvnet-runc\"\n"), "{conf}");
        assert_eq!(conf.matches("runtime = ").count(), 1, "{conf}");
        assert!(
            conf.contains("[engine.runtimes]\ngvnet-runc = [\"/usr/local/sbin/runc\"]\n"),
            "{conf}"
        );
        assert!(conf.contains("helper_binaries_dir = [\"/usr/local/lib/gvnet/podman\", \"/usr/local/libexec/podman\", \"/usr/local/lib/podman\", \"/usr/libexec/podman\", \"/usr/lib/podman\"]"), "{conf}");
        // The tables come in this order, each once.
        let order: Vec<usize> = ["[containers]", "[network]", "[engine]", "[engine.runtimes]"]
            .iter()
            .map(|t| conf.find(&format!("\n{t}\n")).expect(t))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{conf}");
        let w = &out[1].text;
        assert!(
            w.contains(
                "export LD_PRELOAD='/usr/local/lib/gvnet/libgvnet.so'${LD_PRELOAD:+:$LD_PRELOAD}\n"
            ),
            "{w}"
        );
        assert!(
            w.contains("[ -n \"$op\" ] || exec '/usr/lib/podman/netavark' \"$@\"\n"),
            "{w}"
        );
        assert!(
            w.contains("LD_PRELOAD= '/usr/local/bin/gvnet' podman-nat \"$op\" \"$in\""),
            "{w}"
        );
        assert!(w.ends_with("rm -f \"$in\"\nexit $rc\n"), "{w}");
        // Where nftables works, netavark's own firewall runs: no podman-nat.
        let f = Facts {
            nftables: true,
            ..gvisor_20240729()
        };
        let w = &files(&f)[1].text;
        assert!(
            w.ends_with("exec '/usr/lib/podman/netavark' \"$@\"\n") && !w.contains("podman-nat"),
            "{w}"
        );
        assert!(out[2]
            .text
            .ends_with("exec '/usr/lib/podman/aardvark-dns' \"$@\"\n"));
        assert!(out[1].exec && out[2].exec && !out[0].exec);
    }

    #[test]
    fn current_gvisor_gets_runc_not_crun() {
        let f = Facts {
            proc_root_inode: 1,
            ..gvisor_20240729()
        };
        let conf = &files(&f)[0].text;
        assert!(conf.contains("\nruntime = \"runc\"\n"), "{conf}");
        assert!(!conf.contains("[engine.runtimes]"), "{conf}");
        assert!(conf.contains("default_sysctls = []"), "{conf}");
        // Without a runc, podman's default runtime stays.
        let f = Facts { runc: None, ..f };
        let conf = &files(&f)[0].text;
        assert!(!conf.contains("runtime"), "{conf}");
    }

    #[test]
    fn sysctl_and_firewall_only_where_missing() {
        let f = Facts {
            ping_group_range: true,
            nftables: true,
            ..gvisor_20240729()
        };
        let conf = &files(&f)[0].text;
        // [containers] holds only the conmon cgroup setting then (every gVisor measured).
        assert!(conf.contains("[containers]\n# gVisor keeps"), "{conf}");
        assert!(!conf.contains("[network]"), "{conf}");
        assert!(!conf.contains("default_sysctls"), "{conf}");
    }

    #[test]
    fn hardened_runc_only_is_an_error() {
        let f = Facts {
            old_runc: None,
            ..gvisor_20240729()
        };
        let e = plan(&f).unwrap_err();
        assert!(e.contains("root inode is 86"), "{e}");
    }

    #[test]
    fn no_netavark_is_an_error() {
        let f = Facts {
            netavark: None,
            ..gvisor_20240729()
        };
        assert!(plan(&f).unwrap_err().contains("no netavark"));
    }

    #[test]
    fn no_aardvark_no_wrapper() {
        let f = Facts {
            aardvark: None,
            ..gvisor_20240729()
        };
        assert_eq!(files(&f).len(), 2);
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gvnet-podman-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn apply_then_undo_leaves_nothing_of_ours() {
        let root = tempdir("roundtrip");
        // A directory of someone else's that undo must keep, and a file of theirs beside ours.
        fs::create_dir_all(root.join("etc/containers/containers.conf.d")).unwrap();
        fs::write(
            root.join("etc/containers/containers.conf.d/10-mine.conf"),
            "x",
        )
        .unwrap();
        let fs_ = files(&gvisor_20240729());
        let lines = apply(&root, &fs_).unwrap();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("wrote /etc/containers/containers.conf.d/50-gvnet.conf: "));
        let mode = fs::metadata(root.join("usr/local/lib/gvnet/podman/netavark"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(drop_in_summary(&root)
            .unwrap()
            .contains("default_sysctls = []"));
        // Applying again replaces our own files.
        assert_eq!(apply(&root, &fs_).unwrap().len(), 3);
        let lines = undo(&root).unwrap();
        assert_eq!(
            lines,
            vec![
                "removed /etc/containers/containers.conf.d/50-gvnet.conf",
                "removed /usr/local/lib/gvnet/podman/netavark",
                "removed /usr/local/lib/gvnet/podman/aardvark-dns",
            ]
        );
        assert!(!root.join("usr/local/lib/gvnet/podman").exists());
        assert!(root.join("usr/local/lib/gvnet").is_dir());
        assert!(root
            .join("etc/containers/containers.conf.d/10-mine.conf")
            .is_file());
        assert!(drop_in_summary(&root).is_none());
        assert_eq!(
            undo(&root).unwrap(),
            vec!["nothing to remove: no file of gvnet podman-setup found"]
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn foreign_files_are_never_overwritten_or_removed() {
        let root = tempdir("foreign");
        let p = root.join("etc/containers/containers.conf.d/50-gvnet.conf");
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "[engine]\n").unwrap();
        let e = apply(&root, &files(&gvisor_20240729())).unwrap_err();
        assert!(
            e.to_string().contains("not written by gvnet podman-setup"),
            "{e}"
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "[engine]\n");
        assert!(!root.join("usr/local/lib/gvnet/podman/netavark").exists());
        // A foreign file later in the list keeps the earlier ones from being written too.
        fs::remove_file(&p).unwrap();
        let w = root.join("usr/local/lib/gvnet/podman/aardvark-dns");
        fs::create_dir_all(w.parent().unwrap()).unwrap();
        fs::write(&w, "#!/bin/sh\n").unwrap();
        assert!(apply(&root, &files(&gvisor_20240729())).is_err());
        assert!(!p.exists());
        fs::remove_file(&w).unwrap();
        fs::write(&p, "[engine]\n").unwrap();
        assert_eq!(
            undo(&root).unwrap(),
            vec!["left /etc/containers/containers.conf.d/50-gvnet.conf: not written by gvnet podman-setup"]
        );
        assert!(p.is_file());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn aardvark_wrapper_drops_only_the_library() {
        // Runs the generated wrapper with sh, the real binary replaced by `env`.
        let root = tempdir("aardvark");
        let f = Facts {
            aardvark: Some("/usr/bin/env".into()),
            ..gvisor_20240729()
        };
        let w = &files(&f)[2];
        let script = root.join("w");
        fs::write(&script, &w.text).unwrap();
        let run = |preload: Option<&str>| {
            let mut c = std::process::Command::new("sh");
            c.arg(&script).env_clear();
            if let Some(p) = preload {
                c.env("LD_PRELOAD", p);
            }
            let out = c.output().unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("LD_PRELOAD=").map(str::to_string))
        };
        assert_eq!(run(Some("/usr/local/lib/gvnet/libgvnet.so")), None);
        assert_eq!(
            run(Some("/a.so:/usr/local/lib/gvnet/libgvnet.so:/b.so")),
            Some("/a.so:/b.so".into())
        );
        assert_eq!(run(None), None);
        fs::remove_dir_all(&root).unwrap();
    }
}
