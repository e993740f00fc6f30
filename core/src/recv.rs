//! Receives on subscribed sockets: queued events first, doorbells hidden.
//!
//! The monitor queues events per socket ([`crate::events`]) and makes the socket readable by
//! ringing a *doorbell*: it sends, from the subscriber's own socket, an `RTM_GETLINK` for an
//! interface index that cannot exist, with a sequence number of gvnet's, so the kernel puts an
//! `NLMSG_ERROR(-ENODEV)` reply into the socket's queue. `poll`, `select`, `epoll` and blocking
//! receives then wake as they would for a multicast message. A receive on the socket returns the
//! queued events first, each as one datagram from the kernel (`nl_pid` 0, `nl_groups` the
//! event's group), and consumes doorbells silently; everything else (the socket's own replies)
//! comes from the kernel unchanged.
//!
//! Linux's `netlink_recvmsg` is the reference: `MSG_PEEK` leaves the message queued,
//! `MSG_TRUNC` returns the full length, a short buffer truncates and sets `MSG_TRUNC` in
//! `msg_flags` and drops the rest of the datagram, an overrun yields `ENOBUFS` once (unless
//! `NETLINK_NO_ENOBUFS`), `SO_RCVTIMEO` bounds a blocking wait (then `EAGAIN`).

use crate::abi::{self, errno, nr};
use crate::events::{EventState, BELL, NO_ENOBUFS, OVERRUN};
use crate::kernel::{inode, read_user, write_user, Kernel};
use crate::membership::{Slot, Table};
use crate::sockaddr::SockaddrNl;

/// The doorbell's sequence number ("gvbl").
pub const BELL_SEQ: u32 = 0x6776_626c;
/// An interface index no kernel hands out (indexes are allocated upwards from 1).
pub const BELL_IFINDEX: i32 = 0x7fff_ff5e;

/// The doorbell request: `RTM_GETLINK` for [`BELL_IFINDEX`] with `NLM_F_ACK`.
pub fn bell_request() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0..4].copy_from_slice(&32u32.to_ne_bytes());
    b[4..6].copy_from_slice(&abi::RTM_GETLINK.to_ne_bytes());
    b[6..8].copy_from_slice(&(abi::NLM_F_REQUEST | abi::NLM_F_ACK).to_ne_bytes());
    b[8..12].copy_from_slice(&BELL_SEQ.to_ne_bytes());
    // ifinfomsg: family 0, type 0, index at 4..8 of the body.
    b[20..24].copy_from_slice(&BELL_IFINDEX.to_ne_bytes());
    b
}

/// Whether the first bytes of a datagram are a doorbell's answer.
pub fn is_bell(head: &[u8]) -> bool {
    let word = |o: usize| {
        head.get(o..o + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let ty = head.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    ty == Some(abi::NLMSG_ERROR)
        && word(8) == Some(BELL_SEQ)
        && word(16) == Some((-errno::ENODEV) as u32)
}

/// Rings the doorbell of the socket at `fd`: afterwards it is readable. Returns the kernel's
/// answer to the `sendto`.
pub fn ring<K: Kernel>(k: &K, fd: usize) -> isize {
    let req = bell_request();
    let to = kernel_addr(0);
    // SAFETY: `req` and `to` are live locals of the lengths given.
    unsafe {
        k.syscall(
            nr::SENDTO,
            [
                fd,
                req.as_ptr() as usize,
                req.len(),
                abi::MSG_DONTWAIT,
                to.as_ptr() as usize,
                to.len(),
            ],
        )
    }
}

/// Makes sure a socket with queued events is readable: rings unless a doorbell is outstanding.
pub fn ensure_bell<K: Kernel>(k: &K, ev: &EventState, fd: usize) {
    if ev.queued() > 0 && !ev.set(BELL) && ring(k, fd) < 0 {
        ev.clear(BELL);
    }
}

/// What the head of the socket's kernel queue is.
enum Head {
    Bell,
    Data,
    Empty,
    Error,
}

fn peek_head<K: Kernel>(k: &K, fd: usize) -> Head {
    let mut b = [0u8; 20];
    // SAFETY: `b` is a live local of the length given; no address is asked for.
    let r = unsafe {
        k.syscall(
            nr::RECVFROM,
            [
                fd,
                b.as_mut_ptr() as usize,
                b.len(),
                abi::MSG_PEEK | abi::MSG_DONTWAIT | abi::MSG_TRUNC,
                0,
                0,
            ],
        )
    };
    match r {
        n if n >= 20 && is_bell(&b) => Head::Bell,
        n if n >= 0 => Head::Data,
        n if n == -(errno::EAGAIN as isize) => Head::Empty,
        _ => Head::Error,
    }
}

/// Takes the doorbell answer at the head of the queue (the caller holds the ring, so no other
/// emulated receive runs on this socket), then re-rings if events arrived meanwhile.
fn take_bell<K: Kernel>(k: &K, ev: &EventState, fd: usize) {
    let mut b = [0u8; 64];
    // SAFETY: `b` is a live local of the length given.
    unsafe {
        k.syscall(
            nr::RECVFROM,
            [
                fd,
                b.as_mut_ptr() as usize,
                b.len(),
                abi::MSG_DONTWAIT,
                0,
                0,
            ],
        );
    }
    ev.clear(BELL);
    ensure_bell(k, ev, fd);
}

/// A receive call's arguments, decoded.
#[derive(Clone, Copy, Debug)]
pub enum RecvArgs {
    /// `recvfrom(fd, buf, len, flags, addr, addrlen)` (also `recv`).
    From {
        /// Buffer.
        buf: usize,
        /// Its length.
        len: usize,
        /// Where the source address goes (0: nowhere).
        addr: usize,
        /// Its length, in and out.
        addrlen: usize,
    },
    /// `recvmsg(fd, msg, flags)`.
    Msg {
        /// The `struct msghdr`.
        msg: usize,
    },
}

impl RecvArgs {
    /// The arguments of a `recvfrom` (`nr::RECVFROM`) or `recvmsg` call, and its flags.
    pub fn of(nr: usize, a: [usize; 6]) -> (RecvArgs, usize) {
        if nr == crate::abi::nr::RECVFROM {
            (
                RecvArgs::From {
                    buf: a[1],
                    len: a[2],
                    addr: a[4],
                    addrlen: a[5],
                },
                a[3],
            )
        } else {
            (RecvArgs::Msg { msg: a[1] }, a[2])
        }
    }
}

/// What a receive did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// An event of this group (its full length is in `ret`'s sense, see Linux).
    Event(u32),
    /// The overrun report.
    Overrun,
    /// Waited for the kernel or an event and gave up (timeout, signal, or the socket's fd was
    /// closed under the wait: EBADF).
    Waited,
}

fn neg(e: i32) -> isize {
    -(e as isize)
}

/// The socket `fd`'s record if it has event state to serve.
fn subscribed<'t, K: Kernel>(k: &K, t: &'t Table, fd: usize) -> Option<&'t Slot> {
    if t.is_empty() {
        return None;
    }
    let s = t.get(fd as i32, inode(k, fd).ok()?)?;
    let ev = &s.ev;
    ((s.groups() != 0 && ev.ns() != 0) || ev.queued() > 0 || ev.has(BELL) || ev.has(OVERRUN))
        .then_some(s)
}

fn nonblocking<K: Kernel>(k: &K, fd: usize, flags: usize) -> bool {
    if flags & abi::MSG_DONTWAIT != 0 {
        return true;
    }
    // SAFETY: F_GETFL takes no pointer.
    let fl = unsafe { k.syscall(nr::FCNTL, [fd, abi::F_GETFL, 0, 0, 0, 0]) };
    fl >= 0 && (fl as usize) & abi::O_NONBLOCK != 0
}

/// Milliseconds of `SO_RCVTIMEO`, `None` for none (block forever).
fn rcvtimeo_ms<K: Kernel>(k: &K, fd: usize) -> Option<i64> {
    let mut tv = [0i64; 2];
    let mut len: u32 = 16;
    // SAFETY: `tv` and `len` are live locals of the sizes given.
    let r = unsafe {
        k.syscall(
            nr::GETSOCKOPT,
            [
                fd,
                abi::SOL_SOCKET as usize,
                abi::SO_RCVTIMEO as usize,
                tv.as_mut_ptr() as usize,
                &mut len as *mut u32 as usize,
                0,
            ],
        )
    };
    if r < 0 || (tv[0] == 0 && tv[1] == 0) {
        return None;
    }
    Some(tv[0].saturating_mul(1000) + (tv[1] + 999) / 1000)
}

fn now_ms<K: Kernel>(k: &K) -> i64 {
    let mut ts = [0i64; 2];
    // SAFETY: `ts` is a live struct timespec; CLOCK_MONOTONIC is 1.
    unsafe { k.syscall(nr::CLOCK_GETTIME, [1, ts.as_mut_ptr() as usize, 0, 0, 0, 0]) };
    ts[0] * 1000 + ts[1] / 1_000_000
}

/// Waits until `fd` is readable or `deadline` (ms, monotonic) passes. Returns 0 when readable,
/// `-EAGAIN` at the deadline, `-EINTR` when a signal came and the wait has a deadline (a
/// receive with a timeout is not restarted by Linux either), `-EBADF` once `fd` no longer
/// names the socket of inode `ino` when a signal ends a poll (see [`same_socket`]; between
/// calls the caller checks, and before the first it has just found the socket by `fd`).
fn wait<K: Kernel>(k: &K, fd: usize, deadline: Option<i64>, ino: u64) -> isize {
    loop {
        let timeout = match deadline {
            None => -1i64,
            Some(d) => (d - now_ms(k)).max(0),
        };
        let mut pfd = [0u8; 8];
        pfd[0..4].copy_from_slice(&(fd as i32).to_ne_bytes());
        pfd[4..6].copy_from_slice(&abi::POLLIN.to_ne_bytes());
        // SAFETY: `pfd` is one live struct pollfd.
        let r = unsafe {
            k.syscall(
                nr::POLL,
                [pfd.as_mut_ptr() as usize, 1, timeout as usize, 0, 0, 0],
            )
        };
        match r {
            0 => return neg(errno::EAGAIN),
            r if r > 0 => return 0,
            r if r == neg(errno::EINTR) && deadline.is_none() => {
                if !same_socket(k, fd, ino) {
                    return neg(errno::EBADF);
                }
            }
            r => return r,
        }
    }
}

/// Whether `fd` still names the socket of inode `ino` that a waiting receive was called on.
///
/// Linux's blocked receive holds the socket it was called on: another thread's `close` of the
/// fd does not end it, and a new socket that gets the same number is none of its business.
/// gvnet's wait polls the fd *number*, again after every signal, so it must check that the
/// number still names the same socket, or it would take the new socket's doorbell and leave
/// that socket's own reader asleep with events queued. (vishvananda/netlink's `Close` closes
/// the fd under its blocked reader; the next subscription often gets the same number.) When the
/// socket is gone from under it the receive ends with EBADF: what the program's next call on
/// that number would give, where Linux would block for good.
fn same_socket<K: Kernel>(k: &K, fd: usize, ino: u64) -> bool {
    inode(k, fd) == Ok(ino)
}

/// Serves a receive on `fd`. `None`: not ours, hand the call to the kernel unchanged.
pub fn recv<K: Kernel>(
    k: &K,
    t: &Table,
    fd: usize,
    args: RecvArgs,
    flags: usize,
) -> Option<(isize, Received)> {
    let s = subscribed(k, t, fd)?;
    if flags & abi::MSG_ERRQUEUE != 0 {
        return None;
    }
    let ev = &s.ev;
    let ino = s.ino();
    let mut deadline: Option<Option<i64>> = None;
    let mut waited = false;
    loop {
        if waited && !same_socket(k, fd, ino) {
            return Some((neg(errno::EBADF), Received::Waited));
        }
        if ev.has(OVERRUN) && ev.clear(OVERRUN) && !ev.has(NO_ENOBUFS) {
            return Some((neg(errno::ENOBUFS), Received::Overrun));
        }
        let Some(r) = ev.lock() else {
            // Another thread is reading this socket right now: let the kernel serve this one.
            return None;
        };
        if let Some((group, msg)) = r.front() {
            let ret = deliver(k, args, group, msg, flags);
            if flags & abi::MSG_PEEK == 0 {
                r.pop();
                if r.front().is_none() && ev.has(BELL) {
                    if let Head::Bell = peek_head(k, fd) {
                        take_bell(k, ev, fd);
                    }
                }
            }
            return Some((ret, Received::Event(group)));
        }
        match peek_head(k, fd) {
            Head::Bell => {
                take_bell(k, ev, fd);
                continue;
            }
            Head::Data | Head::Error => return None,
            Head::Empty => {}
        }
        drop(r);
        if nonblocking(k, fd, flags) {
            return None;
        }
        let d = *deadline.get_or_insert_with(|| rcvtimeo_ms(k, fd).map(|ms| now_ms(k) + ms));
        if waited && d.is_some_and(|d| now_ms(k) >= d) {
            return Some((neg(errno::EAGAIN), Received::Waited));
        }
        let w = wait(k, fd, d, ino);
        waited = true;
        if w < 0 {
            return Some((w, Received::Waited));
        }
    }
}

/// The kernel's netlink address (`nl_pid` 0) with `group` (1..=32) as `nl_groups`, or none:
/// the source of an event, and (group 0) the destination of a request to the kernel.
pub fn kernel_addr(group: u32) -> [u8; abi::SOCKADDR_NL_LEN] {
    SockaddrNl {
        family: abi::AF_NETLINK,
        pad: 0,
        pid: 0,
        groups: if (1..=32).contains(&group) {
            1u32 << (group - 1)
        } else {
            0
        },
    }
    .to_bytes()
}

/// Writes the source address as `move_addr_to_user` does: at most `*addrlen` bytes, then the
/// full length into `*addrlen`.
fn put_name<K: Kernel>(k: &K, addr: usize, addrlen: usize, group: u32) -> Result<(), i32> {
    let mut raw = [0u8; 4];
    read_user(k, addrlen, &mut raw)?;
    let room = i32::from_ne_bytes(raw);
    if room < 0 {
        return Err(errno::EINVAL);
    }
    let name = kernel_addr(group);
    let n = (room as usize).min(name.len());
    write_user(k, addr, &name[..n])?;
    write_user(k, addrlen, &(name.len() as u32).to_ne_bytes())
}

/// Copies one datagram from the kernel (an event of `group`, or with group 0 anything else)
/// into the caller's buffers as `netlink_recvmsg` does; the return value of the receive.
pub fn deliver<K: Kernel>(k: &K, args: RecvArgs, group: u32, msg: &[u8], flags: usize) -> isize {
    let full = msg.len();
    let copied = match args {
        RecvArgs::From {
            buf,
            len,
            addr,
            addrlen,
        } => {
            let n = len.min(full);
            if n > 0 {
                if let Err(e) = write_user(k, buf, &msg[..n]) {
                    return neg(e);
                }
            }
            if addr != 0 {
                if let Err(e) = put_name(k, addr, addrlen, group) {
                    return neg(e);
                }
            }
            n
        }
        RecvArgs::Msg { msg: mh } => match deliver_msg(k, mh, group, msg) {
            Ok(n) => n,
            Err(e) => return neg(e),
        },
    };
    if flags & abi::MSG_TRUNC != 0 {
        full as isize
    } else {
        copied as isize
    }
}

/// `recvmsg`: scatter into `msg_iov`, fill `msg_name`, no control messages, `msg_flags`.
fn deliver_msg<K: Kernel>(k: &K, mh: usize, group: u32, msg: &[u8]) -> Result<usize, i32> {
    let mut raw = [0u8; abi::MSGHDR_LEN];
    read_user(k, mh, &mut raw)?;
    let u64_at = |o: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&raw[o..o + 8]);
        u64::from_ne_bytes(w) as usize
    };
    let name = u64_at(0);
    let namelen = u32::from_ne_bytes([raw[8], raw[9], raw[10], raw[11]]) as usize;
    let iov = u64_at(16);
    let iovlen = u64_at(24);
    if iovlen > abi::UIO_MAXIOV {
        return Err(errno::EINVAL);
    }
    let mut off = 0;
    for i in 0..iovlen {
        if off == msg.len() {
            break;
        }
        let mut v = [0u8; abi::IOVEC_LEN];
        read_user(k, iov + i * abi::IOVEC_LEN, &mut v)?;
        let base = u64::from_ne_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]) as usize;
        let len =
            u64::from_ne_bytes([v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]]) as usize;
        let n = len.min(msg.len() - off);
        if n > 0 {
            // off + n <= msg.len() by the `min` above; `get` keeps a panic path out of the handler.
            write_user(k, base, msg.get(off..off + n).unwrap_or(&[]))?;
        }
        off += n;
    }
    if name != 0 {
        let src = kernel_addr(group);
        write_user(k, name, &src[..namelen.min(src.len())])?;
        write_user(k, mh + 8, &(src.len() as u32).to_ne_bytes())?;
    } else {
        write_user(k, mh + 8, &0u32.to_ne_bytes())?;
    }
    // No control messages (NETLINK_PKTINFO is not emulated); msg_flags.
    write_user(k, mh + 40, &0u64.to_ne_bytes())?;
    let mflags: u32 = if off < msg.len() {
        abi::MSG_TRUNC as u32
    } else {
        0
    };
    write_user(k, mh + 48, &mflags.to_ne_bytes())?;
    Ok(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bell_answer_is_recognised_and_nothing_else() {
        // gVisor's answer: 36 bytes, nlmsgerr with the request header only.
        let mut a = [0u8; 36];
        a[0..4].copy_from_slice(&36u32.to_ne_bytes());
        a[4..6].copy_from_slice(&abi::NLMSG_ERROR.to_ne_bytes());
        a[8..12].copy_from_slice(&BELL_SEQ.to_ne_bytes());
        a[16..20].copy_from_slice(&(-19i32).to_ne_bytes());
        assert!(is_bell(&a));
        let mut other = a;
        other[8] ^= 1;
        assert!(!is_bell(&other), "another sequence number is the program's");
        let mut ack = a;
        ack[16..20].copy_from_slice(&0i32.to_ne_bytes());
        assert!(!is_bell(&ack), "an ack is the program's");
        assert!(!is_bell(&a[..12]));
    }

    #[test]
    fn the_bell_request_is_a_getlink_with_ack() {
        let b = bell_request();
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 32);
        assert_eq!(u16::from_ne_bytes(b[4..6].try_into().unwrap()), 18);
        assert_eq!(u16::from_ne_bytes(b[6..8].try_into().unwrap()), 5);
        assert_eq!(
            i32::from_ne_bytes(b[20..24].try_into().unwrap()),
            BELL_IFINDEX
        );
    }

    /// The kernel this runs on answers the doorbell with what `is_bell` recognises, makes the
    /// socket readable with it, and `take_bell` leaves the queue empty again.
    #[test]
    fn the_kernel_answers_the_doorbell() {
        use crate::kernel::RawKernel;
        // SAFETY: plain libc calls on a socket this test owns.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        assert!(fd >= 0);
        let k = RawKernel;
        assert!(matches!(peek_head(&k, fd as usize), Head::Empty));
        assert_eq!(ring(&k, fd as usize), 32);
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        assert_eq!(unsafe { libc::poll(&mut p, 1, 1000) }, 1, "readable");
        assert!(matches!(peek_head(&k, fd as usize), Head::Bell));
        let ev = EventState::new();
        ev.set(BELL);
        take_bell(&k, &ev, fd as usize);
        assert!(!ev.has(BELL));
        assert!(matches!(peek_head(&k, fd as usize), Head::Empty));
        // SAFETY: closing our own socket.
        unsafe { libc::close(fd) };
    }

    /// The receive emulation against a real socket: events first, PEEK, TRUNC, short buffers,
    /// ENOBUFS once, the doorbell never seen, the kernel's own answers untouched.
    #[test]
    fn receives_serve_events_then_the_kernel() {
        use crate::kernel::{inode, RawKernel};
        let k = RawKernel;
        // SAFETY: plain libc call; the socket is this test's.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        } as usize;
        let t = Table::new();
        let s = t.claim(fd as i32, inode(&k, fd).unwrap()).unwrap();
        s.join(1);
        let mem = vec![0u64; 8192];
        // SAFETY: `mem` outlives the table's use in this test and is used by this ring alone.
        unsafe { s.ev.install_ring(mem.as_ptr() as *mut u8, 65536) };
        s.ev.subscribe(7, 1 << 20, 0);
        let ev_msg = |n: u8| {
            let mut m = [n; 40];
            m[0..4].copy_from_slice(&40u32.to_ne_bytes());
            m
        };
        assert!(s.ev.push(1, &ev_msg(1)[..16], &ev_msg(1)[16..]));
        assert!(s.ev.push(1, &ev_msg(2)[..16], &ev_msg(2)[16..]));
        ensure_bell(&k, &s.ev, fd);
        let mut buf = [0u8; 64];
        let from =
            |buf: &mut [u8], len: usize, addr: &mut [u8; 12], alen: &mut u32| RecvArgs::From {
                buf: buf.as_mut_ptr() as usize,
                len,
                addr: addr.as_mut_ptr() as usize,
                addrlen: alen as *mut u32 as usize,
            };
        let mut addr = [0u8; 12];
        let mut alen = 12u32;
        // PEEK twice: the same message.
        for _ in 0..2 {
            let a = from(&mut buf, 64, &mut addr, &mut alen);
            let r = recv(&k, &t, fd, a, abi::MSG_PEEK).unwrap();
            assert_eq!(r, (40, Received::Event(1)));
            assert_eq!(buf[16], 1);
        }
        assert_eq!(SockaddrNl::from_bytes(&addr).groups, 1);
        // Short buffer with MSG_TRUNC: the full length, 8 bytes copied, message gone.
        buf = [0; 64];
        let a = from(&mut buf, 8, &mut addr, &mut alen);
        assert_eq!(recv(&k, &t, fd, a, abi::MSG_TRUNC).unwrap().0, 40);
        assert_eq!(&buf[8..16], &[0; 8]);
        // The second, then the doorbell is gone and the kernel answers (EAGAIN).
        let a = from(&mut buf, 64, &mut addr, &mut alen);
        assert_eq!(recv(&k, &t, fd, a, 0).unwrap().0, 40);
        assert_eq!(buf[16], 2);
        assert!(
            !s.ev.has(BELL),
            "the doorbell was taken with the last event"
        );
        let a = from(&mut buf, 64, &mut addr, &mut alen);
        assert!(recv(&k, &t, fd, a, abi::MSG_DONTWAIT).is_none());
        // Overrun: ENOBUFS once, then the stream goes on.
        s.ev.set(OVERRUN);
        assert!(s.ev.push(1, &ev_msg(3)[..16], &ev_msg(3)[16..]));
        let a = from(&mut buf, 64, &mut addr, &mut alen);
        assert_eq!(recv(&k, &t, fd, a, 0).unwrap().0, -105);
        let a = from(&mut buf, 64, &mut addr, &mut alen);
        assert_eq!(recv(&k, &t, fd, a, 0).unwrap(), (40, Received::Event(1)));
        // The kernel's answer to the socket's own request (RTM_GETLINK of lo) is left to the
        // kernel: the emulation steps aside.
        let mut req = bell_request();
        req[6..8].copy_from_slice(&abi::NLM_F_REQUEST.to_ne_bytes());
        req[8..12].copy_from_slice(&77u32.to_ne_bytes());
        req[20..24].copy_from_slice(&1i32.to_ne_bytes());
        let to = kernel_addr(0);
        // SAFETY: live buffers of the lengths given.
        let sent = unsafe {
            libc::sendto(
                fd as i32,
                req.as_ptr().cast(),
                32,
                0,
                to.as_ptr().cast(),
                12,
            )
        };
        assert_eq!(sent, 32);
        let a = from(&mut buf, 64, &mut addr, &mut alen);
        assert!(
            recv(&k, &t, fd, a, 0).is_none(),
            "the socket's own reply is the kernel's"
        );
        assert!(matches!(peek_head(&k, fd), Head::Data));
        // SAFETY: closing our own socket.
        unsafe { libc::close(fd as i32) };
    }

    #[test]
    fn event_source_names_the_group() {
        let a = SockaddrNl::from_bytes(&kernel_addr(5));
        assert_eq!((a.pid, a.groups), (0, 1 << 4));
        assert_eq!(SockaddrNl::from_bytes(&kernel_addr(39)).groups, 0);
    }
}
