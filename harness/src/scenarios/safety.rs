//! safety scenarios of `gvnet-harness check` (issue 6): gvnet never breaks the process it is
//! loaded into, nor its children.
//!
//! - `descendants`: programs in containers below the gvnet-enabled dockerd inherit its seccomp
//!   filter (never its handler). Each program prints a transcript of socket calls and their
//!   results; the transcript in a container (`--security-opt seccomp=unconfined --cap-add ALL`,
//!   so the inherited filter is the only one and the capabilities are root's) must equal the
//!   transcript of the same binary run directly in the sandbox, outside any container, where
//!   no gvnet filter exists. Both run in a network namespace holding only `lo`. Also: no
//!   SIGSYS under docker's default profile, no_new_privs stays 0, setuid works.
//! - `preload-elsewhere`: libgvnet.so preloaded into containerd, the shim, runc, `ip`, `true`,
//!   static binaries, a Go program that is not a target; in the sandbox and on the host kernel.
//!   Output and status equal to a run without it; exactly one line says what it decided.
//! - `dockerd-restart`, `dockerd-killed`, `bad-settings`: dockerd stopped or killed with
//!   containers running or starting, and started with a log file it cannot open and invalid
//!   GVNET_* values; containers keep their networks, one line names each ignored setting.

use crate::gvisor::Setup;
use crate::sandbox::{Kind, Mode};
use crate::scenarios::scenario::{Ctx, Expect, Scenario, Verdict};
use crate::util::{self, Result};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const NLCONFORM_C: &str = include_str!("../../../tests/conformance/nlconform.c");
const NLCONFORM_GO: &str = include_str!("../../../tests/conformance/nlconform-go/main.go");
const EUID_C: &str = include_str!("../../../tests/victims/euid.c");
const BBCALLS_SH: &str = include_str!("../../../tests/victims/bbcalls.sh");
const SPAWN_GO: &str = include_str!("../../../tests/victims/spawn-go/main.go");

const RUN: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(30);
/// The image the descendants run in: bb plus the programs below, euid setuid root, and the
/// sandbox's glibc for the dynamically linked ones.
const IMAGE: &str = "gvnet-safety";
/// Where the programs are staged (run_dir/opt/safety = /opt/gvnet/safety in the sandbox).
const STAGE: &str = "safety";

/// Stages the programs: nlconform (C, dynamically linked), nlconform-go (cgo, dynamically
/// linked) and nlconform-go-static (the same source without cgo: a static Go binary), euid
/// (static), bbcalls.sh. The static socket victim is check.rs's `opt/sockets`.
pub fn prepare(run_dir: &Path) -> Result<()> {
    let dir = run_dir.join("opt").join(STAGE);
    fs::create_dir_all(&dir)?;
    util::write_file(&dir.join("bbcalls.sh"), BBCALLS_SH)?;
    let mut errors = Vec::new();
    if let Err(e) = util::build_static_c(EUID_C, &dir.join("euid")) {
        errors.push(e.to_string());
    }
    if let Err(e) = build_dynamic_c(NLCONFORM_C, &dir.join("nlconform")) {
        errors.push(e.to_string());
    }
    for (bin, src, cgo) in [
        ("nlconform-go", NLCONFORM_GO, true),
        ("nlconform-go-static", NLCONFORM_GO, false),
        ("spawn-go", SPAWN_GO, true),
    ] {
        if let Err(e) = build_go(&dir, bin, src, cgo) {
            errors.push(e.to_string());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(util::Error(errors.join("; ")))
    }
}

/// gcc without -static, against this machine's glibc (older than the sandbox's sid glibc).
pub(crate) fn build_dynamic_c(src: &str, bin: &Path) -> Result<()> {
    let src_path = bin.with_extension("c");
    util::write_file(&src_path, src)?;
    if util::which("gcc").is_none() {
        crate::bail!("gcc not found: install the host packages gcc and libc6-dev");
    }
    let out = util::capture(
        Command::new("gcc")
            .args(["-O2", "-Wall", "-Wextra", "-o"])
            .arg(bin)
            .arg(&src_path),
        Duration::from_secs(120),
    )?;
    if !out.ok() {
        crate::bail!("gcc {} failed: {}", src_path.display(), out.combined());
    }
    Ok(())
}

/// A Go program with the testbed's Go: as is (cgo, dynamically linked), or with its
/// `import "C"` removed and CGO_ENABLED=0 (statically linked; same behaviour).
fn build_go(dir: &Path, bin: &str, source: &str, cgo: bool) -> Result<()> {
    let src = dir.join(format!("{bin}-src"));
    let main = if cgo {
        source.to_string()
    } else {
        let stripped = source.replace("\nimport \"C\"\n", "\n");
        if stripped == source {
            crate::bail!("{bin}: main.go has no `import \"C\"` line to remove any more");
        }
        stripped
    };
    util::write_file(&src.join("main.go"), main)?;
    let (go, goroot, _) = crate::scenarios::events::go_toolchain()?;
    crate::scenarios::events::go_build(
        (&go, goroot.as_deref()),
        &src,
        &dir.join(bin),
        &src.join("gopath"),
        cgo,
    )
}

fn staged(c: &Ctx, file: &str) -> std::result::Result<(), String> {
    if c.run_dir.join("opt").join(file).is_file() {
        return Ok(());
    }
    let why = fs::read_to_string(c.run_dir.join("prepare-safety.err")).unwrap_or_default();
    Err(format!("{file} was not staged: {}", why.trim()))
}

/// Builds the image once per sandbox: bb's files, the programs, euid setuid root, and the
/// shared libraries the dynamic ones need (found with ldd in the sandbox).
fn image(c: &mut Ctx) -> std::result::Result<(), String> {
    if c.docker(&["image", "inspect", IMAGE], SHORT)?.ok() {
        return Ok(());
    }
    for f in [
        "sockets",
        "safety/euid",
        "safety/nlconform",
        "safety/nlconform-go",
        "safety/nlconform-go-static",
    ] {
        staged(c, f)?;
    }
    let opt = c.sb.opt.clone();
    let script = format!(
        "set -e
d=/tmp/gvnet-safety-image; rm -rf $d; mkdir -p $d/safety
tar -xf {opt}/bb.tar -C $d
cp {opt}/sockets {opt}/{STAGE}/nlconform {opt}/{STAGE}/nlconform-go {opt}/{STAGE}/nlconform-go-static {opt}/{STAGE}/bbcalls.sh $d/safety/
cp {opt}/{STAGE}/euid $d/euid; chown 0:0 $d/euid; chmod 4755 $d/euid
for lib in $(ldd {opt}/{STAGE}/nlconform {opt}/{STAGE}/nlconform-go | awk '$2 == \"=>\" && $3 ~ /^\\// {{print $3}} $1 ~ /^\\// && $2 ~ /^\\(/ {{print $1}}' | sort -u); do
  mkdir -p $d$(dirname $lib); cp -L $lib $d$lib
done
tar -C $d -cf - . | docker import -c 'CMD [\"/bin/sh\"]' - {IMAGE}:latest >/dev/null
rm -rf $d
echo imported"
    );
    let out = c.run(&["sh", "-c", &script], RUN)?;
    if out.ok() {
        Ok(())
    } else {
        Err(format!(
            "building the {IMAGE} image: {}",
            out.combined().trim()
        ))
    }
}

/// One program of the descendants scenario: how to run it in the container (image paths)
/// and directly in the sandbox (`/opt/gvnet` paths).
struct Program {
    label: &'static str,
    in_container: &'static str,
    direct: &'static str,
}

const PROGRAMS: &[Program] = &[
    Program {
        label: "busybox (static)",
        in_container: "busybox sh /safety/bbcalls.sh",
        direct: "busybox sh /opt/gvnet/safety/bbcalls.sh",
    },
    Program {
        label: "sockets (static C)",
        in_container: "/safety/sockets",
        direct: "/opt/gvnet/sockets",
    },
    Program {
        label: "nlconform (dynamic C)",
        in_container: "/safety/nlconform",
        direct: "/opt/gvnet/safety/nlconform",
    },
    Program {
        label: "nlconform-go-static (static Go)",
        in_container: "/safety/nlconform-go-static",
        direct: "/opt/gvnet/safety/nlconform-go-static",
    },
    Program {
        label: "nlconform-go (cgo, dynamic Go)",
        in_container: "/safety/nlconform-go",
        direct: "/opt/gvnet/safety/nlconform-go",
    },
];

/// The transcript lines compared: all but `seccomp mode` (what differs on purpose).
fn comparable(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with("seccomp mode"))
        .collect()
}

/// The first line where two transcripts differ, for the verdict.
fn first_difference(a: &[&str], b: &[&str]) -> Option<String> {
    let n = a.len().max(b.len());
    (0..n).find_map(|i| {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        (x != y).then(|| {
            format!(
                "line {}: container `{}` vs direct `{}`",
                i + 1,
                x.unwrap_or("(none)"),
                y.unwrap_or("(none)")
            )
        })
    })
}

fn exit_of(text: &str) -> Option<i32> {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("exit ").and_then(|n| n.trim().parse().ok()))
}

fn descendants(c: &mut Ctx) -> Verdict {
    image(c)?;
    let mut done = Vec::new();
    let mut seccomp = String::new();
    for p in PROGRAMS {
        let cmd = format!("{}; echo \"exit $?\"", p.in_container);
        let boxed = c.docker(
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--cap-add",
                "ALL",
                "--security-opt",
                "seccomp=unconfined",
                IMAGE,
                "sh",
                "-c",
                &cmd,
            ],
            RUN,
        )?;
        let direct = c.run(
            &[
                "unshare",
                "-n",
                "sh",
                "-c",
                &format!("ip link set lo up && {}; echo \"exit $?\"", p.direct),
            ],
            RUN,
        )?;
        let name = p.label.split(' ').next().unwrap_or(p.label);
        for (what, out) in [("container", &boxed), ("direct", &direct)] {
            let _ = fs::write(
                c.run_dir.join(format!("descendant-{name}-{what}.txt")),
                &out.stdout,
            );
            if out.timed_out || !out.ok() {
                return Err(format!(
                    "{}: {what} run {} (stderr: {})",
                    p.label,
                    out.describe(),
                    util::tail_str(&out.stderr, 2)
                ));
            }
        }
        let status = exit_of(&boxed.stdout);
        if status == Some(159) {
            return Err(format!(
                "{}: killed by SIGSYS in the container (exit 159)",
                p.label
            ));
        }
        if status != exit_of(&direct.stdout) || status.is_none() {
            return Err(format!(
                "{}: exit status {status:?} in the container, {:?} outside",
                p.label,
                exit_of(&direct.stdout)
            ));
        }
        let (a, b) = (comparable(&boxed.stdout), comparable(&direct.stdout));
        if let Some(d) = first_difference(&a, &b) {
            return Err(format!("{}: transcripts differ, {d}", p.label));
        }
        if a.len() < 10 {
            return Err(format!(
                "{}: only {} lines: {}",
                p.label,
                a.len(),
                a.join(" | ")
            ));
        }
        if name == "sockets" {
            seccomp = boxed
                .stdout
                .lines()
                .find(|l| l.starts_with("seccomp mode"))
                .unwrap_or("seccomp mode: ?")
                .to_string();
        }
        done.push(format!("{name} {} lines", a.len()));
    }
    // With seccomp=unconfined the only filter a container can have is dockerd's: present
    // under the preload (else this scenario would test nothing), absent without it.
    let want = match c.sb.mode {
        Mode::Preload => "seccomp mode: 2",
        Mode::NoPreload => "seccomp mode: 0",
    };
    if seccomp != want {
        return Err(format!(
            "unconfined container shows `{seccomp}`, expected `{want}` in {} mode",
            c.sb.mode.name()
        ));
    }

    // Docker's own profile and capabilities on top of the inherited filter: nothing dies.
    for prog in ["/safety/sockets", "/safety/nlconform-go-static"] {
        let out = c.docker(&["run", "--rm", "--network", "none", IMAGE, prog], RUN)?;
        match out.code() {
            Some(159) => return Err(format!("{prog} (default profile): killed by SIGSYS")),
            _ if out.timed_out => return Err(format!("{prog} (default profile): timed out")),
            _ => {}
        }
        if prog.ends_with("sockets") && util::tail_str(&out.stdout, 1) != "alive" {
            return Err(format!(
                "{prog} (default profile): {} without `alive`",
                out.describe()
            ));
        }
        if !prog.ends_with("sockets") && out.stdout.lines().count() < 10 {
            return Err(format!("{prog} (default profile): {}", out.describe()));
        }
    }

    // setuid below dockerd, as a user: the same as outside any container. (gVisor ignores
    // setuid bits and reports no_new_privs=1 for every task: google/gvisor#212, #511; the
    // host part below shows the bit honoured and no_new_privs=0 under gvnet's filter.)
    let euid = c.docker_ok(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-u",
            "1000",
            IMAGE,
            "/euid",
        ],
        RUN,
    )?;
    let outside = c.run(
        &[
            "sh",
            "-c",
            &format!(
                "cp {}/{STAGE}/euid /tmp/gvnet-euid && chmod 4755 /tmp/gvnet-euid && \
                 setpriv --reuid 1000 --regid 1000 --clear-groups /tmp/gvnet-euid",
                c.sb.opt
            ),
        ],
        SHORT,
    )?;
    if euid != outside.stdout.trim() {
        return Err(format!(
            "setuid root program as uid 1000: `{euid}` in a container, `{}` outside",
            outside.combined().trim()
        ));
    }
    let host = setuid_on_host(c)?;
    Ok(format!(
        "container = outside for {}; {}; default profile: no SIGSYS; setuid as uid 1000 \
         (container = outside): {euid}; {host}",
        done.join(", "),
        if c.sb.mode == Mode::Preload {
            "dockerd's filter inherited"
        } else {
            "no filter"
        }
    ))
}

/// On this machine's kernel: a setuid-root copy of euid, started as uid 1000 by spawn-go (a
/// cgo program, like dockerd) carrying gvnet's filter (GVNET_MODE=force, spawn-go a target),
/// must get euid 0 with no_new_privs 0, exactly as without the library.
fn setuid_on_host(c: &mut Ctx) -> std::result::Result<String, String> {
    if !matches!(c.sb.kind, Kind::Runsc { .. }) {
        return Ok("host part not run (harness inside gVisor)".into());
    }
    staged(c, "safety/spawn-go")?;
    let lib = c.run_dir.join("opt/libgvnet.so");
    let dir = c.run_dir.join("setuid");
    let euid = dir.join("euid");
    let setup = || -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        fs::copy(c.run_dir.join("opt").join(STAGE).join("euid"), &euid)?;
        fs::set_permissions(&euid, fs::Permissions::from_mode(0o4755))
    };
    setup().map_err(|e| format!("setuid copy of euid: {e}"))?;
    let spawn = c.run_dir.join("opt").join(STAGE).join("spawn-go");
    let run = |preload: bool| {
        let mut cmd = Command::new(&spawn);
        cmd.arg("1000")
            .arg(&euid)
            .env_remove("LD_PRELOAD")
            .env_remove("GVNET_LOG_FILE");
        if preload && lib.is_file() {
            cmd.env("LD_PRELOAD", &lib)
                .env("GVNET_MODE", "force")
                .env("GVNET_TARGETS", "spawn-go");
        }
        util::capture(&mut cmd, SHORT).map_err(|e| e.to_string())
    };
    let plain = run(false)?;
    let with = run(true)?;
    c.note(&format!(
        "host: spawn-go 1000 euid: without `{}`, with the library `{}`",
        plain.stdout.trim(),
        with.combined().trim()
    ));
    let want_plain = "seccomp: 0\nuid=1000 euid=0 no_new_privs=0";
    if plain.stdout.trim() != want_plain {
        return Err(format!(
            "host, without gvnet: `{}` (expected `{want_plain}`)",
            plain.combined().trim()
        ));
    }
    if !lib.is_file() {
        return Ok("host: setuid honoured (no library staged to compare)".into());
    }
    let want = "seccomp: 2\nuid=1000 euid=0 no_new_privs=0";
    if with.stdout.trim() != want {
        return Err(format!(
            "host, under gvnet's filter: `{}` (expected `{want}`)",
            with.combined().trim()
        ));
    }
    Ok("host kernel: setuid honoured and no_new_privs 0 under gvnet's filter".into())
}

/// Lines the library writes (its prefix).
fn gvnet_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("gvnet[")).collect()
}

/// The line of a process that is not a target: it decides at its first netlink call, if any
/// (engine.rs).
fn is_waiting(line: &str) -> bool {
    line.contains(": waits in ")
}

/// A decision line: what the library decided for this process (engine.rs).
fn is_decision(line: &str) -> bool {
    [
        ": passive in ",
        ": inert in ",
        "libc hooks active in ",
        "raw-syscall engine active in ",
        "raw syscalls are NOT covered",
    ]
    .iter()
    .any(|p| line.contains(p))
}

/// Runs `argv` in the sandbox with its stderr in a regular file (where gvnet writes its lines
/// in any process; into a pipe only in targets), shown afterwards on stderr.
const STDERR_TO_FILE: &str =
    "\"$@\" 2>/tmp/gvnet-safety.err; s=$?; cat /tmp/gvnet-safety.err >&2; exit $s";

/// One command run with and without the library in the sandbox: same stdout and status, and
/// the library's lines on stderr must be `want` (each a substring of one line, in order).
fn compare_in_sandbox(
    c: &mut Ctx,
    env: &[&str],
    argv: &[&str],
    want: &[&str],
) -> std::result::Result<String, String> {
    let mut plain = vec!["sh", "-c", STDERR_TO_FILE, "sh", "env", "-u", "LD_PRELOAD"];
    plain.extend_from_slice(argv);
    let lib = format!("LD_PRELOAD={}/libgvnet.so", c.sb.opt);
    let mut loaded = vec![
        "sh",
        "-c",
        STDERR_TO_FILE,
        "sh",
        "env",
        lib.as_str(),
        "GVNET_LOG=info",
    ];
    loaded.extend_from_slice(env);
    loaded.extend_from_slice(argv);
    let a = c.run(&plain, SHORT)?;
    let b = c.run(&loaded, SHORT)?;
    judge_pair(&argv.join(" "), env, &a.stdout, a.code(), &b, want)
}

/// A program whose stdout and stderr are read through one pipe (as containerd reads a shim's
/// `start`): with the library the bytes must be exactly those without it.
fn through_pipe(c: &mut Ctx, argv: &[&str]) -> std::result::Result<(), String> {
    let cmd = argv.join(" ");
    let script = format!(
        "a=$(env -u LD_PRELOAD {cmd} 2>&1); b=$(env LD_PRELOAD={}/libgvnet.so GVNET_LOG=trace {cmd} 2>&1); \
         [ \"$a\" = \"$b\" ] && echo same || printf 'differs: %s\\n' \"$b\"",
        c.sb.opt
    );
    let out = c.run(&["sh", "-c", &script], SHORT)?;
    if out.stdout.trim() == "same" {
        Ok(())
    } else {
        Err(format!(
            "{cmd} read through a pipe: {}",
            out.combined().trim()
        ))
    }
}

fn judge_pair(
    what: &str,
    env: &[&str],
    plain_stdout: &str,
    plain_code: Option<i32>,
    b: &util::Output,
    want: &[&str],
) -> std::result::Result<String, String> {
    let label = if env.is_empty() {
        what.to_string()
    } else {
        format!("{} {what}", env.join(" "))
    };
    if b.timed_out {
        return Err(format!("{label}: timed out with the library"));
    }
    if b.code() != plain_code {
        return Err(format!(
            "{label}: exit {:?} with the library, {plain_code:?} without",
            b.code()
        ));
    }
    if b.stdout != plain_stdout {
        return Err(format!(
            "{label}: stdout differs with the library: {}",
            first_difference(
                &b.stdout.lines().collect::<Vec<_>>(),
                &plain_stdout.lines().collect::<Vec<_>>()
            )
            .unwrap_or_default()
            .replace("container", "with")
            .replace("direct", "without")
        ));
    }
    let lines = gvnet_lines(&b.stderr);
    let ok = lines.len() == want.len() && lines.iter().zip(want).all(|(l, w)| l.contains(w));
    if !ok {
        return Err(format!(
            "{label}: expected the library's lines [{}], got [{}]",
            want.join(" | "),
            lines.join(" | ")
        ));
    }
    // Loaded (any line at all): one line says it waits or what it decided, or the waiting
    // line comes first and one decision after it; not loaded: none.
    let decisions = lines.iter().filter(|l| is_decision(l)).count();
    let waits = lines.iter().filter(|l| is_waiting(l)).count();
    let first_wait = lines.iter().position(|l| is_waiting(l));
    let first_decision = lines.iter().position(|l| is_decision(l));
    let ok = if want.is_empty() {
        decisions + waits == 0
    } else {
        decisions <= 1
            && waits <= 1
            && decisions + waits >= 1
            && (first_wait.is_none() || first_decision.is_none() || first_wait < first_decision)
    };
    if !ok {
        return Err(format!(
            "{label}: {waits} waiting and {decisions} decision lines: {}",
            lines.join(" | ")
        ));
    }
    Ok(format!("{label}: {} line(s)", lines.len()))
}

/// Every process of the running dockerd's tree that wrote to gvnet.log wrote one decision
/// line per executable it ran (a pid that execs another program loads the library again).
fn log_decisions(c: &mut Ctx) -> std::result::Result<String, String> {
    let text = fs::read_to_string(c.sb.gvnet_log()).map_err(|e| format!("gvnet.log: {e}"))?;
    // Per pid: the executables it waited in and those it decided in (a process that is not
    // a target waits first and may decide later, in the same executable).
    type Lines<'a> = (Vec<&'a str>, Vec<&'a str>);
    let mut per_pid: std::collections::BTreeMap<&str, Lines> = Default::default();
    for l in text.lines() {
        let Some(pid) = l.strip_prefix("gvnet[").and_then(|r| r.split(']').next()) else {
            continue;
        };
        // A child between fork and exec inherits its parent's decision and may only record
        // signal dispositions (a cgo runtime resets them through libc `sigaction`): it writes
        // no decision line of its own.
        if l.contains("recorded for the program") && !per_pid.contains_key(pid) {
            continue;
        }
        let entry = per_pid.entry(pid).or_default();
        let exe = || {
            l.split(" in /")
                .nth(1)
                .and_then(|r| r.split([' ', ';', ':']).next())
                .unwrap_or("?")
        };
        if is_waiting(l) {
            entry.0.push(exe());
        } else if is_decision(l) {
            entry.1.push(exe());
        }
    }
    let mut exes: Vec<&str> = Vec::new();
    for (pid, (waits, decisions)) in &per_pid {
        let once = |list: &Vec<&str>| {
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            sorted.len() == list.len()
        };
        if (waits.is_empty() && decisions.is_empty()) || !once(waits) || !once(decisions) {
            return Err(format!(
                "gvnet.log: process {pid} wrote {} waiting lines ({}) and {} decision lines ({})",
                waits.len(),
                waits.join(", "),
                decisions.len(),
                decisions.join(", ")
            ));
        }
        exes.extend(waits.iter().chain(decisions).copied());
    }
    exes.sort();
    exes.dedup();
    let names: Vec<&str> = exes
        .iter()
        .map(|e| e.rsplit('/').next().unwrap_or(e))
        .collect();
    Ok(format!(
        "gvnet.log: {} processes, one decision each ({})",
        per_pid.len(),
        names.join(", ")
    ))
}

/// On this machine's kernel (which accepts netlink multicast): the library in auto mode must
/// be passive, say so once at the first netlink call (`true` makes none: it only waits), and
/// change nothing (nlconform's transcript is Linux's).
fn on_host(c: &mut Ctx) -> std::result::Result<String, String> {
    if !matches!(c.sb.kind, Kind::Runsc { .. }) {
        // The harness itself runs inside gVisor: there is no host kernel to ask.
        return Ok("host part not run (harness inside gVisor)".into());
    }
    let lib = c.run_dir.join("opt/libgvnet.so");
    let nlconform = c.run_dir.join("opt").join(STAGE).join("nlconform");
    let mut done = Vec::new();
    let true_bin = util::which("true").ok_or("no `true` on this machine")?;
    for (argv, want) in [
        (vec![true_bin.display().to_string()], vec![": waits in "]),
        (
            vec![nlconform.display().to_string()],
            vec![": waits in ", "kernel: groups native, connect to a group native, send to a group native, AF_PACKET write native, IPv6 sysctls native, NETLINK_GET_STRICT_CHK native, RTM_SETLINK native, IPv4 conf sysctls native: passive in"],
        ),
    ] {
        let err = c.run_dir.join("host-stderr.txt");
        let script = format!(
            "\"$@\" 2>{err}; s=$?; cat {err} >&2; exit $s",
            err = err.display()
        );
        let run = |preload: bool| {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", &script, "sh"])
                .args(&argv)
                .env_remove("LD_PRELOAD")
                .env_remove("GVNET_MODE")
                .env_remove("GVNET_LOG_FILE");
            if preload {
                cmd.env("LD_PRELOAD", &lib).env("GVNET_LOG", "info");
            }
            util::capture(&mut cmd, SHORT).map_err(|e| e.to_string())
        };
        let a = run(false)?;
        let b = run(true)?;
        c.note(&format!(
            "host: {} -> {} / with the library {}:\n{}",
            argv.join(" "),
            a.describe(),
            b.describe(),
            b.stderr.trim()
        ));
        let label = format!("host {}", argv[0].rsplit('/').next().unwrap_or(""));
        done.push(judge_pair(&label, &[], &a.stdout, a.code(), &b, &want)?);
    }
    Ok(done.join("; "))
}

fn preload_elsewhere(c: &mut Ctx) -> Verdict {
    if !c.run_dir.join("opt/libgvnet.so").is_file() {
        return Err("no library staged (/opt/gvnet/libgvnet.so): nothing to load".into());
    }
    staged(c, "safety/nlconform-go")?;
    let refuses = "kernel: groups emulated";
    let hooks = "libc hooks active in";
    // A process that is not a target decides at its first netlink call: most never make one.
    let waits = ": waits in ";
    let engine = "libc hooks and raw-syscall engine active in";
    // A target's first line: what its children inherit (GVNET_CHILDREN); its last: its
    // filter's details (engine.rs).
    let children = "info: children: ";
    let seccomp = "info: seccomp: ";
    let ro_log = format!("GVNET_LOG_FILE={}/gvnet.log", c.sb.opt);
    let go = format!("{}/{STAGE}/nlconform-go", c.sb.opt);
    let sockets = format!("{}/sockets", c.sb.opt);
    let runc_root = "/tmp/gvnet-safety-runc";
    let cases: Vec<(Vec<&str>, Vec<&str>, Vec<&str>)> = vec![
        (vec![], vec!["containerd", "--version"], vec![waits]),
        (
            vec!["GVNET_TARGETS=containerd"],
            vec!["containerd", "--version"],
            vec![children, engine, seccomp],
        ),
        (vec![], vec!["containerd-shim-runc-v2", "-v"], vec![waits]),
        (
            vec!["GVNET_TARGETS=containerd-shim-runc-v2"],
            vec!["containerd-shim-runc-v2", "-v"],
            vec![children, engine, seccomp],
        ),
        (vec![], vec!["runc", "--version"], vec![waits]),
        (
            vec!["GVNET_TARGETS=runc"],
            vec!["runc", "--root", runc_root, "list"],
            vec![children, engine, seccomp],
        ),
        // ip's netlink socket: the kernel is asked then, and the probes leave no socket behind
        // (ip's output is the same as without the library).
        (
            vec![],
            vec!["ip", "-o", "link", "show", "lo"],
            vec![waits, hooks],
        ),
        (vec![], vec!["true"], vec![waits]),
        // Nothing probed: the same open fds as without the library.
        (vec![], vec!["ls", "/proc/self/fd"], vec![waits]),
        // Static: the dynamic loader is not involved, the library is never loaded.
        (vec![], vec!["busybox", "true"], vec![]),
        (vec![], vec![sockets.as_str()], vec![]),
        // A Go program that is not a target: the libc hooks never see its raw syscalls, so
        // its netlink transcript is gVisor's own.
        (vec![], vec![go.as_str()], vec![waits]),
        // Settings it cannot use: one line each, then the decision.
        (
            vec![ro_log.as_str()],
            vec!["true"],
            vec!["cannot open GVNET_LOG_FILE", waits],
        ),
        (
            vec!["GVNET_LOG_FILE=/nonexistent/gvnet/gvnet.log"],
            vec!["true"],
            vec!["cannot open GVNET_LOG_FILE", waits],
        ),
        (
            vec![
                "GVNET_MODE=sometimes",
                "GVNET_EVENTS=maybe",
                "GVNET_EVENT_INTERVAL_MS=0",
            ],
            vec!["true"],
            vec![
                "GVNET_MODE=\"sometimes\" is not auto, force or off: using auto",
                "GVNET_EVENTS=\"maybe\" is not on or off",
                "GVNET_EVENT_INTERVAL_MS=\"0\" is not a number",
                waits,
            ],
        ),
        (
            vec!["GVNET_MODE=off"],
            vec!["true"],
            vec!["GVNET_MODE=off: inert in"],
        ),
    ];
    let mut done = Vec::new();
    for (env, argv, want) in &cases {
        done.push(compare_in_sandbox(c, env, argv, want)?);
    }
    for argv in [
        &["containerd-shim-runc-v2", "-v"][..],
        &["containerd", "--version"][..],
        &["runc", "--version"][..],
    ] {
        through_pipe(c, argv)?;
    }
    // The decisions in the sandbox name the refusal.
    let out = c.run(
        &[
            "sh",
            "-c",
            STDERR_TO_FILE,
            "sh",
            "env",
            &format!("LD_PRELOAD={}/libgvnet.so", c.sb.opt),
            "GVNET_LOG=info",
            "ip",
            "-o",
            "link",
            "show",
            "lo",
        ],
        SHORT,
    )?;
    if !out.stderr.contains(refuses) {
        return Err(format!(
            "`ip` in the sandbox: no `{refuses}` in {}",
            out.stderr.trim()
        ));
    }
    let tree = log_decisions(c)?;
    let host = on_host(c)?;
    Ok(format!(
        "{} commands in the sandbox unchanged, one decision line each (stderr a file), none \
         through a pipe (shim, containerd, runc); {tree}; {host}",
        done.len()
    ))
}

/// Waits until `docker logs NAME` has a line `up` after `skip` lines.
fn wait_up(c: &mut Ctx, name: &str, skip: usize) -> std::result::Result<usize, String> {
    let start = Instant::now();
    loop {
        let out = c.docker(&["logs", name], SHORT)?;
        let lines: Vec<&str> = out.stdout.lines().collect();
        if lines.iter().skip(skip).any(|l| *l == "up") {
            return Ok(lines.len());
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(format!(
                "{name} reached its server in none of its {} checks after line {skip} (last: {})",
                lines.len().saturating_sub(skip),
                lines.last().unwrap_or(&"none")
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A server and a client polling it every 0.5 s, on a user network, restarted by dockerd.
fn pair(c: &mut Ctx, net: &str, prefix: &str) -> std::result::Result<(), String> {
    let srv = format!("{prefix}-srv");
    let cli = format!("{prefix}-cli");
    c.docker_ok(&["network", "create", net], SHORT)?;
    let common = [
        "run",
        "-d",
        "--network",
        net,
        "--restart",
        "always",
        "--stop-timeout",
        "1",
    ];
    let mut args = common.to_vec();
    args.extend_from_slice(&[
        "--name", &srv, "bb", "httpd", "-f", "-p", "80", "-h", "/var/www",
    ]);
    c.docker_ok(&args, RUN)?;
    let poll = format!(
        "while :; do if wget -q -T 2 -O- http://{srv}/ | grep -q gvnet; then echo up; else echo down; fi; sleep 0.5; done"
    );
    let mut args = common.to_vec();
    args.extend_from_slice(&["--name", &cli, "bb", "sh", "-c", &poll]);
    c.docker_ok(&args, RUN)?;
    Ok(())
}

/// A fresh container on `net` reaches `srv` by name (ping and wget), and one on the default
/// bridge starts.
fn reach(c: &mut Ctx, net: &str, srv: &str) -> std::result::Result<String, String> {
    // The page's text, not wget's output (its errors name the host, which contains "gvnet"),
    // and the TCP-reset retry every scenario on a user network needs in gVisor (docs/docker.md).
    let script = format!(
        "{}ping -c1 -W2 {srv} >/dev/null 2>&1 && echo ping=ok || echo ping=FAIL; {}",
        crate::scenarios::docker::GET_FN,
        crate::scenarios::docker::wget_check("wget", &format!("http://{srv}/"))
    );
    let out = c.docker_ok(
        &["run", "--rm", "--network", net, "bb", "sh", "-c", &script],
        RUN,
    )?;
    if out
        .split_whitespace()
        .filter(|w| w.ends_with("=ok"))
        .count()
        != 2
    {
        return Err(format!(
            "a new container on {net}: {}",
            out.replace('\n', " ")
        ));
    }
    let def = c.docker_ok(&["run", "--rm", "bb", "echo", "ok"], RUN)?;
    if def != "ok" {
        return Err(format!("default bridge after the restart: {def}"));
    }
    let retries = out.matches("retried=").count();
    Ok(format!(
        "a new container pings and fetches {srv} ({retries} fetch retries after a reset); default bridge ok"
    ))
}

fn cleanup(c: &mut Ctx, names: &[&str], net: &str) {
    let mut args = vec!["rm", "-f"];
    args.extend_from_slice(names);
    let _ = c.docker(&args, SHORT);
    let _ = c.docker(&["network", "rm", net], SHORT);
}

fn running(c: &mut Ctx, names: &[&str]) -> std::result::Result<(), String> {
    let start = Instant::now();
    loop {
        let mut args = vec!["inspect", "-f", "{{.Name}} {{.State.Running}}"];
        args.extend_from_slice(names);
        let out = c.docker_ok(&args, SHORT)?;
        if out.lines().all(|l| l.ends_with(" true")) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("not running again: {}", out.replace('\n', ", ")));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// dockerd stopped (SIGTERM) and started again while two containers with `--restart always`
/// talk over a user network: dockerd stops them, starts them again, and they talk again.
fn dockerd_restart(c: &mut Ctx) -> Verdict {
    let (net, srv, cli) = ("gvnet-rs-net", "gvnet-rs-srv", "gvnet-rs-cli");
    cleanup(c, &[srv, cli], net);
    let r = (|| -> Verdict {
        pair(c, net, "gvnet-rs")?;
        let before = wait_up(c, cli, 0)?;
        let how = c.restart_dockerd("TERM", &[])?;
        running(c, &[srv, cli])?;
        wait_up(c, cli, before)?;
        let fresh = reach(c, net, srv)?;
        Ok(format!(
            "{how}; both containers restarted and talk again; {fresh}"
        ))
    })();
    cleanup(c, &[srv, cli], net);
    r
}

/// dockerd killed (SIGKILL) while it starts a container, then started again: the interrupted
/// container can be removed, running ones come back, networking works.
fn dockerd_killed(c: &mut Ctx) -> Verdict {
    let (net, srv, cli, victim) = (
        "gvnet-kl-net",
        "gvnet-kl-srv",
        "gvnet-kl-cli",
        "gvnet-kl-mid",
    );
    cleanup(c, &[srv, cli, victim], net);
    let r = (|| -> Verdict {
        pair(c, net, "gvnet-kl")?;
        let before = wait_up(c, cli, 0)?;
        // The start is still in progress 0.3 s after `docker run` was issued (a start takes
        // about a second in gVisor); the kill lands in it.
        let script = format!(
            "docker run -d --name {victim} --network {net} bb sleep 1000 >/dev/null 2>&1 &
sleep 0.3; kill -KILL $(cat /run/gvnet-dockerd/dockerd.pid) && echo killed; wait"
        );
        let out = c.run(&["sh", "-c", &script], RUN)?;
        if !out.stdout.contains("killed") {
            return Err(format!("could not kill dockerd: {}", out.combined().trim()));
        }
        let how = c.restart_dockerd("KILL", &[])?;
        let state = c
            .docker(&["inspect", "-f", "{{.State.Status}}", victim], SHORT)?
            .stdout
            .trim()
            .to_string();
        c.docker_ok(&["rm", "-f", victim], SHORT).or_else(|e| {
            if e.contains("No such container") {
                Ok(String::new())
            } else {
                Err(e)
            }
        })?;
        running(c, &[srv, cli])?;
        wait_up(c, cli, before)?;
        let fresh = reach(c, net, srv)?;
        Ok(format!(
            "{how}; the interrupted container was `{}` and could be removed; both others talk again; {fresh}",
            if state.is_empty() { "never created" } else { &state }
        ))
    })();
    cleanup(c, &[srv, cli, victim], net);
    r
}

/// dockerd started with a log file it cannot open and invalid GVNET_* values: it starts,
/// bridge networking works, and its stderr has one line for each ignored value.
fn bad_settings(c: &mut Ctx) -> Verdict {
    let (net, srv, cli) = ("gvnet-bs-net", "gvnet-bs-srv", "gvnet-bs-cli");
    cleanup(c, &[srv, cli], net);
    let log = c.sb.dockerd_log();
    let offset = fs::metadata(&log).map(|m| m.len()).unwrap_or(0) as usize;
    let bad = [
        ("GVNET_LOG", "info"),
        ("GVNET_LOG_FILE", "/nonexistent/gvnet/gvnet.log"),
        ("GVNET_MODE", "sometimes"),
        ("GVNET_EVENTS", "maybe"),
        ("GVNET_EVENT_INTERVAL_MS", "0"),
    ];
    let r = (|| -> Verdict {
        c.restart_dockerd("TERM", &bad)?;
        pair(c, net, "gvnet-bs")?;
        wait_up(c, cli, 0)?;
        let fresh = reach(c, net, srv)?;
        let pid = c
            .run(&["cat", "/run/gvnet-dockerd/dockerd.pid"], SHORT)?
            .stdout
            .trim()
            .to_string();
        let text = fs::read(&log).map_err(|e| format!("dockerd.log: {e}"))?;
        let text = String::from_utf8_lossy(&text[offset.min(text.len())..]).into_owned();
        let prefix = format!("gvnet[{pid}]: ");
        let mine: Vec<&str> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
        let mut said = Vec::new();
        for (label, want) in [
            (
                "GVNET_LOG_FILE",
                "cannot open GVNET_LOG_FILE=\"/nonexistent/gvnet/gvnet.log\"",
            ),
            (
                "GVNET_MODE",
                "GVNET_MODE=\"sometimes\" is not auto, force or off: using auto",
            ),
            (
                "GVNET_EVENTS",
                "GVNET_EVENTS=\"maybe\" is not on or off: using on",
            ),
            (
                "GVNET_EVENT_INTERVAL_MS",
                "GVNET_EVENT_INTERVAL_MS=\"0\" is not a number",
            ),
            (
                "the decision",
                "libc hooks and raw-syscall engine active in",
            ),
        ] {
            let n = mine.iter().filter(|l| l.contains(want)).count();
            if n != 1 {
                return Err(format!(
                    "dockerd (pid {pid}) wrote `{want}` {n} times; its lines: {}",
                    mine.join(" | ")
                ));
            }
            said.push(label);
        }
        Ok(format!(
            "dockerd started; one line each for {}; {fresh}",
            said.join(", ")
        ))
    })();
    cleanup(c, &[srv, cli], net);
    // Back to the usual settings for whatever runs next.
    let back = c.restart_dockerd("TERM", &[]);
    match (r, back) {
        (Ok(v), Ok(_)) => Ok(v),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(format!("restoring dockerd's settings: {e}")),
    }
}

/// What gvnet.log says about the order of containerd's start and dockerd's late filter layer:
/// containerd (pid `ctr`, started at `ctr_ms` on the wall clock, with `slack` ms of
/// uncertainty) must have started before the last "late filter layer ... installed at realtime
/// N ms" line of dockerd's pid `dockerd`, so it (and every container below it) was forked
/// before the late layer existed and inherits the base layer alone. containerd itself no
/// longer loads the library (GVNET_CHILDREN), so the time is the evidence, not a line of its.
fn layer_order(
    log: &str,
    dockerd: u32,
    ctr: u32,
    ctr_ms: i64,
    slack: i64,
) -> std::result::Result<String, String> {
    let d = format!("gvnet[{dockerd}]: ");
    let line = log
        .lines()
        .rev()
        .find(|l| {
            l.starts_with(&d)
                && l.contains("late filter layer")
                && l.contains(" installed at realtime ")
        })
        .ok_or_else(|| {
            format!("gvnet.log: no late filter layer line of dockerd (pid {dockerd})")
        })?;
    let late: i64 = line
        .split(" installed at realtime ")
        .nth(1)
        .and_then(|r| r.strip_suffix(" ms"))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("gvnet.log: the late layer line's time does not parse: {line}"))?;
    if ctr_ms + slack >= late {
        return Err(format!(
            "containerd (pid {ctr}) started at {ctr_ms} ms (± {slack}), not before dockerd's late filter layer ({late} ms): its containers inherit that layer"
        ));
    }
    Ok(format!(
        "containerd (pid {ctr}) started {} ms before dockerd's late filter layer was installed",
        late - ctr_ms
    ))
}

/// containerd's start on the wall clock, in ms, and the uncertainty: `/proc/PID/stat`'s start
/// time (clock ticks since boot) placed by `/proc/uptime` and `date` read together.
fn started_ms(c: &mut Ctx, pid: u32) -> std::result::Result<(i64, i64), String> {
    let out = c.run(
        &[
            "sh",
            "-c",
            &format!("cat /proc/uptime; date +%s%N; cat /proc/{pid}/stat; date +%s%N"),
        ],
        SHORT,
    )?;
    let lines: Vec<&str> = out.stdout.lines().collect();
    let parse = || -> Option<(i64, i64)> {
        let uptime: f64 = lines.first()?.split_whitespace().next()?.parse().ok()?;
        let now_ns: i64 = lines.get(1)?.trim().parse().ok()?;
        let end_ns: i64 = lines.get(3)?.trim().parse().ok()?;
        // Field 22 (starttime) counts from the end of the command name, which may hold spaces.
        let stat = lines.get(2)?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let ticks: i64 = rest.split_whitespace().nth(19)?.parse().ok()?;
        let boot_ms = now_ns / 1_000_000 - (uptime * 1000.0) as i64;
        // Ticks of 10 ms and uptime's 10 ms, and the time between the reads.
        Some((boot_ms + ticks * 10, 20 + (end_ns - now_ns) / 1_000_000))
    };
    parse().ok_or_else(|| format!("containerd's start time: {:?}", out.stdout))
}

/// The running containerd is dockerd's child and was started before dockerd's first netlink
/// call, so it (and every container) carries gvnet's base layer alone (docs/design.md, The
/// seccomp filter). gVisor's /proc has no Seccomp_filters line: the times are the evidence
/// here; `interceptor/tests/layers.rs` counts the layers on Linux.
fn layers_inherited(c: &mut Ctx) -> Verdict {
    let dockerd = c.pid_of("dockerd")?;
    let ctr = c.pid_of("containerd")?;
    let status = c.run(&["cat", &format!("/proc/{ctr}/status")], SHORT)?;
    let ppid = status
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    if ppid != dockerd.to_string() {
        return Err(format!(
            "containerd (pid {ctr}) has parent {ppid:?}, not dockerd (pid {dockerd})"
        ));
    }
    // Without the library nothing writes the log: that reads as a log without the line.
    let text = match fs::read_to_string(c.sb.gvnet_log()) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        r => r.map_err(|e| format!("gvnet.log: {e}"))?,
    };
    let (ctr_ms, slack) = started_ms(c, ctr)?;
    let order = layer_order(&text, dockerd, ctr, ctr_ms, slack)?;
    Ok(format!("containerd is dockerd's child; {order}"))
}

/// Without the library: the bridge error where dockerd's bridge needs gvnet; where it works
/// natively (current+flag) the library's complaints about the settings are missing.
fn bad_settings_expect(s: &Setup, m: Mode) -> Expect {
    match (m, s.bridge_error()) {
        (Mode::Preload, _) => Expect::Pass,
        (Mode::NoPreload, Some(e)) => Expect::Fail(e),
        (Mode::NoPreload, None) => Expect::Fail("cannot open GVNET_LOG_FILE"),
    }
}

/// Without the library there is no layer and no line (every setup).
fn layers_expect(_: &Setup, m: Mode) -> Expect {
    match m {
        Mode::Preload => Expect::Pass,
        Mode::NoPreload => Expect::Fail("no late filter layer line"),
    }
}

/// Without the library there is nothing to load (every setup).
fn elsewhere_expect(_: &Setup, m: Mode) -> Expect {
    match m {
        Mode::Preload => Expect::Pass,
        Mode::NoPreload => Expect::Fail("no library staged"),
    }
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "layers-inherited",
        expect: layers_expect,
        run: layers_inherited,
    },
    Scenario {
        name: "descendants",
        expect: super::scenario::always,
        run: descendants,
    },
    Scenario {
        name: "preload-elsewhere",
        expect: elsewhere_expect,
        run: preload_elsewhere,
    },
    Scenario {
        name: "dockerd-restart",
        expect: super::scenario::bridge,
        run: dockerd_restart,
    },
    Scenario {
        name: "dockerd-killed",
        expect: super::scenario::bridge,
        run: dockerd_killed,
    },
    Scenario {
        name: "bad-settings",
        expect: bad_settings_expect,
        run: bad_settings,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_compare_without_the_seccomp_line() {
        let a = comparable("seccomp mode: 2\nx: ok\nexit 0\n");
        let b = comparable("seccomp mode: 0\nx: ok\nexit 0\n");
        assert_eq!(first_difference(&a, &b), None);
        let c = comparable("seccomp mode: 0\nx: EACCES (13)\nexit 0\n");
        assert!(first_difference(&a, &c).unwrap().contains("line 1"));
        assert_eq!(exit_of("a\nexit 159\n"), Some(159));
    }

    #[test]
    fn containerd_must_start_before_the_late_layer() {
        let log = "gvnet[37]: info: kernel: groups emulated (ENOPROTOOPT): libc hooks and raw-syscall engine active in /usr/sbin/dockerd\n\
gvnet[37]: info: late filter layer (the late calls of the decision line, from the Go site) installed at realtime 1000500 ms\n";
        assert!(layer_order(log, 37, 52, 1000000, 30)
            .unwrap()
            .contains("500 ms before"));
        // containerd restarted after the layer: its containers would inherit it.
        assert!(layer_order(log, 37, 60, 1000600, 30)
            .unwrap_err()
            .contains("not before"));
        // Too close to tell.
        assert!(layer_order(log, 37, 60, 1000480, 30).is_err());
        // No layer line (no library, or the layer could not be installed).
        let none = log.replace(
            " installed at realtime 1000500 ms",
            " could not be installed: EPERM",
        );
        assert!(layer_order(&none, 37, 52, 1000000, 30)
            .unwrap_err()
            .contains("no late filter layer line"));
        assert!(layer_order(log, 99, 52, 1000000, 30)
            .unwrap_err()
            .contains("no late filter layer line"));
    }

    #[test]
    fn decision_lines_are_recognised() {
        assert!(is_waiting(
            "gvnet[3]: info: not a target (GVNET_TARGETS=dockerd): waits in /usr/bin/true; the kernel is asked at its first netlink or AF_PACKET call"
        ));
        assert!(!is_decision(
            "gvnet[3]: info: not a target (GVNET_TARGETS=dockerd): waits in /usr/bin/true; the kernel is asked at its first netlink or AF_PACKET call"
        ));
        assert!(is_decision(
            "gvnet[3]: info: the kernel accepts netlink multicast: passive in /usr/bin/true"
        ));
        assert!(is_decision(
            "gvnet[3]: info: GVNET_MODE=off: inert in /usr/bin/true"
        ));
        assert!(!is_decision(
            "gvnet[3]: warn: GVNET_EVENTS=\"maybe\" is not on or off: using on"
        ));
    }
}
