//! The message vocabulary: rtnetlink numbers, the four kinds of objects, an event, the errors.

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
pub(super) const NLM_F_DUMP_INTR: u16 = 0x10;

// ifinfomsg flags that carrier and operstate changes flip (linkwatch notifies with change 0).
pub(super) const IFF_RUNNING: u32 = 1 << 6;
pub(super) const IFF_LOWER_UP: u32 = 1 << 16;
pub(super) const IFF_DORMANT: u32 = 1 << 17;
pub(super) const IFF_VOLATILE: u32 = IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT;

// IFLA_* (include/uapi/linux/if_link.h)
pub(super) const IFLA_QDISC: u16 = 6;
pub(super) const IFLA_STATS: u16 = 7;
pub(super) const IFLA_LINKINFO: u16 = 18;
pub(super) const IFLA_STATS64: u16 = 23;
pub(super) const IFLA_AF_SPEC: u16 = 26;
pub(super) const IFLA_PROMISCUITY: u16 = 30;
pub(super) const IFLA_CARRIER_CHANGES: u16 = 35;
pub(super) const IFLA_PAD: u16 = 42;
pub(super) const IFLA_CARRIER_UP_COUNT: u16 = 47;
pub(super) const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
pub(super) const IFLA_ALLMULTI: u16 = 61;
pub(super) const IFLA_INFO_KIND: u16 = 1;
pub(super) const IFLA_INFO_DATA: u16 = 2;
pub(super) const IFLA_INFO_XSTATS: u16 = 3;
pub(super) const IFLA_INFO_SLAVE_KIND: u16 = 4;
pub(super) const IFLA_INFO_SLAVE_DATA: u16 = 5;
pub(super) const IFLA_BR_HELLO_TIMER: u16 = 16;
pub(super) const IFLA_BR_GC_TIMER: u16 = 19;
pub(super) const IFLA_BR_MCAST_QUERIER_STATE: u16 = 47;
pub(super) const IFLA_BR_FDB_N_LEARNED: u16 = 48;
pub(super) const IFLA_BRPORT_MESSAGE_AGE_TIMER: u16 = 21;
pub(super) const IFLA_BRPORT_HOLD_TIMER: u16 = 23;
pub(super) const IFLA_BRPORT_MCAST_EHT_HOSTS_CNT: u16 = 38;
pub(super) const IFLA_BRPORT_MCAST_N_GROUPS: u16 = 41;
// IFA_*
pub(super) const IFA_ADDRESS: u16 = 1;
pub(super) const IFA_LOCAL: u16 = 2;
pub(super) const IFA_CACHEINFO: u16 = 6;
pub(super) const IFA_FLAGS: u16 = 8;
pub(super) const IFA_PROTO: u16 = 11;
pub(super) const IFA_F_OPTIMISTIC: u32 = 0x04;
pub(super) const IFA_F_TENTATIVE: u32 = 0x40;
pub(super) const IFAPROT_KERNEL_RA: u8 = 2;
pub(super) const IFAPROT_KERNEL_LL: u8 = 3;
// RTA_*
pub(super) const RTA_DST: u16 = 1;
pub(super) const RTA_SRC: u16 = 2;
pub(super) const RTA_OIF: u16 = 4;
pub(super) const RTA_GATEWAY: u16 = 5;
pub(super) const RTA_PRIORITY: u16 = 6;
pub(super) const RTA_MULTIPATH: u16 = 9;
pub(super) const RTA_CACHEINFO: u16 = 12;
pub(super) const RTA_TABLE: u16 = 15;
pub(super) const RTA_EXPIRES: u16 = 23;
/// Next-hop and route flags Linux changes without a notification: `RTNH_F_DEAD`,
/// `RTNH_F_OFFLOAD`, `RTNH_F_LINKDOWN`, `RTNH_F_TRAP`, `RTM_F_OFFLOAD`, `RTM_F_TRAP`,
/// `RTM_F_OFFLOAD_FAILED`.
pub(super) const RT_SILENT_FLAGS: u32 = 1 | 8 | 16 | 64 | 0x4000 | 0x8000 | 0x2000_0000;
// NDA_*
pub(super) const NDA_DST: u16 = 1;
pub(super) const NDA_CACHEINFO: u16 = 3;
pub(super) const NDA_PROBES: u16 = 4;
// NUD_*
pub(super) const NUD_NONE: u16 = 0x00;
pub(super) const NUD_INCOMPLETE: u16 = 0x01;
pub(super) const NUD_REACHABLE: u16 = 0x02;
pub(super) const NUD_STALE: u16 = 0x04;
pub(super) const NUD_DELAY: u16 = 0x08;
pub(super) const NUD_PROBE: u16 = 0x10;
pub(super) const NUD_NOARP: u16 = 0x40;
pub(super) const NUD_PERMANENT: u16 = 0x80;
pub(super) const NUD_VALID: u16 =
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

/// Why [`View::load`](super::View::load) refused a dump. After an error the current state is unchanged and the
/// staged one is empty: `removed` and `added_or_changed` report nothing and `commit` keeps the
/// current state, so the next good dump is compared with the last good one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The store is too small for this dump (see [`store_size`](super::store_size)).
    Full,
    /// The dump does not parse: a bad `nlmsg_len`, a body shorter than its header, attributes
    /// that overrun the message, an address longer than 16 bytes.
    Malformed,
    /// A message carries `NLM_F_DUMP_INTR`: the kernel's state changed during the dump, which
    /// may then miss objects. Dump again.
    Interrupted,
}
