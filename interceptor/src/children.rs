//! What a target passes on to the processes it starts: `LD_PRELOAD` without libgvnet.so.
//!
//! dockerd's children (containerd, the shims, runc, docker-proxy, iptables) need nothing from
//! gvnet (scenario `preload-elsewhere`), yet each would load it at every exec, which in gVisor
//! costs milliseconds (docs/performance.md). A target's constructor therefore removes gvnet's
//! entry from its own `LD_PRELOAD`, in place, before the program reads its environment: glibc's
//! `environ` and Go's runtime (which takes the strings of the initial stack without copying)
//! both see the shortened value, and every process started afterwards inherits it. Other
//! entries stay, in their order. The seccomp filter is not touched: what containers inherit
//! from dockerd is the same.
//!
//! One exception keeps the entry: a child that is a copy of the target itself (dockerd
//! re-executes itself for `docker-applyLayer` and `docker-untar`) inherits the filter, whose
//! rules name the target's syscall sites by address. A position-independent executable loaded
//! at a random base puts its copy's sites elsewhere; a fixed-address one (or any, with address
//! randomization off) puts them at the very addresses the filter traps, and a copy without
//! the SIGSYS handler would die at its first trapped call. There the children keep the library
//! ([`copies_share_sites`]).
//!
//! [`without`] and [`copies_share_sites`] are the decisions (pure); [`drop_own_entry`] and
//! [`layout`] the effects.

use std::ffi::CStr;

/// `value` (an `LD_PRELOAD` value) without the entries that name `own` (this library's file
/// name, as ld.so mapped it): same path, or same final component (an entry without a slash is
/// looked up in the library path; a symlink or copy elsewhere is the same library by name).
/// ld.so separates entries by spaces and colons; the result joins the kept ones with `:`.
/// `None` when no entry names it (nothing to change).
pub fn without(value: &[u8], own: &[u8]) -> Option<Vec<u8>> {
    let base = |p: &[u8]| -> Vec<u8> { p.rsplit(|&b| b == b'/').next().unwrap_or(p).to_vec() };
    let own_base = base(own);
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut dropped = false;
    for entry in value.split(|&b| b == b':' || b == b' ') {
        if entry.is_empty() {
            continue;
        }
        if !own_base.is_empty() && (entry == own || base(entry) == own_base) {
            dropped = true;
        } else {
            kept.push(entry);
        }
    }
    dropped.then(|| kept.join(&b':'))
}

/// Why a copy of this executable would run its syscalls at the addresses of this one's, if it
/// would: `pie` (the program is position-independent), `no_randomize` (this process's
/// personality has ADDR_NO_RANDOMIZE, which children inherit), `va_space` (the first byte of
/// /proc/sys/kernel/randomize_va_space, if readable).
pub fn copies_share_sites(
    pie: bool,
    no_randomize: bool,
    va_space: Option<u8>,
) -> Option<&'static str> {
    if !pie {
        Some("the program is not position-independent: a copy it starts of itself has its syscall sites at the addresses the filter traps")
    } else if no_randomize {
        Some("address randomization is off for this process (ADDR_NO_RANDOMIZE): a copy it starts of itself loads at the same address")
    } else if va_space == Some(b'0') {
        Some("address randomization is off (kernel.randomize_va_space = 0): a copy it starts of itself loads at the same address")
    } else {
        None
    }
}

/// What [`copies_share_sites`] needs, read from this process.
pub fn layout() -> (bool, bool, Option<u8>) {
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info; `data` is the u64 passed below.
        unsafe { *(data as *mut u64) = (*info).dlpi_addr };
        1 // the first object is the program
    }
    let mut bias: u64 = 0;
    // SAFETY: the callback only writes the u64 it is given.
    unsafe { libc::dl_iterate_phdr(Some(first), &mut bias as *mut u64 as *mut libc::c_void) };
    // SAFETY: personality(0xffffffff) only reads the current persona.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    let no_randomize = persona != -1 && persona & libc::ADDR_NO_RANDOMIZE != 0;
    let va_space = std::fs::read("/proc/sys/kernel/randomize_va_space")
        .ok()
        .and_then(|b| b.first().copied());
    (bias != 0, no_randomize, va_space)
}

extern "C" {
    /// glibc's environment: at this point the array of the initial stack.
    static mut environ: *mut *mut libc::c_char;
}

/// This library's file name as ld.so mapped it.
fn own_path() -> Option<Vec<u8>> {
    // SAFETY: an all-zero Dl_info is a valid value of this plain C struct.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr reads the address of a function of this object and fills `info`.
    if unsafe { libc::dladdr(own_path as *const libc::c_void, &mut info) } == 0
        || info.dli_fname.is_null()
    {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by ld.so, live for the process.
    Some(
        unsafe { CStr::from_ptr(info.dli_fname) }
            .to_bytes()
            .to_vec(),
    )
}

/// Removes gvnet's entry from this process's `LD_PRELOAD`, rewriting the variable's string in
/// place (the new value is never longer). Returns the new value, or `None` when the variable
/// does not name this library. Runs in the constructor, before the program or any other
/// thread reads the environment.
pub fn drop_own_entry() -> Option<String> {
    let own = own_path()?;
    const NAME: &[u8] = b"LD_PRELOAD=";
    // SAFETY: the constructor runs single-threaded before main; `environ` is glibc's
    // NULL-terminated array of NUL-terminated strings, and the initial stack holding them is
    // writable.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            let s = *p;
            let bytes = CStr::from_ptr(s).to_bytes();
            if let Some(value) = bytes.strip_prefix(NAME) {
                let new = without(value, &own)?;
                // `new` is no longer than `value`: write it after the name, then a NUL.
                let dst = s.add(NAME.len()) as *mut u8;
                std::ptr::copy_nonoverlapping(new.as_ptr(), dst, new.len());
                *dst.add(new.len()) = 0;
                return Some(String::from_utf8_lossy(&new).into_owned());
            }
            p = p.add(1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{copies_share_sites, without};

    #[test]
    fn only_a_randomized_position_independent_program_lets_its_children_go_without() {
        assert_eq!(copies_share_sites(true, false, Some(b'2')), None);
        assert_eq!(copies_share_sites(true, false, None), None);
        assert!(copies_share_sites(false, false, Some(b'2')).is_some());
        assert!(copies_share_sites(true, true, Some(b'2')).is_some());
        assert!(copies_share_sites(true, false, Some(b'0')).is_some());
    }

    fn w(value: &str, own: &str) -> Option<String> {
        without(value.as_bytes(), own.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn the_only_entry_leaves_an_empty_value() {
        assert_eq!(
            w("/opt/gvnet/libgvnet.so", "/opt/gvnet/libgvnet.so").as_deref(),
            Some("")
        );
    }

    #[test]
    fn other_entries_stay_in_their_order() {
        assert_eq!(
            w(
                "/a/liba.so:/opt/gvnet/libgvnet.so /b/libb.so",
                "/opt/gvnet/libgvnet.so"
            )
            .as_deref(),
            Some("/a/liba.so:/b/libb.so")
        );
    }

    #[test]
    fn found_by_name_through_the_library_path_or_a_link() {
        assert_eq!(
            w("libgvnet.so:libm.so.6", "/usr/lib/libgvnet.so").as_deref(),
            Some("libm.so.6")
        );
        assert_eq!(
            w("/usr/local/lib/libgvnet.so", "/opt/x/libgvnet.so").as_deref(),
            Some("")
        );
    }

    #[test]
    fn nothing_to_change_without_an_entry_for_it() {
        assert_eq!(w("/a/liba.so", "/opt/gvnet/libgvnet.so"), None);
        assert_eq!(w("", "/opt/gvnet/libgvnet.so"), None);
        assert_eq!(w("/a/libgvnet.so.old", "/opt/gvnet/libgvnet.so"), None);
        assert_eq!(w("/a/liba.so", ""), None);
    }

    #[test]
    fn every_copy_goes_and_empty_entries_are_not_kept() {
        assert_eq!(
            w(
                "::/opt/gvnet/libgvnet.so: libgvnet.so ::/a/liba.so",
                "/opt/gvnet/libgvnet.so"
            )
            .as_deref(),
            Some("/a/liba.so")
        );
    }
}
