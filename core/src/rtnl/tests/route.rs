//! Routes: tables, IPv6 per device, multipath, routes sharing a key.

use super::*;

pub(super) fn routes(r: &[RouteMessage]) -> Vec<u8> {
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
    def2.attributes[2] = RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(192, 0, 2, 254)));
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
