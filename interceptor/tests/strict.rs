//! `NETLINK_GET_STRICT_CHK` on the host kernel: `tests/conformance/strict/nlstrict.c` (libc
//! `setsockopt`, `send`, `sendto`, `recv`, `recvfrom`, `recvmsg`, as netavark's netlink-sys and
//! iproute2 call them) runs in a fresh network namespace prepared by
//! `tests/conformance/strict/setup.sh` (a bridge with two ports, an empty bridge, veths,
//! addresses, routes in tables main and 100):
//!
//! * without the library: Linux checks and filters the strict dumps itself (the reference);
//! * with `LD_PRELOAD=libgvnet.so GVNET_MODE=force`: the option never reaches the kernel, whose
//!   dumps are then plain ones, and gvnet checks and filters them. The transcripts must be
//!   identical, and the trace log must show the emulation at work (the option emulated, dumps
//!   filtered, requests refused and injected), so an inert library cannot pass.
//!
//! What the emulation is for: the same program with `--plain` (the option never set, what a
//! strict client gets where the kernel refuses the option and nothing emulates it) differs from
//! the reference. Observed on Linux 6.18: the link dump with an index lists every link instead
//! of failing with EINVAL, the address dumps by `ifa_index` list every device's addresses, the
//! route dumps by table list every table (and no ENOENT for a missing one), and no reply carries
//! `NLM_F_DUMP_FILTERED` (0x20); `plain_dumps_are_not_strict_ones` pins those sections.
//!
//! iproute2 itself (`tests/conformance/strict/ipcheck.sh`: `ip` turns both options on, dumps
//! with kernel filters and sizes each datagram with `MSG_PEEK | MSG_TRUNC` first) must print
//! the same with and without the library, but for the one documented difference: Linux's
//! extended-ack message for the missing table ("Error: ipv4: FIB table does not exist."),
//! which gvnet does not produce (`NETLINK_EXT_ACK` is accepted without attributes).
//!
//! Needs root (`unshare -n`), `ip` (iproute2), gcc and the library built first; missing pieces
//! fail the tests, they never skip. Every program runs as a child process.

mod common;

use common::library_path;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn src() -> PathBuf {
    common::workspace_root().join("tests/conformance/strict")
}

fn scratch() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("strict")
}

fn program() -> &'static PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| common::build_netns_program(&src(), "nlstrict", &scratch()))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// `ipcheck.sh` on the host kernel.
    IpKernel,
    /// `ipcheck.sh` with every `ip` under `GVNET_MODE=force`.
    IpForce,
    /// Strict, on the host kernel.
    Kernel,
    /// Strict, under `GVNET_MODE=force`.
    Force,
    /// `--plain` (the option never set), on the host kernel.
    Plain,
}

struct Run {
    stdout: String,
    log: String,
}

fn run(mode: Mode) -> Run {
    let prog = program();
    let log = scratch().join(format!("{mode:?}-{}.log", std::process::id()));
    let _ = fs::remove_file(&log);
    // Only the program preloads the library: the setup's `ip` runs without it.
    let ipcheck = src().join("ipcheck.sh");
    let exec = match mode {
        Mode::IpKernel => format!("PRE=; . '{}'", ipcheck.display()),
        Mode::IpForce => format!(
            "PRE='env LD_PRELOAD={} GVNET_MODE=force GVNET_LOG=debug GVNET_LOG_FILE={}'; . '{}'",
            library_path().display(),
            log.display(),
            ipcheck.display()
        ),
        Mode::Kernel => format!("exec '{}'", prog.display()),
        Mode::Plain => format!("exec '{}' --plain", prog.display()),
        Mode::Force => format!(
            "exec env LD_PRELOAD='{}' GVNET_MODE=force GVNET_LOG=debug GVNET_LOG_FILE='{}' '{}'",
            library_path().display(),
            log.display(),
            prog.display()
        ),
    };
    let script = format!(". '{}'\n{exec}\n", src().join("setup.sh").display());
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", "sh", "-ec", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::clean_gvnet_env(&mut cmd);
    let what = format!("nlstrict ({mode:?})");
    let c = common::capture(
        &mut cmd,
        &what,
        "unshare -n sh",
        RUN_TIMEOUT,
        Duration::from_millis(20),
    );
    assert!(
        c.status.success() && (c.stdout.ends_with("# end\n") || c.stdout.ends_with("# ip end\n")),
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

/// The transcript's sections: a title line ending in `:` and the lines below it.
fn sections(t: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in t.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            out.push((line.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out
}

#[test]
fn strict_dumps_under_force_mode_match_the_host_kernel() {
    let reference = run(Mode::Kernel);
    // What the reference must hold, or it proves nothing: filtered replies, Linux's refusals.
    for want in [
        "link vp master br0",
        "error -22",
        "error -19",
        "error -2\n",
        "flags 0x22",
        "peek 8 with MSG_TRUNC: 20",
        "STRICT_CHK read with room 8: 0  value 1 len 4",
    ] {
        assert!(
            reference.stdout.contains(want),
            "the reference lacks {want:?}:\n{}",
            reference.stdout
        );
    }
    let force = run(Mode::Force);
    if force.stdout != reference.stdout {
        let (r, f) = (sections(&reference.stdout), sections(&force.stdout));
        let differ: Vec<String> = r
            .iter()
            .zip(&f)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("{}\n--- Linux ---\n{}--- gvnet ---\n{}", a.0, a.1, b.1))
            .collect();
        panic!(
            "the transcripts differ ({} of {} sections):\n{}\n--- gvnet log ---\n{}",
            differ.len(),
            r.len(),
            differ.join("\n"),
            force.log
        );
    }
    // The emulation answered, the kernel was not asked for the option.
    for want in [
        "emulated: NETLINK_GET_STRICT_CHK on",
        "emulated: NETLINK_EXT_ACK (no extended-ack attributes) on",
        "strict: dump request checked, sent; its replies are filtered",
        "strict dump filter: kept 2 of 2",
        "strict dump filter: kept 3 of 15",
        "strict: request refused with EINVAL (injected)",
        "strict: request refused with ENODEV (injected)",
        "strict: request refused with ENOENT (injected)",
        "strict: refused dump's NLMSG_DONE delivered",
        "NETLINK_GET_STRICT_CHK native",
    ] {
        assert!(
            force.log.contains(want),
            "the log lacks {want:?}:\n{}",
            force.log
        );
    }
    assert!(
        !force
            .log
            .lines()
            .any(|l| l.contains(", 0x10e, 0xc,") && l.contains("passed through")),
        "NETLINK_GET_STRICT_CHK reached the kernel:\n{}",
        force.log
    );
}

#[test]
fn plain_dumps_are_not_strict_ones() {
    let (reference, plain) = (run(Mode::Kernel), run(Mode::Plain));
    let (r, p) = (sections(&reference.stdout), sections(&plain.stdout));
    assert_eq!(
        r.iter().map(|s| &s.0).collect::<Vec<_>>(),
        p.iter().map(|s| &s.0).collect::<Vec<_>>(),
        "the same requests in the same order"
    );
    let differ: Vec<&str> = r
        .iter()
        .zip(&p)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0.as_str())
        .collect();
    for must in [
        "invalid: link dump with an index:",
        "addresses of va, AF_UNSPEC:",
        "addresses of br0, AF_INET (recvfrom):",
        "invalid: addresses of a missing device:",
        "routes of table 100 (RTA_TABLE), AF_INET (sendto):",
        "invalid: routes of a missing table, AF_INET:",
        "invalid: route dump with a destination length:",
        "addresses of va, iproute2's way:",
        "invalid: route dump with a scope, sendmsg:",
    ] {
        assert!(
            differ.contains(&must),
            "{must} is the same without strict checking; sections that differ: {differ:?}"
        );
    }
}

#[test]
fn iproute2_under_force_mode_matches_the_host_kernel() {
    program(); // root and the tools
    let (reference, force) = (run(Mode::IpKernel), run(Mode::IpForce));
    let ext_ack = "Error: ipv4: FIB table does not exist.\n";
    assert!(
        reference.stdout.contains(ext_ack) && reference.stdout.contains("vp@vq"),
        "the reference lacks what it should show:\n{}",
        reference.stdout
    );
    assert_eq!(
        force.stdout,
        reference.stdout.replace(ext_ack, ""),
        "ip under gvnet differs from the host kernel (beyond the extended-ack message)\n--- gvnet log ---\n{}",
        force.log
    );
    for want in [
        "emulated: NETLINK_GET_STRICT_CHK on",
        "strict: request refused with ENOENT (injected)",
        "strict dump filter: kept",
    ] {
        assert!(
            force.log.contains(want),
            "the log lacks {want:?}:\n{}",
            force.log
        );
    }
}
