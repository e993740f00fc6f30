//! The host kernel's own tables, dumped twice: no events.

use super::*;
use crate::rtnl::attrs::align4;

/// Dumps `kind` from the test process's network namespace with an unprivileged
/// NETLINK_ROUTE socket, the way the monitor will: request header of the kind's size,
/// family `dump_family()`.
fn host_dump(kind: Kind) -> Vec<u8> {
    // SAFETY: plain socket(2); the fd is closed below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    let mut req = vec![0u8; NLMSG_HDRLEN + kind.header_len()];
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req[4..6].copy_from_slice(&kind.get_type().to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = kind.dump_family();
    // SAFETY: req is a live buffer of req.len() bytes; no address (the kernel).
    let n = unsafe { libc::send(fd, req.as_ptr().cast(), req.len(), 0) };
    assert_eq!(n, req.len() as isize, "send");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    'recv: loop {
        // SAFETY: buf is a live buffer of buf.len() bytes.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        assert!(n > 0, "recv: {}", std::io::Error::last_os_error());
        let got = &buf[..n as usize];
        out.extend_from_slice(got);
        let mut off = 0;
        while off + NLMSG_HDRLEN <= got.len() {
            let len = u32::from_ne_bytes(got[off..off + 4].try_into().unwrap()) as usize;
            let ty = u16::from_ne_bytes(got[off + 4..off + 6].try_into().unwrap());
            if ty == libc::NLMSG_DONE as u16 || ty == libc::NLMSG_ERROR as u16 {
                break 'recv;
            }
            off += align4(len.max(NLMSG_HDRLEN));
        }
    }
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    out
}

fn count_objects(kind: Kind, d: &[u8]) -> usize {
    let mut n = 0;
    let mut off = 0;
    while off + NLMSG_HDRLEN <= d.len() {
        let len = u32::from_ne_bytes(d[off..off + 4].try_into().unwrap()) as usize;
        let ty = u16::from_ne_bytes(d[off + 4..off + 6].try_into().unwrap());
        if ty == kind.new_type() {
            // The oracle parses what the host sent.
            let m = NetlinkMessage::<M>::deserialize(&d[off..off + len]);
            assert!(m.is_ok(), "{kind:?} message parses: {m:?}");
            let fam = d[off + NLMSG_HDRLEN];
            if kind.group(fam).is_some() {
                n += 1;
            }
        }
        off += align4(len);
    }
    n
}

#[test]
fn host_dumps_twice_yield_no_events() {
    for kind in Kind::ALL {
        let first = host_dump(kind);
        let objects = count_objects(kind, &first);
        if kind != Kind::Neigh {
            assert!(objects > 0, "{kind:?}: the host has some");
        }
        let mut store = vec![0u8; store_size(first.len() * 2)];
        let mut v = View::new(kind, &mut store);
        assert!(cycle(&mut v, &first).is_empty());
        assert_eq!(v.len(), objects, "{kind:?}");
        // The host may really change between two dumps (a neighbour ageing): a quiet
        // cycle must come within a few tries.
        let mut quiet = false;
        for _ in 0..5 {
            let again = host_dump(kind);
            if cycle(&mut v, &again).is_empty() {
                quiet = true;
                break;
            }
            std::thread::sleep(core::time::Duration::from_millis(50));
        }
        assert!(quiet, "{kind:?}: two identical host dumps produced events");
    }
}
