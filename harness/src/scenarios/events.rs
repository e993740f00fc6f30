//! events scenarios of `gvnet-harness check`: rtnetlink multicast events (issue 3) reach
//! subscribers inside the sandbox. The programs are those of `tests/conformance/events/`, which
//! `interceptor/tests/events.rs` runs against the host kernel (the reference); see
//! docs/events.md. Each runs in a fresh network namespace (`unshare -n`), so dockerd's links do
//! not interfere, and under `LD_PRELOAD=/opt/gvnet/libgvnet.so` when the library is staged.

use crate::gvisor::Setup;
use crate::sandbox;
use crate::sandbox::Mode;
use crate::scenarios::scenario::{Ctx, Expect, Scenario, Verdict};
use crate::testbed;
use crate::util::{self, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const NLEVENTS_C: &str = include_str!("../../../tests/conformance/events/nlevents.c");
const IPMON_SH: &str = include_str!("../../../tests/conformance/events/ipmon.sh");
const GO_MAIN: &str = include_str!("../../../tests/conformance/events/nlevents-go/main.go");
const GO_CGO: &str = include_str!("../../../tests/conformance/events/nlevents-go/cgo.go");

/// The Go binary's name (GVNET_TARGETS names it).
const GO_BIN: &str = "nlevents-go";
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// Checks that runsc 20240729 cannot support: the kernel refuses the change (EOPNOTSUPP), or
/// accepts it and its dumps never show it (master, IFF_UP). docs/events.md lists why. Any other
/// `unsupported-here` line fails the scenario.
pub const KNOWN_UNSUPPORTED: &[&str] = &[
    "link-master",
    "link-nomaster",
    "link-up",
    "link-down",
    "route4-del",
    "route6-del",
    "neigh-add",
    "neigh-del",
    // Go only: vishvananda's AddrList(link, FAMILY_V6) does not list an IPv6 address that
    // `ip -6 addr show` lists in runsc 20240729, so the Go program cannot tell the add was
    // applied and skips it. Cause not found yet; the C subscriber checks IPv6 address events.
    "addr6-add",
    "addr6-del",
];

/// Stages nlevents (C, dynamically linked), ipmon.sh and nlevents-go into `run_dir/opt`.
pub fn prepare(run_dir: &Path) -> Result<()> {
    let opt = run_dir.join("opt");
    util::write_file(&opt.join("ipmon.sh"), IPMON_SH)?;
    let mut errors = Vec::new();
    if let Err(e) = build_c(&opt) {
        errors.push(e.to_string());
    }
    if let Err(e) = build_go(run_dir) {
        errors.push(e.to_string());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(util::Error(errors.join("; ")))
    }
}

/// gcc without -static: LD_PRELOAD must apply to it. Built against the host's glibc, which is
/// older than the sandbox's (sid), so it runs there.
fn build_c(opt: &Path) -> Result<()> {
    let src = opt.join("nlevents.c");
    util::write_file(&src, NLEVENTS_C)?;
    if util::which("gcc").is_none() {
        crate::bail!("gcc not found: install the host packages gcc and libc6-dev");
    }
    let out = util::capture(
        Command::new("gcc")
            .args(["-O2", "-Wall", "-Wextra", "-o"])
            .arg(opt.join("nlevents"))
            .arg(&src),
        Duration::from_secs(120),
    )?;
    if !out.ok() {
        crate::bail!("gcc nlevents.c failed: {}", out.combined());
    }
    Ok(())
}

/// The Go toolchain and GOPATH to build with: the testbed's own (Debian sid's golang-go and
/// golang-github-vishvananda-netlink-dev, from its root filesystem), else, inside gVisor
/// (direct mode, no testbed), this system's go and /usr/share/gocode.
pub(crate) fn go_toolchain() -> Result<(PathBuf, Option<PathBuf>, PathBuf)> {
    if !sandbox::in_gvisor() {
        if let Some(tb) = testbed::current(&util::cache_root()) {
            let root = tb.rootfs();
            let goroot = fs::canonicalize(root.join("usr/lib/go"))
                .ctx("the testbed has no /usr/lib/go (golang-go)")?;
            return Ok((
                goroot.join("bin/go"),
                Some(goroot),
                root.join("usr/share/gocode"),
            ));
        }
    }
    let go = util::which("go").ok_or("go not found: install golang-go")?;
    Ok((go, None, PathBuf::from("/usr/share/gocode")))
}

/// `go build -o out .` in `src`, GOPATH mode (Debian's packaged sources, nothing fetched), with
/// the toolchain `go_toolchain` found and the harness's shared build cache; cgo on or off.
pub fn go_build(
    (go, goroot): (&Path, Option<&Path>),
    src: &Path,
    out: &Path,
    gopath: &Path,
    cgo: bool,
) -> Result<()> {
    let mut cmd = Command::new(go);
    cmd.args(["build", "-o"])
        .arg(out)
        .arg(".")
        .current_dir(src)
        .env("GO111MODULE", "off")
        .env("GOPATH", gopath)
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("GOCACHE", util::cache_root().join("go-build-cache"));
    if let Some(goroot) = goroot {
        cmd.env("GOROOT", goroot);
    }
    let res = util::capture(&mut cmd, Duration::from_secs(300))?;
    if !res.ok() {
        let name = out.file_name().unwrap_or_default().to_string_lossy();
        crate::bail!(
            "go build {name} ({}) failed: {}",
            go.display(),
            res.combined()
        );
    }
    Ok(())
}

/// The sandbox has go but no C compiler, and the subscriber must be a cgo (dynamically linked)
/// binary to be preloadable: so it is built here, with the testbed's go and Debian's packaged
/// netlink sources, and this machine's gcc for the cgo part.
fn build_go(run_dir: &Path) -> Result<()> {
    let src = run_dir.join("opt/nlevents-go-src");
    util::write_file(&src.join("main.go"), GO_MAIN)?;
    util::write_file(&src.join("cgo.go"), GO_CGO)?;
    let (go, goroot, gopath) = go_toolchain()?;
    if !gopath.join("src/github.com/vishvananda/netlink").is_dir() {
        crate::bail!(
            "{} has no github.com/vishvananda/netlink (golang-github-vishvananda-netlink-dev)",
            gopath.display()
        );
    }
    go_build(
        (&go, goroot.as_deref()),
        &src,
        &run_dir.join("opt").join(GO_BIN),
        &gopath,
        true,
    )?;
    util::write_file(
        &run_dir.join("opt/nlevents-go.source"),
        format!(
            "built with {} (GOPATH {}, cgo)\n",
            go.display(),
            gopath.display()
        ),
    )
}

/// Runs one program in a fresh network namespace, preloaded when the library is staged, and
/// judges its `ok` / `FAIL` / `unsupported-here` lines.
fn run_program(c: &mut Ctx, label: &str, file: &str, command: &str, extra_env: &str) -> Verdict {
    let opt = c.sb.opt.clone();
    if !c.run_dir.join("opt").join(file).is_file() {
        let why = fs::read_to_string(c.run_dir.join("prepare-events.err")).unwrap_or_default();
        return Err(format!("{file} was not staged: {}", why.trim()));
    }
    let lib = format!("{opt}/libgvnet.so");
    let log = format!("{}/events-{label}.log", c.sb.log);
    let mode = crate::sandbox::mode_env();
    let script = format!(
        "if [ -e {lib} ]; then export LD_PRELOAD={lib} GVNET_LOG=debug GVNET_LOG_FILE={log} {mode} {extra_env}; fi; \
         unshare -n {command}; echo \"exit $?\""
    );
    let out = c.run(&["sh", "-c", &script], RUN_TIMEOUT)?;
    if out.timed_out {
        return Err(format!("{label}: timed out after {RUN_TIMEOUT:?}"));
    }
    judge_output(label, &out.stdout)
}

fn judge_output(label: &str, stdout: &str) -> Verdict {
    let lines: Vec<&str> = stdout.lines().collect();
    let ok = lines.iter().filter(|l| l.starts_with("ok ")).count();
    let failed: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("FAIL "))
        .collect();
    let unsupported: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("unsupported-here "))
        .map(|l| l.split(':').next().unwrap_or(l))
        .collect();
    let end = lines.iter().any(|l| l.starts_with("# end: "));
    let exit0 = lines.contains(&"exit 0");
    if !failed.is_empty() {
        let shown: Vec<&str> = failed.iter().take(4).copied().collect();
        return Err(format!(
            "{label}: {} failed ({}{})",
            failed.len(),
            shown.join(" | "),
            if failed.len() > 4 { " | ..." } else { "" }
        ));
    }
    if !end || !exit0 {
        return Err(format!(
            "{label}: did not finish (last line: {})",
            lines.last().unwrap_or(&"none")
        ));
    }
    let unknown: Vec<&str> = unsupported
        .iter()
        .copied()
        .filter(|n| !KNOWN_UNSUPPORTED.contains(n))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "{label}: unsupported-here for checks not known to be unsupported in gVisor: {}",
            unknown.join(", ")
        ));
    }
    if ok == 0 {
        return Err(format!("{label}: no check passed"));
    }
    Ok(format!(
        "{label}: {ok} ok{}",
        if unsupported.is_empty() {
            String::new()
        } else {
            format!(", unsupported here: {}", unsupported.join(" "))
        }
    ))
}

fn events_c(c: &mut Ctx) -> Verdict {
    let bin = format!("{}/nlevents", c.sb.opt);
    let a = run_program(c, "c-bind", "nlevents", &format!("{bin} bind"), "")?;
    let b = run_program(
        c,
        "c-membership",
        "nlevents",
        &format!("{bin} membership"),
        "",
    )?;
    Ok(format!("{a}; {b}"))
}

fn events_go(c: &mut Ctx) -> Verdict {
    let bin = format!("{}/{GO_BIN}", c.sb.opt);
    run_program(c, "go", GO_BIN, &bin, &format!("GVNET_TARGETS={GO_BIN}"))
}

fn events_ip_monitor(c: &mut Ctx) -> Verdict {
    let script = format!("sh {}/ipmon.sh", c.sb.opt);
    run_program(c, "ip-monitor", "ipmon.sh", &script, "")
}

/// Kicks across processes, with dockerd as the changer: two `ip monitor link` run in the sandbox
/// with polling off (GVNET_EVENT_IDLE_MS=0), one with the default shared kick file and one with
/// GVNET_EVENT_KICK=off, and a container is started on the default bridge. dockerd creates its
/// veth through Go's raw syscalls, so its kick comes from the SIGSYS path; the first monitor
/// must report the veth, the second must not (nothing else can wake it).
fn events_kick(c: &mut Ctx) -> Verdict {
    let lib = format!("{}/libgvnet.so", c.sb.opt);
    let log = format!("{}/events-kick.log", c.sb.log);
    let mode = crate::sandbox::mode_env();
    let script = format!(
        "a=$(mktemp); b=$(mktemp); \
         if [ -e {lib} ]; then export LD_PRELOAD={lib} GVNET_EVENT_IDLE_MS=0 GVNET_LOG=debug GVNET_LOG_FILE={log} {mode}; fi; \
         ip monitor link >$a 2>&1 & m1=$!; \
         GVNET_EVENT_KICK=off ip monitor link >$b 2>&1 & m2=$!; \
         unset LD_PRELOAD; sleep 2; \
         docker run --rm bb true 2>&1; echo \"docker-exit $?\"; sleep 1; kill $m1 $m2; \
         echo '--- kicked'; cat $a; echo '--- kick file off'; cat $b; rm -f $a $b"
    );
    let out = c.run(&["sh", "-c", &script], RUN_TIMEOUT)?;
    if out.timed_out {
        return Err(format!("timed out after {RUN_TIMEOUT:?}"));
    }
    judge_kick(&out.stdout)
}

fn judge_kick(stdout: &str) -> Verdict {
    if !stdout.contains("docker-exit 0") {
        return Err(format!("docker run failed: {}", stdout.trim()));
    }
    let (kicked, off) = stdout
        .split_once("--- kick file off")
        .ok_or("the script did not finish")?;
    let veth = |s: &str| s.lines().filter(|l| l.contains("veth")).count();
    match (veth(kicked), veth(off)) {
        (0, _) => Err(format!(
            "the monitor with the shared kick file saw no veth: {}",
            kicked.trim()
        )),
        (_, n) if n > 0 => Err(format!(
            "the monitor with GVNET_EVENT_KICK=off saw {n} veth lines although only kicks \
             could wake it: the test cannot tell"
        )),
        (n, _) => Ok(format!(
            "{n} veth event lines through dockerd's kicks; none without the kick file"
        )),
    }
}

/// gVisor alone refuses the subscription to 0x555 (link, IPv4 and IPv6 address and route
/// groups): EACCES in 20240729, EOPNOTSUPP in current gVisor (RTNLGRP_LINK only).
fn events_c_expect(s: &Setup, m: Mode) -> Expect {
    match (m, s.link_group()) {
        (Mode::Preload, _) => Expect::Pass,
        (Mode::NoPreload, false) => Expect::Fail("bind nl_groups=0x555: Permission denied"),
        (Mode::NoPreload, true) => Expect::Fail("bind nl_groups=0x555: Operation not supported"),
    }
}

/// 20240729 refuses the first (link) subscription; current gVisor accepts it and refuses the
/// address groups.
fn events_go_expect(s: &Setup, m: Mode) -> Expect {
    match (m, s.link_group()) {
        (Mode::Preload, _) => Expect::Pass,
        (Mode::NoPreload, false) => Expect::Fail("LinkSubscribeWithOptions: permission denied"),
        (Mode::NoPreload, true) => {
            Expect::Fail("AddrSubscribeWithOptions: operation not supported")
        }
    }
}

/// `ip monitor link address route`: refused as a whole (EACCES, then EOPNOTSUPP).
fn events_ip_monitor_expect(s: &Setup, m: Mode) -> Expect {
    match (m, s.link_group()) {
        (Mode::Preload, _) => Expect::Pass,
        (Mode::NoPreload, false) => Expect::Fail("Cannot bind netlink socket: Permission denied"),
        (Mode::NoPreload, true) => {
            Expect::Fail("Cannot bind netlink socket: Operation not supported")
        }
    }
}

/// A container on the default bridge between two `ip monitor link`: without the library, the
/// bridge error where dockerd's bridge needs gvnet; where it works natively (current+flag)
/// gVisor itself delivers the veth's RTM_NEWLINK to both monitors, so the one without kicks
/// sees it too and the scenario cannot tell.
fn events_kick_expect(s: &Setup, m: Mode) -> Expect {
    match (m, s.bridge_error()) {
        (Mode::Preload, _) => Expect::Pass,
        (Mode::NoPreload, Some(e)) => Expect::Fail(e),
        (Mode::NoPreload, None) => Expect::Fail("the test cannot tell"),
    }
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "events-c",
        expect: events_c_expect,
        run: events_c,
    },
    Scenario {
        name: "events-go",
        expect: events_go_expect,
        run: events_go,
    },
    Scenario {
        name: "events-ip-monitor",
        expect: events_ip_monitor_expect,
        run: events_ip_monitor,
    },
    Scenario {
        name: "events-kick",
        expect: events_kick_expect,
        run: events_kick,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kick_verdict_needs_the_veth_in_the_kicked_monitor_only() {
        let out =
            |a: &str, b: &str| format!("docker-exit 0\n--- kicked\n{a}\n--- kick file off\n{b}\n");
        assert!(judge_kick(&out("7: veth1@if6: <UP>", "")).is_ok());
        assert!(judge_kick(&out("", "")).is_err());
        assert!(judge_kick(&out("7: veth1@if6", "7: veth1@if6")).is_err());
        assert!(judge_kick("docker: Error\n--- kicked\n--- kick file off\n").is_err());
    }

    #[test]
    fn all_ok_passes_and_names_known_gaps() {
        let out = "ok a\nunsupported-here link-up: x\nok b\n# end: 2 ok, 0 failed, 1 unsupported\nexit 0\n";
        let v = judge_output("t", out).unwrap();
        assert!(v.contains("2 ok") && v.contains("link-up"), "{v}");
    }

    #[test]
    fn a_failure_or_an_unknown_gap_fails() {
        let out = "ok a\nFAIL b: it did not arrive\n# end: 1 ok, 1 failed, 0 unsupported\nexit 1\n";
        assert!(judge_output("t", out)
            .unwrap_err()
            .contains("it did not arrive"));
        let out =
            "ok a\nunsupported-here addr4-add: x\n# end: 1 ok, 0 failed, 1 unsupported\nexit 0\n";
        assert!(judge_output("t", out).unwrap_err().contains("addr4-add"));
        assert!(judge_output("t", "ok a\n").is_err());
    }
}
