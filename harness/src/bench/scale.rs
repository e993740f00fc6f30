//! Part `scale`: many containers, their descriptors and memory, and the idle dockerd row
//! (measured before any part, placed with the scale rows).

use super::common::*;
use super::stats::*;
use crate::bail;
use crate::check;
use crate::sandbox::{Mode, Sandbox};
use crate::testbed::{Testbed, RUNC_IN_ROOTFS};
use crate::util::{self, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub(super) const HUP_SRC: &str = include_str!("../../../tests/bench/hupwait.c");

/// dockerd's VmRSS (KiB) and open fds, 2 s after the last command; the RSS breakdown
/// (RssAnon, RssFile) and the thread count go to the log.
fn dockerd_status(b: &mut Bench, sb: &Sandbox) -> Result<(f64, usize)> {
    let out = b.sh(
        sb,
        "sleep 2; p=$(cat /run/gvnet-dockerd/dockerd.pid); grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|Threads):' /proc/$p/status; echo fds $(ls /proc/$p/fd | wc -l)",
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

/// Starts `b.p.containers` containers on every side (a sandbox and the `--network` to use),
/// `parallel` at a time, alternating batches between the sides (A, B, A, B, ...); per side
/// (failures, seconds spent in its own batches).
fn start_many(b: &mut Bench, sides: &[(&Sandbox, &str)]) -> Result<Vec<(usize, f64)>> {
    let (total, par) = (b.p.containers, b.p.parallel.max(1));
    let mut res = vec![(0usize, 0f64); sides.len()];
    let mut i = 0;
    while i < total {
        let hi = (i + par).min(total);
        for (k, (sb, net)) in sides.iter().enumerate() {
            let script = format!(
                "for i in $(seq {i} {last}); do (docker run -d --network {net} --name bench-$i bb sleep 2147483647 >/dev/null 2>/tmp/bench-err-$i; echo \"rc $? $i\"; cat /tmp/bench-err-$i) & done; wait",
                last = hi - 1
            );
            let t = Instant::now();
            let out = b.sh(sb, &script, Duration::from_secs(600))?;
            res[k].1 += t.elapsed().as_secs_f64();
            let ok = parse_lines(&out.stdout, "rc")
                .iter()
                .filter(|(rc, _)| *rc == 0.0)
                .count();
            res[k].0 += (hi - i) - ok;
        }
        i = hi;
        eprint!("\r  containers: {i}/{total} per side");
    }
    eprintln!();
    Ok(res)
}

/// KiB resident in dockerd's mappings of gvnet's own files (libgvnet.so, the kick page), from
/// `/proc/<pid>/smaps`. gVisor names no anonymous mapping, so the monitor's are not in it.
fn gvnet_file_rss(b: &mut Bench, sb: &Sandbox) -> Result<f64> {
    let out = b.sh(
        sb,
        "p=$(cat /run/gvnet-dockerd/dockerd.pid); awk '/^[0-9a-f]+-[0-9a-f]+ /{f=($6 ~ /gvnet/)} /^Rss:/{if (f) {s+=$2; print}} END{print \"gvnetrss\", s+0}' /proc/$p/smaps",
        Duration::from_secs(30),
    )?;
    parse_lines(&out.stdout, "gvnetrss")
        .first()
        .map(|x| x.0)
        .ok_or_else(|| util::Error(format!("no smaps sum for dockerd: {}", out.combined())))
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

// Idle dockerd (measured before any part; its row goes with the scale rows).

pub(super) const IDLE_WHAT: &str =
    "dockerd VmRSS, idle (after start and `docker import`, before any part)";

/// One reading of dockerd's memory: KiB from `/proc/<pid>/status` and `smaps`.
#[derive(Debug, Clone, Default)]
pub(super) struct Mem {
    pub(super) vmrss: f64,
    /// Resident in mappings without a file (smaps `[anon]`, `[heap]`, `[stack]`, ...). gVisor's
    /// `/proc/<pid>/status` has no RssAnon/RssFile lines, so the split comes from smaps.
    pub(super) anon: f64,
    /// Resident in mappings of files (the dockerd binary, libraries, bolt databases).
    pub(super) file: f64,
    pub(super) threads: f64,
    /// Resident in dockerd's mappings of gvnet's own files (libgvnet.so, the kick page).
    pub(super) gvnet_files: f64,
    /// Resident by mapping (smaps): the file's name, `[anon-8MiB]` for unnamed mappings of
    /// exactly 8 MiB (glibc's default thread stack size), `[anon]` for the other unnamed ones.
    pub(super) kinds: Vec<(String, f64)>,
}

/// dockerd's memory, 2 s after the last command (as `dockerd_status`).
fn dockerd_mem(b: &mut Bench, sb: &Sandbox) -> Result<Mem> {
    let out = b.sh(
        sb,
        "sleep 2; p=$(cat /run/gvnet-dockerd/dockerd.pid); grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|Threads):' /proc/$p/status; awk '/^[0-9a-f]+-[0-9a-f]+ /{k=$6; if (k == \"\") k=\"[anon]\"; f=(k ~ /gvnet/); sub(/.*\\//, \"\", k)} /^Size:/{if (k == \"[anon]\" && $2 == 8192) k=\"[anon-8MiB]\"} /^Rss:/{s[k]+=$2; if (f) g+=$2} END{for (k in s) print \"smapkind\", s[k], k; print \"gvnetrss\", g+0}' /proc/$p/smaps",
        Duration::from_secs(30),
    )?;
    let field = |name: &str| {
        parse_lines(&out.stdout, name)
            .first()
            .map(|x| x.0)
            .ok_or_else(|| util::Error(format!("no {name} for dockerd: {}", out.combined())))
    };
    let mut kinds: Vec<(String, f64)> = parse_lines(&out.stdout, "smapkind")
        .into_iter()
        .map(|(v, k)| (k.to_string(), v))
        .collect();
    kinds.sort_by(|x, y| y.1.total_cmp(&x.1));
    let anon = kinds
        .iter()
        .filter(|(k, _)| k.starts_with('['))
        .map(|x| x.1)
        .sum();
    let file = kinds
        .iter()
        .filter(|(k, _)| !k.starts_with('['))
        .map(|x| x.1)
        .sum();
    Ok(Mem {
        vmrss: field("VmRSS:")?,
        anon,
        file,
        threads: field("Threads:")?,
        gvnet_files: field("gvnetrss")?,
        kinds,
    })
}

/// Restarts dockerd in `sb` so that the new one has the history the sandbox's first had: an
/// empty image store when it starts (bb is removed first), then `docker import` of bb and
/// `docker version` / `docker info`, as `Sandbox::wait_ready` does.
fn restart_idle(b: &mut Bench, sb: &Sandbox) -> Result<()> {
    let out = b.exec(sb, &["docker", "rmi", "bb:latest"], Duration::from_secs(60))?;
    if !out.ok() {
        bail!("docker rmi bb:latest: {}", out.combined());
    }
    b.note(&format!(
        "[{}] restarting dockerd (SIGTERM)",
        sb.mode.name()
    ));
    let said = sb.restart_dockerd("TERM", &[])?;
    b.note(&said);
    let out = sb.import_bb()?;
    b.note(&format!(
        "[{}] docker import bb:latest: {}; {}",
        sb.mode.name(),
        out.describe(),
        out.combined().trim()
    ));
    if !out.ok() {
        bail!("docker import bb:latest: {}", out.combined());
    }
    let out = b.sh(
        sb,
        "docker version >/dev/null && docker info >/dev/null",
        Duration::from_secs(60),
    )?;
    if !out.ok() {
        bail!("docker version/info: {}", out.combined());
    }
    Ok(())
}

/// `b.p.idle_samples` readings of dockerd per side, sides alternating (A, B, A, B, ...): the
/// first from the dockerd each sandbox started, every further one after `restart_idle`.
/// Returns (A: without gvnet, B: with gvnet).
pub(super) fn idle_samples(
    b: &mut Bench,
    with: &Sandbox,
    without: &Sandbox,
) -> Result<(Vec<Mem>, Vec<Mem>)> {
    let n = b.p.idle_samples;
    eprintln!("bench: idle dockerd, {n} samples each side, interleaved");
    let (mut a, mut g) = (Vec::new(), Vec::new());
    for i in 0..n {
        for (sb, side) in [(without, &mut a), (with, &mut g)] {
            if i > 0 {
                restart_idle(b, sb)?;
            }
            let m = dockerd_mem(b, sb)?;
            b.note(&format!(
                "idle sample {i} [{}]: VmRSS {} KiB (smaps: anonymous {} file {}), {} threads, gvnet files {} KiB",
                sb.mode.name(),
                m.vmrss,
                m.anon,
                m.file,
                m.threads,
                m.gvnet_files
            ));
            side.push(m);
        }
        eprint!("\r  idle samples: {}/{n} per side", i + 1);
    }
    eprintln!();
    Ok((a, g))
}

fn median_of(ms: &[Mem], f: impl Fn(&Mem) -> f64) -> f64 {
    stats(&ms.iter().map(f).collect::<Vec<_>>()).median
}

fn range_of(ms: &[Mem], f: impl Fn(&Mem) -> f64) -> (f64, f64) {
    ms.iter()
        .map(f)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// `median / min..max (n=N)` of VmRSS, in MiB.
fn fmt_idle(ms: &[Mem]) -> String {
    let (lo, hi) = range_of(ms, |m| m.vmrss);
    format!(
        "{:.1} / {:.1}..{:.1} MiB (n={})",
        median_of(ms, |m| m.vmrss) / 1024.0,
        lo / 1024.0,
        hi / 1024.0,
        ms.len()
    )
}

/// The idle row, judged on median B − median A, with a note that explains the gap from the
/// same samples: the spread of each side, the split into anonymous and file memory, gvnet's own
/// files, the thread counts, the first (fresh) sample against the restarted ones, and the
/// mappings that differ most.
pub(super) fn idle_row(a: &[Mem], g: &[Mem]) -> Row {
    let mi = |k: f64| k / 1024.0;
    let (ma, mg) = (median_of(a, |m| m.vmrss), median_of(g, |m| m.vmrss));
    let gap = mi(mg - ma);
    let spread = |ms: &[Mem]| {
        let (lo, hi) = range_of(ms, |m| m.vmrss);
        mi(hi - lo)
    };
    let (spread_a, spread_g) = (spread(a), spread(g));
    let list = |ms: &[Mem]| {
        ms.iter()
            .map(|m| format!("{:.1}", mi(m.vmrss)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut note = format!(
        "samples in order (MiB; the first from the dockerd the sandbox started, each further one from a dockerd restarted with the same history: empty image store, `docker import`, 2 s settle): A: {}; B: {}. Median gap {gap:+.1} MiB; spread within a side (max − min): A {spread_a:.1} MiB, B {spread_g:.1} MiB",
        list(a),
        list(g)
    );
    let (lo_a, hi_a) = range_of(a, |m| m.vmrss);
    let (lo_g, hi_g) = range_of(g, |m| m.vmrss);
    if spread_a.max(spread_g) >= gap.abs() {
        note.push_str(
            ": the gap is within instance-to-instance variation (one side's own samples lie further apart than the two medians)",
        );
    } else if lo_g > hi_a || hi_g < lo_a {
        note.push_str(": the gap exceeds either side's spread and the samples do not overlap, a consistent difference");
    } else {
        note.push_str(": the gap exceeds either side's spread, but the samples overlap");
    }
    // Median (min..max) in MiB of one kind of memory on one side.
    let kind = |ms: &[Mem], f: fn(&Mem) -> f64| {
        let (lo, hi) = range_of(ms, f);
        format!("{:.1} ({:.1}..{:.1})", mi(median_of(ms, f)), mi(lo), mi(hi))
    };
    let gap_of = |f: fn(&Mem) -> f64| median_of(g, f) - median_of(a, f);
    let (fa_lo, fa_hi) = range_of(a, |m| m.file);
    let (fg_lo, fg_hi) = range_of(g, |m| m.file);
    let (gf_lo, gf_hi) = range_of(g, |m| m.gvnet_files);
    let _ = write!(
        note,
        ". By kind (smaps; gVisor's status has no RssAnon/RssFile), median (min..max): anonymous A {} B {} MiB, median gap {:+.1} MiB; file-backed A {} B {} MiB, median gap {:+.0} KiB, spread within a side {:.0} KiB (A) and {:.0} KiB (B). gvnet's own files resident in B's dockerd (libgvnet.so and the kick page): {:.0} KiB ({gf_lo:.0}..{gf_hi:.0}). Threads (medians): A {:.0}, B {:.0} (gVisor shows up to 2 MiB resident per OS thread's 8 MiB stack)",
        kind(a, |m| m.anon),
        kind(g, |m| m.anon),
        mi(gap_of(|m| m.anon)),
        kind(a, |m| m.file),
        kind(g, |m| m.file),
        gap_of(|m| m.file),
        fa_hi - fa_lo,
        fg_hi - fg_lo,
        median_of(g, |m| m.gvnet_files),
        median_of(a, |m| m.threads),
        median_of(g, |m| m.threads),
    );
    if a.len() > 1 && g.len() > 1 {
        let fresh = |ms: &[Mem]| mi(ms[0].vmrss - median_of(&ms[1..], |m| m.vmrss));
        let _ = write!(
            note,
            ". First (fresh) sample minus the median of the restarted ones: A {:+.1} MiB, B {:+.1} MiB",
            fresh(a),
            fresh(g)
        );
    }
    // The mappings whose medians differ most between the sides.
    let mut names: Vec<&str> = a
        .iter()
        .chain(g)
        .flat_map(|m| m.kinds.iter().map(|(k, _)| k.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let of = |m: &Mem, name: &str| {
        m.kinds
            .iter()
            .find(|(k, _)| k == name)
            .map_or(0.0, |(_, v)| *v)
    };
    let kib = |ms: &[Mem], name: &str| median_of(ms, |m| of(m, name));
    let spread_kib = |ms: &[Mem], name: &str| {
        let (lo, hi) = range_of(ms, |m| of(m, name));
        hi - lo
    };
    let mut diffs: Vec<(&str, f64)> = names.iter().map(|n| (*n, kib(g, n) - kib(a, n))).collect();
    diffs.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
    let only_b: Vec<String> = names
        .iter()
        .filter(|n| {
            a.iter().all(|m| m.kinds.iter().all(|(k, _)| k != *n))
                && g.iter().all(|m| m.kinds.iter().any(|(k, _)| k == *n))
        })
        .map(|n| format!("{n} {:.0} KiB", kib(g, n)))
        .collect();
    if !only_b.is_empty() {
        let _ = write!(
            note,
            ". Mappings in every B sample and in no A sample (median): {}",
            only_b.join(", ")
        );
    }
    if !diffs.is_empty() {
        let _ = write!(
            note,
            ". Largest differences by mapping (smaps Rss, median B − median A): {}",
            diffs
                .iter()
                .take(4)
                .map(|(n, d)| format!("{n} {d:+.0} KiB"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut spreads: Vec<(&str, f64, f64)> = names
        .iter()
        .map(|n| (*n, spread_kib(a, n), spread_kib(g, n)))
        .collect();
    spreads.sort_by(|x, y| (y.1 + y.2).total_cmp(&(x.1 + x.2)));
    if !spreads.is_empty() {
        let _ = write!(
            note,
            ". Where one side's samples vary most (smaps Rss, max − min within A / within B): {}",
            spreads
                .iter()
                .take(3)
                .map(|(n, sa, sg)| format!("{n} {sa:.0} / {sg:.0} KiB"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // What the figures say, in one place.
    let (sa_lo, sa_hi) = range_of(a, |m| m.anon);
    let (sg_lo, sg_hi) = range_of(g, |m| m.anon);
    let steady = (fa_hi - fa_lo).max(fg_hi - fg_lo) < 64.0;
    let _ = write!(
        note,
        ". So: the file-backed memory {} ({:+.0} KiB; the mappings only B has are listed above{}); the anonymous memory varies between instances of one side by up to {:.1} MiB (A) and {:.1} MiB (B){}: gVisor gives a private anonymous mapping its memory in 2 MiB-aligned pieces and counts a touched piece as resident whole, so where a dockerd's heap and thread stacks fall against 2 MiB boundaries moves VmRSS in steps of up to 2 MiB per mapping",
        if steady {
            "is the same in every sample of a side, so its gap is gvnet's steady cost"
        } else {
            "also varies within a side; its median gap is"
        },
        gap_of(|m| m.file),
        if only_b.iter().any(|n| n.starts_with("libgcc_s.")) {
            ": libgvnet.so needs libgcc_s (Rust's unwinder), which dockerd does not load itself"
        } else {
            ""
        },
        mi(sa_hi - sa_lo),
        mi(sg_hi - sg_lo),
        if mi((sa_hi - sa_lo).max(sg_hi - sg_lo)) >= gap.abs() {
            ", more than the whole gap"
        } else {
            ", less than the whole gap"
        },
    );
    if median_of(a, |m| m.threads) == median_of(g, |m| m.threads) {
        note.push_str(". Same thread count on both sides: gvnet's event monitor (a thread of its own with a 512 KiB stack and a 1 MiB dump buffer, started by the first subscription) is not running in an idle dockerd");
    }
    Row {
        what: IDLE_WHAT.into(),
        sides: "A: without gvnet; B: with gvnet".into(),
        a: fmt_idle(a),
        b: fmt_idle(g),
        ratio: format!("{:.3}", mg / ma),
        target: "at most 1 MiB apart".into(),
        result: format!("{} ({gap:+.1} MiB, medians)", verdict(gap.abs() <= 1.0)),
        note: Some(note),
    }
}

/// dockerd's VmRSS with and without gvnet, each in a fresh sandbox with the same history: the
/// same containers on `--network none` (the row the target is judged on); then, in a third
/// fresh sandbox, with gvnet, the same number on one user-defined network (informational: what
/// bridge networking costs dockerd, which has no baseline in gVisor without gvnet).
pub(super) fn part_scale(b: &mut Bench, tb: &Testbed, lib: &Path) -> Result<()> {
    let p = b.p.clone();
    eprintln!(
        "bench: scale, {} containers {} at a time, fresh sandboxes",
        p.containers, p.parallel
    );
    if let Some(row) = b.idle_row.take() {
        b.rows.push(row);
    }

    let with = start_sandbox(tb, Mode::Preload, lib, &[])?;
    let mut guard = Sandboxes(vec![with.clone()]);
    let without = start_sandbox(tb, Mode::NoPreload, lib, &[])?;
    guard.0.push(without.clone());
    let r = start_many(b, &[(&without, "none"), (&with, "none")])?;
    let ((fails_n, _), (fails_g, _)) = (r[0], r[1]);
    let mem_n = dockerd_mem(b, &without)?;
    let mem_g = dockerd_mem(b, &with)?;
    let (rss_n, rss_g, lib_g) = (mem_n.vmrss, mem_g.vmrss, mem_g.gvnet_files);
    let diff = (rss_g - rss_n) / 1024.0;
    let split = format!(
        "of the gap, file-backed {:+.0} KiB (gvnet's files and libgcc_s, which libgvnet.so needs), anonymous {:+.1} MiB; threads {} (A) and {} (B); one sample per side: the idle row shows how far two dockerd instances of one side differ (gVisor makes anonymous memory resident in 2 MiB pieces)",
        mem_g.file - mem_n.file,
        (mem_g.anon - mem_n.anon) / 1024.0,
        mem_n.threads,
        mem_g.threads
    );
    b.rows.push(Row {
        what: format!(
            "dockerd VmRSS, {} containers up (`docker run -d --network none`)",
            p.containers
        ),
        sides: "A: without gvnet; B: with gvnet".into(),
        a: mib(rss_n),
        b: mib(rss_g),
        ratio: format!("{:.3}", rss_g / rss_n),
        target: "at most 1 MiB apart".into(),
        result: format!(
            "{} ({diff:+.1} MiB)",
            verdict(diff.abs() <= 1.0 && fails_n + fails_g == 0)
        ),
        note: Some(format!(
            "both in fresh sandboxes, nothing else run in them, starts interleaved; {fails_n} (A) and {fails_g} (B) failed; resident in dockerd's mappings of gvnet's files (libgvnet.so, the kick page; smaps): {lib_g:.0} KiB; {split}. No container subscribes to anything here, so gvnet's monitor never runs"
        )),
    });
    drop(guard);

    let net = start_sandbox(tb, Mode::Preload, lib, &[])?;
    let _g = Sandboxes(vec![net.clone()]);
    let out = b.exec(
        &net,
        &["docker", "network", "create", "benchnet"],
        Duration::from_secs(60),
    )?;
    if !out.ok() {
        bail!("docker network create benchnet: {}", out.combined());
    }
    let (fails, secs) = start_many(b, &[(&net, "benchnet")])?[0];
    let running = b.sh(&net, "docker ps -q | wc -l", Duration::from_secs(60))?;
    let (rss_u, _) = dockerd_status(b, &net)?;
    let lib_u = gvnet_file_rss(b, &net)?;
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
    b.rows.push(Row {
        what: format!(
            "dockerd VmRSS, {} containers up on one user-defined network (informational)",
            p.containers
        ),
        sides: "A: with gvnet, `--network none` (row above); B: with gvnet, user-defined network"
            .into(),
        a: mib(rss_g),
        b: mib(rss_u),
        ratio: format!("{:.3}", rss_u / rss_g),
        target: "none: no baseline".into(),
        result: format!("{:+.1} MiB", (rss_u - rss_g) / 1024.0),
        note: Some(format!(
            "what bridge networking costs dockerd (moby's network sandboxes, veths, namespaces; gvnet's event monitor), in a third fresh sandbox; without gvnet the containers cannot start (`{}`), so this has no side A without gvnet. gvnet's part: its files {lib_u:.0} KiB resident (smaps); its anonymous memory is not named in gVisor's smaps: the monitor's stack (512 KiB) and dump buffer (1 MiB), while a namespace is watched its state (mapped 16 MiB, touched as used, unmapped when the namespace has no subscriber), and one event ring per socket slot that got events (64 KiB..4 MiB by the socket's receive limit, kept for reuse). gVisor makes anonymous memory resident in large pieces: each new OS thread's 8 MiB stack shows about 2 MiB resident, and moby's namespace switches (`netns.Do`) retire locked OS threads, so dockerd's thread count is in `bench.log`",
            check::EXPECTED_NO_PRELOAD
        )),
    });
    Ok(())
}

/// dockerd's fds by kind (`socket:`, `anon_inode:[eventpoll]`, a file's path, ...).
fn fd_kinds(b: &mut Bench, sb: &Sandbox) -> Result<Vec<(String, usize)>> {
    let out = b.sh(
        sb,
        "sleep 2; p=$(cat /run/gvnet-dockerd/dockerd.pid); for f in /proc/$p/fd/*; do echo \"fdkind $(readlink $f | sed -E 's/[0-9]+]$/]/; s/^socket:.*/socket:/; s/^pipe:.*/pipe:/')\"; done",
        Duration::from_secs(30),
    )?;
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for l in out.stdout.lines() {
        if let Some(k) = l.strip_prefix("fdkind ") {
            match kinds.iter_mut().find(|(n, _)| n == k) {
                Some(e) => e.1 += 1,
                None => kinds.push((k.to_string(), 1)),
            }
        }
    }
    if kinds.is_empty() {
        bail!("no fds listed for dockerd: {}", out.combined());
    }
    Ok(kinds)
}

/// What grew between two listings of [`fd_kinds`], e.g. `+200 socket:, +200 anon_inode:[eventpoll]`.
fn fd_growth(before: &[(String, usize)], after: &[(String, usize)]) -> String {
    let mut v = Vec::new();
    for (k, n) in after {
        let was = before.iter().find(|(x, _)| x == k).map_or(0, |x| x.1);
        if *n != was {
            v.push(format!("{:+} {k}", *n as i64 - was as i64));
        }
    }
    for (k, n) in before {
        if !after.iter().any(|(x, _)| x == k) {
            v.push(format!("-{n} {k}"));
        }
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

pub(super) fn total(kinds: &[(String, usize)]) -> usize {
    kinds.iter().map(|k| k.1).sum()
}

/// A runtime for the fd cycles: trixie's runc through containerd's runc shim with
/// `NoNewKeyring` (runc's `--no-new-keyring`). gVisor keeps at most 200 keys per user namespace
/// and never frees one (`pkg/sentry/kernel/auth/key.go`, EDQUOT), and runc makes a session
/// keyring per container, so a sandbox starts no more than 200 containers with the default.
pub(super) const NOKEYRING: &str = "nokeyring";

/// Adds [`NOKEYRING`] to dockerd's configuration and reloads it (SIGHUP).
fn add_nokeyring_runtime(b: &mut Bench, sb: &Sandbox) -> Result<()> {
    let script = format!(
        "mkdir -p /etc/docker && printf '%s\\n' '{{\"runtimes\": {{\"trixie-runc\": {{\"path\": \"{runc}\"}}, \"{NOKEYRING}\": {{\"runtimeType\": \"io.containerd.runc.v2\", \"options\": {{\"BinaryName\": \"{runc}\", \"NoNewKeyring\": true}}}}}}}}' >/etc/docker/daemon.json && kill -HUP $(cat /run/gvnet-dockerd/dockerd.pid) && sleep 2 && docker info --format '{{{{range $k, $v := .Runtimes}}}}runtime {{{{$k}}}} {{{{end}}}}'",
        runc = RUNC_IN_ROOTFS
    );
    let out = b.sh(sb, &script, Duration::from_secs(60))?;
    if !out.stdout.contains(&format!("runtime {NOKEYRING} ")) {
        bail!(
            "dockerd did not take the {NOKEYRING} runtime: {}",
            out.combined()
        );
    }
    Ok(())
}

/// Runs `cycles` of `cmd[side]` in every sandbox of `sides`, alternating batches of 20;
/// returns the failures per side.
pub(super) fn cycles(
    b: &mut Bench,
    sides: &[(&Sandbox, String)],
    label: &str,
) -> Result<Vec<usize>> {
    let n = b.p.cycles;
    let mut fails = vec![0usize; sides.len()];
    let mut done = 0;
    while done < n {
        let k = (n - done).min(20);
        for (i, (sb, cmd)) in sides.iter().enumerate() {
            let out = b.sh(
                sb,
                &format!(
                    "f=0; for i in $(seq {k}); do {cmd} || f=$((f+1)); done; echo \"failed $f\""
                ),
                Duration::from_secs(1200),
            )?;
            fails[i] += parse_lines(&out.stdout, "failed")
                .first()
                .map(|x| x.0 as usize)
                .unwrap_or(k);
        }
        done += k;
        eprint!("\r  {label}: {done}/{n} per side");
    }
    eprintln!();
    Ok(fails)
}

/// dockerd's open fds before and after create/remove cycles, with and without gvnet, in a
/// fresh pair of sandboxes: attached (`docker run --rm`) and detached (`run -d`, `wait`, `rm`).
pub(super) fn part_fds(b: &mut Bench, tb: &Testbed, lib: &Path, hupwait: &Path) -> Result<()> {
    let n = b.p.cycles;
    eprintln!("bench: dockerd fds, {n} create/remove cycles of each kind, both sandboxes");
    // Does a unix stream socket's hang-up wake a waiter that asked for EPOLLHUP alone?
    let host = util::capture(&mut Command::new(hupwait), Duration::from_secs(60))?;
    b.note(&format!("hupwait on the host:\n{}", host.combined()));
    let with = start_sandbox(tb, Mode::Preload, lib, &[hupwait])?;
    let mut guard = Sandboxes(vec![with.clone()]);
    let in_gvisor = b.exec(
        &with,
        &[&format!("{}/hupwait", with.opt)],
        Duration::from_secs(60),
    )?;
    let woken = |text: &str, how: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("hup {how} 0x10 ")))
            .and_then(|l| l.split_whitespace().nth(3))
            .map_or(
                "not measured",
                |w| if w == "1" { "woken" } else { "not woken" },
            )
            .to_string()
    };
    let hup = format!(
        "a thread in epoll_wait for EPOLLHUP alone on an accepted unix stream socket whose client exits 200 ms later (tests/bench/hupwait.c): Linux {}, gVisor {} (poll: Linux {}, gVisor {})",
        woken(&host.stdout, "epoll"),
        woken(&in_gvisor.stdout, "epoll"),
        woken(&host.stdout, "poll"),
        woken(&in_gvisor.stdout, "poll"),
    );
    let without = start_sandbox(tb, Mode::NoPreload, lib, &[])?;
    guard.0.push(without.clone());
    for sb in [&without, &with] {
        add_nokeyring_runtime(b, sb)?;
    }
    let run = format!("docker run --runtime {NOKEYRING}");
    // One untimed run of each kind first, so connections dockerd opens lazily are there.
    for sb in [&without, &with] {
        b.sh(
            sb,
            &format!("{run} --rm --network none bb true >/dev/null 2>&1; c=$({run} -d --network none bb true) && docker wait $c >/dev/null && docker rm $c >/dev/null"),
            Duration::from_secs(120),
        )?;
    }

    // Detached first: an attached run leaves something behind, which would be counted here too.
    let detached = |net: &str| {
        format!("c=$({run} -d --network {net} bb true 2>/dev/null) && docker wait $c >/dev/null && docker rm $c >/dev/null")
    };
    let attached = format!("{run} --rm --network none bb true >/dev/null 2>&1");
    let t = Instant::now();
    let before = [fd_kinds(b, &without)?, fd_kinds(b, &with)?];
    let f = cycles(
        b,
        &[(&without, detached("none")), (&with, detached("bridge"))],
        "detached cycles",
    )?;
    let mid = [fd_kinds(b, &without)?, fd_kinds(b, &with)?];
    let secs_d = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let fa = cycles(
        b,
        &[(&without, attached.clone()), (&with, attached)],
        "attached runs",
    )?;
    let after = [fd_kinds(b, &without)?, fd_kinds(b, &with)?];
    let secs_a = t.elapsed().as_secs_f64();
    drop(guard);

    let same = |x: &[(String, usize)], y: &[(String, usize)]| total(x) == total(y);
    let detached_growth = [
        fd_growth(&before[0], &mid[0]),
        fd_growth(&before[1], &mid[1]),
    ];
    b.rows.push(Row {
        what: format!("dockerd open fds, before/after {n} create/remove cycles, not attached (`run -d`, `wait`, `rm`)"),
        sides: "A: without gvnet, `--network none`; B: with gvnet, default bridge".into(),
        a: format!("{} → {}", total(&before[0]), total(&mid[0])),
        b: format!("{} → {}", total(&before[1]), total(&mid[1])),
        ratio: "-".into(),
        target: "after = before".into(),
        result: verdict(same(&before[1], &mid[1]) && f[1] == 0),
        note: Some(format!(
            "fresh pair of sandboxes; what changed: A {}, B {}; {} (A) and {} (B) cycles failed (reasons in bench.log and dockerd.log); {secs_d:.0} s",
            detached_growth[0], detached_growth[1], f[0], f[1]
        )),
    });
    let attached_growth = [fd_growth(&mid[0], &after[0]), fd_growth(&mid[1], &after[1])];
    let leaked = !same(&mid[1], &after[1]);
    b.rows.push(Row {
        what: format!("dockerd open fds, before/after {n} `docker run --rm --network none bb true` (attached)"),
        sides: "A: without gvnet; B: with gvnet".into(),
        a: format!("{} → {}", total(&mid[0]), total(&after[0])),
        b: format!("{} → {}", total(&mid[1]), total(&after[1])),
        ratio: "-".into(),
        target: "after = before".into(),
        result: verdict(!leaked && fa[1] == 0),
        note: Some(format!(
            "same sandboxes, after the row above; what changed: A {}, B {}; {} (A) and {} (B) runs failed; {secs_a:.0} s{}",
            attached_growth[0],
            attached_growth[1],
            fa[0],
            fa[1],
            if leaked {
                format!(". Cause, not gvnet's (A leaks as B does): moby's attach endpoint waits for the CLI's hang-up in `notifyClosed` (api/server/router/container/notify_linux.go): a goroutine holds the connection (`RawConn.Control`) and its own epoll fd in `epoll_wait` for EPOLLHUP alone, with no timeout; {hup}. So every attached run leaves dockerd its accepted docker.sock connection, that epoll fd and the OS thread blocked in the wait")
            } else {
                format!("; {hup}")
            }
        )),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(vmrss: f64, file: f64, extra: Option<(&str, f64)>) -> Mem {
        let mut kinds = vec![
            ("[anon]".to_string(), vmrss - file),
            ("dockerd".into(), file),
        ];
        kinds.extend(extra.map(|(k, v)| (k.to_string(), v)));
        Mem {
            vmrss,
            anon: vmrss - file,
            file,
            threads: 10.0,
            gvnet_files: extra.map_or(0.0, |x| x.1),
            kinds,
        }
    }

    #[test]
    fn idle_row_judges_medians_and_explains_the_gap() {
        let lib = Some(("libgvnet.so", 512.0));
        // One side's samples: total RSS in MiB, 80 MiB of it file-backed.
        let side = |mibs: &[f64], lib| -> Vec<Mem> {
            mibs.iter()
                .map(|v| mem(v * 1024.0, 80.0 * 1024.0, lib))
                .collect()
        };
        // A gap of 2 MiB between the medians, each side spread over 4 MiB.
        let a = side(&[100.0, 102.0, 104.0], None);
        let g = side(&[102.0, 104.0, 106.0], lib);
        let row = idle_row(&a, &g);
        assert!(
            row.result.starts_with("target missed (+2.0 MiB"),
            "{}",
            row.result
        );
        assert_eq!(row.a, "102.0 / 100.0..104.0 MiB (n=3)");
        let note = row.note.unwrap();
        assert!(
            note.contains("within instance-to-instance variation"),
            "{note}"
        );
        assert!(
            note.contains("in no A sample (median): libgvnet.so 512 KiB"),
            "{note}"
        );
        // Apart by more than either side's spread, without overlap.
        let g = side(&[110.0, 110.5, 111.0], lib);
        let note = idle_row(&a, &g).note.unwrap();
        assert!(
            note.contains("do not overlap, a consistent difference"),
            "{note}"
        );
        // Within the target.
        let g = side(&[100.5, 102.5, 103.0], lib);
        assert!(idle_row(&a, &g).result.starts_with("met (+0.5 MiB"));
    }
}
