//! What gvnet did in this process, counted so that another process can read it.
//!
//! One `#[repr(C)]` struct of `AtomicU64` (the process's is `state::COUNTERS`) with a magic and version header.
//! libgvnet.so exports a pointer to it under one symbol (`gvnet_counters`, in the interceptor's
//! `export` module); `gvnet counters PID` finds the library in `/proc/PID/maps`, resolves that
//! symbol from the mapped file's `.dynsym` and reads the struct with `process_vm_readv`.
//!
//! Counting is handler-safe and costs a few relaxed atomic additions: no allocation, no locks,
//! no TLS. It happens in two places only: [`Counters::record`] where an intercepted call's
//! outcome is traced (`emulate::trace_call`, both the SIGSYS handler and the libc hooks), and
//! [`Counters::forwarded`] where a libc hook hands a call straight to the real libc function.
//!
//! The layout is an ABI between the library and the `gvnet` command of the same checkout:
//! [`VERSION`] changes whenever a field moves, and a reader refuses any other version.

use crate::abi::nr;
use crate::call::{Action, Call, Outcome};
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// `b"gvnetcnt"` read as a little-endian u64: the first field of [`Counters`].
pub const MAGIC: u64 = u64::from_le_bytes(*b"gvnetcnt");
/// Layout version of [`Counters`].
pub const VERSION: u32 = 4;

/// The syscalls counted, in the order of [`Counters::calls`]; the last row is every other number.
pub const CALLS: [&str; 12] = [
    "bind",
    "connect",
    "sendto",
    "sendmsg",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "recvfrom",
    "recvmsg",
    "openat",
    "other",
];

/// Row of [`Counters::calls`] for a syscall number (`recv` counts as `recvfrom`).
pub const fn call_index(n: usize) -> usize {
    match n {
        nr::BIND => 0,
        nr::CONNECT => 1,
        nr::SENDTO => 2,
        nr::SENDMSG => 3,
        nr::SETSOCKOPT => 4,
        nr::GETSOCKOPT => 5,
        nr::GETSOCKNAME => 6,
        nr::GETPEERNAME => 7,
        nr::RECVFROM => 8,
        nr::RECVMSG => 9,
        nr::OPENAT => 10,
        _ => 11,
    }
}

/// The outcomes counted, in the order of [`Counters::actions`] (one per [`Action`] variant).
pub const ACTIONS: [&str; 22] = [
    "passed_through",
    "bound_without_groups",
    "cleared_groups",
    "connected_without_groups",
    "sent_without_groups",
    "packet_dropped",
    "joined",
    "left",
    "listed",
    "reported_groups",
    "not_remembered",
    "no_enobufs",
    "event",
    "overrun",
    "waited",
    "kicked",
    "ipv6_sysctl_answered",
    "strict_option",
    "strict_dump",
    "strict_refused",
    "dump_filtered",
    "strict_answered",
];

/// Index into [`Counters::actions`].
pub const fn action_index(a: &Action) -> usize {
    match a {
        Action::PassedThrough => 0,
        Action::BoundWithoutGroups(_) => 1,
        Action::ClearedGroups => 2,
        Action::ConnectedWithoutGroups(_) => 3,
        Action::SentWithoutGroups(_) => 4,
        Action::PacketDropped => 5,
        Action::Joined(_) => 6,
        Action::Left(_) => 7,
        Action::Listed(_) => 8,
        Action::ReportedGroups(_) => 9,
        Action::NotRemembered(_) => 10,
        Action::NoEnobufs(_) => 11,
        Action::Event(_) => 12,
        Action::Overrun => 13,
        Action::Waited => 14,
        Action::Kicked => 15,
        Action::Ipv6SysctlAnswered => 16,
        Action::StrictOption(..) => 17,
        Action::StrictDump => 18,
        Action::StrictRefused(_) => 19,
        Action::DumpFiltered(..) => 20,
        Action::StrictAnswered => 21,
    }
}

/// Values of [`Counters::engine`]: what the constructor armed in this process.
pub mod engine {
    /// The constructor has not decided yet.
    pub const UNDECIDED: u64 = 0;
    /// `GVNET_MODE=off`.
    pub const OFF: u64 = 1;
    /// The kernel accepts netlink multicast: nothing armed.
    pub const PASSIVE: u64 = 2;
    /// libc hooks only (not a `GVNET_TARGETS` program).
    pub const HOOKS: u64 = 3;
    /// libc hooks, seccomp filter and SIGSYS handler.
    pub const HOOKS_AND_TRAP: u64 = 4;
    /// A target whose raw-syscall engine could not be installed: libc hooks only.
    pub const TRAP_FAILED: u64 = 5;
    /// Not a target, and no netlink or AF_PACKET call yet: the kernel has not been asked.
    pub const WAITING: u64 = 6;

    /// A short name for a value.
    pub const fn name(v: u64) -> &'static str {
        match v {
            UNDECIDED => "undecided",
            OFF => "off",
            PASSIVE => "passive",
            HOOKS => "libc-hooks",
            HOOKS_AND_TRAP => "libc-hooks+seccomp-trap",
            TRAP_FAILED => "libc-hooks (seccomp engine failed)",
            WAITING => "waiting (decides at the first netlink call)",
            _ => "unknown",
        }
    }
}

/// Bit 63 of [`Counters::native`]: the constructor has probed the kernel (the rest of the
/// word is then `caps::Native::bits`).
pub const PROBED: u64 = 1 << 63;

/// Counts for one syscall.
#[repr(C)]
#[derive(Debug)]
pub struct CallCounts {
    /// Trapped by the seccomp filter (Go's raw syscalls).
    pub trapped: AtomicU64,
    /// Taken into the emulation by a libc hook.
    pub hooked: AtomicU64,
    /// Of those (trapped + hooked), answered by gvnet.
    pub emulated: AtomicU64,
    /// Of those, handed to the kernel unchanged after a look.
    pub passed: AtomicU64,
    /// libc hook calls sent straight to the real libc function (the rules do not name them).
    pub forwarded: AtomicU64,
}

impl CallCounts {
    const fn new() -> Self {
        CallCounts {
            trapped: AtomicU64::new(0),
            hooked: AtomicU64::new(0),
            emulated: AtomicU64::new(0),
            passed: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
        }
    }
}

/// Everything counted in one process. Field order is the ABI; see [`VERSION`].
#[repr(C)]
#[derive(Debug)]
pub struct Counters {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`VERSION`].
    pub version: u32,
    /// `size_of::<Counters>()`.
    pub size: u32,
    /// What the constructor armed: one of [`engine`].
    pub engine: AtomicU64,
    /// What the kernel does natively: [`PROBED`] | `caps::Native::bits` (0: not probed, as
    /// under `GVNET_MODE=off`).
    pub native: AtomicU64,
    /// The probed groups the kernel accepted by bind and ADD_MEMBERSHIP (bit `g - 1`), before
    /// `caps::Native::from_probes` decided whether groups are native.
    pub accepted: AtomicU64,
    /// What this process traps: `caps::Traps::bits`.
    pub traps: AtomicU64,
    /// Go syscall sites the seccomp filter names (0 without the raw-syscall engine).
    pub sites: AtomicU64,
    /// Per syscall, in the order of [`CALLS`].
    pub calls: [CallCounts; CALLS.len()],
    /// Per outcome of an intercepted call, in the order of [`ACTIONS`].
    pub actions: [AtomicU64; ACTIONS.len()],
}

impl Counters {
    /// All zero, with the header filled in.
    #[allow(clippy::new_without_default)] // a const static initialiser, not a value type
    pub const fn new() -> Self {
        #[allow(clippy::declare_interior_mutable_const)] // array initialiser only
        const ROW: CallCounts = CallCounts::new();
        #[allow(clippy::declare_interior_mutable_const)]
        const ZERO: AtomicU64 = AtomicU64::new(0);
        Counters {
            magic: MAGIC,
            version: VERSION,
            size: core::mem::size_of::<Counters>() as u32,
            engine: AtomicU64::new(engine::UNDECIDED),
            native: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            traps: AtomicU64::new(0),
            sites: AtomicU64::new(0),
            calls: [ROW; CALLS.len()],
            actions: [ZERO; ACTIONS.len()],
        }
    }

    /// Counts one intercepted call: `raw` for the SIGSYS handler, else a libc hook.
    #[inline]
    pub fn record(&self, raw: bool, c: &Call, o: &Outcome) {
        let row = &self.calls[call_index(c.nr)];
        if raw { &row.trapped } else { &row.hooked }.fetch_add(1, Relaxed);
        if matches!(o.action, Action::PassedThrough | Action::Kicked) {
            &row.passed
        } else {
            &row.emulated
        }
        .fetch_add(1, Relaxed);
        self.actions[action_index(&o.action)].fetch_add(1, Relaxed);
    }

    /// Counts one libc hook call handed straight to libc (`n`: the syscall number it stands for).
    #[inline]
    pub fn forwarded(&self, n: usize) {
        self.calls[call_index(n)].forwarded.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    /// The layout `gvnet counters` reads (cli/src/counters.rs decodes these offsets).
    #[test]
    fn layout_is_the_documented_abi() {
        assert_eq!(offset_of!(Counters, magic), 0);
        assert_eq!(offset_of!(Counters, version), 8);
        assert_eq!(offset_of!(Counters, size), 12);
        assert_eq!(offset_of!(Counters, engine), 16);
        assert_eq!(offset_of!(Counters, native), 24);
        assert_eq!(offset_of!(Counters, accepted), 32);
        assert_eq!(offset_of!(Counters, traps), 40);
        assert_eq!(offset_of!(Counters, sites), 48);
        assert_eq!(offset_of!(Counters, calls), 56);
        assert_eq!(size_of::<CallCounts>(), 40);
        assert_eq!(offset_of!(CallCounts, trapped), 0);
        assert_eq!(offset_of!(CallCounts, hooked), 8);
        assert_eq!(offset_of!(CallCounts, emulated), 16);
        assert_eq!(offset_of!(CallCounts, passed), 24);
        assert_eq!(offset_of!(CallCounts, forwarded), 32);
        assert_eq!(offset_of!(Counters, actions), 56 + 12 * 40);
        assert_eq!(size_of::<Counters>(), 56 + 12 * 40 + 22 * 8);
        assert_eq!(Counters::new().size as usize, size_of::<Counters>());
        assert_eq!(&MAGIC.to_le_bytes(), b"gvnetcnt");
        // Every byte is a plain little-endian u64 or u32: no padding a reader could misplace.
        assert_eq!(size_of::<Counters>() % 8, 0);
    }

    #[test]
    fn every_action_has_its_own_row() {
        let all = [
            Action::PassedThrough,
            Action::BoundWithoutGroups(1),
            Action::ClearedGroups,
            Action::ConnectedWithoutGroups(1),
            Action::SentWithoutGroups(1),
            Action::PacketDropped,
            Action::Joined(1),
            Action::Left(1),
            Action::Listed(1),
            Action::ReportedGroups(1),
            Action::NotRemembered(1),
            Action::NoEnobufs(true),
            Action::Event(1),
            Action::Overrun,
            Action::Waited,
            Action::Kicked,
            Action::Ipv6SysctlAnswered,
            Action::StrictOption(12, true),
            Action::StrictDump,
            Action::StrictRefused(22),
            Action::DumpFiltered(1, 2),
            Action::StrictAnswered,
        ];
        let mut seen = [false; ACTIONS.len()];
        for a in &all {
            seen[action_index(a)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn record_counts_by_path_and_outcome() {
        let c = Counters::new();
        let call = |n| Call {
            nr: n,
            args: [0; 6],
        };
        let out = |a| Outcome {
            ret: 0,
            action: a,
            addr: None,
        };
        c.record(true, &call(nr::BIND), &out(Action::BoundWithoutGroups(1)));
        c.record(false, &call(nr::BIND), &out(Action::PassedThrough));
        c.record(false, &call(nr::SENDTO), &out(Action::PacketDropped));
        c.forwarded(nr::SENDTO);
        c.forwarded(nr::SOCKET);
        let get = |a: &AtomicU64| a.load(Relaxed);
        let bind = &c.calls[call_index(nr::BIND)];
        assert_eq!(
            [
                get(&bind.trapped),
                get(&bind.hooked),
                get(&bind.emulated),
                get(&bind.passed),
                get(&bind.forwarded)
            ],
            [1, 1, 1, 1, 0]
        );
        let send = &c.calls[call_index(nr::SENDTO)];
        assert_eq!((get(&send.hooked), get(&send.emulated)), (1, 1));
        assert_eq!(get(&send.forwarded), 1);
        assert_eq!(get(&c.calls[CALLS.len() - 1].forwarded), 1);
        assert_eq!(get(&c.actions[0]), 1);
        assert_eq!(get(&c.actions[1]), 1);
        assert_eq!(get(&c.actions[5]), 1);
    }
}
