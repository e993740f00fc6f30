//! A deterministic random mutation test: the events turn the old set into the new one exactly.

use super::*;

/// A random object: a key part and a content part, each small enough to collide often.
#[derive(Clone, Debug)]
struct Spec {
    kind: Kind,
    v6: bool,
    key: (u32, u8, u32),
    content: (u32, u8),
    noise: u32,
}

/// States whose appearance and every change between which Linux announces.
const NEIGH_STATES: [NeighbourState; 6] = [
    NeighbourState::Reachable,
    NeighbourState::Stale,
    NeighbourState::Probe,
    NeighbourState::Failed,
    NeighbourState::Permanent,
    NeighbourState::Reachable,
];

impl Spec {
    fn random(kind: Kind, rng: &mut Rng) -> Spec {
        let mut s = Spec {
            kind,
            v6: rng.below(2) == 1,
            key: (
                1 + rng.below(12) as u32,
                rng.pick(&[8, 16, 24]),
                rng.pick(&[0, 100]),
            ),
            content: (0, 0),
            noise: 0,
        };
        s.mutate(rng, true);
        s.mutate(rng, false);
        s
    }

    fn mutate(&mut self, rng: &mut Rng, relevant: bool) {
        if relevant {
            self.content = (rng.below(4) as u32, rng.below(6) as u8);
        } else {
            self.noise = rng.next() as u32;
        }
    }

    fn ip(&self, host: u32) -> IpAddr {
        if self.v6 {
            v6(host as u16)
        } else {
            v4(10, 0, host as u8, 0)
        }
    }

    fn msg(&self) -> M {
        let (k0, k1, k2) = self.key;
        let (c0, c1) = self.content;
        match self.kind {
            Kind::Link => {
                let flags = [0, UP, UP | IFF_RUNNING | IFF_LOWER_UP, UP | BROADCAST][c0 as usize];
                let mut m = link(k0, &format!("if{c1}"), flags);
                set_link_attr(&mut m, stats(self.noise as u64));
                set_link_attr(&mut m, LinkAttribute::CarrierChanges(self.noise));
                M::NewLink(m)
            }
            Kind::Addr => {
                let mut m = addr(self.ip(k0), k1, 1 + k2 / 100);
                m.attributes[3] =
                    AddressAttribute::Flags(AddressFlags::from_bits_retain(0x80 | (c0 << 5)));
                m.attributes.push(AddressAttribute::Label(format!("l{c1}")));
                m.attributes[2] =
                    AddressAttribute::CacheInfo(addr_ci(self.noise, self.noise, 1, self.noise));
                M::NewAddress(m)
            }
            Kind::Route => {
                let table = [254, 255, 100][(k2 / 100) as usize % 3];
                let mut m = route(self.ip(k0), k1, table, Some(k2), 1 + c0);
                m.attributes
                    .push(RouteAttribute::Gateway(match self.ip(c1 as u32 + 1) {
                        IpAddr::V4(a) => RouteAddress::Inet(a),
                        IpAddr::V6(a) => RouteAddress::Inet6(a),
                    }));
                m.attributes
                    .push(RouteAttribute::CacheInfo(route_ci(self.noise)));
                m.header.flags = RouteFlags::from_bits_retain(self.noise & 16);
                M::NewRoute(m)
            }
            Kind::Neigh => {
                let mut m = neigh(
                    self.ip(k0),
                    1 + k2 / 100,
                    NEIGH_STATES[c1 as usize],
                    c0 as u8,
                );
                m.attributes[3] = NeighbourAttribute::Probes(self.noise);
                M::NewNeighbour(m)
            }
        }
    }
}

/// The oracle's view of identity and of the compared content, written independently of
/// the engine: parse, drop what Linux changes silently, print.
fn oracle(m: &M) -> (String, String, u32) {
    match m.clone() {
        M::NewLink(mut l) | M::DelLink(mut l) => {
            let flags = l.header.flags.bits();
            l.header.change_mask = LinkFlags::empty();
            l.attributes.retain(|a| {
                !matches!(
                    a,
                    LinkAttribute::Stats64(_)
                        | LinkAttribute::Stats(_)
                        | LinkAttribute::CarrierChanges(_)
                )
            });
            (format!("{}", l.header.index), format!("{l:?}"), flags)
        }
        M::NewAddress(mut a) | M::DelAddress(mut a) => {
            a.attributes
                .retain(|x| !matches!(x, AddressAttribute::CacheInfo(_)));
            let local = a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Local(l) => Some(*l),
                _ => None,
            });
            let key = format!(
                "{:?} {} {} {local:?}",
                a.header.family, a.header.index, a.header.prefix_len
            );
            (key, format!("{a:?}"), 0)
        }
        M::NewRoute(mut r) | M::DelRoute(mut r) => {
            r.attributes
                .retain(|x| !matches!(x, RouteAttribute::CacheInfo(_)));
            r.header.flags = RouteFlags::from_bits_retain(r.header.flags.bits() & !16);
            let find = |want: fn(&RouteAttribute) -> Option<String>| {
                r.attributes.iter().find_map(want).unwrap_or_default()
            };
            let dst = find(|x| match x {
                RouteAttribute::Destination(d) => Some(format!("{d:?}")),
                _ => None,
            });
            let table = find(|x| match x {
                RouteAttribute::Table(t) => Some(format!("t{t}")),
                _ => None,
            });
            let prio = find(|x| match x {
                RouteAttribute::Priority(p) => Some(format!("p{p}")),
                _ => None,
            });
            let mut key = format!(
                "{:?} {} {dst} {table}{prio}",
                r.header.address_family, r.header.destination_prefix_length
            );
            if r.header.address_family == AddressFamily::Inet6 {
                // fib6 tells routes of one prefix and metric apart by next hop.
                key += &find(|x| match x {
                    RouteAttribute::Gateway(g) => Some(format!(" via {g:?}")),
                    _ => None,
                });
                key += &find(|x| match x {
                    RouteAttribute::Oif(o) => Some(format!(" dev {o}")),
                    _ => None,
                });
            }
            (key, format!("{r:?}"), 0)
        }
        M::NewNeighbour(mut n) | M::DelNeighbour(mut n) => {
            n.attributes.retain(|x| {
                !matches!(
                    x,
                    NeighbourAttribute::Probes(_) | NeighbourAttribute::CacheInfo(_)
                )
            });
            let dst = n.attributes.iter().find_map(|x| match x {
                NeighbourAttribute::Destination(d) => Some(format!("{d:?}")),
                _ => None,
            });
            (format!("{} {dst:?}", n.header.ifindex), format!("{n:?}"), 0)
        }
        m => panic!("unexpected {m:?}"),
    }
}

#[test]
fn random_mutations_transform_old_into_new_exactly() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for kind in Kind::ALL {
        let mut store = vec![0u8; 1 << 18];
        let mut v = View::new(kind, &mut store);
        let mut set: Vec<Spec> = Vec::new();
        // listener's model: key -> (content, link flags)
        let mut model: BTreeMap<String, (String, u32)> = BTreeMap::new();
        let mut total = 0;
        for round in 0..400 {
            // mutate
            for _ in 0..rng.below(6) {
                match rng.below(5) {
                    0 => set.push(Spec::random(kind, &mut rng)),
                    1 if !set.is_empty() => {
                        let i = rng.below(set.len());
                        set.remove(i);
                    }
                    2 if !set.is_empty() => {
                        let i = rng.below(set.len());
                        set[i].mutate(&mut rng, true);
                    }
                    3 if set.len() > 1 => {
                        let (i, j) = (rng.below(set.len()), rng.below(set.len()));
                        set.swap(i, j);
                    }
                    _ => {
                        for s in set.iter_mut() {
                            s.mutate(&mut rng, false);
                        }
                    }
                }
            }
            // one object per key, as Linux keeps them (duplicates have their own test)
            let mut seen = std::collections::HashSet::new();
            set.retain(|s| seen.insert(oracle(&s.msg()).0));
            let msgs: Vec<M> = set.iter().map(Spec::msg).collect();
            let want: BTreeMap<String, (String, u32)> = msgs
                .iter()
                .map(|m| {
                    let (k, c, f) = oracle(m);
                    (k, (c, f))
                })
                .collect();
            let evs = cycle(&mut v, &dump(&msgs));
            if round == 0 {
                assert!(evs.is_empty());
                model = want;
                continue;
            }
            total += evs.len();
            let mut dels_done = false;
            for e in &evs {
                let m = e.msg();
                let (k, c, flags) = oracle(&m);
                assert_eq!(Some(e.group), kind.group(e.body[0]));
                if e.ty == kind.del_type() {
                    assert!(!dels_done, "DEL after NEW");
                    let old = model.remove(&k).expect("DEL of a known object");
                    assert!(!want.contains_key(&k), "DEL of a kept object {k}");
                    assert_eq!(old.0, c, "DEL carries the last known state");
                    if let M::DelLink(l) = &m {
                        assert_eq!(l.header.change_mask.bits(), !0);
                    }
                } else {
                    assert_eq!(e.ty, kind.new_type());
                    dels_done = true;
                    let prev = model.insert(k.clone(), (c.clone(), flags));
                    assert_eq!(
                        Some(&(c.clone(), flags)),
                        want.get(&k),
                        "NEW is the new state"
                    );
                    if let Some(p) = &prev {
                        assert_ne!(p.0, c, "NEW without a change: {k}");
                    }
                    if let M::NewLink(l) = &m {
                        let change = match prev {
                            None => !0,
                            Some((_, old)) => (old ^ flags) & !IFF_VOLATILE,
                        };
                        assert_eq!(l.header.change_mask.bits(), change, "ifi_change");
                    }
                }
            }
            assert_eq!(
                model.iter().map(|(k, v)| (k, &v.0)).collect::<Vec<_>>(),
                want.iter().map(|(k, v)| (k, &v.0)).collect::<Vec<_>>(),
                "{kind:?} round {round}"
            );
            model = want;
        }
        assert!(
            total > 200,
            "{kind:?}: the test exercised changes ({total} events)"
        );
    }
}
