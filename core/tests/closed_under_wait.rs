//! A receive waiting for events on a socket whose fd another thread closes, and whose number a
//! new subscribed socket then takes: the waiting receive must never touch the new socket.
//!
//! This is what vishvananda/netlink does on every `Close` of a subscription (moby's
//! `waitForIfUpped` ends one per container start): it closes the fd under the goroutine
//! blocked in `recvfrom`, and the next subscription often gets the same number. On Linux the
//! blocked call keeps the old socket and never sees the new one. gvnet's wait polls the fd
//! number, and polls it again after every signal (Go preempts threads with SIGURG), so without
//! a check it woke on the new socket's doorbell and took it: the new socket's own reader then
//! slept with events queued, its doorbell gone and marked outstanding.
//!
//! Process-wide state: a SIGUSR1 handler and a thread that may block for good, so the check
//! runs in a child process (this binary run again with `GVNET_CLOSED_UNDER_WAIT_CHILD=1`).
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

mod common;

use gvnet_core::events::BELL;
use gvnet_core::kernel::{inode, RawKernel};
use gvnet_core::membership::{Slot, Table};
use gvnet_core::recv::{ensure_bell, recv, RecvArgs};
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

const CHILD: &str = "GVNET_CLOSED_UNDER_WAIT_CHILD";
const NOT_RETURNED: isize = isize::MIN;

extern "C" fn on_usr1(_: libc::c_int) {}

fn route_socket() -> usize {
    // SAFETY: plain libc call; the socket belongs to this test.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    fd as usize
}

/// Records `fd` as subscribed to group 1 in `t`, with a ring of its own.
fn subscribe(t: &'static Table, fd: usize) -> &'static Slot {
    let s = t.claim(fd as i32, inode(&RawKernel, fd).unwrap()).unwrap();
    s.join(1);
    let mem: &'static mut [u64] = Box::leak(vec![0u64; 8192].into_boxed_slice());
    // SAFETY: `mem` is leaked, so it lives as long as the table, and only this ring uses it.
    unsafe { s.ev.install_ring(mem.as_mut_ptr() as *mut u8, 65536) };
    s.ev.subscribe(7, 1 << 20, 0);
    s
}

fn readable(fd: usize) -> bool {
    let mut p = libc::pollfd {
        fd: fd as i32,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, no wait.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

/// Exit status: 0 fine, else which check failed.
fn child() -> i32 {
    let k = RawKernel;
    let t: &'static Table = Box::leak(Box::new(Table::new()));
    // SAFETY: installs a handler that does nothing, for SIGUSR1 only, in this child process.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
    let fd = route_socket();
    subscribe(t, fd);
    let result: &'static AtomicIsize = Box::leak(Box::new(AtomicIsize::new(NOT_RETURNED)));
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let args = RecvArgs::From {
            buf: buf.as_mut_ptr() as usize,
            len: buf.len(),
            addr: 0,
            addrlen: 0,
        };
        // A blocking receive: nothing is queued, so it waits in poll.
        let r = recv(&RawKernel, t, fd, args, 0).map_or(0, |r| r.0);
        result.store(r, Ordering::SeqCst);
    });
    std::thread::sleep(Duration::from_millis(200));
    if result.load(Ordering::SeqCst) != NOT_RETURNED {
        return 10;
    }
    // The program closes the fd and a new subscribed socket takes its number (dup2 makes the
    // reuse certain); an event is queued for the new socket and its doorbell rung.
    let fresh = route_socket();
    // SAFETY: dup2 onto this test's own fd, then the spare number is closed.
    unsafe {
        libc::dup2(fresh as i32, fd as i32);
        libc::close(fresh as i32);
    }
    let s2 = subscribe(t, fd);
    let mut msg = [0u8; 40];
    msg[0..4].copy_from_slice(&40u32.to_ne_bytes());
    if !s2.ev.push(1, &msg[..16], &msg[16..]) {
        return 11;
    }
    ensure_bell(&k, &s2.ev, fd);
    if !s2.ev.has(BELL) || !readable(fd) {
        return 12;
    }
    // A signal ends the old reader's poll, as Go's preemption signal does.
    // SAFETY: the thread is alive (it has not returned), so its pthread_t is valid.
    unsafe { libc::pthread_kill(reader.as_pthread_t(), libc::SIGUSR1) };
    std::thread::sleep(Duration::from_millis(300));
    if !readable(fd) {
        // The old reader took the new socket's doorbell.
        return 1;
    }
    match result.load(Ordering::SeqCst) {
        r if r == -(libc::EBADF as isize) => {}
        NOT_RETURNED => return 2,
        _ => return 3,
    }
    // The new socket's reader gets its event.
    let mut buf = [0u8; 256];
    let args = RecvArgs::From {
        buf: buf.as_mut_ptr() as usize,
        len: buf.len(),
        addr: 0,
        addrlen: 0,
    };
    match recv(&k, t, fd, args, libc::MSG_DONTWAIT as usize) {
        Some((40, _)) => 0,
        _ => 4,
    }
}

#[test]
fn a_receive_waiting_on_a_closed_fd_leaves_the_next_socket_alone() {
    if std::env::var_os(CHILD).is_some() {
        std::process::exit(child());
    }
    let out = common::run_in_child(
        "a_receive_waiting_on_a_closed_fd_leaves_the_next_socket_alone",
        CHILD,
    );
    let what = match out.status.code() {
        Some(0) => return,
        Some(1) => "the receive waiting on the closed fd took the new socket's doorbell",
        Some(2) => "the receive waiting on the closed fd did not end",
        Some(3) => "the receive waiting on the closed fd ended with another result than EBADF",
        Some(4) => "the new socket's reader did not get its event",
        Some(10) => "the first receive did not wait",
        Some(11) | Some(12) => "setting up the new socket's event and doorbell failed",
        _ => "the child failed",
    };
    panic!(
        "{what} ({})\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
