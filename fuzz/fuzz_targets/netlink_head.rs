//! The doorbell recogniser reads the head of any datagram the kernel queued: it must never
//! read out of bounds, and must recognise exactly the kernel's answer to gvnet's doorbell.
#![no_main]
use gvnet_core::recv::{bell_request, is_bell};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = is_bell(data);
    // The kernel's answer to the doorbell: NLMSG_ERROR with -ENODEV and the request echoed.
    let req = bell_request();
    let mut answer = [0u8; 36];
    answer[0..4].copy_from_slice(&36u32.to_ne_bytes());
    answer[4..6].copy_from_slice(&2u16.to_ne_bytes());
    answer[8..16].copy_from_slice(&req[8..16]);
    answer[16..20].copy_from_slice(&(-19i32).to_ne_bytes());
    answer[20..36].copy_from_slice(&req[0..16]);
    assert!(is_bell(&answer));
    // Any prefix of the fuzzer's bytes spliced over the answer: no panic either way.
    let n = data.len().min(answer.len());
    answer[..n].copy_from_slice(&data[..n]);
    let _ = is_bell(&answer);
});
