//! `strict`: requests and replies built with the oracle (netlink-packet-route), a fake kernel
//! state, and garbage that must not make it panic. `strict_host.rs` checks the same against
//! the host kernel.

use super::*;
use crate::rtnl::attrs::align4;
use crate::rtnl::strict::{self as s, DumpFilter, Verdict, NLM_F_DUMP_FILTERED};
use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::link::{InfoKind, LinkHeader};
use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourHeader};
use netlink_packet_route::route::RouteHeader;

const EINVAL: i32 = 22;
const ENODEV: i32 = 19;
const ENOENT: i32 = 2;
const ERANGE: i32 = s::ERANGE;
const DUMP: u16 = NLM_F_REQUEST | NLM_F_DUMP;

/// Devices 1..=6: 3 is a bridge with ports 4 and 5; kinds "veth" and "bridge"; tables 254 and
/// 255 in both families, 100 in IPv4 only.
struct Fake;

impl s::State for Fake {
    fn has_device(&self, ifindex: u32) -> bool {
        (1..=6).contains(&ifindex)
    }
    fn master_of(&self, ifindex: u32) -> Option<u32> {
        matches!(ifindex, 4 | 5).then_some(3)
    }
    fn has_table(&self, family: u8, table: u32) -> bool {
        matches!(table, 254 | 255) || (family == AF_INET && table == 100)
    }
    fn has_link_kind(&self, kind: &[u8]) -> bool {
        kind == b"veth" || kind == b"bridge"
    }
}

fn verdict(m: M) -> Verdict {
    s::validate(&nl_bytes(&m, DUMP), &Fake)
}

/// `req` with `raw` bytes appended and `nlmsg_len` fixed up.
fn with_raw(mut req: Vec<u8>, raw: &[u8]) -> Vec<u8> {
    req.extend_from_slice(raw);
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req
}

/// One raw attribute, padded.
fn nla(ty: u16, p: &[u8]) -> Vec<u8> {
    let mut a = ((4 + p.len()) as u16).to_ne_bytes().to_vec();
    a.extend(ty.to_ne_bytes());
    a.extend_from_slice(p);
    a.resize(align4(a.len()), 0);
    a
}

fn raw_verdict(m: M, raw: &[u8]) -> Verdict {
    s::validate(&with_raw(nl_bytes(&m, DUMP), raw), &Fake)
}

fn get_link(attrs: Vec<LinkAttribute>) -> M {
    let mut m = LinkMessage::default();
    m.attributes = attrs;
    M::GetLink(m)
}

fn get_addr(family: AddressFamily, index: u32) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family;
    m.header.index = index;
    m
}

fn get_route(family: AddressFamily) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header = RouteHeader::default();
    m.header.address_family = family;
    m.header.table = 0;
    m.header.protocol = RouteProtocol::Unspec;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unspec;
    m
}

fn get_neigh(family: AddressFamily, attrs: Vec<NeighbourAttribute>) -> M {
    let mut m = NeighbourMessage::default();
    m.header = NeighbourHeader::default();
    m.header.family = family;
    m.header.state = NeighbourState::from(0u16);
    m.header.kind = RouteType::Unspec;
    m.attributes = attrs;
    M::GetNeighbour(m)
}

fn link_filter(v: Verdict) -> (u32, Option<Vec<u8>>) {
    match v {
        Verdict::Dump(DumpFilter::Link { master, kind }) => {
            (master, kind.map(|k| k.as_bytes().to_vec()))
        }
        v => panic!("not a link dump: {v:?}"),
    }
}

// ---- links ----

#[test]
fn link_dump_filters_on_master_and_registered_kind() {
    assert_eq!(link_filter(verdict(get_link(vec![]))), (0, None));
    assert_eq!(
        link_filter(verdict(get_link(vec![LinkAttribute::Controller(3)]))),
        (3, None)
    );
    assert_eq!(
        link_filter(verdict(get_link(vec![LinkAttribute::Controller(u32::MAX)]))),
        (u32::MAX, None)
    );
    let kind = |k: InfoKind| LinkAttribute::LinkInfo(vec![LinkInfo::Kind(k)]);
    assert_eq!(
        link_filter(verdict(get_link(vec![kind(InfoKind::Veth)]))),
        (0, Some(b"veth".to_vec()))
    );
    // Linux ignores a kind no driver registered: no filter, no flag.
    assert_eq!(
        link_filter(verdict(get_link(vec![kind(InfoKind::Other(
            "nosuch".into()
        ))]))),
        (0, None)
    );
    // IFLA_EXT_MASK is accepted and filters nothing.
    let ext = nla(29, &1u32.to_ne_bytes());
    assert_eq!(link_filter(raw_verdict(get_link(vec![]), &ext)), (0, None));
    // An empty IFLA_INFO_KIND fails ifla_info_policy: linkinfo_to_kind_ops gives no kind.
    let empty = nla(IFLA_LINKINFO, &nla(IFLA_INFO_KIND, b""));
    assert_eq!(
        link_filter(raw_verdict(get_link(vec![]), &empty)),
        (0, None)
    );
    // The last IFLA_MASTER counts (tb[] keeps the last).
    let two = [nla(10, &3u32.to_ne_bytes()), nla(10, &4u32.to_ne_bytes())].concat();
    assert_eq!(link_filter(raw_verdict(get_link(vec![]), &two)), (4, None));
}

#[test]
fn link_dump_rejections() {
    let mut m = LinkMessage::default();
    m.header = LinkHeader::default();
    m.header.index = 2;
    assert_eq!(verdict(M::GetLink(m.clone())), Verdict::Fails(EINVAL));
    m.header.index = 0;
    m.header.flags = LinkFlags::from_bits_retain(UP);
    assert_eq!(verdict(M::GetLink(m.clone())), Verdict::Fails(EINVAL));
    m.header.flags = LinkFlags::empty();
    m.header.link_layer_type = LinkLayerType::Ether;
    assert_eq!(verdict(M::GetLink(m)), Verdict::Fails(EINVAL));
    assert_eq!(
        verdict(get_link(vec![LinkAttribute::IfName("eth0".into())])),
        Verdict::Fails(EINVAL)
    );
    assert_eq!(
        verdict(get_link(vec![LinkAttribute::PermAddress(mac(1))])),
        Verdict::Fails(EINVAL)
    );
    let cases: [(&[u8], i32); 8] = [
        (&nla(10, &[1, 0]), ERANGE),                // IFLA_MASTER too short
        (&nla(3, b"a_name_of_20_chars_x"), ERANGE), // IFLA_IFNAME too long
        (&nla(IFLA_LINKINFO, &[1, 2]), ERANGE),     // nested, shorter than a header
        (&nla(54, &mac(1)), EINVAL),                // IFLA_PERM_ADDRESS: NLA_REJECT
        (&nla(200, &[0; 4]), EINVAL),               // above IFLA_MAX
        (&nla(0, &[0; 4]), EINVAL),                 // type 0
        (&[nla(10, &[3, 0, 0, 0]), vec![0, 0]].concat(), EINVAL), // trailing bytes
        (&nla(56, b"abc"), EINVAL),                 // IFLA_PARENT_DEV_NAME without NUL
    ];
    for (raw, e) in cases {
        assert_eq!(
            raw_verdict(get_link(vec![]), raw),
            Verdict::Fails(e),
            "{raw:?}"
        );
    }
    // Policy failures come before "unsupported", in attribute order.
    let both = [nla(4, &1500u32.to_ne_bytes()), nla(10, &[1])].concat();
    assert_eq!(raw_verdict(get_link(vec![]), &both), Verdict::Fails(ERANGE));
    // A header shorter than ifinfomsg.
    let short = with_raw(nl_bytes(&get_link(vec![]), DUMP)[..17].to_vec(), &[]);
    assert_eq!(s::validate(&short, &Fake), Verdict::Fails(EINVAL));
    // Another namespace, and the bridge's own dump, are not modelled.
    assert_eq!(
        verdict(get_link(vec![LinkAttribute::IfNetnsId(1)])),
        Verdict::Unmodelled
    );
    let mut b = LinkMessage::default();
    b.header.interface_family = AddressFamily::Bridge;
    assert_eq!(verdict(M::GetLink(b)), Verdict::Unmodelled);
}

#[test]
fn link_replies_kept_by_master_and_kind() {
    let plain = link(2, "eth0", UP);
    let mut port = link(4, "vp", UP);
    port.attributes.push(LinkAttribute::Controller(3));
    let mut veth = link(6, "va", UP);
    veth.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Veth,
        )]));
    let bytes = |m: &LinkMessage| nl_bytes(&M::NewLink(m.clone()), 2);
    let kind = verdict(get_link(vec![LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
    ])]));
    let Verdict::Dump(by_kind) = kind else {
        panic!("{kind:?}")
    };
    let by_master = DumpFilter::Link {
        master: 3,
        kind: None,
    };
    let no_master = DumpFilter::Link {
        master: u32::MAX,
        kind: None,
    };
    let keeps = |f: &DumpFilter, m: &LinkMessage| s::keeps(f, &bytes(m), &Fake);
    assert_eq!(
        [&plain, &port, &veth].map(|m| keeps(&by_master, m)),
        [false, true, false]
    );
    assert_eq!(
        [&plain, &port, &veth].map(|m| keeps(&no_master, m)),
        [true, false, true]
    );
    assert_eq!(
        [&plain, &port, &veth].map(|m| keeps(&by_kind, m)),
        [false, false, true]
    );
    assert_eq!(
        s::reply_flags(&by_master, &bytes(&port)),
        NLM_F_DUMP_FILTERED
    );
    assert_eq!(s::done_flags(&by_master), 0);
    let none = link_filter(verdict(get_link(vec![])));
    assert_eq!(none, (0, None));
    // NLMSG_DONE and other kinds of messages are the kernel's: kept.
    assert!(s::keeps(&by_master, &done(), &Fake));
}

// ---- addresses ----

#[test]
fn address_dump_filters_on_index() {
    for fam in [
        AddressFamily::Unspec,
        AddressFamily::Inet,
        AddressFamily::Inet6,
    ] {
        let f = u8::from(fam);
        assert_eq!(
            verdict(M::GetAddress(get_addr(fam, 0))),
            Verdict::Dump(DumpFilter::Addr {
                family: f,
                ifindex: 0
            })
        );
        assert_eq!(
            verdict(M::GetAddress(get_addr(fam, 2))),
            Verdict::Dump(DumpFilter::Addr {
                family: f,
                ifindex: 2
            })
        );
        assert_eq!(
            verdict(M::GetAddress(get_addr(fam, 99))),
            Verdict::Fails(ENODEV),
            "inet_dump_ifaddr / inet6_dump_addr look the device up"
        );
        let mut m = get_addr(fam, 0);
        m.header.prefix_len = 24;
        assert_eq!(verdict(M::GetAddress(m)), Verdict::Fails(EINVAL));
        let mut m = get_addr(fam, 0);
        m.header.scope = AddressScope::Host;
        assert_eq!(verdict(M::GetAddress(m)), Verdict::Fails(EINVAL));
        let mut m = get_addr(fam, 0);
        let local = if fam == AddressFamily::Inet6 {
            v6(1)
        } else {
            v4(10, 0, 0, 1)
        };
        m.attributes = vec![AddressAttribute::Local(local)];
        assert_eq!(verdict(M::GetAddress(m)), Verdict::Fails(EINVAL));
        // IFA_CACHEINFO shorter than ifa_cacheinfo: ERANGE in both policies.
        let raw = nla(6, &[0; 4]);
        assert_eq!(
            raw_verdict(M::GetAddress(get_addr(fam, 0)), &raw),
            Verdict::Fails(ERANGE)
        );
        // IFA_TARGET_NETNSID: another namespace.
        let raw = nla(10, &1i32.to_ne_bytes());
        assert_eq!(
            raw_verdict(M::GetAddress(get_addr(fam, 0)), &raw),
            Verdict::Unmodelled
        );
    }
    // IFA_LOCAL of 4 bytes: the IPv4 policy's NLA_U32, too short for IPv6's in6_addr.
    let raw = nla(2, &[10, 0, 0, 1]);
    assert_eq!(
        raw_verdict(M::GetAddress(get_addr(AddressFamily::Inet, 0)), &raw),
        Verdict::Fails(EINVAL)
    );
    assert_eq!(
        raw_verdict(M::GetAddress(get_addr(AddressFamily::Inet6, 0)), &raw),
        Verdict::Fails(ERANGE)
    );
}

#[test]
fn address_replies_kept_by_index() {
    let f = DumpFilter::Addr {
        family: AF_UNSPEC,
        ifindex: 2,
    };
    let on = |idx, ip| nl_bytes(&M::NewAddress(addr(ip, 24, idx)), 2);
    assert!(s::keeps(&f, &on(2, v4(10, 0, 0, 1)), &Fake));
    assert!(s::keeps(&f, &on(2, v6(1)), &Fake));
    assert!(!s::keeps(&f, &on(3, v4(10, 0, 0, 1)), &Fake));
    assert_eq!(s::reply_flags(&f, &on(2, v6(1))), NLM_F_DUMP_FILTERED);
    assert_eq!(s::done_flags(&f), NLM_F_DUMP_FILTERED);
    let all = DumpFilter::Addr {
        family: AF_INET,
        ifindex: 0,
    };
    assert!(s::keeps(&all, &on(3, v4(10, 0, 0, 1)), &Fake));
    // A single-family dump has that family alone (gVisor sends every family).
    assert!(!s::keeps(&all, &on(3, v6(1)), &Fake));
    assert!(s::keeps(&f, &on(2, v6(1)), &Fake));
    assert_eq!(s::reply_flags(&all, &on(3, v4(10, 0, 0, 1))), 0);
    assert_eq!(s::done_flags(&all), 0);
}

// ---- routes ----

fn route_filter(v: Verdict) -> DumpFilter {
    match v {
        Verdict::Dump(f @ DumpFilter::Route { .. }) => f,
        v => panic!("not a route dump: {v:?}"),
    }
}

#[test]
fn route_dump_filters_and_rejections() {
    let mut m = get_route(AddressFamily::Inet);
    m.header.table = 100;
    m.header.protocol = RouteProtocol::Static;
    m.header.kind = RouteType::BlackHole;
    m.attributes = vec![RouteAttribute::Oif(2)];
    assert_eq!(
        route_filter(verdict(M::GetRoute(m))),
        DumpFilter::Route {
            family: AF_INET,
            table: 100,
            protocol: 4,
            rtype: 6,
            oif: 2,
            flags: 0
        }
    );
    // RTA_TABLE overrides rtm_table, 0 included.
    let mut m = get_route(AddressFamily::Inet);
    m.header.table = 100;
    m.attributes = vec![RouteAttribute::Table(0)];
    assert!(matches!(
        route_filter(verdict(M::GetRoute(m))),
        DumpFilter::Route { table: 0, .. }
    ));
    // A table that does not exist: ENOENT for its own family, nothing for AF_UNSPEC;
    // inet_dump_fib answers RTM_F_PREFIX before it looks.
    for (fam, table, flags, want) in [
        (AddressFamily::Inet6, 100, 0, Some(ENOENT)),
        (AddressFamily::Inet, 77, 0, Some(ENOENT)),
        (AddressFamily::Unspec, 77, 0, None),
        (AddressFamily::Inet, 77, s::RTM_F_PREFIX, None),
        (AddressFamily::Inet6, 77, s::RTM_F_PREFIX, Some(ENOENT)),
    ] {
        let mut m = get_route(fam);
        m.header.table = table;
        m.header.flags = RouteFlags::from_bits_retain(flags);
        let v = verdict(M::GetRoute(m));
        match want {
            Some(e) => assert_eq!(v, Verdict::Fails(e), "{fam:?} {table} {flags:#x}"),
            None => assert!(matches!(v, Verdict::Dump(_)), "{fam:?} {table}: {v:?}"),
        }
    }
    // RTA_OIF of no device, 0 included: ENODEV, unless an unsupported type before it.
    for oif in [0, 99] {
        let mut m = get_route(AddressFamily::Unspec);
        m.attributes = vec![RouteAttribute::Priority(1), RouteAttribute::Oif(oif)];
        assert_eq!(verdict(M::GetRoute(m)), Verdict::Fails(ENODEV));
    }
    let mut m = get_route(AddressFamily::Unspec);
    m.attributes = vec![
        RouteAttribute::Destination(RouteAddress::Inet(Ipv4Addr::new(10, 0, 0, 0))),
        RouteAttribute::Oif(99),
    ];
    assert_eq!(verdict(M::GetRoute(m)), Verdict::Fails(EINVAL));
    // Header fields that must be zero, flags other than CLONED and PREFIX.
    let mut m = get_route(AddressFamily::Inet);
    m.header.destination_prefix_length = 8;
    assert_eq!(verdict(M::GetRoute(m)), Verdict::Fails(EINVAL));
    let mut m = get_route(AddressFamily::Inet);
    m.header.scope = RouteScope::Link;
    assert_eq!(verdict(M::GetRoute(m)), Verdict::Fails(EINVAL));
    let mut m = get_route(AddressFamily::Inet);
    m.header.flags = RouteFlags::from_bits_retain(0x100); // RTM_F_NOTIFY
    assert_eq!(verdict(M::GetRoute(m)), Verdict::Fails(EINVAL));
    // From RTA_NH_ID (strict_start_type) on: exact lengths.
    for (raw, e) in [
        (nla(4, &[1]), ERANGE),
        (nla(30, &1u32.to_ne_bytes()), EINVAL),
        (nla(30, &[0; 8]), EINVAL),
        (nla(9, &[0; 4]), ERANGE), // RTA_MULTIPATH shorter than rtnexthop
        (nla(31, &[0; 4]), EINVAL),
    ] {
        assert_eq!(
            raw_verdict(M::GetRoute(get_route(AddressFamily::Inet)), &raw),
            Verdict::Fails(e),
            "{raw:?}"
        );
    }
    // A short rtmsg.
    let short = nl_bytes(&M::GetRoute(get_route(AddressFamily::Inet)), DUMP);
    let short = with_raw(short[..NLMSG_HDRLEN + 8].to_vec(), &[]);
    assert_eq!(s::validate(&short, &Fake), Verdict::Fails(EINVAL));
    // Other families' dumps are theirs.
    let mut m = get_route(AddressFamily::Mpls);
    m.header.table = 0;
    assert_eq!(verdict(M::GetRoute(m)), Verdict::Unmodelled);
}

#[test]
fn route_replies_kept_by_table_protocol_type_oif_and_flags() {
    let main = route(v4(10, 9, 0, 0), 16, 254, None, 2);
    let other = route(v4(10, 8, 0, 0), 16, 100, None, 3);
    let mut big = route(v6(0), 64, 300, Some(1024), 2); // table 300: RTA_TABLE only
    big.header.table = 252; // RT_TABLE_COMPAT
    let mut multi = route(v4(10, 6, 0, 0), 16, 254, None, 0);
    multi
        .attributes
        .retain(|a| !matches!(a, RouteAttribute::Oif(_)));
    let hop = |i| {
        let mut h = RouteNextHop::default();
        h.interface_index = i;
        h
    };
    multi
        .attributes
        .push(RouteAttribute::MultiPath(vec![hop(2), hop(3)]));
    let mut cloned = main.clone();
    cloned.header.flags = RouteFlags::from_bits_retain(s::RTM_F_CLONED);
    let mut black = route(v4(10, 7, 0, 0), 16, 254, None, 0);
    black.header.kind = RouteType::BlackHole;
    black.header.protocol = RouteProtocol::Static;
    let all = [&main, &other, &big, &multi, &cloned, &black];
    let kept =
        |f: DumpFilter| all.map(|r| s::keeps(&f, &nl_bytes(&M::NewRoute(r.clone()), 2), &Fake));
    let f = |table, protocol, rtype, oif, flags| DumpFilter::Route {
        family: AF_UNSPEC,
        table,
        protocol,
        rtype,
        oif,
        flags,
    };
    assert_eq!(
        kept(f(0, 0, 0, 0, 0)),
        [true, true, true, true, false, true]
    );
    assert_eq!(
        kept(f(254, 0, 0, 0, 0)),
        [true, false, false, true, false, true]
    );
    assert_eq!(
        kept(f(300, 0, 0, 0, 0)),
        [false, false, true, false, false, false]
    );
    assert_eq!(
        kept(f(0, 4, 0, 0, 0)),
        [false, false, false, false, false, true]
    );
    assert_eq!(
        kept(f(0, 0, 6, 0, 0)),
        [false, false, false, false, false, true]
    );
    assert_eq!(
        kept(f(0, 0, 0, 3, 0)),
        [false, true, false, true, false, false]
    );
    assert_eq!(
        kept(f(0, 0, 0, 0, s::RTM_F_CLONED)),
        [false, false, false, false, true, false]
    );
    assert_eq!(kept(f(0, 0, 0, 0, s::RTM_F_PREFIX)), [false; 6]);
    let inet = DumpFilter::Route {
        family: AF_INET,
        table: 0,
        protocol: 0,
        rtype: 0,
        oif: 0,
        flags: 0,
    };
    assert_eq!(kept(inet), [true, true, false, true, false, true]);
    // Every IPv4/IPv6 reply of a strict dump is marked; NLMSG_DONE only with a filter.
    let r = nl_bytes(&M::NewRoute(main.clone()), 2);
    assert_eq!(s::reply_flags(&f(0, 0, 0, 0, 0), &r), NLM_F_DUMP_FILTERED);
    assert_eq!(s::done_flags(&f(0, 0, 0, 0, 0)), 0);
    assert_eq!(s::done_flags(&f(0, 0, 0, 2, 0)), NLM_F_DUMP_FILTERED);
    assert_eq!(
        s::done_flags(&f(0, 0, 0, 0, s::RTM_F_CLONED)),
        NLM_F_DUMP_FILTERED
    );
}

// ---- neighbours ----

#[test]
fn neighbour_dump_filters_and_rejections() {
    assert_eq!(
        verdict(get_neigh(
            AddressFamily::Inet,
            vec![
                NeighbourAttribute::IfIndex(2),
                NeighbourAttribute::Controller(3)
            ]
        )),
        Verdict::Dump(DumpFilter::Neigh {
            family: AF_INET,
            ifindex: 2,
            master: 3,
            proxy: false
        })
    );
    // No device check: an unknown index dumps nothing.
    assert!(matches!(
        verdict(get_neigh(
            AddressFamily::Unspec,
            vec![NeighbourAttribute::IfIndex(99)]
        )),
        Verdict::Dump(DumpFilter::Neigh { ifindex: 99, .. })
    ));
    let M::GetNeighbour(mut m) = get_neigh(AddressFamily::Inet6, vec![]) else {
        unreachable!()
    };
    m.header.flags = NeighbourFlags::from_bits_retain(s::NTF_PROXY);
    assert!(matches!(
        verdict(M::GetNeighbour(m.clone())),
        Verdict::Dump(DumpFilter::Neigh { proxy: true, .. })
    ));
    m.header.flags = NeighbourFlags::from_bits_retain(0x80); // NTF_ROUTER
    assert_eq!(verdict(M::GetNeighbour(m.clone())), Verdict::Fails(EINVAL));
    m.header.flags = NeighbourFlags::empty();
    m.header.ifindex = 2;
    assert_eq!(verdict(M::GetNeighbour(m.clone())), Verdict::Fails(EINVAL));
    m.header.ifindex = 0;
    m.header.state = NeighbourState::Reachable;
    assert_eq!(verdict(M::GetNeighbour(m)), Verdict::Fails(EINVAL));
    assert_eq!(
        verdict(get_neigh(
            AddressFamily::Inet,
            vec![NeighbourAttribute::Destination(NeighbourAddress::Inet(
                Ipv4Addr::new(10, 0, 0, 1)
            ))]
        )),
        Verdict::Fails(EINVAL)
    );
    for (raw, e) in [
        (nla(8, &[1, 0]), ERANGE),              // NDA_IFINDEX too short
        (nla(2, &[0; 40]), ERANGE),             // NDA_LLADDR above MAX_ADDR_LEN
        (nla(3, &[0; 8]), ERANGE),              // NDA_CACHEINFO too short
        (nla(13, &[1, 0]), EINVAL),             // NDA_NH_ID: strict from here
        (nla(15, &4u32.to_ne_bytes()), EINVAL), // NDA_FLAGS_EXT outside NTF_EXT_MASK
        (nla(14, &[]), EINVAL),                 // NDA_FDB_EXT_ATTRS without NLA_F_NESTED
        (nla(16, &[0; 2]), EINVAL),             // no policy past strict_start_type
        (nla(18, &[0; 4]), EINVAL),             // above NDA_MAX
    ] {
        assert_eq!(
            raw_verdict(get_neigh(AddressFamily::Unspec, vec![]), &raw),
            Verdict::Fails(e),
            "{raw:?}"
        );
    }
    // NDA_FDB_EXT_ATTRS with NLA_F_NESTED passes the policy, then is unsupported.
    let mut raw = nla(14, &[]);
    raw[3] |= 0x80;
    assert_eq!(
        raw_verdict(get_neigh(AddressFamily::Unspec, vec![]), &raw),
        Verdict::Fails(EINVAL)
    );
    let mut b = NeighbourMessage::default();
    b.header.family = AddressFamily::Bridge;
    assert_eq!(verdict(M::GetNeighbour(b)), Verdict::Unmodelled);
}

#[test]
fn neighbour_replies_kept_by_index_and_master() {
    let on = |idx| {
        nl_bytes(
            &M::NewNeighbour(neigh(v4(10, 0, 0, 2), idx, NeighbourState::Reachable, 2)),
            2,
        )
    };
    let f = |ifindex, master| DumpFilter::Neigh {
        family: AF_UNSPEC,
        ifindex,
        master,
        proxy: false,
    };
    let kept = |f: DumpFilter| [2, 4, 5, 0].map(|i| s::keeps(&f, &on(i), &Fake));
    assert_eq!(kept(f(0, 0)), [true; 4]);
    assert_eq!(kept(f(4, 0)), [false, true, false, false]);
    assert_eq!(kept(f(0, 3)), [false, true, true, false]);
    assert_eq!(kept(f(0, u32::MAX)), [true, false, false, true]);
    assert_eq!(kept(f(2, 3)), [false; 4]);
    let six = DumpFilter::Neigh {
        family: AF_INET6,
        ifindex: 0,
        master: 0,
        proxy: false,
    };
    assert_eq!(kept(six), [false; 4]);
    assert_eq!(s::reply_flags(&f(0, 3), &on(4)), NLM_F_DUMP_FILTERED);
    assert_eq!(s::reply_flags(&f(0, 0), &on(4)), 0);
    assert_eq!(s::done_flags(&f(4, 0)), 0);
}

// ---- what is not a strict dump request ----

#[test]
fn requests_that_are_not_dumps_are_unmodelled() {
    let m = get_link(vec![]);
    for flags in [NLM_F_REQUEST, NLM_F_DUMP, 0] {
        assert_eq!(
            s::validate(&nl_bytes(&m, flags), &Fake),
            Verdict::Unmodelled
        );
    }
    // One bit of NLM_F_DUMP is a dump for rtnetlink_rcv_msg.
    assert!(matches!(
        s::validate(&nl_bytes(&m, NLM_F_REQUEST | 0x100), &Fake),
        Verdict::Dump(_)
    ));
    let req = nl_bytes(&m, DUMP);
    // nlmsg_len beyond the buffer, below the header, and a body without a family byte.
    assert_eq!(s::validate(&req[..20], &Fake), Verdict::Unmodelled);
    assert_eq!(
        s::validate(&with_raw(req[..NLMSG_HDRLEN].to_vec(), &[]), &Fake),
        Verdict::Unmodelled
    );
    assert_eq!(s::validate(&[], &Fake), Verdict::Unmodelled);
    // RTM_GETRULE and friends.
    let mut other = req.clone();
    other[4] = 34;
    assert_eq!(s::validate(&other, &Fake), Verdict::Unmodelled);
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x5eed_5eed_1234_5678);
    let seeds = [
        nl_bytes(&get_link(vec![LinkAttribute::Controller(3)]), DUMP),
        nl_bytes(&M::GetAddress(get_addr(AddressFamily::Inet, 2)), DUMP),
        nl_bytes(&M::GetRoute(get_route(AddressFamily::Inet6)), DUMP),
        nl_bytes(&get_neigh(AddressFamily::Unspec, vec![]), DUMP),
        nl_bytes(&M::NewRoute(route(v6(1), 64, 254, Some(1), 2)), 2),
        nl_bytes(&M::NewLink(link(2, "eth0", UP)), 2),
    ];
    let filters = [
        DumpFilter::Link {
            master: u32::MAX,
            kind: None,
        },
        DumpFilter::Addr {
            family: 0,
            ifindex: 2,
        },
        DumpFilter::Route {
            family: 0,
            table: 254,
            protocol: 2,
            rtype: 1,
            oif: 2,
            flags: 0,
        },
        DumpFilter::Neigh {
            family: 0,
            ifindex: 2,
            master: 3,
            proxy: false,
        },
    ];
    for _ in 0..20_000 {
        let mut b = seeds[rng.below(seeds.len())].clone();
        for _ in 0..rng.below(6) {
            let at = rng.below(b.len());
            b[at] = rng.next() as u8;
        }
        b.truncate(rng.below(b.len() + 1));
        if rng.below(4) == 0 {
            // Keep the types and flags, so the garbage reaches the parsers.
            let len = b.len() as u32;
            if b.len() >= 4 {
                b[0..4].copy_from_slice(&len.to_ne_bytes());
            }
        }
        let _ = s::validate(&b, &Fake);
        for f in &filters {
            let _ = s::keeps(f, &b, &Fake);
            let _ = s::reply_flags(f, &b);
        }
    }
}

// ---- wiring: what a strict socket remembers, the refused dump's answer, filtering ----

/// The messages of a datagram, parsed by the oracle: header flags and the payload.
fn parsed(b: &[u8]) -> Vec<(u16, NetlinkPayload<M>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let m = NetlinkMessage::<M>::deserialize(&b[at..]).expect("the oracle parses it");
        at += align4(m.header.length as usize);
        out.push((m.header.flags, m.payload));
    }
    out
}

/// A message built by the oracle with sequence number `seq` (nl_bytes uses 7).
fn with_seq(mut b: Vec<u8>, seq: u32) -> Vec<u8> {
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    b
}

/// gVisor's acknowledgement of a request (release-20260817.0 `DumpAckMessage`): NLMSG_ERROR
/// with code 0 and the request's header.
fn ack(seq: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(36u32.to_ne_bytes());
    b.extend(2u16.to_ne_bytes());
    b.extend(0u16.to_ne_bytes());
    b.extend(seq.to_ne_bytes());
    b.extend(4242u32.to_ne_bytes());
    b.extend(0i32.to_ne_bytes());
    b.extend(with_seq(
        nl_bytes(&get_link(vec![]), DUMP)[..16].to_vec(),
        seq,
    ));
    b
}

#[test]
fn filter_datagram_drops_and_flags_in_place() {
    let mut port = link(4, "vp", UP);
    port.attributes.push(LinkAttribute::Controller(3));
    let mut port2 = link(5, "vr", UP);
    port2.attributes.push(LinkAttribute::Controller(3));
    let d = dump(&[
        M::NewLink(link(2, "eth0", UP)),
        M::NewLink(port.clone()),
        M::NewLink(link(6, "va", UP)),
        M::NewLink(port2.clone()),
    ]);
    let f = DumpFilter::Link {
        master: 3,
        kind: None,
    };
    let mut buf = d.clone();
    buf.extend([0xaa; 64]); // room the kernel did not fill
    let r = s::filter_datagram(&mut buf, d.len(), 7, &f, &Fake);
    assert_eq!((r.kept, r.of, r.done), (2, 4, true));
    let got = parsed(&buf[..r.len]);
    assert_eq!(got.len(), 3, "two ports and NLMSG_DONE");
    let multi = NLM_F_MULTIPART;
    assert_eq!(got[0].0, multi | NLM_F_DUMP_FILTERED);
    assert_eq!(got[0].1, NetlinkPayload::InnerMessage(M::NewLink(port)));
    assert_eq!(got[1].1, NetlinkPayload::InnerMessage(M::NewLink(port2)));
    assert_eq!(got[2].0, multi, "a link dump's NLMSG_DONE carries no flag");
    assert!(matches!(&got[2].1, NetlinkPayload::Done(m) if m.code == 0));
    let dropped = [link(2, "eth0", UP), link(6, "va", UP)]
        .map(|l| nl_bytes(&M::NewLink(l), 2).len())
        .iter()
        .sum::<usize>();
    assert_eq!(r.len, d.len() - dropped);
    assert_eq!(
        &buf[d.len()..],
        &[0xaa; 64],
        "nothing beyond the datagram touched"
    );
}

#[test]
fn a_datagram_filtered_away_is_empty_and_the_dump_goes_on() {
    // gVisor: every object in one datagram, its ack of the request after them, NLMSG_DONE in
    // a datagram of its own.
    let f = DumpFilter::Addr {
        family: AF_INET,
        ifindex: 6,
    };
    let v4 = |i| M::NewAddress(addr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8)), 24, i));
    let mut first = Vec::new();
    for m in [v4(2), v4(3)] {
        first.extend(nl_bytes(&m, NLM_F_MULTIPART));
    }
    first.extend(ack(7));
    let n = first.len();
    let r = s::filter_datagram(&mut first, n, 7, &f, &Fake);
    assert_eq!((r.len, r.kept, r.of, r.done), (0, 0, 2, false));
    let mut second = done();
    let r = s::filter_datagram(&mut second, 20, 7, &f, &Fake);
    assert_eq!((r.len, r.done), (20, true));
    assert_eq!(
        parsed(&second)[0].0,
        NLM_F_MULTIPART | NLM_F_DUMP_FILTERED,
        "an address dump of one device: done_flags"
    );
}

#[test]
fn errors_end_the_dump_and_other_messages_are_left_alone() {
    let f = DumpFilter::Addr {
        family: 0,
        ifindex: 2,
    };
    let a = M::NewAddress(addr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), 24, 3));
    // A reply of another request (seq 9), an object to drop, an error of the dump.
    let other = with_seq(nl_bytes(&a, NLM_F_MULTIPART), 9);
    let mut b = other.clone();
    b.extend(nl_bytes(&a, NLM_F_MULTIPART));
    let mut err = ack(7);
    err[16..20].copy_from_slice(&(-95i32).to_ne_bytes());
    b.extend(&err);
    // A last message cut short by a small receive buffer.
    let cut = nl_bytes(&a, NLM_F_MULTIPART);
    b.extend(&cut[..10]);
    let n = b.len();
    let r = s::filter_datagram(&mut b, n, 7, &f, &Fake);
    assert_eq!((r.kept, r.of, r.done), (0, 1, true));
    let mut want = other;
    want.extend(&err);
    want.extend(&cut[..10]);
    assert_eq!(&b[..r.len], &want[..]);
}

#[test]
fn garbage_datagrams_never_panic() {
    let filters = [
        DumpFilter::Link {
            master: 3,
            kind: None,
        },
        DumpFilter::Addr {
            family: 0,
            ifindex: 2,
        },
    ];
    let mut x: u32 = 1;
    for len in 0..200usize {
        let mut b: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        if len >= 4 {
            b[0..4].copy_from_slice(&((len as u32) / 2).to_ne_bytes());
        }
        for f in &filters {
            let mut c = b.clone();
            let r = s::filter_datagram(&mut c, len + 5, 7, f, &Fake);
            assert!(r.len <= len);
        }
    }
}

#[test]
fn a_refused_dump_is_answered_as_linux_answers_it() {
    // ENODEV for a missing device: the answer flags the address checks had set.
    let req = nl_bytes(&M::GetAddress(get_addr(AddressFamily::Unspec, 99)), DUMP);
    assert_eq!(s::validate(&req, &Fake), Verdict::Fails(ENODEV));
    let m = s::failed_done(&req, ENODEV, 555);
    let parsed = NetlinkMessage::<M>::deserialize(&m).unwrap();
    assert_eq!(parsed.header.length, 20);
    assert_eq!(parsed.header.sequence_number, 7);
    assert_eq!(parsed.header.port_number, 555);
    assert_eq!(parsed.header.flags, NLM_F_MULTIPART | NLM_F_DUMP_FILTERED);
    assert!(matches!(parsed.payload, NetlinkPayload::Done(d) if d.code == -ENODEV));
    // EINVAL from the header: no flag yet.
    let mut bad = get_addr(AddressFamily::Inet, 2);
    bad.header.prefix_len = 24;
    let req = nl_bytes(&M::GetAddress(bad), DUMP);
    assert_eq!(s::validate(&req, &Fake), Verdict::Fails(EINVAL));
    assert_eq!(s::failed_flags(&req, EINVAL), NLM_F_MULTIPART);
    // ENOENT for a missing table: the route checks all passed, the filter was set.
    let mut r = get_route(AddressFamily::Inet);
    r.attributes.push(RouteAttribute::Table(200));
    let req = nl_bytes(&M::GetRoute(r), DUMP);
    assert_eq!(s::validate(&req, &Fake), Verdict::Fails(ENOENT));
    assert_eq!(
        s::failed_flags(&req, ENOENT),
        NLM_F_MULTIPART | NLM_F_DUMP_FILTERED
    );
    // A link dump's refusals carry none.
    let mut l = LinkMessage::default();
    l.header.index = 4;
    let req = nl_bytes(&M::GetLink(l), DUMP);
    assert_eq!(s::validate(&req, &Fake), Verdict::Fails(EINVAL));
    assert_eq!(s::failed_flags(&req, EINVAL), NLM_F_MULTIPART);
}

#[test]
fn filters_survive_the_sockets_record() {
    let kind = verdict(get_link(vec![LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Bridge),
    ])]));
    let Verdict::Dump(kind) = kind else {
        panic!("{kind:?}")
    };
    let all = [
        kind,
        DumpFilter::Link {
            master: u32::MAX,
            kind: None,
        },
        DumpFilter::Addr {
            family: AF_INET6,
            ifindex: 7,
        },
        DumpFilter::Route {
            family: 0,
            table: 100_000,
            protocol: 4,
            rtype: 1,
            oif: 9,
            flags: s::RTM_F_CLONED,
        },
        DumpFilter::Neigh {
            family: AF_INET,
            ifindex: 3,
            master: 8,
            proxy: true,
        },
    ];
    for f in all {
        assert_eq!(DumpFilter::decode(&f.encode()), Some(f));
    }
    assert_eq!(DumpFilter::decode(&[0; s::FILTER_WORDS]), None);
}
