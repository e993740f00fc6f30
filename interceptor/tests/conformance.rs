//! Conformance of libgvnet.so against the host kernel.
//!
//! `tests/conformance/nlconform.c` (through libc) and
//! `tests/conformance/nlconform-go` (Go's raw syscalls, cgo binary) print a
//! canonical transcript of netlink and socket operations. Run on the host
//! kernel without the library, the transcript is the reference; run with
//! `LD_PRELOAD=libgvnet.so GVNET_MODE=force` it must be identical: the
//! library then answers for multicast membership itself, and a client must
//! not be able to tell. The trace log must show that the library did
//! intercept, so an inert library cannot pass; `--kernel-groups` shows the
//! kernel's own view (/proc/net/netlink), which proves the answers came from
//! the emulation and not from the kernel.
//!
//! Needs gcc and go (Debian: `gcc golang-go`) and the library built first
//! (`cargo build -p gvnet` or `cargo build --release -p gvnet`; `GVNET_SO`
//! overrides the path). Missing pieces fail the tests, they never skip.
//! Every program runs as a child process: nothing here changes the test
//! runner's own state.

mod common;

use common::{is_ci, library_path, workspace_root};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Base name of the Go binary; it is what GVNET_TARGETS must name.
const GO_BIN: &str = "nlconform-go";
/// Body of the Go runtime's one syscall site (Syscall6 in
/// runtime/internal/syscall up to Go 1.20, internal/runtime/syscall later),
/// up to and including `syscall`: what the library scans for.
const SYSCALL6_PATTERN: [u8; 14] = [
    0x49, 0x89, 0xf2, 0x48, 0x89, 0xfa, 0x48, 0x89, 0xce, 0x48, 0x89, 0xdf, 0x0f, 0x05,
];
/// Words that appear in the library's trace lines for the calls the
/// programs make. Used to recognise interception lines in the log.
const CALL_WORDS: [&str; 7] = [
    "bind",
    "connect",
    "sendto",
    "sendmsg",
    "setsockopt",
    "getsockopt",
    "getsockname",
];
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn scratch_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance")
}

/// A fresh, empty directory for one test's logs.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = scratch_root().join(format!("{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn require_tool(tool: &str, package: &str) -> PathBuf {
    if let Some(found) = common::find_in_path(tool) {
        return found;
    }
    let context = if is_ci() {
        "CI=true: the conformance tests cannot run without it"
    } else {
        "the conformance tests cannot run without it (they fail rather than skip)"
    };
    panic!(
        "`{tool}` not found in PATH; {context}. Install the Debian package `{package}` \
         (apt-get install -y gcc golang-go)."
    );
}

struct Programs {
    c: PathBuf,
    go: PathBuf,
}

fn build_programs() -> Result<Programs, String> {
    let src = workspace_root().join("tests/conformance");
    let out = scratch_root().join("bin");
    fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;

    // Both tools first, so a missing one is named before anything is built.
    let gcc = require_tool("gcc", "gcc");
    let go_tool = require_tool("go", "golang-go");
    let c = out.join("nlconform");
    let status = Command::new(gcc)
        .args(["-O2", "-g", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&c)
        .arg(src.join("nlconform.c"))
        .status()
        .map_err(|e| format!("running gcc: {e}"))?;
    if !status.success() {
        return Err(format!("gcc failed to build nlconform.c: {status}"));
    }

    let go = out.join(GO_BIN);
    let output = common::go_build(&go_tool, &src.join("nlconform-go"), &go, &scratch_root())
        .map_err(|e| format!("running go build: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "go build of tests/conformance/nlconform-go failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(Programs { c, go })
}

fn programs() -> &'static Programs {
    static PROGRAMS: OnceLock<Result<Programs, String>> = OnceLock::new();
    match PROGRAMS.get_or_init(build_programs) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lang {
    C,
    Go,
}

impl Lang {
    fn binary(self) -> &'static Path {
        match self {
            Lang::C => &programs().c,
            Lang::Go => &programs().go,
        }
    }
}

/// How a program is run.
enum Env<'a> {
    /// Host kernel alone: no LD_PRELOAD, no GVNET_* variables.
    Kernel,
    /// With the library, in this GVNET_MODE, tracing into `log`.
    Gvnet { mode: &'a str, log: &'a Path },
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    what: String,
}

impl Run {
    fn transcript(&self) -> &str {
        assert!(
            self.status.success(),
            "{} exited with {}\nstderr:\n{}\nstdout:\n{}",
            self.what,
            self.status,
            self.stderr,
            self.stdout
        );
        assert!(
            self.stdout.ends_with("# end\n"),
            "{}: transcript incomplete\nstderr:\n{}\nstdout:\n{}",
            self.what,
            self.stderr,
            self.stdout
        );
        &self.stdout
    }
}

fn run(lang: Lang, env: &Env, args: &[&str]) -> Run {
    let bin = lang.binary();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::clean_gvnet_env(&mut cmd);
    let what = match env {
        Env::Kernel => format!("{lang:?} program on the host kernel"),
        Env::Gvnet { mode, log } => {
            let lib = library_path();
            cmd.env("LD_PRELOAD", &lib)
                .env("GVNET_MODE", mode)
                .env("GVNET_LOG", "trace")
                .env("GVNET_LOG_FILE", log);
            if lang == Lang::Go {
                cmd.env("GVNET_TARGETS", GO_BIN);
            }
            format!(
                "{lang:?} program with LD_PRELOAD={} GVNET_MODE={mode}",
                lib.display()
            )
        }
    };
    let c = common::capture(
        &mut cmd,
        &what,
        &bin.display().to_string(),
        RUN_TIMEOUT,
        Duration::from_millis(10),
    );
    Run {
        status: c.status,
        stdout: c.stdout,
        stderr: c.stderr,
        what,
    }
}

fn read_log(log: &Path) -> String {
    fs::read_to_string(log).unwrap_or_default()
}

fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let from = lines.len().saturating_sub(40);
    lines[from..].join("\n")
}

/// Line-by-line comparison; on mismatch, panics naming each differing line.
fn assert_same_transcript(reference: &str, actual: &str, what: &str, log: &str) {
    if reference == actual {
        return;
    }
    let r: Vec<&str> = reference.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut report = String::new();
    for i in 0..r.len().max(a.len()) {
        let (rl, al) = (r.get(i).copied(), a.get(i).copied());
        if rl != al {
            report.push_str(&format!(
                "line {}:\n  kernel: {}\n  gvnet:  {}\n",
                i + 1,
                rl.unwrap_or("<missing>"),
                al.unwrap_or("<missing>")
            ));
        }
    }
    panic!(
        "{what}: transcript differs from the host kernel's\n{report}\n\
         --- full kernel transcript ---\n{reference}--- full gvnet transcript ---\n{actual}\
         --- last log lines ---\n{}",
        log_tail(log)
    );
}

fn interception_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| CALL_WORDS.iter().any(|w| l.contains(w)))
        .collect()
}

fn assert_log_format(log: &str) {
    for line in log.lines() {
        assert!(
            line.starts_with("gvnet[") && line.contains("]: "),
            "log line not in the contract's `gvnet[<pid>]: <level>: ` form: {line:?}"
        );
    }
}

/// The reference is stable: two kernel runs give the same transcript.
fn check_reference_deterministic(lang: Lang) {
    let first = run(lang, &Env::Kernel, &[]);
    let second = run(lang, &Env::Kernel, &[]);
    assert_same_transcript(
        first.transcript(),
        second.transcript(),
        &format!("{lang:?} reference run twice"),
        "",
    );
}

fn check_force_matches_kernel(lang: Lang, test: &str) {
    let reference = run(lang, &Env::Kernel, &[]);
    let dir = scratch_dir(test);
    let log = dir.join("gvnet.log");
    let forced = run(
        lang,
        &Env::Gvnet {
            mode: "force",
            log: &log,
        },
        &[],
    );
    let log_text = read_log(&log);
    assert_same_transcript(
        reference.transcript(),
        forced.transcript(),
        &forced.what,
        &log_text,
    );
    // An inert library would pass the comparison above: demand evidence
    // that the calls went through it.
    assert!(
        !log_text.is_empty(),
        "{}: GVNET_LOG=trace produced an empty log at {}; the library did not \
         intercept anything (is it still a stub?)",
        forced.what,
        log.display()
    );
    assert_log_format(&log_text);
    // The library's trace lines read `<libc|raw> <call>(<args>) = <result> ...`,
    // with `emulated` when gvnet answered instead of the kernel. In the Go
    // program only the seccomp/SIGSYS engine can see the calls (Go does not
    // call libc for them), so there the emulated bind must be a `raw` one.
    let via = match lang {
        Lang::C => "",
        Lang::Go => "raw ",
    };
    let needle = format!("{via}bind(");
    assert!(
        log_text
            .lines()
            .any(|l| l.contains(&needle) && l.contains("emulated")),
        "{}: no emulated `{needle}` line in the trace log; the bind with nl_groups was \
         not intercepted{}\n--- last log lines ---\n{}",
        forced.what,
        if lang == Lang::Go {
            " by the seccomp/SIGSYS engine"
        } else {
            ""
        },
        log_tail(&log_text)
    );
    for word in ["setsockopt", "getsockopt", "getsockname"] {
        assert!(
            log_text.lines().any(|l| l.contains(word)),
            "{}: the trace log never mentions {word}\n--- last log lines ---\n{}",
            forced.what,
            log_tail(&log_text)
        );
    }
}

fn check_off_changes_nothing(lang: Lang, test: &str) {
    let reference = run(lang, &Env::Kernel, &[]);
    let dir = scratch_dir(test);
    let log = dir.join("gvnet.log");
    let off = run(
        lang,
        &Env::Gvnet {
            mode: "off",
            log: &log,
        },
        &[],
    );
    let log_text = read_log(&log);
    assert_same_transcript(
        reference.transcript(),
        off.transcript(),
        &off.what,
        &log_text,
    );
    let intercepted = interception_lines(&log_text);
    assert!(
        intercepted.is_empty(),
        "{}: GVNET_MODE=off must be inert, but the log shows interception:\n{}",
        off.what,
        intercepted.join("\n")
    );
}

/// `kernel.groups(<socket>) = <value>` lines of a --kernel-groups transcript.
fn kernel_lines(transcript: &str) -> Vec<(String, String)> {
    transcript
        .lines()
        .filter_map(|l| l.strip_prefix("kernel.groups("))
        .filter_map(|l| l.split_once(") = "))
        .map(|(sock, value)| (sock.to_string(), value.to_string()))
        .collect()
}

fn without_kernel_lines(transcript: &str) -> String {
    transcript
        .lines()
        .filter(|l| !l.starts_with("kernel.groups("))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Under force mode the client sees memberships, but the kernel was never
/// asked to join: /proc/net/netlink shows no groups for the route sockets
/// while the reference run shows them. So the emulation answered.
fn check_kernel_not_asked(lang: Lang, test: &str) {
    let reference = run(lang, &Env::Kernel, &["--kernel-groups"]);
    let dir = scratch_dir(test);
    let log = dir.join("gvnet.log");
    let forced = run(
        lang,
        &Env::Gvnet {
            mode: "force",
            log: &log,
        },
        &["--kernel-groups"],
    );
    let log_text = read_log(&log);
    let (ref_t, forced_t) = (reference.transcript(), forced.transcript());

    // Everything the client sees is still identical.
    assert_same_transcript(
        &without_kernel_lines(ref_t),
        &without_kernel_lines(forced_t),
        &forced.what,
        &log_text,
    );

    let ref_k = kernel_lines(ref_t);
    let forced_k = kernel_lines(forced_t);
    assert_eq!(
        ref_k.iter().map(|(s, _)| s).collect::<Vec<_>>(),
        forced_k.iter().map(|(s, _)| s).collect::<Vec<_>>(),
        "kernel.groups lines are not for the same sockets"
    );
    let route = |s: &str| s.starts_with("route");
    // The reference proves the probe works: the kernel did record groups.
    assert!(
        ref_k
            .iter()
            .any(|(s, v)| route(s) && v.starts_with("0x") && v != "0x00000000"),
        "reference run: /proc/net/netlink never showed a group for the route sockets; \
         the --kernel-groups probe is broken:\n{ref_t}"
    );
    // Under force mode the kernel never joined a route group.
    let joined: Vec<String> = forced_k
        .iter()
        .filter(|(s, v)| route(s) && v != "0x00000000" && v != "not found")
        .map(|(s, v)| format!("kernel.groups({s}) = {v}"))
        .collect();
    assert!(
        joined.is_empty(),
        "{}: the kernel itself joined multicast groups, so the answers may not come \
         from the emulation:\n{}\n--- full transcript ---\n{forced_t}",
        forced.what,
        joined.join("\n")
    );
}

#[test]
fn go_binary_has_one_syscall6_site() {
    let bin = fs::read(Lang::Go.binary()).expect("reading the Go binary");
    let hits = bin
        .windows(SYSCALL6_PATTERN.len())
        .filter(|w| *w == SYSCALL6_PATTERN)
        .count();
    assert_eq!(
        hits, 1,
        "the Go runtime's Syscall6 body should occur exactly once in {}",
        GO_BIN
    );
}

#[test]
fn c_and_go_references_agree() {
    let c = run(Lang::C, &Env::Kernel, &["--kernel-groups"]);
    let go = run(Lang::Go, &Env::Kernel, &["--kernel-groups"]);
    assert_same_transcript(
        c.transcript(),
        go.transcript(),
        "Go reference vs C reference",
        "",
    );
}

#[test]
fn c_reference_is_deterministic() {
    check_reference_deterministic(Lang::C);
}

#[test]
fn go_reference_is_deterministic() {
    check_reference_deterministic(Lang::Go);
}

#[test]
fn c_force_mode_matches_kernel() {
    check_force_matches_kernel(Lang::C, "c-force");
}

#[test]
fn go_force_mode_matches_kernel() {
    check_force_matches_kernel(Lang::Go, "go-force");
}

#[test]
fn c_off_mode_changes_nothing() {
    check_off_changes_nothing(Lang::C, "c-off");
}

#[test]
fn go_off_mode_changes_nothing() {
    check_off_changes_nothing(Lang::Go, "go-off");
}

#[test]
fn c_force_mode_kernel_not_asked() {
    check_kernel_not_asked(Lang::C, "c-kernel");
}

#[test]
fn go_force_mode_kernel_not_asked() {
    check_kernel_not_asked(Lang::Go, "go-kernel");
}

/// A SIGSYS that gvnet did not cause reaches the Go program's own handler: the
/// exported `sigaction` recorded Go's SIGSYS handler while gvnet's stayed in the
/// kernel, and gvnet's handler forwards foreign SIGSYS (here from kill(2)) to it.
#[test]
fn go_foreign_sigsys_reaches_the_programs_handler() {
    let dir = scratch_dir("go_sigsys_chain");
    let reference = run(Lang::Go, &Env::Kernel, &["--sigsys-chain"]);
    let expected = "bind(route, groups=0x1) = 0\nsigsys: delivered to the program's handler (bad system call)\n# end\n";
    assert_eq!(
        reference.transcript(),
        expected,
        "the host kernel's reference"
    );
    let log = dir.join("gvnet.log");
    let under = run(
        Lang::Go,
        &Env::Gvnet {
            mode: "force",
            log: &log,
        },
        &["--sigsys-chain"],
    );
    let text = read_log(&log);
    assert_eq!(
        under.transcript(),
        expected,
        "under gvnet; log:\n{}",
        log_tail(&text)
    );
    assert!(
        text.contains("raw bind(") && text.contains("emulated"),
        "the bind was not trapped, so gvnet's handler was not the one in the kernel; log:\n{}",
        log_tail(&text)
    );
    assert!(
        text.contains("sigaction(SIGSYS") && text.contains("recorded for the program"),
        "Go's sigaction(SIGSYS) did not reach the guard; log:\n{}",
        log_tail(&text)
    );
}
