//! Every symbol libgvnet.so exports: the libc functions it interposes for C programs, and
//! [`gvnet_counters`], where `gvnet counters PID` reads what the library did.
//!
//! Each hook sends calls that gvnet has no business with straight to the real libc function
//! (resolved in the constructor) and only the calls the filter rules name ([`wants`]) through the
//! emulation, which is the same code the SIGSYS handler runs.
//!
//! `send` is hooked for `NETLINK_GET_STRICT_CHK` (a dump request on a strict socket is
//! checked before it is sent, [`gvnet_core::strictchk`]; its replies are filtered by the
//! receive hooks; `sendmsg` is checked the same way; `write` of a dump request is not checked,
//! and its dump not filtered) and for `RTM_SETLINK` (`send` and `sendto` to the kernel send a
//! copy without the flags gVisor refuses on it, [`gvnet_core::setlink`]; not `sendmsg` or
//! `write`); `open`, `open64`, `openat` and `openat64` answer a missing IPv4
//! per-interface sysctl after the real function's ENOENT ([`gvnet_core::sysctl::ipv4_conf_open`]);
//! `send` and `sendto` to the kernel of a veth create find the pair's ends, and `recv` and
//! `recvfrom` add the `IFLA_LINK` the kernel leaves out of their `RTM_NEWLINK` messages
//! ([`gvnet_core::vethpeer`]; not `sendmsg`, `recvmsg` or `read`).
//!
//! Not hooked, on purpose: `socket` and `close` (memberships belong to the socket's inode, so a
//! new or closed fd needs no bookkeeping, and a `dup` shares them as in Linux) and `ioctl`
//! (nothing gvnet emulates is reachable through it).
//!
//! # Safety (all functions)
//! They have the contracts of the libc functions of the same name: the caller passes pointers
//! valid as libc documents. Pointers gvnet itself reads are copied with `process_vm_readv`, so
//! a bad one yields `EFAULT`, as from the kernel.

use crate::engine;
use core::mem::transmute;
use gvnet_core::abi::{self, nr};
use gvnet_core::call::Call;
use gvnet_core::emulate::{handle, is_route_socket, note_rcvbuf, receive_events, trace_call};
use gvnet_core::kernel::{read_user, RawKernel};
use gvnet_core::state::{PROGRAM, TABLE, VETH_PAIRS};
use gvnet_core::strictchk::{self, Send};
use libc::{c_int, c_void, msghdr, size_t, sockaddr, socklen_t, ssize_t};

/// The address of this process's counters (`gvnet_core::counters`): the one data symbol, found
/// by `gvnet counters PID` in the `.dynsym` of the mapped library. A pointer, so the struct
/// itself stays in the handler-reachable core crate.
#[no_mangle]
#[allow(non_upper_case_globals)] // a C symbol name
pub static gvnet_counters: &gvnet_core::counters::Counters = &gvnet_core::state::COUNTERS;

/// Runs a call through the emulation and returns it the libc way: the result, or -1 and errno.
fn emulated(nr_: usize, args: [usize; 6]) -> isize {
    let call = Call { nr: nr_, args };
    let out = handle(&RawKernel, &TABLE, &call);
    trace_call("libc", &call, &out);
    libc_result(out.ret)
}

/// A syscall-style result (`-errno` on failure) the libc way: -1 with errno set.
fn libc_result(ret: isize) -> isize {
    if ret < 0 {
        // SAFETY: __errno_location returns this thread's errno.
        unsafe { *libc::__errno_location() = (-ret) as c_int };
        return -1;
    }
    ret
}

fn args(a: &[usize]) -> [usize; 6] {
    let mut out = [0; 6];
    out[..a.len()].copy_from_slice(a);
    out
}

/// A receive on a socket with queued events is served by the emulation; `None`: not ours.
fn received(nr_: usize, args: [usize; 6]) -> Option<isize> {
    if !engine::active() || TABLE.is_empty() {
        return None;
    }
    let call = Call { nr: nr_, args };
    let out = receive_events(&RawKernel, &TABLE, &call)?;
    trace_call("libc", &call, &out);
    Some(libc_result(out.ret))
}

// ---- NETLINK_GET_STRICT_CHK (gvnet_core::strictchk): libc hooks only ----

/// Whether this process emulates `NETLINK_GET_STRICT_CHK` (deciding first if it still waits).
fn strict_emulated() -> bool {
    if engine::waiting() {
        engine::settle();
    }
    engine::active() && gvnet_core::state::traps().has(gvnet_core::caps::Traps::STRICT)
}

/// Whether a send or receive on some socket may concern a strict dump: cheap, no syscall.
fn strict_sockets() -> bool {
    gvnet_core::state::STRICT_SEEN.load(core::sync::atomic::Ordering::Acquire)
        && engine::active()
        && gvnet_core::state::traps().has(gvnet_core::caps::Traps::STRICT)
}

/// Traces an outcome of the strict emulation as a call `nr_` with `a`, and returns it the libc
/// way.
fn strict_traced(nr_: usize, a: [usize; 6], out: gvnet_core::call::Outcome) -> isize {
    trace_call("libc", &Call { nr: nr_, args: a }, &out);
    libc_result(out.ret)
}

/// A dump request on a strict socket that went to the kernel (`nr_` with `a`, libc's result
/// `r`): traced as a strict dump with the kernel's answer (-errno on failure); `r` returned.
fn strict_sent(nr_: usize, a: [usize; 6], r: isize) -> isize {
    let ret = if r < 0 {
        // SAFETY: __errno_location returns this thread's errno.
        -(unsafe { *libc::__errno_location() } as isize)
    } else {
        r
    };
    let out = gvnet_core::call::Outcome::new(ret, gvnet_core::call::Action::StrictDump);
    trace_call("libc", &Call { nr: nr_, args: a }, &out);
    r
}

/// setsockopt/getsockopt of `NETLINK_GET_STRICT_CHK` or `NETLINK_EXT_ACK` where emulated;
/// `None`: the kernel's.
fn strict_option(nr_: usize, a: [usize; 6]) -> Option<isize> {
    let [fd, level, opt, val, len, _] = a;
    if !strictchk::is_strict_option(level as i32, opt as i32) || !strict_emulated() {
        return None;
    }
    let out = if nr_ == nr::SETSOCKOPT {
        strictchk::setsockopt(&RawKernel, &TABLE, fd, opt as i32, val, len)
    } else {
        strictchk::getsockopt(&RawKernel, &TABLE, fd, opt as i32, val, len)
    }?;
    Some(strict_traced(nr_, a, out))
}

/// A send of `len` bytes at `buf` to the kernel on a strict socket: `Some(result)` when this
/// module answered, `None` when the send is none of its business. A dump request Linux refuses
/// is not sent (its answer waits for the next receive); one it accepts is sent with `send()` and
/// traced with the kernel's result, its replies filtered on receive.
fn strict_send(a: [usize; 6], send: &dyn Fn() -> isize) -> Option<isize> {
    if !strict_sockets() {
        return None;
    }
    match strictchk::before_send(&RawKernel, &TABLE, a[0], a[1], a[2]) {
        Send::Kernel => None,
        Send::Filtered => Some(strict_sent(nr::SENDTO, a, send())),
        Send::Answered(out) => Some(strict_traced(nr::SENDTO, a, out)),
    }
}

/// A receive on a socket with a pending strict dump, served by `strictchk::receive`;
/// `None`: not one.
fn strict_received(nr_: usize, a: [usize; 6]) -> Option<isize> {
    if !strict_sockets() {
        return None;
    }
    let call = Call { nr: nr_, args: a };
    let fd = a[0];
    let out = strictchk::receive(&RawKernel, &TABLE, &call, &mut |b, n| {
        gvnet_core::linkstore::received(&RawKernel, &TABLE, fd, b, n)
    })?;
    trace_call("libc", &call, &out);
    Some(libc_result(out.ret))
}

// ---- requests to the kernel that send and sendto look at: libc hooks only ----

/// One request a send hook is passing on: `len` bytes at `buf` on `fd`. What the branches
/// below ask of it (the first 8 bytes of the caller's buffer, whether `fd` is a NETLINK_ROUTE
/// socket) is read at most once, and only when a branch asks.
struct Outgoing {
    fd: usize,
    buf: usize,
    len: usize,
    head: core::cell::OnceCell<Option<[u8; 8]>>,
    route: core::cell::OnceCell<bool>,
}

impl Outgoing {
    fn new(fd: usize, buf: usize, len: usize) -> Outgoing {
        Outgoing {
            fd,
            buf,
            len,
            head: core::cell::OnceCell::new(),
            route: core::cell::OnceCell::new(),
        }
    }

    /// Whether the request is `lens` bytes long, its head is one `wants` takes, and the socket
    /// is a NETLINK_ROUTE socket (asked in that order; every range starts at 16 or more, so
    /// 8 bytes are there to read).
    fn wanted(&self, lens: core::ops::RangeInclusive<usize>, wants: fn(&[u8]) -> bool) -> bool {
        lens.contains(&self.len)
            && self
                .head
                .get_or_init(|| {
                    let mut h = [0u8; 8];
                    read_user(&RawKernel, self.buf, &mut h).ok().map(|()| h)
                })
                .is_some_and(|h| wants(&h))
            && *self
                .route
                .get_or_init(|| is_route_socket(&RawKernel, self.fd))
    }
}

// ---- RTM_SETLINK with NLM_F_CREATE (gvnet_core::setlink): libc hooks only ----

/// Whether this process sends `RTM_SETLINK` without the flags the kernel refuses on it.
fn setlink_emulated() -> bool {
    engine::active() && gvnet_core::state::traps().has(gvnet_core::caps::Traps::SETLINK)
}

/// The request `out`, sent to the kernel by `name` (send, sendto): `Some(result)` when it
/// began with an `RTM_SETLINK` carrying a flag Linux ignores and the kernel refuses
/// ([`gvnet_core::setlink`]), and a copy without those flags was sent with `send_copy` (which
/// gets the copy's address); `None`: the caller sends the original. A process still waiting
/// for its decision sends unchanged: netlink-sys (netavark) binds its socket and sets
/// `NETLINK_GET_STRICT_CHK` first, either of which decides, and a waiting process's other
/// sends pay nothing. Costs one 8-byte copy of the caller's buffer per send of 16..=4096 bytes
/// where the emulation is on (shared with the branches after it).
fn setlink_send(name: &str, out: &Outgoing, send_copy: &dyn Fn(usize) -> isize) -> Option<isize> {
    use gvnet_core::setlink;
    if !setlink_emulated() || !out.wanted(16..=setlink::MAX_COPY, setlink::wants) {
        return None;
    }
    setlink_copy(name, out.fd, out.buf, out.len, send_copy)
}

/// The copy [`setlink_send`] sends: on a stack of its own, so the hooks' frames stay small
/// for every other send.
#[inline(never)]
fn setlink_copy(
    name: &str,
    fd: usize,
    buf: usize,
    len: usize,
    send_copy: &dyn Fn(usize) -> isize,
) -> Option<isize> {
    use gvnet_core::trace::{enabled, Level, Line};
    let mut copy = [0u8; gvnet_core::setlink::MAX_COPY];
    let copy = &mut copy[..len];
    read_user(&RawKernel, buf, copy).ok()?;
    let n = gvnet_core::setlink::rewrite(copy);
    if n == 0 {
        return None;
    }
    let r = send_copy(copy.as_ptr() as usize);
    if enabled(Level::Debug) {
        let ret = if r < 0 {
            // SAFETY: __errno_location returns this thread's errno.
            -(unsafe { *libc::__errno_location() } as isize)
        } else {
            r
        };
        let mut l = Line::new(Level::Debug);
        l.str("libc ")
            .str(name)
            .str("(")
            .dec(fd as i64)
            .str(", ")
            .hex(buf as u64)
            .str(", ")
            .dec(len as i64)
            .str(") ")
            .result(ret)
            .str(" emulated: RTM_SETLINK sent without NLM_F_CREATE|NLM_F_EXCL|NLM_F_REPLACE (")
            .dec(n as i64)
            .str(" message(s))");
        l.emit();
    }
    Some(r)
}

// ---- IFLA_LINK of veth ends (gvnet_core::vethpeer), kind and master of links
// (gvnet_core::linkstore): libc hooks only ----

/// The request `out` sent with `send` (which gets the buffer's address): `Some(result)` when
/// it is a link request gvnet follows on a NETLINK_ROUTE socket
/// (a veth create, sent between two link dumps that find its ends,
/// [`gvnet_core::vethpeer::around_create`]; another create, a change of master or a delete,
/// [`gvnet_core::linkstore::around_request`]), sent unchanged; `None`: the caller sends it.
fn link_send(out: &Outgoing, send: &dyn Fn(usize) -> isize) -> Option<isize> {
    use gvnet_core::veth::LINK_ATTRS;
    use gvnet_core::vethpeer::MAX_REQUEST;
    if !engine::active() || !out.wanted(LINK_ATTRS..=MAX_REQUEST, gvnet_core::linkrec::wants) {
        return None;
    }
    link_request(out.fd, out.buf, out.len, send)
}

/// The rest of [`link_send`], with the request's copy on a stack of its own.
#[inline(never)]
fn link_request(fd: usize, buf: usize, len: usize, send: &dyn Fn(usize) -> isize) -> Option<isize> {
    let mut req = [0u8; gvnet_core::vethpeer::MAX_REQUEST];
    let req = &mut req[..len];
    read_user(&RawKernel, buf, req).ok()?;
    if gvnet_core::veth::parse_create(req).is_some() {
        return Some(gvnet_core::vethpeer::around_create(
            &RawKernel,
            &TABLE,
            &VETH_PAIRS,
            fd,
            req,
            &|| send(buf),
        ));
    }
    let r = gvnet_core::linkrec::parse_request(req)?;
    Some(gvnet_core::linkstore::around_request(
        &RawKernel,
        &TABLE,
        fd,
        &r,
        &|| send(buf),
    ))
}

/// After a receive on `fd` into the caller's `buf` of `cap` bytes with `flags` returned `r`:
/// `r`, or the longer length once what the kernel left out of link messages was added
/// (`IFLA_LINK` of veth ends, [`gvnet_core::vethpeer::received`]; kind and master,
/// [`gvnet_core::linkstore::received`]).
fn link_received(fd: c_int, buf: *mut c_void, cap: size_t, flags: c_int, r: ssize_t) -> ssize_t {
    use gvnet_core::veth::LINK_ATTRS;
    if r < LINK_ATTRS as ssize_t || !engine::active() || buf.is_null() {
        return r;
    }
    // A truncated datagram (MSG_TRUNC reports the full length) is left as it is.
    if r as usize > cap || (flags as usize & abi::MSG_TRUNC != 0 && r as usize == cap) {
        return r;
    }
    // SAFETY: the caller gave `buf` as `cap` readable bytes (recv's contract) and the kernel
    // has just written the first `r` of them.
    let head = unsafe { core::slice::from_raw_parts(buf as *const u8, 6) };
    // Only a datagram that starts with a link message (a link dump, a get, a notification).
    if u16::from_ne_bytes([head[4], head[5]]) != gvnet_core::veth::RTM_NEWLINK {
        return r;
    }
    if !is_route_socket(&RawKernel, fd as usize) {
        return r;
    }
    // SAFETY: the caller gave `buf` as `cap` writable bytes (recv's contract) and the kernel
    // has just written the first `r` of them; nothing else refers to it during this call.
    let b = unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, cap) };
    let mut n = r as usize;
    if !VETH_PAIRS.is_empty() {
        n = gvnet_core::vethpeer::received(&RawKernel, &TABLE, &VETH_PAIRS, fd as usize, b, n);
    }
    gvnet_core::linkstore::received(&RawKernel, &TABLE, fd as usize, b, n) as ssize_t
}

// ---- a device for a gateway route without one (gvnet_core::routedev): libc hooks only ----

/// The request `out`: `Some(result)` when it is an IPv4 route through a gateway without a
/// device and a copy with `RTA_OIF` was sent with `send_copy` (given the copy's address and
/// length; [`gvnet_core::routedev::around_send`]); `None`: the caller sends it.
fn route_send(out: &Outgoing, send_copy: &dyn Fn(usize, usize) -> isize) -> Option<isize> {
    use gvnet_core::gwroute::{wants, ROUTE_ATTRS};
    use gvnet_core::routedev::MAX_REQUEST;
    if !engine::active() || !out.wanted(ROUTE_ATTRS..=MAX_REQUEST, wants) {
        return None;
    }
    route_request(out.fd, out.buf, out.len, send_copy)
}

/// The rest of [`route_send`], with the request's copy on a stack of its own.
#[inline(never)]
fn route_request(
    fd: usize,
    buf: usize,
    len: usize,
    send_copy: &dyn Fn(usize, usize) -> isize,
) -> Option<isize> {
    let mut req = [0u8; gvnet_core::routedev::BUF];
    read_user(&RawKernel, buf, &mut req[..len]).ok()?;
    gvnet_core::routedev::around_send(&RawKernel, &TABLE, fd, &mut req, len, send_copy)
}

// ---- IPv4 per-interface sysctls (gvnet_core::sysctl::ipv4_conf_open): libc hooks only ----

/// After the real open of `path` with `flags` returned `r`: `r`, or the fd gvnet answers a
/// missing `/proc/sys/net/ipv4/conf/IFACE/{route_localnet,rp_filter,arp_notify}` with. Only a
/// failure with ENOENT in a process that emulates it costs anything.
fn ipv4_conf(name: &str, path: *const libc::c_char, flags: c_int, r: c_int) -> c_int {
    if r >= 0
        || !engine::active()
        || !gvnet_core::state::traps().has(gvnet_core::caps::Traps::IPV4_CONF)
    {
        return r;
    }
    // SAFETY: __errno_location returns this thread's errno.
    let e = unsafe { *libc::__errno_location() };
    if e != libc::ENOENT {
        return r;
    }
    let Some(fd) = gvnet_core::sysctl::ipv4_conf_open(
        &RawKernel,
        path as usize,
        flags as usize,
        -(libc::ENOENT as isize),
    ) else {
        return r;
    };
    if gvnet_core::trace::enabled(gvnet_core::trace::Level::Debug) {
        let mut l = gvnet_core::trace::Line::new(gvnet_core::trace::Level::Debug);
        l.str("libc ")
            .str(name)
            .str("(")
            .hex(path as u64)
            .str(", ")
            .hex(flags as u64)
            .str(") = ")
            .dec(fd as i64)
            .str(" emulated: missing IPv4 sysctl answered with a memfd holding 0");
        l.emit();
    }
    fd as c_int
}

/// `open(2)` (the mode is passed on as the caller's third register holds it: x86-64 passes a
/// variadic int where a fixed one would be).
///
/// # Safety
/// As libc's `open`.
#[no_mangle]
pub unsafe extern "C" fn open(
    path: *const libc::c_char,
    flags: c_int,
    mode: libc::c_uint,
) -> c_int {
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    let r = unsafe {
        let real: unsafe extern "C" fn(*const libc::c_char, c_int, libc::c_uint) -> c_int =
            transmute(crate::real::OPEN.get());
        real(path, flags, mode)
    };
    ipv4_conf("open", path, flags, r)
}

/// `open64(2)` (Rust's `std::fs` on glibc); the mode as for [`open`].
///
/// # Safety
/// As libc's `open64`.
#[no_mangle]
pub unsafe extern "C" fn open64(
    path: *const libc::c_char,
    flags: c_int,
    mode: libc::c_uint,
) -> c_int {
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    let r = unsafe {
        let real: unsafe extern "C" fn(*const libc::c_char, c_int, libc::c_uint) -> c_int =
            transmute(crate::real::OPEN64.get());
        real(path, flags, mode)
    };
    ipv4_conf("open64", path, flags, r)
}

/// `openat(2)`; the mode as for [`open`].
///
/// # Safety
/// As libc's `openat`.
#[no_mangle]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const libc::c_char,
    flags: c_int,
    mode: libc::c_uint,
) -> c_int {
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    let r = unsafe {
        let real: unsafe extern "C" fn(c_int, *const libc::c_char, c_int, libc::c_uint) -> c_int =
            transmute(crate::real::OPENAT.get());
        real(dirfd, path, flags, mode)
    };
    ipv4_conf("openat", path, flags, r)
}

/// `openat64(2)`; the mode as for [`open`].
///
/// # Safety
/// As libc's `openat64`.
#[no_mangle]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const libc::c_char,
    flags: c_int,
    mode: libc::c_uint,
) -> c_int {
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    let r = unsafe {
        let real: unsafe extern "C" fn(c_int, *const libc::c_char, c_int, libc::c_uint) -> c_int =
            transmute(crate::real::OPENAT64.get());
        real(dirfd, path, flags, mode)
    };
    ipv4_conf("openat64", path, flags, r)
}

/// `recv(2)`.
///
/// # Safety
/// As libc's `recv`.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    let a = args(&[fd as usize, buf as usize, len, flags as usize, 0, 0]);
    if let Some(r) = received(nr::RECVFROM, a).or_else(|| strict_received(nr::RECVFROM, a)) {
        return r as ssize_t;
    }
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    let r = unsafe {
        let real: unsafe extern "C" fn(c_int, *mut c_void, size_t, c_int) -> ssize_t =
            transmute(crate::real::RECV.get());
        real(fd, buf, len, flags)
    };
    link_received(fd, buf, len, flags, r)
}

/// `send(2)`: a dump request on a socket with `NETLINK_GET_STRICT_CHK` emulated is checked
/// first; everything else goes to libc.
///
/// # Safety
/// As libc's `send`.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    let a = args(&[fd as usize, buf as usize, len, flags as usize, 0, 0]);
    let send_n = |buf: usize, n: usize| -> isize {
        // SAFETY: the real symbol has this signature; forwarding the caller's arguments, or
        // a copy of its buffer (`n` bytes, readable).
        unsafe {
            let real: unsafe extern "C" fn(c_int, *const c_void, size_t, c_int) -> ssize_t =
                transmute(crate::real::SEND.get());
            real(fd, buf as *const c_void, n, flags)
        }
    };
    let send_at = |buf: usize| send_n(buf, len);
    let out = Outgoing::new(fd as usize, buf as usize, len);
    if let Some(r) = setlink_send("send", &out, &send_at) {
        return r as ssize_t;
    }
    if let Some(r) = route_send(&out, &send_n) {
        return r as ssize_t;
    }
    if let Some(r) = link_send(&out, &send_at) {
        return r as ssize_t;
    }
    let real = || send_at(buf as usize);
    if let Some(r) = strict_send(a, &real) {
        return r as ssize_t;
    }
    real() as ssize_t
}

/// `recvfrom(2)`.
///
/// # Safety
/// As libc's `recvfrom`.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    let a = args(&[
        fd as usize,
        buf as usize,
        len,
        flags as usize,
        addr as usize,
        addrlen as usize,
    ]);
    if let Some(r) = received(nr::RECVFROM, a).or_else(|| strict_received(nr::RECVFROM, a)) {
        return r as ssize_t;
    }
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    let r = unsafe {
        let real: unsafe extern "C" fn(
            c_int,
            *mut c_void,
            size_t,
            c_int,
            *mut sockaddr,
            *mut socklen_t,
        ) -> ssize_t = transmute(crate::real::RECVFROM.get());
        real(fd, buf, len, flags, addr, addrlen)
    };
    link_received(fd, buf, len, flags, r)
}

/// `recvmsg(2)`.
///
/// # Safety
/// As libc's `recvmsg`.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    let a = args(&[fd as usize, msg as usize, flags as usize]);
    if let Some(r) = received(nr::RECVMSG, a).or_else(|| strict_received(nr::RECVMSG, a)) {
        return r as ssize_t;
    }
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    unsafe {
        let real: unsafe extern "C" fn(c_int, *mut msghdr, c_int) -> ssize_t =
            transmute(crate::real::RECVMSG.get());
        real(fd, msg, flags)
    }
}

/// bind/connect: through the emulation when the filter rules name the call, else to libc.
///
/// # Safety
/// As libc's `bind`/`connect`.
unsafe fn addr_call(
    nr_: usize,
    real: &crate::real::Sym,
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> c_int {
    let a = args(&[fd as usize, addr as usize, len as usize]);
    if engine::wants_call(nr_, &a) {
        return emulated(nr_, a) as c_int;
    }
    // SAFETY: both real symbols have this signature; forwarding the caller's arguments.
    unsafe {
        let real: unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int =
            transmute(real.get());
        real(fd, addr, len)
    }
}

/// `bind(2)`.
///
/// # Safety
/// As libc's `bind`.
#[no_mangle]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's contract is bind's.
    unsafe { addr_call(nr::BIND, &crate::real::BIND, fd, addr, len) }
}

/// `connect(2)`.
///
/// # Safety
/// As libc's `connect`.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's contract is connect's.
    unsafe { addr_call(nr::CONNECT, &crate::real::CONNECT, fd, addr, len) }
}

/// `sendto(2)`.
///
/// # Safety
/// As libc's `sendto`.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    let a = args(&[
        fd as usize,
        buf as usize,
        len,
        flags as usize,
        addr as usize,
        alen as usize,
    ]);
    let send_n = |buf: usize, n: usize| -> isize {
        let mut a = a;
        a[1] = buf;
        a[2] = n;
        if engine::wants_call(nr::SENDTO, &a) {
            return emulated(nr::SENDTO, a);
        }
        // SAFETY: the real symbol has this signature; forwarding the caller's arguments, or a
        // copy of its buffer (`n` bytes, readable).
        unsafe {
            let real: unsafe extern "C" fn(
                c_int,
                *const c_void,
                size_t,
                c_int,
                *const sockaddr,
                socklen_t,
            ) -> ssize_t = transmute(crate::real::SENDTO.get());
            real(fd, buf as *const c_void, n, flags, addr, alen)
        }
    };
    let send_at = |buf: usize| send_n(buf, len);
    // Whether the destination is the kernel: read once, and only when a branch below asks.
    let dest = core::cell::OnceCell::new();
    let to_the_kernel =
        || *dest.get_or_init(|| addr.is_null() || to_kernel(addr as usize, alen as usize));
    let out = Outgoing::new(fd as usize, buf as usize, len);
    if len >= 16 && setlink_emulated() && to_the_kernel() {
        if let Some(r) = setlink_send("sendto", &out, &send_at) {
            return r as ssize_t;
        }
    }
    if len >= 16 && engine::active() && to_the_kernel() {
        if let Some(r) = route_send(&out, &send_n) {
            return r as ssize_t;
        }
        if let Some(r) = link_send(&out, &send_at) {
            return r as ssize_t;
        }
    }
    let send = || send_at(buf as usize);
    if strict_sockets() && to_the_kernel() {
        if let Some(r) = strict_send(a, &send) {
            return r as ssize_t;
        }
    }
    send() as ssize_t
}

/// Whether a destination of `alen` bytes at `addr` is the kernel (a `sockaddr_nl` with
/// `nl_pid` 0).
fn to_kernel(addr: usize, alen: usize) -> bool {
    let mut sa = [0u8; abi::SOCKADDR_NL_LEN];
    alen == abi::SOCKADDR_NL_LEN
        && read_user(&RawKernel, addr, &mut sa).is_ok()
        && u16::from_ne_bytes([sa[0], sa[1]]) == abi::AF_NETLINK
        && sa[4..8] == [0; 4]
}

/// `sendmsg(2)`: the destination is inside the message header, so every sendmsg with a header is
/// looked at while gvnet is active. A waiting process decides first where the header names a
/// destination of a `sockaddr_nl`'s or `sockaddr_ll`'s length.
///
/// # Safety
/// As libc's `sendmsg`.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if engine::waiting() && !msg.is_null() {
        let mut len = [0u8; 4];
        let at = msg as usize + core::mem::offset_of!(msghdr, msg_namelen);
        if read_user(&RawKernel, at, &mut len).is_ok() {
            let len = u32::from_ne_bytes(len) as usize;
            if len == abi::SOCKADDR_NL_LEN || len == abi::SOCKADDR_LL_LEN {
                engine::settle();
            }
        }
    }
    if strict_sockets() && !msg.is_null() {
        let a = args(&[fd as usize, msg as usize, flags as usize]);
        match strictchk::before_sendmsg(&RawKernel, &TABLE, fd as usize, msg as usize) {
            Send::Kernel => {}
            Send::Answered(out) => return strict_traced(nr::SENDMSG, a, out) as ssize_t,
            Send::Filtered => {
                return strict_sent(nr::SENDMSG, a, emulated(nr::SENDMSG, a)) as ssize_t
            }
        }
    }
    if engine::active() && !msg.is_null() {
        return emulated(
            nr::SENDMSG,
            args(&[fd as usize, msg as usize, flags as usize]),
        );
    }
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    unsafe {
        let real: unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t =
            transmute(crate::real::SENDMSG.get());
        real(fd, msg, flags)
    }
}

/// `setsockopt(2)`.
///
/// # Safety
/// As libc's `setsockopt`.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    let a = args(&[
        fd as usize,
        level as usize,
        name as usize,
        val as usize,
        len as usize,
    ]);
    if let Some(r) = strict_option(nr::SETSOCKOPT, a) {
        return r as c_int;
    }
    if engine::wants_call(nr::SETSOCKOPT, &a) {
        return emulated(nr::SETSOCKOPT, a) as c_int;
    }
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    let r = unsafe {
        let real: unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int =
            transmute(crate::real::SETSOCKOPT.get());
        real(fd, level, name, val, len)
    };
    if r == 0
        && (engine::active() || engine::waiting())
        && level == libc::SOL_SOCKET
        && (name == libc::SO_RCVBUF || name == libc::SO_RCVBUFFORCE)
        && len as usize >= 4
        && !val.is_null()
    {
        // SAFETY: the kernel just read an int from `val` successfully.
        let v = unsafe { *(val as *const c_int) };
        // iproute2 sizes its socket before binding it: a waiting process decides here.
        if engine::waiting() && is_route_socket(&RawKernel, fd as usize) {
            engine::settle();
        }
        if engine::active() {
            note_rcvbuf(&RawKernel, &TABLE, fd as usize, v);
        }
    }
    r
}

/// `getsockopt(2)`.
///
/// # Safety
/// As libc's `getsockopt`.
#[no_mangle]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    let a = args(&[
        fd as usize,
        level as usize,
        name as usize,
        val as usize,
        len as usize,
    ]);
    if let Some(r) = strict_option(nr::GETSOCKOPT, a) {
        return r as c_int;
    }
    if engine::wants_call(nr::GETSOCKOPT, &a) {
        return emulated(nr::GETSOCKOPT, a) as c_int;
    }
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    unsafe {
        let real: unsafe extern "C" fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int =
            transmute(crate::real::GETSOCKOPT.get());
        real(fd, level, name, val, len)
    }
}

/// getsockname/getpeername: through the emulation once some socket holds emulated state (only
/// then can `nl_groups` differ from the kernel's answer), else straight to libc.
///
/// # Safety
/// As libc's `getsockname`.
unsafe fn socket_name(
    nr_: usize,
    real: &crate::real::Sym,
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    if engine::active() && !TABLE.is_empty() {
        return emulated(nr_, args(&[fd as usize, addr as usize, len as usize])) as c_int;
    }
    // SAFETY: both real symbols have this signature; forwarding the caller's arguments.
    unsafe {
        let real: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int =
            transmute(real.get());
        real(fd, addr, len)
    }
}

/// `getsockname(2)`: reports the groups of an emulated membership in `nl_groups`.
///
/// # Safety
/// As libc's `getsockname`.
#[no_mangle]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's contract is getsockname's.
    unsafe { socket_name(nr::GETSOCKNAME, &crate::real::GETSOCKNAME, fd, addr, len) }
}

/// `getpeername(2)`: reports the destination group a `connect` with groups set.
///
/// # Safety
/// As libc's `getpeername`.
#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's contract is getpeername's.
    unsafe { socket_name(nr::GETPEERNAME, &crate::real::GETPEERNAME, fd, addr, len) }
}

/// `sigaction(2)`: while gvnet's SIGSYS handler is installed, the program's SIGSYS disposition is
/// recorded and reported back as installed, and gvnet's stays in the kernel; SIGSYS that gvnet did
/// not cause is handed to the recorded disposition. Every other signal goes to libc.
///
/// # Safety
/// As libc's `sigaction`.
#[no_mangle]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    if sig == libc::SIGSYS && engine::guarding_sigsys() {
        let (h, flags, mask) = PROGRAM.get();
        if !old.is_null() {
            // SAFETY: `old` is the caller's writable sigaction; sigset_t holds at least 64 bits.
            unsafe {
                core::ptr::write_bytes(old, 0, 1);
                (*old).sa_sigaction = h;
                (*old).sa_flags = flags as c_int;
                *(&mut (*old).sa_mask as *mut libc::sigset_t as *mut u64) = mask;
            }
        }
        if !act.is_null() {
            // SAFETY: `act` is the caller's readable sigaction.
            let (h, flags, mask) = unsafe {
                (
                    (*act).sa_sigaction,
                    (*act).sa_flags,
                    *(&(*act).sa_mask as *const libc::sigset_t as *const u64),
                )
            };
            PROGRAM.set(h, flags as u32 as u64, mask);
            log::debug!("sigaction(SIGSYS, {h:#x}, flags {flags:#x}) recorded for the program; gvnet's handler stays installed");
        }
        return 0;
    }
    // SAFETY: the real symbol has this signature; forwarding the caller's arguments.
    unsafe {
        let real: unsafe extern "C" fn(
            c_int,
            *const libc::sigaction,
            *mut libc::sigaction,
        ) -> c_int = transmute(crate::real::SIGACTION.get());
        real(sig, act, old)
    }
}
