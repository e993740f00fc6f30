//! The constructor's capability probes on the host kernel: they leave no socket behind, and
//! on Linux (which accepts everything gvnet can supply) the library decides to be passive and
//! names every capability native, while `GVNET_MODE=force` emulates them all.

mod common;

use std::process::{Command, Stdio};

/// `ls -l /proc/self/fd` (the fds `ls` itself has open, with what they are), with the library
/// preloaded when `env` is given; stderr into the returned text's second part.
fn fds(env: Option<&[(&str, &str)]>) -> (String, String) {
    let ls = common::find_in_path("ls").expect("`ls` in PATH (coreutils)");
    let mut cmd = Command::new(ls);
    cmd.args(["-1", "/proc/self/fd"]).stdin(Stdio::null());
    common::clean_gvnet_env(&mut cmd);
    cmd.env_remove("LD_PRELOAD");
    let err = std::env::temp_dir().join(format!("gvnet-probes-{}", std::process::id()));
    if let Some(env) = env {
        cmd.env("LD_PRELOAD", common::library_path())
            .env("GVNET_LOG", "info")
            .envs(env.iter().copied())
            .stderr(std::fs::File::create(&err).expect("temp file"));
    }
    let out = cmd.output().expect("run ls");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    (String::from_utf8_lossy(&out.stdout).into_owned(), text)
}

#[test]
fn probes_leave_no_fd_behind_and_linux_is_all_native() {
    let (plain, _) = fds(None);
    for (mode, want) in [
        (
            "auto",
            "kernel: groups native, connect to a group native, send to a group native, \
             AF_PACKET write native, IPv6 sysctls native: passive in",
        ),
        (
            "force",
            "GVNET_MODE=force: everything emulated (kernel: groups native, connect to a group \
             native, send to a group native, AF_PACKET write native, IPv6 sysctls native): libc \
             hooks active in",
        ),
    ] {
        let (with, lines) = fds(Some(&[("GVNET_MODE", mode)]));
        assert_eq!(
            with, plain,
            "GVNET_MODE={mode}: the open fds differ; {lines}"
        );
        assert!(lines.contains(want), "GVNET_MODE={mode}: {lines}");
    }
}
