//! Which multicast groups each emulated netlink socket has joined.
//!
//! A fixed table of atomics, safe to use from a signal handler on any thread: no locks, no
//! allocation. A socket is identified by its fd *and* its inode, because raw `close(2)` calls of Go
//! programs are not trapped: an entry whose fd now names another file is stale and is reclaimed.

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// How many sockets can hold emulated memberships at once, per process.
pub const SLOTS: usize = 512;

const FREE: i32 = -1;
/// The socket's group bitmap exists: Linux allocates it on the first bind with groups or the
/// first ADD/DROP_MEMBERSHIP, and only from then on does LIST_MEMBERSHIPS report words.
const ALLOCATED: u32 = 1;

/// One socket's record.
pub struct Slot {
    fd: AtomicI32,
    ino: AtomicU64,
    groups: AtomicU64,
    flags: AtomicU32,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            fd: AtomicI32::new(FREE),
            ino: AtomicU64::new(0),
            groups: AtomicU64::new(0),
            flags: AtomicU32::new(0),
        }
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
}

/// The table.
pub struct Table {
    slots: [Slot; SLOTS],
    live: AtomicUsize,
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
        }
    }

    /// True when no socket holds an emulated membership: the hot paths return at once.
    pub fn is_empty(&self) -> bool {
        self.live.load(Ordering::Acquire) == 0
    }

    /// The record of `fd` if one exists, whatever its inode (callers check it with [`Self::get`]).
    pub fn by_fd(&self, fd: i32) -> Option<&Slot> {
        if self.is_empty() {
            return None;
        }
        self.slots
            .iter()
            .find(|s| s.fd.load(Ordering::Acquire) == fd)
    }

    /// The record of the socket (`fd`, `ino`), if it has one.
    pub fn get(&self, fd: i32, ino: u64) -> Option<&Slot> {
        self.by_fd(fd)
            .filter(|s| s.ino.load(Ordering::Acquire) == ino)
    }

    /// The record of (`fd`, `ino`), created if needed. A record of the same fd with another inode
    /// is stale (the fd was closed and reused) and is reset. `None` when the table is full.
    pub fn claim(&self, fd: i32, ino: u64) -> Option<&Slot> {
        if let Some(s) = self.by_fd(fd) {
            if s.ino.swap(ino, Ordering::AcqRel) != ino {
                s.groups.store(0, Ordering::Release);
                s.flags.store(0, Ordering::Release);
            }
            return Some(s);
        }
        for s in &self.slots {
            if s.fd
                .compare_exchange(FREE, fd, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                s.ino.store(ino, Ordering::Release);
                s.groups.store(0, Ordering::Release);
                s.flags.store(0, Ordering::Release);
                self.live.fetch_add(1, Ordering::AcqRel);
                return Some(s);
            }
        }
        None
    }

    /// Forgets `fd` (its socket was closed).
    pub fn release(&self, fd: i32) {
        if let Some(s) = self.by_fd(fd) {
            if s.fd
                .compare_exchange(fd, FREE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.live.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Releases every record for which `is_stale(fd, ino)` holds; returns how many.
    pub fn sweep(&self, mut is_stale: impl FnMut(i32, u64) -> bool) -> usize {
        let mut n = 0;
        for s in &self.slots {
            let fd = s.fd.load(Ordering::Acquire);
            if fd != FREE
                && is_stale(fd, s.ino.load(Ordering::Acquire))
                && s.fd
                    .compare_exchange(fd, FREE, Ordering::AcqRel, Ordering::Acquire)
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
    fn a_reused_fd_starts_clean() {
        let t = Table::new();
        t.claim(5, 77).unwrap().join(1);
        assert!(t.get(5, 77).is_some());
        assert!(t.get(5, 78).is_none(), "another inode is another socket");
        let s = t.claim(5, 78).unwrap();
        assert_eq!(s.groups(), 0);
        assert!(!s.allocated());
    }

    #[test]
    fn release_and_sweep_free_slots() {
        let t = Table::new();
        assert!(t.is_empty());
        t.claim(3, 1).unwrap();
        t.claim(4, 2).unwrap();
        t.release(3);
        assert!(t.get(3, 1).is_none());
        assert_eq!(t.sweep(|fd, _| fd == 4), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_says_so() {
        let t = Table::new();
        for fd in 0..SLOTS as i32 {
            assert!(t.claim(fd, fd as u64 + 1).is_some());
        }
        assert!(t.claim(10_000, 1).is_none());
        assert_eq!(t.sweep(|fd, _| fd < 10), 10);
        assert!(t.claim(10_000, 1).is_some());
    }
}
