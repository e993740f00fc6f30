//! A running dockerd to test against: inside a fresh gVisor sandbox (`runsc run` of an OCI
//! bundle generated here), or, when the harness itself already runs inside gVisor, started
//! directly as a child process ("direct" mode; no nesting).

use crate::bail;
use crate::gvisor::Runsc;
use crate::testbed::{self, Testbed};
use crate::util::{self, Context, Output, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the run directory's `opt/` (library, image, victim) appears inside the sandbox.
const OPT_INSIDE: &str = "/opt/gvnet";
/// Where the run directory's `log/` appears inside the sandbox.
const LOG_INSIDE: &str = "/var/log/gvnet";
/// /usr/local last: trixie's runc 1.1 at /usr/local/sbin/runc must not shadow the
/// distribution's; gvnet-dockerd names it explicitly where it is needed.
const PATH_INSIDE: &str = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Preload,
    NoPreload,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Preload => "preload",
            Mode::NoPreload => "no-preload",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Kind {
    Runsc {
        runsc: PathBuf,
        root: PathBuf,
        id: String,
        /// Extra global flags (`--runsc-flag`), given to run and exec.
        flags: Vec<String>,
    },
    Direct {
        pid: u32,
    },
}

/// A started dockerd and how to reach it.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub kind: Kind,
    pub mode: Mode,
    /// Host path of this run's directory (logs, bundle, copies of what was bind-mounted).
    pub run_dir: PathBuf,
    /// Path of run_dir/opt as seen by processes in the sandbox.
    pub opt: String,
    /// Path of run_dir/log as seen by processes in the sandbox.
    pub log: String,
}

/// Is this process running inside gVisor? `GVNET_IN_GVISOR=1|0` overrides. Otherwise: gVisor's
/// kernel log (syslog(2), what `dmesg` prints) always begins with "Starting gVisor...", and its
/// /proc/version is a fixed fake "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016".
/// Either sign is enough; neither exists on a real kernel. (A /proc/version check alone would
/// break when gVisor changes the string; dmesg alone needs CAP_SYSLOG on Linux.)
pub fn in_gvisor() -> bool {
    match std::env::var("GVNET_IN_GVISOR").as_deref() {
        Ok("1") | Ok("true") => return true,
        Ok("0") | Ok("false") => return false,
        _ => {}
    }
    let version = fs::read_to_string("/proc/version").unwrap_or_default();
    if version.contains("gVisor") || version.contains("4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016") {
        return true;
    }
    util::capture(&mut Command::new("dmesg"), Duration::from_secs(5))
        .map(|o| o.stdout.contains("Starting gVisor"))
        .unwrap_or(false)
}

/// The default library: target/release/libgvnet.so next to this binary, else in the workspace
/// this harness was built from.
pub fn default_lib() -> PathBuf {
    if let Some(p) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("libgvnet.so")))
        .filter(|p| p.is_file())
    {
        return p;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/libgvnet.so")
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_list<S: AsRef<str>>(v: &[S]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|s| json_str(s.as_ref()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// gvnet-dockerd (tools/gvnet-dockerd), staged into opt/ by `prepare_run_dir`: it starts
/// dockerd with the flags gVisor needs (vfs, no iptables) under the preload and keeps the SNAT
/// rules for the bridge networks in step (docs/docker.md).
const GVNET_DOCKERD: &str = include_str!("../../tools/gvnet-dockerd");

/// The command line that starts dockerd: gvnet-dockerd (in `opt`), same in both kinds of
/// sandbox. gvnet-dockerd chooses the runtime by what the kernel does (trixie's runc 1.1 at
/// /usr/local/sbin/runc where /proc's root inode is not 1, the distribution's runc otherwise)
/// and says which in dockerd.log.
fn dockerd_argv(mode: Mode, opt: &str) -> Vec<String> {
    let mut v = vec![format!("{opt}/gvnet-dockerd")];
    if mode == Mode::NoPreload {
        v.push("--no-preload".into());
    }
    v
}

fn dockerd_env(mode: Mode, opt: &str, log: &str) -> Vec<(String, String)> {
    let mut env = vec![("PATH".to_string(), PATH_INSIDE.to_string())];
    // GVNET_SNAT=off: gvnet-dockerd keeps no SNAT rules (shows the outbound scenario failing).
    if let Ok(v) = std::env::var("GVNET_SNAT") {
        env.push(("GVNET_SNAT".into(), v));
    }
    if mode == Mode::Preload {
        env.push(("GVNET_LIB".into(), format!("{opt}/libgvnet.so")));
        env.push((
            "GVNET_LOG".into(),
            std::env::var("GVNET_LOG").unwrap_or_else(|_| "trace".into()),
        ));
        env.push(("GVNET_LOG_FILE".into(), format!("{log}/gvnet.log")));
        for k in ["GVNET_MODE", "GVNET_TARGETS"] {
            if let Ok(v) = std::env::var(k) {
                env.push((k.into(), v));
            }
        }
    }
    env
}

/// `GVNET_MODE=<value>` when the caller set GVNET_MODE (else empty): the scenarios that preload
/// the library into programs of their own pass it on as dockerd gets it.
pub fn mode_env() -> String {
    std::env::var("GVNET_MODE")
        .ok()
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(|m| format!("GVNET_MODE={m}"))
        .unwrap_or_default()
}

/// PID 1's loop after starting dockerd: reaps every child, adopted orphans included (a
/// containerd left by a killed dockerd would otherwise stay a zombie that the next dockerd
/// takes for a running containerd and waits for in vain), notes when the first dockerd
/// (argv[1]) exits, and stays alive so the sandbox can still be inspected with `runsc exec`.
const REAPER_PY: &str = "import os, sys, time
first, log = int(sys.argv[1]), sys.argv[2]
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        time.sleep(1)
        continue
    if pid == first:
        with open(log, 'a') as f:
            f.write('gvnet-harness: dockerd exited with status %d\\n' % os.waitstatus_to_exitcode(status))
";

/// The sandbox's init: starts dockerd in the background with its output in the log dir, then
/// becomes the reaper above.
fn init_script(mode: Mode, runsc: &str) -> String {
    let env = dockerd_env(mode, OPT_INSIDE, LOG_INSIDE)
        .iter()
        .map(|(k, v)| format!("{k}={}", sh_quote(v)))
        .collect::<Vec<_>>()
        .join(" ");
    let argv = dockerd_argv(mode, OPT_INSIDE)
        .iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "L={LOG_INSIDE}/dockerd.log\n\
         echo \"gvnet-harness: mode {mode}; gVisor {runsc_q}\" >>$L\n\
         echo \"gvnet-harness: env {env_q}\" >>$L\n\
         echo \"gvnet-harness: $ {argv_q}\" >>$L\n\
         env {env} {argv} >>$L 2>&1 &\n\
         echo $! >/run/gvnet-dockerd.pid  # the wrapper; dockerd's own: /run/gvnet-dockerd/dockerd.pid\n\
         exec python3 -c {reaper} $! $L\n",
        reaper = sh_quote(REAPER_PY),
        mode = mode.name(),
        runsc_q = runsc.replace(['\'', '"', '$', '`'], ""),
        env_q = env.replace('\'', ""),
        argv_q = argv.replace('\'', ""),
    )
}

fn oci_config(rootfs: &Path, run_dir: &Path, mode: Mode, runsc: &str) -> String {
    let tmpfs = |dest: &str, opts: &[&str]| {
        format!(
            "{{\"destination\": {}, \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": {}}}",
            json_str(dest),
            json_list(opts)
        )
    };
    let bind = |src: &Path, dest: &str, ro: bool| {
        let mut o = vec!["rbind", "nosuid", "nodev"];
        o.push(if ro { "ro" } else { "rw" });
        format!(
            "{{\"destination\": {}, \"type\": \"bind\", \"source\": {}, \"options\": {}}}",
            json_str(dest),
            json_str(&src.display().to_string()),
            json_list(&o)
        )
    };
    let mounts = [
        "{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}".to_string(),
        tmpfs("/dev", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
        "{\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\"]}".to_string(),
        tmpfs("/dev/shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        "{\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", \"options\": [\"nosuid\", \"noexec\", \"nodev\"]}".to_string(),
        "{\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\"]}".to_string(),
        tmpfs("/var/lib/docker", &["mode=711"]),
        tmpfs("/var/lib/containerd", &["mode=711"]),
        tmpfs("/run", &["mode=755"]),
        tmpfs("/tmp", &["mode=1777"]),
        bind(&run_dir.join("opt"), OPT_INSIDE, true),
        bind(&run_dir.join("log"), LOG_INSIDE, false),
    ];
    let caps = json_list(ALL_CAPS);
    format!(
        r#"{{
  "ociVersion": "1.0.2",
  "process": {{
    "terminal": false,
    "user": {{"uid": 0, "gid": 0}},
    "args": {args},
    "env": {env},
    "cwd": "/",
    "capabilities": {{"bounding": {caps}, "effective": {caps}, "inheritable": {caps}, "permitted": {caps}, "ambient": {caps}}},
    "rlimits": [{{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}}],
    "noNewPrivileges": false
  }},
  "root": {{"path": {root}, "readonly": false}},
  "hostname": "gvnet-sandbox",
  "mounts": [
    {mounts}
  ],
  "linux": {{
    "namespaces": [{{"type": "pid"}}, {{"type": "ipc"}}, {{"type": "uts"}}, {{"type": "mount"}}, {{"type": "network"}}]
  }}
}}
"#,
        args = json_list(&["/bin/sh", "-c", &init_script(mode, runsc)]),
        env = json_list(&[format!("PATH={PATH_INSIDE}"), "HOME=/root".into()]),
        root = json_str(&rootfs.display().to_string()),
        mounts = mounts.join(",\n    "),
    )
}

/// Global runsc flags of run and exec: the harness's, then `extra` (`--runsc-flag`).
fn runsc_flags(root: &Path, run_dir: &Path, extra: &[String]) -> Vec<String> {
    let mut v = vec![
        format!("--root={}", root.display()),
        "--network=none".into(),
        "--net-raw".into(),
        // The cached rootfs is never written: changes live in memory (default root:self would
        // put a filestore file into the rootfs directory).
        "--overlay2=root:memory".into(),
        format!("--debug-log={}/runsc/", run_dir.display()),
    ];
    v.extend(extra.iter().cloned());
    v
}

/// Prepares `run_dir` (opt/ with the library and image, log/) for a new sandbox.
pub fn prepare_run_dir(run_dir: &Path, mode: Mode, lib: &Path, bb_tar: &Path) -> Result<()> {
    for d in ["opt", "log", "runsc"] {
        fs::create_dir_all(run_dir.join(d))
            .with_ctx(|| format!("cannot create {}", run_dir.join(d).display()))?;
    }
    if mode == Mode::Preload {
        if !lib.is_file() {
            bail!(
                "library {} not found: build it with `cargo build --release` or pass --lib PATH",
                lib.display()
            );
        }
        fs::copy(lib, run_dir.join("opt/libgvnet.so"))
            .with_ctx(|| format!("cannot copy {}", lib.display()))?;
        let meta = fs::metadata(lib)?;
        util::write_file(
            &run_dir.join("opt/libgvnet.so.source"),
            format!("{} ({} bytes)\n", lib.display(), meta.len()),
        )?;
    }
    fs::copy(bb_tar, run_dir.join("opt/bb.tar"))
        .with_ctx(|| format!("cannot copy {}", bb_tar.display()))?;
    let gd = run_dir.join("opt/gvnet-dockerd");
    util::write_file(&gd, GVNET_DOCKERD)?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&gd, fs::Permissions::from_mode(0o755))
            .with_ctx(|| format!("chmod {}", gd.display()))?;
    }
    // The harness itself, so it can be run inside the sandbox too (direct mode).
    if let Ok(exe) = std::env::current_exe() {
        let _ = fs::copy(exe, run_dir.join("opt/gvnet-harness"));
    }
    Ok(())
}

/// A fresh run directory under the cache: runs/<timestamp>-<label>.
pub fn new_run_dir(label: &str) -> Result<PathBuf> {
    let base = util::cache_root().join("runs");
    fs::create_dir_all(&base).with_ctx(|| format!("cannot create {}", base.display()))?;
    let ts = util::timestamp();
    for n in 0.. {
        let name = if n == 0 {
            format!("{ts}-{label}")
        } else {
            format!("{ts}-{label}-{n}")
        };
        let p = base.join(name);
        if fs::create_dir(&p).is_ok() {
            return Ok(p);
        }
    }
    unreachable!()
}

/// Whether `pid` runs (a zombie, e.g. our own exited child in `check`, does not).
fn pid_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

/// Removes what earlier, interrupted `check` runs left behind: sandboxes whose harness process
/// is gone (ids are `gvnet-check-<pid>`), and all but the newest `keep` run directories.
pub fn clean_old_runs(testbed: Option<&Testbed>, keep: usize, protect: Option<&Path>) {
    let base = util::cache_root().join("runs");
    let Ok(rd) = fs::read_dir(&base) else { return };
    let mut dirs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in &dirs {
        let state = d.join("runsc-state");
        let busy = fs::read_dir(&state)
            .map(|mut r| r.next().is_some())
            .unwrap_or(false);
        let (Some(tb), true) = (testbed, busy) else {
            continue;
        };
        // The runsc that started it (runsc.path), else the testbed's.
        let runsc = fs::read_to_string(d.join("runsc.path"))
            .map(|p| PathBuf::from(p.trim()))
            .unwrap_or_else(|_| tb.runsc());
        let root = format!("--root={}", state.display());
        let Ok(out) = util::capture(
            Command::new(&runsc).args([root.as_str(), "list", "-q"]),
            Duration::from_secs(20),
        ) else {
            continue;
        };
        for id in out.stdout.split_whitespace() {
            let Some(pid) = id.strip_prefix("gvnet-check-") else {
                continue;
            };
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "gvnet-harness" {
                continue; // another check is running right now
            }
            eprintln!(
                "cleanup: deleting the sandbox {id} of an interrupted check ({})",
                d.display()
            );
            let _ = util::capture(
                Command::new(&runsc).args([root.as_str(), "delete", "--force", id]),
                Duration::from_secs(60),
            );
        }
    }
    let up_dir = Sandbox::load(&util::cache_root().join("up.state"))
        .ok()
        .map(|s| s.run_dir);
    let n = dirs.len();
    for d in dirs.iter().take(n.saturating_sub(keep)) {
        if Some(d.as_path()) == protect || Some(d) == up_dir.as_ref() {
            continue;
        }
        let busy = fs::read_dir(d.join("runsc-state"))
            .map(|mut r| r.next().is_some())
            .unwrap_or(false);
        if !busy {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// Starts a sandbox (or, inside gVisor, dockerd directly) for an already prepared `run_dir`,
/// waits for the docker API and imports bb:latest.
pub fn start(
    run_dir: &Path,
    mode: Mode,
    testbed: Option<&Testbed>,
    runsc: Option<&Runsc>,
    id: &str,
) -> Result<Sandbox> {
    let sb = if let (Some(tb), Some(runsc)) = (testbed, runsc) {
        start_runsc(run_dir, mode, tb, runsc, id)?
    } else {
        start_direct(run_dir, mode)?
    };
    if let Err(e) = sb.wait_ready() {
        let _ = sb.stop();
        return Err(e);
    }
    Ok(sb)
}

fn start_runsc(
    run_dir: &Path,
    mode: Mode,
    tb: &Testbed,
    runsc: &Runsc,
    id: &str,
) -> Result<Sandbox> {
    let bundle = run_dir.join("bundle");
    let root = run_dir.join("runsc-state");
    fs::create_dir_all(&bundle)?;
    fs::create_dir_all(&root)?;
    util::write_file(
        &bundle.join("config.json"),
        oci_config(&tb.rootfs(), run_dir, mode, &runsc.describe()),
    )?;
    util::write_file(
        &run_dir.join("runsc.txt"),
        format!("{}\n", runsc.describe()),
    )?;
    util::write_file(
        &run_dir.join("runsc.path"),
        format!("{}\n", runsc.path.display()),
    )?;
    let sb = Sandbox {
        kind: Kind::Runsc {
            runsc: runsc.path.clone(),
            root: root.clone(),
            id: id.to_string(),
            flags: runsc.flags.clone(),
        },
        mode,
        run_dir: run_dir.to_path_buf(),
        opt: OPT_INSIDE.into(),
        log: LOG_INSIDE.into(),
    };
    let mut cmd = Command::new(&runsc.path);
    cmd.args(runsc_flags(&root, run_dir, &runsc.flags))
        .arg("run")
        .arg("--detach")
        .arg("--bundle")
        .arg(&bundle)
        .arg(id);
    let console = run_dir.join("console.log");
    eprintln!("sandbox: {}", util::cmdline(&cmd));
    let st = util::run_to_log(&mut cmd, &console, Duration::from_secs(60), |_| {})
        .ctx("step 'runsc run'")?;
    match st {
        Some(s) if s.success() => Ok(sb),
        other => {
            let _ = sb.stop();
            bail!(
                "step 'runsc run' failed ({}); {}:\n{}",
                other
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "timed out".into()),
                console.display(),
                util::tail_file(&console, 20)
            )
        }
    }
}

fn start_direct(run_dir: &Path, mode: Mode) -> Result<Sandbox> {
    if let Ok(o) = util::capture(
        Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]),
        Duration::from_secs(10),
    ) {
        if o.ok() {
            bail!("step 'start dockerd': a dockerd already answers on the default socket here; stop it first");
        }
    }
    // gVisor quirk: a docker0 left by an earlier dockerd is reported without its bridge kind,
    // and a new dockerd then refuses to start ("existing interface docker0 is not a bridge").
    // No dockerd answers (checked above), so it is a leftover: remove it.
    if Path::new("/sys/class/net/docker0").exists()
        || util::capture(
            Command::new("ip").args(["link", "show", "docker0"]),
            Duration::from_secs(10),
        )
        .is_ok_and(|o| o.ok())
    {
        eprintln!("direct: removing the leftover docker0 of an earlier dockerd (gVisor would not report it as a bridge)");
        let _ = util::capture(
            Command::new("ip").args(["link", "del", "docker0"]),
            Duration::from_secs(10),
        );
    }
    let opt = run_dir.join("opt").display().to_string();
    let log = run_dir.join("log").display().to_string();
    let argv = dockerd_argv(mode, &opt);
    let mut cmd = Command::new(&argv[0]);
    // A fresh data root per run: the network store of an earlier dockerd here makes every
    // second start fail ("existing interface docker0 is not a bridge").
    cmd.args(&argv[1..])
        .arg(format!("--data-root={}/docker-data", run_dir.display()))
        .envs(dockerd_env(mode, &opt, &log));
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join("log/dockerd.log"))?;
    eprintln!(
        "direct: {} (already inside gVisor: no nested sandbox)",
        util::cmdline(&cmd)
    );
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .ctx("step 'start dockerd'")?;
    Ok(Sandbox {
        kind: Kind::Direct { pid: child.id() },
        mode,
        run_dir: run_dir.to_path_buf(),
        opt,
        log,
    })
}

impl Sandbox {
    /// A command that runs `argv` inside the sandbox.
    pub fn command(&self, argv: &[&str]) -> Command {
        match &self.kind {
            Kind::Runsc {
                runsc,
                root,
                id,
                flags,
            } => {
                let mut c = Command::new(runsc);
                // --net-raw again, or the exec'd process loses CAP_NET_RAW.
                c.args(runsc_flags(root, &self.run_dir, flags))
                    .arg("exec")
                    .arg(id)
                    .args(argv);
                c
            }
            Kind::Direct { .. } => {
                let mut c = Command::new(argv[0]);
                c.args(&argv[1..]);
                c
            }
        }
    }

    /// The command line a human can paste to run something in this sandbox.
    pub fn exec_hint(&self) -> String {
        util::cmdline(&self.command(&["docker", "ps"]))
    }

    /// `docker import` of the staged busybox tarball as `bb:latest`, the image every
    /// scenario and the bench use.
    pub fn import_bb(&self) -> Result<Output> {
        let tar = format!("{}/bb.tar", self.opt);
        self.exec(
            &[
                "docker",
                "import",
                "-c",
                "CMD [\"/bin/sh\"]",
                &tar,
                "bb:latest",
            ],
            Duration::from_secs(120),
        )
    }

    /// `podman import` of the same tarball as `localhost/bb:latest` (`podman run bb` finds it):
    /// no registry is reachable either. Not part of the start: only `up` and the podman
    /// scenarios need it (docs/podman.md).
    pub fn import_bb_podman(&self) -> Result<Output> {
        let tar = format!("{}/bb.tar", self.opt);
        self.exec(
            &[
                "env",
                "PODMAN_IGNORE_CGROUPSV1_WARNING=1",
                "podman",
                "import",
                "--quiet",
                "--change",
                "CMD [\"/bin/sh\"]",
                &tar,
                "bb:latest",
            ],
            Duration::from_secs(120),
        )
    }

    pub fn exec(&self, argv: &[&str], timeout: Duration) -> Result<Output> {
        util::capture(&mut self.command(argv), timeout)
    }

    /// `sh -c script` inside the sandbox.
    pub fn sh(&self, script: &str, timeout: Duration) -> Result<Output> {
        self.exec(&["sh", "-c", script], timeout)
    }

    pub fn dockerd_log(&self) -> PathBuf {
        self.run_dir.join("log/dockerd.log")
    }

    pub fn gvnet_log(&self) -> PathBuf {
        self.run_dir.join("log/gvnet.log")
    }

    fn is_running(&self) -> bool {
        match &self.kind {
            Kind::Runsc {
                runsc, root, id, ..
            } => util::capture(
                Command::new(runsc)
                    .arg(format!("--root={}", root.display()))
                    .args(["state", id]),
                Duration::from_secs(10),
            )
            .map(|o| o.stdout.contains("\"running\""))
            .unwrap_or(false),
            Kind::Direct { pid } => pid_alive(*pid),
        }
    }

    fn wait_ready(&self) -> Result<()> {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            let out = self.exec(
                &[
                    "docker",
                    "info",
                    "--format",
                    "{{.ServerVersion}} {{.DefaultRuntime}}",
                ],
                Duration::from_secs(15),
            )?;
            if out.ok() {
                eprintln!(
                    "sandbox: dockerd {} up after {:.1}s",
                    out.stdout.trim(),
                    start.elapsed().as_secs_f64()
                );
                break;
            }
            last = out.combined();
            let exited = fs::read_to_string(self.dockerd_log())
                .unwrap_or_default()
                .contains("gvnet-harness: dockerd exited");
            if exited || !self.is_running() || start.elapsed() > Duration::from_secs(90) {
                bail!(
                    "step 'wait for dockerd': {} (docker info: {}); dockerd log {}:\n{}",
                    if exited || matches!(self.kind, Kind::Direct { .. }) {
                        "dockerd exited"
                    } else if start.elapsed() > Duration::from_secs(90) {
                        "no API after 90 s"
                    } else {
                        "sandbox is not running"
                    },
                    last.trim(),
                    self.dockerd_log().display(),
                    util::tail_file(&self.dockerd_log(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let _ = last;
        let out = self.import_bb()?;
        if !out.ok() {
            bail!(
                "step 'docker import bb:latest' ({}): {}",
                out.describe(),
                out.combined()
            );
        }
        // Record what ran, for the run directory.
        let info = self.sh(
            "docker version; echo; docker info; echo; echo runc:; /usr/local/sbin/runc --version; runc --version; echo; cat /proc/version; echo; ip -o link",
            Duration::from_secs(30),
        )?;
        util::write_file(&self.run_dir.join("sandbox-info.txt"), info.combined())?;
        Ok(())
    }

    /// Stops dockerd with `signal` (TERM: a clean shutdown; KILL: a crash), waits for
    /// gvnet-dockerd to exit, and starts gvnet-dockerd again (which deletes the bridges the
    /// old dockerd left: docs/docker.md, restarts), detached, with dockerd's
    /// environment changed by `env` (added or replaced). Returns what the script printed once
    /// the API answers. Only for a runsc sandbox: in direct mode `stop` would not know the new
    /// dockerd.
    pub fn restart_dockerd(&self, signal: &str, env: &[(&str, &str)]) -> Result<String> {
        if !matches!(self.kind, Kind::Runsc { .. }) {
            bail!("restarting dockerd needs a runsc sandbox (direct mode cannot stop it again)");
        }
        let mut vars = dockerd_env(self.mode, &self.opt, &self.log);
        for (k, v) in env {
            match vars.iter_mut().find(|(key, _)| key == k) {
                Some(slot) => slot.1 = v.to_string(),
                None => vars.push((k.to_string(), v.to_string())),
            }
        }
        let env_sh = vars
            .iter()
            .map(|(k, v)| format!("{k}={}", sh_quote(v)))
            .collect::<Vec<_>>()
            .join(" ");
        let argv = dockerd_argv(self.mode, &self.opt)
            .iter()
            .map(|a| sh_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        let script = format!(
            "S=/run/gvnet-dockerd; L={log}/dockerd.log
echo \"gvnet-harness: restarting dockerd (SIG{signal}); env {env_q}\" >>$L
[ -f $S/dockerd.pid ] && kill -{signal} \"$(cat $S/dockerd.pid)\" 2>/dev/null
i=0
while [ -e $S/gvnet-dockerd.pid ]; do
  i=$((i + 1)); [ $i -gt 300 ] && {{ echo 'gvnet-dockerd did not exit within 60 s'; exit 1; }}
  sleep 0.2
done
echo \"stopped after $((i / 5)) s\"
env {env_sh} setsid -f {argv} >>$L 2>&1 </dev/null
i=0
until docker info >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 300 ] && {{ echo 'no docker API within 60 s'; tail -n 5 $L; exit 1; }}
  sleep 0.2
done
echo \"dockerd answers after $((i / 5)) s\"
",
            log = self.log,
            env_q = env_sh.replace('\'', ""),
        );
        let out = self.sh(&script, Duration::from_secs(180))?;
        if !out.ok() {
            bail!(
                "restarting dockerd ({}): {}",
                out.describe(),
                out.combined().trim()
            );
        }
        Ok(out.stdout.trim().to_string())
    }

    /// Stops dockerd and the sandbox; the run directory stays.
    pub fn stop(&self) -> Result<()> {
        match &self.kind {
            Kind::Runsc {
                runsc, root, id, ..
            } => {
                let out = util::capture(
                    Command::new(runsc)
                        .arg(format!("--root={}", root.display()))
                        .args(["delete", "--force", id]),
                    Duration::from_secs(60),
                )?;
                if !out.ok() && !out.combined().contains("does not exist") {
                    bail!("runsc delete --force {id}: {}", out.combined());
                }
            }
            Kind::Direct { pid } => {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
                let start = Instant::now();
                while pid_alive(*pid) && start.elapsed() < Duration::from_secs(20) {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        Ok(())
    }

    /// Saves what `down` needs into `file`.
    pub fn save(&self, file: &Path) -> Result<()> {
        let mut s = format!(
            "mode={}\nrun_dir={}\nopt={}\nlog={}\n",
            self.mode.name(),
            self.run_dir.display(),
            self.opt,
            self.log
        );
        match &self.kind {
            Kind::Runsc {
                runsc,
                root,
                id,
                flags,
            } => {
                s += &format!(
                    "kind=runsc\nrunsc={}\nroot={}\nid={id}\nflags={}\n",
                    runsc.display(),
                    root.display(),
                    flags.join(" ")
                )
            }
            Kind::Direct { pid } => s += &format!("kind=direct\npid={pid}\n"),
        }
        util::write_file(file, s)
    }

    pub fn load(file: &Path) -> Result<Sandbox> {
        let text = fs::read_to_string(file)
            .with_ctx(|| format!("no sandbox state in {} (is one up?)", file.display()))?;
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(str::to_string)
                .ok_or_else(|| util::Error(format!("{}: no {k}=", file.display())))
        };
        let kind = match get("kind")?.as_str() {
            "runsc" => Kind::Runsc {
                runsc: get("runsc")?.into(),
                root: get("root")?.into(),
                id: get("id")?,
                flags: get("flags")
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            },
            _ => Kind::Direct {
                pid: get("pid")?.parse().ctx("pid")?,
            },
        };
        Ok(Sandbox {
            kind,
            mode: if get("mode")? == "preload" {
                Mode::Preload
            } else {
                Mode::NoPreload
            },
            run_dir: get("run_dir")?.into(),
            opt: get("opt")?,
            log: get("log")?,
        })
    }
}

/// The testbed for a sandbox, or None inside gVisor (direct mode). `refresh` re-resolves
/// package versions against the mirror; otherwise an existing `current` testbed is used as is.
pub fn testbed_for_run(refresh: bool) -> Result<Option<Testbed>> {
    if in_gvisor() {
        eprintln!("inside gVisor: dockerd will be started directly, without a nested sandbox");
        return Ok(None);
    }
    if !refresh {
        if let Some(tb) = testbed::current(&util::cache_root()) {
            return Ok(Some(tb));
        }
    }
    testbed::ensure(false).map(Some)
}
