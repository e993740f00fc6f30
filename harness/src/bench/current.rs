//! Parts `exec` (issue 18: what the library costs each process it is loaded into) and
//! `start-current` (issue 15: container start on current gVisor, gvnet against gVisor's own
//! native path).

use super::common::*;
use super::stats::*;
use crate::bail;
use crate::gvisor::{self, Runsc};
use crate::sandbox::{Mode, Sandbox};
use crate::testbed::Testbed;
use crate::util::{self, Result};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const EMPTY_SRC: &str = include_str!("../../../tests/bench/emptypreload.c");

/// The empty preload: tests/bench/emptypreload.c as `libempty.so` in `dir`.
pub(super) fn build_empty_preload(dir: &Path) -> Result<PathBuf> {
    let src = dir.join("emptypreload.c");
    util::write_file(&src, EMPTY_SRC)?;
    let lib = dir.join("libempty.so");
    let out = util::capture(
        Command::new("gcc")
            .args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o"])
            .arg(&lib)
            .arg(&src),
        Duration::from_secs(120),
    )?;
    if !out.ok() {
        bail!("gcc -shared emptypreload.c failed: {}", out.combined());
    }
    Ok(lib)
}

/// The variants of the exec part, in the order of every per-round array.
const EXEC_NAMES: [&str; 4] = ["none", "empty", "off", "default"];
const NONE: usize = 0;
const EMPTY: usize = 1;
const OFF: usize = 2;
const DEFAULT: usize = 3;

/// The environment in front of `/bin/true` for variant `v` (libraries staged in `opt`).
fn exec_prefix(v: usize, opt: &str) -> String {
    match v {
        NONE => String::new(),
        EMPTY => format!("LD_PRELOAD={opt}/libempty.so "),
        OFF => format!("LD_PRELOAD={opt}/libgvnet.so GVNET_MODE=off "),
        _ => format!("LD_PRELOAD={opt}/libgvnet.so "),
    }
}

/// One round: `n` execs of /bin/true per variant from a shell loop, the variants in turn from
/// `first`; one line `exec NAME TOTAL_NS FAILURES` each.
fn exec_script(opt: &str, n: usize, first: usize) -> String {
    let mut s = String::new();
    for k in 0..EXEC_NAMES.len() {
        let v = (first + k) % EXEC_NAMES.len();
        let _ = writeln!(
            s,
            "f=0; i=0; s=$(date +%s%N); while [ $i -lt {n} ]; do {p}/bin/true >/dev/null 2>&1 || f=$((f+1)); i=$((i+1)); done; e=$(date +%s%N); echo \"exec {name} $((e-s)) $f\"",
            p = exec_prefix(v, opt),
            name = EXEC_NAMES[v]
        );
    }
    s
}

/// A round's output as ms per exec for each variant (in [`EXEC_NAMES`] order) and the failed
/// execs; None unless every variant reported.
fn parse_exec_round(text: &str, n: usize) -> Option<([f64; 4], usize)> {
    let mut ms = [f64::NAN; 4];
    let mut fails = 0;
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 4 || f[0] != "exec" {
            continue;
        }
        let i = EXEC_NAMES.iter().position(|x| *x == f[1])?;
        ms[i] = f[2].parse::<f64>().ok()? / 1e6 / n as f64;
        fails += f[3].parse::<usize>().ok()?;
    }
    if ms.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some((ms, fails))
}

/// Per-round differences `rounds[i][b] − rounds[i][a]`: both ran in the same round, so a change
/// of load between rounds cancels.
fn round_diffs(rounds: &[[f64; 4]], a: usize, b: usize) -> Vec<f64> {
    rounds.iter().map(|r| r[b] - r[a]).collect()
}

/// `median / min..max ms (n=N)` of one variant over the rounds.
fn fmt_rounds(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.2} / {lo:.2}..{hi:.2} ms (n={})", median(v), v.len())
}

/// `+x.xx ms (range a..b[, 95% interval ...])` of per-round differences.
fn fmt_diffs(d: &[f64]) -> String {
    let lo = d.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = d.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ci = median_ci(d)
        .map(|(l, h, c)| {
            format!(
                ", 95% interval {l:+.2}..{h:+.2} (sign test, coverage {:.1}%)",
                c * 100.0
            )
        })
        .unwrap_or_default();
    format!("{:+.2} ms (range {lo:+.2}..{hi:+.2}{ci})", median(d))
}

/// `strace -c` output as (syscall, calls), the `total` line included.
fn parse_strace_counts(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // % time, seconds, usecs/call, calls, [errors], syscall
            if f.len() < 5 || f[0].parse::<f64>().is_err() {
                return None;
            }
            let calls = f[3].parse::<u64>().ok()?;
            Some((f[f.len() - 1].to_string(), calls))
        })
        .collect()
}

/// The calls of `b` that `a` lacks or has fewer of: `name +k`, most first.
fn strace_extra(a: &[(String, u64)], b: &[(String, u64)]) -> Vec<(String, i64)> {
    let count = |v: &[(String, u64)], n: &str| {
        v.iter()
            .find(|(k, _)| k == n)
            .map(|(_, c)| *c as i64)
            .unwrap_or(0)
    };
    let mut d: Vec<(String, i64)> = b
        .iter()
        .filter(|(k, _)| k != "total")
        .map(|(k, c)| (k.clone(), *c as i64 - count(a, k)))
        .filter(|(_, c)| *c != 0)
        .collect();
    d.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    d
}

/// What the constructor asks the host kernel, per mode: `strace -f -c` of `/bin/true`.
fn host_syscalls(b: &mut Bench, lib: &Path, empty: &Path, dir: &Path) -> Result<String> {
    if util::which("strace").is_none() {
        return Ok("not counted: no strace on the host".into());
    }
    let lib = lib.display().to_string();
    let empty = empty.display().to_string();
    let modes: [(&str, Vec<String>); 5] = [
        ("none", vec![]),
        ("empty", vec![format!("LD_PRELOAD={empty}")]),
        (
            "off",
            vec![format!("LD_PRELOAD={lib}"), "GVNET_MODE=off".into()],
        ),
        ("default", vec![format!("LD_PRELOAD={lib}")]),
        (
            "force",
            vec![format!("LD_PRELOAD={lib}"), "GVNET_MODE=force".into()],
        ),
    ];
    let mut counts = Vec::new();
    for (name, env) in &modes {
        let f = dir.join(format!("strace-{name}.txt"));
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-c", "-o"]).arg(&f);
        for e in env {
            cmd.arg("-E").arg(e);
        }
        // No GVNET_LOG_FILE: the library's lines would go nowhere (stderr is not a terminal).
        cmd.arg("/bin/true")
            .env_remove("GVNET_LOG")
            .env_remove("GVNET_LOG_FILE");
        let out = util::capture(&mut cmd, Duration::from_secs(60))?;
        let text = fs::read_to_string(&f).unwrap_or_default();
        b.note(&format!(
            "strace -c /bin/true ({name}; {}):\n{text}",
            out.describe()
        ));
        counts.push(parse_strace_counts(&text));
    }
    let total = |c: &[(String, u64)]| {
        c.iter()
            .find(|(k, _)| k == "total")
            .map(|(_, n)| *n as i64)
            .unwrap_or(-1)
    };
    let extra = |a: usize, b: usize| {
        strace_extra(&counts[a], &counts[b])
            .iter()
            .map(|(k, c)| format!("{k} {c:+}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(format!(
        "syscalls of one `/bin/true` on the host (Linux {}, `strace -f -c`): none {}, empty preload {}, GVNET_MODE=off {} (over the empty preload: {}), default {} (over off: {}; Linux accepts every probe, so the process stays passive), GVNET_MODE=force {} (over default: {})",
        fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        total(&counts[0]),
        total(&counts[1]),
        total(&counts[2]),
        extra(1, 2),
        total(&counts[3]),
        extra(2, 3),
        total(&counts[4]),
        extra(3, 4),
    ))
}

/// What the library file is: size, NEEDED entries, whether it has a symbol table.
fn lib_facts(lib: &Path) -> String {
    let size = fs::metadata(lib).map(|m| m.len()).unwrap_or(0);
    let dynamic = util::capture(
        Command::new("readelf").arg("-dS").arg(lib),
        Duration::from_secs(30),
    )
    .map(|o| o.stdout)
    .unwrap_or_default();
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    let debug = dynamic.contains(".debug_info");
    let symtab = dynamic.contains(".symtab");
    format!(
        "libgvnet.so here: {:.1} MiB, needs {}{}{}",
        size as f64 / 1048576.0,
        needed.join(", "),
        if symtab {
            ", not stripped"
        } else {
            ", stripped"
        },
        if debug { ", with debug info" } else { "" }
    )
}

/// A gVisor of the exec part: a sandbox without gvnet in dockerd, with libgvnet.so and the
/// empty preload staged, and its name for the table.
pub(super) struct ExecSide {
    pub name: String,
    pub sb: Sandbox,
}

/// Per gVisor of the exec part: its name and the default library's median cost over nothing
/// (ms per exec).
type ExecAdded = Vec<(String, f64)>;

/// Part exec: ms per exec of `/bin/true` from a shell loop in each sandbox of `sides`, for the
/// four variants, rounds interleaved across the variants (rotating which goes first) and the
/// gVisors. Returns the rows and, per side, the median added cost of the default library over
/// nothing (ms), for the start-current note.
pub(super) fn part_exec(
    b: &mut Bench,
    sides: &[ExecSide],
    lib: &Path,
    empty: &Path,
    dir: &Path,
) -> Result<(Vec<Row>, ExecAdded)> {
    let n = b.p.exec_count;
    let rounds = b.p.exec_rounds;
    eprintln!(
        "bench: exec cost, {n} execs per figure, {rounds} rounds, {} gVisor(s)",
        sides.len()
    );
    let mut decision = Vec::new();
    for s in sides {
        // Nothing else runs in the sandbox meanwhile: dockerd and its helpers are stopped.
        let stop = "for d in /proc/[0-9]*; do p=${d#/proc/}; [ \"$p\" -gt 1 ] && [ \"$p\" != $$ ] && kill -STOP \"$p\" 2>/dev/null; done; true";
        b.sh(&s.sb, stop, Duration::from_secs(30))?;
        let opt = s.sb.opt.clone();
        // Each preload must load: ld.so complains on stderr when it cannot.
        let check = format!(
            "LD_PRELOAD={opt}/libempty.so /bin/true; LD_PRELOAD={opt}/libgvnet.so GVNET_MODE=off /bin/true; LD_PRELOAD={opt}/libgvnet.so GVNET_LOG=info GVNET_LOG_FILE=/tmp/gvnet-exec.log /bin/true; cat /tmp/gvnet-exec.log"
        );
        let out = b.sh(&s.sb, &check, Duration::from_secs(60))?;
        if out.stderr.contains("cannot be preloaded") || !out.ok() {
            bail!("a preload did not load in {}: {}", s.name, out.combined());
        }
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains("kernel:") || l.contains(": waits in "))
            .map(|l| l.split_once("info: ").map(|x| x.1).unwrap_or(l).to_string())
            .unwrap_or_else(|| "no decision line".into());
        decision.push(line);
        // Warm-up: one short round, not counted.
        b.sh(&s.sb, &exec_script(&opt, 10, 0), Duration::from_secs(120))?;
    }
    let mut per: Vec<Vec<[f64; 4]>> = vec![Vec::new(); sides.len()];
    let mut fails = vec![0usize; sides.len()];
    let timeout = Duration::from_secs(120 + (n as u64) * 4 / 5);
    for r in 0..rounds {
        for k in 0..sides.len() {
            // Alternate which gVisor goes first, too.
            let i = (r + k) % sides.len();
            let s = &sides[i];
            let out = b.sh(&s.sb, &exec_script(&s.sb.opt, n, r % 4), timeout)?;
            let (ms, f) = parse_exec_round(&out.stdout, n).ok_or_else(|| {
                util::Error(format!("exec round {r} in {}: {}", s.name, out.combined()))
            })?;
            per[i].push(ms);
            fails[i] += f;
        }
        eprint!("\r  {}/{rounds}", r + 1);
    }
    eprintln!();
    let strace = host_syscalls(b, lib, empty, dir)?;
    let facts = lib_facts(lib);
    let mut rows = Vec::new();
    let mut added = Vec::new();
    for (i, s) in sides.iter().enumerate() {
        let rs = &per[i];
        let col = |v: usize| rs.iter().map(|r| r[v]).collect::<Vec<f64>>();
        let d_default = round_diffs(rs, EMPTY, DEFAULT);
        let d_off = round_diffs(rs, EMPTY, OFF);
        let d_empty = round_diffs(rs, NONE, EMPTY);
        let d_probe = round_diffs(rs, OFF, DEFAULT);
        added.push((s.name.clone(), median(&round_diffs(rs, NONE, DEFAULT))));
        let all = format!(
            "ms per exec of `/bin/true` from a shell loop ({n} per figure, {rounds} rounds, variants and gVisors interleaved; fork and the shell's loop included alike), median (min..max) over the rounds: nothing {}, empty preload {}, GVNET_MODE=off {}, default {}; per round, the empty preload over nothing {}, off over the empty preload {}, default over off (the probes and the decision) {}, default over the empty preload {}; {} execs failed; the library's line in this gVisor: `{}`",
            fmt_rounds(&col(NONE)),
            fmt_rounds(&col(EMPTY)),
            fmt_rounds(&col(OFF)),
            fmt_rounds(&col(DEFAULT)),
            fmt_diffs(&d_empty),
            fmt_diffs(&d_off),
            fmt_diffs(&d_probe),
            fmt_diffs(&d_default),
            fails[i],
            decision[i],
        );
        let ratio = |a: usize, bb: usize| format!("{:.3}", median(&col(bb)) / median(&col(a)));
        let extra = median(&d_default);
        let met = extra <= 0.5 && fails[i] == 0;
        let why = if met {
            String::new()
        } else {
            format!(
                ". Why: GVNET_MODE=off (a constructor that returns at once) already adds {:+.2} ms over the empty preload: the load of the object itself ({facts}: ld.so opens, maps and relocates it in every exec, each a file and mmap call through gVisor); the default settings add {:+.2} ms more over off (reading the settings and, where the process makes a netlink call, the probes: `/bin/true` makes none; {strace})",
                median(&d_off),
                median(&d_probe),
            )
        };
        rows.push(Row {
            what: format!("exec of `/bin/true`, {}: the library above an empty preload", s.name),
            sides: "A: empty C preload (constructor only); B: libgvnet.so, default settings (probes included)".into(),
            a: fmt_rounds(&col(EMPTY)),
            b: fmt_rounds(&col(DEFAULT)),
            ratio: ratio(EMPTY, DEFAULT),
            target: "B − A ≤ 0.5 ms (median of per-round differences)".into(),
            result: if met {
                format!("met ({extra:+.2} ms)")
            } else {
                format!("target missed ({extra:+.2} ms)")
            },
            note: Some(format!("{all}{why}")),
        });
        rows.push(Row {
            what: format!(
                "exec of `/bin/true`, {}: GVNET_MODE=off above an empty preload",
                s.name
            ),
            sides: "A: empty C preload; B: libgvnet.so, GVNET_MODE=off".into(),
            a: fmt_rounds(&col(EMPTY)),
            b: fmt_rounds(&col(OFF)),
            ratio: ratio(EMPTY, OFF),
            target: "none (informational)".into(),
            result: format!("{:+.2} ms", median(&d_off)),
            note: None,
        });
    }
    Ok((rows, added))
}

/// Lines of the library's decision (one per process that loaded it) in a gvnet.log.
fn decision_lines(log: &Path) -> usize {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.contains("info: kernel:")
                || l.contains("info: GVNET_MODE=")
                || l.contains(": waits in ")
        })
        .count()
}

/// Part start-current: `docker run --rm bb true` on the default bridge in two sandboxes of
/// current gVisor side by side: A without gvnet, runsc with `--allow-packet-socket-write`
/// (gVisor's own path, as its Docker tutorial sets it up); B with gvnet, no flag. `exec_added`
/// is the exec part's figure for this gVisor (default library over nothing, ms), if it ran.
pub(super) fn part_start_current(
    b: &mut Bench,
    tb: &Testbed,
    lib: &Path,
    current: &Runsc,
    exec_added: Option<f64>,
) -> Result<Row> {
    let n = b.p.starts;
    let flag = "--allow-packet-socket-write";
    let flagged = Runsc {
        flags: vec![flag.to_string()],
        ..current.clone()
    };
    eprintln!("bench: container start on current gVisor, {n} runs each side, interleaved");
    let a = start_sandbox_on(tb, &flagged, Mode::NoPreload, lib, &[])?;
    let mut guard = Sandboxes(vec![a.clone()]);
    let g = start_sandbox_on(tb, current, Mode::Preload, lib, &[])?;
    guard.0.push(g.clone());
    let to = Duration::from_secs(60);
    let setup_a = gvisor::measure(|argv| a.exec(argv, to))?;
    let setup_b = gvisor::measure(|argv| g.exec(argv, to))?;
    b.note(&format!(
        "start-current: A {} ({}), B {} ({})",
        setup_a.name(),
        setup_a.describe(),
        setup_b.name(),
        setup_b.describe()
    ));
    if setup_a.name() != "current+flag" || setup_b.name() != "current" {
        bail!(
            "start-current needs current gVisor with and without the flag; measured A {}, B {}",
            setup_a.name(),
            setup_b.name()
        );
    }
    for sb in [&a, &g] {
        b.sh(sb, "docker run --rm bb true", Duration::from_secs(120))?;
    }
    let loads0 = decision_lines(&g.gvnet_log());
    let run = "docker run --rm bb true";
    let (va, vb, pairs, fails) = alternate_starts(b, n, (&a, run), (&g, run))?;
    let loads = decision_lines(&g.gvnet_log()).saturating_sub(loads0);
    drop(guard);
    let (mut row, sa, sb) = cmp_row(
        "container start on current gVisor (`docker run --rm bb true`, default bridge)",
        "A: dockerd without gvnet, runsc `--allow-packet-socket-write` (gVisor's native path); B: dockerd with gvnet, no flag",
        &va,
        &vb,
        "ms",
    );
    let p = paired_units(&pairs);
    let q = |v: &[f64], pc: f64| {
        let mut s = v.to_vec();
        s.sort_by(|x, y| x.total_cmp(y));
        percentile(&s, pc) / 1e6
    };
    let per_start = loads as f64 / vb.len().max(1) as f64;
    let gap_ms = (sb.median - sa.median) / 1e6;
    let lib_part = exec_added
        .map(|ms| {
            let share = if gap_ms > 0.0 {
                format!(", {:.0}% of the gap of the medians", 100.0 * ms * per_start / gap_ms)
            } else {
                String::new()
            };
            format!(
                "; at the exec part's {ms:.1} ms per load on this gVisor (default library over nothing), that is about {:.0} ms per start{share}",
                ms * per_start,
            )
        })
        .unwrap_or_default();
    row.target = "none (informational, issue 15)".into();
    row.result = format!("{:+.1}%", (sb.median / sa.median - 1.0) * 100.0);
    row.note = Some(format!(
        "gVisor {} in both; A: {}; B: {}; {fails} runs failed; interquartile range A {:.0}..{:.0} ms, B {:.0}..{:.0} ms; per pair (A and B one after the other, the order alternating), median B − A {:+.0} ms ({:+.1}% of A's median{}). What B pays that A does not: the library in the processes dockerd starts, if they load it ({loads} lines of processes other than dockerd deciding or waiting in B's gvnet.log over {} starts: {per_start:.1} per start; 0 where dockerd passes the library on to none of them, GVNET_CHILDREN=drop{lib_part}); dockerd's trapped calls (on this gVisor groups, connect to a group and AF_PACKET write are emulated: every netlink bind, membership, receive of a subscribed socket and the ARP/NA advertisement go through the SIGSYS handler, and the late layer adds sendto, getsockname, getpeername, getsockopt and openat after the first trap); dockerd's probes, once at its start. A pays the flag's native AF_PACKET write and gVisor's own RTNLGRP_LINK events",
        current.describe(),
        setup_a.describe(),
        setup_b.describe(),
        q(&va, 25.0),
        q(&va, 75.0),
        q(&vb, 25.0),
        q(&vb, 75.0),
        p.diff / 1e6,
        p.share * 100.0,
        p.ci
            .map(|c| format!(", 95% interval {} over {} pairs", fmt_ci(c), p.n))
            .unwrap_or_default(),
        vb.len(),
    ));
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_rounds_parse_and_pair_within_a_round() {
        // 200 execs: 2.6e9 ns total is 13 ms each.
        let out = "exec off 4000000000 0\nnoise\nexec none 2600000000 0\nexec default 4400000000 1\nexec empty 2900000000 0\n";
        let (ms, fails) = parse_exec_round(out, 200).unwrap();
        assert_eq!(ms, [13.0, 14.5, 20.0, 22.0]);
        assert_eq!(fails, 1);
        // A variant missing, or an unknown one, is not a round.
        assert!(parse_exec_round("exec none 1 0\nexec empty 1 0\nexec off 1 0\n", 1).is_none());
        assert!(parse_exec_round("exec other 1 0\n", 1).is_none());
        let rounds = [[13.0, 14.5, 20.0, 22.0], [15.0, 16.0, 21.0, 25.0]];
        assert_eq!(round_diffs(&rounds, EMPTY, DEFAULT), vec![7.5, 9.0]);
        assert_eq!(median(&round_diffs(&rounds, EMPTY, DEFAULT)), 8.25);
    }

    #[test]
    fn exec_script_rotates_the_variants() {
        let s = exec_script("/opt/gvnet", 5, 2);
        let names: Vec<&str> = s
            .lines()
            .map(|l| {
                l.rsplit("echo \"exec ")
                    .next()
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["off", "default", "none", "empty"]);
        assert!(s.contains("do LD_PRELOAD=/opt/gvnet/libgvnet.so GVNET_MODE=off /bin/true"));
        assert!(s.contains("do /bin/true >/dev/null"));
    }

    #[test]
    fn strace_counts_and_their_difference() {
        let a = "% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n  0.00    0.000000           0         7           mmap\n  0.00    0.000000           0         2         1 openat\n------ ----------- ----------- --------- --------- ----------------\n100.00    0.000000           0         9         1 total\n";
        let b = "100.00    0.000010           1         5           mmap\n  0.00    0.000000           0         4         2 openat\n  0.00    0.000000           0         3           socket\n100.00    0.000000           0        12         2 total\n";
        let ca = parse_strace_counts(a);
        assert_eq!(
            ca,
            vec![
                ("mmap".to_string(), 7),
                ("openat".to_string(), 2),
                ("total".to_string(), 9)
            ]
        );
        let cb = parse_strace_counts(b);
        assert_eq!(
            strace_extra(&ca, &cb),
            vec![
                ("socket".to_string(), 3),
                ("openat".to_string(), 2),
                ("mmap".to_string(), -2)
            ]
        );
    }
}
