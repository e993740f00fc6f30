//! What every part of `gvnet-harness bench` uses: the options (`Params`), the run's state and
//! log (`Bench`), a table row, and starting a bench sandbox.

use super::stats::*;
use crate::gvisor::Runsc;
use crate::sandbox::{self, Mode, Sandbox};
use crate::testbed::Testbed;
use crate::util::{Context, Output, Result};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Counts and sizes; all settable on the command line.
#[derive(Debug, Clone)]
pub(super) struct Params {
    pub(super) starts: usize,
    pub(super) trap_iters: usize,
    pub(super) trap_rounds: usize,
    pub(super) trap_batches: usize,
    pub(super) loop_iters: usize,
    pub(super) loop_reps: usize,
    pub(super) loop_pairs: usize,
    pub(super) pair_iters: usize,
    pub(super) containers: usize,
    pub(super) parallel: usize,
    pub(super) cycles: usize,
    pub(super) events: usize,
    pub(super) quiet_events: usize,
    pub(super) idle_rounds: usize,
    pub(super) idle_samples: usize,
    pub(super) idle_secs: usize,
    pub(super) exec_count: usize,
    pub(super) exec_rounds: usize,
    /// The current gVisor of start-current and exec (a runsc or an .xz of one).
    pub(super) current_runsc: PathBuf,
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
            // Many short pairs rather than a few long ones, in the time 10 pairs of 200000
            // took: the paired rows are judged on an interval for the median difference, which
            // narrows with the number of pairs, and a burst of load from elsewhere spoils
            // fewer pairs when they are short. On a busy 2-core machine the control's interval
            // per kind was 2.4-5.2 points wide with 160 pairs of 12500, 3.6-16 with 80 of 25000,
            // 11-31 with 40 of 50000 and 15-156 with 10 of 200000. Each child costs about
            // 17-28 ms besides its loops (fork, filter, sockets, output: 11 s for 160 pairs in
            // both containers, 2 s for 10), so the iterations are 12% fewer than 10 × 200000
            // to keep the part's time (131 s for 10 pairs of 200000 in the same conditions).
            loop_pairs: 160,
            pair_iters: 11000,
            containers: 100,
            parallel: 10,
            // The count. The cycles run with runc's `--no-new-keyring` (see
            // NOKEYRING): gVisor refuses a 201st session keyring in a sandbox.
            cycles: 200,
            events: 200,
            quiet_events: 30,
            // Blocks of idle rounds (B, A, A, A), each counted over idle_secs.
            idle_rounds: 6,
            idle_secs: 8,
            idle_samples: 5,
            // Issue 18's count per figure; rounds interleave the four variants.
            exec_count: 200,
            exec_rounds: 6,
            current_runsc: default_current_runsc(),
        }
    }
}

/// The runsc of gVisor's current release, as `make test` lays it out (`../shared` beside the
/// checkout); `--current-runsc` names another.
fn default_current_runsc() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/gvisor/runsc-release-20260817.0-70.xz"
    ))
}

/// One line of the table.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) what: String,
    pub(super) sides: String,
    pub(super) a: String,
    pub(super) b: String,
    pub(super) ratio: String,
    pub(super) target: String,
    pub(super) result: String,
    pub(super) note: Option<String>,
}

/// A row comparing two interleaved sample sets (values in ns).
pub(super) fn cmp_row(
    what: &str,
    sides: &str,
    a: &[f64],
    b: &[f64],
    unit: &str,
) -> (Row, Stats, Stats) {
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

pub(super) fn not_measured(what: &str, why: &str) -> Row {
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

pub(super) fn verdict(ok: bool) -> String {
    if ok { "met" } else { "target missed" }.to_string()
}

/// Everything a bench run collects, for the table and the log.
pub(super) struct Bench {
    pub(super) p: Params,
    /// The idle dockerd row, measured before any part, placed with the scale rows.
    pub(super) idle_row: Option<Row>,
    pub(super) rows: Vec<Row>,
    /// What a trapped call with an empty handler adds in trapbench-go on the host (ns, median
    /// B − median A), once `part_trap_floor` measured it: the part of the trapped rows' cost
    /// that no handler can avoid.
    pub(super) go_floor: Option<f64>,
    pub(super) log: fs::File,
}

impl Bench {
    pub(super) fn note(&mut self, text: &str) {
        let _ = writeln!(self.log, "{text}");
    }

    /// Runs argv in a sandbox, logging command and output.
    pub(super) fn exec(
        &mut self,
        sb: &Sandbox,
        argv: &[&str],
        timeout: Duration,
    ) -> Result<Output> {
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

    pub(super) fn sh(&mut self, sb: &Sandbox, script: &str, timeout: Duration) -> Result<Output> {
        self.exec(sb, &["sh", "-c", script], timeout)
    }
}

/// Stops the bench's sandboxes however the run ends.
pub(super) struct Sandboxes(pub(super) Vec<Sandbox>);

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
pub(super) fn parse_lines<'a>(text: &'a str, name: &str) -> Vec<(f64, &'a str)> {
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

/// The runsc of this bench run (`--runsc`, `--runsc-flag`), set once by `run`.
pub(super) static RUNSC: std::sync::OnceLock<Runsc> = std::sync::OnceLock::new();

pub(super) fn start_sandbox(
    tb: &Testbed,
    mode: Mode,
    lib: &Path,
    stage: &[&Path],
) -> Result<Sandbox> {
    let runsc = RUNSC.get().ok_or("bench: no runsc resolved")?;
    start_sandbox_on(tb, runsc, mode, lib, stage)
}

/// Sandboxes started by this bench run, for unique ids (two of one mode can run at once).
static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A sandbox on a given runsc (the parts that compare gVisor releases or flags).
pub(super) fn start_sandbox_on(
    tb: &Testbed,
    runsc: &Runsc,
    mode: Mode,
    lib: &Path,
    stage: &[&Path],
) -> Result<Sandbox> {
    let run_dir = sandbox::new_run_dir(&format!("bench-{}-{}", mode.name(), runsc.label()))?;
    sandbox::prepare_run_dir(&run_dir, mode, lib, &tb.bb_tar())?;
    for f in stage {
        let name = f.file_name().ok_or("staged file without a name")?;
        fs::copy(f, run_dir.join("opt").join(name))
            .with_ctx(|| format!("cannot stage {}", f.display()))?;
    }
    let k = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!("gvnet-bench-{}-{k}-{}", std::process::id(), mode.name());
    sandbox::start(&run_dir, mode, Some(tb), Some(runsc), &id)
}

/// A's and B's container-start samples (ns), the (A, B) pairs, and how many starts failed.
pub(super) type Starts = (Vec<f64>, Vec<f64>, Vec<(f64, f64)>, usize);

/// `n` pairs of container starts, A then B, then B then A (a drift within a pair cancels over
/// two): `a` and `b` are (sandbox, command), each timed inside its sandbox so that `runsc exec`
/// itself is not part of the figure. A start that fails counts as failed, not as a sample.
pub(super) fn alternate_starts(
    bench: &mut Bench,
    n: usize,
    a: (&Sandbox, &str),
    b: (&Sandbox, &str),
) -> Result<Starts> {
    let (mut va, mut vb, mut pairs, mut fails) = (Vec::new(), Vec::new(), Vec::new(), 0usize);
    for i in 0..n {
        let order = if i % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let mut pair = [f64::NAN; 2];
        for is_b in order {
            let (sb, cmd) = if is_b { b } else { a };
            let script = format!(
                "s=$(date +%s%N); {cmd} >/dev/null 2>&1; r=$?; e=$(date +%s%N); echo \"rc $r $((e-s))\""
            );
            let out = bench.sh(sb, &script, Duration::from_secs(180))?;
            match parse_lines(&out.stdout, "rc").first() {
                Some((0.0, t)) => {
                    let v = t.parse::<f64>().unwrap_or(f64::NAN);
                    pair[usize::from(is_b)] = v;
                    if is_b { &mut vb } else { &mut va }.push(v);
                }
                _ => fails += 1,
            }
        }
        if pair.iter().all(|v| !v.is_nan()) {
            pairs.push((pair[0], pair[1]));
        }
        eprint!("\r  {}/{n}", i + 1);
    }
    eprintln!();
    Ok((va, vb, pairs, fails))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_value_lines() {
        let t = "getsockname 360.5 ok\nadd_membership 12 92\nnoise\n";
        assert_eq!(parse_lines(t, "getsockname"), vec![(360.5, "ok")]);
        assert_eq!(parse_lines(t, "add_membership"), vec![(12.0, "92")]);
        assert!(parse_lines(t, "udp").is_empty());
    }
}
