//! Which gVisor a run uses (the runsc binary and its extra flags) and what that gVisor does
//! (the *setup*, measured inside the sandbox, not guessed from the version string).
//!
//! Expectations of the scenarios are functions of the measured [`Setup`], so an unknown future
//! runsc still gets sensible expectations: what matters is whether the kernel accepts a
//! RTNLGRP_LINK subscription, whether it lets an AF_PACKET socket write, whether setns into a
//! PID namespace works, and /proc's root inode. The setup's *name* (`20240729`, `current`,
//! `current+flag`) is derived from those measurements, for reports and run directory names.

use crate::bail;
use crate::testbed::Testbed;
use crate::util::{self, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A runsc binary and the global flags added to its command line (run and exec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runsc {
    pub path: PathBuf,
    /// `runsc --version`'s first line without "runsc version ", e.g.
    /// `release-20260817.0-70-g3c5eee17d` or Debian's `0.0~20240729.0`.
    pub version: String,
    /// First 12 hex digits of the binary's sha256: two builds with one version string stay apart.
    pub sha: String,
    pub flags: Vec<String>,
}

impl Runsc {
    /// Version, binary hash and flags, for reports and logs.
    pub fn describe(&self) -> String {
        format!(
            "runsc {} (sha256 {}, {}){}",
            self.version,
            self.sha,
            self.path.display(),
            if self.flags.is_empty() {
                String::new()
            } else {
                format!(" flags {}", self.flags.join(" "))
            }
        )
    }

    /// A file-name-safe label: version and flags (`release-20260817.0-70-g3c5eee17d+allow-packet-socket-write`).
    pub fn label(&self) -> String {
        let mut s = self.version.clone();
        for f in &self.flags {
            s.push('+');
            s.push_str(f.trim_start_matches('-'));
        }
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "+-._".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// Takes `--runsc PATH` (or `--runsc=PATH`) and every `--runsc-flag FLAG` out of `args`.
pub fn take_args(args: &mut Vec<String>) -> Result<(Option<String>, Vec<String>)> {
    let mut path = None;
    let mut flags = Vec::new();
    let mut rest = Vec::new();
    let mut it = std::mem::take(args).into_iter();
    while let Some(a) = it.next() {
        if a == "--runsc" {
            path = Some(it.next().ok_or("--runsc needs a path")?);
        } else if let Some(p) = a.strip_prefix("--runsc=") {
            path = Some(p.to_string());
        } else if a == "--runsc-flag" {
            flags.push(it.next().ok_or("--runsc-flag needs a flag")?);
        } else if let Some(f) = a.strip_prefix("--runsc-flag=") {
            flags.push(f.to_string());
        } else {
            rest.push(a);
        }
    }
    *args = rest;
    // An empty --runsc (as `make check RUNSC=` passes it) means the default.
    Ok((path.filter(|p| !p.is_empty()), flags))
}

/// sha256 of a file, with coreutils' sha256sum.
fn sha256(path: &Path) -> Result<String> {
    let out = util::capture(
        Command::new("sha256sum").arg(path),
        Duration::from_secs(120),
    )?;
    if !out.ok() {
        bail!("sha256sum {}: {}", path.display(), out.combined());
    }
    Ok(out
        .stdout
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// `runsc --version`'s first line without its "runsc version " prefix.
pub fn version_of(runsc: &Path) -> Result<String> {
    let out = util::capture(
        Command::new(runsc).arg("--version"),
        Duration::from_secs(20),
    )
    .with_ctx(|| format!("{} --version", runsc.display()))?;
    if !out.ok() {
        bail!("{} --version: {}", runsc.display(), out.combined());
    }
    Ok(parse_version(&out.stdout))
}

fn parse_version(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    line.strip_prefix("runsc version ")
        .unwrap_or(line)
        .to_string()
}

/// An `.xz` runsc unpacked into `<cache>/runsc/<sha256 of the .xz, 16 hex>/runsc` (once).
fn unpack_xz(xz: &Path) -> Result<PathBuf> {
    let sum = sha256(xz)?;
    let dir = util::cache_root().join("runsc").join(&sum[..16]);
    let bin = dir.join("runsc");
    if bin.is_file() {
        return Ok(bin);
    }
    fs::create_dir_all(&dir).with_ctx(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".runsc-{}", std::process::id()));
    let out = fs::File::create(&tmp).with_ctx(|| format!("cannot create {}", tmp.display()))?;
    let st = Command::new("xz")
        .arg("-dc")
        .arg(xz)
        .stdout(out)
        .status()
        .ctx("xz -dc (package xz-utils)")?;
    if !st.success() {
        let _ = fs::remove_file(&tmp);
        bail!("xz -dc {} failed ({st})", xz.display());
    }
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
    }
    fs::rename(&tmp, &bin)?;
    util::write_file(
        &dir.join("source.txt"),
        format!("{}\nsha256 of the .xz: {sum}\n", xz.display()),
    )?;
    eprintln!("runsc: unpacked {} into {}", xz.display(), bin.display());
    Ok(bin)
}

/// The runsc of a run: `given` (a binary or an `.xz` of one), else the testbed's (Debian's
/// trixie build). None inside gVisor (direct mode: no runsc is started).
pub fn resolve(
    given: Option<&str>,
    flags: Vec<String>,
    tb: Option<&Testbed>,
) -> Result<Option<Runsc>> {
    let path = match (given, tb) {
        (Some(p), _) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                bail!("--runsc {}: no such file", p.display());
            }
            if p.extension().is_some_and(|e| e == "xz") {
                unpack_xz(&p)?
            } else {
                fs::canonicalize(&p).unwrap_or(p)
            }
        }
        (None, Some(tb)) => tb.runsc(),
        (None, None) => {
            if !flags.is_empty() {
                bail!("--runsc-flag: no runsc is started inside gVisor (direct mode)");
            }
            return Ok(None);
        }
    };
    let version = version_of(&path)?;
    let sha = sha256(&path)?[..12].to_string();
    Ok(Some(Runsc {
        path,
        version,
        sha,
        flags,
    }))
}

/// What the gVisor kernel of a sandbox does, measured by [`PROBE_PY`] (no preload).
#[derive(Debug, Clone, PartialEq, Eq)]
/// Each answer is "ok" or the errno's name.
pub struct Setup {
    /// bind() of a NETLINK_ROUTE socket to RTMGRP_LINK (accepted from release-20251118.0).
    pub link: String,
    /// bind() to RTMGRP_IPV4_IFADDR ("ok" on a real kernel only).
    pub addr_group: String,
    /// sendto() on an AF_PACKET socket (gVisor: only with --allow-packet-socket-write).
    pub packet: String,
    /// setns(CLONE_NEWPID) into a child PID namespace (docker exec, healthchecks).
    pub setns: String,
    /// Inode number of /proc's root (runc 1.2+ refuses anything but 1).
    pub proc_inode: u64,
}

/// The measurement: one line per fact, `name value`. python3 is in the testbed's rootfs.
pub const PROBE_PY: &str = r#"
import errno, os, socket, time

def res(f):
    try:
        f()
        return "ok"
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            return "EOPNOTSUPP"
        return errno.errorcode.get(e.errno, str(e.errno))

def bind(groups):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    try:
        s.bind((0, groups))
    finally:
        s.close()

def packet():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
    try:
        # With a 6-byte address in sockaddr_ll (gVisor answers EINVAL without one).
        frame = b"\xff" * 6 + b"\x02" + b"\x00" * 5 + b"\x88\xb5" + b"gvnet-probe" + b"\x00" * 40
        s.sendto(frame, ("lo", 0x88b5, 0, 1, b"\xff" * 6))
    finally:
        s.close()

def setns_pid():
    r, w = os.pipe()
    mid = os.fork()
    if mid == 0:
        try:
            os.unshare(os.CLONE_NEWPID)
            c = os.fork()
            if c == 0:
                time.sleep(5)
                os._exit(0)
            os.write(w, str(c).encode())
            os.waitpid(c, 0)
        finally:
            os._exit(0)
    os.close(w)
    child = os.read(r, 32).decode()
    if not child:
        os.waitpid(mid, 0)
        raise OSError(errno.EPERM, "unshare")
    fd = os.open("/proc/%s/ns/pid" % child, os.O_RDONLY)
    t = os.fork()
    if t == 0:
        try:
            os.setns(fd, os.CLONE_NEWPID)
            os._exit(0)
        except OSError as e:
            os._exit(e.errno)
    st = os.waitstatus_to_exitcode(os.waitpid(t, 0)[1])
    os.kill(int(child), 9)
    os.waitpid(mid, 0)
    if st:
        raise OSError(st, "setns")

print("link-group", res(lambda: bind(1)))
print("addr-group", res(lambda: bind(0x10)))
print("packet-write", res(packet))
print("setns-pid", res(setns_pid))
print("proc-inode", os.stat("/proc").st_ino)
"#;

impl Setup {
    /// Parses [`PROBE_PY`]'s output.
    pub fn parse(text: &str) -> Result<Setup> {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(' '))
                .map(str::trim)
                .ok_or_else(|| util::Error(format!("probe: no '{k}' line in: {}", text.trim())))
        };
        Ok(Setup {
            link: get("link-group")?.to_string(),
            addr_group: get("addr-group")?.to_string(),
            packet: get("packet-write")?.to_string(),
            setns: get("setns-pid")?.to_string(),
            proc_inode: get("proc-inode")?
                .parse()
                .map_err(|_| util::Error(format!("probe: bad proc-inode in {text}")))?,
        })
    }

    /// A RTNLGRP_LINK subscription is accepted.
    pub fn link_group(&self) -> bool {
        self.link == "ok"
    }

    /// An AF_PACKET socket may write.
    pub fn packet_write(&self) -> bool {
        self.packet == "ok"
    }

    /// setns into a PID namespace works.
    pub fn setns_pid(&self) -> bool {
        self.setns == "ok"
    }

    /// The setup's name, from what was measured: `20240729` (no multicast at all: Debian's
    /// runsc), `current` (RTNLGRP_LINK only, no packet writes), `current+flag` (the same with
    /// packet writes). A kernel that accepts the address groups (a real Linux) is `linux`.
    pub fn name(&self) -> &'static str {
        match (
            self.link_group(),
            self.addr_group.as_str(),
            self.packet_write(),
        ) {
            (true, "ok", _) => "linux",
            (false, _, _) => "20240729",
            (true, _, false) => "current",
            (true, _, true) => "current+flag",
        }
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        format!(
            "setup {} (measured): bind RTNLGRP_LINK {}, bind RTNLGRP_IPV4_IFADDR {}, AF_PACKET write {}, setns(CLONE_NEWPID) {}, /proc root inode {}",
            self.name(),
            self.link,
            self.addr_group,
            self.packet,
            self.setns,
            self.proc_inode
        )
    }

    /// The error dockerd reports on every bridge container without gvnet (None: it works). It
    /// subscribes to RTNLGRP_LINK, then sends an unsolicited ARP through an AF_PACKET socket.
    pub fn bridge_error(&self) -> Option<&'static str> {
        if !self.link_group() {
            Some(EXPECTED_SUBSCRIBE)
        } else if !self.packet_write() {
            Some(EXPECTED_ADVERTISE)
        } else {
            None
        }
    }
}

/// dockerd without gvnet where gVisor refuses the RTNLGRP_LINK subscription (20240729).
pub const EXPECTED_SUBSCRIBE: &str = "failed to subscribe to link updates: permission denied";
/// dockerd without gvnet where gVisor refuses AF_PACKET writes (current gVisor, no flag).
pub const EXPECTED_ADVERTISE: &str = "failed to advertise addresses: operation not supported";

/// Runs the probe with `run` (a command runner inside the sandbox) and parses it.
pub fn measure(run: impl FnOnce(&[&str]) -> Result<util::Output>) -> Result<Setup> {
    let out = run(&["python3", "-c", PROBE_PY])?;
    if !out.ok() {
        bail!(
            "the setup probe failed ({}): {}",
            out.describe(),
            out.combined()
        );
    }
    Setup::parse(&out.stdout)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn old() -> Setup {
        Setup::parse("link-group EACCES\naddr-group EACCES\npacket-write EOPNOTSUPP\nsetns-pid EINVAL\nproc-inode 86\n").unwrap()
    }
    pub fn current() -> Setup {
        Setup::parse("link-group ok\naddr-group EOPNOTSUPP\npacket-write EOPNOTSUPP\nsetns-pid ok\nproc-inode 1\n").unwrap()
    }
    pub fn flag() -> Setup {
        Setup {
            packet: "ok".into(),
            ..current()
        }
    }

    #[test]
    fn setups_are_named_by_what_the_kernel_does() {
        assert_eq!(old().name(), "20240729");
        assert_eq!(current().name(), "current");
        assert_eq!(flag().name(), "current+flag");
        let linux = Setup {
            addr_group: "ok".into(),
            ..flag()
        };
        assert_eq!(linux.name(), "linux");
        assert!(!old().setns_pid() && current().setns_pid());
    }

    #[test]
    fn bridge_error_follows_the_first_refusal() {
        assert_eq!(old().bridge_error(), Some(EXPECTED_SUBSCRIBE));
        assert_eq!(current().bridge_error(), Some(EXPECTED_ADVERTISE));
        assert_eq!(flag().bridge_error(), None);
    }

    #[test]
    fn probe_output_must_be_complete() {
        assert!(Setup::parse("link-group ok\n").is_err());
        assert!(Setup::parse(
            "link-group ok\naddr-group ok\npacket-write ok\nsetns-pid ok\nproc-inode x\n"
        )
        .is_err());
    }

    #[test]
    fn runsc_arguments_are_taken_out() {
        let mut a: Vec<String> = [
            "check",
            "--runsc",
            "/r.xz",
            "--only",
            "x",
            "--runsc-flag",
            "--allow-packet-socket-write",
            "--runsc-flag=--debug",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (p, f) = take_args(&mut a).unwrap();
        assert_eq!(p.as_deref(), Some("/r.xz"));
        assert_eq!(f, ["--allow-packet-socket-write", "--debug"]);
        assert_eq!(a, ["check", "--only", "x"]);
        let mut a = vec!["--runsc=".to_string()];
        assert_eq!(take_args(&mut a).unwrap().0, None);
        assert!(take_args(&mut vec!["--runsc".to_string()]).is_err());
    }

    #[test]
    fn versions_and_labels() {
        assert_eq!(
            parse_version("runsc version release-20260817.0-70-g3c5eee17d\nspec: 1.2.1\n"),
            "release-20260817.0-70-g3c5eee17d"
        );
        assert_eq!(
            parse_version("runsc version 0.0~20240729.0\n"),
            "0.0~20240729.0"
        );
        let r = Runsc {
            path: "/x".into(),
            version: "0.0~20240729.0".into(),
            sha: "abc".into(),
            flags: vec!["--allow-packet-socket-write".into()],
        };
        assert_eq!(r.label(), "0.0_20240729.0+allow-packet-socket-write");
        assert!(r.describe().contains("flags --allow-packet-socket-write"));
    }
}
