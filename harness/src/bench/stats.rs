//! The statistics of `gvnet-harness bench`: percentiles, medians, the sign-test confidence
//! intervals of the paired rows and how a paired row is judged against its control.

/// Nearest-rank percentile of sorted samples: the smallest value with at least p% of the
/// samples at or below it.
pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Stats {
    pub(super) n: usize,
    pub(super) median: f64,
    p95: f64,
    pub(super) p99: f64,
}

pub(super) fn stats(samples: &[f64]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    Stats {
        n: s.len(),
        median: percentile(&s, 50.0),
        p95: percentile(&s, 95.0),
        p99: percentile(&s, 99.0),
    }
}

pub(super) fn fmt_num(v: f64, unit: &str) -> String {
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

pub(super) fn fmt_stats(s: Stats, unit: &str) -> String {
    format!(
        "{} / {} (n={})",
        fmt_num(s.median, unit),
        fmt_num(s.p95, unit),
        s.n
    )
}

/// The median of a list, the mean of the two middle values for an even count (the table's
/// nearest-rank median takes the lower one, which for a handful of paired differences would
/// flatter the result by up to half the gap between them).
pub(super) fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Median and range of a list in % of a core, for the notes.
pub(super) fn med_range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:+.2}% of a core (range {lo:+.2} to {hi:+.2}, n={})",
        median(v),
        v.len()
    )
}

/// The confidence level of the paired rows' intervals.
const CI_LEVEL: f64 = 0.95;

/// The distribution-free (sign-test) confidence interval for the median of `n` samples at
/// [`CI_LEVEL`]: 0-based ranks `(lo, hi)` into the sorted samples and the interval's exact
/// coverage. Whatever the distribution, the median lies below the k-th smallest of n samples
/// (1-based) only if at most k − 1 samples lie below it, which has probability
/// P(X ≤ k − 1) for X ~ binomial(n, 1/2); so [x(k), x(n+1−k)] covers it with probability
/// 1 − 2 P(X ≤ k − 1). This takes the largest k (the narrowest interval) that still covers with
/// at least 95%. None when no k does: for n < 6 even min..max covers only 1 − 2/2^n.
fn sign_ci_ranks(n: usize) -> Option<(usize, usize, f64)> {
    // P(X = j) in logs (2^-n underflows for large n), summed up to the tail P(X ≤ k − 1).
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0; // ln C(n, j)
    let mut tail = 0.0; // P(X ≤ j − 1)
    let mut best = None;
    for k in 1..=n.div_ceil(2) {
        let j = k - 1;
        if j > 0 {
            ln_choose += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
        let coverage = 1.0 - 2.0 * tail;
        if coverage < CI_LEVEL {
            break;
        }
        best = Some((k - 1, n - k, coverage));
    }
    best
}

/// The sign-test interval of [`sign_ci_ranks`] for the median of `v`: (low, high, coverage),
/// or None when `v` is too short for one.
pub(super) fn median_ci(v: &[f64]) -> Option<(f64, f64, f64)> {
    let (lo, hi, coverage) = sign_ci_ranks(v.len())?;
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    Some((s[lo], s[hi], coverage))
}

/// One paired comparison: the units it was judged on, their median difference and its
/// interval, in ns and as shares of A's median.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Paired {
    /// Units (pairs, or A B B A groups) the median and interval are taken over.
    pub(super) n: usize,
    /// Median of the units' A values (ns).
    pub(super) med_a: f64,
    /// Median of the differences B − A (ns), and as a share of `med_a`.
    pub(super) diff: f64,
    pub(super) share: f64,
    /// The 95% interval for the median difference as shares of `med_a`, and its coverage.
    pub(super) ci: Option<(f64, f64, f64)>,
}

/// The paired comparison over `units` of (A, B) in ns: the median of the differences B − A
/// and its share of A's median (true medians: the mean of the middle two for an even count).
pub(super) fn paired_units(units: &[(f64, f64)]) -> Paired {
    let med_a = median(&units.iter().map(|u| u.0).collect::<Vec<_>>());
    let d: Vec<f64> = units.iter().map(|(a, b)| b - a).collect();
    let diff = median(&d);
    let share = diff / med_a;
    Paired {
        n: units.len(),
        med_a,
        diff,
        share,
        ci: median_ci(&d).map(|(lo, hi, c)| (lo / med_a, hi / med_a, c)),
    }
}

/// Consecutive pairs taken two at a time: loopbench alternates the order (a b, b a, ...), so
/// pairs 2i and 2i+1 ran A B B A; each group gives the mean of its two A's and of its two B's,
/// which cancels a linear drift across the group. An odd last pair is left out.
pub(super) fn abba(pairs: &[(f64, f64)]) -> Vec<(f64, f64)> {
    pairs
        .chunks_exact(2)
        .map(|g| ((g[0].0 + g[1].0) / 2.0, (g[0].1 + g[1].1) / 2.0))
        .collect()
}

/// `lo..hi` of a share interval in percent.
pub(super) fn fmt_ci(ci: (f64, f64, f64)) -> String {
    format!("{:+.1}%..{:+.1}%", ci.0 * 100.0, ci.1 * 100.0)
}

/// A paired comparison for a note: median difference, share, and its 95% interval.
pub(super) fn fmt_paired(p: &Paired, unit: &str) -> String {
    let ci = match p.ci {
        Some(ci) => format!(
            "95% interval {} (sign test over {} {unit}, exact coverage {:.1}%)",
            fmt_ci(ci),
            p.n,
            ci.2 * 100.0
        ),
        None => format!(
            "no 95% interval: {} {unit} are too few for one (at least 6 are needed)",
            p.n
        ),
    };
    format!("{:+.0} ns ({:+.1}%), {ci}", p.diff, p.share * 100.0)
}

/// Judges a paired comparison against `bound` (a share of A's median): met only when its whole
/// interval lies within ±bound. Returns whether it is met and why, and for a miss whether the
/// interval lies wholly outside (a real difference) or straddles the bound (too few units to
/// tell); `control` is the A/A control's interval, quoted as the method's own noise.
pub(super) fn judge_paired(p: &Paired, control: &Paired, bound: f64, unit: &str) -> (bool, String) {
    let b = bound * 100.0;
    let noise = match control.ci {
        Some(ci) => format!(
            "the control's own interval, {}, is the method's noise",
            fmt_ci(ci)
        ),
        None => "the control has no interval either".to_string(),
    };
    match p.ci {
        None => (
            false,
            format!(
                "not decided: {} {unit} give no 95% interval, so the target cannot be shown met",
                p.n
            ),
        ),
        Some((lo, hi, _)) if lo >= -bound && hi <= bound => (
            true,
            format!("the whole 95% interval lies within ±{b:.0}%"),
        ),
        Some((lo, hi, _)) if lo > bound || hi < -bound => (
            false,
            format!(
                "the whole 95% interval lies {} ±{b:.0}%: a real {} ({noise})",
                if lo > bound { "above" } else { "below" },
                if lo > bound { "cost" } else { "speed-up of side B" },
            ),
        ),
        Some(_) => (
            false,
            format!(
                "the 95% interval straddles ±{b:.0}%: with {} {unit} the method cannot resolve {b:.0}% ({noise})",
                p.n
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_test_intervals_match_the_binomial_tables() {
        // Below 6 no interval reaches 95%: min..max covers 1 − 2/2^n (93.75% for 5).
        for n in 0..6 {
            assert_eq!(sign_ci_ranks(n), None, "n={n}");
        }
        assert!(median_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]).is_none());
        // 6 to 8: min..max, 1 − 2/2^n.
        for (n, cov) in [(6, 0.96875), (7, 0.984375), (8, 0.9921875)] {
            let (lo, hi, c) = sign_ci_ranks(n).unwrap();
            assert_eq!((lo, hi), (0, n - 1));
            assert!((c - cov).abs() < 1e-12, "n={n}: {c}");
        }
        // The usual table values (1-based ranks k and n+1−k): n=9: 2..8 (96.1%),
        // n=10: 2..9 (97.9%), 20: 6..15 (95.9%), 40: 14..27 (96.2%), 100: 40..61 (96.5%).
        let want = [
            (9, 1, 7, 0.9609375),
            (10, 1, 8, 0.978515625),
            (20, 5, 14, 0.9586105346679688),
            (40, 13, 26, 0.9615226917157997),
            (100, 39, 60, 0.9647997997822952),
        ];
        for (n, lo, hi, cov) in want {
            let (l, h, c) = sign_ci_ranks(n).unwrap();
            assert_eq!((l, h), (lo, hi), "n={n}");
            assert!((c - cov).abs() < 1e-9, "n={n}: {c}");
        }
        // Large n does not underflow, and the interval narrows towards the middle.
        let (l, h, c) = sign_ci_ranks(2000).unwrap();
        assert!(
            c >= 0.95 && l > 900 && h < 1100 && l + h == 1999,
            "{l} {h} {c}"
        );
        // The interval is taken from the sorted samples, whatever their order.
        let v = [9.0, -3.0, 4.0, 0.0, 7.0, 1.0, -8.0, 2.0, 5.0, 3.0];
        assert_eq!(median_ci(&v).map(|x| (x.0, x.1)), Some((-3.0, 7.0)));
    }

    #[test]
    fn paired_rows_are_judged_on_the_whole_interval() {
        // 10 pairs, A = 100 ns each: differences -3..+6 ns, interval -2..+5 ns = -2%..+5%.
        let pairs: Vec<(f64, f64)> = (-3..=6).map(|d| (100.0, 100.0 + f64::from(d))).collect();
        let p = paired_units(&pairs);
        assert_eq!((p.n, p.med_a, p.diff), (10, 100.0, 1.5));
        let ci = p.ci.unwrap();
        assert!((ci.0 + 0.02).abs() < 1e-12 && (ci.1 - 0.05).abs() < 1e-12);
        let tight: Vec<(f64, f64)> = (0..10)
            .map(|i| (100.0, 100.0 + f64::from(i % 3) - 1.0))
            .collect();
        let control = paired_units(&tight);
        // Straddles +2%: the method cannot tell, and the control's interval is quoted.
        let (ok, why) = judge_paired(&p, &control, 0.02, "pairs");
        assert!(!ok);
        assert!(
            why.contains("straddles ±2%: with 10 pairs the method cannot resolve 2%"),
            "{why}"
        );
        assert!(
            why.contains("the control's own interval, -1.0%..+1.0%"),
            "{why}"
        );
        // Within: met, though the median itself is not zero.
        let (ok, why) = judge_paired(&control, &control, 0.02, "pairs");
        assert!(ok, "{why}");
        // Wholly above: a real cost; wholly below: a real speed-up.
        let up: Vec<(f64, f64)> = pairs.iter().map(|(a, b)| (*a, b + 6.0)).collect();
        let (ok, why) = judge_paired(&paired_units(&up), &control, 0.02, "pairs");
        assert!(!ok && why.contains("lies above ±2%: a real cost"), "{why}");
        let down: Vec<(f64, f64)> = pairs.iter().map(|(a, b)| (*a, b - 10.0)).collect();
        let (ok, why) = judge_paired(&paired_units(&down), &control, 0.02, "pairs");
        assert!(!ok && why.contains("lies below ±2%"), "{why}");
        // Too few pairs: never met, however small the differences.
        let few = paired_units(&tight[..5]);
        assert!(few.ci.is_none());
        let (ok, why) = judge_paired(&few, &few, 0.02, "pairs");
        assert!(!ok && why.contains("5 pairs give no 95% interval"), "{why}");
        assert!(fmt_paired(&few, "pairs").contains("at least 6 are needed"));
        // A B B A groups: two consecutive pairs (a b, b a), means per side; an odd one left out.
        let g = abba(&[(1.0, 3.0), (3.0, 5.0), (10.0, 10.0)]);
        assert_eq!(g, vec![(2.0, 4.0)]);
    }

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
}
