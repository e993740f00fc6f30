//! What a target passes on: its children inherit `LD_PRELOAD` without libgvnet.so (other
//! entries kept, in order), unless GVNET_CHILDREN=keep; a process that is not a target passes
//! everything on, so `LD_PRELOAD=libgvnet.so sh -c 'ip monitor'` keeps working. On the host
//! kernel, with `sh` (dash) made the target: it reads its environment from the same strings
//! Go's runtime does, after the constructor.

mod common;

use std::process::{Command, Stdio};

/// What `sh -c` sees as `$LD_PRELOAD` and what its child `env` inherits, with `lib_first`
/// and then `libm.so.6` preloaded.
fn seen(env: &[(&str, &str)]) -> (String, String) {
    let sh = common::find_in_path("sh").expect("`sh` in PATH");
    let exe = std::fs::canonicalize(&sh).expect("sh resolves");
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let lib = common::library_path();
    let mut cmd = Command::new(&sh);
    common::clean_gvnet_env(&mut cmd);
    cmd.args([
        "-c",
        "printf '%s\\n' \"$LD_PRELOAD\"; env | grep '^LD_PRELOAD='",
    ])
    .env("LD_PRELOAD", format!("{}:libm.so.6", lib.display()))
    .env("GVNET_TARGETS", name)
    .envs(env.iter().copied())
    .stdin(Stdio::null());
    let out = cmd.output().expect("run sh");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    (
        lines.next().unwrap_or("").to_string(),
        lines.next().unwrap_or("").to_string(),
    )
}

#[test]
fn a_target_takes_only_its_own_entry_out_of_what_its_children_inherit() {
    let (own, child) = seen(&[]);
    assert_eq!(own, "libm.so.6");
    assert_eq!(child, "LD_PRELOAD=libm.so.6");
}

#[test]
fn keep_passes_it_on_unchanged() {
    let lib = common::library_path().display().to_string();
    let (own, child) = seen(&[("GVNET_CHILDREN", "keep")]);
    assert_eq!(own, format!("{lib}:libm.so.6"));
    assert_eq!(child, format!("LD_PRELOAD={lib}:libm.so.6"));
}

#[test]
fn a_process_that_is_not_a_target_passes_everything_on() {
    let lib = common::library_path().display().to_string();
    let (own, child) = seen(&[("GVNET_TARGETS", "dockerd")]);
    assert_eq!(own, format!("{lib}:libm.so.6"));
    assert_eq!(child, format!("LD_PRELOAD={lib}:libm.so.6"));
}
