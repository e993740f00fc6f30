//! Neighbours: the state transitions Linux notifies and those it does not.

use super::*;

pub(super) fn neighs(n: &[NeighbourMessage]) -> Vec<u8> {
    dump(&n.iter().cloned().map(M::NewNeighbour).collect::<Vec<_>>())
}

fn as_neigh(e: &Ev) -> NeighbourMessage {
    match e.msg() {
        M::NewNeighbour(m) | M::DelNeighbour(m) => m,
        m => panic!("not a neighbour: {m:?}"),
    }
}

#[test]
fn neighbour_states_as_linux_notifies_them() {
    use NeighbourState::*;
    let ip = v4(172, 17, 0, 3);
    let n = |s: NeighbourState, probes: u32| {
        let mut m = neigh(ip, 5, s, 3);
        m.attributes[3] = NeighbourAttribute::Probes(probes);
        m
    };
    let mut f = Fixture::new();
    let mut v = f.view(Kind::Neigh);
    cycle(&mut v, &neighs(&[]));
    // (new state, event expected): the sequence of a resolution and its ageing.
    let steps = [
        (Incomplete, false), // created and probing: neigh_create and event_send are silent
        (Reachable, true),   // resolved: __neigh_update notifies
        (Delay, false),      // timer: REACHABLE -> DELAY is silent
        (Reachable, true),   // DELAY -> REACHABLE notifies
        (Stale, true),       // REACHABLE -> STALE notifies
        (Delay, false),      // __neigh_event_send: STALE -> DELAY silent
        (Probe, true),       // DELAY -> PROBE notifies (since 6.x)
        (Failed, true),      // PROBE -> FAILED notifies
        (Incomplete, false), // FAILED -> INCOMPLETE by event_send, silent
        (Failed, true),
    ];
    for (i, (s, want)) in steps.into_iter().enumerate() {
        let m = n(s, i as u32);
        let evs = cycle(&mut v, &neighs(core::slice::from_ref(&m)));
        if want {
            assert_eq!(evs.len(), 1, "step {i} {s:?}");
            assert_eq!(
                (evs[0].group, evs[0].ty, as_neigh(&evs[0])),
                (RTNLGRP_NEIGH, RTM_NEWNEIGH, m),
                "step {i}"
            );
        } else {
            assert!(evs.is_empty(), "step {i} {s:?}: {evs:?}");
        }
    }
    // Probes and cache info alone: nothing. A new lladdr while DELAY: an event.
    let mut m = n(Failed, 99);
    m.attributes[2] = NeighbourAttribute::CacheInfo(neigh_ci(0));
    assert!(cycle(&mut v, &neighs(&[m])).is_empty());
    cycle(&mut v, &neighs(&[n(Stale, 0)]));
    let mut m = neigh(ip, 5, Delay, 4);
    m.attributes[3] = NeighbourAttribute::Probes(0);
    assert_eq!(cycle(&mut v, &neighs(core::slice::from_ref(&m))).len(), 1);
    // Deletion is always announced, even of an entry never announced.
    let evs = cycle(&mut v, &neighs(&[]));
    assert_eq!(evs.len(), 1);
    assert_eq!((evs[0].ty, as_neigh(&evs[0])), (RTM_DELNEIGH, m));
    cycle(&mut v, &neighs(&[n(Incomplete, 0)]));
    let evs = cycle(&mut v, &neighs(&[]));
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].ty, RTM_DELNEIGH);
    // Multicast entries the constructors create as NOARP: silent; their deletion is not.
    let mc = neigh(v4(224, 0, 0, 22), 5, Noarp, 0);
    assert!(cycle(&mut v, &neighs(core::slice::from_ref(&mc))).is_empty());
    let evs = cycle(&mut v, &neighs(&[]));
    assert_eq!((evs.len(), evs[0].ty), (1, RTM_DELNEIGH));
    // IPv6 goes to the same group.
    let evs = cycle(&mut v, &neighs(&[neigh(v6(1), 5, Reachable, 1)]));
    assert_eq!((evs[0].group, evs[0].ty), (RTNLGRP_NEIGH, RTM_NEWNEIGH));
}
