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
//! | route | family, table (`RTA_TABLE`, else `rtm_table`), `RTA_DST` + `rtm_dst_len`, `RTA_SRC` + `rtm_src_len` (IPv6 source routing subtrees), `rtm_tos`, `RTA_PRIORITY` (0 when absent); for IPv6 also `RTA_GATEWAY` and `RTA_OIF` (fib6 keeps routes of one prefix and metric apart by next hop: `fe80::/64` and `ff00::/8` exist once per device) |
//! | neighbour | family, `ndm_ifindex`, `NDA_DST` |
//!
//! An IPv6 route replaced in place with another next hop (`ip -6 route replace`) therefore
//! reads as `RTM_DELROUTE` + `RTM_NEWROUTE` where Linux sends one `RTM_NEWROUTE`.
//!
//! Linux allows several objects with one route key (IPv4 aliases added with `NLM_F_APPEND`,
//! IPv6 multipath routes). Such objects are paired
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
//!   change in every dump, and the bridge's counters (`IFLA_BR_FDB_N_LEARNED`,
//!   `IFLA_BRPORT_MCAST_N_GROUPS`, `IFLA_BRPORT_MCAST_EHT_HOSTS_CNT`);
//! - address: `IFA_CACHEINFO` (remaining lifetimes count down); and an IPv6 address the kernel
//!   configured itself (`IFA_PROTO` kernel_ll or kernel_ra) while it is still tentative: Linux
//!   announces it when DAD completes, not when it is created (a manually added address is
//!   announced at once);
//! - route: `RTA_CACHEINFO`, `RTA_EXPIRES`, and the next-hop flags Linux flips silently
//!   (`RTNH_F_DEAD`, `RTNH_F_LINKDOWN`, `RTNH_F_OFFLOAD`, `RTNH_F_TRAP`, `RTM_F_OFFLOAD`,
//!   `RTM_F_TRAP`, `RTM_F_OFFLOAD_FAILED`) in `rtm_flags` and in each `RTA_MULTIPATH` next hop;
//! - neighbour: `NDA_CACHEINFO`, `NDA_PROBES`, the `ndmsg` padding; and the state transitions
//!   Linux makes without a notification (net/core/neighbour.c): an entry that appears in
//!   `NUD_NONE` or `NUD_INCOMPLETE` (creation and `__neigh_event_send` notify nothing),
//!   `NUD_REACHABLE`/`NUD_STALE` -> `NUD_DELAY`, an invalid state -> `NUD_INCOMPLETE`/`NUD_NONE`,
//!   and an entry that appears in `NUD_NOARP` (the ARP/NDP constructors create multicast,
//!   broadcast and NOARP-device entries that way without a notification).
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
//! same keys in the same order with the same compared content as the last one (the idle case:
//! kernels dump in a stable order) that one pass is all: O(n), no sorting. Otherwise both
//! generations are heap-sorted by key (O(n log n), no allocation) and merged. Content comparison
//! is a full comparison of the compared parts (no hash, so no collision can hide a change),
//! linear in the object size.

use core::cmp::Ordering;

/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_DELLINK`.
pub const RTM_DELLINK: u16 = 17;
/// `RTM_GETLINK`.
pub const RTM_GETLINK: u16 = 18;
/// `RTM_SETLINK`.
pub const RTM_SETLINK: u16 = 19;
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

pub use crate::abi::{
    RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK,
    RTNLGRP_NEIGH,
};

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
const IFLA_BR_FDB_N_LEARNED: u16 = 48;
const IFLA_BRPORT_MESSAGE_AGE_TIMER: u16 = 21;
const IFLA_BRPORT_HOLD_TIMER: u16 = 23;
const IFLA_BRPORT_MCAST_EHT_HOSTS_CNT: u16 = 38;
const IFLA_BRPORT_MCAST_N_GROUPS: u16 = 41;
// IFA_*
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_PROTO: u16 = 11;
const IFA_F_OPTIMISTIC: u32 = 0x04;
const IFA_F_TENTATIVE: u32 = 0x40;
const IFAPROT_KERNEL_RA: u8 = 2;
const IFAPROT_KERNEL_LL: u8 = 3;
// RTA_*
const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
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

/// The store size that is always enough for a dump of `dump_len` bytes: each object takes less
/// than twice its message size (a 12-byte record header, its key, its body, a 4-byte index
/// entry; a key is at most 7 bytes longer than the body it comes from, while the message is
/// 16 bytes longer than the body), and the store holds two generations (current and staged).
pub const fn store_size(dump_len: usize) -> usize {
    dump_len.saturating_mul(4).saturating_add(16)
}

/// Longest key: an IPv6 route's family, lengths, tos (4) + table (4) + priority (4) +
/// 3 x (1 + 16) addresses + oif (4).
const KEY_MAX: usize = 72;
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
            let (mut gateway, mut oif) = (None, 0u32);
            for (t, p) in attrs {
                match t {
                    RTA_DST => dst = Some(p),
                    RTA_SRC => src = Some(p),
                    RTA_GATEWAY => gateway = Some(p),
                    RTA_OIF => oif = rd_u32(p, 0).ok_or(Error::Malformed)?,
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
            if family == AF_INET6 {
                // fib6 keeps routes of one prefix and metric apart by next hop (fe80::/64
                // and ff00::/8 exist once per device).
                key.push_addr(gateway)?;
                key.push(&oif.to_be_bytes())?;
            }
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
                || t == IFLA_BR_FDB_N_LEARNED
        }
        Ctx::BridgePort => {
            (IFLA_BRPORT_MESSAGE_AGE_TIMER..=IFLA_BRPORT_HOLD_TIMER).contains(&t)
                || t == IFLA_BRPORT_MCAST_EHT_HOSTS_CNT
                || t == IFLA_BRPORT_MCAST_N_GROUPS
        }
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
        if na.0.get(..2) != nb.0.get(..2) || flags_a != flags_b || na.0.get(3..) != nb.0.get(3..) {
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

/// A neighbour entry Linux creates without notifying: still unresolved, or `NUD_NOARP` as
/// the protocol constructors (`arp_constructor`, `ndisc_constructor`) set it for multicast
/// and broadcast destinations and NOARP devices.
fn neigh_silent_new(body: &[u8]) -> bool {
    matches!(nud_state(body), NUD_NONE | NUD_INCOMPLETE | NUD_NOARP)
}

/// An IPv6 address the kernel configured itself (link-local or SLAAC: `IFA_PROTO`
/// `IFAPROT_KERNEL_LL` / `IFAPROT_KERNEL_RA`) that is still tentative and not optimistic:
/// Linux announces it only when DAD completes (`addrconf_dad_completed`), which here is the
/// flags change that follows. Addresses added by a user are announced at once, tentative or
/// not (`inet6_addr_add`).
fn addr_silent_new(body: &[u8]) -> bool {
    if body.first() != Some(&AF_INET6) {
        return false;
    }
    let mut flags = u32::from(body.get(2).copied().unwrap_or(0));
    let mut proto = 0;
    for (t, p) in Attrs::new(body.get(Kind::Addr.header_len()..).unwrap_or(&[])) {
        match t {
            IFA_FLAGS => flags = rd_u32(p, 0).unwrap_or(flags),
            IFA_PROTO => proto = p.first().copied().unwrap_or(0),
            _ => {}
        }
    }
    flags & (IFA_F_TENTATIVE | IFA_F_OPTIMISTIC) == IFA_F_TENTATIVE
        && matches!(proto, IFAPROT_KERNEL_RA | IFAPROT_KERNEL_LL)
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

#[cfg(test)]
mod tests {
    //! The oracle is netlink-packet-route: dumps are built with it and every event is parsed
    //! back with it.
    use super::*;
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_MULTIPART};
    use netlink_packet_route::address::{
        AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
    };
    use netlink_packet_route::link::{
        InfoBridge, InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, LinkAttribute,
        LinkFlags, LinkInfo, LinkLayerType, LinkMessage, State, Stats64,
    };
    use netlink_packet_route::neighbour::{
        NeighbourAddress, NeighbourAttribute, NeighbourCacheInfo, NeighbourMessage, NeighbourState,
    };
    use netlink_packet_route::route::{
        RouteAddress, RouteAttribute, RouteCacheInfo, RouteFlags, RouteMessage, RouteNextHop,
        RouteNextHopFlags, RouteProtocol, RouteScope, RouteType,
    };
    use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as M};
    use std::collections::BTreeMap;
    use std::vec::Vec;

    const UP: u32 = 1;
    const BROADCAST: u32 = 2;
    const MULTICAST: u32 = 1 << 12;

    #[derive(Clone, Debug, PartialEq)]
    struct Ev {
        group: u32,
        ty: u16,
        body: Vec<u8>,
    }

    impl Ev {
        fn msg(&self) -> M {
            parse(self.ty, &self.body)
        }
    }

    fn nl_bytes(m: &M, flags: u16) -> Vec<u8> {
        let mut nl = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(m.clone()),
        );
        nl.header.flags = flags;
        nl.header.sequence_number = 7;
        nl.header.port_number = 4242;
        nl.finalize();
        let mut buf = vec![0; nl.buffer_len()];
        nl.serialize(&mut buf);
        buf
    }

    fn done() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(20u32.to_ne_bytes());
        b.extend(3u16.to_ne_bytes());
        b.extend(NLM_F_MULTIPART.to_ne_bytes());
        b.extend(7u32.to_ne_bytes());
        b.extend(4242u32.to_ne_bytes());
        b.extend(0i32.to_ne_bytes());
        b
    }

    /// A dump as the kernel sends it: NLM_F_MULTI messages, then NLMSG_DONE.
    fn dump(msgs: &[M]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            out.extend(nl_bytes(m, NLM_F_MULTIPART));
        }
        out.extend(done());
        out
    }

    /// Parses an event the way a listener would, with the header the monitor adds.
    fn parse(ty: u16, body: &[u8]) -> M {
        let mut b = Vec::new();
        b.extend(((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        b.extend(ty.to_ne_bytes());
        b.extend([0u8; 10]);
        b.extend(body);
        match NetlinkMessage::<M>::deserialize(&b)
            .expect("event parses")
            .payload
        {
            NetlinkPayload::InnerMessage(m) => m,
            p => panic!("not an rtnetlink message: {p:?}"),
        }
    }

    /// One monitor cycle on one view: load, removed, added_or_changed, commit.
    fn cycle(v: &mut View<'_>, d: &[u8]) -> Vec<Ev> {
        v.load(d).expect("load");
        let mut evs = Vec::new();
        let mut push = |e: &Event<'_>| {
            evs.push(Ev {
                group: e.group,
                ty: e.msg_type,
                body: e.body.to_vec(),
            })
        };
        v.removed(&mut push);
        v.added_or_changed(&mut push);
        v.commit();
        evs
    }

    // ---- builders ----

    fn mac(n: u8) -> Vec<u8> {
        vec![0x02, 0, 0, 0, 0, n]
    }

    fn link(idx: u32, name: &str, flags: u32) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = idx;
        m.header.link_layer_type = LinkLayerType::Ether;
        m.header.flags = LinkFlags::from_bits_retain(flags);
        m.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::TxQueueLen(1000),
            LinkAttribute::OperState(State::Up),
            LinkAttribute::Mtu(1500),
            LinkAttribute::Qdisc("noqueue".into()),
            LinkAttribute::Promiscuity(0),
            LinkAttribute::CarrierChanges(2),
            LinkAttribute::Address(mac(idx as u8)),
            LinkAttribute::Broadcast(vec![0xff; 6]),
            LinkAttribute::Stats64(Stats64::default()),
        ];
        m
    }

    fn set_link_attr(m: &mut LinkMessage, a: LinkAttribute) {
        let d = core::mem::discriminant(&a);
        match m
            .attributes
            .iter_mut()
            .find(|x| core::mem::discriminant(*x) == d)
        {
            Some(x) => *x = a,
            None => m.attributes.push(a),
        }
    }

    fn stats(rx: u64) -> LinkAttribute {
        let mut s = Stats64::default();
        s.rx_packets = rx;
        s.rx_bytes = rx * 100;
        LinkAttribute::Stats64(s)
    }

    fn addr(ip: IpAddr, plen: u8, idx: u32) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = match ip {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        m.header.prefix_len = plen;
        m.header.index = idx;
        m.header.scope = AddressScope::Universe;
        m.header.flags = AddressHeaderFlags::Permanent;
        m.attributes = vec![
            AddressAttribute::Address(ip),
            AddressAttribute::Local(ip),
            AddressAttribute::CacheInfo(addr_ci(u32::MAX, u32::MAX, 100, 100)),
            AddressAttribute::Flags(AddressFlags::Permanent),
        ];
        m
    }

    fn route(dst: IpAddr, plen: u8, table: u32, prio: Option<u32>, oif: u32) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = match dst {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        m.header.destination_prefix_length = plen;
        m.header.table = table.min(255) as u8;
        m.header.protocol = RouteProtocol::Kernel;
        m.header.scope = RouteScope::Link;
        m.header.kind = RouteType::Unicast;
        m.attributes = vec![RouteAttribute::Table(table)];
        let ra = match dst {
            IpAddr::V4(a) => RouteAddress::Inet(a),
            IpAddr::V6(a) => RouteAddress::Inet6(a),
        };
        if plen > 0 {
            m.attributes.push(RouteAttribute::Destination(ra));
        }
        if let Some(p) = prio {
            m.attributes.push(RouteAttribute::Priority(p));
        }
        m.attributes.push(RouteAttribute::Oif(oif));
        m
    }

    fn neigh(ip: IpAddr, idx: u32, state: NeighbourState, ll: u8) -> NeighbourMessage {
        let mut m = NeighbourMessage::default();
        m.header.family = match ip {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        m.header.ifindex = idx;
        m.header.state = state;
        m.header.kind = RouteType::Unicast;
        m.attributes = vec![
            NeighbourAttribute::Destination(match ip {
                IpAddr::V4(a) => NeighbourAddress::Inet(a),
                IpAddr::V6(a) => NeighbourAddress::Inet6(a),
            }),
            NeighbourAttribute::LinkLayerAddress(mac(ll)),
            NeighbourAttribute::CacheInfo(neigh_ci(10)),
            NeighbourAttribute::Probes(0),
        ];
        m
    }

    fn words(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    fn addr_ci(preferred: u32, valid: u32, cstamp: u32, tstamp: u32) -> CacheInfo {
        CacheInfo::parse(&words(&[preferred, valid, cstamp, tstamp])).unwrap()
    }

    fn route_ci(used: u32) -> RouteCacheInfo {
        RouteCacheInfo::parse(&words(&[0, used, 300, 0, used, 0, 0, 0])).unwrap()
    }

    fn neigh_ci(t: u32) -> NeighbourCacheInfo {
        NeighbourCacheInfo::parse(&words(&[t, t, t, 1])).unwrap()
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn v6(last: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, last))
    }

    fn links(ls: &[LinkMessage]) -> Vec<u8> {
        dump(&ls.iter().cloned().map(M::NewLink).collect::<Vec<_>>())
    }

    fn as_link(e: &Ev) -> LinkMessage {
        match e.msg() {
            M::NewLink(m) | M::DelLink(m) => m,
            m => panic!("not a link: {m:?}"),
        }
    }

    struct Fixture {
        store: Vec<u8>,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                store: vec![0; 1 << 20],
            }
        }
        fn view(&mut self, kind: Kind) -> View<'_> {
            View::new(kind, &mut self.store)
        }
    }

    // ---- Kind ----

    #[test]
    fn kind_numbers_match_the_oracle_and_libc() {
        assert_eq!(Kind::Link.get_type(), libc::RTM_GETLINK);
        assert_eq!(Kind::Addr.get_type(), libc::RTM_GETADDR);
        assert_eq!(Kind::Route.get_type(), libc::RTM_GETROUTE);
        assert_eq!(Kind::Neigh.get_type(), libc::RTM_GETNEIGH);
        assert_eq!(Kind::Link.new_type(), libc::RTM_NEWLINK);
        assert_eq!(Kind::Link.del_type(), libc::RTM_DELLINK);
        assert_eq!(Kind::Addr.new_type(), libc::RTM_NEWADDR);
        assert_eq!(Kind::Addr.del_type(), libc::RTM_DELADDR);
        assert_eq!(Kind::Route.new_type(), libc::RTM_NEWROUTE);
        assert_eq!(Kind::Route.del_type(), libc::RTM_DELROUTE);
        assert_eq!(Kind::Neigh.new_type(), libc::RTM_NEWNEIGH);
        assert_eq!(Kind::Neigh.del_type(), libc::RTM_DELNEIGH);
        assert_eq!(RTNLGRP_LINK, libc::RTNLGRP_LINK);
        assert_eq!(RTNLGRP_NEIGH, libc::RTNLGRP_NEIGH);
        assert_eq!(RTNLGRP_IPV4_IFADDR, libc::RTNLGRP_IPV4_IFADDR);
        assert_eq!(RTNLGRP_IPV4_ROUTE, libc::RTNLGRP_IPV4_ROUTE);
        assert_eq!(RTNLGRP_IPV6_IFADDR, libc::RTNLGRP_IPV6_IFADDR);
        assert_eq!(RTNLGRP_IPV6_ROUTE, libc::RTNLGRP_IPV6_ROUTE);
        assert_eq!(Kind::Link.groups(), libc::RTMGRP_LINK as u64);
        assert_eq!(Kind::Neigh.groups(), libc::RTMGRP_NEIGH as u64);
        assert_eq!(
            Kind::Addr.groups(),
            (libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u64
        );
        assert_eq!(
            Kind::Route.groups(),
            (libc::RTMGRP_IPV4_ROUTE | libc::RTMGRP_IPV6_ROUTE) as u64
        );
        for k in Kind::ALL {
            assert_eq!(k.dump_family(), libc::AF_UNSPEC as u8);
        }
        assert_eq!(AF_INET6, libc::AF_INET6 as u8);
    }

    // ---- links ----

    #[test]
    fn first_load_is_the_baseline() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Link);
        assert!(!v.primed());
        let d = links(&[link(1, "lo", UP), link(2, "eth0", UP | BROADCAST)]);
        assert!(cycle(&mut v, &d).is_empty());
        assert!(v.primed());
        assert_eq!(v.len(), 2);
        assert!(cycle(&mut v, &d).is_empty(), "same dump again");
    }

    #[test]
    fn link_added_and_removed() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Link);
        let lo = link(1, "lo", UP);
        let veth = link(7, "veth0", BROADCAST | MULTICAST);
        cycle(&mut v, &links(core::slice::from_ref(&lo)));
        let evs = cycle(&mut v, &links(&[lo.clone(), veth.clone()]));
        assert_eq!(evs.len(), 1);
        assert_eq!((evs[0].group, evs[0].ty), (RTNLGRP_LINK, RTM_NEWLINK));
        let mut want = veth.clone();
        want.header.change_mask = LinkFlags::from_bits_retain(!0);
        assert_eq!(as_link(&evs[0]), want, "the dumped object, ifi_change ~0");

        // Removal carries the last known state.
        let mut veth2 = veth.clone();
        set_link_attr(&mut veth2, LinkAttribute::Mtu(9000));
        cycle(&mut v, &links(&[lo.clone(), veth2.clone()]));
        let evs = cycle(&mut v, &links(core::slice::from_ref(&lo)));
        assert_eq!(evs.len(), 1);
        assert_eq!((evs[0].group, evs[0].ty), (RTNLGRP_LINK, RTM_DELLINK));
        let mut want = veth2;
        want.header.change_mask = LinkFlags::from_bits_retain(!0);
        assert_eq!(as_link(&evs[0]), want);
        assert!(cycle(&mut v, &links(&[lo])).is_empty());
    }

    #[test]
    fn link_changes_yield_newlink() {
        let base = link(5, "eth1", BROADCAST | MULTICAST);
        let mut cases: Vec<(&str, LinkMessage, u32)> = Vec::new();
        let mut m = base.clone();
        set_link_attr(&mut m, LinkAttribute::Mtu(1400));
        cases.push(("mtu", m, 0));
        let mut m = base.clone();
        m.header.flags = LinkFlags::from_bits_retain(BROADCAST | MULTICAST | UP);
        cases.push(("up", m, UP));
        let mut m = base.clone();
        m.header.flags =
            LinkFlags::from_bits_retain(BROADCAST | MULTICAST | UP | IFF_RUNNING | IFF_LOWER_UP);
        cases.push(("up with carrier", m, UP));
        let mut m = base.clone();
        set_link_attr(&mut m, LinkAttribute::IfName("eth9".into()));
        cases.push(("rename", m, 0));
        let mut m = base.clone();
        set_link_attr(&mut m, LinkAttribute::Controller(3));
        cases.push(("master", m, 0));
        let mut m = base.clone();
        set_link_attr(&mut m, LinkAttribute::Address(mac(99)));
        cases.push(("address", m, 0));
        let mut m = base.clone();
        set_link_attr(&mut m, LinkAttribute::OperState(State::Down));
        cases.push(("operstate", m, 0));

        for (what, changed, change) in cases {
            let mut f = Fixture::new();
            let mut v = f.view(Kind::Link);
            cycle(&mut v, &links(core::slice::from_ref(&base)));
            let evs = cycle(&mut v, &links(core::slice::from_ref(&changed)));
            assert_eq!(evs.len(), 1, "{what}");
            assert_eq!(evs[0].ty, RTM_NEWLINK, "{what}");
            let mut want = changed.clone();
            want.header.change_mask = LinkFlags::from_bits_retain(change);
            assert_eq!(as_link(&evs[0]), want, "{what}");
            // and back
            let evs = cycle(&mut v, &links(core::slice::from_ref(&base)));
            assert_eq!(evs.len(), 1, "{what} back");
            let mut want = base.clone();
            want.header.change_mask = LinkFlags::from_bits_retain(change);
            assert_eq!(as_link(&evs[0]), want, "{what} back");
        }
    }

    #[test]
    fn carrier_alone_is_newlink_with_change_zero() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Link);
        let down = link(4, "veth1", UP | BROADCAST);
        let mut up = down.clone();
        up.header.flags = LinkFlags::from_bits_retain(UP | BROADCAST | IFF_RUNNING | IFF_LOWER_UP);
        set_link_attr(&mut up, LinkAttribute::CarrierChanges(3));
        cycle(&mut v, &links(&[down]));
        let evs = cycle(&mut v, &links(core::slice::from_ref(&up)));
        assert_eq!(evs.len(), 1);
        assert_eq!(as_link(&evs[0]), up, "ifi_change 0 as from linkwatch");
    }

    fn bridge(gc: u64, idx: u32) -> LinkMessage {
        let mut m = link(idx, "br0", UP | BROADCAST | MULTICAST);
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Bridge),
            LinkInfo::Data(InfoData::Bridge(vec![
                InfoBridge::ForwardDelay(1500),
                InfoBridge::HelloTimer(0),
                InfoBridge::GcTimer(gc),
                InfoBridge::StpState(netlink_packet_route::link::BridgeStpState::Disabled),
            ])),
        ]));
        m
    }

    fn port(timer: u64, cost: u32) -> LinkMessage {
        let mut m = link(9, "veth9", UP | BROADCAST | MULTICAST);
        m.attributes.push(LinkAttribute::Controller(8));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![
                InfoBridgePort::Cost(cost),
                InfoBridgePort::ForwardDelayTimer(timer),
                InfoBridgePort::HoldTimer(timer),
            ])),
        ]));
        m
    }

    #[test]
    fn counters_and_timers_alone_yield_nothing() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Link);
        let a = [link(1, "lo", UP), bridge(29900, 8), port(1397, 2)];
        cycle(&mut v, &links(&a));
        let mut b = a.clone();
        set_link_attr(&mut b[0], stats(12345));
        set_link_attr(&mut b[0], LinkAttribute::Stats(Default::default()));
        set_link_attr(&mut b[0], LinkAttribute::CarrierChanges(9));
        set_link_attr(&mut b[0], LinkAttribute::CarrierUpCount(5));
        set_link_attr(&mut b[0], LinkAttribute::Promiscuity(2));
        set_link_attr(&mut b[0], LinkAttribute::Qdisc("pfifo_fast".into()));
        b[0].header.change_mask = LinkFlags::from_bits_retain(0x55);
        b[0].attributes
            .push(LinkAttribute::AfSpecUnknown(vec![8, 0, 2, 0, 1, 2, 3, 4]));
        b[1] = bridge(29750, 8);
        b[2] = port(1247, 2);
        assert!(cycle(&mut v, &links(&b)).is_empty());
        // A compared value inside the same nests still counts.
        b[2] = port(1247, 100);
        let evs = cycle(&mut v, &links(&b));
        assert_eq!(evs.len(), 1);
        assert_eq!(as_link(&evs[0]).header.index, 9);
    }

    #[test]
    fn events_follow_dump_order() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Link);
        let old: Vec<_> = [3, 1, 2].iter().map(|&i| link(i, "x", UP)).collect();
        cycle(&mut v, &links(&old));
        let new: Vec<_> = [9, 1, 7, 5].iter().map(|&i| link(i, "x", UP)).collect();
        let evs = cycle(&mut v, &links(&new));
        let seen: Vec<_> = evs
            .iter()
            .map(|e| (e.ty, as_link(e).header.index))
            .collect();
        assert_eq!(
            seen,
            [
                (RTM_DELLINK, 3),
                (RTM_DELLINK, 2),
                (RTM_NEWLINK, 9),
                (RTM_NEWLINK, 7),
                (RTM_NEWLINK, 5)
            ]
        );
    }

    #[test]
    fn reordered_dump_without_changes_is_quiet() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Link);
        let a: Vec<_> = (1..=50).map(|i| link(i, "x", UP)).collect();
        cycle(&mut v, &links(&a));
        let mut b = a.clone();
        b.reverse();
        assert!(cycle(&mut v, &links(&b)).is_empty());
        b.swap(3, 30);
        set_link_attr(&mut b[10], LinkAttribute::Mtu(1280));
        let evs = cycle(&mut v, &links(&b));
        assert_eq!(evs.len(), 1);
        assert_eq!(as_link(&evs[0]).header.index, b[10].header.index);
    }

    // ---- addresses ----

    fn addrs(a: &[AddressMessage]) -> Vec<u8> {
        dump(&a.iter().cloned().map(M::NewAddress).collect::<Vec<_>>())
    }

    fn as_addr(e: &Ev) -> AddressMessage {
        match e.msg() {
            M::NewAddress(m) | M::DelAddress(m) => m,
            m => panic!("not an address: {m:?}"),
        }
    }

    #[test]
    fn addresses_v4_v6_added_removed_changed() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Addr);
        let lo = addr(v4(127, 0, 0, 1), 8, 1);
        let a4 = addr(v4(172, 17, 0, 2), 16, 5);
        let a6 = addr(v6(2), 64, 5);
        cycle(&mut v, &addrs(core::slice::from_ref(&lo)));
        let evs = cycle(&mut v, &addrs(&[lo.clone(), a4.clone(), a6.clone()]));
        assert_eq!(evs.len(), 2);
        assert_eq!(
            (evs[0].group, evs[0].ty),
            (RTNLGRP_IPV4_IFADDR, RTM_NEWADDR)
        );
        assert_eq!(as_addr(&evs[0]), a4);
        assert_eq!(
            (evs[1].group, evs[1].ty),
            (RTNLGRP_IPV6_IFADDR, RTM_NEWADDR)
        );
        assert_eq!(as_addr(&evs[1]), a6);

        // Lifetimes counting down: nothing. Flags (DAD done): NEWADDR.
        let mut a6b = a6.clone();
        a6b.attributes[2] = AddressAttribute::CacheInfo(addr_ci(100, 200, 1, 2));
        assert!(cycle(&mut v, &addrs(&[lo.clone(), a4.clone(), a6b.clone()])).is_empty());
        let mut a6c = a6b.clone();
        a6c.attributes[3] = AddressAttribute::Flags(AddressFlags::Permanent | AddressFlags::Nodad);
        let evs = cycle(&mut v, &addrs(&[lo.clone(), a4.clone(), a6c.clone()]));
        assert_eq!(evs.len(), 1);
        assert_eq!(as_addr(&evs[0]), a6c);

        // Same address, other prefix length: another object.
        let mut a4b = a4.clone();
        a4b.header.prefix_len = 24;
        let evs = cycle(&mut v, &addrs(&[lo.clone(), a4b.clone(), a6c.clone()]));
        assert_eq!(evs.len(), 2);
        assert_eq!((evs[0].ty, as_addr(&evs[0])), (RTM_DELADDR, a4.clone()));
        assert_eq!((evs[1].ty, as_addr(&evs[1])), (RTM_NEWADDR, a4b.clone()));

        let evs = cycle(&mut v, &addrs(core::slice::from_ref(&lo)));
        assert_eq!(evs.len(), 2);
        assert_eq!(
            (evs[0].group, evs[0].ty),
            (RTNLGRP_IPV4_IFADDR, RTM_DELADDR)
        );
        assert_eq!(
            (evs[1].group, evs[1].ty),
            (RTNLGRP_IPV6_IFADDR, RTM_DELADDR)
        );
        assert_eq!(as_addr(&evs[1]), a6c);
    }

    #[test]
    fn kernel_configured_tentative_ipv6_address_waits_for_dad() {
        let ll = |flags: AddressFlags, proto: Option<u8>| {
            let mut m = addr(
                IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 7)),
                64,
                4,
            );
            m.attributes
                .retain(|a| !matches!(a, AddressAttribute::Local(_)));
            m.attributes[2] = AddressAttribute::Flags(flags);
            if let Some(p) = proto {
                m.attributes.push(AddressAttribute::Protocol(p.into()));
            }
            m
        };
        let tentative = AddressFlags::Permanent | AddressFlags::Tentative;
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Addr);
        cycle(&mut v, &addrs(&[]));
        // Link-local (kernel_ll), tentative: nothing until DAD completes.
        assert!(cycle(&mut v, &addrs(&[ll(tentative, Some(3))])).is_empty());
        let done = ll(AddressFlags::Permanent, Some(3));
        let evs = cycle(&mut v, &addrs(core::slice::from_ref(&done)));
        assert_eq!(evs.len(), 1);
        assert_eq!((evs[0].ty, as_addr(&evs[0])), (RTM_NEWADDR, done));
        // Added by hand (no IFA_PROTO), or optimistic: announced while tentative.
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Addr);
        cycle(&mut v, &addrs(&[]));
        assert_eq!(cycle(&mut v, &addrs(&[ll(tentative, None)])).len(), 1);
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Addr);
        cycle(&mut v, &addrs(&[]));
        let optimistic = tentative | AddressFlags::Optimistic;
        assert_eq!(cycle(&mut v, &addrs(&[ll(optimistic, Some(2))])).len(), 1);
    }

    #[test]
    fn ipv4_peer_addresses_are_distinct() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Addr);
        let p = |peer: u8| {
            let mut m = addr(v4(10, 0, 0, 1), 32, 3);
            m.attributes[0] = AddressAttribute::Address(v4(10, 0, 0, peer));
            m
        };
        cycle(&mut v, &addrs(&[p(2)]));
        let evs = cycle(&mut v, &addrs(&[p(2), p(3)]));
        assert_eq!(evs.len(), 1);
        assert_eq!(as_addr(&evs[0]), p(3));
        // Another peer is another address (Linux cannot change it in place): DEL + NEW.
        let evs = cycle(&mut v, &addrs(&[p(4), p(3)]));
        let got: Vec<_> = evs.iter().map(|e| (e.ty, as_addr(e))).collect();
        assert_eq!(got, [(RTM_DELADDR, p(2)), (RTM_NEWADDR, p(4))]);
    }

    #[test]
    fn other_families_are_not_tracked() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Addr);
        let mut odd = addr(v4(1, 2, 3, 4), 8, 1);
        odd.header.family = AddressFamily::Packet;
        cycle(&mut v, &addrs(&[]));
        assert!(cycle(&mut v, &addrs(&[odd])).is_empty());
        assert_eq!(v.len(), 0);
    }

    // ---- routes ----

    fn routes(r: &[RouteMessage]) -> Vec<u8> {
        dump(&r.iter().cloned().map(M::NewRoute).collect::<Vec<_>>())
    }

    fn as_route(e: &Ev) -> RouteMessage {
        match e.msg() {
            M::NewRoute(m) | M::DelRoute(m) => m,
            m => panic!("not a route: {m:?}"),
        }
    }

    #[test]
    fn routes_added_removed_replaced() {
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Route);
        let def = {
            let mut r = route(v4(0, 0, 0, 0), 0, 254, None, 2);
            r.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(
                    192, 0, 2, 1,
                ))));
            r
        };
        let net = route(v4(172, 17, 0, 0), 16, 254, None, 5);
        let local = {
            let mut r = route(v4(172, 17, 0, 1), 32, 255, None, 5);
            r.header.kind = RouteType::Local;
            r.header.scope = RouteScope::Host;
            r
        };
        let six = route(v6(0), 64, 254, Some(256), 5);
        cycle(&mut v, &routes(core::slice::from_ref(&def)));
        let evs = cycle(
            &mut v,
            &routes(&[def.clone(), net.clone(), local.clone(), six.clone()]),
        );
        let got: Vec<_> = evs.iter().map(|e| (e.group, e.ty, as_route(e))).collect();
        assert_eq!(
            got,
            [
                (RTNLGRP_IPV4_ROUTE, RTM_NEWROUTE, net.clone()),
                (RTNLGRP_IPV4_ROUTE, RTM_NEWROUTE, local.clone()),
                (RTNLGRP_IPV6_ROUTE, RTM_NEWROUTE, six.clone()),
            ],
            "the local table is announced too"
        );

        // Replacement: same key, other gateway.
        let mut def2 = def.clone();
        def2.attributes[2] =
            RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(192, 0, 2, 254)));
        let evs = cycle(
            &mut v,
            &routes(&[def2.clone(), net.clone(), local.clone(), six.clone()]),
        );
        assert_eq!(evs.len(), 1);
        assert_eq!((evs[0].ty, as_route(&evs[0])), (RTM_NEWROUTE, def2.clone()));

        // Expiry, cache info, link-down flag: nothing.
        let mut six2 = six.clone();
        six2.attributes.push(RouteAttribute::CacheInfo(route_ci(9)));
        six2.attributes.push(RouteAttribute::Expires(299));
        let mut net2 = net.clone();
        net2.header.flags = RouteFlags::from_bits_retain(16); // RTNH_F_LINKDOWN
        assert!(cycle(
            &mut v,
            &routes(&[def2.clone(), net2.clone(), local.clone(), six2.clone()])
        )
        .is_empty());

        // Other metric: another route.
        let six3 = route(v6(0), 64, 254, Some(1024), 5);
        let evs = cycle(
            &mut v,
            &routes(&[def2.clone(), net2.clone(), local.clone(), six3.clone()]),
        );
        let got: Vec<_> = evs.iter().map(|e| (e.group, e.ty, as_route(e))).collect();
        assert_eq!(
            got,
            [
                (RTNLGRP_IPV6_ROUTE, RTM_DELROUTE, six2),
                (RTNLGRP_IPV6_ROUTE, RTM_NEWROUTE, six3)
            ]
        );
    }

    #[test]
    fn ipv6_routes_per_device_are_distinct() {
        // fe80::/64 and ff00::/8 once per device, as on a bridge with many veths.
        let per_dev = |ifs: &[u32]| {
            let mut r = Vec::new();
            for &i in ifs {
                r.push(route(
                    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)),
                    64,
                    254,
                    Some(256),
                    i,
                ));
                r.push(route(
                    IpAddr::V6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0)),
                    8,
                    255,
                    Some(256),
                    i,
                ));
            }
            r
        };
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Route);
        let mut ifs: Vec<u32> = (2..60).collect();
        cycle(&mut v, &routes(&per_dev(&ifs)));
        ifs.insert(20, 100);
        ifs.remove(40);
        let evs = cycle(&mut v, &routes(&per_dev(&ifs)));
        let got: Vec<_> = evs
            .iter()
            .map(|e| {
                let r = as_route(e);
                let oif = r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Oif(o) => Some(*o),
                    _ => None,
                });
                (e.ty, r.header.destination_prefix_length, oif.unwrap())
            })
            .collect();
        assert_eq!(
            got,
            [
                (RTM_DELROUTE, 64, 41),
                (RTM_DELROUTE, 8, 41),
                (RTM_NEWROUTE, 64, 100),
                (RTM_NEWROUTE, 8, 100)
            ]
        );
    }

    #[test]
    fn multipath_flags_flipped_silently_yield_nothing() {
        let mp = |flags: u8, hops: u8| {
            let mut r = route(v4(10, 1, 0, 0), 16, 254, None, 0);
            r.attributes.pop();
            r.attributes.push(RouteAttribute::MultiPath(
                [2u32, 3]
                    .iter()
                    .map(|&i| {
                        let mut nh = RouteNextHop::default();
                        nh.flags = RouteNextHopFlags::from_bits_retain(flags);
                        nh.hops = hops;
                        nh.interface_index = i;
                        nh.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(
                            Ipv4Addr::new(10, 0, i as u8, 1),
                        ))];
                        nh
                    })
                    .collect(),
            ));
            r
        };
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Route);
        cycle(&mut v, &routes(&[mp(0, 0)]));
        assert!(cycle(&mut v, &routes(&[mp(1 | 16, 0)])).is_empty());
        let evs = cycle(&mut v, &routes(&[mp(1 | 16, 1)]));
        assert_eq!(evs.len(), 1, "weight changed");
        let evs = cycle(&mut v, &routes(&[mp(4 | 1 | 16, 1)]));
        assert_eq!(evs.len(), 1, "onlink changed");
    }

    #[test]
    fn routes_sharing_a_key_are_paired_by_content() {
        // IPv4 aliases (ip route append): one key, two routes.
        let gw = |g: u8| {
            let mut r = route(v4(10, 2, 0, 0), 16, 254, None, 2);
            r.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(
                    192, 0, 2, g,
                ))));
            r
        };
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Route);
        cycle(&mut v, &routes(&[gw(1), gw(2)]));
        assert!(
            cycle(&mut v, &routes(&[gw(2), gw(1)])).is_empty(),
            "reordered"
        );
        let evs = cycle(&mut v, &routes(&[gw(1)]));
        assert_eq!(evs.len(), 1);
        assert_eq!((evs[0].ty, as_route(&evs[0])), (RTM_DELROUTE, gw(2)));
        let evs = cycle(&mut v, &routes(&[gw(3), gw(1)]));
        assert_eq!(evs.len(), 1);
        assert_eq!((evs[0].ty, as_route(&evs[0])), (RTM_NEWROUTE, gw(3)));
        // Replacing one of two: one NEWROUTE.
        let evs = cycle(&mut v, &routes(&[gw(4), gw(1)]));
        assert_eq!(evs.len(), 1);
        assert_eq!((evs[0].ty, as_route(&evs[0])), (RTM_NEWROUTE, gw(4)));
    }

    // ---- neighbours ----

    fn neighs(n: &[NeighbourMessage]) -> Vec<u8> {
        dump(&n.iter().cloned().map(M::NewNeighbour).collect::<Vec<_>>())
    }

    fn as_neigh(e: &Ev) -> NeighbourMessage {
        match e.msg() {
            M::NewNeighbour(m) | M::DelNeighbour(m) => m,
            m => panic!("not a neighbour: {m:?}"),
        }
    }

    #[test]
    fn neighbour_states_as_linux_notifies_them() {
        use NeighbourState::*;
        let ip = v4(172, 17, 0, 3);
        let n = |s: NeighbourState, probes: u32| {
            let mut m = neigh(ip, 5, s, 3);
            m.attributes[3] = NeighbourAttribute::Probes(probes);
            m
        };
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Neigh);
        cycle(&mut v, &neighs(&[]));
        // (new state, event expected): the sequence of a resolution and its ageing.
        let steps = [
            (Incomplete, false), // created and probing: neigh_create and event_send are silent
            (Reachable, true),   // resolved: __neigh_update notifies
            (Delay, false),      // timer: REACHABLE -> DELAY is silent
            (Reachable, true),   // DELAY -> REACHABLE notifies
            (Stale, true),       // REACHABLE -> STALE notifies
            (Delay, false),      // __neigh_event_send: STALE -> DELAY silent
            (Probe, true),       // DELAY -> PROBE notifies (since 6.x)
            (Failed, true),      // PROBE -> FAILED notifies
            (Incomplete, false), // FAILED -> INCOMPLETE by event_send, silent
            (Failed, true),
        ];
        for (i, (s, want)) in steps.into_iter().enumerate() {
            let m = n(s, i as u32);
            let evs = cycle(&mut v, &neighs(core::slice::from_ref(&m)));
            if want {
                assert_eq!(evs.len(), 1, "step {i} {s:?}");
                assert_eq!(
                    (evs[0].group, evs[0].ty, as_neigh(&evs[0])),
                    (RTNLGRP_NEIGH, RTM_NEWNEIGH, m),
                    "step {i}"
                );
            } else {
                assert!(evs.is_empty(), "step {i} {s:?}: {evs:?}");
            }
        }
        // Probes and cache info alone: nothing. A new lladdr while DELAY: an event.
        let mut m = n(Failed, 99);
        m.attributes[2] = NeighbourAttribute::CacheInfo(neigh_ci(0));
        assert!(cycle(&mut v, &neighs(&[m])).is_empty());
        cycle(&mut v, &neighs(&[n(Stale, 0)]));
        let mut m = neigh(ip, 5, Delay, 4);
        m.attributes[3] = NeighbourAttribute::Probes(0);
        assert_eq!(cycle(&mut v, &neighs(core::slice::from_ref(&m))).len(), 1);
        // Deletion is always announced, even of an entry never announced.
        let evs = cycle(&mut v, &neighs(&[]));
        assert_eq!(evs.len(), 1);
        assert_eq!((evs[0].ty, as_neigh(&evs[0])), (RTM_DELNEIGH, m));
        cycle(&mut v, &neighs(&[n(Incomplete, 0)]));
        let evs = cycle(&mut v, &neighs(&[]));
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].ty, RTM_DELNEIGH);
        // Multicast entries the constructors create as NOARP: silent; their deletion is not.
        let mc = neigh(v4(224, 0, 0, 22), 5, Noarp, 0);
        assert!(cycle(&mut v, &neighs(core::slice::from_ref(&mc))).is_empty());
        let evs = cycle(&mut v, &neighs(&[]));
        assert_eq!((evs.len(), evs[0].ty), (1, RTM_DELNEIGH));
        // IPv6 goes to the same group.
        let evs = cycle(&mut v, &neighs(&[neigh(v6(1), 5, Reachable, 1)]));
        assert_eq!((evs[0].group, evs[0].ty), (RTNLGRP_NEIGH, RTM_NEWNEIGH));
    }

    // ---- errors ----

    #[test]
    fn store_too_small_is_full_and_keeps_the_state() {
        let a: Vec<_> = (1..=20).map(|i| link(i, "veth", UP)).collect();
        let d = links(&a);
        let size = store_size(d.len());
        let mut store = vec![0u8; size];
        let mut v = View::new(Kind::Link, &mut store);
        assert!(cycle(&mut v, &d).is_empty(), "store_size is enough");
        let mut b = a.clone();
        b.push(link(21, "veth", UP));
        for i in 22..200 {
            b.push(link(i, "veth-with-a-long-name", UP));
        }
        let big = links(&b);
        assert_eq!(v.load(&big), Err(Error::Full));
        let mut n = 0;
        v.removed(&mut |_| n += 1);
        v.added_or_changed(&mut |_| n += 1);
        assert_eq!(n, 0, "nothing staged after an error");
        v.commit();
        assert_eq!(v.len(), 20, "the state is kept");
        let mut c = a.clone();
        c.remove(0);
        let evs = cycle(&mut v, &links(&c));
        assert_eq!(evs.len(), 1, "compared with the last good dump");
        assert_eq!(evs[0].ty, RTM_DELLINK);

        let mut tiny = [0u8; 3];
        let mut v = View::new(Kind::Link, &mut tiny);
        assert_eq!(v.load(&d), Err(Error::Full));
        assert_eq!(v.load(&done()), Ok(()), "an empty dump fits anywhere");
    }

    fn malformed_dumps() -> Vec<(&'static str, Vec<u8>)> {
        let good = links(&[link(1, "lo", UP), link(2, "eth0", UP)]);
        let first_len = u32::from_ne_bytes(good[0..4].try_into().unwrap()) as usize;
        let mut out = Vec::new();
        out.push(("truncated", good[..good.len() - 25].to_vec()));
        out.push(("truncated header", good[..first_len + 7].to_vec()));
        let mut b = good.clone();
        b[0..4].copy_from_slice(&((good.len() + 4) as u32).to_ne_bytes());
        out.push(("nlmsg_len beyond the dump", b));
        let mut b = good.clone();
        b[0..4].copy_from_slice(&0u32.to_ne_bytes());
        out.push(("zero nlmsg_len", b));
        let mut b = good.clone();
        b[0..4].copy_from_slice(&15u32.to_ne_bytes());
        out.push(("nlmsg_len below the header", b));
        let mut b = good.clone();
        b[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        out.push(("huge nlmsg_len", b));
        // First attribute after the 16+16 byte headers.
        let mut b = good.clone();
        b[32..34].copy_from_slice(&u16::MAX.to_ne_bytes());
        out.push(("huge attribute length", b));
        let mut b = good.clone();
        b[32..34].copy_from_slice(&2u16.to_ne_bytes());
        out.push(("attribute length below its header", b));
        // A body shorter than ifinfomsg.
        let mut b = Vec::new();
        b.extend(24u32.to_ne_bytes());
        b.extend(RTM_NEWLINK.to_ne_bytes());
        b.extend([0u8; 18]);
        out.push(("short body", b));
        out
    }

    #[test]
    fn malformed_dumps_are_refused_without_panic() {
        let good = links(&[link(1, "lo", UP), link(2, "eth0", UP)]);
        for (what, bad) in malformed_dumps() {
            let mut f = Fixture::new();
            let mut v = f.view(Kind::Link);
            cycle(&mut v, &good);
            assert_eq!(v.load(&bad), Err(Error::Malformed), "{what}");
            let mut n = 0;
            v.removed(&mut |_| n += 1);
            v.added_or_changed(&mut |_| n += 1);
            v.commit();
            assert_eq!((n, v.len()), (0, 2), "{what}: state kept");
            assert!(cycle(&mut v, &good).is_empty(), "{what}: still in step");
        }
        // A too-long address in a key.
        let mut r = route(v4(10, 0, 0, 0), 8, 254, None, 1);
        r.attributes[1] = RouteAttribute::Destination(RouteAddress::Other(vec![1; 17]));
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Route);
        assert_eq!(v.load(&routes(&[r])), Err(Error::Malformed));
    }

    #[test]
    fn interrupted_dump_is_refused() {
        let mut d = links(&[link(1, "lo", UP)]);
        let flags = NLM_F_MULTIPART | 0x10;
        d[6..8].copy_from_slice(&flags.to_ne_bytes());
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Link);
        assert_eq!(v.load(&d), Err(Error::Interrupted));
    }

    #[test]
    fn control_and_foreign_messages_are_skipped() {
        let mut d = Vec::new();
        // NLMSG_NOOP, an NLMSG_ERROR, an RTM_NEWADDR in a link dump.
        let mut noop = vec![0u8; 16];
        noop[0..4].copy_from_slice(&16u32.to_ne_bytes());
        noop[4..6].copy_from_slice(&1u16.to_ne_bytes());
        d.extend(&noop);
        let mut err = vec![0u8; 36];
        err[0..4].copy_from_slice(&36u32.to_ne_bytes());
        err[4..6].copy_from_slice(&2u16.to_ne_bytes());
        err[16..20].copy_from_slice(&(-95i32).to_ne_bytes());
        d.extend(&err);
        d.extend(nl_bytes(&M::NewAddress(addr(v4(1, 1, 1, 1), 8, 1)), 2));
        d.extend(links(&[link(3, "x", UP)]));
        let mut f = Fixture::new();
        let mut v = f.view(Kind::Link);
        v.load(&d).unwrap();
        v.commit();
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let good = [
            links(&[link(1, "lo", UP), bridge(5, 2), port(3, 4)]),
            addrs(&[addr(v4(1, 2, 3, 4), 8, 1), addr(v6(1), 64, 2)]),
            routes(&[route(v6(0), 64, 254, Some(256), 2)]),
            neighs(&[neigh(v4(1, 2, 3, 4), 2, NeighbourState::Reachable, 1)]),
        ];
        let mut store = vec![0u8; 1 << 16];
        for round in 0..20_000 {
            let kind = Kind::ALL[round % 4];
            let mut d = good[round % 4].clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                d.truncate(rng.below(d.len() + 1));
            }
            let mut v = View::new(kind, &mut store);
            let _ = v.load(&good[round % 4]);
            v.commit();
            let _ = v.load(&d);
            v.removed(&mut |e| assert!(!e.body.is_empty()));
            v.added_or_changed(&mut |e| assert!(!e.body.is_empty()));
            v.commit();
            let _ = v.load(&good[round % 4]);
            v.removed(&mut |_| {});
            v.added_or_changed(&mut |_| {});
        }
    }

    // ---- the host kernel ----

    /// Dumps `kind` from the test process's network namespace with an unprivileged
    /// NETLINK_ROUTE socket, the way the monitor will: request header of the kind's size,
    /// family `dump_family()`.
    fn host_dump(kind: Kind) -> Vec<u8> {
        // SAFETY: plain socket(2); the fd is closed below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut req = vec![0u8; NLMSG_HDRLEN + kind.header_len()];
        let len = req.len() as u32;
        req[0..4].copy_from_slice(&len.to_ne_bytes());
        req[4..6].copy_from_slice(&kind.get_type().to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        req[6..8].copy_from_slice(&flags.to_ne_bytes());
        req[8..12].copy_from_slice(&1u32.to_ne_bytes());
        req[16] = kind.dump_family();
        // SAFETY: req is a live buffer of req.len() bytes; no address (the kernel).
        let n = unsafe { libc::send(fd, req.as_ptr().cast(), req.len(), 0) };
        assert_eq!(n, req.len() as isize, "send");
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        'recv: loop {
            // SAFETY: buf is a live buffer of buf.len() bytes.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            assert!(n > 0, "recv: {}", std::io::Error::last_os_error());
            let got = &buf[..n as usize];
            out.extend_from_slice(got);
            let mut off = 0;
            while off + NLMSG_HDRLEN <= got.len() {
                let len = u32::from_ne_bytes(got[off..off + 4].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes(got[off + 4..off + 6].try_into().unwrap());
                if ty == libc::NLMSG_DONE as u16 || ty == libc::NLMSG_ERROR as u16 {
                    break 'recv;
                }
                off += align4(len.max(NLMSG_HDRLEN));
            }
        }
        // SAFETY: fd is ours.
        unsafe { libc::close(fd) };
        out
    }

    fn count_objects(kind: Kind, d: &[u8]) -> usize {
        let mut n = 0;
        let mut off = 0;
        while off + NLMSG_HDRLEN <= d.len() {
            let len = u32::from_ne_bytes(d[off..off + 4].try_into().unwrap()) as usize;
            let ty = u16::from_ne_bytes(d[off + 4..off + 6].try_into().unwrap());
            if ty == kind.new_type() {
                // The oracle parses what the host sent.
                let m = NetlinkMessage::<M>::deserialize(&d[off..off + len]);
                assert!(m.is_ok(), "{kind:?} message parses: {m:?}");
                let fam = d[off + NLMSG_HDRLEN];
                if kind.group(fam).is_some() {
                    n += 1;
                }
            }
            off += align4(len);
        }
        n
    }

    #[test]
    fn host_dumps_twice_yield_no_events() {
        for kind in Kind::ALL {
            let first = host_dump(kind);
            let objects = count_objects(kind, &first);
            if kind != Kind::Neigh {
                assert!(objects > 0, "{kind:?}: the host has some");
            }
            let mut store = vec![0u8; store_size(first.len() * 2)];
            let mut v = View::new(kind, &mut store);
            assert!(cycle(&mut v, &first).is_empty());
            assert_eq!(v.len(), objects, "{kind:?}");
            // The host may really change between two dumps (a neighbour ageing): a quiet
            // cycle must come within a few tries.
            let mut quiet = false;
            for _ in 0..5 {
                let again = host_dump(kind);
                if cycle(&mut v, &again).is_empty() {
                    quiet = true;
                    break;
                }
                std::thread::sleep(core::time::Duration::from_millis(50));
            }
            assert!(quiet, "{kind:?}: two identical host dumps produced events");
        }
    }

    // ---- random mutations ----

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
        fn pick<T: Copy>(&mut self, v: &[T]) -> T {
            v[self.below(v.len())]
        }
    }

    /// A random object: a key part and a content part, each small enough to collide often.
    #[derive(Clone, Debug)]
    struct Spec {
        kind: Kind,
        v6: bool,
        key: (u32, u8, u32),
        content: (u32, u8),
        noise: u32,
    }

    /// States whose appearance and every change between which Linux announces.
    const NEIGH_STATES: [NeighbourState; 6] = [
        NeighbourState::Reachable,
        NeighbourState::Stale,
        NeighbourState::Probe,
        NeighbourState::Failed,
        NeighbourState::Permanent,
        NeighbourState::Reachable,
    ];

    impl Spec {
        fn random(kind: Kind, rng: &mut Rng) -> Spec {
            let mut s = Spec {
                kind,
                v6: rng.below(2) == 1,
                key: (
                    1 + rng.below(12) as u32,
                    rng.pick(&[8, 16, 24]),
                    rng.pick(&[0, 100]),
                ),
                content: (0, 0),
                noise: 0,
            };
            s.mutate(rng, true);
            s.mutate(rng, false);
            s
        }

        fn mutate(&mut self, rng: &mut Rng, relevant: bool) {
            if relevant {
                self.content = (rng.below(4) as u32, rng.below(6) as u8);
            } else {
                self.noise = rng.next() as u32;
            }
        }

        fn ip(&self, host: u32) -> IpAddr {
            if self.v6 {
                v6(host as u16)
            } else {
                v4(10, 0, host as u8, 0)
            }
        }

        fn msg(&self) -> M {
            let (k0, k1, k2) = self.key;
            let (c0, c1) = self.content;
            match self.kind {
                Kind::Link => {
                    let flags =
                        [0, UP, UP | IFF_RUNNING | IFF_LOWER_UP, UP | BROADCAST][c0 as usize];
                    let mut m = link(k0, &format!("if{c1}"), flags);
                    set_link_attr(&mut m, stats(self.noise as u64));
                    set_link_attr(&mut m, LinkAttribute::CarrierChanges(self.noise));
                    M::NewLink(m)
                }
                Kind::Addr => {
                    let mut m = addr(self.ip(k0), k1, 1 + k2 / 100);
                    m.attributes[3] =
                        AddressAttribute::Flags(AddressFlags::from_bits_retain(0x80 | (c0 << 5)));
                    m.attributes.push(AddressAttribute::Label(format!("l{c1}")));
                    m.attributes[2] =
                        AddressAttribute::CacheInfo(addr_ci(self.noise, self.noise, 1, self.noise));
                    M::NewAddress(m)
                }
                Kind::Route => {
                    let table = [254, 255, 100][(k2 / 100) as usize % 3];
                    let mut m = route(self.ip(k0), k1, table, Some(k2), 1 + c0);
                    m.attributes
                        .push(RouteAttribute::Gateway(match self.ip(c1 as u32 + 1) {
                            IpAddr::V4(a) => RouteAddress::Inet(a),
                            IpAddr::V6(a) => RouteAddress::Inet6(a),
                        }));
                    m.attributes
                        .push(RouteAttribute::CacheInfo(route_ci(self.noise)));
                    m.header.flags = RouteFlags::from_bits_retain(self.noise & 16);
                    M::NewRoute(m)
                }
                Kind::Neigh => {
                    let mut m = neigh(
                        self.ip(k0),
                        1 + k2 / 100,
                        NEIGH_STATES[c1 as usize],
                        c0 as u8,
                    );
                    m.attributes[3] = NeighbourAttribute::Probes(self.noise);
                    M::NewNeighbour(m)
                }
            }
        }
    }

    /// The oracle's view of identity and of the compared content, written independently of
    /// the engine: parse, drop what Linux changes silently, print.
    fn oracle(m: &M) -> (String, String, u32) {
        match m.clone() {
            M::NewLink(mut l) | M::DelLink(mut l) => {
                let flags = l.header.flags.bits();
                l.header.change_mask = LinkFlags::empty();
                l.attributes.retain(|a| {
                    !matches!(
                        a,
                        LinkAttribute::Stats64(_)
                            | LinkAttribute::Stats(_)
                            | LinkAttribute::CarrierChanges(_)
                    )
                });
                (format!("{}", l.header.index), format!("{l:?}"), flags)
            }
            M::NewAddress(mut a) | M::DelAddress(mut a) => {
                a.attributes
                    .retain(|x| !matches!(x, AddressAttribute::CacheInfo(_)));
                let local = a.attributes.iter().find_map(|x| match x {
                    AddressAttribute::Local(l) => Some(*l),
                    _ => None,
                });
                let key = format!(
                    "{:?} {} {} {local:?}",
                    a.header.family, a.header.index, a.header.prefix_len
                );
                (key, format!("{a:?}"), 0)
            }
            M::NewRoute(mut r) | M::DelRoute(mut r) => {
                r.attributes
                    .retain(|x| !matches!(x, RouteAttribute::CacheInfo(_)));
                r.header.flags = RouteFlags::from_bits_retain(r.header.flags.bits() & !16);
                let find = |want: fn(&RouteAttribute) -> Option<String>| {
                    r.attributes.iter().find_map(want).unwrap_or_default()
                };
                let dst = find(|x| match x {
                    RouteAttribute::Destination(d) => Some(format!("{d:?}")),
                    _ => None,
                });
                let table = find(|x| match x {
                    RouteAttribute::Table(t) => Some(format!("t{t}")),
                    _ => None,
                });
                let prio = find(|x| match x {
                    RouteAttribute::Priority(p) => Some(format!("p{p}")),
                    _ => None,
                });
                let mut key = format!(
                    "{:?} {} {dst} {table}{prio}",
                    r.header.address_family, r.header.destination_prefix_length
                );
                if r.header.address_family == AddressFamily::Inet6 {
                    // fib6 tells routes of one prefix and metric apart by next hop.
                    key += &find(|x| match x {
                        RouteAttribute::Gateway(g) => Some(format!(" via {g:?}")),
                        _ => None,
                    });
                    key += &find(|x| match x {
                        RouteAttribute::Oif(o) => Some(format!(" dev {o}")),
                        _ => None,
                    });
                }
                (key, format!("{r:?}"), 0)
            }
            M::NewNeighbour(mut n) | M::DelNeighbour(mut n) => {
                n.attributes.retain(|x| {
                    !matches!(
                        x,
                        NeighbourAttribute::Probes(_) | NeighbourAttribute::CacheInfo(_)
                    )
                });
                let dst = n.attributes.iter().find_map(|x| match x {
                    NeighbourAttribute::Destination(d) => Some(format!("{d:?}")),
                    _ => None,
                });
                (format!("{} {dst:?}", n.header.ifindex), format!("{n:?}"), 0)
            }
            m => panic!("unexpected {m:?}"),
        }
    }

    #[test]
    fn random_mutations_transform_old_into_new_exactly() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for kind in Kind::ALL {
            let mut store = vec![0u8; 1 << 18];
            let mut v = View::new(kind, &mut store);
            let mut set: Vec<Spec> = Vec::new();
            // listener's model: key -> (content, link flags)
            let mut model: BTreeMap<String, (String, u32)> = BTreeMap::new();
            let mut total = 0;
            for round in 0..400 {
                // mutate
                for _ in 0..rng.below(6) {
                    match rng.below(5) {
                        0 => set.push(Spec::random(kind, &mut rng)),
                        1 if !set.is_empty() => {
                            let i = rng.below(set.len());
                            set.remove(i);
                        }
                        2 if !set.is_empty() => {
                            let i = rng.below(set.len());
                            set[i].mutate(&mut rng, true);
                        }
                        3 if set.len() > 1 => {
                            let (i, j) = (rng.below(set.len()), rng.below(set.len()));
                            set.swap(i, j);
                        }
                        _ => {
                            for s in set.iter_mut() {
                                s.mutate(&mut rng, false);
                            }
                        }
                    }
                }
                // one object per key, as Linux keeps them (duplicates have their own test)
                let mut seen = std::collections::HashSet::new();
                set.retain(|s| seen.insert(oracle(&s.msg()).0));
                let msgs: Vec<M> = set.iter().map(Spec::msg).collect();
                let want: BTreeMap<String, (String, u32)> = msgs
                    .iter()
                    .map(|m| {
                        let (k, c, f) = oracle(m);
                        (k, (c, f))
                    })
                    .collect();
                let evs = cycle(&mut v, &dump(&msgs));
                if round == 0 {
                    assert!(evs.is_empty());
                    model = want;
                    continue;
                }
                total += evs.len();
                let mut dels_done = false;
                for e in &evs {
                    let m = e.msg();
                    let (k, c, flags) = oracle(&m);
                    assert_eq!(Some(e.group), kind.group(e.body[0]));
                    if e.ty == kind.del_type() {
                        assert!(!dels_done, "DEL after NEW");
                        let old = model.remove(&k).expect("DEL of a known object");
                        assert!(!want.contains_key(&k), "DEL of a kept object {k}");
                        assert_eq!(old.0, c, "DEL carries the last known state");
                        if let M::DelLink(l) = &m {
                            assert_eq!(l.header.change_mask.bits(), !0);
                        }
                    } else {
                        assert_eq!(e.ty, kind.new_type());
                        dels_done = true;
                        let prev = model.insert(k.clone(), (c.clone(), flags));
                        assert_eq!(
                            Some(&(c.clone(), flags)),
                            want.get(&k),
                            "NEW is the new state"
                        );
                        if let Some(p) = &prev {
                            assert_ne!(p.0, c, "NEW without a change: {k}");
                        }
                        if let M::NewLink(l) = &m {
                            let change = match prev {
                                None => !0,
                                Some((_, old)) => (old ^ flags) & !IFF_VOLATILE,
                            };
                            assert_eq!(l.header.change_mask.bits(), change, "ifi_change");
                        }
                    }
                }
                assert_eq!(
                    model.iter().map(|(k, v)| (k, &v.0)).collect::<Vec<_>>(),
                    want.iter().map(|(k, v)| (k, &v.0)).collect::<Vec<_>>(),
                    "{kind:?} round {round}"
                );
                model = want;
            }
            assert!(
                total > 200,
                "{kind:?}: the test exercised changes ({total} events)"
            );
        }
    }
}
