//! What counts as a change: the parts of each kind's objects that are compared, and the
//! changes Linux makes without an event.

use super::attrs::*;
use super::msg::*;

/// The rules for the top level of a `kind`'s message.
pub(super) fn top(kind: Kind) -> Ctx {
    match kind {
        Kind::Link => Ctx::Link,
        Kind::Addr => Ctx::Addr,
        Kind::Route => Ctx::Route,
        Kind::Neigh => Ctx::Neigh,
    }
}

/// Which rules apply to a level of attributes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctx {
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

pub(super) fn ignored(ctx: Ctx, t: u16) -> bool {
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
pub(super) fn is_bridge(kind: &[u8]) -> bool {
    let end = kind.iter().position(|&b| b == 0).unwrap_or(kind.len());
    kind.get(..end) == Some(b"bridge".as_slice())
}

pub(super) fn child(ctx: Ctx, t: u16, info_kind: &[u8], slave_kind: &[u8]) -> Ctx {
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
pub(super) fn same_content(kind: Kind, a: &[u8], b: &[u8], ignore_state: bool) -> bool {
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
            top(kind),
            a.get(hl..).unwrap_or(&[]),
            b.get(hl..).unwrap_or(&[]),
        )
}

pub(super) fn part(h: &[u8], r: core::ops::Range<usize>) -> &[u8] {
    h.get(r).unwrap_or(&[])
}

pub(super) fn attrs_equal(ctx: Ctx, a: &[u8], b: &[u8]) -> bool {
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
pub(super) fn multipath_equal(a: &[u8], b: &[u8]) -> bool {
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
pub(super) fn nexthop(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = rd_u16(b, 0)? as usize;
    if len < 8 || len > b.len() {
        return None;
    }
    Some((b.get(..len)?, b.get(align4(len)..).unwrap_or(&[])))
}

pub(super) fn nud_state(body: &[u8]) -> u16 {
    rd_u16(body, 8).unwrap_or(0)
}

/// A neighbour state change Linux makes without notifying: `REACHABLE`/`STALE` -> `DELAY`
/// (timer, `__neigh_event_send`), and an invalid state -> `INCOMPLETE`/`NONE`
/// (`__neigh_event_send`), with nothing else changed.
pub(super) fn neigh_silent_change(old: &[u8], new: &[u8]) -> bool {
    let (o, n) = (nud_state(old), nud_state(new));
    let silent = (n == NUD_DELAY && o & (NUD_REACHABLE | NUD_STALE) != 0)
        || ((n == NUD_INCOMPLETE || n == NUD_NONE) && o & NUD_VALID == 0);
    silent && same_content(Kind::Neigh, old, new, true)
}

/// A neighbour entry Linux creates without notifying: still unresolved, or `NUD_NOARP` as
/// the protocol constructors (`arp_constructor`, `ndisc_constructor`) set it for multicast
/// and broadcast destinations and NOARP devices.
pub(super) fn neigh_silent_new(body: &[u8]) -> bool {
    matches!(nud_state(body), NUD_NONE | NUD_INCOMPLETE | NUD_NOARP)
}

/// An IPv6 address the kernel configured itself (link-local or SLAAC: `IFA_PROTO`
/// `IFAPROT_KERNEL_LL` / `IFAPROT_KERNEL_RA`) that is still tentative and not optimistic:
/// Linux announces it only when DAD completes (`addrconf_dad_completed`), which here is the
/// flags change that follows. Addresses added by a user are announced at once, tentative or
/// not (`inet6_addr_add`).
pub(super) fn addr_silent_new(body: &[u8]) -> bool {
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
