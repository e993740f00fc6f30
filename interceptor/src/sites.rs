//! Finds the Go syscall site(s) of the running executable.
//!
//! The executable's code segments are located with `dl_iterate_phdr` (its first entry is the
//! program, with the load bias of a PIE) and read from `/proc/self/exe` in chunks, not from
//! memory: scanning the mapped text would fault every page of it into the daemon's RSS.

use gvnet_core::sites::{scan_chunked, GO_SYSCALL6};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

/// An executable PT_LOAD segment of the program.
#[derive(Clone, Copy, Debug)]
struct Segment {
    /// Run-time address of the segment's first byte.
    addr: u64,
    /// Offset of that byte in the file.
    offset: u64,
    /// Bytes backed by the file.
    size: u64,
}

unsafe extern "C" fn collect(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: dl_iterate_phdr passes a valid info for the duration of the callback, and `data`
    // is the Vec we passed.
    let (info, out) = unsafe { (&*info, &mut *(data as *mut Vec<Segment>)) };
    for i in 0..info.dlpi_phnum as usize {
        // SAFETY: dlpi_phdr has dlpi_phnum entries.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
            out.push(Segment {
                addr: info.dlpi_addr + ph.p_vaddr,
                offset: ph.p_offset,
                size: ph.p_filesz,
            });
        }
    }
    1 // the first object is the program: stop there
}

/// Run-time addresses just after each occurrence of Go's `Syscall6` body in the program's code.
pub fn go_syscall_sites() -> std::io::Result<Vec<u64>> {
    let mut segs: Vec<Segment> = Vec::new();
    // SAFETY: the callback only reads what dl_iterate_phdr gives it and writes to `segs`.
    unsafe {
        libc::dl_iterate_phdr(
            Some(collect),
            &mut segs as *mut Vec<Segment> as *mut libc::c_void,
        )
    };
    let exe = File::open("/proc/self/exe")?;
    let mut sites = Vec::new();
    let mut buf = vec![0u8; (4 << 20) + GO_SYSCALL6.len() - 1];
    for s in segs {
        let read = |chunk: &mut [u8], off: u64| read_at_full(&exe, chunk, s.offset + off);
        scan_chunked(&mut buf, s.size, read, |end| sites.push(s.addr + end))?;
    }
    sites.sort_unstable();
    sites.dedup();
    Ok(sites)
}

fn read_at_full(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], off + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The program's path, for log lines and the target check.
pub fn exe_path() -> String {
    std::fs::read_link("/proc/self/exe")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| {
            let mut s = String::new();
            let _ = File::open("/proc/self/comm").and_then(|mut f| f.read_to_string(&mut s));
            s.trim().to_string()
        })
}
