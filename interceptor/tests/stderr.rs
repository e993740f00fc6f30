//! Where gvnet's lines go when no log file can be used, on the host kernel (where it decides
//! to stay passive): a target's stderr always; any other process's only when it is a regular
//! file or a terminal, never a pipe (containerd parses a shim's `start` output, stdout and
//! stderr together, and one foreign line fails every container start).

mod common;

use std::fs;
use std::process::{Command, Stdio};

fn true_bin() -> std::path::PathBuf {
    common::find_in_path("true").expect("`true` in PATH (coreutils)")
}

fn gvnet(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(true_bin());
    cmd.env("LD_PRELOAD", common::library_path())
        .env("GVNET_LOG", "info")
        .env_remove("GVNET_LOG_FILE")
        .env_remove("GVNET_MODE")
        .env_remove("GVNET_TARGETS")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    cmd
}

/// stderr through a pipe.
fn piped(env: &[(&str, &str)]) -> String {
    let out = gvnet(env).output().expect("run true");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stderr into a regular file.
fn to_file(env: &[(&str, &str)], name: &str) -> String {
    let path = std::env::temp_dir().join(format!("gvnet-stderr-{}-{name}", std::process::id()));
    let file = fs::File::create(&path).expect("temp file");
    let st = gvnet(env).stderr(file).status().expect("run true");
    assert!(st.success());
    let text = fs::read_to_string(&path).unwrap_or_default();
    let _ = fs::remove_file(&path);
    text
}

fn gvnet_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("gvnet[")).collect()
}

#[test]
fn a_process_that_is_not_a_target_writes_nothing_into_a_pipe() {
    assert_eq!(piped(&[]), "");
    assert_eq!(piped(&[("GVNET_MODE", "sometimes")]), "");
    assert_eq!(
        piped(&[("GVNET_LOG_FILE", "/nonexistent/gvnet/gvnet.log")]),
        ""
    );
}

#[test]
fn into_a_regular_file_it_says_what_it_decided_once_and_names_ignored_settings() {
    // `true` is not a target and makes no netlink call: it never asks the kernel.
    let text = to_file(&[], "plain");
    let lines = gvnet_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("waits in"), "{text}");

    let text = to_file(
        &[
            ("GVNET_MODE", "sometimes"),
            ("GVNET_LOG_FILE", "/nonexistent/gvnet/gvnet.log"),
        ],
        "bad",
    );
    let lines = gvnet_lines(&text);
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("cannot open GVNET_LOG_FILE"), "{text}");
    assert!(lines[1].contains("GVNET_MODE=\"sometimes\""), "{text}");
    assert!(lines[2].contains("waits in"), "{text}");
}

#[test]
fn a_target_writes_into_its_stderr_whatever_it_is() {
    let text = piped(&[("GVNET_TARGETS", "true")]);
    let lines = gvnet_lines(&text);
    assert_eq!(lines.len(), 2, "{text}");
    // A target takes the library out of what its children inherit, then decides.
    assert!(
        lines[0].contains("children: LD_PRELOAD is now \"\""),
        "{text}"
    );
    assert!(lines[1].contains("passive in"), "{text}");
}
