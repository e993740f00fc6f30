//! A full store, malformed and interrupted dumps, garbage: refused without panic, state kept.

use super::addr::addrs;
use super::link::{bridge, port};
use super::neigh::neighs;
use super::route::routes;
use super::*;

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
