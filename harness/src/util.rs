//! Small helpers: an error type with context, running commands with a timeout and progress,
//! timestamps and a stable short hash. Std only.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An error message with the chain of context it went through, outermost first.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `anyhow`-like context for results.
pub trait Context<T> {
    fn ctx(self, what: impl fmt::Display) -> Result<T>;
    fn with_ctx<D: fmt::Display>(self, f: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error(format!("{what}: {e}")))
    }
    fn with_ctx<D: fmt::Display>(self, f: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {e}", f())))
    }
}

#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::util::Error(format!($($arg)*))) };
}

/// What a finished (or killed) command left behind.
#[derive(Debug)]
pub struct Output {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Output {
    pub fn ok(&self) -> bool {
        !self.timed_out && self.status.map(|s| s.success()).unwrap_or(false)
    }

    /// Exit code as a number (128+signal for a signal, like a shell), or None when it timed out.
    pub fn code(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let s = self.status?;
        s.code().or_else(|| s.signal().map(|n| 128 + n))
    }

    /// One line describing how it ended.
    pub fn describe(&self) -> String {
        if self.timed_out {
            return format!("timed out after {:.0?}", self.elapsed);
        }
        match self.code() {
            Some(c) => format!("exit {c}"),
            None => "no status".into(),
        }
    }

    /// stdout and stderr together (stderr last), trimmed.
    pub fn combined(&self) -> String {
        let mut s = self.stdout.trim_end().to_string();
        if !self.stderr.trim().is_empty() {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(self.stderr.trim_end());
        }
        s
    }
}

/// Renders a command line for logs.
pub fn cmdline(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$;&|<>(){}*".contains(c)) {
            parts.push(format!("'{}'", a.replace('\'', "'\\''")));
        } else {
            parts.push(a.into_owned());
        }
    }
    parts.join(" ")
}

fn reader<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Sends SIGKILL to a whole process group (the child is started as its own group leader).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// Runs `cmd` with stdin closed, capturing stdout and stderr, killing its process group after
/// `timeout`. Never hangs on a grandchild that keeps the pipes open.
pub fn capture(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_ctx(|| format!("cannot start `{}`", cmdline(cmd)))?;
    let out_rx = reader(child.stdout.take().expect("piped stdout"));
    let err_rx = reader(child.stderr.take().expect("piped stderr"));
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            kill_group(child.id());
            let _ = child.kill();
            break child.wait().ok();
        }
        thread::sleep(Duration::from_millis(20));
    };
    let grace = Duration::from_secs(if timed_out { 1 } else { 5 });
    let stdout = out_rx.recv_timeout(grace).unwrap_or_default();
    let stderr = err_rx.recv_timeout(grace).unwrap_or_default();
    Ok(Output {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        timed_out,
        elapsed: start.elapsed(),
    })
}

/// Runs `cmd` with stdin closed and stdout+stderr appended to `log` (a file, not a pipe: safe
/// for commands that leave daemons behind holding their stdio). `tick` is called every 100 ms
/// with the elapsed time. Kills the process group after `timeout`.
pub fn run_to_log(
    cmd: &mut Command,
    log: &Path,
    timeout: Duration,
    mut tick: impl FnMut(Duration),
) -> Result<Option<ExitStatus>> {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_ctx(|| format!("cannot open log {}", log.display()))?;
    writeln!(f, "$ {}", cmdline(cmd))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f)
        .process_group(0)
        .spawn()
        .with_ctx(|| format!("cannot start `{}`", cmdline(cmd)))?;
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if start.elapsed() >= timeout {
            kill_group(child.id());
            let _ = child.wait();
            return Ok(None);
        }
        tick(start.elapsed());
        thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a long build step with its output appended to `log`, printing a progress line (elapsed
/// time and the last line of the log) every 10 s. Fails with the step name and the log's tail.
pub fn run_step(step: &str, cmd: &mut Command, log: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    eprintln!("==> {step}");
    {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_ctx(|| format!("step '{step}': cannot open log {}", log.display()))?;
        writeln!(f, "\n### {step}")?;
    }
    let mut next_report = Duration::from_secs(10);
    let status = run_to_log(cmd, log, timeout, |t| {
        if t >= next_report {
            next_report += Duration::from_secs(10);
            let last: String = tail_file(log, 1).chars().take(100).collect();
            eprintln!("    ... {}s: {last}", t.as_secs());
        }
    })
    .with_ctx(|| format!("step '{step}'"))?;
    match status {
        None => bail!(
            "step '{step}' timed out after {:.0?}; last lines of {}:\n{}",
            timeout,
            log.display(),
            tail_file(log, 20)
        ),
        Some(st) if !st.success() => bail!(
            "step '{step}' failed ({st}); last lines of {}:\n{}",
            log.display(),
            tail_file(log, 25)
        ),
        Some(_) => {}
    }
    eprintln!("    done in {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}

/// The last `n` lines of a file (empty if it cannot be read).
pub fn tail_file(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(b) => tail_str(&String::from_utf8_lossy(&b), n),
        Err(_) => String::new(),
    }
}

/// `s` with every control character but newline and tab written as `\0`, `\x1b`...: what goes
/// into a log or onto the terminal stays text (`grep` reads a log with one NUL as binary and
/// prints none of its lines; /proc/PID/environ is NUL-separated).
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

pub fn tail_str(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// FNV-1a 64: stable across builds and platforms, enough to name cache directories.
pub fn short_hash(data: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:012x}", h >> 16)
}

/// UTC timestamp `YYYYMMDD-HHMMSS`.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's public-domain algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Looks a program up in PATH (plus the sbin directories, which a non-login root shell may lack).
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file());
    found
}

/// The cache root: `$GVNET_CACHE` or /var/cache/gvnet.
pub fn cache_root() -> PathBuf {
    std::env::var_os("GVNET_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/gvnet"))
}

/// Writes a file, creating its parent directory.
pub fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_ctx(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(path, contents).with_ctx(|| format!("cannot write {}", path.display()))
}

/// Compiles the C source text `src` statically (`gcc -static -O2 -Wall -Wextra`) into `bin`,
/// writing the source next to it as `<bin>.c`; says which host packages are missing.
pub fn build_static_c(src: &str, bin: &Path) -> Result<()> {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let src_path = bin.with_extension("c");
    write_file(&src_path, src)?;
    if which("gcc").is_none() {
        bail!("gcc not found: install the host packages gcc and libc6-dev");
    }
    let out = capture(
        Command::new("gcc")
            .args(["-static", "-O2", "-Wall", "-Wextra", "-o"])
            .arg(bin)
            .arg(&src_path),
        Duration::from_secs(120),
    )?;
    if !out.ok() {
        bail!(
            "gcc -static {name}.c failed (is libc6-dev installed?): {}",
            out.combined()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable() {
        assert_eq!(short_hash("abc"), short_hash("abc"));
        assert_ne!(short_hash("abc"), short_hash("abd"));
        assert_eq!(short_hash("").len(), 12);
    }

    #[test]
    fn printable_keeps_text_and_escapes_controls() {
        assert!(matches!(
            printable("a\tb\nc"),
            std::borrow::Cow::Borrowed("a\tb\nc")
        ));
        assert_eq!(printable("HOME=/root\0PWD=/\0"), "HOME=/root\\0PWD=/\\0");
        assert_eq!(printable("\x1b[1mx\r"), "\\x1b[1mx\\x0d");
    }

    #[test]
    fn timestamp_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 15);
        assert_eq!(&t[8..9], "-");
    }

    #[test]
    fn capture_times_out() {
        let out = capture(
            Command::new("sh").args(["-c", "echo hi; sleep 30"]),
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(out.timed_out);
        assert!(!out.ok());
    }

    #[test]
    fn capture_collects_both_streams() {
        let out = capture(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.code(), Some(3));
        assert_eq!(out.combined(), "out\nerr");
    }
}
