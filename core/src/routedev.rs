//! A device for an IPv4 route through a gateway that names none (gVisor 20240729), libc hooks
//! only.
//!
//! Linux takes `RTM_NEWROUTE` with `RTA_GATEWAY` and no `RTA_OIF` and finds the device itself
//! (`fib_check_nh`: the device of the connected subnet that holds the gateway). gVisor 20240729
//! keeps such a route without a device and routes nothing through it: netavark (podman) adds a
//! container's default route that way (`default via 10.88.0.1`, no `dev`), and every packet
//! to another network fails with EHOSTUNREACH ("No route to host"). Docker's libnetwork names
//! the device and is not affected.
//!
//! ```text
//! send of RTM_NEWROUTE, IPv4, RTA_GATEWAY, no RTA_OIF / RTA_MULTIPATH / RTA_VIA / RTA_NH_ID
//!     the IPv4 addresses of the socket's namespace (a dump on a private socket, made in that
//!     namespace: the thread enters it through an fd of the process that names it, and
//!     returns)
//!     the device of the most specific subnet holding the gateway -> a copy of the request
//!     with RTA_OIF appended is sent instead; none -> the request as it is
//! ```
//!
//! On Linux the device added is the one the kernel would choose, so the route is the same.

use crate::abi::{nr, AT_FDCWD, O_CLOEXEC};
use crate::gwroute::{
    gateway_without_device, parse_addr, pick, with_oif, Addr, OIF_ROOM, RTM_GETADDR,
};
use crate::kernel::{net_ns, Kernel};
use crate::membership::Table;
use crate::monitor::find_fd;
use crate::strictchk::dump;
use crate::trace::{self, Level, Line};

/// The largest route request read; netavark's default route is 60 bytes.
pub const MAX_REQUEST: usize = 512;
/// A request buffer: [`MAX_REQUEST`] and the room for `RTA_OIF`.
pub const BUF: usize = MAX_REQUEST + OIF_ROOM;
/// How many addresses are looked at.
const ADDRS: usize = 64;
/// `CLONE_NEWNET`.
const CLONE_NEWNET: usize = 0x4000_0000;

fn sys<K: Kernel>(k: &K, n: usize, a: [usize; 6]) -> isize {
    // SAFETY: every caller passes NUL-terminated paths and descriptors it owns or checked.
    unsafe { k.syscall(n, a) }
}

/// Runs `f` with the calling thread in network namespace `ns` (the nsfs inode of an fd this
/// process holds), then puts the thread back. False when it could not enter (`f` not run).
fn in_namespace<K: Kernel>(k: &K, ns: u64, f: &mut dyn FnMut()) -> bool {
    let Some(fd) = find_fd(k, ns).filter(|fd| *fd >= 0) else {
        return false;
    };
    let path = b"/proc/thread-self/ns/net\0";
    let back = sys(
        k,
        nr::OPENAT,
        [AT_FDCWD, path.as_ptr() as usize, O_CLOEXEC, 0, 0, 0],
    );
    if back < 0 {
        return false;
    }
    if sys(k, nr::SETNS, [fd as usize, CLONE_NEWNET, 0, 0, 0, 0]) != 0 {
        sys(k, nr::CLOSE, [back as usize, 0, 0, 0, 0, 0]);
        return false;
    }
    f();
    if sys(k, nr::SETNS, [back as usize, CLONE_NEWNET, 0, 0, 0, 0]) != 0 {
        trace::line(
            Level::Error,
            "route device: could not return this thread to its network namespace",
        );
    }
    sys(k, nr::CLOSE, [back as usize, 0, 0, 0, 0, 0]);
    true
}

/// The IPv4 addresses of the calling thread's namespace, into `out`; how many.
fn addresses<K: Kernel>(k: &K, out: &mut [Addr; ADDRS]) -> usize {
    let mut n = 0;
    dump(k, RTM_GETADDR, 2, &mut |m| {
        if let Some(a) = parse_addr(m) {
            if n < ADDRS {
                out[n] = a;
                n += 1;
            }
        }
    });
    n
}

/// A route request of `len` bytes in `req` (the caller's, copied; [`BUF`] long) on route
/// socket `fd`: when it is a gateway route without a device and a device holds the gateway
/// in the socket's namespace, `RTA_OIF` is added and the copy sent with `send_copy` (given its
/// address and length). `None`: the caller sends its own request.
pub fn around_send<K: Kernel>(
    k: &K,
    t: &Table,
    fd: usize,
    req: &mut [u8; BUF],
    len: usize,
    send_copy: &dyn Fn(usize, usize) -> isize,
) -> Option<isize> {
    let gw = gateway_without_device(&req[..len])?;
    let mut addrs = [(0u32, [0u8; 4], 0u8); ADDRS];
    let mut n = 0;
    let sock = t.recorded_ns(k, fd);
    if sock == 0 || sock == net_ns(k) {
        n = addresses(k, &mut addrs);
    } else if !in_namespace(k, sock, &mut || n = addresses(k, &mut addrs)) {
        trace::line(
            Level::Info,
            "route through a gateway without a device on a socket of another namespace, which \
             this thread cannot enter: sent as it is",
        );
        return None;
    }
    let oif = pick(gw, &addrs[..n])?;
    let new_len = with_oif(req, len, oif)?;
    let r = send_copy(req.as_ptr() as usize, new_len);
    if trace::enabled(Level::Info) {
        let mut l = Line::new(Level::Info);
        l.str("route via ")
            .dec(i64::from(gw[0]))
            .str(".")
            .dec(i64::from(gw[1]))
            .str(".")
            .dec(i64::from(gw[2]))
            .str(".")
            .dec(i64::from(gw[3]))
            .str(" without a device: RTA_OIF ")
            .dec(i64::from(oif))
            .str(" added, the device Linux would choose (")
            .dec(new_len as i64)
            .str(" bytes sent) = ")
            .dec(r as i64);
        l.emit();
    }
    // The caller sent `len` bytes: all of them, when the longer copy went out whole.
    Some(if r == new_len as isize {
        len as isize
    } else {
        r
    })
}
