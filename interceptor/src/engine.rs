//! The constructor: reads the settings, probes the kernel, and arms what this process needs.
//!
//! | process | kernel refuses multicast | kernel accepts it |
//! |---|---|---|
//! | target (dockerd) | libc hooks + seccomp filter + SIGSYS handler | passive |
//! | any other | libc hooks | passive |
//!
//! GVNET_MODE=force acts as if the kernel refused; GVNET_MODE=off loads inert. One info line says
//! what was decided and why.

use crate::config::{Config, Mode};
use crate::{logger, real, sites};
use gvnet_core::abi::{self, nr};
use gvnet_core::counters::{engine, probe, COUNTERS};
use gvnet_core::filter::{self, SockFilter, MAX_INSNS};
use gvnet_core::kernel::{inode, Kernel, RawKernel};
use gvnet_core::sigsys::{handle_sigsys, PROGRAM};
use gvnet_core::sockaddr::SockaddrNl;
use gvnet_core::trace::{self, Level};
use log::{debug, error, info, warn};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

/// The libc hooks emulate (the kernel refuses multicast, or GVNET_MODE=force).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// gvnet's SIGSYS handler is installed: `sigaction(SIGSYS)` from the program is recorded, not
/// passed to the kernel.
static GUARD_SIGSYS: AtomicBool = AtomicBool::new(false);

/// Whether the hooks emulate.
#[inline]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Whether `sigaction(SIGSYS)` is guarded.
#[inline]
pub fn guarding_sigsys() -> bool {
    GUARD_SIGSYS.load(Ordering::Acquire)
}

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init;

extern "C" fn init() {
    let (cfg, complaints) = Config::parse(|k| std::env::var(k).ok());
    let exe = sites::exe_path();
    open_log(&cfg, cfg.is_target(&exe));
    logger::init(cfg.level);
    for c in &complaints {
        warn!("{c}");
    }
    real::resolve_all();
    if cfg.mode == Mode::Off {
        COUNTERS.engine.store(engine::OFF, Ordering::Relaxed);
        info!("GVNET_MODE=off: inert in {exe}");
        return;
    }
    let probe = probe_kernel();
    let seen = if probe.is_ok() {
        probe::ACCEPTED
    } else {
        probe::REFUSED
    };
    COUNTERS.probe.store(seen, Ordering::Relaxed);
    let reason = match (&probe, cfg.mode) {
        (Err(why), _) => format!("the kernel refuses netlink multicast ({why})"),
        (Ok(()), Mode::Force) => {
            "GVNET_MODE=force (the kernel accepts netlink multicast)".to_string()
        }
        (Ok(()), _) => {
            COUNTERS.engine.store(engine::PASSIVE, Ordering::Relaxed);
            info!("the kernel accepts netlink multicast: passive in {exe}");
            return;
        }
    };
    ACTIVE.store(true, Ordering::Release);
    if gvnet_core::kernel::cache_pid(&RawKernel) {
        debug!("copies of the program's memory use the cached pid (a MADV_WIPEONFORK page)");
    } else {
        debug!("no MADV_WIPEONFORK here: every copy of the program's memory asks getpid");
    }
    // What the decision line says about events (one line per process: this goes into it).
    let events = if cfg.events {
        gvnet_core::monitor::INTERVAL.store(cfg.event_interval_ms, Ordering::Relaxed);
        gvnet_core::monitor::IDLE.store(cfg.event_idle_ms, Ordering::Relaxed);
        gvnet_core::monitor::ENABLED.store(true, Ordering::Release);
        match &cfg.event_kick {
            None => {
                "; events on, kicks only within this process (GVNET_EVENT_KICK=off)".to_string()
            }
            Some(path) => match map_kick_page(path) {
                Ok(()) => format!("; events on, kicks shared through {path}"),
                Err(e) => {
                    warn!(
                        "events: cannot share kicks through {path} ({e}): changes made by other processes reach this one's subscribers by polling only (GVNET_EVENT_IDLE_MS={})",
                        cfg.event_idle_ms
                    );
                    "; events on, kicks only within this process".to_string()
                }
            },
        }
    } else {
        "; GVNET_EVENTS=off: subscriptions are emulated, but no events are delivered".to_string()
    };
    if !cfg.is_target(&exe) {
        COUNTERS.engine.store(engine::HOOKS, Ordering::Relaxed);
        info!("{reason}: libc hooks active in {exe}; not a target (GVNET_TARGETS={}), no raw-syscall engine{events}", cfg.targets.join(","));
        return;
    }
    match install_engine(cfg.events) {
        Ok(detail) => {
            COUNTERS
                .engine
                .store(engine::HOOKS_AND_TRAP, Ordering::Relaxed);
            info!("{reason}: libc hooks and raw-syscall engine active in {exe}: {detail}{events}")
        }
        Err(e) => {
            COUNTERS
                .engine
                .store(engine::TRAP_FAILED, Ordering::Relaxed);
            error!(
                "{reason}: libc hooks active in {exe}, but its raw syscalls are NOT covered: {e}"
            )
        }
    }
}

/// Maps the first page of `path` (created 0644 if missing) shared and hands it to the monitor
/// as its kick page. The file must be a regular file owned by root or by this process's user,
/// and writable: the page is written by every kick.
fn map_kick_page(path: &str) -> Result<(), String> {
    const PAGE: usize = 4096;
    let c = CString::new(path).map_err(|_| "a NUL in the path".to_string())?;
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `c` is a valid NUL-terminated path; open has no other memory arguments.
    let fd = unsafe { libc::open(c.as_ptr(), flags, 0o644 as libc::c_uint) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let result = (|| {
        // SAFETY: an all-zero stat is a valid value of this plain C struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is open and `st` is a live, writable stat.
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err("not a regular file".to_string());
        }
        // SAFETY: geteuid has no arguments and cannot fail.
        let me = unsafe { libc::geteuid() };
        if st.st_uid != 0 && st.st_uid != me {
            return Err(format!("owned by uid {}, neither root nor us", st.st_uid));
        }
        // SAFETY: `fd` is open for writing; growing a file has no memory arguments.
        if (st.st_size as usize) < PAGE && unsafe { libc::ftruncate(fd, PAGE as libc::off_t) } != 0
        {
            return Err(std::io::Error::last_os_error().to_string());
        }
        // SAFETY: a new shared mapping of one page of an open regular file of at least that size.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error().to_string());
        }
        // SAFETY: `p` is page-aligned, readable and writable for a page, and never unmapped;
        // this runs in the constructor, before any subscription.
        unsafe { gvnet_core::monitor::set_kick_page(p.cast(), true) };
        Ok(())
    })();
    // SAFETY: `fd` is ours; the mapping stays valid after the descriptor is closed.
    unsafe { libc::close(fd) };
    result
}

/// Whether gvnet may write its lines to this process's stderr. A target's stderr is its log
/// (dockerd writes its own lines there). Any other process's only when a person reads it: a
/// terminal or a regular file. A pipe or socket may be parsed by whoever reads it: containerd
/// takes a shim's `start` output (stdout and stderr together) as the shim's address, so one
/// gvnet line there fails every container start.
fn stderr_allowed(target: bool) -> bool {
    if target {
        return true;
    }
    // SAFETY: a zeroed `stat` is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat of fd 2 into the live buffer above; an error leaves it unused.
    if unsafe { libc::fstat(2, &mut st) } != 0 {
        return false;
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => true,
        // SAFETY: isatty only queries fd 2.
        libc::S_IFCHR => (unsafe { libc::isatty(2) }) == 1,
        _ => false,
    }
}

/// Opens GVNET_LOG_FILE (append, close-on-exec). Without one, or when it cannot be opened,
/// lines go to stderr where `stderr_allowed` (and one line says why the file was not used);
/// elsewhere they are dropped.
fn open_log(cfg: &Config, target: bool) {
    let stderr_level = if stderr_allowed(target) {
        cfg.level
    } else {
        Level::Off
    };
    let Some(path) = &cfg.log_file else {
        trace::configure(stderr_level, 2, 0);
        return;
    };
    let fd = CString::new(path.as_str()).ok().map(|c| {
        // SAFETY: `c` is a valid NUL-terminated path.
        unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
                0o644,
            )
        }
    });
    match fd {
        Some(fd) if fd >= 0 => {
            trace::configure(cfg.level, fd, inode(&RawKernel, fd as usize).unwrap_or(0));
        }
        _ => {
            trace::configure(stderr_level, 2, 0);
            let e = std::io::Error::last_os_error();
            trace::line(
                Level::Warn,
                &format!("cannot open GVNET_LOG_FILE={path:?} ({e}): logging to stderr"),
            );
        }
    }
}

/// Asks the kernel, on a scratch socket, whether it accepts what gvnet fakes: a bind with
/// RTMGRP_LINK and a send to that group. `Err` names the first refusal.
fn probe_kernel() -> Result<(), String> {
    let k = RawKernel;
    // SAFETY: plain socket creation; the fd is closed below.
    let fd = unsafe {
        k.syscall(
            nr::SOCKET,
            [
                abi::AF_NETLINK as usize,
                (libc::SOCK_RAW | libc::SOCK_CLOEXEC) as usize,
                0,
                0,
                0,
                0,
            ],
        )
    };
    if fd < 0 {
        return Err(format!(
            "socket(AF_NETLINK): {}",
            gvnet_core::abi::errno::name(-fd as i32)
        ));
    }
    let fd = fd as usize;
    let group = SockaddrNl {
        family: abi::AF_NETLINK,
        pad: 0,
        pid: 0,
        groups: 1,
    }
    .to_bytes();
    // SAFETY: `group` is a live sockaddr_nl.
    let r = unsafe {
        k.syscall(
            nr::BIND,
            [fd, group.as_ptr() as usize, group.len(), 0, 0, 0],
        )
    };
    let result = if r < 0 {
        Err(format!(
            "bind with RTMGRP_LINK: {}",
            abi::errno::name(-r as i32)
        ))
    } else {
        // An NLMSG_NOOP header without NLM_F_ACK: the kernel answers nothing.
        let mut msg = [0u8; 16];
        msg[0..4].copy_from_slice(&16u32.to_ne_bytes());
        msg[4..6].copy_from_slice(&1u16.to_ne_bytes());
        // SAFETY: `msg` and `group` are live for the call.
        let r = unsafe {
            k.syscall(
                nr::SENDTO,
                [
                    fd,
                    msg.as_ptr() as usize,
                    msg.len(),
                    libc::MSG_DONTWAIT as usize,
                    group.as_ptr() as usize,
                    group.len(),
                ],
            )
        };
        if r < 0 {
            Err(format!(
                "sendto the RTMGRP_LINK group: {}",
                abi::errno::name(-r as i32)
            ))
        } else {
            Ok(())
        }
    };
    // SAFETY: closing the scratch socket opened above.
    unsafe { k.syscall(nr::CLOSE, [fd, 0, 0, 0, 0, 0]) };
    result
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const SECCOMP_SET_MODE_FILTER: usize = 1;
const SECCOMP_FILTER_FLAG_TSYNC: usize = 1;

/// Installs the SIGSYS handler and the seccomp filter for this program's Go syscall site(s).
fn install_engine(events: bool) -> Result<String, String> {
    let sites =
        sites::go_syscall_sites().map_err(|e| format!("cannot read /proc/self/exe: {e}"))?;
    if sites.is_empty() {
        return Err("no Go syscall site found (not a Go program, or a Go older than 1.19)".into());
    }
    let mut prog = [SockFilter::default(); MAX_INSNS];
    let len =
        filter::build(&sites, &mut prog).map_err(|e| format!("{} sites: {e:?}", sites.len()))?;

    // SAFETY: a zeroed sigaction is a valid starting point; the fields are set below.
    let mut act: libc::sigaction = unsafe { core::mem::zeroed() };
    act.sa_sigaction = handle_sigsys as *const () as usize;
    act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER | libc::SA_RESTART;
    // SAFETY: zeroed sigaction to receive the previous disposition.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    let real_sigaction: unsafe extern "C" fn(libc::c_int, *const libc::sigaction, *mut libc::sigaction) -> libc::c_int =
        // SAFETY: SIGACTION resolves to libc's sigaction, whose signature this is.
        unsafe { core::mem::transmute(real::SIGACTION.get()) };
    // SAFETY: valid pointers to live sigaction structs; the handler is async-signal-safe.
    if unsafe { real_sigaction(libc::SIGSYS, &act, &mut old) } != 0 {
        return Err(format!(
            "sigaction(SIGSYS): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: reading the first 64 signals of the kernel's mask from libc's sigset_t.
    let mask = unsafe { *(&old.sa_mask as *const libc::sigset_t as *const u64) };
    PROGRAM.set(old.sa_sigaction, old.sa_flags as u64, mask);
    GUARD_SIGSYS.store(true, Ordering::Release);

    let fprog = SockFprog {
        len: len as u16,
        filter: prog.as_ptr(),
    };
    // SAFETY: `fprog` points at `len` valid instructions that live across the call (the kernel
    // copies them). TSYNC applies the filter to every thread; NO_NEW_PRIVS is deliberately not
    // set, so this needs CAP_SYS_ADMIN, as dockerd has.
    let r = unsafe {
        RawKernel.syscall(
            libc::SYS_seccomp as usize,
            [
                SECCOMP_SET_MODE_FILTER,
                SECCOMP_FILTER_FLAG_TSYNC,
                &fprog as *const SockFprog as usize,
                0,
                0,
                0,
            ],
        )
    };
    if r != 0 {
        let why = match -r as i32 {
            libc::EACCES => {
                "seccomp needs CAP_SYS_ADMIN here (gvnet never sets no_new_privs)".to_string()
            }
            e if e > 0 && r < 0 => format!("seccomp: {}", abi::errno::name(e)),
            _ => format!("seccomp TSYNC failed for thread {r}"),
        };
        return Err(why);
    }
    // The rest of the named calls trap only after the first trap of the base layer (see
    // filter::Layer::Late), so what dockerd forks before its first netlink call (containerd,
    // and below it every container) inherits the base layer alone.
    let late = filter::build_layer(filter::Layer::Late, &sites, &mut prog)
        .map_err(|e| format!("late layer: {e:?}"))?;
    filter::LATE_LAYER.stage(&prog[..late]);
    if events {
        // Receives trap only once a socket subscribes (see monitor::subscribed).
        let n = filter::build_layer(filter::Layer::Recv, &sites, &mut prog)
            .map_err(|e| format!("receive layer: {e:?}"))?;
        filter::RECV_LAYER.stage(&prog[..n]);
    }
    COUNTERS.sites.store(sites.len() as u64, Ordering::Relaxed);
    let list: Vec<String> = sites.iter().map(|s| format!("{s:#x}")).collect();
    Ok(format!(
        "{} Go syscall site(s) at {}, filter of {len} instructions (connect, bind, setsockopt), late layer of {late} staged for the first trap",
        sites.len(),
        list.join(",")
    ))
}
