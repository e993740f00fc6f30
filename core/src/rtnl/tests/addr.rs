//! Addresses: IPv4 and IPv6, peers, kernel-configured tentative addresses.

use super::*;

pub(super) fn addrs(a: &[AddressMessage]) -> Vec<u8> {
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
