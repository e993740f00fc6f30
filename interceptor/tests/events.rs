//! Multicast event delivery (issue 3) against the host kernel.
//!
//! Three subscriber programs from `tests/conformance/events/` each run in a fresh network
//! namespace (`unshare -n`), make their own link, address, route and neighbour changes with
//! `ip`, and print `ok NAME` / `FAIL NAME: why` / `unsupported-here NAME: why` per check:
//! `nlevents` (C through libc; once subscribed with bind(nl_groups), once with
//! NETLINK_ADD_MEMBERSHIP), `nlevents-go` (vishvananda/netlink, Go's raw syscalls, cgo binary)
//! and `ipmon.sh` (`ip monitor link address route`). Each is run
//!
//! * on the host kernel alone: the reference; every check must pass, none may be unsupported;
//! * with `LD_PRELOAD=libgvnet.so GVNET_MODE=force`: the library acts as if the kernel refused
//!   multicast, so the kernel is never asked to join and every event must come from the
//!   library; the same checks must pass;
//! * the same with `GVNET_EVENTS=off`: subscriptions are still emulated but no event is
//!   delivered, and the programs must fail for lack of events (the tests can fail).
//!
//! Needs root (network namespaces), `unshare` (util-linux), `ip` (iproute2), gcc, go and
//! Debian's golang-github-vishvananda-netlink-dev (`scripts/deps.sh` installs them), and the
//! library built first (`cargo build --release -p gvnet`; `GVNET_SO` overrides the path).
//! A missing piece fails the tests; they never skip.

mod common;

use common::{is_ci, library_path, workspace_root};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The Go binary's name; GVNET_TARGETS must name it for the seccomp path to cover it.
const GO_BIN: &str = "nlevents-go";
/// Where Debian installs Go sources (golang-github-vishvananda-netlink-dev and its deps).
const GOCODE: &str = "/usr/share/gocode";
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

fn events_src() -> PathBuf {
    workspace_root().join("tests/conformance/events")
}

fn scratch_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("events")
}

fn missing(what: &str, how: &str) -> ! {
    let context = if is_ci() {
        "CI=true: this is a failure, not a skip"
    } else {
        "the event tests fail rather than skip without it"
    };
    panic!("{what}; {context}. {how}")
}

fn require_tool(tool: &str, package: &str) -> PathBuf {
    if let Some(found) = common::find_in_path(tool) {
        return found;
    }
    missing(
        &format!("`{tool}` not found in PATH"),
        &format!("Install the Debian package `{package}` (scripts/deps.sh)."),
    )
}

fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        missing(
            &format!("running as uid {euid}, not root"),
            "The programs create network namespaces (unshare -n) and change links in them.",
        );
    }
}

struct Programs {
    c: PathBuf,
    go: PathBuf,
    ipmon: PathBuf,
}

fn build_programs() -> Result<Programs, String> {
    require_root();
    require_tool("unshare", "util-linux");
    require_tool("ip", "iproute2");
    let gcc = require_tool("gcc", "gcc");
    let go_tool = require_tool("go", "golang-go");
    let netlink_src = Path::new(GOCODE).join("src/github.com/vishvananda/netlink");
    if !netlink_src.is_dir() {
        missing(
            &format!("{} does not exist", netlink_src.display()),
            "Install the Debian package `golang-github-vishvananda-netlink-dev` (scripts/deps.sh).",
        );
    }
    let src = events_src();
    let out = scratch_root().join("bin");
    fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;

    // Dynamically linked (no -static): LD_PRELOAD must apply to it.
    let c = out.join("nlevents");
    let status = Command::new(gcc)
        .args(["-O2", "-g", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&c)
        .arg(src.join("nlevents.c"))
        .status()
        .map_err(|e| format!("running gcc: {e}"))?;
    if !status.success() {
        return Err(format!("gcc failed to build nlevents.c: {status}"));
    }

    // GOPATH mode against Debian's packaged sources; cgo, so dynamically linked.
    let go = out.join(GO_BIN);
    let output = Command::new(go_tool)
        .args(["build", "-o"])
        .arg(&go)
        .arg(".")
        .current_dir(src.join("nlevents-go"))
        .env("GO111MODULE", "off")
        .env("GOPATH", GOCODE)
        .env("CGO_ENABLED", "1")
        .env("GOFLAGS", "")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", scratch_root().join("go-cache"))
        .output()
        .map_err(|e| format!("running go build: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "go build of tests/conformance/events/nlevents-go failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(Programs {
        c,
        go,
        ipmon: src.join("ipmon.sh"),
    })
}

fn programs() -> &'static Programs {
    static PROGRAMS: OnceLock<Result<Programs, String>> = OnceLock::new();
    match PROGRAMS.get_or_init(build_programs) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prog {
    CBind,
    CMembership,
    Go,
    IpMonitor,
}

impl Prog {
    /// argv after `unshare -n`.
    fn argv(self) -> Vec<String> {
        let p = programs();
        let s = |p: &Path| p.display().to_string();
        match self {
            Prog::CBind => vec![s(&p.c), "bind".into()],
            Prog::CMembership => vec![s(&p.c), "membership".into()],
            Prog::Go => vec![s(&p.go)],
            Prog::IpMonitor => vec!["sh".into(), s(&p.ipmon)],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Env {
    /// The host kernel alone.
    Kernel,
    /// libgvnet.so in force mode, events delivered by the library.
    Force,
    /// libgvnet.so in force mode with GVNET_EVENTS=off.
    EventsOff,
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    what: String,
    log: Option<PathBuf>,
}

impl Run {
    fn lines(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    fn ok_names(&self) -> Vec<&str> {
        self.lines("ok ")
            .iter()
            .map(|l| l.trim_start_matches("ok "))
            .collect()
    }

    fn report(&self) -> String {
        let log = self
            .log
            .as_ref()
            .map(|l| {
                let text = fs::read_to_string(l).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "\n--- last lines of {} ---\n{}",
                    l.display(),
                    lines[lines.len().saturating_sub(30)..].join("\n")
                )
            })
            .unwrap_or_default();
        format!(
            "{} ({})\n--- stdout ---\n{}--- stderr ---\n{}{log}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

fn run(prog: Prog, env: Env) -> Run {
    let argv = prog.argv();
    let mut cmd = Command::new("unshare");
    cmd.arg("-n")
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::clean_gvnet_env(&mut cmd);
    let mut log = None;
    let what = match env {
        Env::Kernel => format!("{prog:?} on the host kernel"),
        Env::Force | Env::EventsOff => {
            let lib = library_path();
            let dir = scratch_root().join("logs");
            fs::create_dir_all(&dir).expect("creating the log directory");
            let file = dir.join(format!("{prog:?}-{env:?}-{}.log", std::process::id()));
            let _ = fs::remove_file(&file);
            cmd.env("LD_PRELOAD", &lib)
                .env("GVNET_MODE", "force")
                .env("GVNET_LOG", "trace")
                .env("GVNET_LOG_FILE", &file);
            if prog == Prog::Go {
                cmd.env("GVNET_TARGETS", GO_BIN);
            }
            if env == Env::EventsOff {
                cmd.env("GVNET_EVENTS", "off");
            }
            log = Some(file);
            format!(
                "{prog:?} with LD_PRELOAD={} GVNET_MODE=force{}",
                lib.display(),
                if env == Env::EventsOff {
                    " GVNET_EVENTS=off"
                } else {
                    ""
                }
            )
        }
    };
    let c = common::capture(
        &mut cmd,
        &what,
        &format!("unshare -n {}", argv.join(" ")),
        RUN_TIMEOUT,
        Duration::from_millis(20),
    );
    let run = Run {
        status: c.status,
        stdout: c.stdout,
        stderr: c.stderr,
        what,
        log,
    };
    assert!(
        run.stdout.contains("\n# end: ") || run.stdout.starts_with("# end: "),
        "{}: the program did not finish its report\n{}",
        run.what,
        run.report()
    );
    run
}

/// Every check passes and none is unsupported: the host kernel does everything asked.
fn assert_all_pass(run: &Run) {
    let failed = run.lines("FAIL ");
    let unsupported = run.lines("unsupported-here ");
    assert!(
        run.status.success() && failed.is_empty() && unsupported.is_empty(),
        "{}: {} failed, {} unsupported-here (none expected on the host kernel):\n{}\n\n{}",
        run.what,
        failed.len(),
        unsupported.len(),
        failed
            .iter()
            .chain(unsupported.iter())
            .copied()
            .collect::<Vec<_>>()
            .join("\n"),
        run.report()
    );
}

/// The reference passes on its own, and has a meaningful number of checks.
fn check_kernel(prog: Prog, min_checks: usize) {
    let r = run(prog, Env::Kernel);
    assert_all_pass(&r);
    assert!(
        r.ok_names().len() >= min_checks,
        "{}: only {} checks ran (expected at least {min_checks})\n{}",
        r.what,
        r.ok_names().len(),
        r.report()
    );
}

/// Under the library in force mode, exactly the reference's checks pass.
fn check_force(prog: Prog) {
    let reference = run(prog, Env::Kernel);
    assert_all_pass(&reference);
    let forced = run(prog, Env::Force);
    assert_all_pass(&forced);
    assert_eq!(
        reference.ok_names(),
        forced.ok_names(),
        "{}: not the same checks as on the host kernel\n{}",
        forced.what,
        forced.report()
    );
    // The subscription went through the library (an inert library would leave the kernel to
    // deliver the events, and the run above would prove nothing).
    let log = forced
        .log
        .as_ref()
        .map(|l| fs::read_to_string(l).unwrap_or_default())
        .unwrap_or_default();
    let needle = if prog == Prog::Go {
        "raw bind("
    } else {
        "bind("
    };
    let via = if prog == Prog::CMembership {
        "setsockopt("
    } else {
        needle
    };
    assert!(
        log.lines()
            .any(|l| l.contains(via) && l.contains("emulated")),
        "{}: no emulated `{via}` line in the library's log, so the subscription did not go \
         through it\n{}",
        forced.what,
        forced.report()
    );
}

/// With event delivery switched off, the same program fails, and for lack of events.
fn check_events_off_fails(prog: Prog) {
    let off = run(prog, Env::EventsOff);
    assert!(
        !off.status.success(),
        "{}: passed although no events were delivered: the test cannot tell\n{}",
        off.what,
        off.report()
    );
    let subscribed = off
        .ok_names()
        .iter()
        .any(|n| n.starts_with("subscribe") || n.ends_with("-subscribe") || *n == "monitor-start");
    assert!(
        subscribed,
        "{}: failed, but not after subscribing (the failure must be the missing events)\n{}",
        off.what,
        off.report()
    );
    assert!(
        off.lines("FAIL ")
            .iter()
            .any(|l| l.contains("did not arrive") || l.contains("printed no line")),
        "{}: failed, but not for a missing event\n{}",
        off.what,
        off.report()
    );
}

#[test]
fn c_bind_kernel_reference() {
    check_kernel(Prog::CBind, 40);
}

#[test]
fn c_membership_kernel_reference() {
    check_kernel(Prog::CMembership, 40);
}

#[test]
fn go_kernel_reference() {
    check_kernel(Prog::Go, 15);
}

#[test]
fn ip_monitor_kernel_reference() {
    check_kernel(Prog::IpMonitor, 14);
}

#[test]
fn c_bind_force_mode_delivers_events() {
    check_force(Prog::CBind);
}

#[test]
fn c_membership_force_mode_delivers_events() {
    check_force(Prog::CMembership);
}

#[test]
fn go_force_mode_delivers_events() {
    check_force(Prog::Go);
}

#[test]
fn ip_monitor_force_mode_delivers_events() {
    check_force(Prog::IpMonitor);
}

#[test]
fn c_bind_fails_with_events_off() {
    check_events_off_fails(Prog::CBind);
}

#[test]
fn c_membership_fails_with_events_off() {
    check_events_off_fails(Prog::CMembership);
}

#[test]
fn go_fails_with_events_off() {
    check_events_off_fails(Prog::Go);
}

#[test]
fn ip_monitor_fails_with_events_off() {
    check_events_off_fails(Prog::IpMonitor);
}

/// Runs tests/conformance/events/kick.sh in a fresh namespace: `ip monitor link` with polling
/// off (GVNET_EVENT_IDLE_MS=0) and its kick setting `monitor_kick`; a veth added by `ip`, with
/// gvnet (`preload`, kicking through a per-test kick file) or without (`plain`). Returns what
/// kick.sh printed (`seen` / `not seen`) and the whole report.
fn kick_run(name: &str, monitor_kick: &str, changer: &str) -> (String, String) {
    require_root();
    require_tool("ip", "iproute2");
    require_tool("unshare", "util-linux");
    let dir = scratch_root().join("kick");
    fs::create_dir_all(&dir).expect("creating the kick directory");
    let kick_file = dir.join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_file(&kick_file);
    let kick_file = kick_file.display().to_string();
    let monitor_kick = if monitor_kick == "shared" {
        kick_file.as_str()
    } else {
        monitor_kick
    };
    let script = events_src().join("kick.sh");
    let mut cmd = Command::new("unshare");
    cmd.arg("-n")
        .arg("sh")
        .arg(&script)
        .arg(library_path())
        .arg(monitor_kick)
        .arg(changer)
        .env("KICK_FILE", &kick_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::clean_gvnet_env(&mut cmd);
    let what = format!("kick.sh {monitor_kick} {changer}");
    let c = common::capture(
        &mut cmd,
        &what,
        &what,
        Duration::from_secs(60),
        Duration::from_millis(20),
    );
    let _ = fs::remove_file(&kick_file);
    let verdict = c.stdout.trim().to_string();
    let report = format!(
        "{what} ({}):\n--- stdout ---\n{}--- stderr (ip monitor) ---\n{}",
        c.status, c.stdout, c.stderr
    );
    assert!(
        verdict == "seen" || verdict == "not seen",
        "kick.sh did not finish: {report}"
    );
    (verdict, report)
}

/// A change made by a gvnet-loaded `ip` wakes the monitor of another process at once: with
/// polling off, that kick is the only way the event can arrive.
#[test]
fn a_change_by_a_gvnet_process_kicks_another_process_monitor() {
    let (verdict, report) = kick_run("shared", "shared", "preload");
    assert_eq!(verdict, "seen", "{report}");
}

/// The same change made by an `ip` without gvnet kicks nobody: with polling off the subscriber
/// sees nothing (so the test above can fail, and it is the kick that delivered there).
#[test]
fn a_change_without_gvnet_is_not_seen_with_polling_off() {
    let (verdict, report) = kick_run("plain", "shared", "plain");
    assert_eq!(verdict, "not seen", "{report}");
}

/// With GVNET_EVENT_KICK=off in the subscriber, another process's kicks do not reach it.
#[test]
fn kicks_do_not_cross_processes_with_the_kick_file_off() {
    let (verdict, report) = kick_run("off", "off", "preload");
    assert_eq!(verdict, "not seen", "{report}");
}
