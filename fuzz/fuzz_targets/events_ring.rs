//! The per-socket event ring (`events::EventState`): arbitrary sequences of pushes (any size,
//! any group), pops, limit changes and resets on small rings, checked against a plain queue.
#![no_main]
use gvnet_core::events::EventState;
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;

fuzz_target!(|data: &[u8]| {
    let Some((&c, mut ops)) = data.split_first() else { return };
    // Small rings (64..=2104 bytes, multiple of 8) make wrapping and overruns frequent.
    let cap = 64 + (c as usize % 256) * 8;
    let mut mem = vec![0u64; cap / 8];
    let st = EventState::new();
    st.set_limit(u32::MAX);
    // SAFETY: `mem` is 8-aligned, `cap` bytes long, owned by this ring, and outlives `st`'s use.
    unsafe { st.install_ring(mem.as_mut_ptr() as *mut u8, cap) };
    let mut model: VecDeque<(u32, Vec<u8>)> = VecDeque::new();
    let mut fill = 0u8;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        match op % 5 {
            0 | 1 => {
                let (group, len) = match ops {
                    [g, l, rest @ ..] => {
                        ops = rest;
                        (*g as u32, *l as usize * (1 + op as usize / 64))
                    }
                    _ => break,
                };
                let hdr: Vec<u8> = (0..len.min(16)).map(|i| fill.wrapping_add(i as u8)).collect();
                let body: Vec<u8> = (0..len.saturating_sub(16)).map(|i| fill ^ i as u8).collect();
                fill = fill.wrapping_add(1);
                if st.push(group, &hdr, &body) {
                    let mut m = hdr.clone();
                    m.extend_from_slice(&body);
                    model.push_back((group, m));
                }
            }
            2 => {
                let r = st.lock().expect("one reader");
                r.pop();
                model.pop_front();
            }
            3 => {
                let limit = match ops {
                    [a, b, rest @ ..] => {
                        ops = rest;
                        u16::from_le_bytes([*a, *b]) as u32
                    }
                    _ => break,
                };
                st.set_limit(limit);
            }
            _ => {
                let r = st.lock().expect("one reader");
                r.clear();
                model.clear();
            }
        }
        let r = st.lock().expect("one reader");
        match (r.front(), model.front()) {
            (None, None) => {}
            (Some((g, m)), Some((mg, mm))) => {
                assert_eq!(g, *mg);
                assert_eq!(m, &mm[..]);
            }
            (a, b) => panic!("ring front {a:?}, model front {b:?}"),
        }
        drop(r);
        assert!(st.lock().is_some(), "the reader's BUSY bit was not released");
    }
});
