//! Stress: gvnet must never break the process it is loaded into.
//!
//! `tests/stress/gvstress` (Go, cgo) runs 16 threads that issue the calls gvnet traps (bind
//! with groups, ADD_MEMBERSHIP, getsockname, LIST_MEMBERSHIPS, sendto a group, and bad
//! pointers) through Go's raw syscall site, while other threads fork (cgo, no exec), re-exec
//! the binary, and send SIGUSR1/SIGUSR2/SIGSYS to the process. This test also sends SIGSYS and
//! SIGUSR1 from outside the whole time. Run under `LD_PRELOAD=libgvnet.so GVNET_MODE=force
//! GVNET_TARGETS=gvstress` on the host kernel, every trapped call goes through the SIGSYS
//! handler, and every foreign SIGSYS through gvnet's forwarding to Go's handler.
//!
//! Fails on: a wrong answer (the program exits 2), a worker that stops advancing for 10 s
//! (the program's watchdog exits 3), a process that stops altogether (no exit by the
//! deadline + 60 s: killed, fails), death by a signal (crash), a SIGSYS that did not reach the
//! program's handler (count 0), or a log that shows no trapped call (inert library).
//!
//! `GVNET_STRESS_SECONDS` sets the duration (default 10: `make unit`; `make stress` runs 60).
//! A reference run without the library (2 s) checks the program itself on Linux first.

mod common;

use common::{find_in_path, library_path, workspace_root};
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const BIN: &str = "gvstress";

fn build() -> PathBuf {
    let go = find_in_path("go").unwrap_or_else(|| {
        panic!(
            "`go` not found in PATH; install golang-go (the stress test fails rather than skips)"
        )
    });
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stress");
    fs::create_dir_all(&scratch).expect("scratch dir");
    let out = scratch.join(BIN);
    let o = common::go_build(
        &go,
        &workspace_root().join("tests/stress/gvstress"),
        &out,
        &scratch,
    )
    .expect("running go build");
    assert!(
        o.status.success(),
        "go build of tests/stress/gvstress failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn seconds() -> u64 {
    std::env::var("GVNET_STRESS_SECONDS")
        .ok()
        .map(|s| s.parse().expect("GVNET_STRESS_SECONDS is a number"))
        .unwrap_or(10)
}

/// Runs the program for `secs`, sending SIGSYS and SIGUSR1 every 20 ms from outside; returns
/// its output. Fails on a timeout, a signal death or a non-zero exit.
fn run(bin: &PathBuf, secs: u64, preload: Option<(&PathBuf, &PathBuf)>) -> String {
    let mut cmd = Command::new(bin);
    cmd.args(["-seconds", &secs.to_string(), "-threads", "16"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::clean_gvnet_env(&mut cmd);
    if let Some((lib, log)) = preload {
        cmd.env("LD_PRELOAD", lib)
            .env("GVNET_MODE", "force")
            .env("GVNET_TARGETS", BIN)
            .env("GVNET_LOG", "debug")
            .env("GVNET_LOG_FILE", log);
    }
    let mut child = cmd.spawn().expect("spawning gvstress");
    let pid = child.id() as libc::pid_t;
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let mut pipe = child.stdout.take().expect("piped stdout");
    let reader = {
        let ready = ready.clone();
        thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
                if all.starts_with(b"ready\n") {
                    ready.store(true, Ordering::Release);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        })
    };
    let sender = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut sent = 0u64;
            // Before "ready" Go has not installed its SIGSYS handler: the default action would kill.
            while !ready.load(Ordering::Acquire) && !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(5));
            }
            while !stop.load(Ordering::Relaxed) {
                for sig in [libc::SIGSYS, libc::SIGUSR1] {
                    // SAFETY: kill has no memory arguments; the pid is our unreaped child, so it
                    // cannot have been reused.
                    if unsafe { libc::kill(pid, sig) } == 0 {
                        sent += 1;
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
            sent
        })
    };
    let what = if preload.is_some() {
        "gvstress under gvnet (GVNET_MODE=force)"
    } else {
        "gvstress on the host kernel alone"
    };
    let c = {
        // common::capture spawns itself; reuse its waiting logic through a wrapper command
        // would lose the pid, so wait here with the same rules.
        let deadline = std::time::Instant::now() + Duration::from_secs(secs + 60);
        let status = loop {
            match child.try_wait().expect("wait") {
                Some(s) => break s,
                None if std::time::Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    stop.store(true, Ordering::Relaxed);
                    panic!(
                        "{what}: no exit {} s after its end: the process hangs (deadlock)",
                        60
                    );
                }
                None => thread::sleep(Duration::from_millis(100)),
            }
        };
        stop.store(true, Ordering::Relaxed);
        let sent = sender.join().expect("signal sender");
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let stdout = reader.join().expect("stdout reader");
        (status, sent, stdout, stderr)
    };
    let (status, sent, stdout, stderr) = c;
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.signal().is_none(),
        "{what}: killed by signal {:?} (crash)\nstdout:\n{stdout}\nstderr (tail):\n{}",
        status.signal(),
        tail(&stderr)
    );
    assert!(
        status.success(),
        "{what}: exit {status}\nstdout:\n{stdout}\nstderr (tail):\n{}",
        tail(&stderr)
    );
    assert!(sent > 0, "{what}: no signal could be sent from outside");
    eprintln!(
        "{what}: {} signals sent from outside; {}",
        sent,
        stdout.trim()
    );
    stdout
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn count(stdout: &str, key: &str) -> u64 {
    stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {stdout:?}"))
}

#[test]
fn trapped_calls_forks_execs_and_signals_neither_hang_nor_crash() {
    let bin = build();
    let lib = library_path();
    // Linux alone: the program's own checks hold.
    let reference = run(&bin, 2, None);
    assert!(
        count(&reference, "sigsys") > 0,
        "SIGSYS never reached Go's handler even without gvnet"
    );

    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("stress-{}.log", std::process::id()));
    let _ = fs::remove_file(&log);
    let out = run(&bin, seconds(), Some((&lib, &log)));
    for key in ["rounds", "forks", "execs", "usr1", "usr2"] {
        assert!(
            count(&out, key) > 0,
            "{key}=0: that part of the stress did not run\n{out}"
        );
    }
    // gvnet's handler sees every SIGSYS first: the program must still get the foreign ones.
    assert!(
        count(&out, "sigsys") > 0,
        "no SIGSYS reached the program's handler: gvnet swallowed them\n{out}"
    );
    // The library was not inert: the handler emulated calls (debug lines of the raw path).
    let text = fs::read_to_string(&log).unwrap_or_default();
    let emulated = text
        .lines()
        .filter(|l| l.contains(" raw bind(") && l.contains("emulated"))
        .count();
    assert!(
        emulated > 0,
        "the log {} shows no emulated raw bind: the SIGSYS path did not run",
        log.display()
    );
    eprintln!("{emulated} raw binds emulated by the SIGSYS handler");
}
