//! [`View`]: one kind's objects in caller-provided memory, two generations, and the diff
//! between them (load, pair by key, sort and merge, the events).

use super::attrs::*;
use super::content::{addr_silent_new, neigh_silent_change, neigh_silent_new, same_content};
use super::key::{extract_key, KeyBuf};
use super::msg::*;
use core::cmp::Ordering;

/// The store size that is always enough for a dump of `dump_len` bytes: each object takes less
/// than twice its message size (a 12-byte record header, its key, its body, a 4-byte index
/// entry; a key is at most 7 bytes longer than the body it comes from, while the message is
/// 16 bytes longer than the body), and the store holds two generations (current and staged).
pub const fn store_size(dump_len: usize) -> usize {
    dump_len.saturating_mul(4).saturating_add(16)
}

/// Groups of objects with one key larger than this are paired in dump order only, which keeps
/// the cost O(n log n) whatever the dump.
pub(super) const GROUP_SCAN: usize = 16;
pub(super) const REC_HDR: usize = 12;
pub(super) const NO_PEER: u32 = u32::MAX;
pub(super) const ST_MATCHED: u8 = 1;
pub(super) const ST_EMIT: u8 = 2;

#[derive(Clone, Copy, Default)]
struct Gen {
    /// Objects in this generation.
    count: usize,
    /// Bytes of records from the start of the half.
    used: usize,
    /// The index (at the end of the half) is sorted by key.
    sorted: bool,
}

/// One kind's objects as last seen, in caller-provided memory.
///
/// The store holds two generations (current and staged), each in one half. Each object takes
/// a 12-byte record header, its key (up to 48 bytes) and its body (the message without
/// `nlmsghdr`), each padded to 4 bytes, plus a 4-byte index entry. The store must be at least
/// [`store_size`]`(dump_len)` = 4 x `dump_len` + 16 bytes, where `dump_len` is the total size of
/// this kind's messages in the largest dump expected; a smaller store makes `load` return
/// [`Error::Full`] when a dump does not fit. The store needs no alignment.
pub struct View<'a> {
    kind: Kind,
    store: &'a mut [u8],
    half: usize,
    cur: usize,
    /// Current and staged generation; indexed `h & 1` (h is 0 or 1), which keeps bounds-check
    /// panics out of the monitor thread's code.
    gens: [Gen; 2],
    primed: bool,
    staged: bool,
}

/// A record in the store.
#[derive(Clone, Copy)]
struct Rec<'s> {
    key: &'s [u8],
    body: &'s [u8],
    status: u8,
    peer: u32,
    size: usize,
}

impl<'a> View<'a> {
    /// A view of `kind` that keeps its state in `store` (see the type's documentation for the
    /// size). Not primed.
    pub fn new(kind: Kind, store: &'a mut [u8]) -> Self {
        let half = (store.len() / 2) & !3;
        View {
            kind,
            store,
            half,
            cur: 0,
            gens: [Gen::default(); 2],
            primed: false,
            staged: false,
        }
    }

    /// The kind this view holds.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// False until the first [`commit`](Self::commit) of a successful load.
    pub fn primed(&self) -> bool {
        self.primed
    }

    /// Forgets everything: the next successful load and commit are a new baseline.
    pub fn reset(&mut self) {
        self.gens = [Gen::default(); 2];
        self.primed = false;
        self.staged = false;
    }

    /// Number of objects in the current state.
    pub fn len(&self) -> usize {
        if self.primed {
            self.gens[self.cur & 1].count
        } else {
            0
        }
    }

    /// Whether the current state holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the body of every object of the current state, in dump order.
    pub fn for_each(&self, f: &mut dyn FnMut(&[u8])) {
        if self.primed {
            self.walk(self.cur, &mut |_, r| f(r.body));
        }
    }

    /// Stages a new dump: the bytes of all reply datagrams of one dump, concatenated.
    /// `NLMSG_DONE`, `NLMSG_ERROR`, `NLMSG_NOOP` and messages of other types are skipped, and
    /// so are objects of families this kind does not track. Copies what it needs: `dump` may
    /// be reused afterwards.
    pub fn load(&mut self, dump: &[u8]) -> Result<(), Error> {
        self.staged = false;
        let s = 1 - self.cur;
        self.gens[s & 1] = Gen::default();
        if let Err(e) = self.fill(s, dump) {
            self.gens[s & 1] = Gen::default();
            return Err(e);
        }
        if self.primed {
            self.diff();
        }
        self.staged = true;
        Ok(())
    }

    /// Reports every object of the current state that is gone from the staged one, as
    /// `RTM_DEL*` with its last known body, in the current state's dump order.
    pub fn removed(&self, emit: &mut dyn FnMut(&Event<'_>)) {
        if self.primed && self.staged {
            self.emit(self.cur, self.kind.del_type(), emit);
        }
    }

    /// Reports every staged object that is new or whose compared content changed, as
    /// `RTM_NEW*` with its new body, in the staged dump's order.
    pub fn added_or_changed(&self, emit: &mut dyn FnMut(&Event<'_>)) {
        if self.primed && self.staged {
            self.emit(1 - self.cur, self.kind.new_type(), emit);
        }
    }

    /// The staged state becomes the current one. The first commit primes the view (the first
    /// load is the baseline and reports nothing). After a failed load, does nothing.
    pub fn commit(&mut self) {
        if self.staged {
            self.cur = 1 - self.cur;
            self.primed = true;
            self.staged = false;
        }
    }

    fn emit(&self, h: usize, msg_type: u16, emit: &mut dyn FnMut(&Event<'_>)) {
        let kind = self.kind;
        self.walk(h, &mut |_, r| {
            if r.status & ST_EMIT == 0 {
                return;
            }
            let family = r.body.first().copied().unwrap_or(0);
            if let Some(group) = kind.group(family) {
                emit(&Event {
                    group,
                    msg_type,
                    body: r.body,
                });
            }
        });
    }

    // ---- store layout ----

    fn base(&self, h: usize) -> usize {
        h * self.half
    }

    fn rec(&self, h: usize, off: usize) -> Option<Rec<'_>> {
        let at = self.base(h).checked_add(off)?;
        let hdr = self.store.get(at..at.checked_add(REC_HDR)?)?;
        let body_len = rd_u32(hdr, 0)? as usize;
        let key_len = rd_u16(hdr, 4)? as usize;
        let status = *hdr.get(6)?;
        let peer = rd_u32(hdr, 8)?;
        let k0 = at + REC_HDR;
        let key = self.store.get(k0..k0.checked_add(key_len)?)?;
        let b0 = k0.checked_add(align4(key_len))?;
        let body = self.store.get(b0..b0.checked_add(body_len)?)?;
        Some(Rec {
            key,
            body,
            status,
            peer,
            size: REC_HDR + align4(key_len) + align4(body_len),
        })
    }

    /// Calls `f(offset, record)` for each record of half `h`, in dump order.
    fn walk<'s>(&'s self, h: usize, f: &mut dyn FnMut(usize, Rec<'s>)) {
        let used = self.gens[h & 1].used;
        let mut off = 0;
        while off < used {
            let Some(r) = self.rec(h, off) else { return };
            f(off, r);
            off += r.size;
        }
    }

    fn set_status(&mut self, h: usize, off: usize, status: u8, peer: u32) {
        let at = self.base(h) + off;
        if let Some(b) = self.store.get_mut(at + 6) {
            *b = status;
        }
        wr_u32(self.store, at + 8, peer);
    }

    /// Offset of the body of the record at `off` in half `h`.
    fn body_at(&self, h: usize, off: usize) -> Option<usize> {
        let at = self.base(h) + off;
        let key_len = rd_u16(self.store, at + 4)? as usize;
        Some(at + REC_HDR + align4(key_len))
    }

    /// Where index entry `i` of half `h` lives: entries grow down from the end of the half.
    /// Out of range (`usize::MAX`, so every access misses) if the half has no room for it.
    fn idx_at(&self, h: usize, i: usize) -> usize {
        (self.base(h) + self.half)
            .checked_sub(4 * (i + 1))
            .unwrap_or(usize::MAX)
    }

    fn idx(&self, h: usize, i: usize) -> usize {
        rd_u32(self.store, self.idx_at(h, i)).unwrap_or(0) as usize
    }

    fn swap_idx(&mut self, h: usize, i: usize, j: usize) {
        let (a, b) = (self.idx(h, i), self.idx(h, j));
        wr_u32(self.store, self.idx_at(h, i), b as u32);
        wr_u32(self.store, self.idx_at(h, j), a as u32);
    }

    fn key(&self, h: usize, off: usize) -> &[u8] {
        self.rec(h, off).map(|r| r.key).unwrap_or(&[])
    }

    // ---- load ----

    fn fill(&mut self, s: usize, dump: &[u8]) -> Result<(), Error> {
        let want = self.kind.new_type();
        let mut rest = dump;
        while !rest.is_empty() {
            let len = rd_u32(rest, 0).ok_or(Error::Malformed)? as usize;
            let ty = rd_u16(rest, 4).ok_or(Error::Malformed)?;
            let flags = rd_u16(rest, 6).ok_or(Error::Malformed)?;
            if len < NLMSG_HDRLEN || len > rest.len() {
                return Err(Error::Malformed);
            }
            if flags & NLM_F_DUMP_INTR != 0 {
                return Err(Error::Interrupted);
            }
            if ty == want {
                let body = rest.get(NLMSG_HDRLEN..len).ok_or(Error::Malformed)?;
                self.push(s, body)?;
            }
            rest = rest.get(align4(len)..).unwrap_or(&[]);
        }
        Ok(())
    }

    fn push(&mut self, s: usize, body: &[u8]) -> Result<(), Error> {
        let hl = self.kind.header_len();
        let attrs = body.get(hl..).ok_or(Error::Malformed)?;
        if !well_formed(attrs) {
            return Err(Error::Malformed);
        }
        let mut key = KeyBuf::new();
        if !extract_key(self.kind, body, &mut key)? {
            return Ok(());
        }
        let key = key.bytes();
        let body_len = u32::try_from(body.len()).map_err(|_| Error::Full)?;
        let size = REC_HDR + align4(key.len()) + align4(body.len());
        let g = self.gens[s & 1];
        let need = g
            .used
            .checked_add(size)
            .and_then(|n| n.checked_add(4 * (g.count + 1)))
            .ok_or(Error::Full)?;
        if need > self.half {
            return Err(Error::Full);
        }
        let at = self.base(s) + g.used;
        let rec = self.store.get_mut(at..at + size).ok_or(Error::Full)?;
        rec.fill(0);
        let (hdr, rest) = rec.split_at_mut(REC_HDR);
        wr_u32(hdr, 0, body_len);
        wr_u16(hdr, 4, key.len() as u16);
        wr_u32(hdr, 8, NO_PEER);
        let (kpart, bpart) = rest.split_at_mut(align4(key.len()));
        copy(kpart, key);
        copy(bpart, body);
        let ia = self.idx_at(s, g.count);
        wr_u32(self.store, ia, g.used as u32);
        self.gens[s & 1] = Gen {
            count: g.count + 1,
            used: g.used + size,
            sorted: false,
        };
        Ok(())
    }

    // ---- diff ----

    fn diff(&mut self) {
        let (c, s) = (self.cur, 1 - self.cur);
        // Reset the current generation's marks from an earlier load.
        let mut off = 0;
        while off < self.gens[c & 1].used {
            let Some(size) = self.rec(c, off).map(|r| r.size) else {
                break;
            };
            self.set_status(c, off, 0, NO_PEER);
            off += size;
        }
        if !self.pair_by_position(c, s) {
            self.sort(c);
            self.sort(s);
            self.merge(c, s);
        }
        self.finish(c, s);
    }

    /// The idle case: the same keys in the same order with the same content. Pairs by
    /// position (nothing to announce) and returns true, or returns false without marking
    /// anything. Any difference goes through the sorted merge, which also pairs objects that
    /// share a key by content, so a reordering of such objects is not taken for a change.
    fn pair_by_position(&mut self, c: usize, s: usize) -> bool {
        if self.gens[c & 1].count != self.gens[s & 1].count {
            return false;
        }
        let (mut oc, mut os) = (0, 0);
        while oc < self.gens[c & 1].used && os < self.gens[s & 1].used {
            let (Some(a), Some(b)) = (self.rec(c, oc), self.rec(s, os)) else {
                return false;
            };
            if a.key != b.key || !same_content(self.kind, a.body, b.body, false) {
                return false;
            }
            oc += a.size;
            os += b.size;
        }
        let (mut oc, mut os) = (0, 0);
        while oc < self.gens[c & 1].used && os < self.gens[s & 1].used {
            let (Some(a), Some(b)) = (self.rec(c, oc), self.rec(s, os)) else {
                break;
            };
            let (na, nb) = (a.size, b.size);
            self.set_status(c, oc, ST_MATCHED, os as u32);
            self.set_status(s, os, ST_MATCHED, oc as u32);
            oc += na;
            os += nb;
        }
        true
    }

    fn cmp_entries(&self, h: usize, i: usize, j: usize) -> Ordering {
        let (a, b) = (self.idx(h, i), self.idx(h, j));
        self.key(h, a).cmp(self.key(h, b)).then(a.cmp(&b))
    }

    /// Heap sort of half `h`'s index by (key, dump position): no allocation, O(n log n).
    fn sort(&mut self, h: usize) {
        if self.gens[h & 1].sorted {
            return;
        }
        let n = self.gens[h & 1].count;
        for i in (0..n / 2).rev() {
            self.sift_down(h, i, n);
        }
        for end in (1..n).rev() {
            self.swap_idx(h, 0, end);
            self.sift_down(h, 0, end);
        }
        self.gens[h & 1].sorted = true;
    }

    fn sift_down(&mut self, h: usize, mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && self.cmp_entries(h, child, child + 1) == Ordering::Less {
                child += 1;
            }
            if self.cmp_entries(h, root, child) != Ordering::Less {
                return;
            }
            self.swap_idx(h, root, child);
            root = child;
        }
    }

    fn merge(&mut self, c: usize, s: usize) {
        let (nc, ns) = (self.gens[c & 1].count, self.gens[s & 1].count);
        let (mut i, mut j) = (0, 0);
        while i < nc && j < ns {
            let (oi, oj) = (self.idx(c, i), self.idx(s, j));
            match self.key(c, oi).cmp(self.key(s, oj)) {
                Ordering::Less => i += 1,
                Ordering::Greater => j += 1,
                Ordering::Equal => {
                    let mut gi = i + 1;
                    while gi < nc && self.key(c, self.idx(c, gi)) == self.key(c, oi) {
                        gi += 1;
                    }
                    let mut gj = j + 1;
                    while gj < ns && self.key(s, self.idx(s, gj)) == self.key(s, oj) {
                        gj += 1;
                    }
                    if gi - i == 1 && gj - j == 1 {
                        self.pair(c, oi, s, oj);
                    } else {
                        self.pair_group(c, i, gi, s, j, gj);
                    }
                    i = gi;
                    j = gj;
                }
            }
        }
    }

    /// Pairs objects that share one key: equal contents first, then the rest in dump order.
    fn pair_group(&mut self, c: usize, i0: usize, i1: usize, s: usize, j0: usize, j1: usize) {
        let matched = |v: &Self, h: usize, off: usize| {
            v.rec(h, off)
                .map(|r| r.status & ST_MATCHED != 0)
                .unwrap_or(true)
        };
        if i1 - i0 <= GROUP_SCAN && j1 - j0 <= GROUP_SCAN {
            for j in j0..j1 {
                let on = self.idx(s, j);
                for i in i0..i1 {
                    let oo = self.idx(c, i);
                    if matched(self, c, oo) {
                        continue;
                    }
                    let same = match (self.rec(c, oo), self.rec(s, on)) {
                        (Some(a), Some(b)) => same_content(self.kind, a.body, b.body, false),
                        _ => false,
                    };
                    if same {
                        self.pair(c, oo, s, on);
                        break;
                    }
                }
            }
        }
        let mut i = i0;
        for j in j0..j1 {
            let on = self.idx(s, j);
            if matched(self, s, on) {
                continue;
            }
            while i < i1 && matched(self, c, self.idx(c, i)) {
                i += 1;
            }
            if i == i1 {
                break;
            }
            self.pair(c, self.idx(c, i), s, on);
            i += 1;
        }
    }

    /// Marks the current object at `oc` and the staged object at `os` as one object, and
    /// decides whether the staged one is announced.
    fn pair(&mut self, c: usize, oc: usize, s: usize, os: usize) {
        let emit = match (self.rec(c, oc), self.rec(s, os)) {
            (Some(a), Some(b)) => {
                let same = same_content(self.kind, a.body, b.body, false);
                let silent = self.kind == Kind::Neigh && neigh_silent_change(a.body, b.body);
                !same && !silent
            }
            _ => true,
        };
        self.set_status(c, oc, ST_MATCHED, os as u32);
        let st = if emit {
            ST_MATCHED | ST_EMIT
        } else {
            ST_MATCHED
        };
        self.set_status(s, os, st, oc as u32);
    }

    /// Unpaired current objects are removed, unpaired staged objects are new; link events get
    /// Linux's `ifi_change`.
    fn finish(&mut self, c: usize, s: usize) {
        let link = self.kind == Kind::Link;
        let mut off = 0;
        while off < self.gens[c & 1].used {
            let Some(r) = self.rec(c, off) else { break };
            let size = r.size;
            if r.status & ST_MATCHED == 0 {
                self.set_status(c, off, ST_EMIT, NO_PEER);
                if link {
                    self.set_change(c, off, !0);
                }
            }
            off += size;
        }
        let mut off = 0;
        while off < self.gens[s & 1].used {
            let Some(r) = self.rec(s, off) else { break };
            let (size, status, peer) = (r.size, r.status, r.peer);
            if status & ST_MATCHED == 0 {
                let silent = match self.kind {
                    Kind::Neigh => neigh_silent_new(r.body),
                    Kind::Addr => addr_silent_new(r.body),
                    Kind::Link | Kind::Route => false,
                };
                if !silent {
                    self.set_status(s, off, ST_EMIT, NO_PEER);
                    if link {
                        self.set_change(s, off, !0);
                    }
                }
            } else if link && status & ST_EMIT != 0 {
                let old = self
                    .rec(c, peer as usize)
                    .and_then(|p| rd_u32(p.body, 8))
                    .unwrap_or(0);
                let new = rd_u32(r.body, 8).unwrap_or(0);
                self.set_change(s, off, (old ^ new) & !IFF_VOLATILE);
            }
            off += size;
        }
    }

    fn set_change(&mut self, h: usize, off: usize, change: u32) {
        if let Some(b) = self.body_at(h, off) {
            wr_u32(self.store, b + 12, change);
        }
    }
}
