//! The rtnetlink dump parser and diff (`rtnl::View`) on arbitrary bytes: no panic, events only
//! of the view's kind, and a dump loaded twice in a row yields no events the second time.
#![no_main]
use gvnet_core::rtnl::{store_size, Event, Kind, View};
use libfuzzer_sys::fuzz_target;

fn check(kind: Kind, e: &Event<'_>) {
    assert!(
        e.msg_type == kind.new_type() || e.msg_type == kind.del_type(),
        "event type {} for {:?}",
        e.msg_type,
        kind
    );
    assert!(e.group >= 1 && e.group <= 39, "group {}", e.group);
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else { return };
    let kind = [Kind::Link, Kind::Addr, Kind::Route, Kind::Neigh][k as usize % 4];
    let (cut, rest) = match rest {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
        _ => (0, rest),
    };
    let cut = cut.min(rest.len());
    let dumps = [&rest[..cut], &rest[cut..], &rest[..cut]];
    let mut store = vec![0u8; store_size(rest.len())];
    let mut v = View::new(kind, &mut store);
    for d in dumps {
        if v.load(d).is_err() {
            continue;
        }
        v.removed(&mut |e| check(kind, e));
        v.added_or_changed(&mut |e| check(kind, e));
        v.commit();
        // The same dump again: nothing changed, so nothing to announce.
        if v.load(d).is_ok() {
            let mut n = 0;
            v.removed(&mut |_| n += 1);
            v.added_or_changed(&mut |_| n += 1);
            assert_eq!(n, 0, "a dump compared with itself produced {n} events");
            v.commit();
        }
    }
});
