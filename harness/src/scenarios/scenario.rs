//! What a scenario of `gvnet-harness check` is (`Scenario`, and what it must do in a setup and
//! mode: `Expect`), the context it runs in (`Ctx`) and its verdict (`Verdict`). The scenario
//! modules beside this one use it; check.rs runs them.

use crate::gvisor::Setup;
use crate::sandbox::{Mode, Sandbox};
use crate::util::Output;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Per-run context: the sandbox and the check log.
pub(crate) struct Ctx<'a> {
    pub sb: &'a Sandbox,
    pub log: fs::File,
    /// The run directory (its opt/ is /opt/gvnet inside the sandbox).
    pub run_dir: &'a Path,
    /// What this gVisor does (measured before the scenarios).
    pub setup: &'a Setup,
    /// Commands that timed out, with the file that says where they hung (`diagnose_hang`);
    /// check.rs adds them to the scenario's verdict.
    pub hangs: Vec<String>,
    /// Commands that failed with runc's `open exec fifo ...: interrupted system call` and ran
    /// again (`Ctx::run`); check.rs adds them to the verdict.
    pub interrupted: Vec<String>,
}

/// runc's error when the container's init is interrupted in its blocking open of the exec
/// fifo (runc 1.1: `open exec fifo /proc/self/fd/5: interrupted system call`; runc 1.3:
/// `reopen exec fifo: reopen fd 7: interrupted system call`). gVisor returns EINTR there even
/// for a signal whose handler has SA_RESTART (Go's preemption signal), where Linux restarts
/// the open (google/gvisor pull request 14849, open in 2026-09, not in release-20260817.0).
/// Seen twice in one CI run on a loaded machine (20240729 and current+flag, both with the
/// preload), never before in about 30 runs; runc init carries nothing of gvnet but the
/// inherited filter, which does not name open.
pub(crate) const RUNC_FIFO_EINTR: [&str; 2] = ["exec fifo", "interrupted system call"];

pub(crate) type Verdict = std::result::Result<String, String>;

impl Ctx<'_> {
    /// Appends `text` to the check log, control characters escaped (`util::printable`): the
    /// log stays text for grep and for the tail a failed run prints.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.log, "{}", crate::util::printable(text));
    }

    /// Runs argv in the sandbox, logging the command and its output. Errors of the harness
    /// itself (cannot spawn runsc) become a failed Output-like string.
    ///
    /// A command that times out is looked into (`diagnose_hang`). Without the library (a
    /// `--no-preload` run) the first one in a scenario runs once more: there a hang is gVisor's
    /// or dockerd's own, not the failure the scenario shows. Seen on 20240729 in about one run
    /// in eight, always `outbound`'s first `docker run`: after the network setup failed,
    /// dockerd's cleanup waits forever for the container's output streams (its goroutine
    /// stacks: `containerStart` → `ForceDelete` → containerd's `task.Delete` → `rio.Wait`).
    /// With the library a hang stays a failure. Either way the verdict names it.
    ///
    /// A command whose output has [`RUNC_FIFO_EINTR`] (gVisor's, not the scenario's) runs once
    /// more, the first time in a scenario, in both modes; the verdict says so.
    pub fn run(&mut self, argv: &[&str], timeout: Duration) -> std::result::Result<Output, String> {
        let out = self.run_once(argv, timeout)?;
        // Whatever the exit status: a script may print docker's error and go on.
        if self.interrupted.is_empty() {
            let text = out.combined();
            if RUNC_FIFO_EINTR.iter().all(|p| text.contains(p)) {
                self.interrupted
                    .push(argv.join(" ").chars().take(60).collect());
                self.note("(runc's exec fifo open was interrupted: gVisor's EINTR, once more)");
                return self.run_once(argv, timeout);
            }
        }
        if !out.timed_out {
            return Ok(out);
        }
        let file = self.diagnose_hang(argv);
        self.hangs.push(file);
        if self.sb.mode == Mode::NoPreload && self.hangs.len() == 1 {
            self.note("(without the library a hang is not what the scenario checks: once more)");
            return self.run_once(argv, timeout);
        }
        Ok(out)
    }

    fn run_once(
        &mut self,
        argv: &[&str],
        timeout: Duration,
    ) -> std::result::Result<Output, String> {
        self.note(&format!("$ {}", argv.join(" ")));
        let out = self.sb.exec(argv, timeout).map_err(|e| e.to_string())?;
        let text = out.combined();
        if !text.is_empty() {
            self.note(&text);
        }
        self.note(&format!(
            "[{} in {:.1}s]",
            out.describe(),
            out.elapsed.as_secs_f64()
        ));
        Ok(out)
    }

    /// After a command timed out: the sandbox's processes, and dockerd's and containerd's
    /// goroutine stacks (SIGUSR1 makes dockerd write them under /var/run/docker and containerd
    /// into its log, dockerd.log), saved as hang-N.txt in the run directory and named in the
    /// check log, so a hang can be told from a failure after the run. Returns the file's name.
    fn diagnose_hang(&mut self, argv: &[&str]) -> String {
        let script = "ps -eo pid,ppid,stat,etimes,wchan:24,args 2>&1 | cut -c1-300
echo
for p in dockerd containerd; do kill -USR1 $(pidof $p) 2>/dev/null && echo \"SIGUSR1 to $p\"; done
sleep 2
f=$(ls -t /var/run/docker/goroutine-stacks-*.log 2>/dev/null | head -n 1)
[ -n \"$f\" ] && { echo \"--- $f\"; cat \"$f\"; }";
        let text = match self.sb.sh(script, Duration::from_secs(30)) {
            Ok(o) => o.combined(),
            Err(e) => format!("could not look: {e}"),
        };
        let n = (1..)
            .find(|i| !self.run_dir.join(format!("hang-{i}.txt")).exists())
            .unwrap_or(0);
        let file = self.run_dir.join(format!("hang-{n}.txt"));
        let _ = fs::write(&file, format!("$ {}\n\n{text}\n", argv.join(" ")));
        self.note(&format!(
            "(timed out: processes and goroutine stacks in {})",
            file.display()
        ));
        format!("hang-{n}.txt")
    }

    pub fn docker(
        &mut self,
        args: &[&str],
        timeout: Duration,
    ) -> std::result::Result<Output, String> {
        let mut argv = vec!["docker"];
        argv.extend_from_slice(args);
        self.run(&argv, timeout)
    }

    /// Like `docker` but a non-zero exit is an Err with the most telling line.
    pub fn docker_ok(
        &mut self,
        args: &[&str],
        timeout: Duration,
    ) -> std::result::Result<String, String> {
        let out = self.docker(args, timeout)?;
        if out.ok() {
            return Ok(out.stdout.trim().to_string());
        }
        Err(failure_reason(
            &format!("docker {}", args.first().unwrap_or(&"")),
            &out,
        ))
    }

    /// The pid of the one process named `name` in the sandbox (`pidof`); an error when there is
    /// none or more than one.
    pub fn pid_of(&mut self, name: &str) -> std::result::Result<u32, String> {
        self.one_pid(&["pidof", name])
    }

    /// The one pid `argv` (`pidof`, `pgrep`) prints; an error naming the command when it
    /// prints none or more than one.
    pub fn one_pid(&mut self, argv: &[&str]) -> std::result::Result<u32, String> {
        let out = self.run(argv, Duration::from_secs(30))?;
        let pids: Vec<u32> = out
            .stdout
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        match pids[..] {
            [p] => Ok(p),
            _ => Err(format!("{}: {:?}", argv.join(" "), out.stdout.trim())),
        }
    }

    /// Stops dockerd with `signal` and starts it again with `env` over its usual settings
    /// (`Sandbox::restart_dockerd`), both noted in the log; the first line of its answer.
    pub fn restart_dockerd(
        &mut self,
        signal: &str,
        env: &[(&str, &str)],
    ) -> std::result::Result<String, String> {
        self.note(&format!("restarting dockerd (SIG{signal}) with {env:?}"));
        let r = self
            .sb
            .restart_dockerd(signal, env)
            .map_err(|e| e.to_string());
        self.note(&format!("{r:?}"));
        r.map(|s| s.lines().next().unwrap_or("").to_string())
    }
}

/// The most useful line of a failed command's output, prefixed with what ran.
pub(crate) fn failure_reason(what: &str, out: &Output) -> String {
    let text = out.combined();
    let line = text
        .lines()
        .find(|l| {
            l.contains("Error response from daemon") || l.contains("error") || l.contains("Error")
        })
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim();
    format!("{what}: {} {line}", out.describe())
}

/// What a scenario must do in one setup and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Pass,
    /// It must fail, and its error must contain this text.
    Fail(&'static str),
}

pub(crate) struct Scenario {
    pub name: &'static str,
    /// What must happen in a setup (measured: `gvisor::Setup`), with or without the preload.
    /// Each `Fail` was seen and explained (harness/README.md lists them).
    pub expect: fn(&Setup, Mode) -> Expect,
    pub run: fn(&mut Ctx) -> Verdict,
}

/// Passes everywhere, with and without the preload.
pub(crate) fn always(_: &Setup, _: Mode) -> Expect {
    Expect::Pass
}

/// A container on a bridge: passes with the preload; without it fails where dockerd's bridge
/// does not work natively (`Setup::bridge_error`), and passes where it does (current gVisor
/// with --allow-packet-socket-write).
pub(crate) fn bridge(s: &Setup, m: Mode) -> Expect {
    match (m, s.bridge_error()) {
        (Mode::NoPreload, Some(e)) => Expect::Fail(e),
        _ => Expect::Pass,
    }
}
