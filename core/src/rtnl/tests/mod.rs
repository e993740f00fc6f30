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

/// xorshift64: deterministic pseudo-random numbers for the mutation and garbage tests.
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

mod addr;
mod errors;
mod host;
mod link;
mod neigh;
mod random;
mod route;
mod strict;
mod strict_host;
