//! Reading a running process's gvnet counters from outside.
//!
//! 1. `/proc/PID/maps`: a mapping of a file named `libgvnet*.so*` (the library is loaded);
//!    the mapping of file offset 0 gives the load bias.
//! 2. That file's `.dynsym`: the address of `gvnet_counters` (a pointer to the struct).
//! 3. `process_vm_readv` (else `/proc/PID/mem`): the pointer, then the struct; magic, version
//!    and size must be those of `gvnet_core::counters` of this build.

use crate::elf::Elf;
use crate::json::Json;
use core::mem::{offset_of, size_of};
use gvnet_core::counters::{self as c, CallCounts, Counters};
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The exported symbol (interceptor/src/export.rs).
pub const SYMBOL: &str = "gvnet_counters";

/// The library as mapped into a process.
#[derive(Clone, Debug)]
pub struct Mapped {
    /// Path as `/proc/PID/maps` names it.
    pub path: String,
    /// Start of the mapping of file offset 0.
    pub start: u64,
    /// `start-end` of that mapping (for `/proc/PID/map_files`).
    pub range: String,
}

/// Whether a mapped file is gvnet's library: a base name `libgvnet*.so*`.
pub fn is_gvnet_library(path: &str) -> bool {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    let base = path.rsplit('/').next().unwrap_or(path);
    base.starts_with("libgvnet") && base.contains(".so")
}

/// The gvnet library in `/proc/PID/maps`, if mapped. Err: the maps cannot be read.
pub fn find_mapped(pid: u32) -> Result<Option<Mapped>, String> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| format!("cannot read /proc/{pid}/maps: {e}"))?;
    Ok(parse_maps(&maps))
}

/// The mapping of file offset 0 of the first gvnet library in a maps text.
pub fn parse_maps(maps: &str) -> Option<Mapped> {
    for line in maps.lines() {
        let mut f = line.splitn(6, ' ');
        let (Some(range), _, Some(offset), _, _, Some(path)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let path = path.trim();
        if !is_gvnet_library(path) || u64::from_str_radix(offset, 16) != Ok(0) {
            continue;
        }
        let start = range.split('-').next()?;
        return Some(Mapped {
            path: path.to_string(),
            start: u64::from_str_radix(start, 16).ok()?,
            range: range.to_string(),
        });
    }
    None
}

/// A copy of a process's counters.
#[derive(Clone, Debug)]
pub struct Snapshot {
    raw: Vec<u8>,
}

/// One row of [`Snapshot::call`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Row {
    /// Trapped by the seccomp filter.
    pub trapped: u64,
    /// Taken into the emulation by a libc hook.
    pub hooked: u64,
    /// Answered by gvnet.
    pub emulated: u64,
    /// Handed to the kernel after a look.
    pub passed: u64,
    /// Sent straight to libc by a hook.
    pub forwarded: u64,
}

impl Snapshot {
    fn u64(&self, off: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.raw[off..off + 8]);
        u64::from_ne_bytes(w)
    }

    /// Checks the header against this build's layout.
    fn from_raw(raw: Vec<u8>) -> Result<Snapshot, String> {
        let s = Snapshot { raw };
        let magic = s.u64(offset_of!(Counters, magic));
        let word = s.u64(offset_of!(Counters, version));
        let (version, size) = (word as u32, (word >> 32) as u32);
        if magic != c::MAGIC {
            return Err(format!("no gvnet counters there (magic {magic:#x})"));
        }
        if version != c::VERSION || size as usize != size_of::<Counters>() {
            return Err(format!(
                "counters of layout version {version} ({size} bytes); this gvnet reads version {} ({} bytes): use the gvnet command of the same build as the library",
                c::VERSION,
                size_of::<Counters>()
            ));
        }
        Ok(s)
    }

    /// `engine` (see `gvnet_core::counters::engine`).
    pub fn engine(&self) -> u64 {
        self.u64(offset_of!(Counters, engine))
    }

    /// What the process treats as native (`gvnet_core::caps::Native`), `None` when the
    /// kernel was not probed (`GVNET_MODE=off`, or a process that is not a target and has
    /// made no netlink call yet: engine `waiting`).
    pub fn native(&self) -> Option<gvnet_core::caps::Native> {
        let w = self.u64(offset_of!(Counters, native));
        (w & c::PROBED != 0).then(|| gvnet_core::caps::Native::from_bits(w & !c::PROBED))
    }

    /// What the process traps (`gvnet_core::caps::Traps`).
    pub fn traps(&self) -> gvnet_core::caps::Traps {
        gvnet_core::caps::Traps::from_bits(self.u64(offset_of!(Counters, traps)) as u8)
    }

    /// Each capability with its state (`native`, `emulated`, `off`), or `None` when the kernel
    /// was not probed.
    pub fn capabilities(&self) -> Option<Vec<(&'static str, &'static str)>> {
        let n = self.native()?;
        let states = gvnet_core::caps::states(n, self.traps());
        Some(
            gvnet_core::caps::CAPABILITIES
                .iter()
                .zip(states)
                .map(|(name, s)| (*name, s.name()))
                .collect(),
        )
    }

    /// The capabilities in one line: `groups emulated, ...`, or `kernel not probed`.
    pub fn capability_line(&self) -> String {
        match self.capabilities() {
            None => "kernel not probed".to_string(),
            Some(v) => v
                .iter()
                .map(|(n, s)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Go syscall sites the filter names.
    pub fn sites(&self) -> u64 {
        self.u64(offset_of!(Counters, sites))
    }

    /// Counts of row `i` of `gvnet_core::counters::CALLS`.
    pub fn call(&self, i: usize) -> Row {
        let base = offset_of!(Counters, calls) + i * size_of::<CallCounts>();
        Row {
            trapped: self.u64(base + offset_of!(CallCounts, trapped)),
            hooked: self.u64(base + offset_of!(CallCounts, hooked)),
            emulated: self.u64(base + offset_of!(CallCounts, emulated)),
            passed: self.u64(base + offset_of!(CallCounts, passed)),
            forwarded: self.u64(base + offset_of!(CallCounts, forwarded)),
        }
    }

    /// Count of outcome `i` of `gvnet_core::counters::ACTIONS`.
    pub fn action(&self, i: usize) -> u64 {
        self.u64(offset_of!(Counters, actions) + i * 8)
    }

    /// The sums over all calls.
    pub fn total(&self) -> Row {
        (0..c::CALLS.len())
            .map(|i| self.call(i))
            .fold(Row::default(), |a, r| Row {
                trapped: a.trapped + r.trapped,
                hooked: a.hooked + r.hooked,
                emulated: a.emulated + r.emulated,
                passed: a.passed + r.passed,
                forwarded: a.forwarded + r.forwarded,
            })
    }

    /// The counts as JSON (without the process fields).
    pub fn to_json(&self) -> Json {
        let row = |r: Row| {
            Json::obj()
                .with("trapped", Json::Num(r.trapped))
                .with("hooked", Json::Num(r.hooked))
                .with("emulated", Json::Num(r.emulated))
                .with("passed", Json::Num(r.passed))
                .with("forwarded", Json::Num(r.forwarded))
        };
        let mut calls = Json::obj();
        for (i, name) in c::CALLS.iter().enumerate() {
            calls.put(name, row(self.call(i)));
        }
        let mut actions = Json::obj();
        for (i, name) in c::ACTIONS.iter().enumerate() {
            actions.put(name, Json::Num(self.action(i)));
        }
        Json::obj()
            .with("engine", Json::s(c::engine::name(self.engine())))
            .with("capabilities", {
                let mut o = Json::obj();
                for (n, st) in self.capabilities().unwrap_or_default() {
                    o.put(n, Json::s(st));
                }
                o
            })
            .with("sites", Json::Num(self.sites()))
            .with("total", row(self.total()))
            .with("calls", calls)
            .with("actions", actions)
    }

    /// The counts as a table.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "engine {}, {}, {} Go syscall site(s)\n",
            c::engine::name(self.engine()),
            self.capability_line(),
            self.sites()
        );
        out.push_str(&format!(
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "call", "trapped", "hooked", "emulated", "passed", "forwarded"
        ));
        let mut line = |name: &str, r: Row| {
            out.push_str(&format!(
                "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                name, r.trapped, r.hooked, r.emulated, r.passed, r.forwarded
            ))
        };
        for (i, name) in c::CALLS.iter().enumerate() {
            let r = self.call(i);
            if r != Row::default() {
                line(name, r);
            }
        }
        line("total", self.total());
        let done: Vec<String> = c::ACTIONS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.action(*i) != 0)
            .map(|(i, n)| format!("{n} {}", self.action(i)))
            .collect();
        out.push_str(&format!(
            "outcomes: {}\n",
            if done.is_empty() {
                "none yet".to_string()
            } else {
                done.join(", ")
            }
        ));
        out
    }
}

/// Reads `len` bytes at `addr` of process `pid`.
fn read_remote(pid: u32, addr: u64, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: `local` describes `buf`, which lives across the call; the remote range is only
    // read by the kernel, which checks it.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if n == len as isize {
        return Ok(buf);
    }
    let why = std::io::Error::last_os_error();
    // /proc/PID/mem: where process_vm_readv is missing or refused.
    let mem = fs::File::open(format!("/proc/{pid}/mem"))
        .map_err(|e| format!("process_vm_readv: {why}; /proc/{pid}/mem: {e}"))?;
    mem.read_exact_at(&mut buf, addr)
        .map_err(|e| format!("process_vm_readv: {why}; /proc/{pid}/mem at {addr:#x}: {e}"))?;
    Ok(buf)
}

/// The file behind a mapping: its path, or `/proc/PID/map_files/RANGE` when the path is gone.
fn mapped_file(pid: u32, m: &Mapped) -> PathBuf {
    let p = Path::new(&m.path);
    if p.is_file() {
        return p.to_path_buf();
    }
    PathBuf::from(format!("/proc/{pid}/map_files/{}", m.range))
}

/// Reads the counters of process `pid` through library mapping `m`.
pub fn read(pid: u32, m: &Mapped) -> Result<Snapshot, String> {
    let file = mapped_file(pid, m);
    let elf = Elf::open(&file)?;
    let sym = elf
        .dynamic_symbol(SYMBOL)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .ok_or_else(|| {
            format!(
                "{} exports no {SYMBOL} (a library older than the counters?)",
                file.display()
            )
        })?;
    let bias = m.start.wrapping_sub(elf.vaddr_of_offset0());
    let ptr = read_remote(pid, bias.wrapping_add(sym), 8)?;
    let addr = u64::from_ne_bytes(ptr.try_into().unwrap_or([0; 8]));
    Snapshot::from_raw(read_remote(pid, addr, size_of::<Counters>())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_library_in_a_maps_text() {
        let maps = "\
55d0a0000000-55d0a0001000 r--p 00000000 08:01 123 /usr/sbin/dockerd
7f0000000000-7f0000010000 r--p 00000000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1000000000-7f1000020000 r--p 00020000 08:01 789 /opt/gvnet/libgvnet.so
7f1000020000-7f1000030000 r--p 00000000 08:01 789 /opt/gvnet/libgvnet.so
7f2000000000-7f2000001000 rw-p 00000000 00:00 0 
";
        let m = parse_maps(maps).unwrap();
        assert_eq!(m.path, "/opt/gvnet/libgvnet.so");
        assert_eq!(m.start, 0x7f1000020000);
        assert_eq!(m.range, "7f1000020000-7f1000030000");
        assert!(
            parse_maps("7f0000000000-7f0000010000 r--p 00000000 08:01 456 /lib/libc.so.6\n")
                .is_none()
        );
        assert!(is_gvnet_library("/tmp/x/libgvnet.so (deleted)"));
        assert!(!is_gvnet_library("/usr/lib/libgvnetother"));
    }

    #[test]
    fn reads_counters_of_this_process() {
        // The test binary links gvnet-core, so its COUNTERS is a valid struct to read remotely.
        gvnet_core::state::COUNTERS.forwarded(gvnet_core::abi::nr::BIND);
        let addr = &gvnet_core::state::COUNTERS as *const Counters as u64;
        let raw = read_remote(std::process::id(), addr, size_of::<Counters>()).unwrap();
        let s = Snapshot::from_raw(raw).unwrap();
        assert!(s.call(c::call_index(gvnet_core::abi::nr::BIND)).forwarded >= 1);
        let mut bad = s.raw.clone();
        bad[0] ^= 1;
        assert!(Snapshot::from_raw(bad)
            .unwrap_err()
            .contains("no gvnet counters"));
        let mut other = s.raw.clone();
        other[8] = 99;
        assert!(Snapshot::from_raw(other)
            .unwrap_err()
            .contains("version 99"));
    }
}
