//! Part `start`: container start, with and without gvnet.

use super::common::*;
use super::stats::{fmt_ci, paired_units};
use crate::bail;
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

/// The dockerd without gvnet that part start-baseline starts beside the sandbox's own (gvnet)
/// dockerd: its own data root, exec root (so its own containerd), socket and pid file, no
/// iptables and no bridge (only `--network host` is asked of it), the storage driver and
/// runtime gvnet-dockerd chooses. Prints `ready` once it answers with `bb` imported. With
/// `--bridge=none` moby deletes `docker0` at its start (`removeDefaultBridgeInterface`), and a
/// bridge of its own cannot be named instead (gVisor reports links without their kind, so
/// dockerd takes an existing bridge for "not a bridge"): the gvnet dockerd is restarted after
/// it, and makes its `docker0` again.
fn baseline_dockerd_script(opt: &str) -> String {
    format!(
        "S={BASE}; mkdir -p $S; rt=''
if [ \"$(stat -c %i /proc)\" != 1 ] && [ -x /usr/local/sbin/runc ]; then rt='--add-runtime=trixie-runc=/usr/local/sbin/runc --default-runtime=trixie-runc'; fi
env -u LD_PRELOAD -u GVNET_LOG -u GVNET_LOG_FILE dockerd --storage-driver=vfs --iptables=false --ip6tables=false --ip-forward=false --bridge=none $rt --data-root=/var/lib/gvnet-bench-a --exec-root=$S/exec --pidfile=$S/dockerd.pid -H unix://$S/docker.sock >$S/dockerd.log 2>&1 </dev/null &
i=0; until docker -H unix://$S/docker.sock version >/dev/null 2>&1; do i=$((i+1)); if [ $i -gt 600 ]; then echo 'dockerd A did not answer in 60 s'; tail -n 20 $S/dockerd.log; exit 1; fi; sleep 0.1; done
docker -H unix://$S/docker.sock import -c 'CMD [\"/bin/sh\"]' {opt}/bb.tar bb:latest >/dev/null && echo ready"
    )
}

/// Where the baseline dockerd keeps its socket, pid file and log in the sandbox.
const BASE: &str = "/run/gvnet-bench-a";

/// Part start-baseline (issue 18): what a user has without gvnet against what gvnet gives,
/// in one sandbox of the bench's runsc: A, a dockerd without gvnet, `docker run --rm
/// --network host bb true` (what users do today); B, the sandbox's dockerd with gvnet, the
/// same on the default bridge. Both dockerds run side by side and the starts alternate (A B,
/// then B A).
pub(super) fn part_start_baseline(b: &mut Bench, sb: &Sandbox) -> Result<()> {
    let n = b.p.starts;
    eprintln!(
        "bench: container start against dockerd without gvnet, {n} runs each side, interleaved"
    );
    let up = b.sh(
        sb,
        &baseline_dockerd_script(&sb.opt),
        Duration::from_secs(180),
    )?;
    if !up.stdout.contains("ready") {
        bail!("the dockerd without gvnet did not start: {}", up.combined());
    }
    // It deleted docker0: the gvnet dockerd makes it again when it starts.
    let how = sb.restart_dockerd("TERM", &[])?;
    b.note(&format!(
        "start-baseline: the gvnet dockerd restarted after the one without gvnet: {how}"
    ));
    let a_cmd = format!("docker -H unix://{BASE}/docker.sock run --rm --network host bb true");
    let b_cmd = "docker run --rm bb true".to_string();
    let res = (|| -> Result<Starts> {
        // One warm-up of each, not counted.
        for cmd in [&a_cmd, &b_cmd] {
            b.sh(sb, cmd, Duration::from_secs(120))?;
        }
        alternate_starts(b, n, (sb, &a_cmd), (sb, &b_cmd))
    })();
    // Stop the baseline dockerd (and with it its containerd) however the runs went.
    let _ = b.sh(
        sb,
        &format!("p=$(cat {BASE}/dockerd.pid 2>/dev/null) && kill $p; i=0; while [ -n \"$p\" ] && kill -0 $p 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; true"),
        Duration::from_secs(60),
    );
    let (va, vb, pairs, fails) = res?;
    // The gvnet dockerd's bridge must have survived the other dockerd (the parts after this
    // one run containers on it).
    let after = b.sh(
        sb,
        "docker run --rm bb true && echo bridge-ok",
        Duration::from_secs(120),
    )?;
    if !after.stdout.contains("bridge-ok") {
        bail!(
            "after the dockerd without gvnet, the default bridge fails: {}",
            after.combined()
        );
    }
    let (mut row, sa, sbs) = cmp_row(
        "container start, gvnet against what users do without it (`docker run --rm bb true`)",
        "A: dockerd without gvnet, `--network host` (what users do today); B: dockerd with gvnet, default bridge; both dockerds in one sandbox of the bench's runsc, starts alternating",
        &va,
        &vb,
        "ms",
    );
    let ratio = sbs.median / sa.median;
    row.target = "B/A ≤ 1.02".into();
    row.result = verdict(ratio <= 1.02 && fails == 0);
    let p = paired_units(&pairs);
    let mut note = format!(
        "{fails} runs failed; per pair (A and B one after the other, the order alternating), median B − A {:+.0} ms ({:+.1}% of A's median{})",
        p.diff / 1e6,
        p.share * 100.0,
        p.ci
            .map(|c| format!(", 95% interval {} over {} pairs", fmt_ci(c), p.n))
            .unwrap_or_default(),
    );
    if ratio > 1.02 {
        let bridge = b
            .rows
            .iter()
            .find(|r| {
                r.what
                    .starts_with("container start, gvnet's dockerd on both sides")
            })
            .map(|r| format!("B/A {} there", r.ratio))
            .unwrap_or_else(|| "not run in this bench".into());
        note.push_str(&format!(
            ". Why: B − A holds the bridge path A skips (a veth pair, one end moved into the container's namespace, its addresses and routes, each a netlink round trip through gVisor) and what the library does in dockerd (its trapped calls; its children no longer load it, GVNET_CHILDREN=drop); the row with gvnet's dockerd on both sides measures the bridge alone under one dockerd ({bridge})"
        ));
    }
    row.note = Some(note);
    b.rows.push(row);
    Ok(())
}
