//! `gvnet-harness check`: the regression suite, in a fresh sandbox per run.

use crate::bail;
use crate::gvisor;
use crate::sandbox::{self, Mode};
use crate::scenarios::{self, Ctx, Expect, Scenario, Verdict};
use crate::testbed::{self, Testbed};
use crate::util::{self, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What dockerd says on every bridge container without gvnet (docker.io 28.x in gVisor
/// 20240729).
pub const EXPECTED_NO_PRELOAD: &str = gvisor::EXPECTED_SUBSCRIBE;
/// The other way the same step fails without gvnet, seen once in about 300 bridge container
/// starts of the no-preload suite: moby's lookup of the new veth, just before it subscribes,
/// gets EAFNOSUPPORT from gVisor (`failed to add interface vethX to sandbox: failed to get link
/// by name "vethX": address family not supported by protocol`).
pub const EXPECTED_NO_PRELOAD_LOOKUP: [&str; 2] =
    ["failed to add interface", "failed to get link by name"];

/// Whether a scenario's error is the failure it must show without the preload.
fn is_expected_failure(e: &str, expected: &str) -> bool {
    e.contains(expected)
        || (expected == EXPECTED_NO_PRELOAD
            && EXPECTED_NO_PRELOAD_LOOKUP.iter().all(|t| e.contains(t)))
}

const VICTIM_SRC: &str = include_str!("../../tests/victims/sockets.c");
const SHORT: Duration = Duration::from_secs(30);

/// bb.tar for a run: the testbed's, or (inside gVisor, no testbed) one made from this system's
/// busybox.
pub fn bb_tar_for(tb: Option<&Testbed>, run_dir: &Path) -> Result<PathBuf> {
    if let Some(tb) = tb {
        return Ok(tb.bb_tar());
    }
    let busybox = util::which("busybox")
        .ok_or("no busybox here to build the bb image from (package busybox-static)")?;
    let tar = run_dir.join("bb.tar");
    testbed::make_bb_tar(
        &busybox,
        &run_dir.join("bbroot"),
        &tar,
        &run_dir.join("build.log"),
    )?;
    let _ = fs::remove_dir_all(run_dir.join("bbroot"));
    Ok(tar)
}

/// Compiles the socket victim into run_dir/opt/sockets (or copies `$GVNET_VICTIM`).
pub fn build_victim(run_dir: &Path) -> Result<PathBuf> {
    let bin = run_dir.join("opt/sockets");
    if let Some(pre) = std::env::var_os("GVNET_VICTIM") {
        fs::copy(&pre, &bin)
            .with_ctx(|| format!("GVNET_VICTIM {}", PathBuf::from(&pre).display()))?;
        return Ok(bin);
    }
    util::build_static_c(VICTIM_SRC, &bin).map_err(|e| {
        util::Error(format!(
            "{} (or set GVNET_VICTIM to a static build of tests/victims/sockets.c)",
            e.0
        ))
    })?;
    Ok(bin)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Passed,
    ExpectedFailure,
    Failed,
}

struct Row {
    name: &'static str,
    outcome: Outcome,
    reason: String,
    secs: f64,
}

fn judge(expect: Expect, v: Verdict) -> (Outcome, String) {
    match (expect, v) {
        (Expect::Fail(expected), Ok(detail)) => (
            Outcome::Failed,
            format!("passed, but this setup and mode must fail with `{expected}`: {detail}"),
        ),
        (Expect::Fail(expected), Err(e)) if is_expected_failure(&e, expected) => {
            let shown = if e.contains(expected) {
                expected.to_string()
            } else {
                EXPECTED_NO_PRELOAD_LOOKUP.join(" ... ")
            };
            (Outcome::ExpectedFailure, shown)
        }
        (_, Ok(detail)) => (Outcome::Passed, detail),
        (Expect::Fail(expected), Err(e)) => (
            Outcome::Failed,
            format!("failed otherwise than expected (`{expected}`): {e}"),
        ),
        (Expect::Pass, Err(e)) => (Outcome::Failed, e),
    }
}

fn in_ci() -> bool {
    matches!(
        std::env::var("CI").as_deref(),
        Ok("true") | Ok("1") | Ok("yes")
    )
}

/// The environment could not be set up: a failure under CI, an explicit skip (77) otherwise.
/// Under CI every selected scenario counts as failed; otherwise the run is an explicit skip.
fn environment_failure(e: util::Error, run_dir: Option<&Path>, scenarios: usize) -> Result<i32> {
    if let Some(d) = run_dir {
        println!("run dir: {}", d.display());
    }
    if in_ci() {
        println!("error: the sandbox could not be built or started (CI=true: this is a failure, not a skip):\n{e}");
        println!("0 passed, {scenarios} failed");
        Ok(1)
    } else {
        println!("SKIPPED: the sandbox could not be built or started (set CI=true to make this a failure):\n{e}");
        Ok(77)
    }
}

pub fn run(args: Vec<String>) -> Result<i32> {
    let mut args = args;
    let (runsc_arg, runsc_flags) = gvisor::take_args(&mut args)?;
    let mut mode = Mode::Preload;
    let mut lib = None;
    let mut keep = false;
    let mut only: Option<Vec<String>> = None;
    let mut want_setup: Option<String> = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-preload" => mode = Mode::NoPreload,
            "--setup" => want_setup = Some(it.next().ok_or("--setup needs a name")?),
            "--keep" => keep = true,
            "--lib" => lib = Some(PathBuf::from(it.next().ok_or("--lib needs a path")?)),
            "--only" => {
                only = Some(
                    it.next()
                        .ok_or("--only needs names")?
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                )
            }
            other => bail!("check: unexpected argument '{other}' (see --help)"),
        }
    }
    if let Some(names) = &only {
        for n in names {
            if !scenarios::all().any(|s| s.name == n) {
                bail!(
                    "--only: no scenario '{n}' (have: {})",
                    scenarios::all()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    let lib = lib.unwrap_or_else(sandbox::default_lib);
    let started = Instant::now();
    // Without --only: every scenario; with it: the named ones.
    let chosen = |s: &Scenario| match &only {
        Some(o) => o.iter().any(|n| n == s.name),
        None => true,
    };
    let selected = scenarios::all().filter(|s| chosen(s)).count();

    // Environment: testbed, run dir, victim, sandbox.
    let tb = match sandbox::testbed_for_run(true) {
        Ok(tb) => tb,
        Err(e) => return environment_failure(e, None, selected),
    };
    let runsc = match gvisor::resolve(runsc_arg.as_deref(), runsc_flags, tb.as_ref()) {
        Ok(r) => r,
        Err(e) => return environment_failure(e, None, selected),
    };
    sandbox::clean_old_runs(tb.as_ref(), 30, None);
    let run_label = match &runsc {
        Some(r) => format!("{}-{}", mode.name(), r.label()),
        None => format!("{}-direct", mode.name()),
    };
    let run_dir = sandbox::new_run_dir(&run_label)?;
    println!("check ({}), run dir {}", mode.name(), run_dir.display());
    match &runsc {
        Some(r) => println!("gVisor: {}", r.describe()),
        None => println!("gVisor: the one this harness runs in (direct mode)"),
    }
    if let (Ok(m), Mode::Preload) = (std::env::var("GVNET_MODE"), mode) {
        println!("GVNET_MODE={m} (passed on to dockerd and to the programs scenarios preload)");
    }
    if mode == Mode::Preload {
        let len = fs::metadata(&lib).map(|m| m.len()).unwrap_or(0);
        println!("library: {} ({len} bytes)", lib.display());
    }
    let bb = match bb_tar_for(tb.as_ref(), &run_dir) {
        Ok(b) => b,
        Err(e) => return environment_failure(e, Some(&run_dir), selected),
    };
    sandbox::prepare_run_dir(&run_dir, mode, &lib, &bb)?;
    let victim_err = match build_victim(&run_dir) {
        Ok(bin) => {
            // The same program on the host kernel, for comparison in the log.
            if let Ok(out) = util::capture(&mut Command::new(&bin), SHORT) {
                let _ = fs::write(run_dir.join("victim-host.txt"), &out.stdout);
            }
            None
        }
        Err(e) => Some(e.to_string()),
    };
    // Programs the scenario modules stage into opt/ (built on this machine).
    for (module, prepare) in scenarios::PREPARE {
        if let Err(e) = prepare(&run_dir) {
            eprintln!("warning: preparing the {module} scenarios failed: {e}");
            let _ = util::write_file(
                &run_dir.join(format!("prepare-{module}.err")),
                e.to_string(),
            );
        }
    }
    let id = format!("gvnet-check-{}", std::process::id());
    let sb = match sandbox::start(&run_dir, mode, tb.as_ref(), runsc.as_ref(), &id) {
        Ok(sb) => Some(sb),
        Err(e) if e.0.contains("step 'runsc run'") => {
            return environment_failure(e, Some(&run_dir), selected)
        }
        Err(e) => {
            // The sandbox ran but dockerd did not come up: that is the suite failing.
            eprintln!("error: {e}");
            None
        }
    };

    // What this gVisor does, measured in the sandbox (without the preload): the expectations
    // follow from it.
    let setup = match &sb {
        Some(sb) => match gvisor::measure(|argv| sb.exec(argv, SHORT)) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: {e}");
                None
            }
        },
        None => None,
    };
    if let Some(s) = &setup {
        println!("{}", s.describe());
        let _ = util::write_file(&run_dir.join("setup.txt"), format!("{}\n", s.describe()));
    }
    let runtime = fs::read_to_string(run_dir.join("log/dockerd.log"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("gvnet-dockerd: runtime: "))
        .map(|l| l.trim_start_matches("gvnet-dockerd: ").to_string());
    if let Some(r) = &runtime {
        println!("{r}");
    }
    let setup_err = match (&setup, &want_setup) {
        (None, _) if sb.is_some() => Some("the setup probe failed (see above)".to_string()),
        (Some(s), Some(w)) if s.name() != w => Some(format!(
            "--setup {w}: this gVisor measures as {} ({})",
            s.name(),
            s.describe()
        )),
        _ => None,
    };

    let check_log = run_dir.join("check.log");
    let mut rows = Vec::new();
    for s in scenarios::all() {
        if !chosen(s) {
            continue;
        }
        let t = Instant::now();
        let verdict = match (&sb, &victim_err) {
            (None, _) => Err("dockerd did not start (see its log)".to_string()),
            (Some(_), _) if setup_err.is_some() || setup.is_none() => {
                Err(setup_err.clone().unwrap_or_default())
            }
            (Some(_), Some(e)) if s.name == "descendants" => Err(e.clone()),
            (Some(sb), _) => {
                let Some(setup) = &setup else { unreachable!() };
                let log = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&check_log)
                    .ctx("check.log")?;
                let mut c = Ctx {
                    sb,
                    log,
                    run_dir: &run_dir,
                    setup,
                    hangs: Vec::new(),
                    interrupted: Vec::new(),
                };
                c.note(&format!("\n=== {}", s.name));
                eprint!("  {:<16} ... ", s.name);
                let v = (s.run)(&mut c);
                let v = with_interrupted(with_hangs(v, &c.hangs, mode), &c.interrupted);
                c.note(&format!("=== {}: {v:?}", s.name));
                v
            }
        };
        let expect = setup
            .as_ref()
            .map_or(Expect::Pass, |st| (s.expect)(st, mode));
        let (outcome, reason) = match (&setup_err, verdict) {
            (Some(e), _) => (Outcome::Failed, e.clone()),
            (None, v) => judge(expect, v),
        };
        if sb.is_some() && setup_err.is_none() {
            eprintln!("{}", label(&outcome));
        }
        rows.push(Row {
            name: s.name,
            outcome,
            reason,
            secs: t.elapsed().as_secs_f64(),
        });
    }

    // dockerd's own view of the end state, then the sandbox goes away (unless --keep).
    if let Some(sb) = &sb {
        if let Ok(o) = sb.sh(
            "ip -o link; echo; docker ps -a; echo; tail -n 5 /proc/net/dev",
            SHORT,
        ) {
            let _ = util::write_file(&run_dir.join("sandbox-end.txt"), o.combined());
        }
    }
    let passed = rows.iter().filter(|r| r.outcome != Outcome::Failed).count();
    let failed = rows.len() - passed;

    println!();
    println!("{:<16} {:<26} {:>6}  reason", "scenario", "outcome", "time");
    println!("{}", "-".repeat(100));
    for r in &rows {
        println!(
            "{:<16} {:<26} {:>5.1}s  {}",
            r.name,
            label(&r.outcome),
            r.secs,
            r.reason
        );
    }
    println!("{}", "-".repeat(100));
    println!(
        "mode {}; setup {}; {}; {:.0}s in all",
        mode.name(),
        setup.as_ref().map_or("unknown", |s| s.name()),
        runsc
            .as_ref()
            .map_or("direct".to_string(), |r| r.describe()),
        started.elapsed().as_secs_f64()
    );

    if failed > 0 || sb.is_none() {
        let dlog = run_dir.join("log/dockerd.log");
        let long = fs::read_to_string(&dlog).is_ok_and(|t| t.lines().count() > 20);
        if long {
            print_tail("dockerd log (errors)", &dlog, |l| {
                l.contains("level=error")
                    || l.contains("level=fatal")
                    || l.starts_with("gvnet-harness:")
            });
        }
        print_tail("dockerd log", &run_dir.join("log/dockerd.log"), |_| true);
        print_tail("gvnet log", &run_dir.join("log/gvnet.log"), |_| true);
        print_tail("check log", &check_log, |_| true);
    }
    println!("\nrun dir: {}", run_dir.display());
    println!(
        "  dockerd log: {}",
        run_dir.join("log/dockerd.log").display()
    );
    if mode == Mode::Preload {
        println!("  gvnet log:   {}", run_dir.join("log/gvnet.log").display());
    }
    println!("  check log:   {}", check_log.display());
    if let Some(sb) = &sb {
        if keep {
            println!("sandbox kept running: {}", sb.exec_hint());
            if let sandbox::Kind::Runsc {
                runsc, root, id, ..
            } = &sb.kind
            {
                println!(
                    "stop it with: {} --root={} delete --force {id}",
                    runsc.display(),
                    root.display()
                );
            }
        } else if let Err(e) = sb.stop() {
            eprintln!("warning: could not stop the sandbox: {e}");
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 || sb.is_none() { 1 } else { 0 })
}

/// The verdict with the commands that hung named after it (`Ctx::run`): the table says a
/// scenario passed only after a command ran again, and where to read about the hang.
fn with_hangs(v: Verdict, hangs: &[String], mode: Mode) -> Verdict {
    if hangs.is_empty() {
        return v;
    }
    let again = if mode == Mode::NoPreload {
        ", the first ran again"
    } else {
        ""
    };
    let tail = format!(
        " [{} command(s) hung{again}: {}]",
        hangs.len(),
        hangs.join(", ")
    );
    with_tail(v, &tail)
}

/// `v` with `tail` appended, passed or failed alike.
fn with_tail(v: Verdict, tail: &str) -> Verdict {
    match v {
        Ok(s) => Ok(s + tail),
        Err(e) => Err(e + tail),
    }
}

/// The verdict with the commands that ran again after runc's interrupted exec fifo open
/// (`Ctx::run`, `scenario::RUNC_FIFO_EINTR`).
fn with_interrupted(v: Verdict, cmds: &[String]) -> Verdict {
    if cmds.is_empty() {
        return v;
    }
    let tail = format!(
        " [ran again after runc's `open exec fifo: interrupted system call` (gVisor's EINTR): {}]",
        cmds.join(", ")
    );
    with_tail(v, &tail)
}

/// Prints the last 20 lines of `path` that satisfy `keep`.
fn print_tail(name: &str, path: &Path, keep: impl Fn(&str) -> bool) {
    let Ok(text) = fs::read(path) else { return };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().filter(|l| keep(l)).collect();
    println!("\n--- last lines of the {name} ({}) ---", path.display());
    for l in &lines[lines.len().saturating_sub(20)..] {
        println!("{}", util::printable(l));
    }
}

fn label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::ExpectedFailure => "passed (expected failure)",
        Outcome::Failed => "FAILED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gvisor::tests::{current, flag, old};
    use crate::gvisor::{EXPECTED_ADVERTISE, EXPECTED_SUBSCRIBE};
    use crate::scenarios::base::{ip_monitor_expect, EXPECTED_IP_MONITOR};
    use crate::scenarios::scenario::{always, bridge};

    const NOPRE: Mode = Mode::NoPreload;
    const PRE: Mode = Mode::Preload;

    #[test]
    fn a_hang_is_named_in_the_verdict() {
        assert_eq!(with_hangs(Ok("ok".into()), &[], PRE), Ok("ok".into()));
        let h = vec!["hang-1.txt".to_string()];
        assert_eq!(
            with_hangs(Ok("ok".into()), &h, NOPRE),
            Ok("ok [1 command(s) hung, the first ran again: hang-1.txt]".into())
        );
        // With the library a hang is a failure: said, not run again.
        let e = with_hangs(Err("docker run: timed out after 92s".into()), &h, PRE).unwrap_err();
        assert!(e.ends_with("[1 command(s) hung: hang-1.txt]"), "{e}");
        // An expected failure's text survives.
        let e = with_hangs(Err(EXPECTED_NO_PRELOAD.into()), &h, NOPRE).unwrap_err();
        assert!(judge(Expect::Fail(EXPECTED_NO_PRELOAD), Err(e)).0 == Outcome::ExpectedFailure);
    }

    #[test]
    fn a_rerun_after_runcs_interrupted_fifo_open_is_named() {
        assert_eq!(with_interrupted(Ok("ok".into()), &[]), Ok("ok".into()));
        let c = vec!["docker run --rm bb true".to_string()];
        let v = with_interrupted(Ok("ok".into()), &c).unwrap();
        assert!(v.starts_with("ok [ran again after runc's"), "{v}");
        assert!(v.ends_with("docker run --rm bb true]"), "{v}");
    }

    #[test]
    fn no_preload_bridge_failure_with_the_message_is_expected() {
        let e = format!("docker run: exit 125 docker: Error response from daemon: failed to set up container networking: failed to add interface veth1 to sandbox: {EXPECTED_NO_PRELOAD}");
        assert_eq!(
            judge(Expect::Fail(EXPECTED_NO_PRELOAD), Err(e)).0,
            Outcome::ExpectedFailure
        );
    }

    #[test]
    fn no_preload_veth_lookup_failure_is_the_same_step_failing() {
        let e = "docker compose up: exit 1 Error response from daemon: failed to set up container networking: failed to add interface veth28a7fc1 to sandbox: failed to get link by name \"veth28a7fc1\": address family not supported by protocol";
        assert_eq!(
            judge(Expect::Fail(EXPECTED_NO_PRELOAD), Err(e.into())).0,
            Outcome::ExpectedFailure
        );
        // Only for the bridge failure, and only with both parts.
        assert_eq!(
            judge(Expect::Fail(EXPECTED_IP_MONITOR), Err(e.into())).0,
            Outcome::Failed
        );
        assert_eq!(
            judge(
                Expect::Fail(EXPECTED_NO_PRELOAD),
                Err("failed to get link by name \"x\"".into())
            )
            .0,
            Outcome::Failed
        );
    }

    #[test]
    fn other_failures_and_passes_fail() {
        assert_eq!(
            judge(Expect::Fail(EXPECTED_NO_PRELOAD), Err("timed out".into())).0,
            Outcome::Failed
        );
        assert_eq!(
            judge(Expect::Fail(EXPECTED_NO_PRELOAD), Ok("ok".into())).0,
            Outcome::Failed
        );
        assert_eq!(
            judge(Expect::Pass, Err(EXPECTED_NO_PRELOAD.into())).0,
            Outcome::Failed
        );
        assert_eq!(judge(Expect::Pass, Ok("x".into())).0, Outcome::Passed);
    }

    #[test]
    fn bridge_expectations_per_setup() {
        assert_eq!(bridge(&old(), NOPRE), Expect::Fail(EXPECTED_SUBSCRIBE));
        assert_eq!(bridge(&current(), NOPRE), Expect::Fail(EXPECTED_ADVERTISE));
        assert_eq!(bridge(&flag(), NOPRE), Expect::Pass);
        for s in [old(), current(), flag()] {
            assert_eq!(bridge(&s, PRE), Expect::Pass);
            assert_eq!(always(&s, NOPRE), Expect::Pass);
        }
        assert_eq!(
            ip_monitor_expect(&old(), NOPRE),
            Expect::Fail(EXPECTED_IP_MONITOR)
        );
        assert_eq!(ip_monitor_expect(&current(), NOPRE), Expect::Pass);
    }

    /// Without the preload, as measured (harness/README.md's table): each scenario's expectation
    /// in 20240729, current and current+flag.
    #[test]
    fn no_preload_table() {
        let want = |name: &str| -> [Expect; 3] {
            let sc = scenarios::all().find(|s| s.name == name).unwrap();
            [old(), current(), flag()].map(|s| (sc.expect)(&s, NOPRE))
        };
        let (s, a, p) = (
            Expect::Fail(EXPECTED_SUBSCRIBE),
            Expect::Fail(EXPECTED_ADVERTISE),
            Expect::Pass,
        );
        for n in [
            "default-bridge",
            "exec",
            "exec-pidns",
            "buildkit",
            "compose-healthy",
            "dockerd-restart",
        ] {
            assert_eq!(want(n), [s, a, p], "{n}");
        }
        for n in ["host-network", "descendants", "no-stale-veth"] {
            assert_eq!(want(n), [p, p, p], "{n}");
        }
        assert_eq!(
            want("ip-monitor"),
            [Expect::Fail(EXPECTED_IP_MONITOR), p, p]
        );
        let eop = Expect::Fail("bind nl_groups=0x555: Operation not supported");
        assert_eq!(
            want("events-c"),
            [
                Expect::Fail("bind nl_groups=0x555: Permission denied"),
                eop,
                eop
            ]
        );
        assert_eq!(
            want("events-kick"),
            [s, a, Expect::Fail("the test cannot tell")]
        );
        assert_eq!(
            want("bad-settings"),
            [s, a, Expect::Fail("cannot open GVNET_LOG_FILE")]
        );
        let ipv6 = Expect::Fail("Cannot read IPv6 setup for bridge");
        assert_eq!(want("ipv6"), [ipv6, ipv6, ipv6]);
        let doc = Expect::Fail("library not loaded into dockerd");
        assert_eq!(want("gvnet-doctor"), [doc, doc, doc]);
    }

    /// The whole table: every scenario has an expectation in every setup and mode, every
    /// scenario passes with the preload where gVisor allows it, and names are unique.
    #[test]
    fn expectation_table() {
        let mut names = std::collections::HashSet::new();
        for sc in scenarios::all() {
            assert!(names.insert(sc.name), "{} twice", sc.name);
            for s in [current(), flag()] {
                assert_eq!(
                    (sc.expect)(&s, PRE),
                    Expect::Pass,
                    "{} on {}",
                    sc.name,
                    s.name()
                );
            }
            let on_old = (sc.expect)(&old(), PRE);
            if ["exec-pidns", "compose-healthy"].contains(&sc.name) {
                assert_eq!(
                    on_old,
                    Expect::Fail(crate::scenarios::docker::EXPECTED_SETNS)
                );
            } else {
                assert_eq!(on_old, Expect::Pass, "{}", sc.name);
            }
        }
    }
}
