//! The pid cache of `kernel::read_user`/`write_user` after `fork`: a child must copy its own
//! memory, never its parent's.
//!
//! `process_vm_readv` names the process by pid, and gvnet caches its pid (`kernel::cache_pid`)
//! to save a `getpid` per copy in the SIGSYS handler. A child made by `fork` has the parent's
//! memory, the cache included; if it kept the parent's pid, it would read the parent's copy of
//! an address, which no longer holds what the child wrote there. The cache lives in a page
//! mapped `MADV_WIPEONFORK`, so the child reads 0 and asks again.
//!
//! Process-wide state: `cache_pid` sets a static for the rest of the process, so the checks run
//! in a child process (this binary run again with `GVNET_PID_CACHE_CHILD=1`).
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

mod common;

use gvnet_core::kernel::{cache_pid, read_user, write_user, RawKernel};

const CHILD: &str = "GVNET_PID_CACHE_CHILD";

fn read_u64(addr: usize) -> Result<u64, i32> {
    let mut b = [0u8; 8];
    read_user(&RawKernel, addr, &mut b)?;
    Ok(u64::from_ne_bytes(b))
}

/// Runs in the child process: caches the pid, forks, and checks the grandchild reads and writes
/// its own memory. Exit status: 0 fine, 10+ which check failed.
fn child() -> i32 {
    if !cache_pid(&RawKernel) {
        // Linux has had MADV_WIPEONFORK since 4.14; the host kernel is the reference here.
        return 10;
    }
    let mut x: u64 = 1;
    let addr = &mut x as *mut u64 as usize;
    // A first copy fills the cache with this process's pid.
    if read_u64(addr) != Ok(1) {
        return 11;
    }
    // SAFETY: fork in a test process; the child only makes raw system calls (read_user,
    // write_user) and leaves with _exit, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: `addr` is this (child) process's copy of `x`; volatile so the write is made
        // before the kernel is asked to read it.
        unsafe { core::ptr::write_volatile(addr as *mut u64, 2) };
        let code = if read_u64(addr) != Ok(2) {
            // The parent's pid was used: its `x` still holds 1.
            1
        } else if write_user(&RawKernel, addr, &3u64.to_ne_bytes()).is_err() {
            2
        } else {
            // SAFETY: as above.
            match unsafe { core::ptr::read_volatile(addr as *const u64) } {
                3 => 0,
                _ => 3,
            }
        };
        // SAFETY: leaves the forked child at once, without running the harness's code.
        unsafe { libc::_exit(code) };
    }
    if pid < 0 {
        return 12;
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is a live local.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid || !libc::WIFEXITED(status) {
        return 13;
    }
    match libc::WEXITSTATUS(status) {
        0 => {}
        c => return 20 + c,
    }
    // SAFETY: as above; `x` is still this process's own.
    if unsafe { core::ptr::read_volatile(addr as *const u64) } != 1 {
        return 14;
    }
    0
}

#[test]
fn a_forked_child_copies_its_own_memory_not_its_parents() {
    if std::env::var_os(CHILD).is_some() {
        std::process::exit(child());
    }
    let out = common::run_in_child(
        "a_forked_child_copies_its_own_memory_not_its_parents",
        CHILD,
    );
    let what = match out.status.code() {
        Some(0) => return,
        Some(10) => "cache_pid failed: no MADV_WIPEONFORK page".to_string(),
        Some(21) => {
            "the forked child read its parent's memory: the cached pid was the parent's".to_string()
        }
        Some(c) => format!("check {c} failed"),
        None => format!("child killed: {}", out.status),
    };
    panic!("{what}\n{}", String::from_utf8_lossy(&out.stderr));
}
