//! What Linux does with a dump request on a socket with `NETLINK_GET_STRICT_CHK` on: the errno it
//! answers a request with, or the filter it applies to the dump (`net/core/rtnetlink.c`,
//! `net/ipv4/devinet.c`, `net/ipv6/addrconf.c`, `net/ipv4/fib_frontend.c`, `net/ipv4/fib_trie.c`,
//! `net/ipv6/route.c`, `net/core/neighbour.c`, `lib/nlattr.c`; read in Linux 6.12 and checked
//! against the host kernel, 6.18, by `tests/strict_host.rs`).
//!
//! gVisor refuses the option (ENOPROTOOPT) and so never checks a request or filters a dump.
//! [`validate`] says what Linux answers a dump request with, [`keeps`] whether a reply of the
//! unfiltered dump is in Linux's filtered one, and [`reply_flags`] / [`done_flags`] what Linux
//! adds to the `nlmsg_flags` of those replies and of the closing `NLMSG_DONE`.
//!
//! | request | Linux checks (strict) | Linux filters on |
//! |---|---|---|
//! | `RTM_GETLINK`, any family but `AF_BRIDGE` | `rtnl_valid_dump_ifinfo_req`, `rtnl_dump_ifinfo` | `IFLA_MASTER` (-1: no master), `IFLA_LINKINFO`/`IFLA_INFO_KIND` of a registered kind |
//! | `RTM_GETADDR`, `AF_INET`, `AF_INET6`, `AF_UNSPEC` | `inet_valid_dump_ifaddr_req`, `inet6_valid_dump_ifaddr_req` | `ifa_index` |
//! | `RTM_GETROUTE`, `AF_INET`, `AF_INET6`, `AF_UNSPEC` | `ip_valid_fib_dump_req` | `rtm_table`/`RTA_TABLE`, `rtm_protocol`, `rtm_type`, `RTA_OIF`, `rtm_flags` (`RTM_F_CLONED`, `RTM_F_PREFIX`) |
//! | `RTM_GETNEIGH`, `AF_INET`, `AF_INET6`, `AF_UNSPEC` | `neigh_valid_dump_req` | `NDA_IFINDEX`, `NDA_MASTER` (-1: no master) |
//!
//! Attributes are checked as `nlmsg_parse_deprecated_strict` checks them (`lib/nlattr.c`,
//! `__nla_validate_parse` with `NL_VALIDATE_DEPRECATED_STRICT`): an attribute type of 0 or above
//! the family's maximum and bytes left over after the last attribute are EINVAL; each attribute
//! must pass its policy (`validate_nla`: too short for its type is ERANGE, `NLA_REJECT` is
//! EINVAL; from the policy's `strict_start_type` on also exact lengths, `NLA_F_NESTED` and
//! attributes without a policy, all EINVAL); then every attribute the dump does not support is
//! EINVAL. The first failure in that order is the answer.
//!
//! # State
//!
//! Some answers depend on the kernel's state, which this module asks a [`State`] for: ENODEV
//! for an address dump of a device that does not exist (`inet_dump_ifaddr`,
//! `inet6_dump_addr`) and for a route dump with `RTA_OIF` of one (`ip_valid_fib_dump_req`);
//! ENOENT for a single-family route dump of a table that does not exist (`inet_dump_fib`,
//! `inet6_dump_fib`; `AF_UNSPEC` dumps nothing of that family instead); whether a link kind
//! is registered (`linkinfo_to_kind_ops`: Linux ignores an unknown kind, filters nothing and
//! sets no flag); and a device's master, for the neighbour filter (`neigh_master_filtered`).
//!
//! # Not modelled
//!
//! [`Verdict::Unmodelled`] stands for requests whose answer is not the strict checks' business
//! or not decidable here; the kernel's own answer is then as good as any:
//!
//! - anything that is not an `NLM_F_REQUEST` with a bit of `NLM_F_DUMP` set, a message whose
//!   `nlmsg_len` is out of bounds, or a body without a family byte (`rtnetlink_rcv_msg` answers
//!   that one with nothing at all);
//! - other families: `AF_BRIDGE` links (`rtnl_bridge_getlink`) and neighbours
//!   (`rtnl_fdb_dump`), and MPLS, IPMR, phonet... addresses and routes;
//! - a request with a valid target namespace attribute (`IFLA_TARGET_NETNSID`,
//!   `IFA_TARGET_NETNSID`): Linux dumps another namespace, or answers EINVAL when no namespace
//!   has that id and EACCES without `CAP_NET_ADMIN` over it.
//!
//! Also left out: the extended-ack attributes Linux adds to the failing `NLMSG_DONE` when
//! `NETLINK_EXT_ACK` is on; value ranges that depend on the kernel's configuration
//! (`IFLA_GSO_MAX_SIZE` and `IFLA_GSO_IPV4_MAX_SIZE` must exceed `MAX_TCP_HEADER`: here any
//! value passes, so such a request reads EINVAL where Linux may say ERANGE); attribute types
//! newer than Linux 6.12 (EINVAL here; in a newer kernel EINVAL too, unless its policy for them
//! fails a short one with ERANGE); route replies of families other than `AF_INET` and
//! `AF_INET6` (multicast routes in an `AF_UNSPEC` dump: kept, no flag); and the IPv6
//! `RTM_F_PREFIX` dump, which Linux limits to routes learned from router advertisements
//! (`RTF_PREFIX_RT`), a mark `rt6_fill_node` does not put in the reply: here it keeps no
//! route, which is Linux's answer in a namespace without router advertisements.
//!
//! # What gVisor sends unfiltered
//!
//! gVisor release-20260817.0 (`pkg/sentry/socket/netlink/route/protocol.go`) checks nothing in
//! a dump request and answers `RTM_GETLINK` with every link, `RTM_GETADDR` and `RTM_GETROUTE`
//! with every family whatever the request's (hence the family rule in [`keeps`]), every route
//! with `rtm_table` `RT_TABLE_MAIN` and no `RTA_TABLE`, and `RTM_GETNEIGH` with EOPNOTSUPP:
//! it has no neighbour dump, so a neighbour filter has nothing to filter there.
//!
//! Pure and signal-context clean like the rest of `rtnl`: no allocation, no `core::fmt`, no
//! `unsafe`, and every read goes through a bounds check, so no input makes it panic.

use super::attrs::{align4, rd_u16, rd_u32};
use super::msg::*;
use crate::abi::errno::{EINVAL, ENODEV, ENOENT};
use crate::abi::{NLM_F_DUMP, NLM_F_REQUEST};

/// `NLM_F_DUMP_FILTERED`: the dump was filtered as requested.
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
/// `AF_BRIDGE`.
pub const AF_BRIDGE: u8 = 7;
/// `ERANGE`: an attribute too short for its policy, or out of its range.
pub const ERANGE: i32 = 34;
/// `RTM_F_CLONED`: a cached route (an exception), not a FIB entry.
pub const RTM_F_CLONED: u32 = 0x200;
/// `RTM_F_PREFIX`: IPv6 prefix routes from router advertisements.
pub const RTM_F_PREFIX: u32 = 0x800;
/// `NTF_PROXY`: the neighbour dump lists proxy entries instead.
pub const NTF_PROXY: u8 = 0x08;

// Attributes the dumps filter on.
const IFLA_MASTER: u16 = 10;
const IFLA_EXT_MASK: u16 = 29;
const IFLA_TARGET_NETNSID: u16 = 46;
const IFA_TARGET_NETNSID: u16 = 10;
const NDA_IFINDEX: u16 = 8;
const NDA_MASTER: u16 = 9;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
/// `MODULE_NAME_LEN - 1`: `linkinfo_to_kind_ops` copies the kind into a buffer of 56 bytes.
pub const KIND_MAX: usize = 55;

/// What Linux looks up in its own state while it answers a dump request.
pub trait State {
    /// Whether a device has this index (`dev_get_by_index_rcu`). Index 0 never names one.
    fn has_device(&self, ifindex: u32) -> bool;
    /// The index of the master of the device with this index (`netdev_master_upper_dev_get`),
    /// `None` for no master or no such device.
    fn master_of(&self, ifindex: u32) -> Option<u32>;
    /// Whether the FIB of `family` (`AF_INET` or `AF_INET6`) has table `table`
    /// (`fib_get_table`, `fib6_get_table`).
    fn has_table(&self, family: u8, table: u32) -> bool;
    /// Whether a link kind of this name is registered (`rtnl_link_ops_get`).
    fn has_link_kind(&self, kind: &[u8]) -> bool;
}

/// A registered link kind, as `IFLA_INFO_KIND` names it (at most [`KIND_MAX`] bytes, no NUL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkKind {
    name: [u8; KIND_MAX],
    len: u8,
}

impl LinkKind {
    /// The kind as `nla_strscpy` leaves it and `strcmp` reads it: up to the first NUL, at most
    /// [`KIND_MAX`] bytes.
    fn from_attr(p: &[u8]) -> Self {
        let mut k = LinkKind {
            name: [0; KIND_MAX],
            len: 0,
        };
        for (d, s) in k.name.iter_mut().zip(p.iter().take_while(|b| **b != 0)) {
            *d = *s;
            k.len += 1;
        }
        k
    }

    /// The name.
    pub fn as_bytes(&self) -> &[u8] {
        self.name.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// The filter Linux applies to a dump it accepted. A field that is 0 (`None`) filters nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFilter {
    /// `rtnl_dump_ifinfo` / `link_dump_filtered`.
    Link {
        /// `IFLA_MASTER`: only ports of this master; `u32::MAX` (-1): only links without one.
        master: u32,
        /// `IFLA_LINKINFO`/`IFLA_INFO_KIND`, when the kind is registered: only links of it.
        kind: Option<LinkKind>,
    },
    /// `inet_dump_ifaddr` / `inet6_dump_addr`.
    Addr {
        /// The request's family: `AF_INET`, `AF_INET6` or `AF_UNSPEC`.
        family: u8,
        /// `ifa_index`: only this device's addresses.
        ifindex: u32,
    },
    /// `inet_dump_fib` / `inet6_dump_fib` with `fn_trie_dump_leaf` / `rt6_dump_route`.
    Route {
        /// The request's family: `AF_INET`, `AF_INET6` or `AF_UNSPEC`.
        family: u8,
        /// `RTA_TABLE`, else `rtm_table`: only this table.
        table: u32,
        /// `rtm_protocol`: only routes of this origin.
        protocol: u8,
        /// `rtm_type`: only routes of this type.
        rtype: u8,
        /// `RTA_OIF`: only routes with a next hop through this device.
        oif: u32,
        /// `rtm_flags`: `RTM_F_CLONED` dumps cached routes instead of FIB entries,
        /// `RTM_F_PREFIX` only prefix routes.
        flags: u32,
    },
    /// `neigh_dump_info` / `neigh_dump_table` / `pneigh_dump_table`.
    Neigh {
        /// The request's family: `AF_INET`, `AF_INET6` or `AF_UNSPEC`.
        family: u8,
        /// `NDA_IFINDEX`: only this device's entries.
        ifindex: u32,
        /// `NDA_MASTER`: only entries of ports of this master; `u32::MAX` (-1): only of devices
        /// without one.
        master: u32,
        /// `ndm_flags == NTF_PROXY`: proxy entries (the same without strict checking).
        proxy: bool,
    },
}

/// Linux's answer to a dump request on a strict socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Linux dumps: the replies [`keeps`] keeps.
    Dump(DumpFilter),
    /// Linux answers with this errno (positive), in the `NLMSG_DONE` that ends the dump.
    Fails(i32),
    /// Not something this module models (the module documentation lists what).
    Unmodelled,
}

/// One attribute's policy: the `nla_policy` entry, reduced to what `validate_nla` checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pol {
    /// No entry (`NLA_UNSPEC` without a length).
    Free,
    /// `NLA_UNSPEC` with a minimum length.
    Min(usize),
    U8,
    U16,
    U32,
    /// `NLA_U32` with a mask of allowed bits (`NLA_POLICY_MASK`).
    U32Mask(u32),
    S32,
    /// `NLA_S32` with a minimum value (`NLA_POLICY_MIN`).
    S32Min(i32),
    /// `NLA_STRING` with a maximum length (0: any).
    Str(usize),
    NulStr,
    /// `NLA_BINARY` with a maximum length.
    Bin(usize),
    Nested,
    Reject,
}

impl Pol {
    /// `nla_attr_len`: the exact length checked from `strict_start_type` on.
    fn exact_len(self) -> Option<usize> {
        match self {
            Pol::U8 => Some(1),
            Pol::U16 => Some(2),
            Pol::U32 | Pol::U32Mask(_) | Pol::S32 | Pol::S32Min(_) => Some(4),
            _ => None,
        }
    }
}

/// A policy table: the highest known type, `strict_start_type` (0: none) and the entries.
struct Policy {
    max: u16,
    strict_from: u16,
    of: fn(u16) -> Pol,
}

/// `ifla_policy` (rtnetlink.c). `IFLA_MAX` is 65 in Linux 6.12.
const IFLA: Policy = Policy {
    max: 65,
    strict_from: 0,
    of: |t| match t {
        1 | 2 | 34 | 36 => Pol::Bin(32), // ADDRESS, BROADCAST, PHYS_PORT_ID, PHYS_SWITCH_ID
        3 => Pol::Str(15),               // IFNAME
        14 => Pol::Min(32),              // MAP: sizeof(struct rtnl_link_ifmap)
        // TXQLEN (13) is a plain NLA_U32 as the host kernel (6.18) checks it: Debian's 6.12.118
        // source gives it NLA_POLICY_FULL_RANGE(0, S16_MAX) (ERANGE above), 6.18 says EINVAL.
        4
        | 5
        | 10
        | 13
        | 15
        | 19
        | 27..=32
        | 35
        | 40
        | 41
        | 44
        | 47
        | 48
        | 50
        | 51
        | 58
        | 63
        | 64 => Pol::U32,
        16 | 17 | 33 | 39 => Pol::U8, // OPERSTATE, LINKMODE, CARRIER, PROTO_DOWN
        18 | 22 | 24..=26 | 43 | 52 | 55 => Pol::Nested,
        20 => Pol::Bin(255),         // IFALIAS
        37 | 46 => Pol::S32,         // LINK_NETNSID, TARGET_NETNSID
        49 => Pol::S32Min(1),        // NEW_IFINDEX
        53 => Pol::Str(127),         // ALT_IFNAME
        54 | 59..=61 => Pol::Reject, // PERM_ADDRESS, TSO_MAX_SIZE/SEGS, ALLMULTI
        56 => Pol::NulStr,           // PARENT_DEV_NAME
        _ => Pol::Free,
    },
};

/// `ifla_info_policy` (rtnetlink.c), parsed liberally by `linkinfo_to_kind_ops`.
const IFLA_INFO: Policy = Policy {
    max: 5,
    strict_from: 0,
    of: |t| match t {
        IFLA_INFO_KIND | IFLA_INFO_SLAVE_KIND => Pol::Str(0),
        IFLA_INFO_DATA | IFLA_INFO_SLAVE_DATA => Pol::Nested,
        _ => Pol::Free,
    },
};

/// `ifa_ipv4_policy` (devinet.c), `IFA_MAX` 11.
const IFA_V4: Policy = Policy {
    max: 11,
    strict_from: 0,
    of: |t| match t {
        1 | 2 | 4 | 8 | 9 => Pol::U32, // ADDRESS, LOCAL, BROADCAST, FLAGS, RT_PRIORITY
        3 => Pol::Str(15),             // LABEL
        6 => Pol::Min(16),             // CACHEINFO
        10 => Pol::S32,                // TARGET_NETNSID
        11 => Pol::U8,                 // PROTO
        _ => Pol::Free,
    },
};

/// `ifa_ipv6_policy` (addrconf.c).
const IFA_V6: Policy = Policy {
    max: 11,
    strict_from: 0,
    of: |t| match t {
        1 | 2 | 6 => Pol::Min(16), // ADDRESS, LOCAL: in6_addr; CACHEINFO
        8 | 9 => Pol::Min(4),      // FLAGS, RT_PRIORITY
        10 => Pol::S32,
        11 => Pol::U8,
        _ => Pol::Free,
    },
};

/// `rtm_ipv4_policy` (fib_frontend.c), which `ip_valid_fib_dump_req` uses for both families.
/// `RTA_MAX` 30; strict from `RTA_DPORT + 1`.
const RTM: Policy = Policy {
    max: 30,
    strict_from: 30,
    of: |t| match t {
        1..=7 | 11 | 15 | 16 | 25 | 30 => Pol::U32,
        8 | 22 => Pol::Nested, // METRICS, ENCAP
        9 => Pol::Min(8),      // MULTIPATH: sizeof(struct rtnexthop)
        21 | 28 | 29 => Pol::U16,
        27 => Pol::U8,
        _ => Pol::Free,
    },
};

/// `nda_policy` (neighbour.c), `NDA_MAX` 17; strict from `NDA_NH_ID`.
const NDA: Policy = Policy {
    max: 17,
    strict_from: 13,
    of: |t| match t {
        1 | 2 => Pol::Bin(32), // DST, LLADDR: MAX_ADDR_LEN
        3 => Pol::Min(16),     // CACHEINFO
        4 | 7..=9 | 13 => Pol::U32,
        5 | 6 => Pol::U16,
        12 => Pol::U8,
        14 => Pol::Nested,
        15 => Pol::U32Mask(0x3), // FLAGS_EXT: NTF_EXT_MASK
        _ => Pol::Free,
    },
};

/// `validate_nla` for one attribute of type `ty` (flags stripped; `raw` with them).
fn check_attr(p: &Policy, ty: u16, raw: u16, data: &[u8]) -> Result<(), i32> {
    let pol = (p.of)(ty);
    let len = data.len();
    if p.strict_from != 0 && ty >= p.strict_from {
        // NL_VALIDATE_STRICT: STRICT_ATTRS, NESTED, UNSPEC.
        if pol.exact_len().is_some_and(|n| n != len) {
            return Err(EINVAL);
        }
        let nested_flag = raw & NLA_F_NESTED != 0;
        match pol {
            Pol::Nested if !nested_flag => return Err(EINVAL),
            Pol::Free | Pol::Min(_) => return Err(EINVAL),
            Pol::Nested => {}
            _ if nested_flag => return Err(EINVAL),
            _ => {}
        }
    }
    let u32_value = || rd_u32(data, 0).unwrap_or(0);
    let too_short = |min: usize| if len < min { Err(ERANGE) } else { Ok(()) };
    match pol {
        Pol::Free => Ok(()),
        Pol::Min(n) => too_short(n),
        Pol::U8 => too_short(1),
        Pol::U16 => too_short(2),
        Pol::U32 | Pol::S32 => too_short(4),
        Pol::U32Mask(mask) => {
            too_short(4)?;
            if u32_value() & !mask != 0 {
                Err(EINVAL)
            } else {
                Ok(())
            }
        }
        Pol::S32Min(min) => {
            too_short(4)?;
            if (u32_value() as i32) < min {
                Err(ERANGE)
            } else {
                Ok(())
            }
        }
        Pol::NulStr => {
            if !data.contains(&0) {
                Err(EINVAL)
            } else {
                Ok(())
            }
        }
        Pol::Str(max) => {
            let last_nul = data.last() == Some(&0);
            match len {
                0 => Err(ERANGE),
                _ if max > 0 && len - usize::from(last_nul) > max => Err(ERANGE),
                _ => Ok(()),
            }
        }
        Pol::Bin(max) => {
            if len > max {
                Err(ERANGE)
            } else {
                Ok(())
            }
        }
        Pol::Nested => {
            if len != 0 && len < 4 {
                Err(ERANGE)
            } else {
                Ok(())
            }
        }
        Pol::Reject => Err(EINVAL),
    }
}

/// `__nla_validate_parse` over `attrs`: strict (`NL_VALIDATE_DEPRECATED_STRICT`: unknown types
/// and trailing bytes are EINVAL) or liberal (both ignored). Calls `seen(type, payload)` for
/// every valid attribute in order, after validating it.
fn parse<'a>(
    attrs: &'a [u8],
    p: &Policy,
    strict: bool,
    mut seen: impl FnMut(u16, &'a [u8]),
) -> Result<(), i32> {
    let mut rest = attrs;
    // nla_for_each_attr: nla_ok() stops at a header that does not fit or a length below 4 or
    // beyond the rest; nla_next() steps NLA_ALIGN(len), past the end when the last
    // attribute's padding is missing (rem < 0: not "trailing").
    while let (Some(len), Some(raw)) = (rd_u16(rest, 0), rd_u16(rest, 2)) {
        let len = usize::from(len);
        let Some(data) = rest.get(4..len) else { break };
        let ty = raw & NLA_TYPE_MASK;
        if ty == 0 || ty > p.max {
            if strict {
                return Err(EINVAL);
            }
        } else {
            check_attr(p, ty, raw, data)?;
            seen(ty, data);
        }
        rest = rest.get(align4(len)..).unwrap_or(&[]);
    }
    if strict && !rest.is_empty() {
        return Err(EINVAL);
    }
    Ok(())
}

/// Linux's answer to `request` (one netlink message: `nlmsghdr`, family header, attributes)
/// sent on a socket with `NETLINK_GET_STRICT_CHK` on, in the state `state` reports.
pub fn validate<S: State>(request: &[u8], state: &S) -> Verdict {
    let Some(len) = rd_u32(request, 0) else {
        return Verdict::Unmodelled;
    };
    let (Some(msg), Some(ty), Some(flags)) = (
        request.get(..len as usize),
        rd_u16(request, 4),
        rd_u16(request, 6),
    ) else {
        return Verdict::Unmodelled;
    };
    // netlink_rcv_skb: no NLM_F_REQUEST, no dump; rtnetlink_rcv_msg: a dump is any bit of
    // NLM_F_DUMP, and a body without rtgenmsg is answered with nothing.
    let body = msg.get(NLMSG_HDRLEN..).unwrap_or(&[]);
    let Some(&family) = body.first() else {
        return Verdict::Unmodelled;
    };
    if flags & NLM_F_REQUEST == 0 || flags & NLM_F_DUMP == 0 {
        return Verdict::Unmodelled;
    }
    let ip = matches!(family, AF_UNSPEC | AF_INET | AF_INET6);
    match ty {
        RTM_GETLINK if family != AF_BRIDGE => link(body, state),
        RTM_GETADDR if ip => addr(family, body, state),
        RTM_GETROUTE if ip => route(family, body, state),
        RTM_GETNEIGH if ip => neigh(family, body),
        _ => Verdict::Unmodelled,
    }
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

fn word(b: &[u8], at: usize) -> u32 {
    rd_u32(b, at).unwrap_or(0)
}

/// The first type in `present` (a bitmask from [`bit`]) that is not in `allowed`, as the
/// `for (i = 0; i <= MAX; i++)` loops over `tb` meet them.
fn first_unsupported(present: u64, allowed: u64) -> Option<u16> {
    let rest = present & !allowed;
    (rest != 0).then(|| rest.trailing_zeros() as u16)
}

/// Bit `t` for an attribute type; types of 63 and more share bit 63 (only links have them,
/// and none of those is supported).
fn bit(t: u16) -> u64 {
    1u64 << t.min(63)
}

/// `rtnl_valid_dump_ifinfo_req` and the attribute loop of `rtnl_dump_ifinfo`.
fn link<S: State>(body: &[u8], state: &S) -> Verdict {
    let Some(hdr) = body.get(..16) else {
        return Verdict::Fails(EINVAL);
    };
    // __ifi_pad, ifi_type, ifi_flags, ifi_change; then ifi_index.
    if byte(hdr, 1) != 0 || rd_u16(hdr, 2) != Some(0) || word(hdr, 8) != 0 || word(hdr, 12) != 0 {
        return Verdict::Fails(EINVAL);
    }
    if word(hdr, 4) != 0 {
        return Verdict::Fails(EINVAL);
    }
    let (mut present, mut master, mut info) = (0u64, 0u32, None);
    let attrs = body.get(16..).unwrap_or(&[]);
    if let Err(e) = parse(attrs, &IFLA, true, |t, p| {
        present |= bit(t);
        match t {
            IFLA_MASTER => master = word(p, 0),
            IFLA_LINKINFO => info = Some(p),
            _ => {}
        }
    }) {
        return Verdict::Fails(e);
    }
    let allowed = bit(IFLA_MASTER) | bit(IFLA_LINKINFO) | bit(IFLA_EXT_MASK);
    match first_unsupported(present, allowed) {
        Some(t) if t < IFLA_TARGET_NETNSID => return Verdict::Fails(EINVAL),
        _ if present & bit(IFLA_TARGET_NETNSID) != 0 => return Verdict::Unmodelled,
        Some(_) => return Verdict::Fails(EINVAL),
        None => {}
    }
    let kind = info
        .and_then(kind_of)
        .filter(|k| state.has_link_kind(k.as_bytes()));
    Verdict::Dump(DumpFilter::Link { master, kind })
}

/// `linkinfo_to_kind_ops` up to the lookup: the `IFLA_INFO_KIND` of a nested `IFLA_LINKINFO`
/// that parses liberally (`nla_parse_nested_deprecated`; an error means no kind).
fn kind_of(info: &[u8]) -> Option<LinkKind> {
    let mut kind = None;
    parse(info, &IFLA_INFO, false, |t, p| {
        if t == IFLA_INFO_KIND {
            kind = Some(p);
        }
    })
    .ok()?;
    kind.map(LinkKind::from_attr)
}

/// `inet_valid_dump_ifaddr_req` / `inet6_valid_dump_ifaddr_req`, then the device lookup of
/// `inet_dump_ifaddr` / `inet6_dump_addr`. `AF_UNSPEC` (`rtnl_dump_all`) meets the IPv4 checks
/// first, and a request they pass passes the IPv6 ones.
fn addr<S: State>(family: u8, body: &[u8], state: &S) -> Verdict {
    let Some(hdr) = body.get(..8) else {
        return Verdict::Fails(EINVAL);
    };
    // ifa_prefixlen, ifa_flags, ifa_scope.
    if byte(hdr, 1) != 0 || byte(hdr, 2) != 0 || byte(hdr, 3) != 0 {
        return Verdict::Fails(EINVAL);
    }
    let ifindex = word(hdr, 4);
    let policy = if family == AF_INET6 { &IFA_V6 } else { &IFA_V4 };
    let mut present = 0u64;
    if let Err(e) = parse(body.get(8..).unwrap_or(&[]), policy, true, |t, _| {
        present |= bit(t)
    }) {
        return Verdict::Fails(e);
    }
    match first_unsupported(present, bit(IFA_TARGET_NETNSID)) {
        Some(t) if t < IFA_TARGET_NETNSID => return Verdict::Fails(EINVAL),
        _ if present & bit(IFA_TARGET_NETNSID) != 0 => return Verdict::Unmodelled,
        Some(_) => return Verdict::Fails(EINVAL),
        None => {}
    }
    if ifindex != 0 && !state.has_device(ifindex) {
        return Verdict::Fails(ENODEV);
    }
    Verdict::Dump(DumpFilter::Addr { family, ifindex })
}

/// `ip_valid_fib_dump_req`, then the table lookup of `inet_dump_fib` / `inet6_dump_fib`.
fn route<S: State>(family: u8, body: &[u8], state: &S) -> Verdict {
    let Some(hdr) = body.get(..12) else {
        return Verdict::Fails(EINVAL);
    };
    // rtm_dst_len, rtm_src_len, rtm_tos, rtm_scope.
    if byte(hdr, 1) != 0 || byte(hdr, 2) != 0 || byte(hdr, 3) != 0 || byte(hdr, 6) != 0 {
        return Verdict::Fails(EINVAL);
    }
    let flags = word(hdr, 8);
    if flags & !(RTM_F_CLONED | RTM_F_PREFIX) != 0 {
        return Verdict::Fails(EINVAL);
    }
    let (mut table, protocol, rtype) = (u32::from(byte(hdr, 4)), byte(hdr, 5), byte(hdr, 7));
    let (mut present, mut oif) = (0u64, 0u32);
    if let Err(e) = parse(body.get(12..).unwrap_or(&[]), &RTM, true, |t, p| {
        present |= bit(t);
        match t {
            RTA_OIF => oif = word(p, 0),
            RTA_TABLE => table = word(p, 0),
            _ => {}
        }
    }) {
        return Verdict::Fails(e);
    }
    // The loop meets RTA_OIF (4) before RTA_TABLE (15); only the other types fail.
    match first_unsupported(present, bit(RTA_OIF) | bit(RTA_TABLE)) {
        Some(t) if t < RTA_OIF => return Verdict::Fails(EINVAL),
        _ if present & bit(RTA_OIF) != 0 && (oif == 0 || !state.has_device(oif)) => {
            return Verdict::Fails(ENODEV)
        }
        Some(_) => return Verdict::Fails(EINVAL),
        None => {}
    }
    // inet_dump_fib returns before its table lookup for RTM_F_PREFIX; inet6_dump_fib does not.
    let looks_up = match family {
        AF_INET => flags & RTM_F_PREFIX == 0,
        AF_INET6 => true,
        _ => false,
    };
    if table != 0 && looks_up && !state.has_table(family, table) {
        return Verdict::Fails(ENOENT);
    }
    Verdict::Dump(DumpFilter::Route {
        family,
        table,
        protocol,
        rtype,
        oif,
        flags,
    })
}

/// `neigh_valid_dump_req` and the proxy choice of `neigh_dump_info`.
fn neigh(family: u8, body: &[u8]) -> Verdict {
    let Some(hdr) = body.get(..12) else {
        return Verdict::Fails(EINVAL);
    };
    // ndm_pad1, ndm_pad2, ndm_ifindex, ndm_state, ndm_type; ndm_flags other than NTF_PROXY.
    if byte(hdr, 1) != 0
        || rd_u16(hdr, 2) != Some(0)
        || word(hdr, 4) != 0
        || rd_u16(hdr, 8) != Some(0)
        || byte(hdr, 11) != 0
        || byte(hdr, 10) & !NTF_PROXY != 0
    {
        return Verdict::Fails(EINVAL);
    }
    let (mut present, mut ifindex, mut master) = (0u64, 0u32, 0u32);
    if let Err(e) = parse(body.get(12..).unwrap_or(&[]), &NDA, true, |t, p| {
        present |= bit(t);
        match t {
            NDA_IFINDEX => ifindex = word(p, 0),
            NDA_MASTER => master = word(p, 0),
            _ => {}
        }
    }) {
        return Verdict::Fails(e);
    }
    if first_unsupported(present, bit(NDA_IFINDEX) | bit(NDA_MASTER)).is_some() {
        return Verdict::Fails(EINVAL);
    }
    Verdict::Dump(DumpFilter::Neigh {
        family,
        ifindex,
        master,
        proxy: byte(hdr, 10) == NTF_PROXY,
    })
}

/// The body of a whole reply message of type `ty` with a fixed header of `hdr` bytes, with
/// its attributes; `None` for another type or a message too short to judge.
fn reply_body(reply: &[u8], ty: u16, hdr: usize) -> Option<(&[u8], &[u8])> {
    let len = rd_u32(reply, 0)? as usize;
    if rd_u16(reply, 4)? != ty {
        return None;
    }
    let body = reply.get(NLMSG_HDRLEN..len)?;
    Some((body.get(..hdr)?, body.get(hdr..).unwrap_or(&[])))
}

/// The payload of the last attribute of type `ty` (liberal, as the reply came from a kernel).
fn attr(attrs: &[u8], ty: u16) -> Option<&[u8]> {
    let mut found = None;
    let _ = parse(attrs, &FREE, false, |t, p| {
        if t == ty {
            found = Some(p);
        }
    });
    found
}

/// A policy that checks nothing: for reading replies.
const FREE: Policy = Policy {
    max: NLA_TYPE_MASK,
    strict_from: 0,
    of: |_| Pol::Free,
};

/// `link_master_filtered` / `neigh_master_filtered`: `want` 0 keeps all, -1 keeps devices
/// without a master, anything else the ports of that master.
fn master_matches(want: u32, master: Option<u32>) -> bool {
    match want {
        0 => true,
        u32::MAX => master.is_none(),
        m => master == Some(m),
    }
}

/// Whether Linux's filtered dump has `reply`, one whole message of the unfiltered dump (as
/// gVisor sends it without strict checking). Messages that are not objects of the dump's kind
/// (`NLMSG_DONE`, errors), and objects too short to judge, are kept: they are the kernel's.
/// An address, route or neighbour of another family than a single-family dump's is dropped:
/// Linux's dump of one family has that family alone.
pub fn keeps<S: State>(filter: &DumpFilter, reply: &[u8], state: &S) -> bool {
    match *filter {
        // link_dump_filtered: the master is the reply's IFLA_MASTER (rtnl_fill_ifinfo puts
        // netdev_master_upper_dev_get's index there), the kind its IFLA_INFO_KIND
        // (rtnl_link_info_fill puts rtnl_link_ops->kind).
        DumpFilter::Link { master, kind } => {
            let Some((_, attrs)) = reply_body(reply, RTM_NEWLINK, 16) else {
                return true;
            };
            let m = attr(attrs, IFLA_MASTER).and_then(|p| rd_u32(p, 0));
            let kind_ok = kind.is_none_or(|k| {
                attr(attrs, IFLA_LINKINFO)
                    .and_then(|info| attr(info, IFLA_INFO_KIND))
                    .is_some_and(|p| LinkKind::from_attr(p) == k)
            });
            master_matches(master, m) && kind_ok
        }
        // in_dev_dump_addr / in6_dump_addrs of one device.
        DumpFilter::Addr { family, ifindex } => match reply_body(reply, RTM_NEWADDR, 8) {
            Some((hdr, _)) => same_family(family, hdr) && (ifindex == 0 || word(hdr, 4) == ifindex),
            None => true,
        },
        DumpFilter::Route {
            family,
            table,
            protocol,
            rtype,
            oif,
            flags,
        } => {
            let Some((hdr, attrs)) = reply_body(reply, RTM_NEWROUTE, 12) else {
                return true;
            };
            if !same_family(family, hdr) {
                return false;
            }
            let fam = byte(hdr, 0);
            if fam != AF_INET && fam != AF_INET6 {
                return true;
            }
            // inet_dump_fib dumps nothing for RTM_F_PREFIX; rt6_dump_route keeps RTF_PREFIX_RT
            // routes only, which a reply does not show (module documentation).
            if flags & RTM_F_PREFIX != 0 {
                return false;
            }
            // ip_valid_fib_dump_req: RTM_F_CLONED turns off dump_routes, else
            // dump_exceptions; cached routes carry RTM_F_CLONED.
            let cloned = word(hdr, 8) & RTM_F_CLONED != 0;
            if cloned != (flags & RTM_F_CLONED != 0) {
                return false;
            }
            // fn_trie_dump_leaf / rt6_dump_route (filter_set), and the one table dumped.
            if rtype != 0 && byte(hdr, 7) != rtype {
                return false;
            }
            if protocol != 0 && byte(hdr, 5) != protocol {
                return false;
            }
            if oif != 0 && !uses_dev(attrs, oif) {
                return false;
            }
            let reply_table = attr(attrs, RTA_TABLE)
                .and_then(|p| rd_u32(p, 0))
                .unwrap_or(u32::from(byte(hdr, 4)));
            table == 0 || reply_table == table
        }
        // neigh_ifindex_filtered / neigh_master_filtered (pneigh entries without a device
        // have index 0, which no filter matches).
        DumpFilter::Neigh {
            family,
            ifindex,
            master,
            ..
        } => {
            let Some((hdr, _)) = reply_body(reply, RTM_NEWNEIGH, 12) else {
                return true;
            };
            if !same_family(family, hdr) {
                return false;
            }
            let dev = word(hdr, 4);
            let m = if dev == 0 { None } else { state.master_of(dev) };
            (ifindex == 0 || dev == ifindex) && master_matches(master, m)
        }
    }
}

/// Whether a reply with family header `hdr` belongs to a dump of `family`: a single-family
/// request reaches that family's dump function alone (`rtnetlink_rcv_msg`; `neigh_dump_info`
/// skips the other tables), `AF_UNSPEC` all of them (`rtnl_dump_all`). Not a strict-checking
/// rule, but gVisor (release-20260817.0) answers every address and route dump with all
/// families.
fn same_family(family: u8, hdr: &[u8]) -> bool {
    family == AF_UNSPEC || byte(hdr, 0) == family
}

/// `fib_info_nh_uses_dev` / `fib6_info_uses_dev` as the reply shows the next hops: `RTA_OIF`
/// of a single one, `rtnh_ifindex` of each in `RTA_MULTIPATH`.
fn uses_dev(attrs: &[u8], dev: u32) -> bool {
    if attr(attrs, RTA_OIF).and_then(|p| rd_u32(p, 0)) == Some(dev) {
        return true;
    }
    let mut nh = attr(attrs, RTA_MULTIPATH).unwrap_or(&[]);
    // struct rtnexthop: rtnh_len (u16), rtnh_flags, rtnh_hops, rtnh_ifindex (i32).
    while let (Some(len), Some(ifindex)) = (rd_u16(nh, 0), rd_u32(nh, 4)) {
        if ifindex == dev {
            return true;
        }
        let step = align4(usize::from(len).max(8));
        nh = nh.get(step..).unwrap_or(&[]);
    }
    false
}

/// The flags Linux adds to a reply it keeps: `NLM_F_DUMP_FILTERED` where the dump function
/// sets it on each object. Links: a master or a registered kind (`rtnl_dump_ifinfo`).
/// Addresses: an index (`inet_valid_dump_ifaddr_req`). Routes of `AF_INET` and `AF_INET6`:
/// always, since a strict dump turns off either FIB entries or cached routes
/// (`fn_trie_dump_leaf`, `rt6_dump_route`). Neighbours: an index or a master
/// (`neigh_dump_table`).
pub fn reply_flags(filter: &DumpFilter, reply: &[u8]) -> u16 {
    let filtered = match *filter {
        DumpFilter::Link { master, kind } => master != 0 || kind.is_some(),
        DumpFilter::Addr { ifindex, .. } => ifindex != 0,
        DumpFilter::Route { .. } => reply_body(reply, RTM_NEWROUTE, 12)
            .is_some_and(|(hdr, _)| matches!(byte(hdr, 0), AF_INET | AF_INET6)),
        DumpFilter::Neigh {
            ifindex, master, ..
        } => ifindex != 0 || master != 0,
    };
    if filtered {
        NLM_F_DUMP_FILTERED
    } else {
        0
    }
}

/// The flags Linux adds to the `NLMSG_DONE` that ends the dump (`cb->answer_flags`):
/// `NLM_F_DUMP_FILTERED` for an address dump of one device (`inet_valid_dump_ifaddr_req`) and a
/// route dump with any filter set (`ip_valid_fib_dump_req`: `filter_set`).
pub fn done_flags(filter: &DumpFilter) -> u16 {
    let filtered = match *filter {
        DumpFilter::Addr { ifindex, .. } => ifindex != 0,
        DumpFilter::Route {
            table,
            protocol,
            rtype,
            oif,
            flags,
            ..
        } => table != 0 || protocol != 0 || rtype != 0 || oif != 0 || flags != 0,
        DumpFilter::Link { .. } | DumpFilter::Neigh { .. } => false,
    };
    if filtered {
        NLM_F_DUMP_FILTERED
    } else {
        0
    }
}

// ---- Wiring: what a socket remembers, the failed dump's answer, a datagram filtered ----

/// Words of [`DumpFilter::encode`]: what a socket's record keeps of a pending dump.
pub const FILTER_WORDS: usize = 10;

impl DumpFilter {
    /// The filter as plain words (a socket record holds them in atomics): byte 0 the kind
    /// (1 link, 2 address, 3 route, 4 neighbour), 1 family, 2 protocol, 3 type, 4 proxy,
    /// 5 kind length (0xff: no kind), 8..12 master / index / table, 12..16 output device /
    /// master, 16..20 route flags, 20.. the kind's name.
    pub fn encode(&self) -> [u64; FILTER_WORDS] {
        let mut b = [0u8; FILTER_WORDS * 8];
        fn put(b: &mut [u8], at: usize, v: u32) {
            if let Some(d) = b.get_mut(at..at + 4) {
                d.copy_from_slice(&v.to_ne_bytes());
            }
        }
        let (tag, family, a, c) = match *self {
            DumpFilter::Link { master, .. } => (1, 0, master, 0),
            DumpFilter::Addr { family, ifindex } => (2, family, ifindex, 0),
            DumpFilter::Route {
                family, table, oif, ..
            } => (3, family, table, oif),
            DumpFilter::Neigh {
                family,
                ifindex,
                master,
                ..
            } => (4, family, ifindex, master),
        };
        put(&mut b, 8, a);
        put(&mut b, 12, c);
        b[0] = tag;
        b[1] = family;
        b[5] = 0xff;
        match *self {
            DumpFilter::Link { kind: Some(k), .. } => {
                b[5] = k.len;
                for (d, s) in b.iter_mut().skip(20).zip(k.as_bytes()) {
                    *d = *s;
                }
            }
            DumpFilter::Route {
                protocol,
                rtype,
                flags,
                ..
            } => {
                b[2] = protocol;
                b[3] = rtype;
                put(&mut b, 16, flags);
            }
            DumpFilter::Neigh { proxy, .. } => b[4] = u8::from(proxy),
            _ => {}
        }
        let mut w = [0u64; FILTER_WORDS];
        for (i, d) in w.iter_mut().enumerate() {
            let mut x = [0u8; 8];
            x.copy_from_slice(b.get(i * 8..i * 8 + 8).unwrap_or(&[0; 8]));
            *d = u64::from_ne_bytes(x);
        }
        w
    }

    /// The filter [`DumpFilter::encode`] gave these words for; `None` for anything else.
    pub fn decode(w: &[u64; FILTER_WORDS]) -> Option<DumpFilter> {
        let mut b = [0u8; FILTER_WORDS * 8];
        for (i, x) in w.iter().enumerate() {
            b.get_mut(i * 8..i * 8 + 8)?
                .copy_from_slice(&x.to_ne_bytes());
        }
        let (family, a, c) = (b[1], word(&b, 8), word(&b, 12));
        Some(match b[0] {
            1 => DumpFilter::Link {
                master: a,
                kind: match b[5] {
                    0xff => None,
                    n => Some(LinkKind::from_attr(b.get(20..20 + usize::from(n))?)),
                },
            },
            2 => DumpFilter::Addr { family, ifindex: a },
            3 => DumpFilter::Route {
                family,
                table: a,
                protocol: b[2],
                rtype: b[3],
                oif: c,
                flags: word(&b, 16),
            },
            4 => DumpFilter::Neigh {
                family,
                ifindex: a,
                master: c,
                proxy: b[4] != 0,
            },
            _ => return None,
        })
    }
}

/// The `nlmsg_flags` of the `NLMSG_DONE` that ends a dump Linux refused with `errno` (what
/// [`validate`] said of `request`): `NLM_F_MULTI` and the `cb->answer_flags` the checks had set
/// before they failed. `inet_valid_dump_ifaddr_req` sets `NLM_F_DUMP_FILTERED` as soon as the
/// header passes with an `ifa_index` (so a bad attribute or a missing device after it carries
/// it); `ip_valid_fib_dump_req` only when all checks passed, so only the missing table
/// (ENOENT) of `inet_dump_fib` / `inet6_dump_fib` carries it.
pub fn failed_flags(request: &[u8], errno: i32) -> u16 {
    let body = request.get(NLMSG_HDRLEN..).unwrap_or(&[]);
    let filtered = match rd_u16(request, 4) {
        Some(RTM_GETADDR) => {
            body.len() >= 8
                && byte(body, 1) == 0
                && byte(body, 2) == 0
                && byte(body, 3) == 0
                && word(body, 4) != 0
        }
        Some(RTM_GETROUTE) => errno == ENOENT,
        _ => false,
    };
    NLM_F_MULTI | if filtered { NLM_F_DUMP_FILTERED } else { 0 }
}

/// `NLM_F_MULTI`.
pub const NLM_F_MULTI: u16 = 2;
/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;

/// The message Linux answers a refused dump with (`netlink_dump`: `nlmsg_put_answer` of an
/// `NLMSG_DONE` carrying `dump_done_errno`): 20 bytes, the request's sequence number, the
/// requesting socket's port id `portid`, [`failed_flags`], `-errno`. No acknowledgement
/// follows, whatever the request's `NLM_F_ACK` (`netlink_dump_start` returns -EINTR), and no
/// extended-ack attributes (gvnet does not emulate `NETLINK_EXT_ACK`'s messages).
pub fn failed_done(request: &[u8], errno: i32, portid: u32) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0..4].copy_from_slice(&20u32.to_ne_bytes());
    m[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
    m[6..8].copy_from_slice(&failed_flags(request, errno).to_ne_bytes());
    m[8..12].copy_from_slice(&word(request, 8).to_ne_bytes());
    m[12..16].copy_from_slice(&portid.to_ne_bytes());
    m[16..20].copy_from_slice(&(-errno).to_ne_bytes());
    m
}

/// What [`filter_datagram`] did with one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filtered {
    /// The datagram's new length (the kept messages, moved to the front).
    pub len: usize,
    /// Replies of the dump kept.
    pub kept: u32,
    /// Replies of the dump seen.
    pub of: u32,
    /// The dump ended here (its `NLMSG_DONE`, or an `NLMSG_ERROR` with an error).
    pub done: bool,
}

/// Filters one received datagram of a dump as Linux's strict dump would have sent it, in
/// place: the first `len` bytes of `buf` are what the kernel delivered for the dump request
/// with sequence number `seq` and filter `filter`.
///
/// * a reply of the dump (`nlmsg_seq == seq`) that [`keeps`] rejects is removed; one it keeps
///   gets [`reply_flags`] added;
/// * the dump's `NLMSG_DONE` gets [`done_flags`] added and ends it;
/// * an `NLMSG_ERROR` of the dump with error 0 is removed: gVisor (release-20260817.0,
///   `netlink/socket.go` `processMessages`) acknowledges a dump request that asked for
///   `NLM_F_ACK`, Linux never does (`netlink_dump_start` returns -EINTR: no ack); one with an
///   error ends the dump, kept as it is;
/// * anything else (other sequence numbers, a truncated last message) is kept unchanged.
pub fn filter_datagram<S: State>(
    buf: &mut [u8],
    len: usize,
    seq: u32,
    filter: &DumpFilter,
    state: &S,
) -> Filtered {
    let len = len.min(buf.len());
    let mut out = Filtered {
        len: 0,
        kept: 0,
        of: 0,
        done: false,
    };
    let (mut rd, mut wr) = (0usize, 0usize);
    while rd < len {
        let rest = len - rd;
        let mlen = rd_u32(buf, rd).map_or(0, |l| l as usize);
        if rest < NLMSG_HDRLEN || mlen < NLMSG_HDRLEN || mlen > rest {
            // Not a whole message: the rest as it came.
            buf.copy_within(rd..len, wr);
            wr += rest;
            break;
        }
        let step = align4(mlen).min(rest);
        let ty = rd_u16(buf, rd + 4).unwrap_or(0);
        let ours = word(buf, rd + 8) == seq;
        let mut keep = true;
        let mut add = 0u16;
        if ours && !out.done {
            let msg = buf.get(rd..rd + mlen).unwrap_or(&[]);
            match ty {
                NLMSG_DONE => {
                    add = done_flags(filter);
                    out.done = true;
                }
                NLMSG_ERROR => {
                    if word(msg, NLMSG_HDRLEN) == 0 {
                        keep = false;
                    } else {
                        out.done = true;
                    }
                }
                _ => {
                    out.of += 1;
                    keep = keeps(filter, msg, state);
                    if keep {
                        out.kept += 1;
                        add = reply_flags(filter, msg);
                    }
                }
            }
        }
        if keep {
            buf.copy_within(rd..rd + step, wr);
            if add != 0 {
                let f = rd_u16(buf, wr + 6).unwrap_or(0) | add;
                if let Some(d) = buf.get_mut(wr + 6..wr + 8) {
                    d.copy_from_slice(&f.to_ne_bytes());
                }
            }
            wr += step;
        }
        rd += step;
    }
    out.len = wr;
    out
}
