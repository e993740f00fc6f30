//! What gvnet does with each intercepted call: the decisions and the emulation.
//!
//! One function, [`handle`], serves the SIGSYS handler (Go's raw syscalls) and the libc hooks (C
//! programs). It follows Linux's `net/netlink/af_netlink.c` where gVisor refuses:
//!
//! * `bind`/`connect` of a NETLINK_ROUTE socket with `nl_groups`: issued without groups; `bind`
//!   remembers them (groups 1..=32 replaced, as Linux does).
//! * `sendto`/`sendmsg` to a netlink address with `nl_groups`: sent to `nl_pid` alone (Linux sends
//!   the unicast too; the copy to other group members is what gVisor lacks).
//! * `setsockopt(SOL_NETLINK, NETLINK_ADD/DROP_MEMBERSHIP)`: emulated with Linux's checks (EFAULT
//!   for an unreadable value, EINVAL for group 0 or beyond `RTNLGRP_MAX`).
//! * `getsockopt(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS)`, `getsockname`: report what was joined.
//! * `sendto`/`sendmsg` on AF_PACKET refused with EOPNOTSUPP: reported as sent, and said so.
//!
//! * `openat` of `/proc/sys/net/ipv6/conf/IFACE/disable_ipv6` for reading where gVisor has no
//!   IPv6 sysctls: answered with `0` ([`crate::sysctl`]).
//!
//! Everything else is passed to the kernel unchanged. Sockets that are not NETLINK_ROUTE (asked
//! with `SO_DOMAIN`/`SO_PROTOCOL`) are never emulated.

use crate::abi::{self, errno, nr};
use crate::call::{Action, Call, Outcome};
use crate::caps::Native;
use crate::events::{NO_ENOBUFS, OVERRUN};
use crate::kernel::{inode, read_user, sockopt_int, write_user, Kernel};
use crate::membership::{Slot, Table};
use crate::monitor;
use crate::recv::{self, Received, RecvArgs};
use crate::sockaddr::{family, SockaddrNl};
use crate::trace::{self, Level, Line};

fn pass<K: Kernel>(k: &K, c: &Call) -> Outcome {
    // SAFETY: the arguments are the program's own, handed to the kernel unchanged; the kernel
    // validates them as it would have without gvnet.
    Outcome::new(unsafe { k.syscall(c.nr, c.args) }, Action::PassedThrough)
}

fn neg(e: i32) -> isize {
    -(e as isize)
}

/// Whether `fd` is a NETLINK_ROUTE socket, the only kind gvnet emulates memberships for.
pub fn is_route_socket<K: Kernel>(k: &K, fd: usize) -> bool {
    sockopt_int(k, fd, abi::SOL_SOCKET, abi::SO_DOMAIN) == Ok(abi::AF_NETLINK as i32)
        && sockopt_int(k, fd, abi::SOL_SOCKET, abi::SO_PROTOCOL) == Ok(abi::NETLINK_ROUTE)
}

/// The inode of `fd` if it is a NETLINK_ROUTE socket. A socket that already has a record is
/// one (records are made for no other kind) and costs one `fstat`; any other costs the two
/// `getsockopt`s of [`is_route_socket`] more.
fn route_socket<K: Kernel>(k: &K, t: &Table, fd: usize) -> Option<u64> {
    let ino = inode(k, fd).ok()?;
    (t.get(fd as i32, ino).is_some() || is_route_socket(k, fd)).then_some(ino)
}

/// The record for (`fd`, its inode), creating it; stale records are swept if the table is full.
fn claim<'t, K: Kernel>(k: &K, t: &'t Table, fd: usize) -> Result<&'t Slot, i32> {
    claim_ino(k, t, fd, inode(k, fd)?)
}

/// [`claim`] for a socket whose inode is known.
fn claim_ino<'t, K: Kernel>(k: &K, t: &'t Table, fd: usize, ino: u64) -> Result<&'t Slot, i32> {
    if let Some(s) = t.claim(fd as i32, ino) {
        return Ok(s);
    }
    t.sweep(|fd, ino| fd < 0 || inode(k, fd as usize) != Ok(ino));
    t.claim(fd as i32, ino).ok_or(errno::ENOMEM)
}

/// The record of the socket `fd` refers to, if it has one. Costs nothing while the table is
/// empty, one `fstat` otherwise.
fn lookup<'t, K: Kernel>(k: &K, t: &'t Table, fd: usize) -> Option<&'t Slot> {
    if t.is_empty() {
        return None;
    }
    t.get(fd as i32, inode(k, fd).ok()?)
}

/// `ffs(3)`: the lowest group in a bitmap, 0 for none.
fn ffs(groups: u32) -> u32 {
    if groups == 0 {
        0
    } else {
        groups.trailing_zeros() + 1
    }
}

fn read_nl<K: Kernel>(k: &K, addr: usize) -> Option<SockaddrNl> {
    let mut raw = [0u8; abi::SOCKADDR_NL_LEN];
    read_user(k, addr, &mut raw).ok()?;
    Some(SockaddrNl::from_bytes(&raw))
}

fn read_u32<K: Kernel>(k: &K, addr: usize) -> Result<u32, i32> {
    let mut raw = [0u8; 4];
    read_user(k, addr, &mut raw)?;
    Ok(u32::from_ne_bytes(raw))
}

fn read_u64<K: Kernel>(k: &K, addr: usize) -> Result<u64, i32> {
    let mut raw = [0u8; 8];
    read_user(k, addr, &mut raw)?;
    Ok(u64::from_ne_bytes(raw))
}

/// Decides and carries out one intercepted call, for the kernel this process found
/// ([`crate::state::native`]).
pub fn handle<K: Kernel>(k: &K, t: &Table, c: &Call) -> Outcome {
    handle_with(k, t, crate::state::native(), c)
}

/// [`handle`] for a kernel that does `n` natively: what it accepts is passed through.
pub fn handle_with<K: Kernel>(k: &K, t: &Table, n: Native, c: &Call) -> Outcome {
    match c.nr {
        nr::BIND => bind(k, t, n, c),
        nr::CONNECT => connect(k, t, n, c),
        nr::SENDTO => sendto(k, n, c),
        nr::SENDMSG => sendmsg(k, n, c),
        nr::SETSOCKOPT => setsockopt(k, t, n, c),
        nr::GETSOCKOPT if n.groups_native() => pass(k, c),
        nr::GETSOCKOPT => getsockopt(k, t, c),
        nr::GETSOCKNAME if n.groups_native() => pass(k, c),
        nr::GETSOCKNAME => getsockname(k, t, c),
        nr::GETPEERNAME => getpeername(k, t, c),
        nr::RECVFROM | nr::RECVMSG => receive(k, t, c),
        nr::OPENAT => crate::sysctl::openat(k, c),
        _ => pass(k, c),
    }
}

/// An address length as the kernel reads it (`int`, the low 32 bits of the register), when
/// `move_addr_to_kernel` would accept it: 0..=sizeof(struct sockaddr_storage). Any other is
/// the kernel's EINVAL, so such calls are passed through, never emulated.
fn addr_len(len: usize) -> Option<usize> {
    let len = len as u32 as i32;
    (0..=abi::SOCKADDR_STORAGE_LEN as i32)
        .contains(&len)
        .then_some(len as usize)
}

/// A netlink address with groups on a NETLINK_ROUTE socket: the case gVisor refuses.
fn route_addr_with_groups<K: Kernel>(
    k: &K,
    fd: usize,
    addr: usize,
    len: usize,
) -> Option<SockaddrNl> {
    if addr_len(len)? < abi::SOCKADDR_NL_LEN {
        return None;
    }
    with_groups_on_route(k, fd, read_nl(k, addr)?)
}

/// `sa` if it carries groups and `fd` is a NETLINK_ROUTE socket.
fn with_groups_on_route<K: Kernel>(k: &K, fd: usize, sa: SockaddrNl) -> Option<SockaddrNl> {
    (sa.family == abi::AF_NETLINK && sa.groups != 0 && is_route_socket(k, fd)).then_some(sa)
}

/// `sa` if it carries groups, `fd` is a NETLINK_ROUTE socket, and the kernel refuses a send to a
/// group: a send gvnet makes to `nl_pid` alone. The group is not checked: gVisor refuses a send
/// to every group or to none (docs/gvisor-releases.md).
fn group_send<K: Kernel>(k: &K, n: Native, fd: usize, sa: SockaddrNl) -> Option<SockaddrNl> {
    if n.has(Native::SEND_GROUP) {
        return None;
    }
    with_groups_on_route(k, fd, sa)
}

/// A send's destination, read from the caller's memory once: the family, and the decoded
/// `sockaddr_nl` when the address is long enough to be one.
fn read_dest<K: Kernel>(k: &K, addr: usize, len: usize) -> Option<(u16, Option<SockaddrNl>)> {
    let len = addr_len(len)?;
    if addr == 0 || len < 2 {
        return None;
    }
    let mut raw = [0u8; abi::SOCKADDR_NL_LEN];
    let n = len.min(raw.len());
    read_user(k, addr, &mut raw[..n]).ok()?;
    let nl = (n == raw.len()).then(|| SockaddrNl::from_bytes(&raw));
    Some((family([raw[0], raw[1]]), nl))
}

fn bind<K: Kernel>(k: &K, t: &Table, n: Native, c: &Call) -> Outcome {
    let [fd, addr, len, ..] = c.args;
    let sa = route_addr_with_groups(k, fd, addr, len);
    let Some(sa) = sa.filter(|sa| !n.accepts_all(sa.groups as u64)) else {
        let out = pass(k, c);
        // bind without groups replaces groups 1..=32 with none, as Linux does.
        if out.ret == 0 && !t.is_empty() {
            if let Some(s) = lookup(k, t, fd) {
                if s.groups() as u32 != 0 {
                    s.set_low32(0);
                    return Outcome::new(0, Action::ClearedGroups);
                }
            }
        }
        return out;
    };
    let bare = sa.without_groups().to_bytes();
    // SAFETY: `bare` is a live sockaddr_nl of the length given.
    let r = unsafe { k.syscall(nr::BIND, [fd, bare.as_ptr() as usize, bare.len(), 0, 0, 0]) };
    if r != 0 {
        return Outcome::new(r, Action::BoundWithoutGroups(sa.groups)).with_addr(sa);
    }
    match claim(k, t, fd) {
        Ok(s) => {
            let before = s.groups();
            s.set_low32(sa.groups);
            // Only a group the socket did not have yet needs the monitor (and its wait).
            if s.groups() & !before != 0 {
                monitor::subscribed(k, s, fd);
            }
            Outcome::new(0, Action::BoundWithoutGroups(sa.groups)).with_addr(sa)
        }
        Err(_) => Outcome::new(0, Action::NotRemembered(sa.groups)).with_addr(sa),
    }
}

fn connect<K: Kernel>(k: &K, t: &Table, n: Native, c: &Call) -> Outcome {
    let [fd, addr, len, ..] = c.args;
    let sa = route_addr_with_groups(k, fd, addr, len);
    let Some(sa) = sa.filter(|_| !n.has(Native::CONNECT_GROUP)) else {
        let out = pass(k, c);
        // Any other successful connect (to a port id, or AF_UNSPEC to disconnect) leaves no
        // default destination group.
        if out.ret == 0 {
            if let Some(s) = lookup(k, t, fd) {
                s.set_dst_group(0);
            }
        }
        return out;
    };
    let bare = sa.without_groups().to_bytes();
    // SAFETY: `bare` is a live sockaddr_nl of the length given.
    let r = unsafe {
        k.syscall(
            nr::CONNECT,
            [fd, bare.as_ptr() as usize, bare.len(), 0, 0, 0],
        )
    };
    if r == 0 {
        match claim(k, t, fd) {
            Ok(s) => s.set_dst_group(ffs(sa.groups)),
            Err(_) => return Outcome::new(0, Action::NotRemembered(sa.groups)).with_addr(sa),
        }
    }
    Outcome::new(r, Action::ConnectedWithoutGroups(sa.groups)).with_addr(sa)
}

/// After a send to the kernel (`nl_pid` 0) returned `out`: if it succeeded and the message
/// at `buf` is a change request on a route socket, kicks the event monitors (see
/// [`monitor::sent_to_kernel`]) and says so in the outcome.
fn after_send<K: Kernel>(
    k: &K,
    fd: usize,
    to: Option<SockaddrNl>,
    buf: usize,
    out: Outcome,
) -> Outcome {
    if out.ret < abi::NLMSG_HDRLEN as isize || to.is_none_or(|a| a.pid != 0) {
        return out;
    }
    let mut hdr = [0u8; abi::NLMSG_HDRLEN];
    if read_user(k, buf, &mut hdr).is_err() {
        return out;
    }
    if monitor::sent_to_kernel(k, fd, &hdr) && out.action == Action::PassedThrough {
        return Outcome::new(out.ret, Action::Kicked);
    }
    out
}

fn sendto<K: Kernel>(k: &K, n: Native, c: &Call) -> Outcome {
    let [fd, buf, len, flags, addr, alen] = c.args;
    match read_dest(k, addr, alen) {
        Some((abi::AF_NETLINK, nl)) => {
            let Some(sa) = nl.and_then(|sa| group_send(k, n, fd, sa)) else {
                return after_send(k, fd, nl, buf, pass(k, c));
            };
            let bare = sa.without_groups().to_bytes();
            // SAFETY: the payload arguments are the program's; `bare` is a live sockaddr_nl.
            let r = unsafe {
                k.syscall(
                    nr::SENDTO,
                    [fd, buf, len, flags, bare.as_ptr() as usize, bare.len()],
                )
            };
            let out = Outcome::new(r, Action::SentWithoutGroups(sa.groups)).with_addr(sa);
            after_send(k, fd, Some(sa), buf, out)
        }
        Some((abi::AF_PACKET, _)) => {
            let out = pass(k, c);
            if out.ret == neg(errno::EOPNOTSUPP) {
                return Outcome::new(len as isize, Action::PacketDropped);
            }
            out
        }
        _ => pass(k, c),
    }
}

fn sendmsg<K: Kernel>(k: &K, n: Native, c: &Call) -> Outcome {
    let [fd, msg, flags, ..] = c.args;
    let mut hdr = [0u8; abi::MSGHDR_LEN];
    if read_user(k, msg, &mut hdr).is_err() {
        return pass(k, c);
    }
    let word = |i: usize| u64::from_ne_bytes(hdr[i..i + 8].try_into().unwrap_or([0; 8])) as usize;
    let (name, namelen, iov, iovlen) = (word(0), word(8) & 0xffff_ffff, word(16), word(24));
    // The first message starts at the first iovec's base.
    let first = || read_u64(k, iov).unwrap_or(0) as usize;
    match read_dest(k, name, namelen) {
        Some((abi::AF_NETLINK, nl)) => {
            let Some(sa) = nl.and_then(|sa| group_send(k, n, fd, sa)) else {
                let out = pass(k, c);
                if out.ret <= 0 || iovlen == 0 {
                    return out;
                }
                return after_send(k, fd, nl, first(), out);
            };
            let bare = sa.without_groups().to_bytes();
            let mut copy = hdr;
            copy[0..8].copy_from_slice(&(bare.as_ptr() as u64).to_ne_bytes());
            copy[8..12].copy_from_slice(&(abi::SOCKADDR_NL_LEN as u32).to_ne_bytes());
            // SAFETY: `copy` is the program's msghdr with only the name replaced by `bare`, both
            // live for the call.
            let r = unsafe { k.syscall(nr::SENDMSG, [fd, copy.as_ptr() as usize, flags, 0, 0, 0]) };
            let out = Outcome::new(r, Action::SentWithoutGroups(sa.groups)).with_addr(sa);
            if iovlen == 0 {
                return out;
            }
            after_send(k, fd, Some(sa), first(), out)
        }
        Some((abi::AF_PACKET, _)) => {
            let out = pass(k, c);
            if out.ret != neg(errno::EOPNOTSUPP) || iovlen > abi::UIO_MAXIOV {
                return out;
            }
            let mut total: usize = 0;
            for i in 0..iovlen {
                match read_u64(k, iov + i * abi::IOVEC_LEN + 8) {
                    Ok(n) => total = total.saturating_add(n as usize),
                    Err(_) => return out,
                }
            }
            Outcome::new(total as isize, Action::PacketDropped)
        }
        _ => pass(k, c),
    }
}

fn setsockopt<K: Kernel>(k: &K, t: &Table, n: Native, c: &Call) -> Outcome {
    let [fd, level, opt, val, optlen, _] = c.args;
    if level as i32 == abi::SOL_NETLINK
        && opt as i32 == abi::NETLINK_NO_ENOBUFS
        && is_route_socket(k, fd)
    {
        return no_enobufs(k, t, c);
    }
    let join = opt as i32 == abi::NETLINK_ADD_MEMBERSHIP;
    // The kernel reads optlen as an int and refuses a negative one (EINVAL) before the option.
    if level as i32 != abi::SOL_NETLINK
        || (optlen as u32 as i32) < 0
        || !(join || opt as i32 == abi::NETLINK_DROP_MEMBERSHIP)
        || n.groups_native()
    {
        // Memberships are the kernel's when it accepts every group (groups are native all
        // together or not at all: crate::caps::Native::from_probes).
        return pass(k, c);
    }
    let Some(ino) = route_socket(k, t, fd) else {
        return pass(k, c);
    };
    // Linux reads the value only when optlen >= sizeof(int); a shorter one leaves it 0.
    let action = |g| {
        if join {
            Action::Joined(g)
        } else {
            Action::Left(g)
        }
    };
    let mut g = 0u32;
    if optlen as u32 >= 4 {
        match read_u32(k, val) {
            Ok(v) => g = v,
            Err(e) => return Outcome::new(neg(e), action(0)),
        }
    }
    let action = action(g);
    let s = match claim_ino(k, t, fd, ino) {
        Ok(s) => s,
        Err(e) => return Outcome::new(neg(e), action),
    };
    // Linux allocates the group bitmap before it checks the value.
    s.allocate();
    if g == 0 || g > abi::RTNL_NGROUPS {
        return Outcome::new(neg(errno::EINVAL), action);
    }
    if join {
        let before = s.groups();
        s.join(g);
        // Joining a group again changes nothing (Linux: a bit already set), so no wait for the
        // monitor either.
        if before & (1u64 << (g - 1)) == 0 {
            monitor::subscribed(k, s, fd);
        }
    } else {
        s.leave(g);
    }
    Outcome::new(0, action)
}

/// `NETLINK_NO_ENOBUFS`: given to the kernel, and remembered for the event queue (gVisor
/// refuses it with ENOPROTOOPT; then it is emulated).
fn no_enobufs<K: Kernel>(k: &K, t: &Table, c: &Call) -> Outcome {
    let [fd, _, _, val, optlen, _] = c.args;
    let out = pass(k, c);
    if out.ret != 0 && out.ret != neg(errno::ENOPROTOOPT) {
        return out;
    }
    // Linux: optlen >= sizeof(int) reads the value, a shorter one leaves it 0.
    let mut on = 0u32;
    if optlen as u32 >= 4 {
        match read_u32(k, val) {
            Ok(v) => on = v,
            Err(e) => return Outcome::new(neg(e), Action::NoEnobufs(false)),
        }
    }
    let Ok(s) = claim(k, t, fd) else {
        return out;
    };
    if on != 0 {
        s.ev.set(NO_ENOBUFS);
        s.ev.clear(OVERRUN);
    } else {
        s.ev.clear(NO_ENOBUFS);
    }
    Outcome::new(0, Action::NoEnobufs(on != 0))
}

/// Records a successful `SO_RCVBUF`/`SO_RCVBUFFORCE` of `val` on a NETLINK_ROUTE socket as the
/// limit of its event queue (doubled, as Linux stores it). gVisor accepts and ignores the
/// option, so this is the only place the program's wish is seen. Called by the libc hook.
pub fn note_rcvbuf<K: Kernel>(k: &K, t: &Table, fd: usize, val: i32) {
    if val <= 0 || !is_route_socket(k, fd) {
        return;
    }
    if let Ok(s) = claim(k, t, fd) {
        // Linux: max(val * 2, SOCK_MIN_RCVBUF), capped by rmem_max for SO_RCVBUF.
        s.ev.set_limit((val as u32).saturating_mul(2).max(2304));
    }
}

fn getsockopt<K: Kernel>(k: &K, t: &Table, c: &Call) -> Outcome {
    let [fd, level, opt, val, lenp, _] = c.args;
    if level as i32 != abi::SOL_NETLINK || opt as i32 != abi::NETLINK_LIST_MEMBERSHIPS {
        return pass(k, c);
    }
    let Some(ino) = route_socket(k, t, fd) else {
        return pass(k, c);
    };
    let len = match read_u32(k, lenp) {
        Ok(l) => l as i32,
        Err(e) => return Outcome::new(neg(e), Action::Listed(0)),
    };
    if len < 0 {
        return Outcome::new(neg(errno::EINVAL), Action::Listed(0));
    }
    let (ngroups, groups) = match t.get(fd as i32, ino) {
        Some(s) if s.allocated() => (abi::RTNL_NGROUPS, s.groups()),
        _ => (0, 0),
    };
    let mut ret = 0;
    let mut pos: i32 = 0;
    while (pos as u32) * 8 < ngroups {
        if len - pos < 4 {
            break;
        }
        let word = (groups >> (pos * 8)) as u32;
        if write_user(k, val + pos as usize, &word.to_ne_bytes()).is_err() {
            ret = neg(errno::EFAULT);
            break;
        }
        pos += 4;
    }
    let needed = ngroups.div_ceil(8).next_multiple_of(4);
    if write_user(k, lenp, &needed.to_ne_bytes()).is_err() {
        ret = neg(errno::EFAULT);
    }
    Outcome::new(ret, Action::Listed(groups))
}

fn getsockname<K: Kernel>(k: &K, t: &Table, c: &Call) -> Outcome {
    // Linux: nl_groups = groups 1..=32 of the socket.
    socket_name(k, t, c, |s| s.groups() as u32)
}

fn getpeername<K: Kernel>(k: &K, t: &Table, c: &Call) -> Outcome {
    // Linux: nl_groups = the default destination group as a bitmap.
    socket_name(k, t, c, |s| match s.dst_group() {
        g @ 1..=32 => 1u32 << (g - 1),
        _ => 0,
    })
}

/// getsockname/getpeername: the kernel's answer with `nl_groups` filled in from the record.
fn socket_name<K: Kernel>(k: &K, t: &Table, c: &Call, groups: impl Fn(&Slot) -> u32) -> Outcome {
    let [_, addr, lenp, ..] = c.args;
    // Only a socket with a record (a NETLINK_ROUTE one: no other kind gets one) has groups to
    // report; any other costs one fstat more than the call itself, and nothing while the table
    // is empty.
    let Some(s) = lookup(k, t, c.args[0]) else {
        return pass(k, c);
    };
    let Ok(room) = read_u32(k, lenp) else {
        return pass(k, c);
    };
    let out = pass(k, c);
    // The kernel copies min(room, 12) bytes of the address (move_addr_to_user): nl_groups
    // starts at offset 8, so a room of 9..=11 holds part of it.
    let room = room as i32;
    if out.ret != 0 || room <= 8 {
        return out;
    }
    let g = groups(s);
    let n = (room as usize).min(abi::SOCKADDR_NL_LEN) - 8;
    if write_user(k, addr + 8, &g.to_ne_bytes()[..n]).is_err() {
        return out;
    }
    Outcome::new(0, Action::ReportedGroups(g))
}

/// `recvfrom`/`recvmsg`: queued events of a subscribed socket, see [`crate::recv`].
fn receive<K: Kernel>(k: &K, t: &Table, c: &Call) -> Outcome {
    receive_events(k, t, c).unwrap_or_else(|| pass(k, c))
}

/// `recvfrom`/`recvmsg` (`c.nr`) served from the socket's event queue, or `None` when the
/// kernel must answer (not a subscribed socket, or its own data is next). The libc hooks call
/// this and fall back to the real libc function.
pub fn receive_events<K: Kernel>(k: &K, t: &Table, c: &Call) -> Option<Outcome> {
    let a = c.args;
    let (args, flags) = RecvArgs::of(c.nr, a);
    let (ret, what) = recv::recv(k, t, a[0], args, flags)?;
    let action = match what {
        Received::Event(g) => Action::Event(g),
        Received::Overrun => Action::Overrun,
        Received::Waited => Action::Waited,
    };
    Some(Outcome::new(ret, action))
}

/// The name of a syscall gvnet intercepts, for trace lines.
pub fn name(nr_: usize) -> &'static str {
    match nr_ {
        nr::BIND => "bind",
        nr::CONNECT => "connect",
        nr::SENDTO => "sendto",
        nr::SENDMSG => "sendmsg",
        nr::SETSOCKOPT => "setsockopt",
        nr::GETSOCKOPT => "getsockopt",
        nr::GETSOCKNAME => "getsockname",
        nr::GETPEERNAME => "getpeername",
        nr::RECVFROM => "recvfrom",
        nr::RECVMSG => "recvmsg",
        nr::SOCKET => "socket",
        nr::CLOSE => "close",
        nr::OPENAT => "openat",
        _ => "syscall",
    }
}

/// The level a trace line for this outcome is written at.
pub fn level(o: &Outcome) -> Level {
    match o.action {
        Action::PassedThrough | Action::Event(_) | Action::Waited => Level::Trace,
        Action::PacketDropped
        | Action::Overrun
        | Action::NotRemembered(_)
        | Action::Ipv6SysctlAnswered
        | Action::StrictRefused(_) => Level::Info,
        _ => Level::Debug,
    }
}

/// Writes the trace line for one intercepted call: `via` is `raw` (SIGSYS) or `libc`.
/// Also counts the call (`state::COUNTERS`, [`crate::counters`]): every intercepted call passes here once.
pub fn trace_call(via: &str, c: &Call, o: &Outcome) {
    crate::state::COUNTERS.record(via == "raw", c, o);
    let lvl = level(o);
    if !trace::enabled(lvl) {
        return;
    }
    let mut l = Line::new(lvl);
    l.str(via).str(" ").str(name(c.nr)).str("(");
    let n = match c.nr {
        nr::BIND | nr::CONNECT | nr::GETSOCKNAME | nr::GETPEERNAME | nr::SENDMSG => 3,
        nr::SETSOCKOPT | nr::GETSOCKOPT => 5,
        nr::RECVMSG => 3,
        nr::RECVFROM => 4,
        _ => 6,
    };
    for (i, a) in c.args.iter().take(n).enumerate() {
        if i == 0 {
            l.dec(*a as i64);
        } else {
            l.str(", ").hex(*a as u64);
        }
    }
    l.str(") ").result(o.ret);
    if let Some(a) = o.addr {
        l.str(" nl{pid=")
            .dec(a.pid as i64)
            .str(" groups=")
            .hex(a.groups as u64)
            .str("}");
    }
    l.str(" ");
    match o.action {
        Action::PassedThrough => l.str("passed through"),
        Action::Kicked => l.str("passed through; a change request: event monitors kicked"),
        Action::BoundWithoutGroups(g) => l.str("emulated: bound without groups, remembered groups ").hex(g as u64),
        Action::ClearedGroups => l.str("emulated: bind without groups cleared groups 1-32"),
        Action::ConnectedWithoutGroups(g) => l.str("emulated: connected without groups ").hex(g as u64),
        Action::SentWithoutGroups(g) => {
            l.str("emulated: sent to nl_pid only; copy to groups ").hex(g as u64).str(" not delivered")
        }
        Action::PacketDropped => {
            l.str("emulated: AF_PACKET write refused by the kernel (EOPNOTSUPP); reported as sent, frame dropped")
        }
        Action::Joined(g) => l.str("emulated: NETLINK_ADD_MEMBERSHIP group ").dec(g as i64),
        Action::Left(g) => l.str("emulated: NETLINK_DROP_MEMBERSHIP group ").dec(g as i64),
        Action::Listed(g) => l.str("emulated: NETLINK_LIST_MEMBERSHIPS groups ").hex(g),
        Action::ReportedGroups(g) => l.str("emulated: nl_groups ").hex(g as u64),
        Action::Event(g) => l.str("emulated: event of group ").dec(g as i64),
        Action::NoEnobufs(on) => l.str(if on {
            "emulated: NETLINK_NO_ENOBUFS on"
        } else {
            "emulated: NETLINK_NO_ENOBUFS off"
        }),
        Action::Overrun => l.str("emulated: events were dropped (receive queue full): ENOBUFS"),
        Action::Waited => l.str("emulated: waited for events"),
        Action::Ipv6SysctlAnswered => {
            l.str("emulated: no IPv6 sysctls in this kernel; disable_ipv6 read as 0 (IPv6 on)")
        }
        Action::NotRemembered(g) => {
            l.str("emulated: bound without groups, but the membership table is full: groups ").hex(g as u64).str(" forgotten")
        }
        Action::StrictOption(opt, on) => l
            .str(if opt == crate::strictchk::NETLINK_GET_STRICT_CHK {
                "emulated: NETLINK_GET_STRICT_CHK "
            } else {
                "emulated: NETLINK_EXT_ACK (no extended-ack attributes) "
            })
            .str(if on { "on" } else { "off" }),
        Action::StrictDump => l.str("strict: dump request checked, sent; its replies are filtered"),
        Action::StrictRefused(e) => l
            .str("strict: request refused with ")
            .str(abi::errno::name(e))
            .str(" (injected)"),
        Action::DumpFiltered(kept, of) => l
            .str("strict dump filter: kept ")
            .dec(kept as i64)
            .str(" of ")
            .dec(of as i64),
        Action::StrictAnswered => l.str("strict: refused dump's NLMSG_DONE delivered"),
    };
    l.emit();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fake::FakeKernel;

    const FD: usize = 7;
    const INO: u64 = 4242;

    fn nl(pid: u32, groups: u32) -> [u8; 12] {
        SockaddrNl {
            family: abi::AF_NETLINK,
            pad: 0,
            pid,
            groups,
        }
        .to_bytes()
    }

    fn call(nr_: usize, a: &[usize]) -> Call {
        let mut args = [0; 6];
        args[..a.len()].copy_from_slice(a);
        Call { nr: nr_, args }
    }

    fn bind_groups(k: &FakeKernel, t: &Table, groups: u32) -> Outcome {
        let sa = nl(0, groups);
        handle(k, t, &call(nr::BIND, &[FD, sa.as_ptr() as usize, 12]))
    }

    fn list(k: &FakeKernel, t: &Table, room: u32) -> (Outcome, u32, [u32; 4]) {
        list_with(k, t, Native::NONE, room)
    }

    fn list_with(k: &FakeKernel, t: &Table, n: Native, room: u32) -> (Outcome, u32, [u32; 4]) {
        let mut words = [0xdead_beefu32; 4];
        let mut len = room;
        let o = handle_with(
            k,
            t,
            n,
            &call(
                nr::GETSOCKOPT,
                &[
                    FD,
                    abi::SOL_NETLINK as usize,
                    abi::NETLINK_LIST_MEMBERSHIPS as usize,
                    words.as_mut_ptr() as usize,
                    &mut len as *mut u32 as usize,
                ],
            ),
        );
        (o, len, words)
    }

    fn setopt(k: &FakeKernel, t: &Table, opt: i32, g: u32, optlen: usize) -> Outcome {
        setopt_with(k, t, Native::NONE, opt, g, optlen)
    }

    fn setopt_with(
        k: &FakeKernel,
        t: &Table,
        n: Native,
        opt: i32,
        g: u32,
        optlen: usize,
    ) -> Outcome {
        let v = g;
        handle_with(
            k,
            t,
            n,
            &call(
                nr::SETSOCKOPT,
                &[
                    FD,
                    abi::SOL_NETLINK as usize,
                    opt as usize,
                    &v as *const u32 as usize,
                    optlen,
                ],
            ),
        )
    }

    #[test]
    fn bind_with_groups_binds_without_and_remembers() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let o = bind_groups(&k, &t, 0x1);
        assert_eq!(o.ret, 0);
        assert_eq!(o.action, Action::BoundWithoutGroups(1));
        let binds = k.calls_of(nr::BIND);
        assert_eq!(binds.len(), 1);
        assert_eq!(
            binds[0].data,
            nl(0, 0).to_vec(),
            "the kernel must see no groups"
        );
        assert_eq!(t.get(FD as i32, INO).unwrap().groups(), 1);
    }

    #[test]
    fn bind_failure_is_returned_and_nothing_remembered() {
        let k = FakeKernel::with_route_socket(FD, INO);
        k.script(nr::BIND, &[-98]);
        let t = Table::new();
        assert_eq!(bind_groups(&k, &t, 0x1).ret, -98);
        assert!(t.is_empty());
    }

    #[test]
    fn other_sockets_and_plain_binds_pass_through() {
        // An AF_INET socket given a netlink address: the kernel decides (EINVAL), not gvnet.
        let k = FakeKernel::default();
        k.sockets.borrow_mut().insert(FD, (2, 17, INO));
        k.script(nr::BIND, &[-22]);
        let t = Table::new();
        let o = bind_groups(&k, &t, 0x1);
        assert_eq!(o, Outcome::new(-22, Action::PassedThrough));
        assert_eq!(
            k.calls_of(nr::BIND)[0].data,
            nl(0, 1).to_vec(),
            "passed unchanged"
        );
        // NETLINK_KOBJECT_UEVENT: not ours either.
        let k = FakeKernel::default();
        k.sockets.borrow_mut().insert(FD, (16, 15, INO));
        assert_eq!(bind_groups(&k, &t, 0x1).action, Action::PassedThrough);
        // A route socket bound without groups: one real call, nothing else.
        let k = FakeKernel::with_route_socket(FD, INO);
        assert_eq!(bind_groups(&k, &t, 0).action, Action::PassedThrough);
        assert_eq!(k.calls.borrow().len(), 1);
    }

    #[test]
    fn bad_address_pointer_gets_the_kernels_efault() {
        let k = FakeKernel::with_route_socket(FD, INO);
        k.script(nr::BIND, &[-14]);
        let t = Table::new();
        let o = handle(&k, &t, &call(nr::BIND, &[FD, 8, 12]));
        assert_eq!(o, Outcome::new(-14, Action::PassedThrough));
    }

    #[test]
    fn rebind_without_groups_clears_groups_1_to_32_only() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        bind_groups(&k, &t, 0x5);
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 39, 4).ret, 0);
        assert_eq!(bind_groups(&k, &t, 0).action, Action::ClearedGroups);
        assert_eq!(t.get(FD as i32, INO).unwrap().groups(), 1 << 38);
    }

    #[test]
    fn strict_options_from_the_raw_path_are_the_kernels() {
        // Go's raw syscalls (the SIGSYS handler) keep the kernel's answer to
        // NETLINK_GET_STRICT_CHK and NETLINK_EXT_ACK: only the libc hooks emulate them
        // (crate::strictchk), so a Go program is never told its dumps are filtered.
        for opt in [
            crate::strictchk::NETLINK_GET_STRICT_CHK,
            crate::strictchk::NETLINK_EXT_ACK,
        ] {
            let k = FakeKernel::with_route_socket(FD, INO);
            k.script(nr::SETSOCKOPT, &[neg(errno::ENOPROTOOPT)]);
            let t = Table::new();
            let o = setopt(&k, &t, opt, 1, 4);
            assert_eq!(
                o,
                Outcome::new(neg(errno::ENOPROTOOPT), Action::PassedThrough)
            );
            assert_eq!(k.calls_of(nr::SETSOCKOPT).len(), 1);
            assert!(t.is_empty());
        }
    }

    #[test]
    fn add_membership_follows_linux_checks() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 5, 4).ret, 0);
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 39, 4).ret, 0);
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 40, 4).ret, -22);
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 0, 4).ret, -22);
        // optlen < 4: the value is never read, so it counts as 0.
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 5, 2).ret, -22);
        assert_eq!(setopt(&k, &t, abi::NETLINK_DROP_MEMBERSHIP, 5, 4).ret, 0);
        assert_eq!(
            setopt(&k, &t, abi::NETLINK_DROP_MEMBERSHIP, 6, 4).ret,
            0,
            "dropping a group never joined is fine"
        );
        assert_eq!(t.get(FD as i32, INO).unwrap().groups(), 1 << 38);
        assert!(
            k.calls_of(nr::SETSOCKOPT).is_empty(),
            "the kernel is never asked"
        );
        // Unreadable value: EFAULT.
        let o = handle(
            &k,
            &t,
            &call(
                nr::SETSOCKOPT,
                &[
                    FD,
                    abi::SOL_NETLINK as usize,
                    abi::NETLINK_ADD_MEMBERSHIP as usize,
                    16,
                    4,
                ],
            ),
        );
        assert_eq!(o.ret, -14);
        // Other SOL_NETLINK options go to the kernel.
        let o = handle(
            &k,
            &t,
            &call(nr::SETSOCKOPT, &[FD, abi::SOL_NETLINK as usize, 11, 0, 4]),
        );
        assert_eq!(o.action, Action::PassedThrough);
    }

    #[test]
    fn list_memberships_matches_linux_layout() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        // Never subscribed: Linux has no bitmap yet, reports length 0 and writes nothing.
        let (o, len, words) = list(&k, &t, 16);
        assert_eq!((o.ret, len, words[0]), (0, 0, 0xdead_beef));
        bind_groups(&k, &t, 0x1);
        setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 35, 4);
        let (o, len, words) = list(&k, &t, 16);
        assert_eq!((o.ret, len), (0, 8));
        assert_eq!(&words[..3], &[1, 1 << 2, 0xdead_beef]);
        // A 4-byte buffer gets the first word and the full length.
        let (_, len, words) = list(&k, &t, 4);
        assert_eq!((len, words[0], words[1]), (8, 1, 0xdead_beef));
        // No room: nothing written, length still reported.
        let (o, len, words) = list(&k, &t, 0);
        assert_eq!((o.ret, len, words[0]), (0, 8, 0xdead_beef));
        // Negative length: EINVAL.
        let (o, _, _) = list(&k, &t, u32::MAX);
        assert_eq!(o.ret, -22);
    }

    #[test]
    fn invalid_add_still_allocates_the_bitmap_as_linux_does() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 0, 4).ret, -22);
        let (_, len, words) = list(&k, &t, 16);
        assert_eq!((len, words[0], words[1]), (8, 0, 0));
    }

    #[test]
    fn getsockname_reports_remembered_groups() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        bind_groups(&k, &t, 0x3);
        setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 5, 4);
        let mut sa = nl(1234, 0);
        let mut len = 12u32;
        let o = handle(
            &k,
            &t,
            &call(
                nr::GETSOCKNAME,
                &[FD, sa.as_mut_ptr() as usize, &mut len as *mut u32 as usize],
            ),
        );
        assert_eq!(o.action, Action::ReportedGroups(0x13));
        let back = SockaddrNl::from_bytes(&sa);
        assert_eq!((back.pid, back.groups), (1234, 0x13));
    }

    #[test]
    fn getsockname_of_an_untracked_socket_costs_one_call() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let mut sa = nl(1, 0);
        let mut len = 12u32;
        handle(
            &k,
            &t,
            &call(
                nr::GETSOCKNAME,
                &[FD, sa.as_mut_ptr() as usize, &mut len as *mut u32 as usize],
            ),
        );
        assert_eq!(k.calls.borrow().len(), 1);
    }

    /// The bench's passed-through call: a getsockname of a UDP socket in a process where some
    /// netlink socket has a record. It costs one fstat beside the call itself, and no copy of
    /// the caller's memory (it cost two copies and their getpids before).
    #[test]
    fn getsockname_of_another_socket_costs_one_fstat_when_others_have_records() {
        const UDP: usize = 3;
        let k = FakeKernel::with_route_socket(FD, INO);
        k.sockets.borrow_mut().insert(UDP, (2, 17, INO + 1));
        let t = Table::new();
        bind_groups(&k, &t, 0x1);
        k.calls.borrow_mut().clear();
        k.copies.set(0);
        let mut sa = [0u8; 16];
        let mut len = 16u32;
        let o = handle(
            &k,
            &t,
            &call(
                nr::GETSOCKNAME,
                &[UDP, sa.as_mut_ptr() as usize, &mut len as *mut u32 as usize],
            ),
        );
        assert_eq!(o.action, Action::PassedThrough);
        let nrs: Vec<usize> = k.calls.borrow().iter().map(|c| c.nr).collect();
        assert_eq!(nrs, [nr::FSTAT, nr::GETSOCKNAME]);
        assert_eq!(k.copies.get(), 0);
    }

    /// A membership change on a socket that already has a record asks no socket options: the
    /// record says it is a NETLINK_ROUTE socket.
    #[test]
    fn membership_change_on_a_recorded_socket_costs_one_fstat_and_one_copy() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 1, 4).ret, 0);
        assert_eq!(k.calls_of(nr::GETSOCKOPT).len(), 2, "a new socket is asked");
        k.calls.borrow_mut().clear();
        k.copies.set(0);
        assert_eq!(setopt(&k, &t, abi::NETLINK_ADD_MEMBERSHIP, 1, 4).ret, 0);
        let nrs: Vec<usize> = k.calls.borrow().iter().map(|c| c.nr).collect();
        assert_eq!(nrs, [nr::FSTAT]);
        assert_eq!(k.copies.get(), 1);
        assert_eq!(setopt(&k, &t, abi::NETLINK_DROP_MEMBERSHIP, 1, 4).ret, 0);
        let (_, _, words) = list(&k, &t, 8);
        assert_eq!(words[0], 0);
    }

    #[test]
    fn connect_with_groups_sets_the_peer_group() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let sa = nl(0, 0x14);
        let o = handle(&k, &t, &call(nr::CONNECT, &[FD, sa.as_ptr() as usize, 12]));
        assert_eq!(o.action, Action::ConnectedWithoutGroups(0x14));
        assert_eq!(k.calls_of(nr::CONNECT)[0].data, nl(0, 0).to_vec());
        let mut peer = nl(0, 0);
        let mut len = 12u32;
        let pc = call(
            nr::GETPEERNAME,
            &[
                FD,
                peer.as_mut_ptr() as usize,
                &mut len as *mut u32 as usize,
            ],
        );
        assert_eq!(
            handle(&k, &t, &pc).action,
            Action::ReportedGroups(0x4),
            "ffs(0x14) = 3"
        );
        // Disconnect with AF_UNSPEC: no peer group any more.
        let mut unspec = [0u8; 12];
        unspec[0] = 0;
        handle(
            &k,
            &t,
            &call(nr::CONNECT, &[FD, unspec.as_ptr() as usize, 12]),
        );
        assert_eq!(handle(&k, &t, &pc).action, Action::ReportedGroups(0));
    }

    #[test]
    fn stale_record_of_a_reused_fd_is_not_reported() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        bind_groups(&k, &t, 0x1);
        // The Go program closed the socket with a raw close and got a new one at the same fd.
        k.sockets.borrow_mut().insert(FD, (16, 0, INO + 1));
        let (_, len, _) = list(&k, &t, 16);
        assert_eq!(len, 0);
    }

    #[test]
    fn sendto_group_address_goes_to_the_pid_alone() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let sa = nl(0, 0x1);
        let payload = [0u8; 32];
        let o = handle(
            &k,
            &t,
            &call(
                nr::SENDTO,
                &[
                    FD,
                    payload.as_ptr() as usize,
                    32,
                    0,
                    sa.as_ptr() as usize,
                    12,
                ],
            ),
        );
        assert_eq!(o.ret, 32);
        assert_eq!(o.action, Action::SentWithoutGroups(1));
        assert_eq!(k.calls_of(nr::SENDTO)[0].data, nl(0, 0).to_vec());
        // No groups: unchanged.
        let sa = nl(0, 0);
        let o = handle(
            &k,
            &t,
            &call(
                nr::SENDTO,
                &[
                    FD,
                    payload.as_ptr() as usize,
                    32,
                    0,
                    sa.as_ptr() as usize,
                    12,
                ],
            ),
        );
        assert_eq!(o.action, Action::PassedThrough);
    }

    #[test]
    fn change_requests_sent_to_the_kernel_kick_the_monitors() {
        // A kick page of the test's own, so the kick is visible (ENABLED stays off).
        static PAGE: [core::sync::atomic::AtomicU32; 2] =
            [const { core::sync::atomic::AtomicU32::new(0) }; 2];
        // SAFETY: a static of two u32 words, alive for the whole process.
        unsafe { crate::state::set_kick_page(PAGE.as_ptr() as *mut u32, false) };
        let word = || PAGE[0].load(core::sync::atomic::Ordering::Acquire);
        let k = FakeKernel::with_route_socket(FD, INO);
        k.sockets.borrow_mut().insert(FD + 1, (16, 16, INO + 1)); // NETLINK_GENERIC
        let t = Table::new();
        let send = |fd: usize, msg_type: u16, pid: u32| {
            let mut payload = [0u8; 32];
            payload[0..4].copy_from_slice(&32u32.to_ne_bytes());
            payload[4..6].copy_from_slice(&msg_type.to_ne_bytes());
            let sa = nl(pid, 0);
            let args = [
                fd,
                payload.as_ptr() as usize,
                32,
                0,
                sa.as_ptr() as usize,
                12,
            ];
            handle(&k, &t, &call(nr::SENDTO, &args))
        };
        let before = word();
        // RTM_NEWLINK to the kernel on a route socket.
        assert_eq!(send(FD, 16, 0), Outcome::new(32, Action::Kicked));
        assert_eq!(word(), before + 1);
        // RTM_GETLINK, a message to another socket, the same type on a generic socket, a failed
        // send: no kick.
        assert_eq!(send(FD, 18, 0).action, Action::PassedThrough);
        assert_eq!(send(FD, 16, 4242).action, Action::PassedThrough);
        assert_eq!(send(FD + 1, 16, 0).action, Action::PassedThrough);
        k.script(nr::SENDTO, &[-105]);
        assert_eq!(send(FD, 16, 0), Outcome::new(-105, Action::PassedThrough));
        assert_eq!(word(), before + 1);
    }

    #[test]
    fn refused_packet_write_is_reported_as_sent() {
        let k = FakeKernel::default();
        k.sockets.borrow_mut().insert(FD, (17, 0x0300, INO));
        k.script(nr::SENDTO, &[-95, -1]);
        let t = Table::new();
        let mut ll = [0u8; 20];
        ll[0..2].copy_from_slice(&abi::AF_PACKET.to_ne_bytes());
        let frame = [0u8; 42];
        let c = call(
            nr::SENDTO,
            &[FD, frame.as_ptr() as usize, 42, 0, ll.as_ptr() as usize, 20],
        );
        assert_eq!(handle(&k, &t, &c), Outcome::new(42, Action::PacketDropped));
        // Any other error is the kernel's.
        assert_eq!(handle(&k, &t, &c), Outcome::new(-1, Action::PassedThrough));
    }

    #[test]
    fn sendmsg_rewrites_only_the_name() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let sa = nl(0, 0x4);
        let payload = [0u8; 16];
        let iov = [payload.as_ptr() as u64, 16u64];
        let mut hdr = [0u64; 7];
        hdr[0] = sa.as_ptr() as u64;
        hdr[1] = 12;
        hdr[2] = iov.as_ptr() as u64;
        hdr[3] = 1;
        let o = handle(&k, &t, &call(nr::SENDMSG, &[FD, hdr.as_ptr() as usize, 0]));
        assert_eq!(o.action, Action::SentWithoutGroups(4));
        let sent = k.calls_of(nr::SENDMSG);
        // SAFETY: the emulation's copy of the msghdr is gone by now; only compare the pointer.
        assert_ne!(
            sent[0].args[1],
            hdr.as_ptr() as usize,
            "a copy was sent, the program's msghdr untouched"
        );
        assert_eq!(hdr[0], sa.as_ptr() as u64);
    }

    #[test]
    fn packet_sendmsg_refused_reports_the_iov_total() {
        let k = FakeKernel::default();
        k.sockets.borrow_mut().insert(FD, (17, 0x0300, INO));
        k.script(nr::SENDMSG, &[-95]);
        let t = Table::new();
        let mut ll = [0u8; 20];
        ll[0..2].copy_from_slice(&abi::AF_PACKET.to_ne_bytes());
        let a = [0u8; 10];
        let b = [0u8; 32];
        let iov = [a.as_ptr() as u64, 10, b.as_ptr() as u64, 32];
        let hdr = [ll.as_ptr() as u64, 20, iov.as_ptr() as u64, 2, 0, 0, 0];
        let o = handle(&k, &t, &call(nr::SENDMSG, &[FD, hdr.as_ptr() as usize, 0]));
        assert_eq!(o, Outcome::new(42, Action::PacketDropped));
    }

    /// gVisor release-20260817.0 without the packet-write flag, as the constructor finds it.
    fn current_gvisor() -> Native {
        Native::from_probes(1, Native::SEND_GROUP)
    }

    #[test]
    fn a_native_send_to_a_group_is_the_kernels() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let sa = nl(0, 1);
        let msg = [0u8; 32];
        let args = [FD, msg.as_ptr() as usize, 32, 0, sa.as_ptr() as usize, 12];
        let o = handle_with(&k, &t, current_gvisor(), &call(nr::SENDTO, &args));
        assert_eq!(o.action, Action::PassedThrough);
        assert_eq!(
            k.calls_of(nr::SENDTO)[0].data,
            nl(0, 1).to_vec(),
            "the kernel sees the group"
        );
        // Where the kernel refuses it (20240729, 20251118), the send goes to nl_pid alone.
        let k = FakeKernel::with_route_socket(FD, INO);
        let o = handle_with(&k, &t, Native::from_probes(1, 0), &call(nr::SENDTO, &args));
        assert_eq!(o.action, Action::SentWithoutGroups(1));
        assert_eq!(k.calls_of(nr::SENDTO)[0].data, nl(0, 0).to_vec());
    }

    #[test]
    fn groups_and_connect_stay_emulated_where_only_link_is_accepted() {
        let n = current_gvisor();
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let sa = nl(0, 1);
        let o = handle_with(&k, &t, n, &call(nr::BIND, &[FD, sa.as_ptr() as usize, 12]));
        assert_eq!(o.action, Action::BoundWithoutGroups(1));
        assert_eq!(k.calls_of(nr::BIND)[0].data, nl(0, 0).to_vec());
        let o = handle_with(
            &k,
            &t,
            n,
            &call(nr::CONNECT, &[FD, sa.as_ptr() as usize, 12]),
        );
        assert_eq!(o.action, Action::ConnectedWithoutGroups(1));
    }

    #[test]
    fn on_a_kernel_that_accepts_everything_nothing_is_emulated() {
        let k = FakeKernel::with_route_socket(FD, INO);
        let t = Table::new();
        let sa = nl(0, 0x51);
        for nr_ in [nr::BIND, nr::CONNECT] {
            let o = handle_with(
                &k,
                &t,
                Native::ALL,
                &call(nr_, &[FD, sa.as_ptr() as usize, 12]),
            );
            assert_eq!(o.action, Action::PassedThrough, "{}", name(nr_));
        }
        for opt in [abi::NETLINK_ADD_MEMBERSHIP, abi::NETLINK_DROP_MEMBERSHIP] {
            assert_eq!(
                setopt_with(&k, &t, Native::ALL, opt, 5, 4).action,
                Action::PassedThrough
            );
        }
        assert_eq!(
            list_with(&k, &t, Native::ALL, 8).0.action,
            Action::PassedThrough
        );
        assert!(t.is_empty(), "no record was made");
    }
}
