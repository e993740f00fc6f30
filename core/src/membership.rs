//! Which multicast groups each emulated netlink socket has joined.
//!
//! A fixed table of atomics, safe to use from a signal handler on any thread: no locks, no
//! allocation. A socket is identified by its inode, as the kernel identifies it: every fd that
//! refers to it (after `dup`, or inherited) sees the same memberships, and closing one fd of
//! several changes nothing. Raw `close(2)` calls of Go programs are not trapped, so a record
//! outlives its socket; a new socket never has a dead socket's inode, and when the table is full
//! records whose last-seen fd no longer names their inode are reclaimed.

use crate::events::EventState;
use crate::kernel::{inode, net_ns, Kernel};
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// How many sockets can hold emulated memberships at once, per process.
pub const SLOTS: usize = 512;

const FREE: u64 = 0;
/// A slot one thread has taken and is still resetting: no socket's inode (sockfs counts up from
/// small numbers), never matched, never released by anyone but its claimer.
const CLAIMING: u64 = u64::MAX;
/// The socket's group bitmap exists: Linux allocates it on the first bind with groups or the
/// first ADD/DROP_MEMBERSHIP, and only from then on does LIST_MEMBERSHIPS report words.
const ALLOCATED: u32 = 1;
/// `NETLINK_GET_STRICT_CHK` is on (emulated: `crate::strictchk`).
const STRICT: u32 = 2;
/// `NETLINK_EXT_ACK` is on (emulated as accepted: `crate::strictchk`).
const EXT_ACK: u32 = 4;

/// Words a socket keeps of its pending strict dump (`rtnl::strict::FILTER_WORDS`; the
/// `strictchk` module checks the two agree).
pub const DUMP_WORDS: usize = 10;

/// What a strict socket's pending dump is ([`Slot::dump`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dump {
    /// No dump pending.
    None,
    /// A dump request went to the kernel; its replies are filtered. The words encode the
    /// filter.
    Filter(u32, [u64; DUMP_WORDS]),
    /// A dump request was refused; the words hold the answer to deliver (its length first).
    Failed([u64; DUMP_WORDS]),
}

/// One socket's record.
pub struct Slot {
    ino: AtomicU64,
    fd: AtomicI32,
    groups: AtomicU64,
    flags: AtomicU32,
    dst_group: AtomicU32,
    /// 0: no dump pending, 1: a filtered dump, 2: a refused one ([`Dump`]).
    dump_state: AtomicU32,
    dump_seq: AtomicU32,
    dump_words: [AtomicU64; DUMP_WORDS],
    /// The network namespace (nsfs inode) the socket was taken to be in when its record was
    /// made; 0: not known.
    netns: AtomicU64,
    /// The socket's queue of synthesized events.
    pub ev: EventState,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            ino: AtomicU64::new(FREE),
            fd: AtomicI32::new(-1),
            groups: AtomicU64::new(0),
            flags: AtomicU32::new(0),
            dst_group: AtomicU32::new(0),
            dump_state: AtomicU32::new(0),
            dump_seq: AtomicU32::new(0),
            dump_words: [const { AtomicU64::new(0) }; DUMP_WORDS],
            netns: AtomicU64::new(0),
            ev: EventState::new(),
        }
    }

    fn reset(&self, fd: i32) {
        self.fd.store(fd, Ordering::Release);
        self.groups.store(0, Ordering::Release);
        self.flags.store(0, Ordering::Release);
        self.dst_group.store(0, Ordering::Release);
        self.dump_state.store(0, Ordering::Release);
        self.netns.store(0, Ordering::Release);
        self.ev.reset();
    }

    /// The socket's inode (0 while the slot is free).
    pub fn ino(&self) -> u64 {
        match self.ino.load(Ordering::Acquire) {
            CLAIMING => FREE,
            ino => ino,
        }
    }

    /// The fd the socket was last seen at.
    pub fn fd(&self) -> i32 {
        self.fd.load(Ordering::Acquire)
    }

    /// Records that the socket was seen at `fd`.
    pub fn seen_at(&self, fd: i32) {
        self.fd.store(fd, Ordering::Release);
    }

    /// The socket's network namespace as recorded with [`Slot::set_netns`] (0: not known).
    pub fn netns(&self) -> u64 {
        self.netns.load(Ordering::Acquire)
    }

    /// Records the socket's network namespace (an nsfs inode) if none was recorded yet.
    pub fn set_netns(&self, ns: u64) {
        let _ = self
            .netns
            .compare_exchange(0, ns, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Group bitmap: bit `g - 1` is group `g` (groups 1..=64).
    pub fn groups(&self) -> u64 {
        self.groups.load(Ordering::Acquire)
    }

    /// Whether Linux would have allocated the socket's group bitmap by now.
    pub fn allocated(&self) -> bool {
        self.flags.load(Ordering::Acquire) & ALLOCATED != 0
    }

    /// Marks the bitmap allocated without joining anything.
    pub fn allocate(&self) {
        self.flags.fetch_or(ALLOCATED, Ordering::AcqRel);
    }

    /// Joins group `g` (1..=64).
    pub fn join(&self, g: u32) {
        self.allocate();
        self.groups.fetch_or(1u64 << (g - 1), Ordering::AcqRel);
    }

    /// Leaves group `g` (1..=64).
    pub fn leave(&self, g: u32) {
        self.allocate();
        self.groups.fetch_and(!(1u64 << (g - 1)), Ordering::AcqRel);
    }

    /// What `bind(2)` does with `nl_groups`: replaces groups 1..=32, keeps the others.
    pub fn set_low32(&self, low: u32) {
        if low != 0 {
            self.allocate();
        }
        let mut cur = self.groups.load(Ordering::Acquire);
        loop {
            let new = (cur & !0xffff_ffff) | low as u64;
            match self
                .groups
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The group a `connect(2)` with `nl_groups` made the default destination (`ffs` of them),
    /// 0 for none; `getpeername` reports it.
    pub fn dst_group(&self) -> u32 {
        self.dst_group.load(Ordering::Acquire)
    }

    /// Records the default destination group.
    pub fn set_dst_group(&self, g: u32) {
        self.dst_group.store(g, Ordering::Release);
    }

    fn set_flag(&self, flag: u32, on: bool) {
        if on {
            self.flags.fetch_or(flag, Ordering::AcqRel);
        } else {
            self.flags.fetch_and(!flag, Ordering::AcqRel);
        }
    }

    /// Whether `NETLINK_GET_STRICT_CHK` is on for the socket.
    pub fn strict(&self) -> bool {
        self.flags.load(Ordering::Acquire) & STRICT != 0
    }

    /// Turns `NETLINK_GET_STRICT_CHK` on or off.
    pub fn set_strict(&self, on: bool) {
        self.set_flag(STRICT, on);
    }

    /// Whether `NETLINK_EXT_ACK` is on for the socket.
    pub fn ext_ack(&self) -> bool {
        self.flags.load(Ordering::Acquire) & EXT_ACK != 0
    }

    /// Turns `NETLINK_EXT_ACK` on or off.
    pub fn set_ext_ack(&self, on: bool) {
        self.set_flag(EXT_ACK, on);
    }

    /// The socket's pending strict dump. One thread sends and receives on a netlink socket at
    /// a time in the programs this serves (netlink-sys, iproute2); two threads dumping on one
    /// socket at once get Linux's interleaving from the kernel but one filter here.
    pub fn dump(&self) -> Dump {
        let st = self.dump_state.load(Ordering::Acquire);
        if st == 0 {
            return Dump::None;
        }
        let mut w = [0u64; DUMP_WORDS];
        for (d, s) in w.iter_mut().zip(&self.dump_words) {
            *d = s.load(Ordering::Acquire);
        }
        match st {
            1 => Dump::Filter(self.dump_seq.load(Ordering::Acquire), w),
            _ => Dump::Failed(w),
        }
    }

    /// Records the socket's pending strict dump (replacing any).
    pub fn set_dump(&self, d: Dump) {
        self.dump_state.store(0, Ordering::Release);
        let (st, seq, w) = match d {
            Dump::None => return,
            Dump::Filter(seq, w) => (1, seq, w),
            Dump::Failed(w) => (2, 0, w),
        };
        for (d, s) in self.dump_words.iter().zip(w) {
            d.store(s, Ordering::Release);
        }
        self.dump_seq.store(seq, Ordering::Release);
        self.dump_state.store(st, Ordering::Release);
    }
}

/// The table.
pub struct Table {
    slots: [Slot; SLOTS],
    live: AtomicUsize,
    /// Slots at or beyond this index were never taken: scans stop here.
    hwm: AtomicUsize,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

impl Table {
    /// An empty table (usable in a `static`).
    pub const fn new() -> Self {
        Table {
            slots: [const { Slot::new() }; SLOTS],
            live: AtomicUsize::new(0),
            hwm: AtomicUsize::new(0),
        }
    }

    /// True when no socket holds an emulated state: the hot paths return at once.
    pub fn is_empty(&self) -> bool {
        self.live.load(Ordering::Acquire) == 0
    }

    /// Every slot that was ever taken, free ones included (their [`Slot::ino`] is 0).
    pub fn slots(&self) -> &[Slot] {
        let n = self.hwm.load(Ordering::Acquire).min(SLOTS);
        &self.slots[..n]
    }

    /// Releases the slot of inode `ino` if it still holds it.
    pub fn release(&self, s: &Slot, ino: u64) -> bool {
        if ino != FREE
            && ino != CLAIMING
            && s.ino
                .compare_exchange(ino, FREE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return true;
        }
        false
    }

    /// The record of the socket with inode `ino`, seen at `fd`.
    pub fn get(&self, fd: i32, ino: u64) -> Option<&Slot> {
        if self.is_empty() || ino == FREE {
            return None;
        }
        let s = self
            .slots()
            .iter()
            .find(|s| s.ino.load(Ordering::Acquire) == ino)?;
        s.fd.store(fd, Ordering::Release);
        Some(s)
    }

    /// The network namespace recorded for socket `fd` at gvnet's first sight of it
    /// ([`Slot::netns`]); 0: none.
    pub fn recorded_ns<K: Kernel>(&self, k: &K, fd: usize) -> u64 {
        if self.is_empty() {
            return 0;
        }
        inode(k, fd)
            .ok()
            .and_then(|ino| self.get(fd as i32, ino))
            .map_or(0, |s| s.netns())
    }

    /// The network namespace of socket `fd`: recorded at gvnet's first sight of it, else the
    /// calling thread's.
    pub fn socket_ns<K: Kernel>(&self, k: &K, fd: usize) -> u64 {
        match self.recorded_ns(k, fd) {
            0 => net_ns(k),
            ns => ns,
        }
    }

    /// The record of the socket with inode `ino`, created if needed. `None` when the table is full.
    pub fn claim(&self, fd: i32, ino: u64) -> Option<&Slot> {
        if let Some(s) = self.get(fd, ino) {
            return Some(s);
        }
        for (i, s) in self.slots.iter().enumerate() {
            // Take the slot first, then reset it: resetting a slot another thread may win
            // would wipe the winner's groups (seen in the stress test: a bind's groups lost).
            if s.ino
                .compare_exchange(FREE, CLAIMING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // Reset before publishing the inode, so no reader sees the previous owner's state.
                s.reset(fd);
                // Publish the extent before the inode, so a scan that finds it can see it.
                self.hwm.fetch_max(i + 1, Ordering::AcqRel);
                s.ino.store(ino, Ordering::Release);
                self.live.fetch_add(1, Ordering::AcqRel);
                return Some(s);
            }
        }
        None
    }

    /// Releases every record for which `is_stale(last_seen_fd, ino)` holds; returns how many.
    pub fn sweep(&self, mut is_stale: impl FnMut(i32, u64) -> bool) -> usize {
        let mut n = 0;
        for s in self.slots() {
            let ino = s.ino.load(Ordering::Acquire);
            if ino != FREE
                && ino != CLAIMING
                && is_stale(s.fd.load(Ordering::Acquire), ino)
                && s.ino
                    .compare_exchange(ino, FREE, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                self.live.fetch_sub(1, Ordering::AcqRel);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_claims_never_reset_a_slot_another_thread_won() {
        extern crate std;
        use std::sync::Barrier;
        for round in 0..200u64 {
            let t = Table::new();
            let go = Barrier::new(8);
            std::thread::scope(|sc| {
                for th in 0..8u64 {
                    let (t, go) = (&t, &go);
                    sc.spawn(move || {
                        go.wait();
                        for k in 0..16u64 {
                            let ino = 1 + round * 1000 + th * 100 + k;
                            let s = t.claim(th as i32, ino).expect("room for all");
                            s.set_low32(1 << th);
                        }
                    });
                }
            });
            for s in t.slots() {
                let ino = s.ino();
                assert_ne!(ino, FREE);
                let th = (ino - 1 - round * 1000) / 100;
                assert_eq!(s.groups(), 1 << th, "slot of inode {ino} lost its groups");
            }
            assert_eq!(t.slots().len(), 128);
        }
    }

    #[test]
    fn bind_replaces_only_the_first_32_groups() {
        let t = Table::new();
        let s = t.claim(5, 77).unwrap();
        s.join(39);
        s.set_low32(0x3);
        assert_eq!(s.groups(), (1 << 38) | 0x3);
        s.set_low32(0);
        assert_eq!(s.groups(), 1 << 38);
        assert!(s.allocated());
    }

    #[test]
    fn the_socket_not_the_fd_holds_the_groups() {
        let t = Table::new();
        t.claim(5, 77).unwrap().join(1);
        assert_eq!(
            t.get(9, 77).unwrap().groups(),
            1,
            "a dup of the socket sees its groups"
        );
        assert!(
            t.get(5, 78).is_none(),
            "another inode at the same fd is another socket"
        );
        assert_eq!(t.claim(5, 78).unwrap().groups(), 0);
    }

    #[test]
    fn strict_flags_and_the_pending_dump_are_the_sockets() {
        let t = Table::new();
        let s = t.claim(5, 77).unwrap();
        assert!(!s.strict() && !s.ext_ack() && s.dump() == Dump::None);
        s.set_strict(true);
        s.set_ext_ack(true);
        s.set_dump(Dump::Filter(9, [7; DUMP_WORDS]));
        let d = t.get(6, 77).unwrap();
        assert!(d.strict() && d.ext_ack());
        assert_eq!(d.dump(), Dump::Filter(9, [7; DUMP_WORDS]));
        s.set_strict(false);
        assert!(!s.strict() && s.ext_ack() && s.groups() == 0 && !s.allocated());
        s.set_dump(Dump::Failed([1; DUMP_WORDS]));
        assert_eq!(s.dump(), Dump::Failed([1; DUMP_WORDS]));
        s.set_dump(Dump::None);
        assert_eq!(s.dump(), Dump::None);
        // A new socket in the slot starts clean.
        assert!(t.release(s, 77));
        let n = t.claim(5, 78).unwrap();
        assert!(!n.strict() && !n.ext_ack() && n.dump() == Dump::None);
    }

    #[test]
    fn sweep_frees_slots() {
        let t = Table::new();
        assert!(t.is_empty());
        t.claim(3, 1).unwrap();
        t.claim(4, 2).unwrap();
        assert_eq!(t.sweep(|fd, _| fd == 4), 1);
        assert!(t.get(4, 2).is_none());
        assert!(t.get(3, 1).is_some());
    }

    #[test]
    fn full_table_says_so() {
        let t = Table::new();
        for i in 0..SLOTS as u64 {
            assert!(t.claim(i as i32, i + 1).is_some());
        }
        assert!(t.claim(10_000, 100_000).is_none());
        assert_eq!(t.sweep(|fd, _| fd < 10), 10);
        assert!(t.claim(10_000, 100_000).is_some());
    }
}
