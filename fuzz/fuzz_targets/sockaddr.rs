//! `sockaddr_nl` decoding: any 12 bytes decode, and encode back to the same bytes.
#![no_main]
use gvnet_core::sockaddr::{family, SockaddrNl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 2 {
        let f = family([data[0], data[1]]);
        assert_eq!(f.to_ne_bytes(), [data[0], data[1]]);
    }
    let Some(raw) = data.get(..12) else { return };
    let raw: [u8; 12] = raw.try_into().expect("12 bytes");
    let sa = SockaddrNl::from_bytes(&raw);
    assert_eq!(sa.to_bytes(), raw);
    let bare = sa.without_groups();
    assert_eq!(bare.groups, 0);
    assert_eq!(bare.to_bytes()[..8], raw[..8]);
});
