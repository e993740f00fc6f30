//! Part `trap`: one trapped call, with and without the SIGSYS handler, on the host and in gVisor.

use super::common::*;
use super::stats::*;
use crate::bail;
use crate::sandbox::Sandbox;
use crate::util::{self, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LOOP_SRC: &str = include_str!("../../../tests/bench/loopbench.c");
const FLOOR_SRC: &str = include_str!("../../../tests/bench/sigsysfloor.c");
const TRAP_GO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/bench/trapbench-go");
const TRAP_BIN: &str = "trapbench-go";

/// Builds tests/bench/trapbench-go (cgo, Debian's golang-go, offline) into `dir`.
pub(super) fn build_trapbench(dir: &Path) -> Result<PathBuf> {
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
pub(super) fn build_loopbench(dir: &Path) -> Result<PathBuf> {
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
                if let Some(floor) = b.go_floor {
                    note.push_str(&format!(
                        "; {floor:.0} ns of it is the floor measured in the same Go program with an empty handler (its own row), which no SECCOMP_RET_TRAP design avoids; gvnet's handler adds {:.0} ns ({})",
                        added - floor,
                        handler_work(calls[i].0),
                    ));
                }
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

/// What gvnet's handler does for one call of trapbench-go's, beside the trap itself.
fn handler_work(call: &str) -> &'static str {
    match call {
        "getsockname" => {
            "the call re-issued from the library's text, and one fstat: some netlink socket of the process has a record, so the socket's inode is checked against them"
        }
        _ => {
            "one fstat to find the socket's record, one process_vm_readv of the group; the kernel is not asked"
        }
    }
}

pub(super) fn part_trap_host(b: &mut Bench, bin: &Path, lib: &Path) -> Result<()> {
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

/// The floor under any seccomp-trap design, on the host kernel: a trapped getsockname with an
/// empty SIGSYS handler (B) against the same call untrapped (A), in tests/bench/sigsysfloor.c
/// (static C) and in trapbench-go's `floor` mode (the Go program of the trapped rows, whose
/// signal frames carry the FPU state Go's runtime uses). Sets `b.go_floor`.
pub(super) fn part_trap_floor(b: &mut Bench, dir: &Path, trap_bin: &Path) -> Result<()> {
    eprintln!("bench: SIGSYS round trip alone on the host kernel");
    let c_bin = dir.join("sigsysfloor");
    util::build_static_c(FLOOR_SRC, &c_bin)?;
    let (iters, batches) = (b.p.trap_iters.to_string(), b.p.trap_batches.to_string());
    let (mut ca, mut ct, mut ga, mut gt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..b.p.trap_rounds {
        let runs: [(&Path, &[&str], &mut Vec<f64>); 4] = [
            (&c_bin, &["plain"], &mut ca),
            (&c_bin, &["trap"], &mut ct),
            (trap_bin, &[], &mut ga),
            (trap_bin, &["floor"], &mut gt),
        ];
        for (bin, mode, side) in runs {
            let mut c = Command::new(bin);
            c.args([iters.as_str(), batches.as_str()]).args(mode);
            b.note(&format!("[host] $ {}", util::cmdline(&c)));
            let out = util::capture(&mut c, Duration::from_secs(300))?;
            b.note(out.combined().trim_end());
            if !out.ok() {
                bail!("{} on the host: {}", util::cmdline(&c), out.describe());
            }
            side.extend(parse_lines(&out.stdout, "getsockname").iter().map(|x| x.0));
        }
    }
    let sides = "A: not trapped; B: SECCOMP_RET_TRAP + a SIGSYS handler that only sets the result";
    let (mut row, sa, sb) = cmp_row(
        "getsockname, UDP socket, trapped with an empty handler, Go (trapbench-go floor), host kernel",
        sides,
        &ga,
        &gt,
        "ns",
    );
    let go_floor = sb.median - sa.median;
    row.target = "none (the floor under the trapped rows)".into();
    row.result = format!("added {}", fmt_num(go_floor, "ns"));
    row.note = Some(format!(
        "what the kernel charges trapbench-go (the program of the trapped rows) for one trapped call before any handler code runs: SIGSYS delivery on the thread's signal stack, the signal frame with the FPU state Go's runtime has in use, rt_sigreturn; {go_floor:.0} ns of the trapped calls' added cost is this floor"
    ));
    b.rows.push(row);
    b.go_floor = Some(go_floor);
    let (mut row, sa, sb) = cmp_row(
        "getsockname, UDP socket, trapped with an empty handler, static C (sigsysfloor), host kernel",
        sides,
        &ca,
        &ct,
        "ns",
    );
    row.target = "none (for comparison)".into();
    row.result = format!("added {}", fmt_num(sb.median - sa.median, "ns"));
    row.note = Some(format!(
        "the same floor in a small static C program (no Go runtime, no signal stack, little FPU state in use): {:.0} ns, for comparison with the Go row",
        sb.median - sa.median
    ));
    b.rows.push(row);
    Ok(())
}

pub(super) fn part_trap_gvisor(b: &mut Bench, sb: &Sandbox) -> Result<()> {
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
