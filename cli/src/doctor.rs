//! `gvnet doctor`: one line per check, each with its fix; `--json` for machines; exit status 1
//! when a check fails.

use crate::counters::{self, Snapshot};
use crate::elf::{self, Elf, ET_DYN};
use crate::json::Json;
use crate::probe::{self, Errno};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Fine for bridge networking with gvnet.
    Ok,
    /// Worth knowing; does not stop bridge containers.
    Info,
    /// Something will not work, but bridge containers may.
    Warn,
    /// Bridge containers will not work here as things are.
    Fail,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's result.
pub struct Check {
    /// Short id (`gvisor`, `runc`, ...).
    pub name: &'static str,
    /// Outcome.
    pub status: Status,
    /// What was found.
    pub found: String,
    /// What to do about it (empty when nothing).
    pub fix: String,
}

/// All checks plus the facts they found, for `--json`.
pub struct Report {
    /// In order.
    pub checks: Vec<Check>,
    /// Machine-readable facts.
    pub facts: Json,
}

impl Report {
    fn add(&mut self, name: &'static str, status: Status, found: String, fix: &str) {
        self.checks.push(Check {
            name,
            status,
            found,
            fix: fix.to_string(),
        });
    }

    /// Whether no check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// One line per check.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!(
                "[{:<4}] {:<18} {}",
                c.status.name(),
                c.name,
                c.found
            ));
            if !c.fix.is_empty() {
                out.push_str(&format!(" -- fix: {}", c.fix));
            }
            out.push('\n');
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        out.push_str(&if failed == 0 {
            "all checks passed\n".to_string()
        } else {
            format!("{failed} check(s) failed\n")
        });
        out
    }

    /// `{"ok": .., "facts": {..}, "checks": [..]}`.
    pub fn to_json(&self) -> Json {
        let checks = self
            .checks
            .iter()
            .map(|c| {
                Json::obj()
                    .with("name", Json::s(c.name))
                    .with("status", Json::s(c.status.name().to_lowercase()))
                    .with("found", Json::s(&c.found))
                    .with("fix", Json::s(&c.fix))
            })
            .collect();
        Json::obj()
            .with("ok", Json::Bool(self.ok()))
            .with("facts", self.facts.clone())
            .with("checks", Json::Arr(checks))
    }
}

fn opt_str(v: Option<impl Into<String>>) -> Json {
    v.map(|s| Json::s(s)).unwrap_or(Json::Null)
}

fn result_json(r: Result<(), Errno>) -> Json {
    match r {
        Ok(()) => Json::s("ok"),
        Err(e) => Json::s(e.name()),
    }
}

fn result_text(r: Result<(), Errno>) -> String {
    match r {
        Ok(()) => "accepted".into(),
        Err(e) => format!("refused ({})", e.name()),
    }
}

/// `tool` in $PATH, plus the sbin directories (doctor may run without them in PATH).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Whether this runs inside gVisor, and the evidence. gVisor's kernel log (syslog(2)) starts
/// with "Starting gVisor..."; its /proc/version is a fixed 4.4.0 string.
pub fn gvisor() -> (bool, String) {
    let mut buf = vec![0u8; 16 << 10];
    // SAFETY: SYSLOG_ACTION_READ_ALL (3) into a live buffer of the given length.
    let n = unsafe { libc::klogctl(3, buf.as_mut_ptr() as *mut libc::c_char, buf.len() as i32) };
    if n > 0 {
        let log = String::from_utf8_lossy(&buf[..n as usize]);
        if let Some(line) = log.lines().find(|l| l.contains("gVisor")) {
            return (true, format!("kernel log: {:?}", line.trim()));
        }
    }
    let version = fs::read_to_string("/proc/version").unwrap_or_default();
    let version = version.trim();
    if version.contains("#1 SMP Sun Jan 10 15:06:54 PST 2016") {
        return (true, format!("/proc/version {version:?}"));
    }
    (false, format!("/proc/version {version:?}"))
}

/// Processes whose command name is `dockerd`.
fn dockerd_pids() -> Vec<u32> {
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "dockerd")
        })
        .collect();
    pids.sort_unstable();
    pids
}

fn cmdline(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `LD_PRELOAD` and `GVNET_*` of a process's environment.
fn environ(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/environ"))
        .map(|b| {
            b.split(|c| *c == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .filter(|a| a.starts_with("LD_PRELOAD=") || a.starts_with("GVNET_"))
                .collect()
        })
        .unwrap_or_default()
}

/// `--flag=value` or `--flag value` values in an argv.
fn flag_values(argv: &[String], flag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == flag {
            if let Some(v) = it.next() {
                out.push(v.clone());
            }
        } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            out.push(v.to_string());
        }
    }
    out
}

/// The runc dockerd uses: `--default-runtime` resolved through `--add-runtime` of the running
/// dockerd, else `runc` in PATH.
fn runc_path(dockerd_argv: &[String]) -> Option<(PathBuf, String)> {
    if let Some(name) = flag_values(dockerd_argv, "--default-runtime").pop() {
        for rt in flag_values(dockerd_argv, "--add-runtime") {
            if let Some(path) = rt.strip_prefix(&format!("{name}=")) {
                return Some((
                    PathBuf::from(path),
                    format!("dockerd's --default-runtime={name}"),
                ));
            }
        }
    }
    which("runc").map(|p| (p, "runc in PATH".to_string()))
}

/// (major, minor, patch) from `runc --version`'s first line ("runc version 1.1.15").
pub fn runc_version(text: &str) -> Option<(u32, u32, u32)> {
    let line = text.lines().next()?;
    let v = line
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next().and_then(|p| p.parse().ok()).unwrap_or(0),
    ))
}

/// Runs every check.
pub fn run() -> Report {
    let mut r = Report {
        checks: Vec::new(),
        facts: Json::obj(),
    };
    let f = |r: &mut Report, k: &str, v: Json| r.facts.put(k, v);

    // 1. gVisor and its networking.
    let (in_gvisor, evidence) = gvisor();
    f(&mut r, "gvisor", Json::Bool(in_gvisor));
    if in_gvisor {
        r.add(
            "gvisor",
            Status::Info,
            format!("inside gVisor ({evidence})"),
            "",
        );
    } else {
        r.add(
            "gvisor",
            Status::Info,
            format!(
                "not gVisor ({evidence}): gvnet stays passive where the kernel accepts multicast"
            ),
            "",
        );
    }
    let bridge = bridge_probe();
    let network = match (in_gvisor, &bridge) {
        (false, _) => "linux",
        (true, Ok(())) => "netstack",
        (true, Err(_)) => "host",
    };
    f(&mut r, "network", Json::s(network));
    f(&mut r, "bridge_in_new_netns", result_json(bridge));
    match (in_gvisor, bridge) {
        (true, Ok(())) => r.add(
            "network",
            Status::Ok,
            "gVisor's own netstack: a bridge can be created in a new network namespace".into(),
            "",
        ),
        (true, Err(e)) => r.add(
            "network",
            Status::Fail,
            format!("no bridge can be created in a new network namespace ({}): host networking (runsc --network=host) or no netns support", e.name()),
            "run the sandbox with gVisor's netstack (runsc --network=sandbox or --network=none), not --network=host",
        ),
        (false, Ok(())) => r.add("network", Status::Ok, "Linux: a bridge can be created in a new network namespace".into(), ""),
        (false, Err(e)) => r.add(
            "network",
            Status::Warn,
            format!("cannot create a bridge in a new network namespace ({}); Docker's bridge driver needs that", e.name()),
            "run as root (CAP_SYS_ADMIN, CAP_NET_ADMIN)",
        ),
    }

    // 2. What the kernel refuses.
    let mc = probe::multicast();
    let refused = mc.refused();
    f(&mut r, "multicast_refused", Json::Bool(refused));
    f(
        &mut r,
        "multicast",
        Json::obj()
            .with("bind", result_json(mc.bind))
            .with("bind_address", result_json(mc.bind_address))
            .with("add_membership", result_json(mc.add_membership))
            .with("send_to_group", result_json(mc.send_to_group)),
    );
    let detail = format!(
        "bind with RTMGRP_LINK {}, with RTMGRP_IPV4_IFADDR {}, NETLINK_ADD_MEMBERSHIP {}, send to the group {}",
        result_text(mc.bind),
        result_text(mc.bind_address),
        result_text(mc.add_membership),
        result_text(mc.send_to_group)
    );
    if refused {
        r.add(
            "netlink-multicast",
            Status::Info,
            format!("refused: {detail}"),
            "gvnet emulates these: dockerd must run under the library (see library-in-dockerd)",
        );
    } else {
        r.add(
            "netlink-multicast",
            Status::Ok,
            format!("accepted: {detail}"),
            "",
        );
    }
    let pw = probe::packet_write();
    f(&mut r, "packet_write", result_json(pw));
    match pw {
        Ok(()) => r.add("af-packet-write", Status::Ok, "accepted".into(), ""),
        Err(Errno(libc::EPERM)) | Err(Errno(libc::EACCES)) => r.add(
            "af-packet-write",
            Status::Warn,
            "cannot tell: needs CAP_NET_RAW".into(),
            "run gvnet doctor as root",
        ),
        Err(e) => r.add(
            "af-packet-write",
            Status::Info,
            format!("refused ({}): dockerd's ARP/NA announcement", e.name()),
            "gvnet reports such writes as sent (the frame is dropped); or runsc --allow-packet-socket-write (gVisor from release-20251208.0)",
        ),
    }
    let nft = probe::nftables();
    f(&mut r, "nftables", result_json(nft));
    let iptables = which("iptables").map(|p| fs::canonicalize(&p).unwrap_or(p));
    let iptables_is_nft = iptables
        .as_ref()
        .is_some_and(|p| p.to_string_lossy().contains("nft"));
    match nft {
        Ok(()) => r.add("nftables", Status::Ok, "NETLINK_NETFILTER accepted".into(), ""),
        Err(e) if iptables_is_nft => r.add(
            "nftables",
            Status::Warn,
            format!("refused ({}), and iptables is {} (nft): dockerd's per-container DNS rules will fail", e.name(), iptables.as_deref().map(|p| p.display().to_string()).unwrap_or_default()),
            "update-alternatives --set iptables /usr/sbin/iptables-legacy (and ip6tables)",
        ),
        Err(e) => r.add(
            "nftables",
            Status::Info,
            format!("refused ({}); iptables is {}", e.name(), iptables.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "not installed".into())),
            "",
        ),
    }
    let legacy = probe::iptables_legacy();
    f(&mut r, "iptables_legacy", result_json(legacy));
    match legacy {
        Ok(()) => r.add("iptables-legacy", Status::Ok, "IPT_SO_GET_INFO(filter) answered".into(), ""),
        Err(e) => r.add(
            "iptables-legacy",
            if in_gvisor { Status::Fail } else { Status::Warn },
            format!("IPT_SO_GET_INFO(filter) refused ({})", e.name()),
            if in_gvisor {
                "run the sandbox with --net-raw (runsc run/exec) and as root: gvnet-dockerd's SNAT and dockerd's embedded DNS need iptables-legacy"
            } else {
                "modprobe ip_tables, or ignore: on Linux gvnet is passive and dockerd manages its own rules"
            },
        ),
    }

    // 3. dockerd.
    let pids = dockerd_pids();
    let running = pids.first().copied();
    let dockerd_argv = running.map(cmdline).unwrap_or_default();
    let dockerd_file = running
        .and_then(|p| fs::read_link(format!("/proc/{p}/exe")).ok())
        .or_else(|| which("dockerd"));
    f(
        &mut r,
        "dockerd_path",
        opt_str(dockerd_file.as_ref().map(|p| p.display().to_string())),
    );
    match dockerd_file.as_deref().map(|p| (p, Elf::open(p))) {
        None => r.add(
            "dockerd-binary",
            Status::Fail,
            "no dockerd found (not running, not in PATH)".into(),
            "install Docker (Debian: docker.io)",
        ),
        Some((p, Err(e))) => r.add(
            "dockerd-binary",
            Status::Fail,
            format!("{}: {e}", p.display()),
            "install Docker's dockerd (a Go ELF executable)",
        ),
        Some((p, Ok(e))) => dockerd_binary(&mut r, p, &e),
    }

    // 4. runc.
    let runc = runc_path(&dockerd_argv);
    let proc_ino = fs::metadata("/proc").map(|m| m.ino()).unwrap_or(0);
    f(&mut r, "proc_root_inode", Json::Num(proc_ino));
    match runc {
        None => {
            f(&mut r, "runc_path", Json::Null);
            r.add(
                "runc",
                Status::Fail,
                "no runc found".into(),
                "install runc 1.1.x (Debian trixie: runc 1.1.15)",
            )
        }
        Some((path, why)) => {
            let out = Command::new(&path).arg("--version").output();
            let text = out
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let version = runc_version(&text);
            f(&mut r, "runc_path", Json::s(path.display().to_string()));
            f(
                &mut r,
                "runc_version",
                opt_str(version.map(|(a, b, c)| format!("{a}.{b}.{c}"))),
            );
            let v = version
                .map(|(a, b, c)| format!("{a}.{b}.{c}"))
                .unwrap_or_else(|| "unknown version".into());
            let hardened = version.is_some_and(|(a, b, _)| (a, b) >= (1, 2));
            if hardened && proc_ino != 1 {
                r.add(
                    "runc",
                    Status::Fail,
                    format!("{} ({why}) is runc {v}, which requires the /proc root inode to be 1; here it is {proc_ino}: every container fails with \"unsafe procfs detected\"", path.display()),
                    "use runc 1.1.x (Debian trixie's 1.1.15) as dockerd's runtime: dockerd --add-runtime=runc11=/usr/local/sbin/runc --default-runtime=runc11 (docs/docker.md)",
                );
            } else if version.is_none() {
                r.add(
                    "runc",
                    Status::Warn,
                    format!("{} ({why}): cannot read its version", path.display()),
                    "check that it runs: runc --version",
                );
            } else {
                r.add(
                    "runc",
                    Status::Ok,
                    format!(
                        "{} ({why}) is runc {v}; /proc root inode {proc_ino}",
                        path.display()
                    ),
                    "",
                );
            }
        }
    }

    // 5. The library in the running dockerd.
    library_in_dockerd(&mut r, running, pids.len(), in_gvisor, refused);

    // 6. podman, when installed or set up (`gvnet podman-setup`, docs/podman.md).
    let summary = crate::podman::drop_in_summary(Path::new("/"));
    f(&mut r, "podman_drop_in", opt_str(summary.clone()));
    match (summary, which("podman")) {
        (Some(s), _) => r.add(
            "podman",
            Status::Info,
            format!("{} present: {s}", crate::podman::DROP_IN),
            "",
        ),
        (None, Some(p)) if in_gvisor => r.add(
            "podman",
            Status::Info,
            format!("{} installed, no gvnet drop-in", p.display()),
            "gvnet podman-setup (as root, once per sandbox)",
        ),
        (None, _) => {}
    }
    r
}

/// `gvnet probe-bridge` in a child process: its exit status is 0 or the errno.
fn bridge_probe() -> Result<(), Errno> {
    let exe =
        std::env::current_exe().map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::ENOENT)))?;
    match Command::new(exe).arg("probe-bridge").status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Errno(s.code().unwrap_or(libc::EINVAL))),
        Err(e) => Err(Errno(e.raw_os_error().unwrap_or(libc::ENOENT))),
    }
}

fn dockerd_binary(r: &mut Report, path: &Path, e: &Elf) {
    let pie = e.kind == ET_DYN;
    let dynamic = e.is_dynamic();
    let sites = elf::go_syscall_sites(e);
    r.facts.put("dockerd_pie", Json::Bool(pie));
    r.facts.put("dockerd_dynamic", Json::Bool(dynamic));
    let n = sites.as_ref().map(|s| s.len()).unwrap_or(0);
    r.facts.put("dockerd_go_sites", Json::Num(n as u64));
    let what = format!(
        "{}: {}, {}, {}",
        path.display(),
        if dynamic {
            "dynamically linked"
        } else {
            "statically linked"
        },
        if pie { "PIE" } else { "not PIE" },
        match &sites {
            Ok(s) => format!("{} Go syscall site(s)", s.len()),
            Err(e) => format!("site scan failed: {e}"),
        }
    );
    if !dynamic {
        r.add("dockerd-binary", Status::Fail, what, "LD_PRELOAD cannot reach a static dockerd: install a dynamically linked build (Debian's docker.io)");
    } else if n == 0 {
        r.add("dockerd-binary", Status::Fail, what, "no Go Syscall6 body found: a dockerd built with Go older than 1.19 or not on x86-64; gvnet cannot trap its raw syscalls");
    } else if n > 1 {
        r.add(
            "dockerd-binary",
            Status::Warn,
            what,
            "several sites: each is trapped, but only one was expected; report it with this output",
        );
    } else {
        r.add("dockerd-binary", Status::Ok, what, "");
    }
}

fn library_in_dockerd(
    r: &mut Report,
    pid: Option<u32>,
    count: usize,
    in_gvisor: bool,
    refused: bool,
) {
    let needed = refused;
    let Some(pid) = pid else {
        r.facts.put("dockerd_pid", Json::Null);
        r.facts.put("library_loaded", Json::Bool(false));
        r.add(
            "library-in-dockerd",
            if needed { Status::Warn } else { Status::Info },
            "no dockerd is running".into(),
            "start it under the library: gvnet-dockerd (or: systemctl start docker with the gvnet drop-in)",
        );
        return;
    };
    r.facts.put("dockerd_pid", Json::Num(pid as u64));
    let env = environ(pid);
    r.facts.put(
        "dockerd_environ",
        Json::Arr(env.iter().map(Json::s).collect()),
    );
    let others = if count > 1 {
        format!(" (and {} more dockerd)", count - 1)
    } else {
        String::new()
    };
    let mapped = counters::find_mapped(pid);
    let m = match mapped {
        Err(e) => {
            r.facts.put("library_loaded", Json::Null);
            r.add(
                "library-in-dockerd",
                Status::Warn,
                format!("dockerd pid {pid}: {e}"),
                "run gvnet doctor as root",
            );
            return;
        }
        Ok(None) => {
            r.facts.put("library_loaded", Json::Bool(false));
            let preload = env.iter().find(|e| e.starts_with("LD_PRELOAD="));
            let found = format!(
                "library NOT loaded in dockerd pid {pid}{others} ({})",
                preload
                    .map(|p| format!("its {p} did not load it"))
                    .unwrap_or_else(|| "no LD_PRELOAD in its environment".into())
            );
            let status = if needed && in_gvisor {
                Status::Fail
            } else if needed {
                Status::Warn
            } else {
                Status::Info
            };
            r.add("library-in-dockerd", status, found, "stop dockerd and start it with gvnet-dockerd, or `gvnet run -- dockerd ...`, or the systemd drop-in (docs/quickstart-gvisor.md)");
            return;
        }
        Ok(Some(m)) => m,
    };
    r.facts.put("library_loaded", Json::Bool(true));
    r.facts.put("library_path", Json::s(&m.path));
    match counters::read(pid, &m) {
        Err(e) => {
            r.add(
                "library-in-dockerd",
                Status::Warn,
                format!(
                    "loaded in dockerd pid {pid}{others} from {}, counters unreadable: {e}",
                    m.path
                ),
                "use the gvnet command built with this library",
            );
        }
        Ok(s) => {
            let t = s.total();
            r.facts.put("counters", s.to_json());
            r.facts.put("emulated", Json::Num(t.emulated));
            let found = format!(
                "loaded in dockerd pid {pid}{others} from {}: {}; {} intercepted ({} trapped, {} hooked), {} emulated, {} passed through, {} forwarded",
                m.path,
                summary(&s),
                t.trapped + t.hooked,
                t.trapped,
                t.hooked,
                t.emulated,
                t.passed,
                t.forwarded
            );
            use gvnet_core::counters::engine;
            let engine = s.engine();
            if needed && engine != engine::HOOKS_AND_TRAP {
                r.add("library-in-dockerd", Status::Fail, found, "dockerd's raw syscalls are not trapped: see the library's log line (GVNET_LOG=info) for why; GVNET_TARGETS must name dockerd");
            } else {
                r.add("library-in-dockerd", Status::Ok, found, "");
            }
        }
    }
}

fn summary(s: &Snapshot) -> String {
    use gvnet_core::counters::engine;
    format!(
        "engine {}, {}, {} Go site(s)",
        engine::name(s.engine()),
        s.capability_line(),
        s.sites()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runc_versions() {
        assert_eq!(
            runc_version("runc version 1.1.15\ncommit: ..."),
            Some((1, 1, 15))
        );
        assert_eq!(runc_version("runc version 1.3.6+ds1\n"), Some((1, 3, 6)));
        assert_eq!(runc_version("runc version 1.2.0-rc.1\n"), Some((1, 2, 0)));
        assert_eq!(runc_version("nothing\n"), None);
    }

    #[test]
    fn finds_flag_values_both_ways() {
        let argv: Vec<String> = [
            "dockerd",
            "--add-runtime=old=/usr/local/sbin/runc",
            "--default-runtime",
            "old",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(flag_values(&argv, "--default-runtime"), vec!["old"]);
        let (p, why) = runc_path(&argv).unwrap();
        assert_eq!(p, PathBuf::from("/usr/local/sbin/runc"));
        assert!(why.contains("old"));
    }
}
