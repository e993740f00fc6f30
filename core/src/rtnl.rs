//! rtnetlink state and its diff: the multicast events Linux would have sent.
//!
//! gVisor delivers no rtnetlink multicast. gvnet's monitor dumps links, addresses, routes and
//! neighbours periodically; a [`View`] per kind remembers the last dump and turns "last dump vs
//! this dump" into the `RTM_NEW*` / `RTM_DEL*` events Linux multicasts for such a change.
//!
//! Pure and signal-context clean: no allocation (the state lives in caller-provided memory),
//! no locks, no `core::fmt`, no `unsafe`, and no input can make it panic (every read of a dump or
//! of the store goes through `get`; malformed input yields [`Error::Malformed`]).
//!
//! # Identity
//!
//! Two dumped objects are "the same object" when their keys are equal:
//!
//! | kind | key |
//! |---|---|
//! | link | `ifi_index` |
//! | address | family, `ifa_index`, `ifa_prefixlen`, `IFA_LOCAL` (else `IFA_ADDRESS`); for IPv4 also `IFA_ADDRESS` when `IFA_LOCAL` is present (the peer of a point-to-point address: `__inet_insert_ifa` lets one local address exist once per peer) |
//! | route | family, table (`RTA_TABLE`, else `rtm_table`), `RTA_DST` + `rtm_dst_len`, `RTA_SRC` + `rtm_src_len` (IPv6 source routing subtrees), `rtm_tos`, `RTA_PRIORITY` (0 when absent) |
//! | neighbour | family, `ndm_ifindex`, `NDA_DST` |
//!
//! Linux allows several objects with one route key (IPv4 aliases added with `NLM_F_APPEND`,
//! IPv6 routes of one metric through different next hops). Such objects are paired
//! content-first: an old and a new object with equal content are the same object; what is left
//! is paired in dump order (a change: `RTM_NEWROUTE`, as Linux sends for `NLM_F_REPLACE`), and
//! the rest is removed or added.
//!
//! # What counts as a change
//!
//! An object whose key stays and whose content changes yields `RTM_NEW*` (Linux: NEWLINK for
//! flags, MTU, name, master, address; NEWADDR for flag changes; NEWNEIGH for state changes;
//! NEWROUTE for a replacement). Parts that Linux changes without sending anything are left out
//! of the comparison, so a dump that changed only in them yields no event:
//!
//! - link: `ifi_change` (0 in dumps; set here as Linux sets it in events), `IFLA_STATS`,
//!   `IFLA_STATS64`, `IFLA_AF_SPEC` entirely (per-family stats, cache info and devconf: devconf
//!   changes are announced as `RTM_NEWNETCONF`, not NEWLINK; an IPv6 token or RA-flag change,
//!   which Linux does announce as NEWLINK, is missed), `IFLA_CARRIER_CHANGES`,
//!   `IFLA_CARRIER_UP_COUNT`, `IFLA_CARRIER_DOWN_COUNT`, `IFLA_QDISC` (tc changes it without a
//!   NEWLINK), `IFLA_PROMISCUITY` and `IFLA_ALLMULTI` (counters; the visible flag bits are
//!   compared), `IFLA_INFO_XSTATS`, and the running timers of a bridge (`IFLA_BR_HELLO_TIMER`,
//!   `_TCN_TIMER`, `_TOPOLOGY_CHANGE_TIMER`, `_GC_TIMER`, `_MCAST_QUERIER_STATE`) and of a
//!   bridge port (`IFLA_BRPORT_MESSAGE_AGE_TIMER`, `_FORWARD_DELAY_TIMER`, `_HOLD_TIMER`), which
//!   change in every dump;
//! - address: `IFA_CACHEINFO` (remaining lifetimes count down);
//! - route: `RTA_CACHEINFO`, `RTA_EXPIRES`, and the next-hop flags Linux flips silently
//!   (`RTNH_F_DEAD`, `RTNH_F_LINKDOWN`, `RTNH_F_OFFLOAD`, `RTNH_F_TRAP`, `RTM_F_OFFLOAD`,
//!   `RTM_F_TRAP`, `RTM_F_OFFLOAD_FAILED`) in `rtm_flags` and in each `RTA_MULTIPATH` next hop;
//! - neighbour: `NDA_CACHEINFO`, `NDA_PROBES`, the `ndmsg` padding; and the state transitions
//!   Linux makes without a notification (net/core/neighbour.c): an entry that appears in
//!   `NUD_NONE` or `NUD_INCOMPLETE` (creation and `__neigh_event_send` notify nothing),
//!   `NUD_REACHABLE`/`NUD_STALE` -> `NUD_DELAY`, and an invalid state -> `NUD_INCOMPLETE`/`NUD_NONE`.
//!   Every other state change, and every deletion, is notified by Linux and here.
//!
//! Attributes are compared in order; a kernel emits them in a fixed order, so a reordering (which
//! would not happen) reads as a change. A nested attribute that does not parse is compared as
//! bytes.
//!
//! # Events
//!
//! Bodies are the objects as dumped: the new state for `RTM_NEW*`, the last known state for
//! `RTM_DEL*`. `ifi_change` is set as Linux sets it: `!0` for a new and for a deleted link (as
//! `register_netdevice` / `unregister_netdevice_many` do), and the changed `ifi_flags` bits for a
//! change, without `IFF_RUNNING`, `IFF_LOWER_UP` and `IFF_DORMANT` (carrier and operstate
//! changes arrive through linkwatch with `ifi_change` 0; `dev_change_flags` reports the bits it
//! changed). The monitor adds the `nlmsghdr` (flags 0, seq 0, pid 0), so an IPv4 route replaced
//! in place arrives without `NLM_F_REPLACE`.
//!
//! Groups: link -> `RTNLGRP_LINK`; address -> `RTNLGRP_IPV4_IFADDR` / `RTNLGRP_IPV6_IFADDR`;
//! route -> `RTNLGRP_IPV4_ROUTE` / `RTNLGRP_IPV6_ROUTE`, for every table (Linux's `rtmsg_fib`
//! notifies the local table too); neighbour -> `RTNLGRP_NEIGH`. Addresses, routes and neighbours
//! of other families (IPMR/IP6MR multicast routes in an `AF_UNSPEC` route dump, MPLS, bridge FDB)
//! are not kept and yield no events.
//!
//! Known differences from Linux, all by construction of polling: several changes of one object
//! within one cycle merge into one event; an object deleted and re-created with the same key
//! within one cycle reads as a change (one NEW, no DEL); Linux removes IPv4 routes silently when
//! their device goes down, here every route that disappears yields `RTM_DELROUTE`.
//!
//! # Cost
//!
//! `load` copies each object once and compares it with its predecessor. When the dump lists the
//! same keys in the same order as the last one (the idle case: kernels dump in a stable order)
//! objects are paired by position in O(n); otherwise both generations are heap-sorted by key
//! (O(n log n), no allocation) and merged. Content comparison is a full byte comparison of the
//! compared parts (no hash), linear in the object size.

use core::cmp::Ordering;

/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_DELLINK`.
pub const RTM_DELLINK: u16 = 17;
/// `RTM_GETLINK`.
pub const RTM_GETLINK: u16 = 18;
/// `RTM_NEWADDR`.
pub const RTM_NEWADDR: u16 = 20;
/// `RTM_DELADDR`.
pub const RTM_DELADDR: u16 = 21;
/// `RTM_GETADDR`.
pub const RTM_GETADDR: u16 = 22;
/// `RTM_NEWROUTE`.
pub const RTM_NEWROUTE: u16 = 24;
/// `RTM_DELROUTE`.
pub const RTM_DELROUTE: u16 = 25;
/// `RTM_GETROUTE`.
pub const RTM_GETROUTE: u16 = 26;
/// `RTM_NEWNEIGH`.
pub const RTM_NEWNEIGH: u16 = 28;
/// `RTM_DELNEIGH`.
pub const RTM_DELNEIGH: u16 = 29;
/// `RTM_GETNEIGH`.
pub const RTM_GETNEIGH: u16 = 30;

/// `RTNLGRP_LINK`.
pub const RTNLGRP_LINK: u32 = 1;
/// `RTNLGRP_NEIGH`.
pub const RTNLGRP_NEIGH: u32 = 3;
/// `RTNLGRP_IPV4_IFADDR`.
pub const RTNLGRP_IPV4_IFADDR: u32 = 5;
/// `RTNLGRP_IPV4_ROUTE`.
pub const RTNLGRP_IPV4_ROUTE: u32 = 7;
/// `RTNLGRP_IPV6_IFADDR`.
pub const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// `RTNLGRP_IPV6_ROUTE`.
pub const RTNLGRP_IPV6_ROUTE: u32 = 11;

/// `AF_UNSPEC`.
pub const AF_UNSPEC: u8 = 0;
/// `AF_INET`.
pub const AF_INET: u8 = 2;
/// `AF_INET6`.
pub const AF_INET6: u8 = 10;

/// `NLMSG_HDRLEN`: the `nlmsghdr` that precedes every body.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLM_F_DUMP_INTR`: the kernel's state changed while it was dumping.
const NLM_F_DUMP_INTR: u16 = 0x10;
/// Strips `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` from an attribute type.
const NLA_TYPE_MASK: u16 = 0x3fff;

// ifinfomsg flags that carrier and operstate changes flip (linkwatch notifies with change 0).
const IFF_RUNNING: u32 = 1 << 6;
const IFF_LOWER_UP: u32 = 1 << 16;
const IFF_DORMANT: u32 = 1 << 17;
const IFF_VOLATILE: u32 = IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT;

// IFLA_* (include/uapi/linux/if_link.h)
const IFLA_QDISC: u16 = 6;
const IFLA_STATS: u16 = 7;
const IFLA_LINKINFO: u16 = 18;
const IFLA_STATS64: u16 = 23;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_PAD: u16 = 42;
const IFLA_CARRIER_UP_COUNT: u16 = 47;
const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
const IFLA_ALLMULTI: u16 = 61;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_INFO_XSTATS: u16 = 3;
const IFLA_INFO_SLAVE_KIND: u16 = 4;
const IFLA_INFO_SLAVE_DATA: u16 = 5;
const IFLA_BR_HELLO_TIMER: u16 = 16;
const IFLA_BR_GC_TIMER: u16 = 19;
const IFLA_BR_MCAST_QUERIER_STATE: u16 = 47;
const IFLA_BRPORT_MESSAGE_AGE_TIMER: u16 = 21;
const IFLA_BRPORT_HOLD_TIMER: u16 = 23;
// IFA_*
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_CACHEINFO: u16 = 6;
// RTA_*
const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_CACHEINFO: u16 = 12;
const RTA_TABLE: u16 = 15;
const RTA_EXPIRES: u16 = 23;
/// Next-hop and route flags Linux changes without a notification: `RTNH_F_DEAD`,
/// `RTNH_F_OFFLOAD`, `RTNH_F_LINKDOWN`, `RTNH_F_TRAP`, `RTM_F_OFFLOAD`, `RTM_F_TRAP`,
/// `RTM_F_OFFLOAD_FAILED`.
const RT_SILENT_FLAGS: u32 = 1 | 8 | 16 | 64 | 0x4000 | 0x8000 | 0x2000_0000;
// NDA_*
const NDA_DST: u16 = 1;
const NDA_CACHEINFO: u16 = 3;
const NDA_PROBES: u16 = 4;
// NUD_*
const NUD_NONE: u16 = 0x00;
const NUD_INCOMPLETE: u16 = 0x01;
const NUD_REACHABLE: u16 = 0x02;
const NUD_STALE: u16 = 0x04;
const NUD_DELAY: u16 = 0x08;
const NUD_PROBE: u16 = 0x10;
const NUD_NOARP: u16 = 0x40;
const NUD_PERMANENT: u16 = 0x80;
const NUD_VALID: u16 =
    NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

/// The four kinds of rtnetlink objects the monitor dumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Network interfaces (`ifinfomsg`).
    Link,
    /// Interface addresses (`ifaddrmsg`).
    Addr,
    /// Routes (`rtmsg`).
    Route,
    /// Neighbour (ARP/NDP) entries (`ndmsg`).
    Neigh,
}

impl Kind {
    /// Every kind, in the order the monitor adds events (links first).
    pub const ALL: [Kind; 4] = [Kind::Link, Kind::Addr, Kind::Route, Kind::Neigh];

    /// The request type of this kind's dump.
    pub fn get_type(self) -> u16 {
        match self {
            Kind::Link => RTM_GETLINK,
            Kind::Addr => RTM_GETADDR,
            Kind::Route => RTM_GETROUTE,
            Kind::Neigh => RTM_GETNEIGH,
        }
    }

    /// The message type of this kind's dumped objects and of its "new or changed" events.
    pub fn new_type(self) -> u16 {
        self.get_type() - 2
    }

    /// The message type of this kind's "removed" events.
    pub fn del_type(self) -> u16 {
        self.get_type() - 1
    }

    /// The family to put in the dump request's `rtgenmsg`/`ifinfomsg`: `AF_UNSPEC` for all
    /// kinds. Linux answers `AF_UNSPEC` with every family (`rtnl_dump_all` for addresses and
    /// routes, all neighbour tables, `rtnl_dump_ifinfo` for links: what vishvananda/netlink and
    /// libnl request; `ip link` sends `AF_PACKET`, which Linux maps to the same handler).
    pub fn dump_family(self) -> u8 {
        AF_UNSPEC
    }

    /// Bitmask of the groups this kind emits to: bit `g - 1` for `RTNLGRP` `g`.
    pub fn groups(self) -> u64 {
        let bit = |g: u32| 1u64 << (g - 1);
        match self {
            Kind::Link => bit(RTNLGRP_LINK),
            Kind::Addr => bit(RTNLGRP_IPV4_IFADDR) | bit(RTNLGRP_IPV6_IFADDR),
            Kind::Route => bit(RTNLGRP_IPV4_ROUTE) | bit(RTNLGRP_IPV6_ROUTE),
            Kind::Neigh => bit(RTNLGRP_NEIGH),
        }
    }

    /// The group an object of this kind and family is announced to; `None` for families
    /// gvnet does not track.
    pub fn group(self, family: u8) -> Option<u32> {
        match (self, family) {
            (Kind::Link, _) => Some(RTNLGRP_LINK),
            (Kind::Addr, AF_INET) => Some(RTNLGRP_IPV4_IFADDR),
            (Kind::Addr, AF_INET6) => Some(RTNLGRP_IPV6_IFADDR),
            (Kind::Route, AF_INET) => Some(RTNLGRP_IPV4_ROUTE),
            (Kind::Route, AF_INET6) => Some(RTNLGRP_IPV6_ROUTE),
            (Kind::Neigh, AF_INET | AF_INET6) => Some(RTNLGRP_NEIGH),
            _ => None,
        }
    }

    /// Size of the fixed header that starts the body (`ifinfomsg`, `ifaddrmsg`, `rtmsg`,
    /// `ndmsg`).
    pub fn header_len(self) -> usize {
        match self {
            Kind::Link => 16,
            Kind::Addr => 8,
            Kind::Route | Kind::Neigh => 12,
        }
    }

    fn top(self) -> Ctx {
        match self {
            Kind::Link => Ctx::Link,
            Kind::Addr => Ctx::Addr,
            Kind::Route => Ctx::Route,
            Kind::Neigh => Ctx::Neigh,
        }
    }
}

/// One multicast event, as Linux would send it. The monitor adds the `nlmsghdr`
/// (`nlmsg_len` = 16 + `body.len()`, `nlmsg_type` = `msg_type`, flags 0, seq 0, pid 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `RTNLGRP_*` group it goes to.
    pub group: u32,
    /// `RTM_NEW*` or `RTM_DEL*`.
    pub msg_type: u16,
    /// The message after the `nlmsghdr`.
    pub body: &'a [u8],
}

/// Why [`View::load`] refused a dump. After an error the current state is unchanged and the
/// staged one is empty: `removed` and `added_or_changed` report nothing and `commit` keeps the
/// current state, so the next good dump is compared with the last good one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The store is too small for this dump (see [`store_size`]).
    Full,
    /// The dump does not parse: a bad `nlmsg_len`, a body shorter than its header, attributes
    /// that overrun the message, an address longer than 16 bytes.
    Malformed,
    /// A message carries `NLM_F_DUMP_INTR`: the kernel's state changed during the dump, which
    /// may then miss objects. Dump again.
    Interrupted,
}

/// The store size that is always enough for a dump of `dump_len` bytes: each object takes at
/// most twice its message size (a 12-byte record header, its key, its body, a 4-byte index
/// entry; a key is never longer than the body it comes from plus 2 bytes), and the store holds
/// two generations (current and staged).
pub const fn store_size(dump_len: usize) -> usize {
    dump_len.saturating_mul(4).saturating_add(16)
}

/// Longest key: route family, lengths, tos (4) + table (4) + priority (4) + 2 x (1 + 16).
const KEY_MAX: usize = 48;
/// Groups of objects with one key larger than this are paired in dump order only, which keeps
/// the cost O(n log n) whatever the dump.
const GROUP_SCAN: usize = 16;
const REC_HDR: usize = 12;
const NO_PEER: u32 = u32::MAX;
const ST_MATCHED: u8 = 1;
const ST_EMIT: u8 = 2;

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
            self.gens[self.cur].count
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
        self.gens[s] = Gen::default();
        if let Err(e) = self.fill(s, dump) {
            self.gens[s] = Gen::default();
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
        let used = self.gens[h].used;
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
        let g = self.gens[s];
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
        self.gens[s] = Gen {
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
        while off < self.gens[c].used {
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

    /// The idle case: same keys in the same order. Pairs by position and returns true, or
    /// returns false without marking anything.
    fn pair_by_position(&mut self, c: usize, s: usize) -> bool {
        if self.gens[c].count != self.gens[s].count {
            return false;
        }
        let (mut oc, mut os) = (0, 0);
        while oc < self.gens[c].used && os < self.gens[s].used {
            let (Some(a), Some(b)) = (self.rec(c, oc), self.rec(s, os)) else {
                return false;
            };
            if a.key != b.key {
                return false;
            }
            oc += a.size;
            os += b.size;
        }
        let (mut oc, mut os) = (0, 0);
        while oc < self.gens[c].used && os < self.gens[s].used {
            let (Some(a), Some(b)) = (self.rec(c, oc), self.rec(s, os)) else {
                break;
            };
            let (na, nb) = (a.size, b.size);
            self.pair(c, oc, s, os);
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
        if self.gens[h].sorted {
            return;
        }
        let n = self.gens[h].count;
        for i in (0..n / 2).rev() {
            self.sift_down(h, i, n);
        }
        for end in (1..n).rev() {
            self.swap_idx(h, 0, end);
            self.sift_down(h, 0, end);
        }
        self.gens[h].sorted = true;
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
        let (nc, ns) = (self.gens[c].count, self.gens[s].count);
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
                !same_content(self.kind, a.body, b.body, false)
                    && !(self.kind == Kind::Neigh && neigh_silent_change(a.body, b.body))
            }
            _ => true,
        };
        self.set_status(c, oc, ST_MATCHED, os as u32);
        let st = if emit { ST_MATCHED | ST_EMIT } else { ST_MATCHED };
        self.set_status(s, os, st, oc as u32);
    }

    /// Unpaired current objects are removed, unpaired staged objects are new; link events get
    /// Linux's `ifi_change`.
    fn finish(&mut self, c: usize, s: usize) {
        let link = self.kind == Kind::Link;
        let mut off = 0;
        while off < self.gens[c].used {
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
        while off < self.gens[s].used {
            let Some(r) = self.rec(s, off) else { break };
            let (size, status, peer) = (r.size, r.status, r.peer);
            if status & ST_MATCHED == 0 {
                let silent = self.kind == Kind::Neigh && neigh_silent_new(r.body);
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

// ---- keys ----

struct KeyBuf {
    buf: [u8; KEY_MAX],
    len: usize,
}

impl KeyBuf {
    fn new() -> Self {
        KeyBuf {
            buf: [0; KEY_MAX],
            len: 0,
        }
    }

    fn push(&mut self, b: &[u8]) -> Result<(), Error> {
        let end = self.len.checked_add(b.len()).ok_or(Error::Malformed)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Error::Malformed)?;
        dst.copy_from_slice(b);
        self.len = end;
        Ok(())
    }

    /// An address with its length in front, so that keys of different shapes never collide.
    fn push_addr(&mut self, a: Option<&[u8]>) -> Result<(), Error> {
        let a = a.unwrap_or(&[]);
        if a.len() > 16 {
            return Err(Error::Malformed);
        }
        self.push(&[a.len() as u8])?;
        self.push(a)
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Writes the key of `body` into `key`. Returns false for an object this kind does not track.
fn extract_key(kind: Kind, body: &[u8], key: &mut KeyBuf) -> Result<bool, Error> {
    let hdr = body.get(..kind.header_len()).ok_or(Error::Malformed)?;
    let attrs = Attrs::new(body.get(kind.header_len()..).unwrap_or(&[]));
    let family = hdr.first().copied().unwrap_or(0);
    let field = |from: usize, to: usize| hdr.get(from..to).ok_or(Error::Malformed);
    match kind {
        Kind::Link => key.push(field(4, 8)?)?,
        Kind::Addr => {
            if kind.group(family).is_none() {
                return Ok(false);
            }
            let (mut address, mut local) = (None, None);
            for (t, p) in attrs {
                match t {
                    IFA_ADDRESS => address = Some(p),
                    IFA_LOCAL => local = Some(p),
                    _ => {}
                }
            }
            key.push(field(0, 2)?)?; // family, prefixlen
            key.push(field(4, 8)?)?; // ifindex
            key.push_addr(local.or(address))?;
            if family == AF_INET && local.is_some() {
                key.push_addr(address)?;
            }
        }
        Kind::Route => {
            if kind.group(family).is_none() {
                return Ok(false);
            }
            let (mut dst, mut src, mut prio, mut table) = (None, None, 0u32, None);
            for (t, p) in attrs {
                match t {
                    RTA_DST => dst = Some(p),
                    RTA_SRC => src = Some(p),
                    RTA_PRIORITY => prio = rd_u32(p, 0).ok_or(Error::Malformed)?,
                    RTA_TABLE => table = Some(rd_u32(p, 0).ok_or(Error::Malformed)?),
                    _ => {}
                }
            }
            let table = table.unwrap_or(u32::from(hdr.get(4).copied().unwrap_or(0)));
            key.push(field(0, 4)?)?; // family, dst_len, src_len, tos
            key.push(&table.to_be_bytes())?;
            key.push(&prio.to_be_bytes())?;
            key.push_addr(dst)?;
            key.push_addr(src)?;
        }
        Kind::Neigh => {
            if kind.group(family).is_none() {
                return Ok(false);
            }
            let dst = attrs.filter(|(t, _)| *t == NDA_DST).map(|(_, p)| p).next();
            key.push(&[family])?;
            key.push(field(4, 8)?)?;
            key.push_addr(dst)?;
        }
    }
    Ok(true)
}

// ---- content comparison ----

/// Which rules apply to a level of attributes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Opaque,
    Link,
    LinkInfo,
    Bridge,
    BridgePort,
    Addr,
    Route,
    Multipath,
    Neigh,
}

fn ignored(ctx: Ctx, t: u16) -> bool {
    match ctx {
        Ctx::Link => matches!(
            t,
            IFLA_QDISC
                | IFLA_STATS
                | IFLA_STATS64
                | IFLA_AF_SPEC
                | IFLA_PROMISCUITY
                | IFLA_CARRIER_CHANGES
                | IFLA_PAD
                | IFLA_CARRIER_UP_COUNT
                | IFLA_CARRIER_DOWN_COUNT
                | IFLA_ALLMULTI
        ),
        Ctx::LinkInfo => t == IFLA_INFO_XSTATS,
        Ctx::Bridge => {
            (IFLA_BR_HELLO_TIMER..=IFLA_BR_GC_TIMER).contains(&t)
                || t == IFLA_BR_MCAST_QUERIER_STATE
        }
        Ctx::BridgePort => (IFLA_BRPORT_MESSAGE_AGE_TIMER..=IFLA_BRPORT_HOLD_TIMER).contains(&t),
        Ctx::Addr => t == IFA_CACHEINFO,
        Ctx::Route => t == RTA_CACHEINFO || t == RTA_EXPIRES,
        Ctx::Neigh => t == NDA_CACHEINFO || t == NDA_PROBES,
        Ctx::Opaque | Ctx::Multipath => false,
    }
}

/// The string of an `IFLA_INFO_KIND`-like attribute, without its NUL.
fn is_bridge(kind: &[u8]) -> bool {
    let end = kind.iter().position(|&b| b == 0).unwrap_or(kind.len());
    kind.get(..end) == Some(b"bridge".as_slice())
}

fn child(ctx: Ctx, t: u16, info_kind: &[u8], slave_kind: &[u8]) -> Ctx {
    match (ctx, t) {
        (Ctx::Link, IFLA_LINKINFO) => Ctx::LinkInfo,
        (Ctx::LinkInfo, IFLA_INFO_DATA) if is_bridge(info_kind) => Ctx::Bridge,
        (Ctx::LinkInfo, IFLA_INFO_SLAVE_DATA) if is_bridge(slave_kind) => Ctx::BridgePort,
        (Ctx::Route, RTA_MULTIPATH) => Ctx::Multipath,
        _ => Ctx::Opaque,
    }
}

/// Whether two bodies of `kind` agree in everything Linux announces a change of.
/// `ignore_state` leaves out a neighbour's `ndm_state`.
fn same_content(kind: Kind, a: &[u8], b: &[u8], ignore_state: bool) -> bool {
    let hl = kind.header_len();
    let (Some(ha), Some(hb)) = (a.get(..hl), b.get(..hl)) else {
        return a == b;
    };
    let header_same = match kind {
        // family, type, index, flags; not the pad byte, not ifi_change
        Kind::Link => part(ha, 0..1) == part(hb, 0..1) && part(ha, 2..12) == part(hb, 2..12),
        Kind::Addr => ha == hb,
        Kind::Route => {
            part(ha, 0..8) == part(hb, 0..8)
                && rd_u32(ha, 8).unwrap_or(0) & !RT_SILENT_FLAGS
                    == rd_u32(hb, 8).unwrap_or(0) & !RT_SILENT_FLAGS
        }
        // family, ifindex, state, flags, type; not the padding
        Kind::Neigh => {
            part(ha, 0..1) == part(hb, 0..1)
                && part(ha, 4..8) == part(hb, 4..8)
                && (ignore_state || part(ha, 8..10) == part(hb, 8..10))
                && part(ha, 10..12) == part(hb, 10..12)
        }
    };
    header_same
        && attrs_equal(
            kind.top(),
            a.get(hl..).unwrap_or(&[]),
            b.get(hl..).unwrap_or(&[]),
        )
}

fn part(h: &[u8], r: core::ops::Range<usize>) -> &[u8] {
    h.get(r).unwrap_or(&[])
}

fn attrs_equal(ctx: Ctx, a: &[u8], b: &[u8]) -> bool {
    if ctx == Ctx::Opaque || !well_formed(a) || !well_formed(b) {
        return a == b;
    }
    let mut ia = Attrs::new(a).filter(|(t, _)| !ignored(ctx, *t));
    let mut ib = Attrs::new(b).filter(|(t, _)| !ignored(ctx, *t));
    let (mut info_kind, mut slave_kind): (&[u8], &[u8]) = (&[], &[]);
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return true,
            (Some((ta, pa)), Some((tb, pb))) => {
                if ta != tb {
                    return false;
                }
                if ctx == Ctx::LinkInfo {
                    match ta {
                        IFLA_INFO_KIND => info_kind = pa,
                        IFLA_INFO_SLAVE_KIND => slave_kind = pa,
                        _ => {}
                    }
                }
                let same = match child(ctx, ta, info_kind, slave_kind) {
                    Ctx::Opaque => pa == pb,
                    Ctx::Multipath => multipath_equal(pa, pb),
                    c => attrs_equal(c, pa, pb),
                };
                if !same {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// `RTA_MULTIPATH`: a list of `rtnexthop` (len u16, flags u8, hops u8, ifindex i32, then
/// attributes up to len), compared without the flags Linux flips silently.
fn multipath_equal(a: &[u8], b: &[u8]) -> bool {
    let (mut ra, mut rb) = (a, b);
    loop {
        match (ra.is_empty(), rb.is_empty()) {
            (true, true) => return true,
            (false, false) => {}
            _ => return a == b,
        }
        let (Some(na), Some(nb)) = (nexthop(ra), nexthop(rb)) else {
            return a == b;
        };
        let flags_a = u32::from(na.0.get(2).copied().unwrap_or(0)) & !RT_SILENT_FLAGS;
        let flags_b = u32::from(nb.0.get(2).copied().unwrap_or(0)) & !RT_SILENT_FLAGS;
        if na.0.get(..2) != nb.0.get(..2)
            || flags_a != flags_b
            || na.0.get(3..) != nb.0.get(3..)
        {
            return false;
        }
        ra = na.1;
        rb = nb.1;
    }
}

/// One `rtnexthop` and what follows it.
fn nexthop(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = rd_u16(b, 0)? as usize;
    if len < 8 || len > b.len() {
        return None;
    }
    Some((b.get(..len)?, b.get(align4(len)..).unwrap_or(&[])))
}

fn nud_state(body: &[u8]) -> u16 {
    rd_u16(body, 8).unwrap_or(0)
}

/// A neighbour state change Linux makes without notifying: `REACHABLE`/`STALE` -> `DELAY`
/// (timer, `__neigh_event_send`), and an invalid state -> `INCOMPLETE`/`NONE`
/// (`__neigh_event_send`), with nothing else changed.
fn neigh_silent_change(old: &[u8], new: &[u8]) -> bool {
    let (o, n) = (nud_state(old), nud_state(new));
    let silent = (n == NUD_DELAY && o & (NUD_REACHABLE | NUD_STALE) != 0)
        || ((n == NUD_INCOMPLETE || n == NUD_NONE) && o & NUD_VALID == 0);
    silent && same_content(Kind::Neigh, old, new, true)
}

/// A neighbour entry Linux creates without notifying: still unresolved.
fn neigh_silent_new(body: &[u8]) -> bool {
    matches!(nud_state(body), NUD_NONE | NUD_INCOMPLETE)
}

// ---- attributes and bytes ----

/// Iterates `(type without flags, payload)` over netlink attributes. Stops at the end or at
/// the first attribute that overruns the buffer (then `bad` is set). Up to 3 trailing bytes
/// are padding, as `nla_parse` tolerates.
struct Attrs<'b> {
    rest: &'b [u8],
    bad: bool,
}

impl<'b> Attrs<'b> {
    fn new(b: &'b [u8]) -> Self {
        Attrs {
            rest: b,
            bad: false,
        }
    }
}

impl<'b> Iterator for Attrs<'b> {
    type Item = (u16, &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 4 {
            return None;
        }
        let len = rd_u16(self.rest, 0).unwrap_or(0) as usize;
        let ty = rd_u16(self.rest, 2).unwrap_or(0) & NLA_TYPE_MASK;
        let Some(payload) = self.rest.get(4..len) else {
            self.bad = true;
            self.rest = &[];
            return None;
        };
        self.rest = self.rest.get(align4(len)..).unwrap_or(&[]);
        Some((ty, payload))
    }
}

fn well_formed(b: &[u8]) -> bool {
    let mut it = Attrs::new(b);
    for _ in it.by_ref() {}
    !it.bad
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn rd_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(s.try_into().ok()?))
}

fn rd_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(s.try_into().ok()?))
}

fn wr_u16(b: &mut [u8], at: usize, v: u16) {
    if let Some(s) = at.checked_add(2).and_then(|end| b.get_mut(at..end)) {
        copy(s, &v.to_ne_bytes());
    }
}

fn wr_u32(b: &mut [u8], at: usize, v: u32) {
    if let Some(s) = at.checked_add(4).and_then(|end| b.get_mut(at..end)) {
        copy(s, &v.to_ne_bytes());
    }
}

/// Copies as much of `src` as fits into `dst` (never panics on a length mismatch).
fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}
