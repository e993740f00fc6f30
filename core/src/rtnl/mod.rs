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
//!
//! # Files
//!
//! `msg` names the numbers, the kinds, an event and the errors; `attrs` reads netlink
//! attributes and bytes within bounds; `key` says which objects are the same, `content` which
//! differences are a change; `View` (`view`) keeps the store and turns two dumps into events.
//! Beside them, [`strict`] (using `attrs` and `msg` only) says what Linux answers a dump request
//! on a `NETLINK_GET_STRICT_CHK` socket with: an errno, or the filter it applies to the dump.
//! Each file uses only those named before it (core/tests/layers.rs).

mod attrs;
mod content;
mod key;
mod msg;
pub mod strict;
mod view;

pub use msg::*;
pub use view::{store_size, View};

#[cfg(test)]
mod tests;
