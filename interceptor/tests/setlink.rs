//! `RTM_SETLINK` with `NLM_F_CREATE | NLM_F_EXCL` (netavark's flags) on the host kernel:
//! `tests/conformance/setlink/nlsetlink.c` (libc `bind`, `send` and `sendto`, as netavark's
//! netlink-sys calls them; the bind decides, a process still waiting sends unchanged) sets links
//! up, a master, an MTU and a name, and asks for links that do not exist,
//! in a fresh network namespace prepared by `tests/conformance/setlink/setup.sh`:
//!
//! * without the library: Linux's `rtnl_setlink`, which ignores the flags (the reference);
//! * with `LD_PRELOAD=libgvnet.so GVNET_MODE=force`: gvnet sends a copy of each request without
//!   `NLM_F_CREATE | NLM_F_EXCL | NLM_F_REPLACE` (what gVisor needs). Every line must be the
//!   same but the `echo` lines, the flags of the header Linux's ack echoes: those show the
//!   kernel got the copy, so an inert library cannot pass. The caller's buffer must be unchanged
//!   after each send in both runs.
//!
//! Needs root (`unshare -n`), `ip` (iproute2) and gcc; missing pieces fail the test, it never
//! skips. Every program runs as a child process.

mod common;

use common::library_path;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn src() -> PathBuf {
    common::workspace_root().join("tests/conformance/setlink")
}

fn scratch() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("setlink")
}

fn program() -> PathBuf {
    common::build_netns_program(&src(), "nlsetlink", &scratch())
}

struct Run {
    stdout: String,
    log: String,
}

fn run(prog: &std::path::Path, force: bool) -> Run {
    let log = scratch().join(format!("force-{force}-{}.log", std::process::id()));
    let _ = fs::remove_file(&log);
    // Only the program preloads the library: the setup's and the check's `ip` run without it.
    let pre = if force {
        format!(
            "env LD_PRELOAD='{}' GVNET_MODE=force GVNET_LOG=debug GVNET_LOG_FILE='{}' ",
            library_path().display(),
            log.display()
        )
    } else {
        String::new()
    };
    let script = format!(
        ". '{}'\n{pre}'{}'\necho \"vc: $(ip -o link show vc | grep -o 'master [a-z0-9]*')\"\n",
        src().join("setup.sh").display(),
        prog.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", "sh", "-ec", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::clean_gvnet_env(&mut cmd);
    let what = format!("nlsetlink (force: {force})");
    let c = common::capture(
        &mut cmd,
        &what,
        "unshare -n sh",
        Duration::from_secs(60),
        Duration::from_millis(20),
    );
    assert!(
        c.status.success() && c.stdout.contains("vc: master br0"),
        "{what} did not finish ({}):\n{}\n--- stderr ---\n{}",
        c.status,
        c.stdout,
        c.stderr
    );
    Run {
        stdout: c.stdout,
        log: fs::read_to_string(&log).unwrap_or_default(),
    }
}

/// The transcript without its `echo` lines, and the `echo` lines alone.
fn split(t: &str) -> (String, Vec<&str>) {
    let mut rest = String::new();
    let mut echo = Vec::new();
    for l in t.lines() {
        if l.starts_with("echo ") {
            echo.push(l);
        } else {
            rest.push_str(l);
            rest.push('\n');
        }
    }
    (rest, echo)
}

#[test]
fn setlink_with_create_under_force_mode_matches_the_host_kernel() {
    let prog = program();
    let reference = run(&prog, false);
    // What the reference must hold, or it proves nothing.
    for want in [
        "lo up by name: ack type 2 seq ok error 0, echoed type 19",
        "missing name: ack type 2 seq ok error -19",
        "missing index: ack type 2 seq ok error -19",
        "va newlink excl: ack type 2 seq ok error -17",
        "link lo: up",
        "link va: up mtu 1400",
        "link vb: absent",
        "echo lo up by name: flags 0x605",
    ] {
        assert!(
            reference.stdout.contains(want),
            "the reference lacks {want:?}:\n{}",
            reference.stdout
        );
    }
    assert!(
        !reference.stdout.contains("CHANGED"),
        "{}",
        reference.stdout
    );
    let force = run(&prog, true);
    let ((r, _), (f, echo)) = (split(&reference.stdout), split(&force.stdout));
    assert_eq!(
        r, f,
        "the transcripts differ\n--- gvnet log ---\n{}",
        force.log
    );
    // The kernel got each setlink without CREATE | EXCL | REPLACE (0x5 = REQUEST | ACK), and the
    // RTM_NEWLINK with EXCL unchanged.
    for l in &echo {
        let want = if l.starts_with("echo va newlink excl:") {
            "flags 0x605"
        } else {
            "flags 0x5"
        };
        assert!(l.ends_with(want), "{l}: want {want}\n{}", force.stdout);
    }
    assert_eq!(echo.len(), 10, "{}", force.stdout);
    for want in [
        "libc send(",
        "libc sendto(",
        "emulated: RTM_SETLINK sent without NLM_F_CREATE|NLM_F_EXCL|NLM_F_REPLACE (1 message(s))",
        "RTM_SETLINK native, IPv4 conf sysctls native",
    ] {
        assert!(
            force.log.contains(want),
            "the log lacks {want:?}:\n{}",
            force.log
        );
    }
}
