//! The constructor's capability probes on the host kernel: a target probes at once and leaves
//! no socket behind; on Linux (which accepts everything gvnet can supply) it decides to be
//! passive and names every capability native, while `GVNET_MODE=force` emulates them all. A
//! process that is not a target asks the kernel only at its first netlink call: `true` never
//! does, `ip` does at its netlink socket's first option or bind.

mod common;

use std::process::{Command, Stdio};

/// Runs `argv` (stdout returned) with the library preloaded when `env` is given; gvnet's lines
/// (stderr, a regular file) in the second part.
fn run(argv: &[&str], env: Option<&[(&str, &str)]>) -> (String, String) {
    let prog = common::find_in_path(argv[0]).unwrap_or_else(|| panic!("`{}` in PATH", argv[0]));
    let mut cmd = Command::new(prog);
    cmd.args(&argv[1..]).stdin(Stdio::null());
    common::clean_gvnet_env(&mut cmd);
    cmd.env_remove("LD_PRELOAD");
    let err = std::env::temp_dir().join(format!("gvnet-probes-{}-{}", std::process::id(), argv[0]));
    if let Some(env) = env {
        cmd.env("LD_PRELOAD", common::library_path())
            .env("GVNET_LOG", "info")
            .envs(env.iter().copied())
            .stderr(std::fs::File::create(&err).expect("temp file"));
    }
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{argv:?}: {out:?}");
    let text = std::fs::read_to_string(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    (String::from_utf8_lossy(&out.stdout).into_owned(), text)
}

#[test]
fn a_targets_probes_leave_no_fd_behind_and_linux_is_all_native() {
    let ls = ["ls", "-1", "/proc/self/fd"];
    let (plain, _) = run(&ls, None);
    for (mode, want) in [
        (
            "auto",
            "kernel: groups native, connect to a group native, send to a group native, \
             AF_PACKET write native, IPv6 sysctls native, NETLINK_GET_STRICT_CHK native, \
             RTM_SETLINK native, IPv4 conf sysctls native: passive in",
        ),
        (
            "force",
            "GVNET_MODE=force: everything emulated (kernel: groups native, connect to a group \
             native, send to a group native, AF_PACKET write native, IPv6 sysctls native, \
             NETLINK_GET_STRICT_CHK native, RTM_SETLINK native, IPv4 conf sysctls native): libc hooks active in",
        ),
    ] {
        let (with, lines) = run(&ls, Some(&[("GVNET_MODE", mode), ("GVNET_TARGETS", "ls")]));
        assert_eq!(
            with, plain,
            "GVNET_MODE={mode}: the open fds differ; {lines}"
        );
        assert!(lines.contains(want), "GVNET_MODE={mode}: {lines}");
    }
}

#[test]
fn a_process_that_is_not_a_target_asks_the_kernel_only_at_its_first_netlink_call() {
    let waits = "not a target (GVNET_TARGETS=dockerd): waits in ";
    let decided = "kernel: groups native";
    let (_, lines) = run(&["true"], Some(&[]));
    assert!(lines.contains(waits), "{lines}");
    assert!(
        !lines.contains(decided),
        "`true` made no netlink call: {lines}"
    );

    let ip = ["ip", "-o", "link", "show", "lo"];
    let (plain, _) = run(&ip, None);
    let (with, lines) = run(&ip, Some(&[]));
    assert_eq!(with, plain, "{lines}");
    let at = |p: &str| {
        lines
            .find(p)
            .unwrap_or_else(|| panic!("no `{p}` in {lines}"))
    };
    assert!(at(waits) < at(decided), "{lines}");
    assert!(lines.contains(": passive in "), "{lines}");
}
