//! Trace lines written from any context, the signal handler included.
//!
//! A line is built in a fixed buffer on the stack with [`Line`] (decimal, hex and text, no
//! `core::fmt`) and written with one raw `write(2)`. A line longer than the buffer is truncated
//! and marked with `…`. The level and the destination fd are atomics set by the constructor.

use crate::abi::{errno, nr};
use crate::kernel::{Kernel, RawKernel};
use core::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// Verbosity, as in `GVNET_LOG`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Nothing at all.
    Off = 0,
    /// Something failed; gvnet could not do what it should.
    Error = 1,
    /// Something was ignored or degraded.
    Warn = 2,
    /// Decisions: what gvnet does in this process, data it drops.
    Info = 3,
    /// Each emulated call.
    Debug = 4,
    /// Every intercepted call, passed through or not, with arguments, result and errno.
    Trace = 5,
}

impl Level {
    /// Parses a `GVNET_LOG` value.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "off" | "none" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }

    /// The name used in log lines.
    pub fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);
static FD: AtomicI32 = AtomicI32::new(2);
/// Inode of the log file gvnet opened (0: stderr, not checked).
static FD_INODE: AtomicU64 = AtomicU64::new(0);
static WRITE_FAILURES: AtomicUsize = AtomicUsize::new(0);

/// Sets the level and the fd lines go to (called once, by the constructor). `inode` is that of
/// the log file gvnet opened, or 0 for stderr: a program may close gvnet's fd and reuse the number
/// for a file of its own, so before each write the fd is checked to still name the log file.
pub fn configure(level: Level, fd: i32, inode: u64) {
    FD.store(fd, Ordering::Release);
    FD_INODE.store(inode, Ordering::Release);
    LEVEL.store(level as u8, Ordering::Release);
}

/// Whether lines of `level` are written.
#[inline]
pub fn enabled(level: Level) -> bool {
    level != Level::Off && level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// How many lines could not be written (full disk, closed fd).
pub fn write_failures() -> usize {
    WRITE_FAILURES.load(Ordering::Relaxed)
}

const CAP: usize = 480;

/// A log line under construction. Keep it small: Go runs signal handlers on a 32 KiB stack.
pub struct Line {
    buf: [u8; CAP],
    len: usize,
    truncated: bool,
}

impl Line {
    /// Starts a line with the prefix `gvnet[<pid>]: <level>: `.
    pub fn new(level: Level) -> Line {
        let mut l = Line {
            buf: [0; CAP],
            len: 0,
            truncated: false,
        };
        // SAFETY: getpid has no arguments and cannot fail.
        let pid = unsafe { RawKernel.syscall(nr::GETPID, [0; 6]) };
        l.str("gvnet[")
            .dec(pid as i64)
            .str("]: ")
            .str(level.name())
            .str(": ");
        l
    }

    /// Appends text.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends raw bytes (non-printable ones are replaced by `?`).
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        for &c in b {
            if self.len >= CAP - 4 {
                self.truncated = true;
                break;
            }
            self.buf[self.len] = if c == b'\n' || c == b'\t' || (0x20..0x7f).contains(&c) {
                c
            } else {
                b'?'
            };
            self.len += 1;
        }
        self
    }

    /// Appends a signed decimal.
    pub fn dec(&mut self, v: i64) -> &mut Self {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let neg = v < 0;
        let mut u = v.unsigned_abs();
        loop {
            i -= 1;
            tmp[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if neg {
            self.str("-");
        }
        self.bytes(&tmp[i..])
    }

    /// Appends `0x` and lower-case hex.
    pub fn hex(&mut self, v: u64) -> &mut Self {
        let mut tmp = [0u8; 16];
        let mut i = tmp.len();
        let mut u = v;
        loop {
            i -= 1;
            tmp[i] = b"0123456789abcdef"[(u & 0xf) as usize];
            u >>= 4;
            if u == 0 {
                break;
            }
        }
        self.str("0x").bytes(&tmp[i..])
    }

    /// Appends a raw syscall result: `= N` or `= -1 ENAME (N)`.
    pub fn result(&mut self, r: isize) -> &mut Self {
        if r < 0 {
            let e = (-r) as i32;
            self.str("= -1 ")
                .str(errno::name(e))
                .str(" (")
                .dec(e as i64)
                .str(")")
        } else {
            self.str("= ").dec(r as i64)
        }
    }

    /// The text so far (for tests).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Terminates the line and writes it with one `write(2)`.
    pub fn emit(mut self) {
        // `bytes` stops at CAP - 4, which leaves room for the ellipsis (3 bytes) and the newline;
        // `get_mut` keeps that reasoning out of the machine code (no bounds-check panic path).
        let tail: &[u8] = if self.truncated {
            "…\n".as_bytes()
        } else {
            b"\n"
        };
        for &c in tail {
            if let Some(b) = self.buf.get_mut(self.len) {
                *b = c;
                self.len += 1;
            }
        }
        let fd = FD.load(Ordering::Acquire);
        let ino = FD_INODE.load(Ordering::Acquire);
        if ino != 0 && crate::kernel::inode(&RawKernel, fd as usize) != Ok(ino) {
            WRITE_FAILURES.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // SAFETY: the buffer is live and `len` bytes long.
        let r = unsafe {
            RawKernel.syscall(
                nr::WRITE,
                [fd as usize, self.buf.as_ptr() as usize, self.len, 0, 0, 0],
            )
        };
        if r != self.len as isize {
            WRITE_FAILURES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes `msg` as one line at `level`, if enabled (the entry point of the `log` facade).
pub fn line(level: Level, msg: &str) {
    if enabled(level) {
        let mut l = Line::new(level);
        l.str(msg);
        l.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_results_without_fmt() {
        let mut l = Line {
            buf: [0; CAP],
            len: 0,
            truncated: false,
        };
        l.str("bind(fd=")
            .dec(7)
            .str(", groups=")
            .hex(0x1f)
            .str(") ")
            .result(-13);
        assert_eq!(
            core::str::from_utf8(l.as_bytes()).unwrap(),
            "bind(fd=7, groups=0x1f) = -1 EACCES (13)"
        );
        let mut l = Line {
            buf: [0; CAP],
            len: 0,
            truncated: false,
        };
        l.dec(i64::MIN)
            .str(" ")
            .dec(0)
            .str(" ")
            .hex(0)
            .str(" ")
            .result(12);
        assert_eq!(
            core::str::from_utf8(l.as_bytes()).unwrap(),
            "-9223372036854775808 0 0x0 = 12"
        );
    }

    #[test]
    fn long_lines_are_truncated_not_overflowed() {
        let mut l = Line {
            buf: [0; CAP],
            len: 0,
            truncated: false,
        };
        for _ in 0..100 {
            l.str("0123456789");
        }
        assert!(l.truncated);
        assert!(l.len <= CAP - 4);
    }

    #[test]
    fn levels_parse() {
        assert_eq!(Level::parse("trace"), Some(Level::Trace));
        assert_eq!(Level::parse("off"), Some(Level::Off));
        assert_eq!(Level::parse("loud"), None);
    }
}
