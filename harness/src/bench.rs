//! `gvnet-harness bench`: what gvnet costs, measured side by side. Every comparison runs its two
//! sides interleaved in one run (A, B, A, B, ...) and reports median, p95 (nearest rank) and the
//! ratio B/A. Prints a table and writes it with the machine and versions to docs/performance.md.

use crate::bail;
use crate::check;
use crate::sandbox::{self, Mode, Sandbox};
use crate::testbed::Testbed;
use crate::util::{self, Context, Output, Result};
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LOOP_SRC: &str = include_str!("../../tests/bench/loopbench.c");
const FLOOR_SRC: &str = include_str!("../../tests/bench/sigsysfloor.c");
const TRAP_GO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/bench/trapbench-go");
const TRAP_BIN: &str = "trapbench-go";
const EV_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/bench/evbench.c");
const PARTS: &[&str] = &["start", "trap", "loop", "events", "scale"];

/// Counts and sizes; all settable on the command line.
#[derive(Debug, Clone)]
struct Params {
    starts: usize,
    trap_iters: usize,
    trap_rounds: usize,
    trap_batches: usize,
    loop_iters: usize,
    loop_reps: usize,
    containers: usize,
    parallel: usize,
    cycles: usize,
    events: usize,
    quiet_events: usize,
    idle_rounds: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            starts: 30,
            trap_iters: 20000,
            trap_rounds: 10,
            trap_batches: 3,
            loop_iters: 200000,
            loop_reps: 10,
            containers: 100,
            parallel: 10,
            // gVisor refuses a container's session keyring (EDQUOT, "unable to join session
            // keyring") after about 200 containers in one sandbox: 150 cycles fit a fresh one.
            cycles: 150,
            events: 200,
            quiet_events: 30,
            idle_rounds: 5,
        }
    }
}

/// Nearest-rank percentile of sorted samples: the smallest value with at least p% of the
/// samples at or below it.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    n: usize,
    median: f64,
    p95: f64,
    p99: f64,
}

fn stats(samples: &[f64]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    Stats {
        n: s.len(),
        median: percentile(&s, 50.0),
        p95: percentile(&s, 95.0),
        p99: percentile(&s, 99.0),
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
struct Row {
    what: String,
    sides: String,
    a: String,
    b: String,
    ratio: String,
    target: String,
    result: String,
    note: Option<String>,
}

fn fmt_num(v: f64, unit: &str) -> String {
    if v.is_nan() {
        return "-".into();
    }
    match unit {
        "ms" if v < 100e6 => format!("{:.2} ms", v / 1e6),
        "ms" => format!("{:.0} ms", v / 1e6),
        "ns" if v >= 10000.0 => format!("{:.2} µs", v / 1000.0),
        "ns" => format!("{v:.0} ns"),
        "% core" => format!("{v:.2} % core"),
        u => format!("{v:.0} {u}"),
    }
}

fn fmt_stats(s: Stats, unit: &str) -> String {
    format!(
        "{} / {} (n={})",
        fmt_num(s.median, unit),
        fmt_num(s.p95, unit),
        s.n
    )
}

/// A row comparing two interleaved sample sets (values in ns).
fn cmp_row(what: &str, sides: &str, a: &[f64], b: &[f64], unit: &str) -> (Row, Stats, Stats) {
    let (sa, sb) = (stats(a), stats(b));
    let ratio = if sa.n > 0 && sb.n > 0 {
        format!("{:.3}", sb.median / sa.median)
    } else {
        "-".into()
    };
    (
        Row {
            what: what.into(),
            sides: sides.into(),
            a: fmt_stats(sa, unit),
            b: fmt_stats(sb, unit),
            ratio,
            target: "-".into(),
            result: "-".into(),
            note: None,
        },
        sa,
        sb,
    )
}

fn not_measured(what: &str, why: &str) -> Row {
    Row {
        what: what.into(),
        sides: "-".into(),
        a: "-".into(),
        b: "-".into(),
        ratio: "-".into(),
        target: "-".into(),
        result: format!("not measured: {why}"),
        note: None,
    }
}

fn verdict(ok: bool) -> String {
    if ok { "met" } else { "target missed" }.to_string()
}

/// Everything a bench run collects, for the table and the log.
struct Bench {
    p: Params,
    /// dockerd's VmRSS (KiB) right after both sandboxes came up: (with gvnet, without).
    idle_rss: (f64, f64),
    rows: Vec<Row>,
    log: fs::File,
}

impl Bench {
    fn note(&mut self, text: &str) {
        let _ = writeln!(self.log, "{text}");
    }

    /// Runs argv in a sandbox, logging command and output.
    fn exec(&mut self, sb: &Sandbox, argv: &[&str], timeout: Duration) -> Result<Output> {
        self.note(&format!("[{}] $ {}", sb.mode.name(), argv.join(" ")));
        let out = sb.exec(argv, timeout)?;
        let text = out.combined();
        if !text.trim().is_empty() {
            self.note(text.trim_end());
        }
        self.note(&format!(
            "[{} in {:.2}s]",
            out.describe(),
            out.elapsed.as_secs_f64()
        ));
        Ok(out)
    }

    fn sh(&mut self, sb: &Sandbox, script: &str, timeout: Duration) -> Result<Output> {
        self.exec(sb, &["sh", "-c", script], timeout)
    }
}

/// Stops the bench's sandboxes however the run ends.
struct Sandboxes(Vec<Sandbox>);

impl Drop for Sandboxes {
    fn drop(&mut self) {
        for sb in &self.0 {
            if let Err(e) = sb.stop() {
                eprintln!("warning: {e}");
            }
        }
    }
}

/// Parses `name value` lines: the value of the first field after the name.
fn parse_lines<'a>(text: &'a str, name: &str) -> Vec<(f64, &'a str)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            if f.next()? != name {
                return None;
            }
            let v = f.next()?.parse::<f64>().ok()?;
            Some((v, f.next().unwrap_or("")))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Part 1: container start.

fn part_start(b: &mut Bench, sb: &Sandbox) -> Result<()> {
    let n = b.p.starts;
    eprintln!("bench: container start, {n} runs each side, interleaved");
    let (mut a, mut h, mut fails) = (Vec::new(), Vec::new(), 0usize);
    // One warm-up of each, not counted.
    for args in ["", "--network host"] {
        b.sh(
            sb,
            &format!("docker run --rm {args} bb true"),
            Duration::from_secs(120),
        )?;
    }
    for i in 0..n {
        for (host, v) in [(false, &mut a), (true, &mut h)] {
            let net = if host { "--network host " } else { "" };
            // Timed inside the sandbox: `runsc exec` itself is not part of the figure.
            let script = format!(
                "s=$(date +%s%N); docker run --rm {net}bb true >/dev/null 2>&1; r=$?; e=$(date +%s%N); echo \"rc $r $((e-s))\""
            );
            let out = b.sh(sb, &script, Duration::from_secs(180))?;
            match parse_lines(&out.stdout, "rc").first() {
                Some((0.0, t)) => v.push(t.parse::<f64>().unwrap_or(f64::NAN)),
                _ => fails += 1,
            }
        }
        eprint!("\r  {}/{n}", i + 1);
    }
    eprintln!();
    let (mut row, sa, sh) = cmp_row(
        "container start (`docker run --rm bb true`)",
        "A: `--network host`; B: default bridge (gvnet)",
        &h,
        &a,
        "ms",
    );
    row.target = "B/A ≤ 1.05".into();
    let ratio = sh.median / sa.median;
    row.result = verdict(ratio <= 1.05 && fails == 0);
    if fails > 0 {
        row.note = Some(format!("{fails} runs failed"));
    } else if ratio > 1.05 {
        row.note = Some(format!(
            "the bridge path does work `--network host` skips (veth pair, moving it into the container's namespace, addresses, routes; each a netlink round trip through gVisor); the median difference is {:.0} ms per start",
            (sh.median - sa.median) / 1e6
        ));
    }
    b.rows.push(row);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Part 2: one trapped call, with and without the SIGSYS handler, on the host and in gVisor.

/// Builds tests/bench/trapbench-go (cgo, Debian's golang-go, offline) into `dir`.
fn build_trapbench(dir: &Path) -> Result<PathBuf> {
    let go = util::which("go").ok_or("go not found (host package golang-go)")?;
    let bin = dir.join(TRAP_BIN);
    let out = util::capture(
        Command::new(go)
            .args(["build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(TRAP_GO_DIR)
            .env("CGO_ENABLED", "1")
            .env("GO111MODULE", "on")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "")
            .env("GOWORK", "off")
            .env("GOENV", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOCACHE", dir.join("go-cache"))
            .env("GOPATH", dir.join("go-path")),
        Duration::from_secs(300),
    )?;
    if !out.ok() {
        bail!(
            "go build of tests/bench/trapbench-go failed: {}",
            out.combined()
        );
    }
    Ok(bin)
}

/// Builds tests/bench/loopbench.c static into `dir`.
fn build_loopbench(dir: &Path) -> Result<PathBuf> {
    let bin = dir.join("loopbench");
    util::build_static_c(LOOP_SRC, &bin)?;
    Ok(bin)
}

/// The environment that makes trapbench-go trap its calls.
fn trap_env(lib: &str) -> [(String, String); 4] {
    [
        ("LD_PRELOAD".into(), lib.into()),
        ("GVNET_MODE".into(), "force".into()),
        ("GVNET_TARGETS".into(), TRAP_BIN.into()),
        ("GVNET_LOG".into(), "off".into()),
    ]
}

type TrapRun<'a> = dyn FnMut(&mut Bench, bool) -> Result<String> + 'a;

/// Interleaves rounds without (A) and with (B) the library; two rows (getsockname,
/// add_membership). `host`: the 2 µs target applies.
fn trap_compare(b: &mut Bench, place: &str, host: bool, run: &mut TrapRun) -> Result<()> {
    let calls = [
        (
            "getsockname",
            "getsockname, UDP socket (trapped, passed through)",
        ),
        (
            "add_membership",
            "setsockopt NETLINK_ADD_MEMBERSHIP (trapped, emulated)",
        ),
    ];
    let mut a: Vec<Vec<f64>> = vec![Vec::new(); calls.len()];
    let mut t: Vec<Vec<f64>> = vec![Vec::new(); calls.len()];
    let mut results: Vec<(String, String)> = vec![Default::default(); calls.len()];
    let rounds = b.p.trap_rounds;
    for r in 0..rounds {
        for with in [false, true] {
            let out = run(b, with)?;
            for (i, (name, _)) in calls.iter().enumerate() {
                let got = parse_lines(&out, name);
                if got.is_empty() {
                    bail!("trapbench-go ({place}, library {with}) printed no {name} line: {out}");
                }
                for (v, res) in got {
                    if with {
                        t[i].push(v);
                        results[i].1 = res.to_string();
                    } else {
                        a[i].push(v);
                        results[i].0 = res.to_string();
                    }
                }
            }
        }
        eprint!("\r  {place}: {}/{rounds}", r + 1);
    }
    eprintln!();
    for (i, (_, what)) in calls.iter().enumerate() {
        let (mut row, sa, sb) = cmp_row(
            &format!("{what}, {place}"),
            "A: no library; B: libgvnet.so, GVNET_MODE=force",
            &a[i],
            &t[i],
            "ns",
        );
        let added = sb.median - sa.median;
        let res = |r: &str| {
            if r == "ok" {
                "ok".to_string()
            } else {
                format!("errno {r}")
            }
        };
        let mut note = format!(
            "added per call: {added:.0} ns (median B − median A); call result A: {}, B: {}",
            res(&results[i].0),
            res(&results[i].1)
        );
        if host {
            row.target = "added ≤ 2 µs".into();
            row.result = verdict(added <= 2000.0);
            if added > 2000.0 {
                note.push_str("; cause: every call is a seccomp trap, i.e. a SIGSYS delivered to the process (signal frame, handler, rt_sigreturn) plus the handler's own system calls to re-issue or emulate it, several kernel entries instead of one");
            }
        } else {
            row.target = "none (host target only)".into();
            row.result = format!("added {}", fmt_num(added, "ns"));
        }
        row.note = Some(note);
        b.rows.push(row);
    }
    Ok(())
}

fn part_trap_host(b: &mut Bench, bin: &Path, lib: &Path) -> Result<()> {
    eprintln!("bench: trapped call on the host kernel");
    let (iters, batches) = (b.p.trap_iters.to_string(), b.p.trap_batches.to_string());
    let lib = lib.display().to_string();
    let mut run = |b: &mut Bench, with: bool| -> Result<String> {
        let mut c = Command::new(bin);
        c.args([&iters, &batches]);
        if with {
            c.envs(trap_env(&lib));
        }
        b.note(&format!("[host] $ {}", util::cmdline(&c)));
        let out = util::capture(&mut c, Duration::from_secs(300))?;
        b.note(out.combined().trim_end());
        if !out.ok() {
            bail!("trapbench-go on the host: {}", out.describe());
        }
        Ok(out.stdout)
    };
    trap_compare(b, "host kernel", true, &mut run)
}

/// The floor under any seccomp-trap design: tests/bench/sigsysfloor.c, a trapped getsockname
/// with an empty SIGSYS handler (B) against the same call untrapped (A), on the host kernel.
fn part_trap_floor(b: &mut Bench, dir: &Path) -> Result<()> {
    eprintln!("bench: SIGSYS round trip alone on the host kernel");
    let bin = dir.join("sigsysfloor");
    util::build_static_c(FLOOR_SRC, &bin)?;
    let (iters, batches) = (b.p.trap_iters.to_string(), b.p.trap_batches.to_string());
    let (mut a, mut t) = (Vec::new(), Vec::new());
    for _ in 0..b.p.trap_rounds {
        for mode in ["plain", "trap"] {
            let mut c = Command::new(&bin);
            c.args([iters.as_str(), batches.as_str(), mode]);
            b.note(&format!("[host] $ {}", util::cmdline(&c)));
            let out = util::capture(&mut c, Duration::from_secs(300))?;
            b.note(out.combined().trim_end());
            if !out.ok() {
                bail!("sigsysfloor on the host: {}", out.describe());
            }
            let got = parse_lines(&out.stdout, "getsockname");
            let side = if mode == "trap" { &mut t } else { &mut a };
            side.extend(got.iter().map(|x| x.0));
        }
    }
    let (mut row, sa, sb) = cmp_row(
        "getsockname, UDP socket, trapped with an empty handler (C), host kernel",
        "A: not trapped; B: SECCOMP_RET_TRAP + a SIGSYS handler that only sets the result",
        &a,
        &t,
        "ns",
    );
    row.target = "none (the floor for the row above)".into();
    row.result = format!("added {}", fmt_num(sb.median - sa.median, "ns"));
    row.note = Some(format!(
        "what the kernel charges for one trapped call on this machine before any handler code runs: signal frame, delivery, rt_sigreturn; {:.0} ns of the trapped calls' added cost is this floor",
        sb.median - sa.median
    ));
    b.rows.push(row);
    Ok(())
}

fn part_trap_gvisor(b: &mut Bench, sb: &Sandbox) -> Result<()> {
    eprintln!("bench: trapped call in gVisor");
    let (iters, batches) = (b.p.trap_iters.to_string(), b.p.trap_batches.to_string());
    let bin = format!("{}/{TRAP_BIN}", sb.opt);
    let lib = format!("{}/libgvnet.so", sb.opt);
    let mut run = |b: &mut Bench, with: bool| -> Result<String> {
        let mut argv: Vec<String> = Vec::new();
        if with {
            argv.push("env".into());
            argv.extend(trap_env(&lib).iter().map(|(k, v)| format!("{k}={v}")));
        }
        argv.extend([bin.clone(), iters.clone(), batches.clone()]);
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = b.exec(sb, &refs, Duration::from_secs(300))?;
        if !out.ok() {
            bail!("trapbench-go in gVisor: {}", out.describe());
        }
        Ok(out.stdout)
    };
    trap_compare(b, "gVisor", false, &mut run)
}

// ---------------------------------------------------------------------------------------------
// Part 4: events: latency from a link change to its delivery, idle cost of a subscription.

/// Builds tests/bench/evbench.c (dynamically linked: it runs under LD_PRELOAD) into `dir`.
fn build_evbench(dir: &Path) -> Result<PathBuf> {
    let bin = dir.join("evbench");
    let out = util::capture(
        Command::new("gcc")
            .args(["-O2", "-o"])
            .arg(&bin)
            .arg(EV_SRC),
        Duration::from_secs(120),
    )?;
    if !out.ok() {
        bail!("gcc evbench.c: {}", out.combined());
    }
    Ok(bin)
}

/// The host pid of a runsc sandbox (`runsc state`), None for a direct one.
fn sandbox_host_pid(sb: &Sandbox) -> Option<u32> {
    let sandbox::Kind::Runsc { runsc, root, id } = &sb.kind else {
        return None;
    };
    let out = util::capture(
        Command::new(runsc)
            .arg(format!("--root={}", root.display()))
            .args(["state", id]),
        Duration::from_secs(20),
    )
    .ok()?;
    let at = out.stdout.find("\"pid\":")?;
    out.stdout[at + 6..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system, clock ticks) of `root` and all its descendants on the host.
fn tree_cpu_ticks(root: u32) -> u64 {
    let mut procs: Vec<(u32, u32, u64)> = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After ')': state(0) ppid(1) ... utime(11) stime(12).
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            procs.push((pid, num(1) as u32, num(11) + num(12)));
        }
    }
    let mut set = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for &(pid, ppid, _) in &procs {
            if set.contains(&ppid) && !set.contains(&pid) {
                set.push(pid);
                grew = true;
            }
        }
    }
    procs
        .iter()
        .filter(|p| set.contains(&p.0))
        .map(|p| p.2)
        .sum()
}

/// One latency comparison: evbench with `count` MTU changes sent `how` (`kick`: through libc,
/// seen by gvnet; `raw`: a raw syscall, unseen), `gap_ms` after the previous event arrived, on
/// the host kernel without gvnet (A) and in gVisor under the preload (B).
fn event_latency(
    b: &mut Bench,
    sb: &Sandbox,
    bin: &Path,
    count: usize,
    how: &str,
    gap_ms: u64,
) -> Result<(Vec<f64>, Vec<f64>, f64)> {
    let n = count.to_string();
    let gap = gap_ms.to_string();
    let ev = format!("{}/evbench", sb.opt);
    let lib = format!("LD_PRELOAD={}/libgvnet.so", sb.opt);
    // Linux itself, on the host, without gvnet: the reference.
    let host = util::capture(
        Command::new("unshare")
            .arg("-n")
            .arg(bin)
            .args([n.as_str(), "0", how, gap.as_str()]),
        Duration::from_secs(600),
    )?;
    b.note(&format!(
        "host evbench {how} gap {gap_ms} ms: {}",
        host.combined()
    ));
    // Samples in ns, as cmp_row's "ms" unit expects.
    let linux: Vec<f64> = parse_lines(&host.stdout, "latency_us")
        .iter()
        .map(|x| x.0 * 1000.0)
        .collect();
    let out = b.exec(
        sb,
        &[
            "unshare",
            "-n",
            "env",
            &lib,
            "GVNET_LOG=warn",
            &ev,
            &n,
            "0",
            how,
            &gap,
        ],
        Duration::from_secs(900),
    )?;
    let gv: Vec<f64> = parse_lines(&out.stdout, "latency_us")
        .iter()
        .map(|x| x.0 * 1000.0)
        .collect();
    if gv.is_empty() {
        bail!(
            "evbench {how} in gVisor printed no latency: {}",
            out.combined()
        );
    }
    let missed = parse_lines(&out.stdout, "missed_total")
        .first()
        .map_or(0.0, |x| x.0);
    Ok((linux, gv, missed))
}

/// One latency row: Linux (A) against gvnet in gVisor (B), target p99 <= 20 ms and no event
/// missed; `how` says how the changes were made.
fn latency_row(b: &mut Bench, what: &str, how: &str, (linux, gv, missed): (&[f64], &[f64], f64)) {
    let (mut row, sa, sg) = cmp_row(
        what,
        "A: Linux (host, no gvnet); B: gvnet in gVisor",
        linux,
        gv,
        "ms",
    );
    row.target = "B p99 <= 20 ms".into();
    row.result = verdict(sg.p99 <= 20e6 && missed == 0.0);
    row.note = Some(format!(
        "{} MTU changes {how}; B p99 {:.2} ms (A p99 {:.3} ms); {missed} events missed",
        gv.len(),
        sg.p99 / 1e6,
        sa.p99 / 1e6
    ));
    b.rows.push(row);
}

fn part_events(b: &mut Bench, sb: &Sandbox, bin: &Path) -> Result<()> {
    eprintln!("bench: event delivery");
    let ev = format!("{}/evbench", sb.opt);
    let lib = format!("LD_PRELOAD={}/libgvnet.so", sb.opt);
    let (linux, gv, missed) = event_latency(b, sb, bin, b.p.events, "kick", 0)?;
    latency_row(
        b,
        "event delivery: link change by a gvnet process -> subscriber",
        "each sent through libc under the preload, so gvnet kicks the monitors as it does for dockerd's own changes",
        (&linux, &gv, missed),
    );
    let gap = 1000;
    let (linux, gv, missed) = event_latency(b, sb, bin, b.p.quiet_events, "raw", gap)?;
    latency_row(
        b,
        "event delivery: link change by a process without gvnet, quiet namespace",
        &format!(
            "sent as raw syscalls (invisible to gvnet, as from a program without it), {gap} ms apart: nothing kicks the monitor, whose timer has backed off to GVNET_EVENT_IDLE_MS ({} ms by default) by then",
            gvnet_core::monitor::IDLE_MS
        ),
        (&linux, &gv, missed),
    );

    // Idle cost: the sandbox's CPU on the host while a subscriber waits, events off (A) and on
    // (B), interleaved.
    let Some(pid) = sandbox_host_pid(sb) else {
        bail!("no host pid for the sandbox (runsc state)");
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc_sysconf_clk_tck() } as f64;
    let secs = 10u64;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    // dockerd, containerd and gvnet-dockerd's watch loop cost 10-15% of a core here and vary by
    // more than the budget between rounds: they are stopped (SIGSTOP) while the rounds run, so
    // the sandbox holds only the subscriber, and continued afterwards.
    let stop = "for d in /proc/[0-9]*; do p=${d#/proc/}; [ \"$p\" -gt 1 ] && [ \"$p\" != $$ ] && kill -STOP \"$p\" 2>/dev/null; done; true";
    b.sh(sb, stop, Duration::from_secs(30))?;
    let rounds = (|| -> Result<()> {
        for round in 0..b.p.idle_rounds * 2 {
            let events_on = round % 2 == 1;
            let sbc = sb.clone();
            let (ev2, lib2) = (ev.clone(), lib.clone());
            let flag = if events_on {
                "GVNET_EVENTS=on"
            } else {
                "GVNET_EVENTS=off"
            };
            let idle = (secs + 3).to_string();
            let child = std::thread::spawn(move || {
                sbc.exec(
                    &[
                        "unshare",
                        "-n",
                        "env",
                        &lib2,
                        flag,
                        "GVNET_LOG=warn",
                        &ev2,
                        "0",
                        &idle,
                    ],
                    Duration::from_secs(120),
                )
            });
            std::thread::sleep(Duration::from_secs(2));
            let c0 = tree_cpu_ticks(pid);
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs(secs));
            let pct = 100.0 * (tree_cpu_ticks(pid) - c0) as f64 / hz / t0.elapsed().as_secs_f64();
            let res = child
                .join()
                .map_err(|_| "idle subscriber thread panicked")??;
            b.note(&format!(
                "idle round {round} ({flag}): sandbox {pct:.3}% of a core; {}",
                res.combined().trim()
            ));
            if events_on {
                on.push(pct);
            } else {
                off.push(pct);
            }
        }
        Ok(())
    })();
    b.sh(
        sb,
        "for d in /proc/[0-9]*; do kill -CONT \"${d#/proc/}\" 2>/dev/null; done; true",
        Duration::from_secs(30),
    )?;
    rounds?;
    let (mut row, so, son) = cmp_row(
        "idle subscription: sandbox CPU on the host",
        "A: GVNET_EVENTS=off; B: on (default settings)",
        &off,
        &on,
        "% core",
    );
    let extra = son.median - so.median;
    row.target = "B - A <= 0.5% of a core".into();
    row.result = verdict(extra <= 0.5);
    row.note = Some(format!(
        "one subscriber to RTNLGRP_LINK in a namespace with lo and a veth pair; all processes of the sandbox counted ({secs} s per round), dockerd, containerd and gvnet-dockerd stopped (SIGSTOP) meanwhile; B - A = {extra:.2}% of a core"
    ));
    b.rows.push(row);
    Ok(())
}

extern "C" {
    #[link_name = "sysconf"]
    fn libc_sysconf(name: i32) -> i64;
}

/// `sysconf(_SC_CLK_TCK)`.
///
/// # Safety
/// None beyond calling libc.
unsafe fn libc_sysconf_clk_tck() -> i64 {
    // SAFETY: _SC_CLK_TCK is 2 on Linux; sysconf only reads configuration.
    unsafe { libc_sysconf(2) }
}

// ---------------------------------------------------------------------------------------------
// Part 3: the inherited filter, a syscall-heavy loop in a container.

fn part_loop(b: &mut Bench, with: &Sandbox, without: &Sandbox) -> Result<()> {
    let reps = b.p.loop_reps;
    eprintln!("bench: inherited filter, {reps} containers each side, alternating sandboxes");
    let kinds = [
        ("getppid", "getppid(2)"),
        ("read", "read(2) 64 B of /dev/zero"),
        ("udp", "UDP sendto+recv, 32 B, loopback"),
    ];
    let mut a: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let mut g: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let iters = b.p.loop_iters.to_string();
    for r in 0..reps {
        for (sb, v) in [(without, &mut a), (with, &mut g)] {
            let bin = format!("{}/loopbench:/b:ro", sb.opt);
            let out = b.exec(
                sb,
                &[
                    "docker",
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "-v",
                    &bin,
                    "bb",
                    "/b",
                    &iters,
                ],
                Duration::from_secs(300),
            )?;
            if !out.ok() {
                bail!(
                    "loopbench in a container ({}): {}: {}",
                    sb.mode.name(),
                    out.describe(),
                    out.combined()
                );
            }
            for (i, (k, _)) in kinds.iter().enumerate() {
                match parse_lines(&out.stdout, k).first() {
                    Some((x, _)) => v[i].push(*x),
                    None => bail!("loopbench printed no {k} line: {}", out.stdout),
                }
            }
        }
        eprint!("\r  {}/{reps}", r + 1);
    }
    eprintln!();
    // Only the UDP loop issues calls gvnet's filters name (sendto; recvfrom once the receive
    // layer is in): their verdicts cannot be cached.
    let k_named = |i: usize| kinds[i].0 == "udp";
    for (i, (_, what)) in kinds.iter().enumerate() {
        let (mut row, sa, sg) = cmp_row(
            &format!("inherited filter: {what} in a container"),
            "A: dockerd without gvnet; B: dockerd with gvnet",
            &a[i],
            &g[i],
            "ns",
        );
        let apart = (sg.median / sa.median - 1.0).abs();
        row.target = "at most 2% apart".into();
        row.result = verdict(apart <= 0.02);
        if apart > 0.02 && sg.median > sa.median {
            row.note = Some(format!(
                "{:.1}% apart; {}",
                apart * 100.0,
                if k_named(i) {
                    "sendto (and recvfrom, once dockerd has subscribed) is named by gvnet's inherited filters, so gVisor cannot cache its verdict per syscall number and interprets every filter of the container on each call, Docker's default profile included (docs/design.md, The seccomp filter)"
                } else {
                    "gvnet's filters read only the number of this call, so gVisor answers it from its per-number verdict cache as without gvnet: the gap is not the filter's work"
                }
            ));
        } else if apart > 0.02 {
            row.note = Some(format!(
                "{:.1}% apart, but B (with gvnet's filter) is the faster side: the filter can only add work, so this spread is noise between the two sandboxes, not a cost of gvnet",
                apart * 100.0
            ));
        }
        b.rows.push(row);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Part 5: scale.

/// dockerd's VmRSS (KiB) and open fds, 2 s after the last command; the RSS breakdown
/// (RssAnon, RssFile) goes to the log.
fn dockerd_status(b: &mut Bench, sb: &Sandbox) -> Result<(f64, usize)> {
    let out = b.sh(
        sb,
        "sleep 2; p=$(cat /run/gvnet-dockerd/dockerd.pid); grep -E '^(VmRSS|RssAnon|RssFile|RssShmem):' /proc/$p/status; echo fds $(ls /proc/$p/fd | wc -l)",
        Duration::from_secs(30),
    )?;
    let rss = parse_lines(&out.stdout, "VmRSS:")
        .first()
        .map(|x| x.0)
        .ok_or_else(|| util::Error(format!("no VmRSS for dockerd: {}", out.combined())))?;
    let fds = parse_lines(&out.stdout, "fds")
        .first()
        .map(|x| x.0 as usize)
        .ok_or_else(|| util::Error(format!("no fd count for dockerd: {}", out.combined())))?;
    Ok((rss, fds))
}

/// Starts `total` containers `parallel` at a time; returns (failures, seconds).
fn start_many(b: &mut Bench, sb: &Sandbox, net: &str) -> Result<(usize, f64)> {
    let (total, par) = (b.p.containers, b.p.parallel.max(1));
    let t = Instant::now();
    let mut fails = 0;
    let mut i = 0;
    while i < total {
        let hi = (i + par).min(total);
        let script = format!(
            "for i in $(seq {i} {last}); do (docker run -d --network {net} --name bench-$i bb sleep 2147483647 >/dev/null 2>/tmp/bench-err-$i; echo \"rc $? $i\"; cat /tmp/bench-err-$i) & done; wait",
            last = hi - 1
        );
        let out = b.sh(sb, &script, Duration::from_secs(600))?;
        let ok = parse_lines(&out.stdout, "rc")
            .iter()
            .filter(|(rc, _)| *rc == 0.0)
            .count();
        fails += (hi - i) - ok;
        i = hi;
        eprint!("\r  {} ({net}): {i}/{total}", sb.mode.name());
    }
    eprintln!();
    Ok((fails, t.elapsed().as_secs_f64()))
}

fn part_scale(b: &mut Bench, with: &Sandbox, without: &Sandbox) -> Result<()> {
    let p = b.p.clone();
    eprintln!(
        "bench: scale, {} containers {} at a time, then {} create/remove cycles",
        p.containers, p.parallel, p.cycles
    );
    let (idle_g, idle_n) = b.idle_rss;

    let out = b.exec(
        with,
        &["docker", "network", "create", "benchnet"],
        Duration::from_secs(60),
    )?;
    if !out.ok() {
        bail!("docker network create benchnet: {}", out.combined());
    }
    let (fails, secs) = start_many(b, with, "benchnet")?;
    let running = b.sh(with, "docker ps -q | wc -l", Duration::from_secs(60))?;
    let (rss_g, _) = dockerd_status(b, with)?;
    b.rows.push(Row {
        what: format!(
            "{} containers on one user-defined network, {} at a time (`docker run -d`)",
            p.containers, p.parallel
        ),
        sides: "gvnet".into(),
        a: "-".into(),
        b: format!(
            "{fails} failed, {} running, {secs:.0} s",
            running.stdout.trim()
        ),
        ratio: "-".into(),
        target: "0 failures".into(),
        result: verdict(fails == 0),
        note: None,
    });

    // Without gvnet, bridge containers cannot start (link-update subscription refused):
    // the same number of containers, on `--network none`.
    let (fails_n, _) = start_many(b, without, "none")?;
    let (rss_n, _) = dockerd_status(b, without)?;
    let mib = |kib: f64| format!("{:.1} MiB", kib / 1024.0);
    for (what, n, g, note) in [
        (
            "dockerd VmRSS, idle (right after start and `docker import`, before any part)",
            idle_n,
            idle_g,
            None,
        ),
        (
            &*format!("dockerd VmRSS, {} containers up", p.containers),
            rss_n,
            rss_g,
            Some(format!(
                "not the same workload: with gvnet the containers are on a user-defined network; without gvnet they cannot be (dockerd fails with `{}`), so they run with `--network none` ({fails_n} failed); and the gvnet sandbox had also run the container-start and trapped-call parts before",
                check::EXPECTED_NO_PRELOAD
            )),
        ),
    ] {
        let diff = (g - n) / 1024.0;
        b.rows.push(Row {
            what: what.into(),
            sides: "A: without gvnet; B: with gvnet".into(),
            a: mib(n),
            b: mib(g),
            ratio: format!("{:.3}", g / n),
            target: "at most 1 MiB apart".into(),
            result: format!("{} ({diff:+.1} MiB)", verdict(diff.abs() <= 1.0)),
            note,
        });
    }

    Ok(())
}

/// dockerd's fds before and after create/remove cycles, with gvnet, containers on the default
/// bridge, in a fresh sandbox (gVisor's keyring quota limits containers per sandbox).
fn part_fds(b: &mut Bench, with: &Sandbox) -> Result<()> {
    let p = b.p.clone();
    // One untimed run first, so connections dockerd opens lazily are already there.
    b.sh(
        with,
        "docker run --rm bb true >/dev/null 2>&1",
        Duration::from_secs(120),
    )?;
    let (_, fds_before) = dockerd_status(b, with)?;
    let t = Instant::now();
    let mut fails = 0;
    let mut done = 0;
    while done < p.cycles {
        let k = (p.cycles - done).min(20);
        let out = b.sh(
            with,
            &format!("f=0; for i in $(seq {k}); do docker run --rm bb true >/dev/null 2>&1 || f=$((f+1)); done; echo \"failed $f\""),
            Duration::from_secs(1200),
        )?;
        fails += parse_lines(&out.stdout, "failed")
            .first()
            .map(|x| x.0 as usize)
            .unwrap_or(k);
        done += k;
        eprint!("\r  cycles: {done}/{}", p.cycles);
    }
    eprintln!();
    let secs = t.elapsed().as_secs_f64();
    let (_, fds_after) = dockerd_status(b, with)?;
    b.rows.push(Row {
        what: format!(
            "dockerd open fds, before/after {} `docker run --rm bb true` (default bridge)",
            p.cycles
        ),
        sides: "gvnet".into(),
        a: format!("{fds_before} before"),
        b: format!("{fds_after} after"),
        ratio: "-".into(),
        target: "after = before".into(),
        result: verdict(fds_after == fds_before && fails == 0),
        note: Some(format!(
            "in a fresh gvnet sandbox; {fails} of the runs failed (a failure's reason is in bench.log and dockerd.log); {secs:.0} s"
        )),
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Machine, versions, report.

fn first_line(cmd: &mut Command) -> String {
    util::capture(cmd, Duration::from_secs(30))
        .ok()
        .filter(|o| o.ok())
        .and_then(|o| o.stdout.lines().next().map(|l| l.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mem = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    vec![
        ("cpu".into(), model),
        ("cores".into(), cores),
        ("memory".into(), mem),
        ("kernel".into(), kernel),
    ]
}

fn gvnet_version() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let describe = first_line(
        Command::new("git").args(["-C", dir, "describe", "--always", "--dirty", "--tags"]),
    );
    let commit = first_line(Command::new("git").args(["-C", dir, "rev-parse", "HEAD"]));
    format!("{describe} (commit {commit})")
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| measurement | sides | A median / p95 | B median / p95 | B/A | target | result |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.what, r.sides, r.a, r.b, r.ratio, r.target, r.result
        );
    }
    s
}

fn notes(rows: &[Row]) -> String {
    let mut s = String::new();
    for r in rows {
        if let Some(n) = &r.note {
            let _ = writeln!(s, "- **{}**: {n}", r.what);
        }
    }
    s
}

fn report(
    b: &Bench,
    versions: &[(String, String)],
    started: &str,
    secs: f64,
    cmdline: &str,
) -> String {
    let p = &b.p;
    let mut s = String::from("# gvnet performance\n\nGenerated by `make bench` (");
    let _ = writeln!(
        s,
        "`{cmdline}`), started {started} UTC, took {:.0} s. Every figure below was measured in that run; nothing is carried over or estimated.\n",
        secs
    );
    s.push_str("## Machine and versions\n\n| | |\n|---|---|\n");
    for (k, v) in machine().iter().chain(versions) {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    s.push_str("\n## Results\n\nMedian and p95 are nearest-rank over all samples of a side; B/A is median B over median A. Both sides of every comparison were run interleaved in the same run (A, B, A, B, ...).\n\n");
    s.push_str(&table(&b.rows));
    let n = notes(&b.rows);
    if !n.is_empty() {
        s.push_str("\nNotes on the rows:\n\n");
        s.push_str(&n);
    }
    let _ = write!(
        s,
        r#"
## How each part is measured

Two sandboxes run side by side for the whole bench, both built by the harness exactly as for
`gvnet-harness check` (runsc `--network=none --net-raw`, dockerd with vfs, trixie's runc): one
with dockerd under `LD_PRELOAD=libgvnet.so`, one without. dockerd's gvnet log level is `info`
here (the harness default is `trace`) unless `GVNET_LOG` is set when the bench starts.

1. **Container start**: in the gvnet sandbox, `docker run --rm bb true` on the default bridge
   (B) against `docker run --rm --network host bb true` (A), {starts} runs each, alternating,
   after one untimed warm-up of each. Timed inside the sandbox with `date +%s%N` around the
   `docker run`, so the `runsc exec` that launches it is not counted.
2. **Trapped call**: `tests/bench/trapbench-go` (cgo, built with the host's Go) times
   {iters} raw `getsockname` calls on a UDP socket (trapped from Go's syscall site and passed
   through to the kernel by the SIGSYS handler) and {iters} `setsockopt(SOL_NETLINK,
   NETLINK_ADD_MEMBERSHIP)` calls (trapped and emulated), {batches} batches per process. It runs
   without the library (A) and with `LD_PRELOAD=libgvnet.so GVNET_MODE=force
   GVNET_TARGETS=trapbench-go GVNET_LOG=off` (B), {rounds} processes each, alternating; one sample
   is the mean ns per call of one batch. On the host kernel it runs directly; in gVisor it runs
   in the gvnet sandbox (`runsc exec`, not in a container), staged in `/opt/gvnet`. The call
   results are in the notes: in gVisor without gvnet the membership is refused (ENOPROTOOPT),
   which is the failure gvnet exists to fix, so A there is the cost of a refusal. The floor:
   `tests/bench/sigsysfloor.c` (static C) times the same getsockname untrapped (A) and trapped
   by a one-rule filter with a SIGSYS handler that only sets the result (B), on the host, with
   the same counts: what the kernel alone charges for a trapped call on this machine.
3. **Inherited filter**: `tests/bench/loopbench.c` (static, `gcc -static`) in a `--network none`
   container, {reps} containers per side, alternating between the sandbox without gvnet (A) and
   the one with gvnet (B); each container does {loop_iters} `getppid`, {loop_iters} 64-byte reads
   of /dev/zero and {udp} UDP send+receive round trips on loopback and reports ns per iteration.
4. **Events**: `tests/bench/evbench.c` (dynamic C, so it runs under the preload) in a fresh
   network namespace (`unshare -n`) with a veth pair: a socket subscribed to RTNLGRP_LINK, and
   gvb0's MTU changed by an acknowledged RTM_NEWLINK from a second socket; the time from the
   send to the event's arrival is one sample. A is Linux on the host without gvnet; B is the
   gvnet sandbox with `LD_PRELOAD=libgvnet.so`. Two ways: {events} changes back to back, sent
   through libc (gvnet sees them: a change by a gvnet process, which kicks the monitors, as
   dockerd's do); and {quiet} changes 1 s apart sent as raw syscalls (unseen by gvnet: a change
   by a process without it, found by the monitor's timer once it has backed off). Idle cost:
   evbench subscribed and idle in the gvnet sandbox, {idle_rounds} rounds each of
   `GVNET_EVENTS=off` (A) and on (B), alternating; one sample is the CPU time (utime+stime, from
   the host's /proc) of the whole runsc sandbox over 10 s, in percent of one core, while every
   other process of the sandbox (dockerd, containerd, gvnet-dockerd) is stopped with SIGSTOP:
   they cost 10-15% of a core and vary between rounds by more than the budget. gVisor's own
   getrusage is not used: it is tick-sampled and charges sleeping threads.
5. **Scale**: in the gvnet sandbox, {containers} containers (`docker run -d ... sleep`) on one
   user-defined network, {parallel} started in parallel at a time; failures counted. dockerd's
   VmRSS (`/proc/<pid>/status`, pid from `/run/gvnet-dockerd/dockerd.pid`) is read in both sandboxes right after start, and again after the
   containers are up (the sandbox without gvnet runs the same number of containers with
   `--network none`: a user-defined network does not work there); RssAnon/RssFile are in
   `bench.log`. The idle figures are read right after both sandboxes came up, before any part.
   Then, in a fresh gvnet sandbox (gVisor refuses a container's session keyring with EDQUOT
   after about 200 containers in one sandbox, measured in an earlier run of this bench), one
   untimed `docker run --rm bb true` runs, and dockerd's open fds (`ls /proc/<pid>/fd | wc -l`, 2 s after the last command) are counted
   before and after {cycles} `docker run --rm bb true` on the default bridge.

Parameters of this run: `--starts {starts} --trap-iters {iters} --trap-batches {batches}
--trap-rounds {rounds} --loop-iters {loop_iters} --loop-reps {reps} --containers {containers}
--parallel {parallel} --cycles {cycles} --events {events} --quiet-events {quiet} --idle-rounds
{idle_rounds}`. The commands and raw outputs are in the run's
`bench.log` under the harness cache (`runs/<time>-bench-preload/`).
"#,
        starts = p.starts,
        iters = p.trap_iters,
        batches = p.trap_batches,
        rounds = p.trap_rounds,
        reps = p.loop_reps,
        loop_iters = p.loop_iters,
        udp = (p.loop_iters / 10).max(1),
        containers = p.containers,
        parallel = p.parallel,
        cycles = p.cycles,
        events = p.events,
        quiet = p.quiet_events,
        idle_rounds = p.idle_rounds,
    );
    s
}

const USAGE: &str = "bench [--lib PATH] [--out FILE] [--only PART[,PART..]] [--starts N] [--trap-iters N] [--trap-batches N] [--trap-rounds N] [--loop-iters N] [--loop-reps N] [--containers N] [--parallel N] [--cycles N] [--events N] [--quiet-events N] [--idle-rounds N]";

fn parse(args: Vec<String>) -> Result<(Params, Option<PathBuf>, PathBuf, Vec<String>)> {
    let mut p = Params::default();
    let mut lib = None;
    let mut out = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/performance.md"
    ));
    let mut only: Vec<String> = PARTS.iter().map(|s| s.to_string()).collect();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| util::Error(format!("{a} needs a value")))
        };
        let num = |v: String| -> Result<usize> {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| util::Error(format!("{a}: '{v}' is not a positive number")))
        };
        match a.as_str() {
            "--lib" => lib = Some(PathBuf::from(val()?)),
            "--out" => out = PathBuf::from(val()?),
            "--only" => {
                only = val()?.split(',').map(str::to_string).collect();
                if let Some(x) = only.iter().find(|x| !PARTS.contains(&x.as_str())) {
                    bail!("--only: no part '{x}' (have: {})", PARTS.join(", "));
                }
            }
            "--starts" => p.starts = num(val()?)?,
            "--trap-iters" => p.trap_iters = num(val()?)?,
            "--trap-batches" => p.trap_batches = num(val()?)?,
            "--trap-rounds" => p.trap_rounds = num(val()?)?,
            "--loop-iters" => p.loop_iters = num(val()?)?,
            "--loop-reps" => p.loop_reps = num(val()?)?,
            "--containers" => p.containers = num(val()?)?,
            "--parallel" => p.parallel = num(val()?)?,
            "--cycles" => p.cycles = num(val()?)?,
            "--events" => p.events = num(val()?)?,
            "--idle-rounds" => p.idle_rounds = num(val()?)?,
            "--quiet-events" => p.quiet_events = num(val()?)?,
            other => bail!("bench: unexpected argument '{other}'; usage: {USAGE}"),
        }
    }
    Ok((p, lib, out, only))
}

fn start_sandbox(tb: &Testbed, mode: Mode, lib: &Path, stage: &[&Path]) -> Result<Sandbox> {
    let run_dir = sandbox::new_run_dir(&format!("bench-{}", mode.name()))?;
    sandbox::prepare_run_dir(&run_dir, mode, lib, &tb.bb_tar())?;
    for f in stage {
        let name = f.file_name().ok_or("staged file without a name")?;
        fs::copy(f, run_dir.join("opt").join(name))
            .with_ctx(|| format!("cannot stage {}", f.display()))?;
    }
    let id = format!("gvnet-bench-{}-{}", std::process::id(), mode.name());
    sandbox::start(&run_dir, mode, Some(tb), &id)
}

pub fn run(args: Vec<String>) -> Result<i32> {
    let cmdline = std::iter::once("gvnet-harness bench".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let (p, lib, out_file, only) = parse(args)?;
    let lib = lib.unwrap_or_else(sandbox::default_lib);
    let started = util::timestamp();
    let t0 = Instant::now();
    if sandbox::in_gvisor() {
        bail!("bench runs on the host: it starts two gVisor sandboxes side by side and times the host kernel too");
    }
    let tb = sandbox::testbed_for_run(false)?.ok_or("no testbed")?;
    sandbox::clean_old_runs(Some(&tb), 30, None);
    if std::env::var_os("GVNET_LOG").is_none() {
        std::env::set_var("GVNET_LOG", "info");
    }

    // The programs, built on the host.
    let scratch = sandbox::new_run_dir("bench-build")?;
    let trap_bin = build_trapbench(&scratch)?;
    let loop_bin = build_loopbench(&scratch)?;
    let ev_bin = build_evbench(&scratch)?;
    let stage = [trap_bin.as_path(), loop_bin.as_path(), ev_bin.as_path()];

    let with = start_sandbox(&tb, Mode::Preload, &lib, &stage)?;
    let mut guard = Sandboxes(vec![with.clone()]);
    let without = start_sandbox(&tb, Mode::NoPreload, &lib, &stage)?;
    guard.0.push(without.clone());
    println!(
        "bench: sandboxes up: {} and {}",
        with.run_dir.display(),
        without.run_dir.display()
    );

    let mut versions = vec![(
        "gVisor (runsc)".to_string(),
        first_line(Command::new(tb.runsc()).arg("--version")),
    )];
    let dv = with.exec(&["dockerd", "--version"], Duration::from_secs(30))?;
    versions.push((
        "Docker (dockerd, in the sandbox)".into(),
        dv.stdout.trim().to_string(),
    ));
    versions.push((
        "Go (builds trapbench-go)".into(),
        first_line(Command::new("go").arg("version")),
    ));
    versions.push(("gvnet".into(), gvnet_version()));

    let log = fs::File::create(with.run_dir.join("bench.log")).ctx("bench.log")?;
    let mut b = Bench {
        p,
        idle_rss: (f64::NAN, f64::NAN),
        rows: Vec::new(),
        log,
    };
    b.idle_rss = (
        dockerd_status(&mut b, &with)?.0,
        dockerd_status(&mut b, &without)?.0,
    );
    let part = |name: &str| only.iter().any(|o| o == name);
    let skipped = "not selected in this run (--only)";

    let mut failures: Vec<String> = Vec::new();
    macro_rules! attempt {
        ($what:expr, $e:expr) => {
            if let Err(e) = $e {
                eprintln!("bench: {} failed: {e}", $what);
                b.note(&format!("{} failed: {e}", $what));
                b.rows
                    .push(not_measured($what, &format!("the run failed: {e}")));
                failures.push($what.to_string());
            }
        };
    }
    if part("start") {
        attempt!("container start", part_start(&mut b, &with));
    } else {
        b.rows.push(not_measured("container start", skipped));
    }
    if part("trap") {
        attempt!(
            "trapped call, host kernel",
            part_trap_host(&mut b, &trap_bin, &lib)
        );
        attempt!(
            "SIGSYS round trip alone, host kernel",
            part_trap_floor(&mut b, &scratch)
        );
        attempt!("trapped call, gVisor", part_trap_gvisor(&mut b, &with));
    } else {
        b.rows.push(not_measured("trapped call", skipped));
    }
    if part("loop") {
        attempt!("inherited filter", part_loop(&mut b, &with, &without));
    } else {
        b.rows.push(not_measured("inherited filter", skipped));
    }
    if part("events") {
        attempt!("event delivery", part_events(&mut b, &with, &ev_bin));
    } else {
        b.rows.push(not_measured("event delivery", skipped));
    }
    if part("scale") {
        attempt!("scale", part_scale(&mut b, &with, &without));
        drop(guard);
        match start_sandbox(&tb, Mode::Preload, &lib, &stage) {
            Ok(fresh) => {
                let _g = Sandboxes(vec![fresh.clone()]);
                attempt!("dockerd open fds", part_fds(&mut b, &fresh));
            }
            Err(e) => attempt!("dockerd open fds", Err::<(), _>(e)),
        }
    } else {
        drop(guard);
        b.rows.push(not_measured("scale", skipped));
    }

    println!("\n{}", table(&b.rows));
    print!("{}", notes(&b.rows));
    let text = report(
        &b,
        &versions,
        &started,
        t0.elapsed().as_secs_f64(),
        &cmdline,
    );
    util::write_file(&out_file, text)?;
    println!("\nwritten: {}", out_file.display());
    Ok(if failures.is_empty() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&s, 50.0), 10.0);
        assert_eq!(percentile(&s, 95.0), 19.0);
        assert_eq!(percentile(&s, 100.0), 20.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
        let st = stats(&[3.0, 1.0, 2.0]);
        assert_eq!((st.n, st.median, st.p95), (3, 2.0, 3.0));
    }

    #[test]
    fn parses_name_value_lines() {
        let t = "getsockname 360.5 ok\nadd_membership 12 92\nnoise\n";
        assert_eq!(parse_lines(t, "getsockname"), vec![(360.5, "ok")]);
        assert_eq!(parse_lines(t, "add_membership"), vec![(12.0, "92")]);
        assert!(parse_lines(t, "udp").is_empty());
    }

    #[test]
    fn options_and_defaults() {
        let (p, lib, _, only) = parse(vec![
            "--containers".into(),
            "20".into(),
            "--only".into(),
            "scale".into(),
        ])
        .unwrap();
        assert_eq!((p.containers, p.cycles, p.starts), (20, 150, 30));
        assert!(lib.is_none());
        assert_eq!(only, vec!["scale"]);
        assert!(parse(vec!["--cycles".into(), "0".into()]).is_err());
        assert!(parse(vec!["--only".into(), "nope".into()]).is_err());
    }
}
