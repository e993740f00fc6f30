//! Links: added, removed, changed; what is not a change.

use super::*;

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

pub(super) fn bridge(gc: u64, idx: u32) -> LinkMessage {
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

pub(super) fn port(timer: u64, cost: u32) -> LinkMessage {
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
