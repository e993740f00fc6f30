//! `NETLINK_GET_STRICT_CHK` where the kernel refuses it (gVisor: ENOPROTOOPT): the option
//! itself, and the dumps of a socket that turned it on, checked and filtered as Linux does
//! ([`crate::rtnl::strict`] decides; this module keeps the socket's state and talks to the
//! kernel).
//!
//! ```text
//! setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK / NETLINK_EXT_ACK)  -> the socket's record
//! send of a dump request on a strict socket   -> rtnl::strict::validate (State: KernelState)
//!     Dump(filter)  -> (seq, filter) recorded, the request goes to the kernel
//!     Fails(errno)  -> not sent; Linux's NLMSG_DONE(-errno) recorded, the length reported sent
//!     Unmodelled    -> the kernel's
//! receive on a socket with a recorded dump (the caller, a libc hook, reads the datagram)
//!     refused dump  -> the recorded NLMSG_DONE
//!     filtered dump -> filter_datagram in place; a datagram left empty is skipped
//! ```
//!
//! Only the libc hooks come here (`Traps::STRICT`): Go's raw syscalls keep the kernel's
//! answer to the option. Linux's `netlink_setsockopt` / `netlink_getsockopt` are the
//! reference for the option calls: a value shorter than an int reads as 0 (off), an
//! unreadable one is EFAULT; reading needs room for an int (EINVAL) and writes the int and
//! its length. `NETLINK_EXT_ACK`, which gVisor refuses too, is accepted and remembered the same
//! way, but no extended-ack attributes are ever added to an answer.
//!
//! The state `validate` and `keeps` ask about ([`KernelState`]) comes from plain dumps on a
//! private socket (links for a device and its master, routes of a family for a table), read
//! into memory mapped for the purpose and unmapped again: no allocation, no lock, no stack
//! buffer larger than a page.

use crate::abi::{self, errno, nr};
use crate::call::{Action, Call, Outcome};
use crate::kernel::{inode, net_ns, read_user, sockopt_int, write_user, Kernel};
use crate::membership::{Dump, Slot, Table, DUMP_WORDS};
use crate::recv::{deliver, RecvArgs};
use crate::rtnl::strict::{failed_done, filter_datagram, DumpFilter, State, Verdict, FILTER_WORDS};
use crate::rtnl::{AF_INET6, RTM_GETLINK, RTM_GETROUTE, RTM_NEWLINK, RTM_NEWROUTE};
use crate::state::STRICT_SEEN;
use crate::trace::{self, Level, Line};
use core::sync::atomic::Ordering;

// The socket record holds exactly the words a filter encodes to (a compile error otherwise).
const _: [(); DUMP_WORDS] = [(); FILTER_WORDS];

/// `NETLINK_EXT_ACK`.
pub const NETLINK_EXT_ACK: i32 = 11;
/// `NETLINK_GET_STRICT_CHK`.
pub const NETLINK_GET_STRICT_CHK: i32 = 12;

/// The link kinds gVisor's netstack registers (`pkg/sentry/socket/netstack/stack.go`,
/// release-20260817.0): a kind filter on another kind is ignored, as Linux ignores one it has no
/// `rtnl_link_ops` for. On Linux (`GVNET_MODE=force`) these two are what a test creates.
pub const LINK_KINDS: [&[u8]; 2] = [b"bridge", b"veth"];

/// The room a filtered dump's datagram has after it for [`receive`]'s `touch`: 24 bytes per
/// link for a kind and a master, for 42 links.
pub const TOUCH_ROOM: usize = 1024;

/// The largest dump request read for checking; a longer one is handed to the kernel unchecked.
const REQUEST_MAX: usize = 512;

fn neg(e: i32) -> isize {
    -(e as isize)
}

/// Whether `opt` at `SOL_NETLINK` is one of this module's.
pub fn is_strict_option(level: i32, opt: i32) -> bool {
    level == abi::SOL_NETLINK && (opt == NETLINK_GET_STRICT_CHK || opt == NETLINK_EXT_ACK)
}

/// Whether `fd` is a NETLINK_ROUTE socket (`SO_DOMAIN`, `SO_PROTOCOL`).
fn is_route_socket<K: Kernel>(k: &K, fd: usize) -> bool {
    sockopt_int(k, fd, abi::SOL_SOCKET, abi::SO_DOMAIN) == Ok(abi::AF_NETLINK as i32)
        && sockopt_int(k, fd, abi::SOL_SOCKET, abi::SO_PROTOCOL) == Ok(abi::NETLINK_ROUTE)
}

/// The record of a NETLINK_ROUTE socket (made if needed), `None` for any other socket.
fn route_slot<'t, K: Kernel>(k: &K, t: &'t Table, fd: usize) -> Option<&'t Slot> {
    let ino = inode(k, fd).ok()?;
    if let Some(s) = t.get(fd as i32, ino) {
        return Some(s);
    }
    if !is_route_socket(k, fd) {
        return None;
    }
    let s = t.claim(fd as i32, ino).or_else(|| {
        t.sweep(|fd, ino| fd < 0 || inode(k, fd as usize) != Ok(ino));
        t.claim(fd as i32, ino)
    })?;
    // gvnet's first sight of the socket: netlink-sys (netavark) sets the option right after
    // socket(2), in the namespace it made the socket in (crate::vethpeer reads it).
    s.set_netns(net_ns(k));
    Some(s)
}

/// The record of `fd` if some socket was ever made strict and this one has a record.
fn strict_slot<'t, K: Kernel>(k: &K, t: &'t Table, fd: usize) -> Option<&'t Slot> {
    if !STRICT_SEEN.load(Ordering::Acquire) || t.is_empty() {
        return None;
    }
    t.get(fd as i32, inode(k, fd).ok()?)
}

/// `setsockopt(fd, SOL_NETLINK, opt, val, optlen)` for [`is_strict_option`] options: `None`
/// for a socket that is not NETLINK_ROUTE (the kernel answers).
pub fn setsockopt<K: Kernel>(
    k: &K,
    t: &Table,
    fd: usize,
    opt: i32,
    val: usize,
    optlen: usize,
) -> Option<Outcome> {
    let action = |on| Action::StrictOption(opt, on);
    // __sys_setsockopt: a negative length is EINVAL before the protocol sees it.
    if (optlen as u32 as i32) < 0 {
        return Some(Outcome::new(neg(errno::EINVAL), action(false)));
    }
    let s = route_slot(k, t, fd)?;
    // netlink_setsockopt: the value is read only when optlen >= sizeof(int); shorter is 0.
    let mut on = false;
    if optlen as u32 >= 4 {
        let mut v = [0u8; 4];
        if let Err(e) = read_user(k, val, &mut v) {
            return Some(Outcome::new(neg(e), action(false)));
        }
        on = u32::from_ne_bytes(v) != 0;
    }
    if opt == NETLINK_GET_STRICT_CHK {
        s.set_strict(on);
    } else {
        s.set_ext_ack(on);
    }
    if on {
        STRICT_SEEN.store(true, Ordering::Release);
    }
    Some(Outcome::new(0, action(on)))
}

/// `getsockopt(fd, SOL_NETLINK, opt, val, lenp)` for [`is_strict_option`] options: `None` for
/// a socket that is not NETLINK_ROUTE.
pub fn getsockopt<K: Kernel>(
    k: &K,
    t: &Table,
    fd: usize,
    opt: i32,
    val: usize,
    lenp: usize,
) -> Option<Outcome> {
    let ino = inode(k, fd).ok()?;
    let rec = t.get(fd as i32, ino);
    if rec.is_none() && !is_route_socket(k, fd) {
        return None;
    }
    let on = rec.is_some_and(|s| {
        if opt == NETLINK_GET_STRICT_CHK {
            s.strict()
        } else {
            s.ext_ack()
        }
    });
    let action = Action::StrictOption(opt, on);
    let fail = |e| Some(Outcome::new(neg(e), action));
    let mut len = [0u8; 4];
    if let Err(e) = read_user(k, lenp, &mut len) {
        return fail(e);
    }
    // netlink_getsockopt: len < 0, then len < sizeof(int), are EINVAL.
    if (i32::from_ne_bytes(len)) < 4 {
        return fail(errno::EINVAL);
    }
    if write_user(k, lenp, &4u32.to_ne_bytes()).is_err()
        || write_user(k, val, &u32::from(on).to_ne_bytes()).is_err()
    {
        return fail(errno::EFAULT);
    }
    Some(Outcome::new(0, action))
}

/// What a send on a strict socket becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Send {
    /// Not a strict socket's dump request, or one this module does not model: the kernel's.
    Kernel,
    /// A dump request Linux accepts: send it; its replies will be filtered.
    Filtered,
    /// A dump request Linux refuses: not sent, this is the answer (its length; the refusal
    /// waits for the next receive).
    Answered(Outcome),
}

/// Looks at a send of `len` bytes at `buf` on `fd` (to the kernel: the caller sends with no
/// address or to `nl_pid` 0) before it is made.
pub fn before_send<K: Kernel>(k: &K, t: &Table, fd: usize, buf: usize, len: usize) -> Send {
    let Some(s) = strict_slot(k, t, fd) else {
        return Send::Kernel;
    };
    if !s.strict() || !(abi::NLMSG_HDRLEN..=REQUEST_MAX).contains(&len) {
        return Send::Kernel;
    }
    let mut req = [0u8; REQUEST_MAX];
    let Some(req) = req.get_mut(..len) else {
        return Send::Kernel;
    };
    if read_user(k, buf, req).is_err() {
        return Send::Kernel;
    }
    check(k, s, fd, req)
}

/// [`before_send`] for a `sendmsg` of the `struct msghdr` at `msg` (its iovecs gathered).
pub fn before_sendmsg<K: Kernel>(k: &K, t: &Table, fd: usize, msg: usize) -> Send {
    let Some(s) = strict_slot(k, t, fd) else {
        return Send::Kernel;
    };
    if !s.strict() {
        return Send::Kernel;
    }
    let mut hdr = [0u8; abi::MSGHDR_LEN];
    if read_user(k, msg, &mut hdr).is_err() {
        return Send::Kernel;
    }
    let word = |o: usize| u64_at(&hdr, o) as usize;
    let (name, namelen, iov, iovlen) = (word(0), word(8) & 0xffff_ffff, word(16), word(24));
    // To the kernel only: no address, or a sockaddr_nl with nl_pid 0.
    if name != 0 && namelen != 0 {
        let mut sa = [0u8; abi::SOCKADDR_NL_LEN];
        if namelen != sa.len()
            || read_user(k, name, &mut sa).is_err()
            || u16_at(&sa, 0) != abi::AF_NETLINK
            || u32_at(&sa, 4) != 0
        {
            return Send::Kernel;
        }
    }
    let mut req = [0u8; REQUEST_MAX];
    let mut len = 0usize;
    for i in 0..iovlen.min(8) {
        let mut v = [0u8; abi::IOVEC_LEN];
        if read_user(k, iov + i * abi::IOVEC_LEN, &mut v).is_err() {
            return Send::Kernel;
        }
        let (base, n) = (u64_at(&v, 0) as usize, u64_at(&v, 8) as usize);
        let Some(dst) = req.get_mut(len..len + n) else {
            return Send::Kernel;
        };
        if read_user(k, base, dst).is_err() {
            return Send::Kernel;
        }
        len += n;
    }
    if iovlen > 8 || len < abi::NLMSG_HDRLEN {
        return Send::Kernel;
    }
    check(k, s, fd, &req[..len])
}

/// The check of one send's bytes on a strict socket (`req`: all of them).
fn check<K: Kernel>(k: &K, s: &Slot, fd: usize, req: &[u8]) -> Send {
    let len = req.len();
    // One message per send. Bytes after it are ignored by the kernel when they do not start a
    // message (netlink_rcv_skb stops at an nlmsg_len below the header: iproute2 sends its
    // request structs whole, padding included); a batch is left to the kernel.
    let mlen = u32_at(req, 0) as usize;
    if mlen < abi::NLMSG_HDRLEN || mlen > len {
        return Send::Kernel;
    }
    let next = (mlen + 3) & !3;
    if next + abi::NLMSG_HDRLEN <= len && u32_at(req, next) as usize >= abi::NLMSG_HDRLEN {
        return Send::Kernel;
    }
    let seq = u32_at(req, 8);
    match crate::rtnl::strict::validate(req, &KernelState(k)) {
        Verdict::Dump(f) => {
            s.set_dump(Dump::Filter(seq, f.encode()));
            Send::Filtered
        }
        Verdict::Fails(e) => {
            let done = failed_done(req, e, port_id(k, fd));
            let mut w = [0u64; DUMP_WORDS];
            for (i, c) in done.chunks(8).enumerate() {
                let mut x = [0u8; 8];
                x[..c.len()].copy_from_slice(c);
                w[i] = u64::from_ne_bytes(x);
            }
            s.set_dump(Dump::Failed(w));
            Send::Answered(Outcome::new(len as isize, Action::StrictRefused(e)))
        }
        Verdict::Unmodelled => Send::Kernel,
    }
}

/// The socket's `nl_pid` (getsockname), 0 when unknown.
fn port_id<K: Kernel>(k: &K, fd: usize) -> u32 {
    let mut sa = [0u8; abi::SOCKADDR_NL_LEN];
    let mut len = sa.len() as u32;
    // SAFETY: `sa` and `len` are live locals of the sizes given.
    let r = unsafe {
        k.syscall(
            nr::GETSOCKNAME,
            [
                fd,
                sa.as_mut_ptr() as usize,
                &mut len as *mut u32 as usize,
                0,
                0,
                0,
            ],
        )
    };
    if r < 0 {
        return 0;
    }
    u32::from_ne_bytes([sa[4], sa[5], sa[6], sa[7]])
}

/// A strict socket's recorded dump that the next receive must see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// The answer to a refused dump (an `NLMSG_DONE` of 20 bytes).
    Refused([u8; 20]),
    /// A dump the kernel is answering, with its sequence number and filter.
    Filter(u32, DumpFilter),
}

/// The dump `fd`'s next receive must see, if any.
pub fn pending<'t, K: Kernel>(k: &K, t: &'t Table, fd: usize) -> Option<(&'t Slot, Pending)> {
    let s = strict_slot(k, t, fd)?;
    match s.dump() {
        Dump::None => None,
        Dump::Filter(seq, w) => match DumpFilter::decode(&w) {
            Some(f) => Some((s, Pending::Filter(seq, f))),
            None => {
                s.set_dump(Dump::None);
                None
            }
        },
        Dump::Failed(w) => {
            let mut m = [0u8; 20];
            for (i, b) in m.iter_mut().enumerate() {
                *b = w[i / 8].to_ne_bytes()[i % 8];
            }
            Some((s, Pending::Refused(m)))
        }
    }
}

/// `recvfrom`/`recvmsg` (`c.nr`; `recv` is a recvfrom without address) on a socket with a
/// pending strict dump: `None` for any other socket (the kernel answers).
///
/// A refused dump: its `NLMSG_DONE`, delivered as `netlink_recvmsg` delivers a datagram (short
/// buffer, `MSG_TRUNC`, `MSG_PEEK`, the kernel's address). A filtered dump: the kernel's next
/// datagram, whose length is peeked first, is read into memory mapped for it, filtered there
/// ([`filter_datagram`]) and delivered the same way, so the program sees the length and
/// truncation of the filtered datagram, as from Linux; one left empty before the dump's end is
/// consumed (also under `MSG_PEEK`: Linux would never have queued it) and the next one read.
/// Control messages of a filtered datagram are not delivered. `touch` sees each datagram
/// before it is filtered, in memory with [`TOUCH_ROOM`] bytes or more to spare after it, and
/// returns its new length (the kind and master [`crate::linkstore`] supplies, which filters by
/// master and kind must see).
pub fn receive<K: Kernel>(
    k: &K,
    t: &Table,
    c: &Call,
    touch: &mut dyn FnMut(&mut [u8], usize) -> usize,
) -> Option<Outcome> {
    let a = c.args;
    let (args, flags) = RecvArgs::of(c.nr, a);
    if flags & abi::MSG_ERRQUEUE != 0 {
        return None;
    }
    let (s, p) = pending(k, t, a[0])?;
    let peek = flags & abi::MSG_PEEK != 0;
    let (seq, filter) = match p {
        Pending::Refused(m) => {
            let ret = deliver(k, args, 0, &m, flags);
            if ret >= 0 && !peek {
                s.set_dump(Dump::None);
            }
            return Some(Outcome::new(ret, Action::StrictAnswered));
        }
        Pending::Filter(seq, f) => (seq, f),
    };
    let sys = |n: usize, a: [usize; 6]| {
        // SAFETY: every call below passes a live local or the mapping made here, of the
        // lengths given.
        unsafe { k.syscall(n, a) }
    };
    let fd = a[0];
    let wait = flags & abi::MSG_DONTWAIT;
    loop {
        let mut head = [0u8; 16];
        let full = sys(
            nr::RECVFROM,
            [
                fd,
                head.as_mut_ptr() as usize,
                head.len(),
                abi::MSG_PEEK | abi::MSG_TRUNC | wait,
                0,
                0,
            ],
        );
        if full < 0 {
            // Nothing there yet (EAGAIN), a timeout, a signal: the kernel's answer.
            return Some(Outcome::new(full, Action::PassedThrough));
        }
        let cap = (full as usize + TOUCH_ROOM).next_multiple_of(4096);
        // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS.
        let p = sys(nr::MMAP, [0, cap, 3, 0x22, usize::MAX, 0]);
        if p <= 0 || p as usize % 4096 != 0 {
            return Some(Outcome::new(neg(errno::ENOMEM), Action::DumpFiltered(0, 0)));
        }
        let got = sys(
            nr::RECVFROM,
            [fd, p as usize, cap, (flags & abi::MSG_PEEK) | wait, 0, 0],
        );
        if got < 0 {
            sys(nr::MUNMAP, [p as usize, cap, 0, 0, 0, 0]);
            return Some(Outcome::new(got, Action::PassedThrough));
        }
        // SAFETY: `p` is a fresh private mapping of `cap` >= `got` bytes, ours alone until
        // the munmap below.
        let whole = unsafe { core::slice::from_raw_parts_mut(p as *mut u8, cap) };
        let n = touch(whole, got as usize).min(cap);
        let view = &mut whole[..n];
        let f = filter_datagram(view, n, seq, &filter, &KernelState(k));
        let out = if f.len > 0 || f.done {
            let ret = deliver(k, args, 0, view.get(..f.len).unwrap_or(&[]), flags);
            if f.done && !peek && ret >= 0 {
                s.set_dump(Dump::None);
            }
            Some(Outcome::new(ret, Action::DumpFiltered(f.kept, f.of)))
        } else {
            if peek {
                // Take the emptied datagram off the queue: it holds nothing Linux sends.
                sys(nr::RECVFROM, [fd, p as usize, cap, abi::MSG_DONTWAIT, 0, 0]);
            }
            if trace::enabled(Level::Debug) {
                let mut l = Line::new(Level::Debug);
                l.str("strict dump filter: kept 0 of ")
                    .dec(i64::from(f.of))
                    .str(" (fd ")
                    .dec(fd as i64)
                    .str("): datagram skipped, the next one read");
                l.emit();
            }
            None
        };
        sys(nr::MUNMAP, [p as usize, cap, 0, 0, 0, 0]);
        if out.is_some() {
            return out;
        }
    }
}

/// The kernel's state as `rtnl::strict` asks for it, from plain dumps on a private socket.
pub struct KernelState<'k, K: Kernel>(pub &'k K);

impl<K: Kernel> KernelState<'_, K> {
    /// `Some(master)` of the link `ifindex` (`None` inside: no master), `None`: no such link.
    fn link(&self, ifindex: u32) -> Option<Option<u32>> {
        let mut found = None;
        // ifinfomsg: family AF_UNSPEC, all zero.
        dump(self.0, RTM_GETLINK, 0, &mut |m| {
            if u16_at(m, 4) == RTM_NEWLINK && u32_at(m, 20) == ifindex {
                found = Some(attr_u32(m, 32, 10));
            }
        });
        found
    }
}

impl<K: Kernel> State for KernelState<'_, K> {
    fn has_device(&self, ifindex: u32) -> bool {
        ifindex != 0 && self.link(ifindex).is_some()
    }

    fn master_of(&self, ifindex: u32) -> Option<u32> {
        self.link(ifindex).flatten()
    }

    /// Linux's IPv6 FIB always has its main and local tables (`fib6_net_init`); any other
    /// table, and an IPv4 one, exists once a route was put in it (`fib_new_table`), and stays
    /// when emptied. This sees a table while it has a route, and the two IPv6 ones always.
    fn has_table(&self, family: u8, table: u32) -> bool {
        if family == AF_INET6 && (table == 254 || table == 255) {
            return true;
        }
        let mut found = false;
        dump(self.0, RTM_GETROUTE, family, &mut |m| {
            if u16_at(m, 4) == RTM_NEWROUTE && m.get(16) == Some(&family) {
                // RTA_TABLE (15), else rtm_table.
                let t = attr_u32(m, 28, 15).unwrap_or(u32::from(m.get(20).copied().unwrap_or(0)));
                found |= t == table;
            }
        });
        found
    }

    fn has_link_kind(&self, kind: &[u8]) -> bool {
        LINK_KINDS.contains(&kind)
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |x| u16::from_ne_bytes([x[0], x[1]]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |x| {
        u64::from_ne_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]])
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
}

/// The u32 payload of attribute `ty` in message `m`, whose attributes start at `from`.
fn attr_u32(m: &[u8], from: usize, ty: u16) -> Option<u32> {
    let end = (u32_at(m, 0) as usize).min(m.len());
    let mut at = from;
    while at + 4 <= end {
        let len = usize::from(u16_at(m, at));
        if len < 4 || at + len > end {
            return None;
        }
        if u16_at(m, at + 2) & 0x3fff == ty && len >= 8 {
            return Some(u32_at(m, at + 4));
        }
        at += (len + 3) & !3;
    }
    None
}

/// A plain dump of `ty` (family `family`, the rest of the family header zero) on a private
/// socket; `each` sees every message until `NLMSG_DONE` or an error. Each datagram is read into
/// memory mapped for its length (peeked first) and unmapped again.
pub(crate) fn dump<K: Kernel>(k: &K, ty: u16, family: u8, each: &mut dyn FnMut(&[u8])) {
    let sys = |n: usize, a: [usize; 6]| {
        // SAFETY: every call below passes live locals or the mapping made here, of the
        // lengths given.
        unsafe { k.syscall(n, a) }
    };
    let fd = sys(
        nr::SOCKET,
        [
            abi::AF_NETLINK as usize,
            3 | 0x80000, // SOCK_RAW | SOCK_CLOEXEC
            abi::NETLINK_ROUTE as usize,
            0,
            0,
            0,
        ],
    );
    if fd < 0 {
        return;
    }
    let fd = fd as usize;
    // nlmsghdr + a 12-byte family header (large enough for ifinfomsg's 16 with the padding:
    // the request is 32 bytes, the family byte first).
    let mut req = [0u8; 32];
    req[0..4].copy_from_slice(&32u32.to_ne_bytes());
    req[4..6].copy_from_slice(&ty.to_ne_bytes());
    req[6..8].copy_from_slice(&(abi::NLM_F_REQUEST | abi::NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = family;
    let to = [abi::AF_NETLINK as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let sent = sys(
        nr::SENDTO,
        [
            fd,
            req.as_ptr() as usize,
            req.len(),
            0,
            to.as_ptr() as usize,
            to.len(),
        ],
    );
    let mut done = sent < 0;
    while !done {
        let mut head = [0u8; 16];
        let full = sys(
            nr::RECVFROM,
            [
                fd,
                head.as_mut_ptr() as usize,
                head.len(),
                abi::MSG_PEEK | abi::MSG_TRUNC,
                0,
                0,
            ],
        );
        if full <= 0 {
            break;
        }
        let cap = (full as usize + 4095) & !4095;
        // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS.
        let p = sys(nr::MMAP, [0, cap, 3, 0x22, usize::MAX, 0]);
        if p <= 0 || p as usize % 4096 != 0 {
            break;
        }
        let n = sys(nr::RECVFROM, [fd, p as usize, cap, 0, 0, 0]);
        if n > 0 {
            // SAFETY: `p` is a fresh private mapping of `cap` >= `n` bytes, ours alone until
            // the munmap below.
            let got = unsafe { core::slice::from_raw_parts(p as *const u8, n as usize) };
            let mut at = 0usize;
            while at + abi::NLMSG_HDRLEN <= got.len() {
                let len = u32_at(got, at) as usize;
                if len < abi::NLMSG_HDRLEN || at + len > got.len() {
                    break;
                }
                let m = &got[at..at + len];
                match u16_at(m, 4) {
                    abi::NLMSG_DONE | abi::NLMSG_ERROR => done = true,
                    _ => each(m),
                }
                at += (len + 3) & !3;
            }
        } else {
            done = true;
        }
        sys(nr::MUNMAP, [p as usize, cap, 0, 0, 0, 0]);
    }
    sys(nr::CLOSE, [fd, 0, 0, 0, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fake::FakeKernel;

    #[test]
    fn option_names_are_linuxs() {
        assert_eq!(NETLINK_EXT_ACK, libc::NETLINK_EXT_ACK);
        assert_eq!(NETLINK_GET_STRICT_CHK, libc::NETLINK_GET_STRICT_CHK);
        assert!(is_strict_option(270, 12) && is_strict_option(270, 11));
        assert!(!is_strict_option(270, 1) && !is_strict_option(1, 12));
    }

    const FD: usize = 7;
    const INO: u64 = 4242;

    fn set(k: &FakeKernel, t: &Table, opt: i32, v: u32, len: usize) -> Option<Outcome> {
        setsockopt(k, t, FD, opt, &v as *const u32 as usize, len)
    }

    fn get(k: &FakeKernel, t: &Table, opt: i32, room: u32) -> (Option<Outcome>, u32, u32) {
        let (mut v, mut len) = (0xdead_beefu32, room);
        let o = getsockopt(
            k,
            t,
            FD,
            opt,
            &mut v as *mut u32 as usize,
            &mut len as *mut u32 as usize,
        );
        (o, v, len)
    }

    #[test]
    fn the_option_is_the_sockets_and_never_reaches_the_kernel() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let on = Outcome::new(0, Action::StrictOption(12, true));
        assert_eq!(set(&k, &t, NETLINK_GET_STRICT_CHK, 5, 4), Some(on));
        assert!(t.get(FD as i32, INO).unwrap().strict());
        assert_eq!(get(&k, &t, NETLINK_GET_STRICT_CHK, 8), (Some(on), 1, 4));
        // EXT_ACK is its own flag.
        assert_eq!(get(&k, &t, NETLINK_EXT_ACK, 4).1, 0);
        // Linux: a value shorter than an int reads as 0.
        let off = Outcome::new(0, Action::StrictOption(12, false));
        assert_eq!(set(&k, &t, NETLINK_GET_STRICT_CHK, 1, 2), Some(off));
        assert!(!t.get(FD as i32, INO).unwrap().strict());
        // Reading needs room for an int; a bad value pointer is EFAULT.
        assert_eq!(get(&k, &t, NETLINK_GET_STRICT_CHK, 3).0.unwrap().ret, -22);
        let bad = setsockopt(&k, &t, FD, NETLINK_GET_STRICT_CHK, 8, 4).unwrap();
        assert_eq!(bad.ret, -14);
        assert!(k.calls_of(nr::SETSOCKOPT).is_empty());
        assert!(k.calls_of(nr::GETSOCKOPT).iter().all(|c| c.args[1] == 1));
    }

    #[test]
    fn other_sockets_are_the_kernels() {
        let k = FakeKernel::default();
        k.sockets.borrow_mut().insert(FD, (2, 17, INO));
        let t = Table::new();
        assert_eq!(set(&k, &t, NETLINK_GET_STRICT_CHK, 1, 4), None);
        assert_eq!(get(&k, &t, NETLINK_GET_STRICT_CHK, 4).0, None);
        assert!(t.is_empty());
    }

    /// An RTM_GETLINK dump request (seq 9) with `attrs` after its ifinfomsg; `index` in it.
    fn link_dump(index: u32, attrs: &[u8]) -> [u8; 64] {
        let mut r = [0u8; 64];
        let len = 32 + attrs.len();
        r[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
        r[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
        r[6..8].copy_from_slice(&(abi::NLM_F_REQUEST | abi::NLM_F_DUMP).to_ne_bytes());
        r[8..12].copy_from_slice(&9u32.to_ne_bytes());
        r[20..24].copy_from_slice(&index.to_ne_bytes());
        r[32..len].copy_from_slice(attrs);
        r
    }

    #[test]
    fn a_strict_sockets_dump_requests_are_checked_before_they_are_sent() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        set(&k, &t, NETLINK_GET_STRICT_CHK, 1, 4);
        // IFLA_MASTER 3: filtered, sent.
        let mut master = [8u8, 0, 10, 0, 0, 0, 0, 0];
        master[4..8].copy_from_slice(&3u32.to_ne_bytes());
        let req = link_dump(0, &master);
        assert_eq!(
            before_send(&k, &t, FD, req.as_ptr() as usize, 40),
            Send::Filtered
        );
        let Some((_, Pending::Filter(9, f))) = pending(&k, &t, FD) else {
            panic!("no filter pending")
        };
        assert_eq!(
            f,
            DumpFilter::Link {
                master: 3,
                kind: None
            }
        );
        // An index in a link dump: EINVAL, not sent, Linux's NLMSG_DONE waiting.
        let req = link_dump(4, &[]);
        let out = Outcome::new(32, Action::StrictRefused(errno::EINVAL));
        assert_eq!(
            before_send(&k, &t, FD, req.as_ptr() as usize, 32),
            Send::Answered(out)
        );
        let Some((s, Pending::Refused(m))) = pending(&k, &t, FD) else {
            panic!("no answer pending")
        };
        assert_eq!(u32_at(&m, 0), 20);
        assert_eq!(u16_at(&m, 4), abi::NLMSG_DONE);
        assert_eq!(u32_at(&m, 8), 9);
        assert_eq!(u32_at(&m, 16) as i32, -errno::EINVAL);
        s.set_dump(Dump::None);
        // Not a dump, a batch, or a socket without the option: the kernel's.
        let mut get = link_dump(4, &[]);
        get[6..8].copy_from_slice(&abi::NLM_F_REQUEST.to_ne_bytes());
        assert_eq!(
            before_send(&k, &t, FD, get.as_ptr() as usize, 32),
            Send::Kernel
        );
        let mut batch = [0u8; 64];
        batch[..32].copy_from_slice(&req[..32]);
        batch[32..].copy_from_slice(&req[..32]);
        assert_eq!(
            before_send(&k, &t, FD, batch.as_ptr() as usize, 64),
            Send::Kernel
        );
        // iproute2 sends its request struct whole: zeros after the message are not a batch.
        assert!(matches!(
            before_send(&k, &t, FD, req.as_ptr() as usize, 64),
            Send::Answered(_)
        ));
        pending(&k, &t, FD).unwrap().0.set_dump(Dump::None);
        set(&k, &t, NETLINK_GET_STRICT_CHK, 0, 4);
        assert_eq!(
            before_send(&k, &t, FD, req.as_ptr() as usize, 32),
            Send::Kernel
        );
        assert!(pending(&k, &t, FD).is_none());
        assert!(
            k.calls_of(nr::SENDTO).is_empty(),
            "nothing sent by the checks"
        );
    }

    #[test]
    fn a_socket_without_a_record_sends_to_the_kernel_and_costs_nothing() {
        let k = FakeKernel::default();
        let t = Table::new();
        assert_eq!(before_send(&k, &t, 3, 0x1000, 32), Send::Kernel);
        assert!(pending(&k, &t, 3).is_none());
    }
}
