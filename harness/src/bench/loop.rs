//! Part `loop`: the inherited filter, a syscall-heavy loop in a container.

use super::common::*;
use super::stats::*;
use crate::bail;
use crate::sandbox::Sandbox;
use crate::util::{Context, Output, Result};
use gvnet_core::abi::nr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A loop's syscalls: (number, name).
type Calls = &'static [(usize, &'static str)];

/// The kinds of loop loopbench times: (name it prints, what, judged against the 2%
/// target, the kind's syscalls).
const LOOP_KINDS: &[(&str, &str, bool, Calls)] = &[
    ("getppid", "getppid(2)", true, &[(nr::GETPPID, "getppid")]),
    (
        "read",
        "read(2) 64 B of /dev/zero",
        true,
        &[(nr::READ, "read")],
    ),
    (
        "udp",
        "UDP sendto+recv, 32 B, loopback",
        true,
        &[(nr::SENDTO, "sendto"), (nr::RECVFROM, "recvfrom")],
    ),
    (
        "open",
        "openat(2) of /dev/null (O_RDONLY|O_CLOEXEC) + close(2)",
        false,
        &[(nr::OPENAT, "openat"), (nr::CLOSE, "close")],
    ),
];

/// The calls of a loop kind that the layer containers inherit (`filter::Layer::Base`) names:
/// the ones whose verdict gVisor cannot cache.
fn named_by_base(calls: &[(usize, &str)]) -> String {
    let base = gvnet_core::filter::Layer::Base.numbers();
    let named: Vec<&str> = calls
        .iter()
        .filter(|(n, _)| base.contains(n))
        .map(|(_, name)| *name)
        .collect();
    named.join(", ")
}

/// Where the paired part's filters are, inside the sandbox (staged by `run`).
const GVNET_FILTER: &str = "gvnet-filter.bpf";
const ALLOW_FILTER: &str = "allow-filter.bpf";
/// The syscall site the bench's copy of gvnet's filter names: dockerd's has one site too
/// (gvnet.log: "1 Go syscall site(s)"), at an address of its own; any address outside
/// loopbench's text costs the same, and loopbench (static, not PIE, at 0x400000) never
/// reaches it, so its calls never trap.
const BENCH_SITE: u64 = 0x5555_5555_1b4e;

/// Writes the filters the paired part installs into `dir`: gvnet's base layer as dockerd
/// installs it (the layer dockerd's containers inherit: containerd is dockerd's child from
/// before dockerd's first netlink call, so the late layer added at the first trap and the
/// receive layer added at the first subscription never reach it), and an ALLOW-only filter for
/// the A/A control.
pub(super) fn write_filters(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    use gvnet_core::filter::{build, SockFilter, MAX_INSNS, RET_ALLOW};
    let bytes = |prog: &[SockFilter]| -> Vec<u8> {
        prog.iter()
            .flat_map(|f| {
                let mut v = Vec::with_capacity(8);
                v.extend_from_slice(&f.code.to_ne_bytes());
                v.push(f.jt);
                v.push(f.jf);
                v.extend_from_slice(&f.k.to_ne_bytes());
                v
            })
            .collect()
    };
    let mut out = [SockFilter::default(); MAX_INSNS];
    let len = build(&[BENCH_SITE], &mut out).map_err(|e| format!("gvnet's filter: {e:?}"))?;
    let allow = [SockFilter {
        code: 0x06, // BPF_RET | BPF_K
        jt: 0,
        jf: 0,
        k: RET_ALLOW,
    }];
    let (g, a) = (dir.join(GVNET_FILTER), dir.join(ALLOW_FILTER));
    fs::write(&g, bytes(&out[..len])).ctx("gvnet-filter.bpf")?;
    fs::write(&a, bytes(&allow)).ctx("allow-filter.bpf")?;
    Ok((g, a))
}

/// Parses loopbench's paired output (`a getppid 6109.2`): per kind, the pairs' (a, b) in
/// the order they ran.
fn parse_pairs(text: &str, kind: &str) -> Vec<(f64, f64)> {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [side, k, v] = f[..] {
            if k != kind {
                continue;
            }
            let Ok(v) = v.parse::<f64>() else { continue };
            match side {
                "a" => a.push(v),
                "b" => b.push(v),
                _ => {}
            }
        }
    }
    a.into_iter().zip(b).collect()
}

/// Runs loopbench (staged in `sb`'s opt) with `args` in a `--network none` container of
/// `sb`, the staged file `filter` mounted at /f when given; fails unless it exits 0.
fn run_loopbench(
    b: &mut Bench,
    sb: &Sandbox,
    filter: Option<&str>,
    args: &[&str],
    timeout: Duration,
) -> Result<Output> {
    let bin = format!("{}/loopbench:/b:ro", sb.opt);
    let f = filter.map(|f| format!("{}/{f}:/f:ro", sb.opt));
    let mut argv = vec!["docker", "run", "--rm", "--network", "none", "-v", &bin];
    if let Some(f) = &f {
        argv.extend(["-v", f.as_str()]);
    }
    argv.extend(["bb", "/b"]);
    argv.extend(args);
    let out = b.exec(sb, &argv, timeout)?;
    if !out.ok() {
        bail!(
            "loopbench {} in a container ({}{}): {}: {}",
            args.join(" "),
            sb.mode.name(),
            filter.map(|f| format!(", /f = {f}")).unwrap_or_default(),
            out.describe(),
            out.combined()
        );
    }
    Ok(out)
}

/// Runs loopbench's paired form in one container of `sb` with `filter` as side B's extra
/// layer; per kind of LOOP_KINDS, the (a, b) pairs.
pub(super) fn loop_pairs(
    b: &mut Bench,
    sb: &Sandbox,
    filter: &str,
) -> Result<Vec<Vec<(f64, f64)>>> {
    let (iters, pairs) = (b.p.pair_iters.to_string(), b.p.loop_pairs.to_string());
    let out = run_loopbench(
        b,
        sb,
        Some(filter),
        &[&iters, "pairs", &pairs, "/f"],
        Duration::from_secs(60 * 30),
    )?;
    let mut per_kind = Vec::new();
    for (k, ..) in LOOP_KINDS {
        let p = parse_pairs(&out.stdout, k);
        if p.len() != b.p.loop_pairs {
            bail!(
                "loopbench pairs printed {} {k} pairs, not {}: {}",
                p.len(),
                b.p.loop_pairs,
                out.stdout
            );
        }
        per_kind.push(p);
    }
    Ok(per_kind)
}

pub(super) fn part_loop(b: &mut Bench, with: &Sandbox, without: &Sandbox) -> Result<()> {
    let reps = b.p.loop_reps;
    eprintln!("bench: inherited filter, {reps} containers each side, alternating sandboxes");
    let mut a: Vec<Vec<f64>> = vec![Vec::new(); LOOP_KINDS.len()];
    let mut g: Vec<Vec<f64>> = vec![Vec::new(); LOOP_KINDS.len()];
    let iters = b.p.loop_iters.to_string();
    for r in 0..reps {
        for (sb, v) in [(without, &mut a), (with, &mut g)] {
            let out = run_loopbench(b, sb, None, &[&iters], Duration::from_secs(300))?;
            for (i, (k, ..)) in LOOP_KINDS.iter().enumerate() {
                match parse_lines(&out.stdout, k).first() {
                    Some((x, _)) => v[i].push(*x),
                    None => bail!("loopbench printed no {k} line: {}", out.stdout),
                }
            }
        }
        eprint!("\r  {}/{reps}", r + 1);
    }
    eprintln!();

    // The same loops paired in one container of the sandbox without gvnet: side B installs
    // gvnet's filter itself, so the two sides differ by that filter alone; the control
    // installs a one-instruction ALLOW filter instead (what installing any extra layer costs,
    // and the noise of the method).
    let (pairs, pair_iters) = (b.p.loop_pairs, b.p.pair_iters);
    eprintln!(
        "bench: inherited filter, {pairs} pairs of {pair_iters} iterations in one container, gvnet's filter and control"
    );
    let t = Instant::now();
    let gv = loop_pairs(b, without, GVNET_FILTER)?;
    let control = loop_pairs(b, without, ALLOW_FILTER)?;
    let took = t.elapsed().as_secs_f64();
    eprintln!("bench: the paired part took {took:.0} s");
    b.note(&format!(
        "paired part ({pairs} pairs of {pair_iters} iterations, gvnet's filter and control): {took:.1} s"
    ));
    // Both ways of taking the units, logged for comparison: single pairs (judged) and A B B A
    // groups of two consecutive pairs.
    for (i, (k, ..)) in LOOP_KINDS.iter().enumerate() {
        for (name, f) in [("pairs", false), ("A B B A groups", true)] {
            let unit = |v: &[(f64, f64)]| if f { abba(v) } else { v.to_vec() };
            let (g, c) = (
                paired_units(&unit(&gv[i])),
                paired_units(&unit(&control[i])),
            );
            b.note(&format!(
                "paired {k} over {name}: gvnet's filter {}; control {}",
                fmt_paired(&g, name),
                fmt_paired(&c, name)
            ));
        }
    }

    // Per kind: gvnet's filter and the control over single pairs, as the rows are judged.
    let judged_pairs: Vec<(Paired, Paired)> = gv
        .iter()
        .zip(&control)
        .map(|(g, c)| (paired_units(g), paired_units(c)))
        .collect();
    for (i, (_, what, judged, calls)) in LOOP_KINDS.iter().enumerate() {
        let named = named_by_base(calls);
        let (p_gv, p_aa) = &judged_pairs[i];
        let own = format!(
            "the filter's own cost, paired in one container (next rows): {:+.0} ns ({:+.1}%), the control {:+.0} ns ({:+.1}%)",
            p_gv.diff,
            p_gv.share * 100.0,
            p_aa.diff,
            p_aa.share * 100.0
        );
        let (mut row, sa, sg) = cmp_row(
            &format!("inherited filter: {what} in a container"),
            "A: dockerd without gvnet; B: dockerd with gvnet",
            &a[i],
            &g[i],
            "ns",
        );
        let apart = (sg.median / sa.median - 1.0).abs();
        if *judged {
            row.target = "at most 2% apart".into();
            row.result = verdict(apart <= 0.02);
        } else {
            row.target = "none (informational)".into();
            row.result = format!("{:+.1}%", (sg.median / sa.median - 1.0) * 100.0);
        }
        let cause = if named.is_empty() {
            "gvnet's base layer, the one containers inherit (connect, bind, setsockopt), names none of this kind's calls, so gVisor answers them from its per-number verdict cache as without gvnet".to_string()
        } else {
            format!("{named} is named by gvnet's inherited filter, so gVisor cannot cache its verdict per syscall number and interprets every filter of the container on each such call, Docker's default profile included (docs/design.md, The seccomp filter)")
        };
        row.note = Some(
            if apart > 0.02 && (named.is_empty() || sg.median < sa.median) {
                format!(
                "{:.1}% apart, B the {} side; {cause}; {own}: the gap is the difference between two sandboxes (two dockerds, two runsc instances), not the filter",
                apart * 100.0,
                if sg.median < sa.median { "faster" } else { "slower" },
            )
            } else {
                format!("{:.1}% apart; {cause}; {own}", apart * 100.0)
            },
        );
        b.rows.push(row);
    }
    for (i, (_, what, judged, calls)) in LOOP_KINDS.iter().enumerate() {
        let named = named_by_base(calls);
        let (pa, pb): (Vec<f64>, Vec<f64>) = gv[i].iter().copied().unzip();
        let (mut row, sa, _) = cmp_row(
            &format!("inherited filter, paired in one container: {what}"),
            "A: the container's filters (Docker's profile); B: the same + gvnet's filter",
            &pa,
            &pb,
            "ns",
        );
        let (p_gv, p_aa) = &judged_pairs[i];
        let judgement = if *judged {
            let (ok, why) = judge_paired(p_gv, p_aa, 0.02, "pairs");
            row.target = "at most 2% apart (95% interval)".into();
            row.result = verdict(ok);
            format!("{why}; ")
        } else {
            row.target = "none (informational)".into();
            row.result = format!("{:+.1}%", p_gv.share * 100.0);
            String::new()
        };
        let bias = match p_aa.ci {
            Some((lo, hi, _)) if lo > 0.0 || hi < 0.0 => "; the control's interval excludes 0: by chance (a 95% interval misses about one time in twenty), by a cost of the extra layer itself, or because the load on the machine changed during the run (the interval assumes the pairs' differences come from one distribution)",
            _ => "",
        };
        let why = if named.is_empty() {
            "no call of this kind is named by gvnet's base layer (the one containers inherit; connect, bind, setsockopt): gVisor answers them from its verdict cache, as for side A".to_string()
        } else {
            format!("{named} is named by gvnet's filter (it reads an argument and the instruction pointer for it), so gVisor cannot cache its verdict and runs every filter of the stack on each {named}, Docker's profile included; without gvnet only Docker's profile is run, and only for the numbers it reads arguments of (docs/design.md, The seccomp filter)")
        };
        row.note = Some(format!(
            "median paired difference B − A, in ns and as a share of A's median {:.0} ns (the table's nearest-rank median: {:.0} ns): {}; {judgement}control with a one-instruction ALLOW filter as B's layer: {}{bias}; {why}",
            p_gv.med_a,
            sa.median,
            fmt_paired(p_gv, "pairs"),
            fmt_paired(p_aa, "pairs"),
        ));
        b.rows.push(row);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_output_is_matched_by_kind_and_order() {
        let out = "a getppid 100.0\na read 7\nb getppid 110.0\nb read 7\nb getppid 104\na getppid 100\njunk\nc getppid 1\n";
        assert_eq!(
            parse_pairs(out, "getppid"),
            vec![(100.0, 110.0), (100.0, 104.0)]
        );
        // A side without its partner (a child that died) is not a pair.
        assert_eq!(parse_pairs("a udp 5\nb udp 6\na udp 5\n", "udp").len(), 1);
        // Median of b − a over the pairs, and its share of a's median.
        let p = paired_units(&[(100.0, 102.0), (100.0, 110.0), (200.0, 201.0)]);
        assert_eq!(p.diff, 2.0);
        assert!((p.share - 0.02).abs() < 1e-12);
        // An even count takes the mean of the middle two, not the lower.
        let p = paired_units(&[
            (100.0, 101.0),
            (100.0, 103.0),
            (100.0, 105.0),
            (100.0, 120.0),
        ]);
        assert_eq!(p.diff, 4.0);
    }

    #[test]
    fn the_bench_filter_is_gvnets_and_allows_loopbench() {
        let dir = std::env::temp_dir().join(format!("gvnet-bench-filters-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (g, a) = write_filters(&dir).unwrap();
        let (g, a) = (fs::read(g).unwrap(), fs::read(a).unwrap());
        let mut want = [gvnet_core::filter::SockFilter::default(); gvnet_core::filter::MAX_INSNS];
        let len = gvnet_core::filter::build(&[BENCH_SITE], &mut want).unwrap();
        assert_eq!(g.len(), 8 * len);
        assert_eq!(&g[..2], &want[0].code.to_ne_bytes());
        assert_eq!(&g[4..8], &want[0].k.to_ne_bytes());
        assert_eq!(a, [6, 0, 0, 0, 0, 0, 0xff, 0x7f]);
        // The site is far from a static binary's text (0x400000 and up, a few MiB).
        const { assert!(BENCH_SITE > 1 << 40) };
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_loops_name_their_calls_and_the_inherited_layer_names_none() {
        for (k, _, _, calls) in LOOP_KINDS {
            assert!(!calls.is_empty(), "{k}");
            // What containers inherit reads arguments of none of the loops' calls: gVisor
            // answers them from its per-number cache (the rows' notes say which, if any).
            assert_eq!(named_by_base(calls), "", "{k}");
        }
        assert_eq!(
            named_by_base(&[(nr::BIND, "bind"), (nr::READ, "read")]),
            "bind"
        );
    }
}
