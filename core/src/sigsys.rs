//! The SIGSYS handler: emulates trapped calls, forwards every other SIGSYS to the program.
//!
//! A trap of gvnet's filter (`si_code == SYS_SECCOMP`, `si_errno == TRAP_DATA`) is served by
//! [`crate::emulate::handle`] with the arguments from the saved registers; the result goes into the
//! saved `rax`, and the program resumes after its `syscall` instruction as if the kernel had
//! answered. Any other SIGSYS belongs to the program: it goes to the handler the program installed
//! (recorded by the `sigaction` guard in [`PROGRAM`]), with its flags and mask honoured, or, when the
//! program has none, kills the process as the default action would.

use crate::abi::{self, nr, SIG_DFL, SIG_IGN};
use crate::call::Call;
use crate::emulate::{handle, trace_call};
use crate::filter::TRAP_DATA;
use crate::kernel::{Kernel, RawKernel};
use crate::state::{LATE_LAYER, PROGRAM, TABLE};
use core::ffi::{c_int, c_void};

const SIGSYS: usize = 31;

/// `siginfo_t` fields for SIGSYS, by offset (x86_64): `si_errno` at 4, `si_code` at 8,
/// `_sigsys._syscall` at 24.
struct SigsysInfo {
    errno: i32,
    code: i32,
    syscall: i32,
}

/// # Safety
/// `info` must point at the kernel's `siginfo_t` for this signal.
unsafe fn read_info(info: *const libc::siginfo_t) -> SigsysInfo {
    let base = info as *const u8;
    // SAFETY: siginfo_t is 128 bytes; these offsets lie within it and are aligned for i32.
    unsafe {
        SigsysInfo {
            errno: *(base.add(4) as *const i32),
            code: *(base.add(8) as *const i32),
            syscall: *(base.add(24) as *const i32),
        }
    }
}

/// The SIGSYS handler gvnet installs (with `SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART`).
///
/// # Safety
/// Only the kernel calls it, with a valid `siginfo_t` and `ucontext_t`.
pub unsafe extern "C" fn handle_sigsys(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo_t.
    let si = unsafe { read_info(info) };
    if si.code == abi::SYS_SECCOMP && si.errno == TRAP_DATA as i32 && !ctx.is_null() {
        // SAFETY: with SA_SIGINFO the third argument is the interrupted context, which stays
        // valid and exclusively ours until the handler returns.
        let uc = unsafe { &mut *(ctx as *mut libc::ucontext_t) };
        let g = &mut uc.uc_mcontext.gregs;
        let reg = |r: c_int| g[r as usize] as usize;
        let call = Call {
            nr: si.syscall as usize,
            args: [
                reg(libc::REG_RDI),
                reg(libc::REG_RSI),
                reg(libc::REG_RDX),
                reg(libc::REG_R10),
                reg(libc::REG_R8),
                reg(libc::REG_R9),
            ],
        };
        // The first trap (of the base layer: a netlink bind, connect or setsockopt) brings in
        // the rest of the calls gvnet emulates; see filter::Layer::Late.
        LATE_LAYER.install_once(&RawKernel);
        let out = handle(&RawKernel, &TABLE, &call);
        g[libc::REG_RAX as usize] = out.ret as i64;
        trace_call("raw", &call, &out);
        return;
    }
    // SAFETY: forwarding the kernel's own arguments.
    unsafe { forward(sig, info, ctx, si.code == abi::SYS_SECCOMP) }
}

/// The kernel's `struct sigaction` for `rt_sigaction`.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Hands a SIGSYS that gvnet did not cause to the program's own disposition.
///
/// # Safety
/// Arguments as the kernel gave them to [`handle_sigsys`].
unsafe fn forward(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void, from_seccomp: bool) {
    let (h, flags, mask) = PROGRAM.get();
    let k = RawKernel;
    // A seccomp SIGSYS cannot be ignored: the kernel forces the default action.
    if h == SIG_DFL || (h == SIG_IGN && from_seccomp) {
        let dfl = KernelSigaction {
            handler: SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: a valid kernel sigaction for SIG_DFL; then re-raise to this thread so the
        // default action (terminate with a core dump) happens as it would have without gvnet.
        unsafe {
            k.syscall(
                nr::RT_SIGACTION,
                [SIGSYS, &dfl as *const _ as usize, 0, 8, 0, 0],
            );
            let pid = k.syscall(nr::GETPID, [0; 6]) as usize;
            let tid = k.syscall(nr::GETTID, [0; 6]) as usize;
            k.syscall(nr::TGKILL, [pid, tid, SIGSYS, 0, 0, 0]);
        }
        return;
    }
    if h == SIG_IGN {
        return;
    }
    let mut old: u64 = 0;
    // SAFETY: block the program's sa_mask while its handler runs, as the kernel would.
    unsafe {
        k.syscall(
            nr::RT_SIGPROCMASK,
            [
                libc::SIG_BLOCK as usize,
                &mask as *const u64 as usize,
                &mut old as *mut u64 as usize,
                8,
                0,
                0,
            ],
        );
    }
    if flags & libc::SA_SIGINFO as u64 != 0 {
        // SAFETY: the program installed a three-argument handler (SA_SIGINFO) at this address.
        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
            unsafe { core::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the program installed a one-argument handler at this address.
        let f: extern "C" fn(c_int) = unsafe { core::mem::transmute(h) };
        f(sig);
    }
    // SAFETY: restore the mask saved above.
    unsafe {
        k.syscall(
            nr::RT_SIGPROCMASK,
            [
                libc::SIG_SETMASK as usize,
                &old as *const u64 as usize,
                0,
                8,
                0,
                0,
            ],
        );
    }
    if flags & libc::SA_RESETHAND as u64 != 0 {
        PROGRAM.set(SIG_DFL, 0, 0);
    }
}
