//! A veth pair made as netavark makes it, on the host kernel: `tests/conformance/veth/nlveth.c`
//! (libc `send` and `recv`, the peer put into a second namespace by `IFLA_NET_NS_FD`, both
//! sockets strict as netlink-sys makes them) reads the peer's `IFLA_LINK` in its namespace and
//! the host end's back, in a fresh `unshare -n`:
//!
//! * without the library: Linux, whose `veth_get_iflink` names the other end (the reference);
//! * with `LD_PRELOAD=libgvnet.so GVNET_MODE=force`: the same lines, and the library's log
//!   names the ends it found around the create (two link dumps, the namespaces read from
//!   `/proc/thread-self/ns/net` and the namespace fd). Linux puts `IFLA_LINK` in itself, so
//!   nothing is added here (`IFLA_LINK supplied` never appears); where gVisor leaves it out,
//!   gvnet-harness's `veth-peer` scenario shows the library adding it.
//!
//! Needs root and gcc; missing pieces fail the test, it never skips. Every program runs as a
//! child process.

mod common;

use common::library_path;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn src() -> PathBuf {
    common::workspace_root().join("tests/conformance/veth")
}

fn scratch() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("veth")
}

struct Run {
    stdout: String,
    log: String,
}

fn run(prog: &std::path::Path, force: bool) -> Run {
    let log = scratch().join(format!("force-{force}-{}.log", std::process::id()));
    let _ = fs::remove_file(&log);
    let mut cmd = Command::new("unshare");
    cmd.arg("-n").arg(prog);
    common::clean_gvnet_env(&mut cmd);
    if force {
        cmd.env("LD_PRELOAD", library_path())
            .env("GVNET_MODE", "force")
            .env("GVNET_LOG", "debug")
            .env("GVNET_LOG_FILE", &log);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("nlveth (force: {force})");
    let c = common::capture(
        &mut cmd,
        &what,
        "unshare -n nlveth",
        Duration::from_secs(60),
        Duration::from_millis(20),
    );
    assert!(
        c.status.success(),
        "{what} failed ({}):\n{}\n--- stderr ---\n{}\n--- gvnet log ---\n{}",
        c.status,
        c.stdout,
        c.stderr,
        fs::read_to_string(&log).unwrap_or_default()
    );
    Run {
        stdout: c.stdout,
        log: fs::read_to_string(&log).unwrap_or_default(),
    }
}

#[test]
fn a_netavark_veth_pair_under_force_mode_matches_the_host_kernel() {
    let prog = common::build_netns_program(&src(), "nlveth", &scratch());
    let reference = run(&prog, false);
    for want in [
        "create: ok",
        "peer IFLA_LINK: present",
        "peer-link: ok (the host end is veth...)",
        "host-link: ok",
        "delete: ok",
    ] {
        assert!(
            reference.stdout.contains(want),
            "the reference lacks {want:?}:\n{}",
            reference.stdout
        );
    }
    let force = run(&prog, true);
    assert_eq!(
        reference.stdout, force.stdout,
        "the transcripts differ\n--- gvnet log ---\n{}",
        force.log
    );
    for want in [
        "veth created: host end veth",
        "peer gvnet-vp0 in namespace ",
    ] {
        assert!(
            force.log.contains(want),
            "the log lacks {want:?}:\n{}",
            force.log
        );
    }
    assert!(
        !force.log.contains("IFLA_LINK supplied in"),
        "Linux's own IFLA_LINK was there; nothing may be added:\n{}",
        force.log
    );
}
