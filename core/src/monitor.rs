//! The monitor: one thread per process that turns namespace changes into multicast events.
//!
//! gVisor keeps no multicast subscribers, so nothing tells gvnet that a link, address, route or
//! neighbour changed. While at least one socket of the process is subscribed, the monitor dumps
//! the kinds of objects its subscribers asked for, in each of their network namespaces, and
//! [`crate::rtnl`] turns the
//! difference between two dumps into the events Linux would have sent. They go into the queues
//! of the subscribed sockets of that namespace whose groups match ([`crate::events`]), and the
//! sockets' doorbells make them readable ([`crate::recv`]).
//!
//! When it dumps: at once when *kicked*, and otherwise on a timer that backs off while nothing
//! changes ([`next_wait`]). A kick comes from a new subscription, or from any process with gvnet
//! loaded that has just sent a change request (RTM_NEWLINK, RTM_DELADDR, ...) to the kernel
//! ([`sent_to_kernel`]): dockerd's own changes, through the SIGSYS path, and those of C programs
//! such as `ip` run under the preload, through the libc hooks. The kick word lives in a page the
//! library's constructor maps from a file shared by every gvnet process of the sandbox
//! ([`crate::state::set_kick_page`]), so one process's change wakes every monitor at once, in any process. A
//! wakeup costs gVisor about 0.5 ms of host CPU, so polling fast enough for every change would
//! cost several percent of a core per subscriber; changes made without gvnet loaded are seen by
//! the backing-off timer (at most [`IDLE`] ms late once quiet).
//!
//! The thread is started lazily by the first subscription, which may happen inside the SIGSYS
//! handler of a Go program: so it is a raw `clone` of this library's own, running only this
//! crate's code (no libc, no TLS, no allocator) on an `mmap`ed stack, with every signal
//! blocked so that no handler of the program ever runs on it. It sleeps in `futex` while no
//! socket is subscribed. A forked child has no monitor until its first own subscription.
//!
//! Namespaces: a socket belongs to the namespace of the thread that created it; gvnet takes the
//! namespace of the thread that subscribes it (`/proc/thread-self/ns/net`), which is the same
//! for every program seen (vishvananda/netlink subscribes inside `netns.Do`). The subscribing
//! thread opens the monitor's dump socket for a namespace it is the first to subscribe in; the
//! monitor closes it when the namespace has no subscribers left, so a namespace is never kept
//! alive by gvnet.

use crate::abi::{self, nr};
use crate::events::{EventState, OVERRUN};
use crate::kernel::{dir_entries, inode, net_ns, sockopt_int, Kernel, RawKernel};
use crate::membership::{Slot, Table};
use crate::recv;
use crate::rtnl::{self, Event, Kind, View};
use crate::state::{kick_words, ENABLED, IDLE, INTERVAL, RECV_LAYER, TABLE};
use crate::trace::{self, Level, Line};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

/// The defaults of [`INTERVAL`] and [`IDLE`] (named here too, where the timer is).
pub use crate::state::{IDLE_MS, INTERVAL_MS};
/// Cycles at [`INTERVAL`] after the last change before the timer starts to back off.
pub const FAST_CYCLES: u32 = 20;
/// Network namespaces watched at once.
pub const MAX_NS: usize = 32;
/// Closed sockets are looked for every this many cycles.
const SWEEP_EVERY: u64 = 10;
/// Memory for one dump.
const DUMP_BUF: usize = 1 << 20;
/// Memory for one kind's state in one namespace (mapped, touched only as far as used).
const STORE: usize = crate::rtnl::store_size(DUMP_BUF);
const STACK: usize = 512 << 10;

/// Number of the cycle in progress or last started.
static STARTED: AtomicU64 = AtomicU64::new(0);
/// Number of the last finished cycle (its low 32 bits are a futex word too).
static DONE: AtomicU32 = AtomicU32::new(0);
/// The process the monitor thread runs in (0: none started).
static OWNER: AtomicI32 = AtomicI32::new(0);
static SPAWNING: AtomicBool = AtomicBool::new(false);

const NS_FREE: u32 = 0;
const NS_CLAIMED: u32 = 1;
const NS_LIVE: u32 = 2;

/// A namespace with subscribers and the socket the monitor dumps it with.
struct NsRec {
    state: AtomicU32,
    ino: AtomicU64,
    fd: AtomicI32,
}

static NS: [NsRec; MAX_NS] = [const {
    NsRec {
        state: AtomicU32::new(NS_FREE),
        ino: AtomicU64::new(0),
        fd: AtomicI32::new(-1),
    }
}; MAX_NS];

/// Writes one trace line at `level`, built by `f`.
fn say(level: Level, f: impl FnOnce(&mut Line)) {
    if trace::enabled(level) {
        let mut l = Line::new(level);
        f(&mut l);
        l.emit();
    }
}

fn sys<K: Kernel>(k: &K, n: usize, a: [usize; 6]) -> isize {
    // SAFETY: every caller in this module passes arguments valid for `n`: live local buffers
    // with their true lengths, or memory this module mapped itself.
    unsafe { k.syscall(n, a) }
}

fn getpid<K: Kernel>(k: &K) -> i32 {
    sys(k, nr::GETPID, [0; 6]) as i32
}

/// FUTEX_WAIT and FUTEX_WAKE, with FUTEX_PRIVATE_FLAG (128) unless the word is shared.
const FUTEX_WAIT: usize = 0;
const FUTEX_WAKE: usize = 1;
const FUTEX_PRIVATE: usize = 128;

fn futex_wait_op(word: &AtomicU32, op: usize, seen: u32, ms: Option<i64>) {
    let ts = ms.map(|ms| [ms / 1000, (ms % 1000) * 1_000_000]);
    let tsp = ts.as_ref().map_or(0, |t| t.as_ptr() as usize);
    sys(
        &RawKernel,
        nr::FUTEX,
        [word.as_ptr() as usize, op, seen as usize, tsp, 0, 0],
    );
}

fn futex_wait(word: &AtomicU32, seen: u32, ms: Option<i64>) {
    futex_wait_op(word, FUTEX_WAIT | FUTEX_PRIVATE, seen, ms);
}

fn futex_wake_op(word: &AtomicU32, op: usize) {
    sys(
        &RawKernel,
        nr::FUTEX,
        [word.as_ptr() as usize, op, i32::MAX as usize, 0, 0, 0],
    );
}

fn futex_wake(word: &AtomicU32) {
    futex_wake_op(word, FUTEX_WAKE | FUTEX_PRIVATE);
}

/// Wakes every monitor waiting on the kick word: this process's, and with a shared kick page
/// those of the other gvnet processes. Costs one atomic add, and a `futex` call only while some
/// monitor waits.
pub fn kick() {
    let (word, waiting, private) = kick_futex();
    word.fetch_add(1, Ordering::AcqRel);
    if waiting.load(Ordering::Acquire) != 0 {
        futex_wake_op(word, FUTEX_WAKE | private);
    }
}

/// The kick word, the count of monitors waiting on it, and the futex flag that fits them.
fn kick_futex() -> (&'static AtomicU32, &'static AtomicU32, usize) {
    let (word, waiting, shared) = kick_words();
    (word, waiting, if shared { 0 } else { FUTEX_PRIVATE })
}

fn wake() {
    kick();
}

/// Whether a netlink message of type `t`, sent to the kernel on a NETLINK_ROUTE socket, asks
/// for a change of something the monitor reports (links, addresses, routes, neighbours).
pub const fn is_change_request(t: u16) -> bool {
    matches!(
        t,
        rtnl::RTM_NEWLINK
            | rtnl::RTM_DELLINK
            | rtnl::RTM_SETLINK
            | rtnl::RTM_NEWADDR
            | rtnl::RTM_DELADDR
            | rtnl::RTM_NEWROUTE
            | rtnl::RTM_DELROUTE
            | rtnl::RTM_NEWNEIGH
            | rtnl::RTM_DELNEIGH
    )
}

/// Called after a send to the kernel on `fd` succeeded, with `first` the start of the first
/// message sent: kicks the monitors if it was a change request on a NETLINK_ROUTE socket. The
/// kernel has handled the request by the time the send returns (rtnetlink requests are handled
/// synchronously, by Linux and by gVisor), so the monitors' next dump sees its effect. Returns
/// whether it kicked. Costs nothing unless events are on here or a kick page is shared, and a
/// `getsockopt` only for the message types of a change.
pub fn sent_to_kernel<K: Kernel>(k: &K, fd: usize, first: &[u8]) -> bool {
    if first.len() < 6 || (!crate::state::has_kick_page() && !ENABLED.load(Ordering::Relaxed)) {
        return false;
    }
    let t = u16::from_ne_bytes([first[4], first[5]]);
    if is_change_request(t)
        && sockopt_int(k, fd, abi::SOL_SOCKET, abi::SO_PROTOCOL) == Ok(abi::NETLINK_ROUTE)
    {
        kick();
        return true;
    }
    false
}

/// How long the monitor sleeps after a cycle when `quiet` cycles in a row have seen no change
/// and no kick: [`INTERVAL`] for [`FAST_CYCLES`] cycles (a change often comes with more), then
/// twice as long each cycle up to `idle`; `None` (until kicked) once past the fast cycles when
/// `idle` is 0.
pub fn next_wait(fast: i64, idle: i64, quiet: u32) -> Option<i64> {
    let fast = fast.max(1);
    if quiet < FAST_CYCLES {
        return Some(fast);
    }
    if idle <= 0 {
        return None;
    }
    let doublings = (quiet - FAST_CYCLES + 1).min(20);
    Some(fast.saturating_mul(1 << doublings).min(idle.max(fast)))
}

fn mmap<K: Kernel>(k: &K, len: usize) -> Option<*mut u8> {
    // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE.
    let r = sys(
        k,
        nr::MMAP,
        [0, len, 3, 0x02 | 0x20 | 0x4000, usize::MAX, 0],
    );
    (r > 0 && r as usize % 4096 == 0).then_some(r as *mut u8)
}

fn munmap<K: Kernel>(k: &K, p: *mut u8, len: usize) {
    sys(k, 11, [p as usize, len, 0, 0, 0, 0]);
}

/// Called when a socket's groups become non-empty (bind with groups, ADD_MEMBERSHIP): records
/// its namespace and receive limit, makes sure the namespace is watched and the monitor runs,
/// and waits (at most 200 ms) for one full cycle, so that changes made after the call returns
/// are reported to it.
pub fn subscribed<K: Kernel>(k: &K, s: &Slot, fd: usize) {
    if !ENABLED.load(Ordering::Acquire) {
        return;
    }
    let Some(ns) = Some(net_ns(k)).filter(|&ns| ns != 0) else {
        say(Level::Warn, |l| {
            l.str("events: cannot read /proc/thread-self/ns/net; socket ")
                .dec(fd as i64)
                .str(" gets no events");
        });
        return;
    };
    let reported = sockopt_int(k, fd, abi::SOL_SOCKET, abi::SO_RCVBUF).unwrap_or(0);
    let limit = if reported > 0 && reported <= 64 << 20 {
        reported as u32
    } else {
        // gVisor reports INT_MAX and ignores SO_RCVBUF: keep what the libc hook recorded.
        s.ev.limit()
    };
    let since = STARTED.load(Ordering::Acquire) + 1;
    s.ev.subscribe(ns, limit, since);
    RECV_LAYER.install_once(k);
    ensure_ns(k, ns);
    ensure_thread(k);
    wake();
    wait_done(since);
    // The monitor may have given the namespace up between our look and our subscription.
    ensure_ns(k, ns);
}

/// Waits until cycle `c` has finished, at most 200 ms.
fn wait_done(c: u64) {
    for _ in 0..20 {
        let d = DONE.load(Ordering::Acquire);
        if (d as u64) >= (c & 0xffff_ffff) || OWNER.load(Ordering::Acquire) == 0 {
            return;
        }
        futex_wait(&DONE, d, Some(10));
    }
}

/// Makes sure namespace `ns` has a record with a dump socket opened from this thread.
fn ensure_ns<K: Kernel>(k: &K, ns: u64) {
    if NS
        .iter()
        .any(|r| r.state.load(Ordering::Acquire) == NS_LIVE && r.ino.load(Ordering::Acquire) == ns)
    {
        return;
    }
    let Some(rec) = NS.iter().find(|r| {
        r.state
            .compare_exchange(NS_FREE, NS_CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }) else {
        say(Level::Warn, |l| {
            l.str("events: more than ")
                .dec(MAX_NS as i64)
                .str(" network namespaces with subscribers; namespace ")
                .dec(ns as i64)
                .str(" gets no events");
        });
        return;
    };
    let fd = sys(
        k,
        nr::SOCKET,
        [
            abi::AF_NETLINK as usize,
            abi::SOCK_RAW_CLOEXEC,
            abi::NETLINK_ROUTE as usize,
            0,
            0,
            0,
        ],
    );
    if fd < 0 {
        rec.state.store(NS_FREE, Ordering::Release);
        say(Level::Warn, |l| {
            l.str("events: cannot open a netlink socket for namespace ")
                .dec(ns as i64)
                .str(": ")
                .result(fd);
        });
        return;
    }
    // A dump that never ends must not stop the monitor for good.
    let tv: [i64; 2] = [1, 0];
    sys(
        k,
        nr::SETSOCKOPT,
        [
            fd as usize,
            abi::SOL_SOCKET as usize,
            abi::SO_RCVTIMEO as usize,
            tv.as_ptr() as usize,
            16,
            0,
        ],
    );
    rec.fd.store(fd as i32, Ordering::Release);
    rec.ino.store(ns, Ordering::Release);
    rec.state.store(NS_LIVE, Ordering::Release);
    say(Level::Debug, |l| {
        l.str("events: watching network namespace ")
            .dec(ns as i64)
            .str(" (dump socket fd ")
            .dec(fd as i64)
            .str(")");
    });
}

/// Starts the monitor thread unless it runs in this process.
fn ensure_thread<K: Kernel>(k: &K) {
    let pid = getpid(k);
    if OWNER.load(Ordering::Acquire) == pid {
        return;
    }
    if SPAWNING.swap(true, Ordering::AcqRel) {
        return;
    }
    if OWNER.load(Ordering::Acquire) != pid {
        match spawn(k) {
            Ok(tid) => {
                OWNER.store(pid, Ordering::Release);
                say(Level::Info, |l| {
                    l.str("events: monitor thread ")
                        .dec(tid as i64)
                        .str(" started (every ")
                        .dec(INTERVAL.load(Ordering::Relaxed))
                        .str(" ms while sockets are subscribed)");
                });
            }
            Err(e) => say(Level::Warn, |l| {
                l.str("events: cannot start the monitor thread: ")
                    .result(e)
                    .str("; subscribers get no events");
            }),
        }
    }
    SPAWNING.store(false, Ordering::Release);
}

fn spawn<K: Kernel>(k: &K) -> Result<isize, isize> {
    let stack = mmap(k, STACK).ok_or(-(abi::errno::ENOMEM as isize))?;
    let top = (stack as usize + STACK) & !15;
    let all: u64 = !0;
    let mut old: u64 = 0;
    // Block every signal across the clone: the new thread starts with this mask and keeps it.
    sys(
        k,
        nr::RT_SIGPROCMASK,
        [
            2, // SIG_SETMASK
            &all as *const u64 as usize,
            &mut old as *mut u64 as usize,
            8,
            0,
            0,
        ],
    );
    // SAFETY: `top` is the 16-aligned end of a fresh private mapping used by nothing else; the
    // child runs `monitor_main`, which never returns and uses only this crate's code.
    let r = unsafe { clone_thread(top, monitor_main) };
    sys(
        k,
        nr::RT_SIGPROCMASK,
        [2, &old as *const u64 as usize, 0, 8, 0, 0],
    );
    if r < 0 {
        munmap(k, stack, STACK);
        return Err(r);
    }
    Ok(r)
}

/// `clone` for a thread that starts in `entry` on the stack ending at `top`.
///
/// # Safety
/// `top` must be the 16-byte aligned top of a stack nobody else uses, and `entry` must never
/// return.
#[cfg(target_arch = "x86_64")]
unsafe fn clone_thread(top: usize, entry: extern "C" fn() -> !) -> isize {
    // CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM.
    const FLAGS: usize = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000;
    let ret: isize;
    // SAFETY: the parent returns from `syscall` with rax = tid (or -errno), clobbering only
    // rcx and r11. The child returns with rax = 0 on the new stack (rsp = top, 16-aligned, so
    // `call` leaves the ABI's alignment for `entry`) and never comes back here (ud2).
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "call r12",
            "ud2",
            "2:",
            inlateout("rax") nr::CLONE as isize => ret,
            in("rdi") FLAGS,
            in("rsi") top,
            in("rdx") 0usize,
            in("r10") 0usize,
            in("r8") 0usize,
            in("r12") entry as usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Per-namespace state the monitor keeps on its own stack.
struct Watched {
    ino: u64,
    mem: *mut u8,
    views: [View<'static>; 4],
    /// Kinds dumped in the last cycle (bit per `Kind::ALL` index).
    loaded: u8,
    /// Kinds whose dump this namespace's kernel refuses (gVisor: neighbours, EOPNOTSUPP).
    refused: u8,
}

extern "C" fn monitor_main() -> ! {
    let k = RawKernel;
    let mut watched: [Option<Watched>; MAX_NS] = [const { None }; MAX_NS];
    let dump = mmap(&k, DUMP_BUF);
    let Some(dump) = dump else {
        say(Level::Warn, |l| {
            l.str("events: no memory for dumps; monitor stops");
        });
        OWNER.store(0, Ordering::Release);
        loop {
            sys(&k, nr::EXIT, [0; 6]);
        }
    };
    // SAFETY: a fresh private mapping of DUMP_BUF bytes, used by this thread alone for ever.
    let dump: &mut [u8] = unsafe { core::slice::from_raw_parts_mut(dump, DUMP_BUF) };
    let mut seq: u32 = 1;
    let mut quiet: u32 = 0;
    let mut last = kick_futex().0.load(Ordering::Acquire);
    loop {
        let (word, waiting, private) = kick_futex();
        let w = word.load(Ordering::Acquire);
        if w != last {
            // Kicked: a change was just made somewhere.
            quiet = 0;
            last = w;
        }
        let want = Wanted::of(&TABLE);
        let ms = if want.any() {
            let c = STARTED.fetch_add(1, Ordering::AcqRel) + 1;
            if cycle(&k, &TABLE, &mut watched, dump, &mut seq, c) {
                quiet = 0;
            } else {
                quiet = quiet.saturating_add(1);
            }
            DONE.store(c as u32, Ordering::Release);
            futex_wake(&DONE);
            next_wait(
                INTERVAL.load(Ordering::Relaxed),
                IDLE.load(Ordering::Relaxed),
                quiet,
            )
        } else {
            sweep_closed(&k, &TABLE);
            release_unused(&k, &mut watched, &Wanted::of(&TABLE));
            None
        };
        waiting.fetch_add(1, Ordering::AcqRel);
        futex_wait_op(word, FUTEX_WAIT | private, w, ms);
        waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether the socket of slot `s` is still open somewhere in the process; updates its fd hint.
fn alive<K: Kernel>(k: &K, s: &Slot, ino: u64) -> bool {
    let fd = s.fd();
    if fd >= 0 && inode(k, fd as usize) == Ok(ino) {
        return true;
    }
    match find_fd(k, ino) {
        Some(fd) => {
            s.seen_at(fd);
            true
        }
        None => false,
    }
}

/// Looks through /proc/self/fd for a descriptor of inode `ino` (`Some(-1)`: /proc/self/fd
/// cannot be read).
pub(crate) fn find_fd<K: Kernel>(k: &K, ino: u64) -> Option<i32> {
    let mut found = None;
    let opened = dir_entries(k, b"/proc/self/fd\0", &mut |name, dir| {
        let mut fd: i64 = 0;
        let mut digits = 0;
        for &b in name {
            if b.is_ascii_digit() {
                fd = fd * 10 + (b - b'0') as i64;
                digits += 1;
            } else {
                return true;
            }
        }
        if digits > 0 && fd != dir as i64 && inode(k, fd as usize) == Ok(ino) {
            found = Some(fd as i32);
            return false;
        }
        true
    });
    if !opened {
        // Cannot tell: assume it lives.
        return Some(-1);
    }
    found
}

/// Drops the records of sockets that were closed, and gives their rings back.
fn sweep_closed<K: Kernel>(k: &K, t: &Table) {
    for s in t.slots() {
        let ino = s.ino();
        if ino == 0 || s.ev.ns() == 0 {
            continue;
        }
        if !alive(k, s, ino) {
            if let Some(r) = s.ev.lock() {
                r.clear();
            }
            if t.release(s, ino) {
                say(Level::Debug, |l| {
                    l.str("events: socket inode ")
                        .dec(ino as i64)
                        .str(" was closed; its subscription is gone");
                });
            }
        }
    }
}

/// Groups wanted per namespace, from one pass over the table.
struct Wanted {
    by_ns: [(u64, u64); MAX_NS],
}

impl Wanted {
    fn of(t: &Table) -> Self {
        let mut w = Wanted {
            by_ns: [(0, 0); MAX_NS],
        };
        if t.is_empty() {
            return w;
        }
        for s in t.slots() {
            let ns = s.ev.ns();
            if ns == 0 || s.ino() == 0 {
                continue;
            }
            let g = s.groups();
            if let Some(e) = w.by_ns.iter_mut().find(|e| e.0 == ns || e.0 == 0) {
                e.0 = ns;
                e.1 |= g;
            }
        }
        w
    }

    fn groups(&self, ns: u64) -> u64 {
        self.by_ns.iter().find(|e| e.0 == ns).map_or(0, |e| e.1)
    }

    fn any(&self) -> bool {
        self.by_ns.iter().any(|e| e.1 != 0)
    }
}

fn release_unused<K: Kernel>(k: &K, watched: &mut [Option<Watched>; MAX_NS], wanted: &Wanted) {
    for rec in &NS {
        if rec.state.load(Ordering::Acquire) != NS_LIVE {
            continue;
        }
        let ino = rec.ino.load(Ordering::Acquire);
        if wanted.groups(ino) != 0 {
            continue;
        }
        // Hide the record first, so a new subscriber opens a fresh one, then close.
        if rec
            .state
            .compare_exchange(NS_LIVE, NS_CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        let fd = rec.fd.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            sys(k, nr::CLOSE, [fd as usize, 0, 0, 0, 0, 0]);
        }
        rec.ino.store(0, Ordering::Release);
        rec.state.store(NS_FREE, Ordering::Release);
        say(Level::Debug, |l| {
            l.str("events: namespace ")
                .dec(ino as i64)
                .str(" has no subscribers left; stopped watching it");
        });
    }
    for w in watched.iter_mut() {
        let gone = w.as_ref().is_some_and(|w| {
            !NS.iter().any(|r| {
                r.state.load(Ordering::Acquire) == NS_LIVE && r.ino.load(Ordering::Acquire) == w.ino
            })
        });
        if gone {
            if let Some(w) = w.take() {
                munmap(k, w.mem, STORE * 4);
            }
        }
    }
}

/// Errors that say a dump of this kind is not supported at all (rather than failed this time).
fn refusal(e: isize) -> bool {
    use crate::abi::errno::{EINVAL, EOPNOTSUPP};
    e == -(EOPNOTSUPP as isize) || e == -(EINVAL as isize) || e == -(abi::errno::ENOSYS as isize)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Link => "link",
        Kind::Addr => "address",
        Kind::Route => "route",
        Kind::Neigh => "neighbour",
    }
}

fn kind_index(kind: Kind) -> usize {
    match kind {
        Kind::Link => 0,
        Kind::Addr => 1,
        Kind::Route => 2,
        Kind::Neigh => 3,
    }
}

fn watched_for<'w, K: Kernel>(
    k: &K,
    watched: &'w mut [Option<Watched>; MAX_NS],
    ino: u64,
) -> Option<&'w mut Watched> {
    let i = match watched
        .iter()
        .position(|w| w.as_ref().is_some_and(|w| w.ino == ino))
    {
        Some(i) => i,
        None => {
            let i = watched.iter().position(|w| w.is_none())?;
            let mem = mmap(k, STORE * 4)?;
            // SAFETY: four disjoint STORE-byte pieces of a fresh private mapping, owned by this
            // entry until it is unmapped in release_unused (after the views are dropped).
            let part =
                |n: usize| unsafe { core::slice::from_raw_parts_mut(mem.add(n * STORE), STORE) };
            watched[i] = Some(Watched {
                ino,
                mem,
                views: [
                    View::new(Kind::Link, part(0)),
                    View::new(Kind::Addr, part(1)),
                    View::new(Kind::Route, part(2)),
                    View::new(Kind::Neigh, part(3)),
                ],
                loaded: 0,
                refused: 0,
            });
            i
        }
    };
    watched[i].as_mut()
}

/// One pass: forget closed sockets, then dump and diff every watched namespace. Returns whether
/// it found any change.
fn cycle<K: Kernel>(
    k: &K,
    t: &Table,
    watched: &mut [Option<Watched>; MAX_NS],
    dump: &mut [u8],
    seq: &mut u32,
    c: u64,
) -> bool {
    let mut changed = false;
    // Closed sockets are looked for every SWEEP_EVERY cycles (an fstat per subscriber each).
    if c % SWEEP_EVERY == 0 {
        sweep_closed(k, t);
    }
    let want = Wanted::of(t);
    release_unused(k, watched, &want);
    for rec in &NS {
        if rec.state.load(Ordering::Acquire) != NS_LIVE {
            continue;
        }
        let ns = rec.ino.load(Ordering::Acquire);
        let fd = rec.fd.load(Ordering::Acquire);
        let groups = want.groups(ns);
        if groups == 0 || fd < 0 {
            continue;
        }
        let Some(w) = watched_for(k, watched, ns) else {
            continue;
        };
        let mut loaded = 0u8;
        let mut failed = false;
        for kind in Kind::ALL {
            let i = kind_index(kind);
            if kind.groups() & groups == 0 || w.refused & (1 << i) != 0 {
                continue;
            }
            let mut r = Err(());
            // A dump the kernel marks interrupted (NLM_F_DUMP_INTR) is taken again, and so is
            // one it refuses: only a refusal seen twice in a row, on a drained socket, means
            // this kernel has no such objects (a busy or half-read socket must not silence a
            // kind for good).
            for attempt in 0..3 {
                *seq = seq.wrapping_add(1);
                r = match dump_kind(k, fd as usize, kind, *seq, dump) {
                    Ok(n) => match w.views[i].load(&dump[..n]) {
                        Err(crate::rtnl::Error::Interrupted) => continue,
                        other => other.map_err(|_| ()),
                    },
                    Err(e) if refusal(e) && attempt == 0 => {
                        drain(k, fd as usize, dump);
                        continue;
                    }
                    Err(e) if refusal(e) => {
                        // Not a lost event: this kernel has no such objects to report.
                        w.refused |= 1 << i;
                        say(Level::Info, |l| {
                            l.str("events: the kernel refuses ")
                                .str(kind_name(kind))
                                .str(" dumps in namespace ")
                                .dec(ns as i64)
                                .str(" (")
                                .result(e)
                                .str("): no ")
                                .str(kind_name(kind))
                                .str(" events there");
                        });
                        Ok(())
                    }
                    Err(_) => {
                        // What is left of a dump that failed half-way must not be read as
                        // part of the next one.
                        drain(k, fd as usize, dump);
                        Err(())
                    }
                };
                break;
            }
            if w.refused & (1 << i) != 0 {
                continue;
            }
            if r.is_ok() {
                loaded |= 1 << i;
            } else {
                failed = true;
            }
        }
        if failed {
            // Events may have been lost: tell the subscribers as Linux does when it drops.
            for s in t.slots() {
                if s.ino() != 0 && s.ev.ns() == ns && s.groups() != 0 {
                    s.ev.set(OVERRUN);
                }
            }
            say(Level::Warn, |l| {
                l.str("events: a dump in namespace ")
                    .dec(ns as i64)
                    .str(" failed; subscribers get ENOBUFS");
            });
        }
        let mut emit = |e: &Event<'_>| {
            changed = true;
            deliver(k, t, ns, c, e)
        };
        for kind in [Kind::Route, Kind::Neigh, Kind::Addr, Kind::Link] {
            let i = kind_index(kind);
            if loaded & (1 << i) != 0 && w.views[i].primed() {
                w.views[i].removed(&mut emit);
            }
        }
        for kind in [Kind::Link, Kind::Addr, Kind::Route, Kind::Neigh] {
            let i = kind_index(kind);
            if loaded & (1 << i) != 0 && w.views[i].primed() {
                w.views[i].added_or_changed(&mut emit);
            }
        }
        for kind in Kind::ALL {
            let i = kind_index(kind);
            if loaded & (1 << i) != 0 {
                w.views[i].commit();
            } else if w.loaded & (1 << i) != 0 {
                // Nobody wants this kind any more: start from a fresh baseline next time.
                w.views[i].reset();
            }
        }
        w.loaded = loaded;
    }
    for s in t.slots() {
        let ino = s.ino();
        if ino != 0 && s.ev.ns() != 0 && s.ev.queued() > 0 {
            let fd = s.fd();
            if fd >= 0 && inode(k, fd as usize) == Ok(ino) {
                recv::ensure_bell(k, &s.ev, fd as usize);
            }
        }
    }
    changed
}

/// Queues one event for every subscriber in `ns` that joined its group before cycle `c`.
fn deliver<K: Kernel>(k: &K, t: &Table, ns: u64, c: u64, e: &Event<'_>) {
    let bit = if (1..=64).contains(&e.group) {
        1u64 << (e.group - 1)
    } else {
        return;
    };
    let mut hdr = [0u8; abi::NLMSG_HDRLEN];
    hdr[0..4].copy_from_slice(&((abi::NLMSG_HDRLEN + e.body.len()) as u32).to_ne_bytes());
    hdr[4..6].copy_from_slice(&e.msg_type.to_ne_bytes());
    for s in t.slots() {
        if s.ino() != 0 && s.ev.ns() == ns && s.groups() & bit != 0 && c > s.ev.since() {
            if !s.ev.has_ring() {
                let size = EventState::ring_size_for(s.ev.limit());
                match mmap(k, size) {
                    // SAFETY: a fresh private mapping of `size` bytes, page-aligned, never
                    // unmapped, handed to this slot's ring alone (only the monitor installs).
                    Some(mem) => unsafe { s.ev.install_ring(mem, size) },
                    None => {
                        s.ev.set(OVERRUN);
                        continue;
                    }
                }
            }
            push_traced(&s.ev, e.group, &hdr, e.body);
        }
    }
}

fn push_traced(ev: &EventState, group: u32, hdr: &[u8], body: &[u8]) {
    let was = ev.has(OVERRUN);
    if !ev.push(group, hdr, body) && !was && trace::enabled(Level::Info) {
        say(Level::Info, |l| {
            l.str("events: a subscriber's queue is full (")
                .dec(ev.queued() as i64)
                .str(" bytes); events dropped, it gets ENOBUFS");
        });
    }
}

/// Reads and drops whatever waits on the dump socket `fd` (at most 4096 datagrams).
fn drain<K: Kernel>(k: &K, fd: usize, buf: &mut [u8]) {
    for _ in 0..4096 {
        let n = sys(
            k,
            nr::RECVFROM,
            [
                fd,
                buf.as_mut_ptr() as usize,
                buf.len(),
                abi::MSG_DONTWAIT,
                0,
                0,
            ],
        );
        if n < 0 && n != -(abi::errno::ENOBUFS as isize) {
            return;
        }
    }
}

/// Dumps one kind into `buf`; returns the bytes of all answer datagrams up to NLMSG_DONE.
fn dump_kind<K: Kernel>(
    k: &K,
    fd: usize,
    kind: Kind,
    seq: u32,
    buf: &mut [u8],
) -> Result<usize, isize> {
    let mut req = [0u8; 32];
    let body = match kind {
        Kind::Link => 16,
        Kind::Addr => 8,
        Kind::Route | Kind::Neigh => 12,
    };
    let len = abi::NLMSG_HDRLEN + body;
    req[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&kind.get_type().to_ne_bytes());
    req[6..8].copy_from_slice(&(abi::NLM_F_REQUEST | abi::NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&seq.to_ne_bytes());
    req[16] = kind.dump_family();
    let to = recv::kernel_addr(0);
    let r = sys(
        k,
        nr::SENDTO,
        [
            fd,
            req.as_ptr() as usize,
            len,
            0,
            to.as_ptr() as usize,
            to.len(),
        ],
    );
    if r < 0 {
        return Err(r);
    }
    let mut used = 0usize;
    loop {
        if used + 16 > buf.len() {
            return Err(-(abi::errno::ENOBUFS as isize));
        }
        let room = &mut buf[used..];
        let n = sys(
            k,
            nr::RECVFROM,
            [fd, room.as_mut_ptr() as usize, room.len(), 0, 0, 0],
        );
        if n < 0 {
            return Err(n);
        }
        let n = n as usize;
        if n > room.len() {
            return Err(-(abi::errno::ENOBUFS as isize));
        }
        // A datagram of an earlier dump (one that failed half-way) is dropped, not kept.
        if n >= abi::NLMSG_HDRLEN {
            let s = u32::from_ne_bytes([room[8], room[9], room[10], room[11]]);
            if s != seq {
                continue;
            }
        }
        // Look for the end of this dump in the datagram just read.
        let mut off = used;
        let end = used + n;
        let mut done = false;
        while off + abi::NLMSG_HDRLEN <= end {
            let l =
                u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
            let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            let s = u32::from_ne_bytes([buf[off + 8], buf[off + 9], buf[off + 10], buf[off + 11]]);
            if s == seq && (ty == abi::NLMSG_DONE || ty == abi::NLMSG_ERROR) {
                done = true;
                if ty == abi::NLMSG_ERROR {
                    let e = buf
                        .get(off + 16..off + 20)
                        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    if e != 0 {
                        return Err(e as isize);
                    }
                }
            }
            if l < abi::NLMSG_HDRLEN {
                break;
            }
            off += (l + 3) & !3;
        }
        used = end;
        if done {
            return Ok(used);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_stays_fast_after_a_change_then_backs_off_to_idle() {
        let waits: [Option<i64>; 26] = core::array::from_fn(|q| next_wait(10, 100, q as u32));
        assert!(waits[..FAST_CYCLES as usize].iter().all(|w| *w == Some(10)));
        let q = FAST_CYCLES as usize;
        assert_eq!(
            &waits[q..q + 5],
            &[Some(20), Some(40), Some(80), Some(100), Some(100)]
        );
        assert_eq!(next_wait(10, 100, u32::MAX), Some(100));
    }

    #[test]
    fn idle_zero_waits_for_kicks_once_quiet() {
        assert_eq!(next_wait(10, 0, FAST_CYCLES - 1), Some(10));
        assert_eq!(next_wait(10, 0, FAST_CYCLES), None);
        assert_eq!(next_wait(10, 0, u32::MAX), None);
    }

    #[test]
    fn idle_shorter_than_fast_and_bad_fast_values_are_clamped() {
        assert_eq!(next_wait(50, 20, FAST_CYCLES + 3), Some(50));
        assert_eq!(next_wait(0, 100, 0), Some(1));
        assert_eq!(next_wait(i64::MAX, 100, FAST_CYCLES + 40), Some(i64::MAX));
    }

    #[test]
    fn only_route_changes_of_reported_kinds_kick() {
        for t in [16u16, 17, 19, 20, 21, 24, 25, 28, 29] {
            assert!(is_change_request(t), "type {t}");
        }
        // GET requests, rules, qdiscs, NLMSG_* control messages.
        for t in [1u16, 2, 3, 18, 22, 26, 30, 32, 36, 44] {
            assert!(!is_change_request(t), "type {t}");
        }
    }
}
