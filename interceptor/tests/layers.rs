//! Which of gvnet's seccomp layers a Go target carries, and which a program it starts
//! inherits, before and after its first netlink call: on this machine's Linux kernel, which
//! counts a task's filters in `/proc/PID/status` (`Seccomp_filters`, Linux 5.10+; gVisor has no
//! such line, so this is shown here and the sandbox's gvnet.log order is checked by
//! gvnet-harness).
//!
//! `tests/victims/layers-go` prints its own count and that of a `cat` it starts, at the start,
//! after one `net.Interfaces()` (a netlink socket: bind traps) and after a second one. With
//! the library (GVNET_MODE=force, the program a target) the base layer is there from the start
//! and the late layer comes with the first trap, once: what the target started before its
//! first netlink call (dockerd's containerd, and so every container) carries the base layer
//! alone. Without the library nothing changes between the steps: the reference.

mod common;

use common::{is_ci, library_path, workspace_root};
use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = "layers-go";

fn build() -> PathBuf {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("layers");
    fs::create_dir_all(&scratch).expect("scratch dir");
    let go = common::find_in_path("go").unwrap_or_else(|| {
        panic!(
            "`go` not found in PATH; {}: install the Debian package golang-go",
            if is_ci() {
                "CI=true: this test cannot run without it"
            } else {
                "this test fails rather than skips without it"
            }
        )
    });
    let out = scratch.join(BIN);
    let src = workspace_root().join("tests/victims/layers-go");
    let o = common::go_build(&go, &src, &out, &scratch).expect("running go build");
    assert!(
        o.status.success(),
        "go build of tests/victims/layers-go failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// step -> (own count, child's count).
fn counts(stdout: &str) -> HashMap<String, (u32, u32)> {
    let mut m = HashMap::new();
    for line in stdout.lines() {
        let mut f = line.split_whitespace();
        let step = f.next().unwrap_or_default().to_string();
        let mut val = |key: &str| -> u32 {
            let v = f.next().and_then(|x| x.strip_prefix(key)).unwrap_or("");
            v.parse().unwrap_or_else(|_| {
                panic!(
                    "no {key}N in {line:?} (a kernel without Seccomp_filters in /proc/PID/status?)"
                )
            })
        };
        let own = val("own=");
        let child = val("child=");
        m.insert(step, (own, child));
    }
    for step in ["start", "after", "again"] {
        assert!(m.contains_key(step), "no {step} line in:\n{stdout}");
    }
    m
}

#[test]
fn the_late_layer_comes_with_the_first_trap_and_only_later_children_inherit_it() {
    let bin = build();
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("layers-{}.log", std::process::id()));
    let _ = fs::remove_file(&log);
    let run = |preload: bool| {
        let mut cmd = Command::new(&bin);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        common::clean_gvnet_env(&mut cmd);
        if preload {
            cmd.env("LD_PRELOAD", library_path())
                .env("GVNET_MODE", "force")
                .env("GVNET_TARGETS", BIN)
                .env("GVNET_LOG_FILE", &log);
        }
        let what = format!("layers-go, preload {preload}");
        let c = common::capture(
            &mut cmd,
            &what,
            BIN,
            Duration::from_secs(60),
            Duration::from_millis(20),
        );
        assert!(
            c.status.success(),
            "{what}: {}\nstdout:\n{}\nstderr:\n{}",
            c.status,
            c.stdout,
            c.stderr
        );
        counts(&c.stdout)
    };

    // Linux alone: the program adds no filter of its own, children inherit what it has.
    let k = run(false);
    let k0 = k["start"].0;
    for step in ["start", "after", "again"] {
        assert_eq!(k[step], (k0, k0), "without the library, {step}: {k:?}");
    }

    let g = run(true);
    let log_text = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        g["start"],
        (k0 + 1, k0 + 1),
        "before any netlink call: the base layer only, in the target and in a child it starts; {g:?}\nlog:\n{log_text}"
    );
    assert_eq!(
        g["after"],
        (k0 + 2, k0 + 2),
        "after the first netlink call: the late layer too; {g:?}\nlog:\n{log_text}"
    );
    assert_eq!(
        g["again"],
        (k0 + 2, k0 + 2),
        "the late layer is installed once; {g:?}\nlog:\n{log_text}"
    );
    let installed = log_text
        .lines()
        .filter(|l| l.contains("late filter layer") && l.contains("installed"))
        .count();
    assert_eq!(
        installed, 1,
        "one trace line for the late layer:\n{log_text}"
    );
}
