//! Finds the Go syscall site(s) of the running executable.
//!
//! The executable's code segments are located with `dl_iterate_phdr` (its first entry is the
//! program, with the load bias of a PIE) and read from `/proc/self/exe` in chunks, not from
//! memory: scanning the mapped text would fault every page of it into the daemon's RSS.

use gvnet_core::sites::{scan, GO_SYSCALL6};
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
    const CHUNK: usize = 4 << 20;
    let overlap = GO_SYSCALL6.len() - 1;
    let mut buf = vec![0u8; CHUNK + overlap];
    for s in segs {
        let mut done = 0u64;
        while done < s.size {
            let want = ((s.size - done) as usize).min(CHUNK + overlap);
            let got = read_at_full(&exe, &mut buf[..want], s.offset + done)?;
            scan(&buf[..got], |end| sites.push(s.addr + done + end as u64));
            if got < want || done + got as u64 >= s.size {
                break;
            }
            done += (got - overlap) as u64;
        }
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
