//! Per-socket queues of synthesized multicast events.
//!
//! gVisor delivers no netlink multicast, and it refuses to let one socket send to another
//! (`sendto` a non-zero `nl_pid` is EACCES), so events cannot be put into a socket's kernel
//! receive queue. Each subscribed socket therefore gets a queue of its own here, filled by the
//! monitor thread ([`crate::monitor`]) and drained by the receive emulation ([`crate::recv`]).
//!
//! The queue is a byte ring in memory the monitor maps with `mmap` (never freed: a slot's ring
//! is reused by the next socket that takes the slot). One producer (the monitor) and, at any
//! moment, one consumer (whoever holds the slot's `BUSY` bit: a receive, or the monitor when it
//! resets the ring). A record is `u32 len | u32 group | len bytes of netlink message`, padded
//! to 8 bytes; a record never wraps, a `SKIP` length sends the reader back to offset 0.
//!
//! Linux's receive-buffer accounting is approximated by bytes of records: once the ring holds
//! more than the socket's limit (its `SO_RCVBUF`, or Linux's default 212992 where gVisor reports
//! `INT_MAX`), further events are dropped and the next receive reports `ENOBUFS` once, as
//! `netlink_overrun` does.

use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// Ring length marker: the rest of the ring is padding, continue at offset 0.
const SKIP: u32 = u32::MAX;
/// Bytes before a record's message.
const RECORD_HEAD: usize = 8;

/// A doorbell request is outstanding in the socket's kernel queue (see [`crate::recv`]).
pub const BELL: u32 = 1;
/// Events were dropped; the next receive returns ENOBUFS.
pub const OVERRUN: u32 = 2;
/// Someone is reading (or resetting) the ring.
pub const BUSY: u32 = 4;
/// `NETLINK_NO_ENOBUFS` is set: overruns are not reported.
pub const NO_ENOBUFS: u32 = 8;

/// Linux's default `net.core.rmem_default`, the limit where the kernel reports none we can use.
pub const DEFAULT_LIMIT: u32 = 212_992;
/// Ring sizes: at least this (one large event always fits)...
pub const MIN_RING: usize = 64 << 10;
/// ... and at most this, whatever `SO_RCVBUF` says.
pub const MAX_RING: usize = 4 << 20;

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// The event side of one socket's record.
pub struct EventState {
    /// Inode of the network namespace the socket subscribed in (0: none recorded).
    ns: AtomicU64,
    ring: AtomicPtr<u8>,
    cap: AtomicU64,
    limit: AtomicU32,
    head: AtomicU64,
    tail: AtomicU64,
    bits: AtomicU32,
    /// The monitor cycle after which this socket's events start.
    since: AtomicU64,
}

impl Default for EventState {
    fn default() -> Self {
        Self::new()
    }
}

impl EventState {
    /// No namespace, no ring, nothing queued.
    pub const fn new() -> Self {
        EventState {
            ns: AtomicU64::new(0),
            ring: AtomicPtr::new(core::ptr::null_mut()),
            cap: AtomicU64::new(0),
            limit: AtomicU32::new(DEFAULT_LIMIT),
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            bits: AtomicU32::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// Forgets the previous owner's events and settings (the ring memory stays for reuse).
    pub fn reset(&self) {
        self.ns.store(0, Ordering::Release);
        self.limit.store(DEFAULT_LIMIT, Ordering::Release);
        self.bits.store(0, Ordering::Release);
        let t = self.tail.load(Ordering::Acquire);
        self.head.store(t, Ordering::Release);
        self.since.store(0, Ordering::Release);
    }

    /// The namespace recorded at subscription (0: none).
    pub fn ns(&self) -> u64 {
        self.ns.load(Ordering::Acquire)
    }

    /// Records the namespace, the receive limit and the first monitor cycle of a subscription.
    pub fn subscribe(&self, ns: u64, limit: u32, since: u64) {
        self.limit.store(limit, Ordering::Release);
        self.since.store(since, Ordering::Release);
        self.ns.store(ns, Ordering::Release);
    }

    /// Sets the receive limit (`SO_RCVBUF` as the kernel reports it, i.e. already doubled).
    pub fn set_limit(&self, limit: u32) {
        self.limit.store(limit, Ordering::Release);
    }

    /// The receive limit in bytes.
    pub fn limit(&self) -> u32 {
        self.limit.load(Ordering::Acquire)
    }

    /// The first monitor cycle whose events this socket receives.
    pub fn since(&self) -> u64 {
        self.since.load(Ordering::Acquire)
    }

    /// Whether flag `f` is set.
    pub fn has(&self, f: u32) -> bool {
        self.bits.load(Ordering::Acquire) & f != 0
    }

    /// Sets flag `f`; returns whether it was set before.
    pub fn set(&self, f: u32) -> bool {
        self.bits.fetch_or(f, Ordering::AcqRel) & f != 0
    }

    /// Clears flag `f`; returns whether it was set.
    pub fn clear(&self, f: u32) -> bool {
        self.bits.fetch_and(!f, Ordering::AcqRel) & f != 0
    }

    /// Whether the ring has memory.
    pub fn has_ring(&self) -> bool {
        !self.ring.load(Ordering::Acquire).is_null()
    }

    /// The ring size a socket with this limit wants.
    pub fn ring_size_for(limit: u32) -> usize {
        (limit as usize).clamp(MIN_RING, MAX_RING)
    }

    /// Gives the ring its memory (done once per slot by the monitor).
    ///
    /// # Safety
    /// `mem` must point at `cap` writable bytes that stay mapped for the life of the process,
    /// aligned to 8, and owned by this ring alone.
    pub unsafe fn install_ring(&self, mem: *mut u8, cap: usize) {
        self.cap.store(cap as u64, Ordering::Release);
        let t = self.tail.load(Ordering::Acquire);
        self.head.store(t, Ordering::Release);
        self.ring.store(mem, Ordering::Release);
    }

    /// Bytes queued.
    pub fn queued(&self) -> u64 {
        self.tail
            .load(Ordering::Acquire)
            .wrapping_sub(self.head.load(Ordering::Acquire))
    }

    /// Producer side: appends `hdr` + `body` as one message for `group`. Returns false (and sets
    /// [`OVERRUN`]) when the limit or the ring is exceeded, or when there is no ring.
    pub fn push(&self, group: u32, hdr: &[u8], body: &[u8]) -> bool {
        let ring = self.ring.load(Ordering::Acquire);
        let cap = self.cap.load(Ordering::Acquire) as usize;
        let len = hdr.len() + body.len();
        let need = RECORD_HEAD + align8(len);
        if ring.is_null() || need > cap || len > u32::MAX as usize - 1 {
            self.set(OVERRUN);
            return false;
        }
        let head = self.head.load(Ordering::Acquire);
        let mut tail = self.tail.load(Ordering::Acquire);
        let used = tail.wrapping_sub(head) as usize;
        let limit = self.limit.load(Ordering::Acquire) as usize;
        let mut pos = (tail % cap as u64) as usize;
        let pad = if pos + need > cap { cap - pos } else { 0 };
        if used + need > limit.max(need) || used + pad + need > cap {
            self.set(OVERRUN);
            return false;
        }
        // SAFETY: `ring` points at `cap` bytes owned by this ring (install_ring's contract); all
        // offsets written below are < cap: pos + RECORD_HEAD + len <= pos + need <= cap after the
        // wrap, and a SKIP marker is written only when pos + 4 <= cap (pos is 8-aligned, cap a
        // multiple of 8). The consumer does not read past `tail`, which moves only after the
        // bytes are written (Release).
        unsafe {
            if pad != 0 {
                (ring.add(pos) as *mut u32).write(SKIP);
                tail = tail.wrapping_add(pad as u64);
                pos = 0;
            }
            let p = ring.add(pos);
            (p as *mut u32).write(len as u32);
            (p.add(4) as *mut u32).write(group);
            core::ptr::copy_nonoverlapping(hdr.as_ptr(), p.add(RECORD_HEAD), hdr.len());
            core::ptr::copy_nonoverlapping(
                body.as_ptr(),
                p.add(RECORD_HEAD + hdr.len()),
                body.len(),
            );
        }
        self.tail
            .store(tail.wrapping_add(need as u64), Ordering::Release);
        true
    }

    /// Consumer side: takes the ring for reading. `None` if someone else holds it.
    pub fn lock(&self) -> Option<Reader<'_>> {
        if self.set(BUSY) {
            return None;
        }
        Some(Reader { st: self })
    }
}

/// Exclusive read access to a ring; releases [`BUSY`] when dropped.
pub struct Reader<'a> {
    st: &'a EventState,
}

impl Reader<'_> {
    /// The oldest message and its group, without removing it.
    pub fn front(&self) -> Option<(u32, &[u8])> {
        let st = self.st;
        let ring = st.ring.load(Ordering::Acquire);
        let cap = st.cap.load(Ordering::Acquire) as usize;
        if ring.is_null() || cap == 0 {
            return None;
        }
        let mut head = st.head.load(Ordering::Acquire);
        loop {
            let tail = st.tail.load(Ordering::Acquire);
            if head == tail {
                return None;
            }
            let pos = (head % cap as u64) as usize;
            // SAFETY: head != tail, so the producer wrote (and published with Release) a record
            // or SKIP marker at `pos` < cap; records lie entirely within the ring.
            let len = unsafe { (ring.add(pos) as *const u32).read() };
            if len == SKIP {
                head = head.wrapping_add((cap - pos) as u64);
                st.head.store(head, Ordering::Release);
                continue;
            }
            // SAFETY: as above; the message is `len` bytes after the 8-byte record head, inside
            // the ring, and is not rewritten until head moves past it (we hold BUSY).
            let (group, msg) = unsafe {
                let p = ring.add(pos);
                let group = (p.add(4) as *const u32).read();
                (
                    group,
                    core::slice::from_raw_parts(p.add(RECORD_HEAD), len as usize),
                )
            };
            return Some((group, msg));
        }
    }

    /// Removes the oldest message.
    pub fn pop(&self) {
        let st = self.st;
        let ring = st.ring.load(Ordering::Acquire);
        let cap = st.cap.load(Ordering::Acquire) as usize;
        if self.front().is_none() || ring.is_null() || cap == 0 {
            return;
        }
        let head = st.head.load(Ordering::Acquire);
        let pos = (head % cap as u64) as usize;
        // SAFETY: front() returned a record at `pos` (it skipped any marker), so a length is there.
        let len = unsafe { (ring.add(pos) as *const u32).read() } as usize;
        st.head.store(
            head.wrapping_add((RECORD_HEAD + align8(len)) as u64),
            Ordering::Release,
        );
    }

    /// Drops everything queued.
    pub fn clear(&self) {
        let t = self.st.tail.load(Ordering::Acquire);
        self.st.head.store(t, Ordering::Release);
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        self.st.clear(BUSY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(cap: usize) -> (EventState, Vec<u64>) {
        let mem = vec![0u64; cap / 8];
        let st = EventState::new();
        // SAFETY: the Vec outlives the EventState in each test (returned together), is 8-aligned
        // and used by this ring alone.
        unsafe { st.install_ring(mem.as_ptr() as *mut u8, cap) };
        (st, mem)
    }

    #[test]
    fn fifo_with_wrap() {
        let (st, _m) = ring(256);
        st.set_limit(1 << 20);
        let body = [7u8; 50];
        let mut seen = 0;
        for i in 0..40u32 {
            assert!(st.push(i, &[1, 2, 3, 4], &body[..(i as usize % 40)]));
            let r = st.lock().unwrap();
            let (g, m) = r.front().unwrap();
            assert_eq!(g, i);
            assert_eq!(m.len(), 4 + i as usize % 40);
            r.pop();
            assert!(r.front().is_none());
            seen += 1;
        }
        assert_eq!(seen, 40);
    }

    #[test]
    fn overrun_when_past_the_limit_then_goes_on() {
        let (st, _m) = ring(64 << 10);
        st.set_limit(1000);
        let mut ok = 0;
        while st.push(1, &[0; 16], &[0; 100]) {
            ok += 1;
        }
        assert!((7..=8).contains(&ok), "{ok}");
        assert!(st.clear(OVERRUN));
        {
            let r = st.lock().unwrap();
            r.pop();
        }
        assert!(st.push(1, &[0; 16], &[0; 100]), "room again after a read");
    }

    #[test]
    fn one_reader_at_a_time() {
        let (st, _m) = ring(1024);
        let r = st.lock().unwrap();
        assert!(st.lock().is_none());
        drop(r);
        assert!(st.lock().is_some());
    }

    #[test]
    fn no_ring_means_overrun() {
        let st = EventState::new();
        assert!(!st.push(1, &[0; 16], &[]));
        assert!(st.has(OVERRUN));
    }
}
