//! The constructor: reads the settings and, in a target, asks the kernel what it does natively
//! and arms what the process needs. Any other process decides later, at its first call that
//! could concern gvnet ([`settle`], called by the libc hooks): a process that never opens a
//! netlink or packet socket (most of what a shell or a daemon starts) never probes anything.
//! A target also takes the library out of the `LD_PRELOAD` its children inherit ([`children`]).
//!
//! Each capability gvnet can supply (netlink groups, a connect and a send to a group, an
//! AF_PACKET write, IPv6's per-interface sysctls) is probed separately ([`probe_kernel`]); gvnet
//! emulates exactly what is refused ([`gvnet_core::caps`]):
//!
//! | process | something refused | nothing refused |
//! |---|---|---|
//! | target (dockerd) | libc hooks + seccomp filter naming only the refused calls + SIGSYS handler | passive |
//! | any other, at its first netlink or AF_PACKET call | libc hooks for the refused calls | passive |
//!
//! GVNET_MODE=force emulates everything whatever the kernel says; GVNET_MODE=off loads inert.
//! One info line names each capability (native, emulated or off) and why.

use crate::config::{Children, Config, Mode};
use crate::{children, logger, real, sites};
use gvnet_core::abi::{self, nr};
use gvnet_core::caps::{self, Native, Traps};
use gvnet_core::counters::{engine, PROBED};
use gvnet_core::filter::{self, SockFilter, MAX_INSNS};
use gvnet_core::kernel::{inode, Kernel, RawKernel};
use gvnet_core::sigsys::handle_sigsys;
use gvnet_core::sockaddr::SockaddrNl;
use gvnet_core::state::{self, COUNTERS, PROGRAM};
use gvnet_core::trace::{self, Level};
use log::{debug, error, info, warn};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// gvnet's SIGSYS handler is installed: `sigaction(SIGSYS)` from the program is recorded, not
/// passed to the kernel.
static GUARD_SIGSYS: AtomicBool = AtomicBool::new(false);

/// Whether the hooks emulate: the constructor found something to trap (the kernel refuses a
/// capability, or GVNET_MODE=force).
#[inline]
pub fn active() -> bool {
    !state::traps().is_empty()
}

/// Whether a libc call goes through the emulation ([`filter::wants`] for the traps decided).
/// A waiting process first decides ([`settle`]) where the call is one gvnet would take under a
/// kernel that refused everything: a test of the argument values alone (an address length of a
/// `sockaddr_nl` or `sockaddr_ll`, the level SOL_NETLINK), no memory read, no syscall.
#[inline]
pub fn wants_call(nr_: usize, args: &[usize; 6]) -> bool {
    if waiting() {
        if !filter::wants(Traps::ALL, nr_, args) {
            return false;
        }
        settle();
    }
    active() && filter::wants(state::traps(), nr_, args)
}

/// Whether `sigaction(SIGSYS)` is guarded.
#[inline]
pub fn guarding_sigsys() -> bool {
    GUARD_SIGSYS.load(Ordering::Acquire)
}

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init;

/// What a process that is not a target needs to decide later: its settings and executable.
static DEFERRED: OnceLock<(Config, String)> = OnceLock::new();

/// The deferred decision: 0 while waiting; `pid << 2 | DECIDING` while process `pid` makes it;
/// `DONE` once made. The pid is there for a child forked while a thread of its parent was
/// deciding: no thread of the child will finish that decision, so the child makes its own
/// (a `std::sync::Once` would leave it waiting for good).
static DECISION: AtomicU64 = AtomicU64::new(0);
const DECIDING: u64 = 1;
const DONE: u64 = 2;

extern "C" fn init() {
    let (cfg, complaints) = Config::parse(|k| std::env::var(k).ok());
    let exe = sites::exe_path();
    let target = cfg.is_target(&exe);
    open_log(&cfg, target);
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
    if target {
        pass_on(&cfg, &exe);
        decide(&cfg, &exe, true);
        return;
    }
    // Not a target: nothing to do until the program's first call that could concern gvnet
    // (settle), which most processes never make.
    COUNTERS.engine.store(engine::WAITING, Ordering::Relaxed);
    info!(
        "not a target (GVNET_TARGETS={}): waits in {exe}; the kernel is asked at its first netlink or AF_PACKET call",
        cfg.targets.join(",")
    );
    let _ = DEFERRED.set((cfg, exe));
}

/// Takes gvnet out of the `LD_PRELOAD` the target's children inherit, unless GVNET_CHILDREN=keep.
fn pass_on(cfg: &Config, exe: &str) {
    if cfg.children == Children::Keep {
        info!(
            "GVNET_CHILDREN=keep: the processes {exe} starts inherit LD_PRELOAD with libgvnet.so"
        );
        return;
    }
    let (pie, no_randomize, va_space) = children::layout();
    if let Some(why) = children::copies_share_sites(pie, no_randomize, va_space) {
        info!("children: the processes {exe} starts keep libgvnet.so in LD_PRELOAD: {why}");
        return;
    }
    match children::drop_own_entry() {
        Some(v) => info!(
            "children: LD_PRELOAD is now {v:?} for the processes {exe} starts: they do not load libgvnet.so (GVNET_CHILDREN=keep passes it on)"
        ),
        None => debug!("children: LD_PRELOAD does not name libgvnet.so: nothing to take out"),
    }
}

/// Makes the deferred decision of a process that is not a target, once: called by the libc
/// hooks before a call that could concern gvnet (a netlink address or option, an AF_PACKET
/// address). Another thread's call waits (yielding) until the decision is made. Not
/// async-signal-safe: a hook called from a signal handler while the same thread is deciding
/// would wait for itself; the window is the few milliseconds of the first netlink call.
pub fn settle() {
    if DECISION.load(Ordering::Acquire) == DONE {
        return;
    }
    let Some((cfg, exe)) = DEFERRED.get() else {
        return;
    };
    // SAFETY: getpid has no arguments and cannot fail.
    let me = unsafe { libc::getpid() } as u64;
    once_per_process(&DECISION, me, || decide(cfg, exe, false));
}

/// Runs `f` once for process `me` through `state` (see [`DECISION`]): the first caller runs
/// it; callers of the same process meanwhile wait until it is done; a value left by another
/// process (the parent, forked mid-decision) is taken over.
fn once_per_process(state: &AtomicU64, me: u64, f: impl FnOnce()) {
    let mine = me << 2 | DECIDING;
    let mut seen = 0;
    loop {
        match state.compare_exchange(seen, mine, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                f();
                state.store(DONE, Ordering::Release);
                return;
            }
            Err(DONE) => return,
            // Being decided by this process: wait for it.
            Err(v) if v == mine => std::thread::yield_now(),
            // Being decided by the parent this process was forked from: take it over.
            Err(v) => seen = v,
        }
    }
}

/// Whether the decision is still to be made (a process that is not a target, before its first
/// netlink call).
pub fn waiting() -> bool {
    DEFERRED.get().is_some() && DECISION.load(Ordering::Acquire) != DONE
}

/// Probes the kernel, records what is emulated, says so in one line, and for a target installs
/// the raw-syscall engine.
fn decide(cfg: &Config, exe: &str, target: bool) {
    let probe = probe_kernel();
    let kernel = probe.native();
    COUNTERS.accepted.store(probe.accepted, Ordering::Relaxed);
    let native = if cfg.mode == Mode::Force {
        Native::NONE
    } else {
        kernel
    };
    let traps = native.traps(cfg.events);
    state::set_native(native);
    state::set_traps(traps);
    COUNTERS
        .native
        .store(PROBED | native.bits(), Ordering::Relaxed);
    COUNTERS.traps.store(traps.bits() as u64, Ordering::Relaxed);
    let states = probe.describe(kernel, traps);
    if traps.is_empty() {
        COUNTERS.engine.store(engine::PASSIVE, Ordering::Relaxed);
        info!("{states}: passive in {exe}");
        return;
    }
    let reason = if cfg.mode == Mode::Force {
        format!("GVNET_MODE=force: everything emulated ({states})")
    } else {
        states
    };
    if gvnet_core::kernel::cache_pid(&RawKernel) {
        debug!("copies of the program's memory use the cached pid (a MADV_WIPEONFORK page)");
    } else {
        debug!("no MADV_WIPEONFORK here: every copy of the program's memory asks getpid");
    }
    // What the decision line says about events (one line per process: this goes into it).
    let events = if cfg.events {
        state::INTERVAL.store(cfg.event_interval_ms, Ordering::Relaxed);
        state::IDLE.store(cfg.event_idle_ms, Ordering::Relaxed);
        state::ENABLED.store(true, Ordering::Release);
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
    if !target {
        COUNTERS.engine.store(engine::HOOKS, Ordering::Relaxed);
        info!("{reason}: libc hooks active in {exe}; not a target (GVNET_TARGETS={}), no raw-syscall engine{events}", cfg.targets.join(","));
        return;
    }
    if !traps.needs_filter() {
        // NETLINK_GET_STRICT_CHK alone is refused: the libc hooks serve it, a Go target's raw
        // syscalls keep the kernel's answer.
        COUNTERS.engine.store(engine::HOOKS, Ordering::Relaxed);
        info!("{reason}: libc hooks active in {exe}; nothing for the raw-syscall engine to trap{events}");
        return;
    }
    match install_engine(traps) {
        Ok(detail) => {
            COUNTERS
                .engine
                .store(engine::HOOKS_AND_TRAP, Ordering::Relaxed);
            // The decision first, in one line of its own (the trace writer's lines are at most
            // 480 bytes); the filter's details after it.
            info!("{reason}: libc hooks and raw-syscall engine active in {exe}{events}");
            info!("seccomp: {detail}");
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
        unsafe { state::set_kick_page(p.cast(), true) };
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

/// What the probes found: which capabilities the kernel accepts, and why each refused one was.
struct Probe {
    /// Probed groups accepted by NETLINK_ADD_MEMBERSHIP and by bind (bit `g - 1`).
    accepted: u64,
    /// [`Native`] flags the kernel accepted.
    flags: u64,
    /// The first refusal per capability, in the order of [`caps::CAPABILITIES`].
    why: [Option<String>; 8],
}

impl Probe {
    fn native(&self) -> Native {
        Native::from_probes(self.accepted, self.flags)
    }

    /// One clause per capability: `groups emulated (EOPNOTSUPP; accepted: link)`, ...
    fn describe(&self, kernel: Native, traps: Traps) -> String {
        let states = caps::states(kernel, traps);
        let mut parts = Vec::new();
        for (i, (name, state)) in caps::CAPABILITIES.iter().zip(states).enumerate() {
            let mut part = format!("{name} {}", state.name());
            if state != caps::State::Native {
                if let Some(why) = &self.why[i] {
                    part.push_str(&format!(" ({why})"));
                }
            }
            parts.push(part);
        }
        format!("kernel: {}", parts.join(", "))
    }
}

/// A raw syscall's result as `Err(errno name)`.
fn check(r: isize) -> Result<usize, String> {
    if r < 0 {
        Err(abi::errno::name(-r as i32).to_string())
    } else {
        Ok(r as usize)
    }
}

/// A new socket; the caller closes it.
fn socket(domain: i32, kind: i32, proto: i32) -> Result<usize, String> {
    // SAFETY: plain socket creation, no memory arguments.
    check(unsafe {
        RawKernel.syscall(
            nr::SOCKET,
            [
                domain as usize,
                (kind | libc::SOCK_CLOEXEC) as usize,
                proto as usize,
                0,
                0,
                0,
            ],
        )
    })
}

fn close(fd: usize) {
    // SAFETY: closing a socket this module opened.
    unsafe { RawKernel.syscall(nr::CLOSE, [fd, 0, 0, 0, 0, 0]) };
}

/// A name for the groups of a bitmap, for the decision line.
fn group_names(mask: u64) -> String {
    let names: Vec<&str> = caps::EMULABLE_GROUPS
        .iter()
        .filter(|&&g| mask & (1u64 << (g - 1)) != 0)
        .map(|&g| match g {
            abi::RTNLGRP_LINK => "link",
            abi::RTNLGRP_NEIGH => "neigh",
            abi::RTNLGRP_IPV4_IFADDR => "ipv4-ifaddr",
            abi::RTNLGRP_IPV4_ROUTE => "ipv4-route",
            abi::RTNLGRP_IPV6_IFADDR => "ipv6-ifaddr",
            _ => "ipv6-route",
        })
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" ")
    }
}

/// Asks the kernel about each capability gvnet can supply, on scratch sockets it closes again,
/// in a way that can deliver nothing to anyone:
/// * groups: NETLINK_ADD_MEMBERSHIP of each group gvnet emulates on one socket, then one bind
///   with the accepted ones on another;
/// * where some group is refused (gVisor): a connect with groups and an `NLMSG_NOOP` sent to a
///   refused group, which no socket can have joined; where none is (Linux), both are taken as
///   accepted without asking (a send to a group would reach the host's listeners);
/// * AF_PACKET: a one-byte send on an unbound packet socket to `sll_ifindex` 0 with a 6-byte
///   address (gVisor parses the address first, so `sll_halen` must be 6; then it answers
///   EOPNOTSUPP when writes are off, EINVAL when on; Linux ENXIO): no interface, no frame;
/// * IPv6: whether `/proc/sys/net/ipv6/conf` exists, and where it does not whether IPv6 exists
///   at all (an AF_INET6 socket): without IPv6 there is nothing to answer for;
/// * `NETLINK_GET_STRICT_CHK`: set on a scratch NETLINK_ROUTE socket;
/// * `RTM_SETLINK` with `NLM_F_CREATE` for `lo` changing nothing ([`probe_setlink`]);
/// * IPv4 per-interface sysctls: whether `/proc/sys/net/ipv4/conf` exists.
fn probe_kernel() -> Probe {
    let mut p = Probe {
        accepted: 0,
        flags: 0,
        why: [None, None, None, None, None, None, None, None],
    };
    let nl_route = || socket(abi::AF_NETLINK as i32, libc::SOCK_RAW, abi::NETLINK_ROUTE);
    let first_refusal = |why: &mut Option<String>, e: String| {
        why.get_or_insert(e);
    };
    // Groups, by ADD_MEMBERSHIP, then by bind.
    let mut joined = 0u64;
    match nl_route() {
        Err(e) => first_refusal(&mut p.why[0], format!("socket(AF_NETLINK): {e}")),
        Ok(fd) => {
            for g in caps::EMULABLE_GROUPS {
                let v = g as i32;
                // SAFETY: `v` is a live int for the call.
                let r = unsafe {
                    RawKernel.syscall(
                        nr::SETSOCKOPT,
                        [
                            fd,
                            abi::SOL_NETLINK as usize,
                            abi::NETLINK_ADD_MEMBERSHIP as usize,
                            &v as *const i32 as usize,
                            4,
                            0,
                        ],
                    )
                };
                match check(r) {
                    Ok(_) => joined |= 1u64 << (g - 1),
                    Err(e) => first_refusal(
                        &mut p.why[0],
                        format!("ADD_MEMBERSHIP {}: {e}", group_names(1u64 << (g - 1))),
                    ),
                }
            }
            close(fd);
        }
    }
    if joined != 0 {
        match nl_route() {
            Err(e) => first_refusal(&mut p.why[0], format!("socket(AF_NETLINK): {e}")),
            Ok(fd) => {
                let sa = SockaddrNl {
                    family: abi::AF_NETLINK,
                    pad: 0,
                    pid: 0,
                    groups: joined as u32,
                }
                .to_bytes();
                // SAFETY: `sa` is a live sockaddr_nl.
                let r = unsafe {
                    RawKernel.syscall(nr::BIND, [fd, sa.as_ptr() as usize, sa.len(), 0, 0, 0])
                };
                match check(r) {
                    Ok(_) => p.accepted = joined,
                    Err(e) => first_refusal(&mut p.why[0], format!("bind: {e}")),
                }
                close(fd);
            }
        }
    }
    if p.accepted != caps::EMULABLE_MASK {
        if let Some(why) = &mut p.why[0] {
            why.push_str(&format!("; accepted: {}", group_names(p.accepted)));
        }
        let refused = caps::EMULABLE_GROUPS
            .iter()
            .copied()
            .find(|g| p.accepted & (1u64 << (g - 1)) == 0)
            .unwrap_or(abi::RTNLGRP_NEIGH);
        probe_group_calls(&mut p, refused);
    } else {
        p.flags |= Native::CONNECT_GROUP | Native::SEND_GROUP;
    }
    // The capabilities probed by one call each: (its slot in `why`, the probe, its flag).
    let single: [(usize, ProbeFn, u64); 4] = [
        (3, probe_packet_write, Native::PACKET_WRITE),
        (4, probe_ipv6_sysctls, Native::IPV6_SYSCTL),
        (5, probe_strict_chk, Native::STRICT_CHK),
        (6, probe_setlink, Native::SETLINK),
    ];
    for (slot, probe, flag) in single {
        match probe() {
            Ok(()) => p.flags |= flag,
            Err(e) => p.why[slot] = Some(e),
        }
    }
    // SAFETY: faccessat of a static NUL-terminated path.
    let r = unsafe {
        RawKernel.syscall(
            nr::FACCESSAT,
            [
                libc::AT_FDCWD as usize,
                gvnet_core::sysctl::IPV4_CONF_DIR.as_ptr() as usize,
                libc::F_OK as usize,
                0,
                0,
                0,
            ],
        )
    };
    match check(r) {
        Ok(_) => p.flags |= Native::IPV4_CONF,
        Err(_) => p.why[7] = Some("no /proc/sys/net/ipv4/conf".into()),
    }
    p
}

/// A capability probe: `Err` says what the kernel refused.
type ProbeFn = fn() -> Result<(), String>;

/// `Err` only where the kernel answers `RTM_SETLINK | NLM_F_CREATE` for `lo` (by name,
/// `ifi_change` 0: nothing changes, Linux sends no event) with EINVAL, as gVisor's `setLink`
/// does for any request with `NLM_F_CREATE` (`gvnet_core::setlink`). Linux answers 0, or EPERM
/// without CAP_NET_ADMIN (gVisor too: it checks the capability first; such a process cannot
/// set links anyway), so anything but EINVAL is taken as native. One scratch socket, one
/// request, its ack read without waiting.
fn probe_setlink() -> Result<(), String> {
    use gvnet_core::setlink::{NLM_F_CREATE, RTM_SETLINK};
    let fd = socket(abi::AF_NETLINK as i32, libc::SOCK_RAW, abi::NETLINK_ROUTE)
        .map_err(|e| format!("socket(AF_NETLINK): {e}"))?;
    // nlmsghdr (16) + ifinfomsg (16) + IFLA_IFNAME "lo\0" (4 + 3, padded to 8).
    let mut req = [0u8; 40];
    req[0..4].copy_from_slice(&40u32.to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_SETLINK.to_ne_bytes());
    let flags = abi::NLM_F_REQUEST | abi::NLM_F_ACK | NLM_F_CREATE;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&0x6776u32.to_ne_bytes());
    req[32..34].copy_from_slice(&7u16.to_ne_bytes());
    req[34..36].copy_from_slice(&3u16.to_ne_bytes()); // IFLA_IFNAME
    req[36..38].copy_from_slice(b"lo");
    // SAFETY: `req` is live for the call; no address (the kernel).
    let r =
        unsafe { RawKernel.syscall(nr::SENDTO, [fd, req.as_ptr() as usize, req.len(), 0, 0, 0]) };
    if let Err(e) = check(r) {
        close(fd);
        return Err(format!("send: {e}"));
    }
    let mut ack = [0u8; 256];
    // SAFETY: `ack` is live and writable for the call.
    let r = unsafe {
        RawKernel.syscall(
            nr::RECVFROM,
            [
                fd,
                ack.as_mut_ptr() as usize,
                ack.len(),
                libc::MSG_DONTWAIT as usize,
                0,
                0,
            ],
        )
    };
    close(fd);
    // NLMSG_ERROR (2) with the error in the first 4 bytes of the payload.
    let n = check(r).unwrap_or(0);
    if n >= 20 && u16::from_ne_bytes([ack[4], ack[5]]) == 2 {
        let err = i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]);
        if err == -libc::EINVAL {
            return Err("EINVAL".into());
        }
    }
    Ok(())
}

/// `Ok` where a NETLINK_ROUTE socket accepts `NETLINK_GET_STRICT_CHK` (set on a scratch
/// socket that is closed again and sends nothing).
fn probe_strict_chk() -> Result<(), String> {
    let fd = socket(abi::AF_NETLINK as i32, libc::SOCK_RAW, abi::NETLINK_ROUTE)
        .map_err(|e| format!("socket(AF_NETLINK): {e}"))?;
    let one: i32 = 1;
    // SAFETY: `one` is a live int for the call.
    let r = unsafe {
        RawKernel.syscall(
            nr::SETSOCKOPT,
            [
                fd,
                abi::SOL_NETLINK as usize,
                gvnet_core::strictchk::NETLINK_GET_STRICT_CHK as usize,
                &one as *const i32 as usize,
                4,
                0,
            ],
        )
    };
    close(fd);
    check(r).map(|_| ())
}

/// A connect with `group` and an `NLMSG_NOOP` sent to it, on one scratch socket.
fn probe_group_calls(p: &mut Probe, group: u32) {
    let fd = match socket(abi::AF_NETLINK as i32, libc::SOCK_RAW, abi::NETLINK_ROUTE) {
        Ok(fd) => fd,
        Err(e) => {
            p.why[1] = Some(format!("socket(AF_NETLINK): {e}"));
            p.why[2] = p.why[1].clone();
            return;
        }
    };
    let sa = SockaddrNl {
        family: abi::AF_NETLINK,
        pad: 0,
        pid: 0,
        groups: 1u32 << (group - 1),
    }
    .to_bytes();
    // SAFETY: `sa` is a live sockaddr_nl.
    let r =
        unsafe { RawKernel.syscall(nr::CONNECT, [fd, sa.as_ptr() as usize, sa.len(), 0, 0, 0]) };
    match check(r) {
        Ok(_) => p.flags |= Native::CONNECT_GROUP,
        Err(e) => p.why[1] = Some(e),
    }
    // An NLMSG_NOOP header without NLM_F_ACK: the kernel answers nothing.
    let mut msg = [0u8; 16];
    msg[0..4].copy_from_slice(&16u32.to_ne_bytes());
    msg[4..6].copy_from_slice(&1u16.to_ne_bytes());
    // SAFETY: `msg` and `sa` are live for the call.
    let r = unsafe {
        RawKernel.syscall(
            nr::SENDTO,
            [
                fd,
                msg.as_ptr() as usize,
                msg.len(),
                libc::MSG_DONTWAIT as usize,
                sa.as_ptr() as usize,
                sa.len(),
            ],
        )
    };
    match check(r) {
        Ok(_) => p.flags |= Native::SEND_GROUP,
        Err(e) => p.why[2] = Some(e),
    }
    close(fd);
}

/// `Ok` unless an AF_PACKET write is refused with EOPNOTSUPP (the one refusal gvnet answers).
fn probe_packet_write() -> Result<(), String> {
    let fd = match socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0) {
        Ok(fd) => fd,
        // No packet sockets for this process at all: no write to emulate either.
        Err(_) => return Ok(()),
    };
    // struct sockaddr_ll: family, protocol (ETH_P_ARP, big endian), ifindex 0, hatype 0,
    // pkttype 0, halen 6, addr (broadcast).
    let mut ll = [0u8; abi::SOCKADDR_LL_LEN];
    ll[0..2].copy_from_slice(&(libc::AF_PACKET as u16).to_ne_bytes());
    ll[2..4].copy_from_slice(&0x0806u16.to_be_bytes());
    ll[11] = 6;
    ll[12..18].fill(0xff);
    let byte = [0u8; 1];
    // SAFETY: `byte` and `ll` are live for the call.
    let r = unsafe {
        RawKernel.syscall(
            nr::SENDTO,
            [
                fd,
                byte.as_ptr() as usize,
                1,
                libc::MSG_DONTWAIT as usize,
                ll.as_ptr() as usize,
                ll.len(),
            ],
        )
    };
    close(fd);
    if r == -(libc::EOPNOTSUPP as isize) {
        Err("EOPNOTSUPP".into())
    } else {
        Ok(())
    }
}

/// `Ok` where `/proc/sys/net/ipv6/conf` exists, or where there is no IPv6 at all.
fn probe_ipv6_sysctls() -> Result<(), String> {
    let dir = gvnet_core::sysctl::IPV6_CONF_DIR;
    // SAFETY: faccessat of a static NUL-terminated path.
    let r = unsafe {
        RawKernel.syscall(
            nr::FACCESSAT,
            [
                libc::AT_FDCWD as usize,
                dir.as_ptr() as usize,
                libc::F_OK as usize,
                0,
                0,
                0,
            ],
        )
    };
    if r == 0 {
        return Ok(());
    }
    match socket(libc::AF_INET6, libc::SOCK_DGRAM, 0) {
        Ok(fd) => {
            close(fd);
            Err("no /proc/sys/net/ipv6/conf".into())
        }
        Err(_) => Ok(()),
    }
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const SECCOMP_SET_MODE_FILTER: usize = 1;
const SECCOMP_FILTER_FLAG_TSYNC: usize = 1;

/// The calls of `traps` by name, as the decision line lists them.
fn trap_names(traps: Traps) -> String {
    let mut v = Vec::new();
    if traps.has(Traps::MEMBERSHIP) {
        v.push("connect bind setsockopt getsockopt getsockname getpeername");
    }
    match (traps.has(Traps::SEND_NL), traps.has(Traps::SEND_LL)) {
        (true, true) => v.push("sendto(nl, ll)"),
        (true, false) => v.push("sendto(nl)"),
        (false, true) => v.push("sendto(ll)"),
        _ => {}
    }
    if traps.has(Traps::OPENAT) {
        v.push("openat");
    }
    v.join(" ")
}

/// Installs the SIGSYS handler and the seccomp filter for this program's Go syscall site(s),
/// naming only the calls of `traps`.
fn install_engine(traps: Traps) -> Result<String, String> {
    let sites =
        sites::go_syscall_sites().map_err(|e| format!("cannot read /proc/self/exe: {e}"))?;
    if sites.is_empty() {
        return Err("no Go syscall site found (not a Go program, or a Go older than 1.19)".into());
    }
    let built = |layer, prog: &mut [SockFilter; MAX_INSNS]| {
        filter::build_layer(layer, traps, &sites, prog)
            .map_err(|e| format!("{layer:?} layer, {} sites: {e:?}", sites.len()))
    };
    let mut prog = [SockFilter::default(); MAX_INSNS];
    // The base layer exists where memberships are emulated; without it nothing would bring the
    // late layer in later, so then the late layer is the first and only one.
    let (first, len) = match built(filter::Layer::Base, &mut prog)? {
        0 => (filter::Layer::Late, built(filter::Layer::Late, &mut prog)?),
        n => (filter::Layer::Base, n),
    };
    if len == 0 {
        return Err("no call to trap".into());
    }

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
    let mut late = 0;
    if first == filter::Layer::Base {
        // The rest of the named calls trap only after the first trap of the base layer (see
        // filter::Layer::Late), so what dockerd forks before its first netlink call
        // (containerd, and below it every container) inherits the base layer alone.
        late = built(filter::Layer::Late, &mut prog)?;
        if late > 0 {
            state::LATE_LAYER.stage(&prog[..late]);
        }
        // Receives trap only once a socket subscribes (see monitor::subscribed); without
        // events nothing is ever queued for them.
        if state::ENABLED.load(Ordering::Acquire) {
            let n = built(filter::Layer::Recv, &mut prog)?;
            state::RECV_LAYER.stage(&prog[..n]);
        }
    }
    COUNTERS.sites.store(sites.len() as u64, Ordering::Relaxed);
    let list: Vec<String> = sites.iter().map(|s| format!("{s:#x}")).collect();
    let layers = if first == filter::Layer::Base {
        format!("base layer of {len} instructions, late layer of {late} staged for the first trap")
    } else {
        format!("one filter of {len} instructions")
    };
    Ok(format!(
        "{} Go syscall site(s) at {}, {layers}; traps {}",
        sites.len(),
        list.join(","),
        trap_names(traps)
    ))
}

#[cfg(test)]
mod tests {
    use super::{once_per_process, DECIDING, DONE};
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn the_first_caller_decides_and_later_ones_do_not() {
        let state = AtomicU64::new(0);
        let runs = AtomicUsize::new(0);
        for _ in 0..3 {
            once_per_process(&state, 7, || {
                runs.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert_eq!(state.load(Ordering::Relaxed), DONE);
    }

    #[test]
    fn a_child_forked_mid_decision_decides_itself() {
        // The parent (pid 7) was deciding when this process (pid 8) was forked from it.
        let state = AtomicU64::new(7 << 2 | DECIDING);
        let runs = AtomicUsize::new(0);
        once_per_process(&state, 8, || {
            runs.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert_eq!(state.load(Ordering::Relaxed), DONE);
    }

    #[test]
    fn threads_of_one_process_wait_for_the_one_deciding() {
        let state = Arc::new(AtomicU64::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (state, runs) = (state.clone(), runs.clone());
                std::thread::spawn(move || {
                    once_per_process(&state, 9, || {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        runs.fetch_add(1, Ordering::Relaxed);
                    });
                    // Nobody returns before the decision is made.
                    assert_eq!(runs.load(Ordering::Relaxed), 1);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    }
}
