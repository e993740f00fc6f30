//! The library's counters, read from outside with the `gvnet` command, on the host kernel.
//!
//! `tests/counters/nlcount.c` makes a known set of socket calls and stays alive; `gvnet
//! counters PID --json` must report exactly those calls under the library (`GVNET_MODE=force`,
//! as the conformance tests run it), and "not loaded" for the same program without it.
//!
//! Needs gcc, the library and the gvnet command built first (`cargo build --release`).

mod common;

use common::{find_in_path, gvnet_command, library_path, workspace_root};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

fn program() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let gcc = find_in_path("gcc").expect("gcc not found in PATH: install the Debian package gcc (this test fails rather than skips)");
            let out = std::env::temp_dir().join(format!("gvnet-nlcount-{}", std::process::id()));
            let status = Command::new(gcc)
                .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
                .arg(&out)
                .arg(workspace_root().join("tests/counters/nlcount.c"))
                .status()
                .expect("running gcc");
            assert!(status.success(), "gcc failed to build nlcount.c");
            out
        })
        .clone()
}

/// The running program (stdin open) and its "ready" line.
fn start(preload: bool) -> (Child, String) {
    let mut cmd = Command::new(program());
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env_remove("LD_PRELOAD")
        .env("GVNET_LOG", "warn");
    if preload {
        cmd.env("LD_PRELOAD", library_path())
            .env("GVNET_MODE", "force");
    }
    let mut child = cmd.spawn().expect("spawning nlcount");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("reading nlcount's ready line");
    assert!(line.starts_with("ready "), "nlcount said {line:?}");
    (child, line)
}

fn stop(mut child: Child) {
    drop(child.stdin.take());
    let status = child.wait().expect("waiting for nlcount");
    assert!(status.success(), "nlcount exited with {status}");
}

/// Runs `gvnet ARGS`: (exit code, stdout).
fn gvnet(args: &[&str]) -> (i32, String) {
    let out = Command::new(gvnet_command())
        .args(args)
        .env_remove("LD_PRELOAD")
        .output()
        .expect("running gvnet");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The number after the last key of `path`, each key searched after the previous one (the
/// JSON's order is fixed: calls, then each call's fields).
fn number(json: &str, path: &[&str]) -> u64 {
    let mut at = 0;
    for key in path {
        let pat = format!("\"{key}\": ");
        at += json[at..]
            .find(&pat)
            .unwrap_or_else(|| panic!("no {key:?} (of {path:?}) in {json}"))
            + pat.len();
    }
    let digits: String = json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{path:?} is not a number in {json}"))
}

#[test]
fn counters_match_the_calls_the_program_made() {
    let (child, ready) = start(true);
    // The emulation answered as Linux does (groups RTMGRP_LINK | group 5 = 0x11).
    assert_eq!(
        ready.trim(),
        "ready bind=0 add=0 name=0 groups=0x11 udp=0",
        "nlcount under gvnet"
    );
    let pid = child.id().to_string();
    let (code, json) = gvnet(&["counters", &pid, "--json"]);
    let (text_code, text) = gvnet(&["counters", &pid]);
    stop(child);
    assert_eq!(code, 0, "gvnet counters {pid} --json: {json}");
    assert!(json.contains("\"loaded\": true"), "{json}");
    assert!(json.contains("\"engine\": \"libc-hooks\""), "{json}");
    // GVNET_MODE=force: every capability emulated, whatever the host kernel accepts.
    assert!(
        json.contains("\"capabilities\": {\"groups\": \"emulated\", \"connect to a group\": \"emulated\", \"send to a group\": \"emulated\", \"AF_PACKET write\": \"emulated\", \"IPv6 sysctls\": \"emulated\", \"NETLINK_GET_STRICT_CHK\": \"emulated\", \"RTM_SETLINK\": \"emulated\", \"IPv4 conf sysctls\": \"emulated\"}"),
        "{json}"
    );
    let n = |p: &[&str]| number(&json, p);
    // bind: the netlink one emulated by the hook, the UDP one forwarded to libc.
    assert_eq!(n(&["calls", "bind", "trapped"]), 0);
    assert_eq!(n(&["calls", "bind", "hooked"]), 1);
    assert_eq!(n(&["calls", "bind", "emulated"]), 1);
    assert_eq!(n(&["calls", "bind", "passed"]), 0);
    assert_eq!(n(&["calls", "bind", "forwarded"]), 1);
    assert_eq!(n(&["calls", "setsockopt", "hooked"]), 1);
    assert_eq!(n(&["calls", "setsockopt", "emulated"]), 1);
    assert_eq!(n(&["calls", "getsockname", "hooked"]), 1);
    assert_eq!(n(&["calls", "getsockname", "emulated"]), 1);
    for call in [
        "connect",
        "sendto",
        "sendmsg",
        "getsockopt",
        "getpeername",
        "recvmsg",
    ] {
        for field in ["trapped", "hooked", "emulated", "passed", "forwarded"] {
            assert_eq!(n(&["calls", call, field]), 0, "{call}.{field}");
        }
    }
    assert_eq!(n(&["total", "hooked"]), 3);
    assert_eq!(n(&["total", "emulated"]), 3);
    assert_eq!(n(&["total", "forwarded"]), 1);
    assert_eq!(n(&["actions", "bound_without_groups"]), 1);
    assert_eq!(n(&["actions", "joined"]), 1);
    assert_eq!(n(&["actions", "reported_groups"]), 1);
    assert_eq!(n(&["actions", "passed_through"]), 0);
    // The table for people says the same.
    assert_eq!(text_code, 0, "{text}");
    let bind_row = text
        .lines()
        .find(|l| l.starts_with("bind "))
        .unwrap_or_else(|| panic!("no bind row in {text}"));
    assert_eq!(
        bind_row.split_whitespace().collect::<Vec<_>>(),
        ["bind", "0", "1", "1", "0", "1"],
        "{text}"
    );
}

#[test]
fn without_the_library_the_command_reports_not_loaded() {
    let (child, ready) = start(false);
    // Linux itself: the same answers (the reference for the emulated run above).
    assert_eq!(ready.trim(), "ready bind=0 add=0 name=0 groups=0x11 udp=0");
    let pid = child.id().to_string();
    let (code, json) = gvnet(&["counters", &pid, "--json"]);
    let (text_code, text) = gvnet(&["counters", &pid]);
    stop(child);
    assert_eq!(code, 1, "{json}");
    assert_eq!(
        json.trim(),
        format!("{{\"pid\": {pid}, \"loaded\": false}}")
    );
    assert_eq!(text_code, 1);
    assert_eq!(text.trim(), format!("gvnet is not loaded in pid {pid}"));
}

#[test]
fn a_process_that_does_not_exist_is_an_error() {
    let (code, out) = gvnet(&["counters", "999999999"]);
    assert_eq!((code, out.as_str()), (1, ""));
}
