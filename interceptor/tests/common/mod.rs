//! What the host-kernel test files (`conformance.rs`, `events.rs`) share: paths, the library
//! under test, and running a program with a timeout.
#![allow(dead_code)] // each test crate uses its own subset

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The checkout: the parent of interceptor/.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("interceptor/ has a parent")
        .to_path_buf()
}

/// Whether CI=true (a missing prerequisite is then a failure, never a skip).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `tool` in $PATH.
pub fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// libgvnet.so: $GVNET_SO, else the newer of target/{release,debug}.
pub fn library_path() -> PathBuf {
    if let Some(p) = std::env::var_os("GVNET_SO") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "GVNET_SO={} does not name a file", p.display());
        return p;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let candidates = [
        target.join("release/libgvnet.so"),
        target.join("debug/libgvnet.so"),
    ];
    candidates
        .iter()
        .filter_map(|p| {
            let modified = fs::metadata(p).and_then(|m| m.modified()).ok()?;
            Some((modified, p))
        })
        .max_by_key(|(modified, _): &(SystemTime, _)| *modified)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| {
            panic!(
                "libgvnet.so not found (looked for {} and {}); run `cargo build --release -p gvnet` \
                 (or `cargo build -p gvnet`) first, or set GVNET_SO",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// What a finished program printed.
pub struct Captured {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Spawns `cmd` (stdout and stderr piped), kills it after `timeout`, and checks that a
/// requested LD_PRELOAD was really loaded (ld.so only warns when it cannot be: the run would
/// then be a second kernel run and prove nothing). `what` names the run in panics, `spawned`
/// the program in a spawn failure.
pub fn capture(
    cmd: &mut Command,
    what: &str,
    spawned: &str,
    timeout: Duration,
    poll: Duration,
) -> Captured {
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {spawned}: {e}"));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout =
                    String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
                panic!("{what}: no exit after {timeout:?}, killed; stdout so far:\n{stdout}");
            }
            Ok(None) => thread::sleep(poll),
            Err(e) => panic!("{what}: wait failed: {e}"),
        }
    };
    let c = Captured {
        status,
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned(),
    };
    assert!(
        !c.stderr.contains("cannot be preloaded"),
        "{what}: the library was not loaded:\n{}",
        c.stderr
    );
    c
}

/// The `gvnet` command: $GVNET_CMD, else the newer of target/{release,debug}/gvnet.
pub fn gvnet_command() -> PathBuf {
    if let Some(p) = std::env::var_os("GVNET_CMD") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "GVNET_CMD={} does not name a file",
            p.display()
        );
        return p;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let candidates = [target.join("release/gvnet"), target.join("debug/gvnet")];
    candidates
        .iter()
        .filter_map(|p| Some((fs::metadata(p).and_then(|m| m.modified()).ok()?, p)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| {
            panic!(
                "the gvnet command was not found (looked for {} and {}); run `cargo build --release` first, or set GVNET_CMD",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// Clears LD_PRELOAD and every GVNET_* variable the test itself runs with from `cmd`, so each
/// run states its whole gvnet environment.
pub fn clean_gvnet_env(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("LD_PRELOAD");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GVNET_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// `go build -o out .` in `dir`, offline and module mode, cgo on, with the cache and GOPATH
/// under `scratch` (the Debian toolchain, nothing fetched).
pub fn go_build(go: &Path, dir: &Path, out: &Path, scratch: &Path) -> std::io::Result<Output> {
    Command::new(go)
        .args(["build", "-o"])
        .arg(out)
        .arg(".")
        .current_dir(dir)
        .env("CGO_ENABLED", "1")
        .env("GO111MODULE", "on")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GOWORK", "off")
        .env("GOENV", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", scratch.join("go-cache"))
        .env("GOPATH", scratch.join("go-path"))
        .output()
}

/// For a conformance test that makes network namespaces: checks it runs as root with `unshare`
/// and `ip` in PATH (it fails rather than skips), then builds the C program `dir/NAME.c` with
/// gcc into `scratch/bin/NAME` and returns that path.
#[allow(dead_code)] // not every test binary builds a netns program
pub fn build_netns_program(dir: &Path, name: &str, scratch: &Path) -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "running as uid {euid}: this test makes network namespaces (unshare -n); it fails rather than skips"
    );
    let need = |tool: &str, package: &str| {
        find_in_path(tool).unwrap_or_else(|| {
            panic!("`{tool}` not found in PATH: install `{package}`; this test fails rather than skips")
        })
    };
    need("unshare", "util-linux");
    need("ip", "iproute2");
    let gcc = need("gcc", "gcc");
    let out = scratch.join("bin");
    std::fs::create_dir_all(&out).unwrap();
    let bin = out.join(name);
    let st = Command::new(gcc)
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&bin)
        .arg(dir.join(format!("{name}.c")))
        .status()
        .unwrap();
    assert!(st.success(), "gcc failed to build {name}.c");
    bin
}
