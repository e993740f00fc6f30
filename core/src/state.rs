//! Every process-wide static the modules of gvnet-core share, in one place.
//!
//! The constructor writes the settings here once before it arms anything; the SIGSYS handler,
//! the libc hooks and the monitor thread read and update the rest. Each is an atomic or a
//! fixed table of atomics (no lock, no `static mut`), and each lives here rather than in the
//! module that uses it most, so that every module can be read bottom-up: the state sits below
//! the emulation and the entry points and above the types it is made of (docs/design.md,
//! *Layers*; `core/tests/layers.rs` fails when a `pub static` is declared anywhere else).
//!
//! What stays private to one module, reached only through that module's functions: the trace
//! writer's level and destination (`trace`), the pid cache and the direct-copy fallback
//! (`kernel`), and the monitor's handshake between a subscriber and its thread (cycle numbers,
//! owner, namespace records: `monitor`).

use crate::caps::{Native, Traps};
use crate::counters::Counters;
use crate::filter::Staged;
use crate::membership::Table;
use crate::veth::Pairs;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicU8};
use core::sync::atomic::{AtomicUsize, Ordering};

// --- Memberships, counters, capabilities ---

/// Emulated memberships of this process, shared by the SIGSYS handler, the libc hooks and the
/// monitor thread.
pub static TABLE: Table = Table::new();

/// The veth pairs this process created, for the `IFLA_LINK` the kernel leaves out
/// (`crate::vethpeer`; libc hooks only).
pub static VETH_PAIRS: Pairs = Pairs::new();

/// This process's counters (`gvnet counters PID` reads them through the `gvnet_counters`
/// symbol).
pub static COUNTERS: Counters = Counters::new();

/// What this process's kernel does natively ([`Native::bits`]); written by the constructor.
///
/// Written once before any hook or trap can run and read by the handler: a plain atomic, no
/// lock. Its initial value, nothing native, is what `GVNET_MODE=force` keeps (everything
/// emulated, as the Linux tests expect).
pub static NATIVE: AtomicU64 = AtomicU64::new(0);

/// What the kernel does natively, as the constructor found it ([`Native::NONE`] before, and
/// under `GVNET_MODE=force`).
#[inline]
pub fn native() -> Native {
    Native::from_bits(NATIVE.load(Ordering::Acquire))
}

/// Records what the kernel does natively. Called by the constructor before it arms any hook.
pub fn set_native(n: Native) {
    NATIVE.store(n.bits(), Ordering::Release);
}

/// What this process traps ([`Traps::bits`]); written by the constructor with [`NATIVE`].
pub static TRAPS: AtomicU8 = AtomicU8::new(0);

/// The calls this process's hooks and filter take into the emulation ([`Traps::NONE`] until
/// the constructor arms them).
#[inline]
pub fn traps() -> Traps {
    Traps::from_bits(TRAPS.load(Ordering::Acquire))
}

/// Records what this process traps. Called by the constructor before it arms any hook.
pub fn set_traps(t: Traps) {
    TRAPS.store(t.bits(), Ordering::Release);
}

/// Some socket of this process turned `NETLINK_GET_STRICT_CHK` or `NETLINK_EXT_ACK` on under
/// the emulation (`strictchk`): until then the send and receive hooks look at no socket for
/// it. Never cleared (a socket's close is not seen).
pub static STRICT_SEEN: AtomicBool = AtomicBool::new(false);

// --- The staged filter layers ---

/// The late layer of this process (empty unless the engine staged it); installed at the first
/// trap of the base layer.
pub static LATE_LAYER: Staged = Staged::new(
    "late filter layer (the late calls of the decision line, from the Go site)",
    "these calls reach the kernel unemulated",
);

/// The receive layer of this process (empty unless the engine staged it); installed at the
/// first subscription.
pub static RECV_LAYER: Staged = Staged::new(
    "events: receive filter layer (recvfrom, recvmsg from the Go site)",
    "Go subscribers get no events",
);

// --- The program's SIGSYS disposition ---

/// The SIGSYS disposition the program believes it has installed.
pub struct ProgramAction {
    handler: AtomicUsize,
    flags: AtomicU64,
    mask: AtomicU64,
}

/// What the program asked for with `sigaction(SIGSYS, ...)`: recorded by the exported
/// `sigaction`, used by the SIGSYS handler for a SIGSYS that is not gvnet's.
pub static PROGRAM: ProgramAction = ProgramAction {
    handler: AtomicUsize::new(crate::abi::SIG_DFL),
    flags: AtomicU64::new(0),
    mask: AtomicU64::new(0),
};

impl ProgramAction {
    /// Records a new disposition: handler (or SIG_DFL/SIG_IGN), `sa_flags`, and the first 64
    /// signals of `sa_mask` (all the kernel has).
    pub fn set(&self, handler: usize, flags: u64, mask: u64) {
        self.mask.store(mask, Ordering::Release);
        self.flags.store(flags, Ordering::Release);
        self.handler.store(handler, Ordering::Release);
    }

    /// The recorded disposition: (handler, flags, mask).
    pub fn get(&self) -> (usize, u64, u64) {
        (
            self.handler.load(Ordering::Acquire),
            self.flags.load(Ordering::Acquire),
            self.mask.load(Ordering::Acquire),
        )
    }
}

// --- Event settings and the kick page ---

/// Event delivery is on (set by the library's constructor; off in unit tests and with
/// `GVNET_EVENTS=off`).
pub static ENABLED: AtomicBool = AtomicBool::new(false);
/// Default time between two dumps right after a change.
pub const INTERVAL_MS: i64 = 10;
/// Time between two dumps right after a change (`GVNET_EVENT_INTERVAL_MS`).
pub static INTERVAL: AtomicI64 = AtomicI64::new(INTERVAL_MS);
/// Default longest time between two dumps while nothing changes.
pub const IDLE_MS: i64 = 200;
/// Longest time between two dumps while nothing changes; 0: none, only kicks wake the monitor
/// (`GVNET_EVENT_IDLE_MS`).
pub static IDLE: AtomicI64 = AtomicI64::new(IDLE_MS);

/// The kick word and the number of monitors waiting on it: in this process's own memory until
/// [`set_kick_page`] points [`KICK`] at a page shared with the other gvnet processes.
static LOCAL_KICK: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
/// The kick page in use (null: [`LOCAL_KICK`]).
static KICK: AtomicPtr<AtomicU32> = AtomicPtr::new(core::ptr::null_mut());
/// Whether [`KICK`] is shared between processes (futex without FUTEX_PRIVATE_FLAG).
static KICK_SHARED: AtomicBool = AtomicBool::new(false);

/// Makes the monitor use the two words at `page` (kick counter, waiting monitors) instead of
/// its own: a page mapped `MAP_SHARED` from a file every gvnet process of the sandbox maps, so
/// that a change request sent by one wakes the monitors of all. `shared` says whether other
/// processes map it (futex without FUTEX_PRIVATE_FLAG).
///
/// # Safety
/// `page` is 4-byte aligned, readable and writable for 8 bytes, and stays mapped for the rest
/// of the process's life. Called once, before any subscription (from the constructor).
pub unsafe fn set_kick_page(page: *mut u32, shared: bool) {
    KICK_SHARED.store(shared, Ordering::Release);
    KICK.store(page.cast(), Ordering::Release);
}

/// Whether [`set_kick_page`] has given this process a kick page.
pub fn has_kick_page() -> bool {
    !KICK.load(Ordering::Relaxed).is_null()
}

/// The kick word, the count of monitors waiting on it, and whether other processes share them.
pub fn kick_words() -> (&'static AtomicU32, &'static AtomicU32, bool) {
    let p = KICK.load(Ordering::Acquire);
    if p.is_null() {
        return (&LOCAL_KICK[0], &LOCAL_KICK[1], false);
    }
    // SAFETY: set_kick_page's contract: `p` points to two u32 words in memory that stays
    // mapped for the life of the process.
    unsafe { (&*p, &*p.add(1), KICK_SHARED.load(Ordering::Acquire)) }
}
