//! gvnet-harness: builds a gVisor sandbox with a real dockerd from Debian packages and proves
//! libgvnet.so there. See harness/README.md.

mod bench;
mod check;
mod gvisor;
mod sandbox;
mod scenarios;
mod testbed;
mod util;

use sandbox::{Mode, Sandbox};
use std::path::PathBuf;
use std::process::Stdio;
use util::{Context, Result};

const HELP: &str = "\
gvnet-harness: a real gVisor sandbox with a real dockerd, to prove libgvnet.so

USAGE:
    gvnet-harness testbed [--rebuild] [--runsc PATH]
        Build (or find in the cache) the test environment: trixie's runsc, a sid rootfs
        (debootstrap minbase + docker.io and podman, iptables-legacy, trixie's runc 1.1.15 at
        /usr/local/sbin/runc), and a busybox image tarball. Needs root, network to
        deb.debian.org and the host package debootstrap. Never touches the host's apt setup.
        With --runsc, also unpacks that runsc (an .xz is unpacked into the cache) and
        prints its version.

    Every command that starts a sandbox (up, check, bench) takes:
        --runsc PATH        the runsc binary, or an .xz of one (unpacked into
                            $GVNET_CACHE/runsc/<sha256>/); default: the testbed's
                            (Debian trixie's 20240729)
        --runsc-flag FLAG   a global runsc flag for run and exec, e.g.
                            --allow-packet-socket-write (repeatable)

    gvnet-harness up [--no-preload] [--lib PATH]
        Start a sandbox (runsc run, --network=none --net-raw, rootfs in a memory overlay)
        with dockerd preloaded with the library (default: target/release/libgvnet.so),
        import bb:latest, and print how to talk to it. Inside gVisor, dockerd is started
        directly instead (no nested sandbox).

    gvnet-harness exec [--] CMD [ARGS...]
        Run a command in the sandbox started by `up` (e.g. `exec docker run --rm bb echo ok`).

    gvnet-harness down
        Stop and delete the sandbox started by `up` (its run directory stays).

    gvnet-harness check [--no-preload] [--lib PATH] [--keep] [--only NAME[,NAME..]]
            [--setup NAME]
        The regression suite, in a fresh sandbox of its own. Prints a table and a final
        line `N passed, N failed`; exits non-zero on any failure. The gVisor setup is
        measured in the sandbox first (netlink groups, AF_PACKET writes, setns into a PID
        namespace, /proc's root inode) and named 20240729, current or current+flag; each
        scenario states per setup what must happen with and without the preload (an
        expected failure counts as passed, marked so). --setup NAME fails the run when the
        measured setup has another name. --keep leaves the sandbox running afterwards
        (stop it with `runsc ... delete --force`, printed).

    gvnet-harness bench [--lib PATH] [--out FILE] [--only start,trap,loop,events,scale]
            [--starts N] [--trap-iters N] [--trap-batches N] [--trap-rounds N]
            [--loop-iters N] [--loop-reps N] [--loop-pairs N] [--pair-iters N] [--containers N]
            [--parallel N] [--cycles N] [--events N] [--quiet-events N] [--idle-rounds N]
            [--idle-secs N] [--idle-samples N]
        What gvnet costs, measured side by side (A, B interleaved): container start,
        a trapped call (host kernel and gVisor), the inherited filter, event delivery
        (latency, idle cost), scale (containers,
        dockerd RSS and fds). Starts two sandboxes (with and without the preload), prints
        a table and writes docs/performance.md (or --out). `make bench` runs it.

ENVIRONMENT:
    GVNET_CACHE      cache root (default /var/cache/gvnet): testbed-<hash>/, current, runs/
    GVNET_IN_GVISOR  1 or 0: override the detection of running inside gVisor
    GVNET_LOG, GVNET_MODE, GVNET_TARGETS
                     passed on to dockerd with the preload (GVNET_LOG defaults to trace)
    CI               with CI=true, a sandbox that cannot be built or started is a failure
                     (exit 1); otherwise the same failure exits 77 (skipped, with the reason)
";

struct Args {
    rest: Vec<String>,
}

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        before != self.rest.len()
    }
    fn value(&mut self, name: &str) -> Result<Option<String>> {
        if let Some(i) = self.rest.iter().position(|a| a == name) {
            if i + 1 >= self.rest.len() {
                bail!("{name} needs a value");
            }
            let v = self.rest.remove(i + 1);
            self.rest.remove(i);
            return Ok(Some(v));
        }
        let prefix = format!("{name}=");
        if let Some(i) = self.rest.iter().position(|a| a.starts_with(&prefix)) {
            let v = self.rest.remove(i)[prefix.len()..].to_string();
            return Ok(Some(v));
        }
        Ok(None)
    }
    fn done(self) -> Result<()> {
        if let Some(a) = self.rest.first() {
            bail!("unexpected argument '{a}' (see --help)");
        }
        Ok(())
    }
}

fn state_file() -> PathBuf {
    util::cache_root().join("up.state")
}

fn cmd_up(mut a: Args) -> Result<()> {
    let (runsc_arg, runsc_flags) = gvisor::take_args(&mut a.rest)?;
    let mode = if a.flag("--no-preload") {
        Mode::NoPreload
    } else {
        Mode::Preload
    };
    let lib = a
        .value("--lib")?
        .map(PathBuf::from)
        .unwrap_or_else(sandbox::default_lib);
    a.done()?;
    if let Ok(old) = Sandbox::load(&state_file()) {
        bail!(
            "a sandbox is already up (run dir {}); run `gvnet-harness down` first",
            old.run_dir.display()
        );
    }
    let tb = sandbox::testbed_for_run(false)?;
    let runsc = gvisor::resolve(runsc_arg.as_deref(), runsc_flags, tb.as_ref())?;
    let label = runsc.as_ref().map_or("direct".into(), |r| r.label());
    let run_dir = sandbox::new_run_dir(&format!("up-{}-{label}", mode.name()))?;
    let bb = check::bb_tar_for(tb.as_ref(), &run_dir)?;
    sandbox::prepare_run_dir(&run_dir, mode, &lib, &bb)?;
    if let Err(e) = check::build_victim(&run_dir) {
        eprintln!("warning: no socket victim in /opt/gvnet: {e}");
    }
    let sb = sandbox::start(&run_dir, mode, tb.as_ref(), runsc.as_ref(), "gvnet")?;
    sb.save(&state_file())?;
    println!(
        "sandbox up ({}), run dir {}",
        mode.name(),
        run_dir.display()
    );
    if let Some(r) = &runsc {
        println!("  gVisor:        {}", r.describe());
    }
    match gvisor::measure(|argv| sb.exec(argv, std::time::Duration::from_secs(30))) {
        Ok(s) => println!("  {}", s.describe()),
        Err(e) => println!("  setup not measured: {e}"),
    }
    match sb.import_bb_podman() {
        Ok(o) if o.ok() => println!("  podman:        bb:latest imported (localhost/bb)"),
        Ok(o) => println!("  podman:        no bb image ({})", o.combined().trim()),
        Err(e) => println!("  podman:        no bb image ({e})"),
    }
    println!("  dockerd log:   {}", sb.dockerd_log().display());
    if mode == Mode::Preload {
        println!("  gvnet log:     {}", sb.gvnet_log().display());
    }
    println!("talk to it with:\n  {}", sb.exec_hint());
    println!("  (or: gvnet-harness exec docker run --rm bb echo ok)");
    println!("stop it with: gvnet-harness down");
    Ok(())
}

fn cmd_testbed(mut a: Args) -> Result<()> {
    let (runsc_arg, runsc_flags) = gvisor::take_args(&mut a.rest)?;
    let rebuild = a.flag("--rebuild");
    a.done()?;
    let tb = testbed::ensure(rebuild)?;
    println!("{}", tb.dir.display());
    if let Some(r) = gvisor::resolve(runsc_arg.as_deref(), runsc_flags, Some(&tb))? {
        eprintln!("gVisor: {}", r.describe());
    }
    Ok(())
}

fn cmd_down(a: Args) -> Result<()> {
    a.done()?;
    let sb = Sandbox::load(&state_file())?;
    sb.stop()?;
    std::fs::remove_file(state_file()).ctx("cannot remove the state file")?;
    println!("sandbox down; run dir kept: {}", sb.run_dir.display());
    Ok(())
}

fn cmd_exec(a: Args) -> Result<i32> {
    let mut argv = a.rest;
    if argv.first().map(String::as_str) == Some("--") {
        argv.remove(0);
    }
    if argv.is_empty() {
        bail!("exec: no command given");
    }
    let sb = Sandbox::load(&state_file())?;
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    // stdout/stderr through pipes: `runsc exec` writing to a regular file would overwrite it
    // from offset 0 (a gVisor quirk), so never hand it our fds directly.
    let mut child = sb
        .command(&refs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ctx("exec")?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut err, &mut std::io::stderr());
    });
    let _ = std::io::copy(&mut out, &mut std::io::stdout());
    let _ = t.join();
    let st = child.wait().ctx("exec")?;
    Ok(st.code().unwrap_or(1))
}

fn main() {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv.iter().any(|a| a == "--help" || a == "-h") || argv[0] == "help" {
        print!("{HELP}");
        return;
    }
    let sub = argv.remove(0);
    let a = Args { rest: argv };
    let r: Result<i32> = match sub.as_str() {
        "testbed" => cmd_testbed(a).map(|_| 0),
        "up" => cmd_up(a).map(|_| 0),
        "down" => cmd_down(a).map(|_| 0),
        "exec" => cmd_exec(a),
        "check" => check::run(a.rest),
        "bench" => bench::run(a.rest),
        other => Err(util::Error(format!(
            "unknown command '{other}' (see --help)"
        ))),
    };
    match r {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
