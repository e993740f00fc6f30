//! Part `start`: container start, with and without gvnet.

use super::common::*;
use crate::sandbox::Sandbox;
use crate::util::Result;
use std::time::Duration;

pub(super) fn part_start(b: &mut Bench, sb: &Sandbox) -> Result<()> {
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
        "container start, gvnet's dockerd on both sides (`docker run --rm bb true`)",
        "A: `--network host`; B: default bridge; both sides dockerd with gvnet, so the library's own cost cancels; the bench's runsc",
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
