//! Bad input to every intercepted call: the emulation answers what the kernel answers.
//!
//! Property test against the host kernel (Linux, which accepts netlink multicast, so its answers
//! are the reference). Each case is one call - bind, connect, setsockopt, getsockopt,
//! getsockname, getpeername or sendto - with generated arguments: fd kinds (NETLINK_ROUTE
//! socket, NETLINK_GENERIC socket, UDP socket, closed fd, -1), address pointers (valid, NULL,
//! unmapped, straddling into an unmapped page, read-only for outputs), lengths (0..64, odd,
//! huge), families, port ids and groups, optionally after a subscription made first.
//!
//! The case runs twice on fresh sockets: once as the raw system call (the kernel's answer),
//! once through `gvnet_core::emulate::handle` with the real kernel underneath and a fresh
//! membership table (gvnet's answer; the kernel then never sees groups). The return values
//! must be equal, and so must everything written to the caller's memory (port ids aside,
//! which the kernel assigns differently to each socket).
//!
//! Process-wide state: none is changed. The event monitor stays disabled
//! (`state::ENABLED` is false unless the library's constructor sets it), the membership
//! table is local to each case, and every socket is closed at the end of its run.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use gvnet_core::abi::{self, nr};
use gvnet_core::call::Call;
use gvnet_core::emulate::handle;
use gvnet_core::kernel::{Kernel, RawKernel};
use gvnet_core::membership::Table;
use proptest::prelude::*;

const PAGE: usize = 4096;

#[derive(Clone, Copy, Debug)]
enum Fd {
    Route,
    Generic,
    Udp,
    Closed,
    MinusOne,
}

#[derive(Clone, Copy, Debug)]
enum Ptr {
    Valid,
    Null,
    Unmapped,
    /// The last `n` bytes of a mapped page, followed by an unmapped one.
    Straddle(usize),
    /// Mapped without write permission.
    ReadOnly,
}

#[derive(Clone, Debug)]
enum Op {
    Bind {
        ptr: Ptr,
        len: usize,
    },
    Connect {
        ptr: Ptr,
        len: usize,
    },
    Sendto {
        ptr: Ptr,
        len: usize,
        payload: usize,
    },
    Setsockopt {
        level: i32,
        opt: i32,
        ptr: Ptr,
        len: usize,
    },
    ListMemberships {
        ptr: Ptr,
        lenp: Ptr,
        room: u32,
    },
    Name {
        peer: bool,
        ptr: Ptr,
        lenp: Ptr,
        room: u32,
    },
}

#[derive(Clone, Debug)]
struct Case {
    fd: Fd,
    /// Subscribe first (bind with these groups and join group 33), as a program would.
    prior: Option<u32>,
    /// The address or option value the pointer refers to (when valid), 64 bytes.
    content: Vec<u8>,
    op: Op,
}

/// Three pages: [0] rw, [1] read-only, [2] unmapped.
struct Arena {
    base: usize,
}

impl Arena {
    fn new() -> Arena {
        // SAFETY: anonymous private mapping, no pointers involved.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                3 * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        let base = base as usize;
        // SAFETY: the pages belong to this mapping.
        unsafe {
            assert_eq!(libc::munmap((base + 2 * PAGE) as *mut _, PAGE), 0);
        }
        Arena { base }
    }

    /// Fills the writable page with `content` at the places pointers may point to, makes page 1
    /// read-only with the same content, and returns the address for `p` (slot `slot` keeps two
    /// pointers of one call apart).
    fn prepare(&self, content: &[u8]) {
        // SAFETY: page 0 and 1 are ours; page 1 is made writable for the copy first.
        unsafe {
            libc::mprotect(
                (self.base + PAGE) as *mut _,
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
            );
            core::ptr::write_bytes(self.base as *mut u8, 0xa5, 2 * PAGE);
            for off in [0, 512, PAGE - 64, PAGE, PAGE + 512] {
                core::ptr::copy_nonoverlapping(content.as_ptr(), (self.base + off) as *mut u8, 64);
            }
            libc::mprotect((self.base + PAGE) as *mut _, PAGE, libc::PROT_READ);
        }
    }

    fn addr(&self, p: Ptr, slot: usize) -> usize {
        match p {
            Ptr::Valid => self.base + slot * 512,
            Ptr::Null => 0,
            Ptr::Unmapped => self.base + 2 * PAGE + 128,
            // Page 1 ends the rw+ro pair; page 2 is unmapped. Use the ro page's tail.
            Ptr::Straddle(n) => self.base + 2 * PAGE - n,
            Ptr::ReadOnly => self.base + PAGE + slot * 512,
        }
    }

    /// What the call left in the caller-visible memory (both writable and read-only pages).
    fn snapshot(&self) -> Vec<u8> {
        // SAFETY: pages 0 and 1 are mapped and readable.
        unsafe { core::slice::from_raw_parts(self.base as *const u8, 2 * PAGE).to_vec() }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: unmapping what `new` mapped.
        unsafe { libc::munmap(self.base as *mut _, 2 * PAGE) };
    }
}

fn raw(n: usize, a: [usize; 6]) -> isize {
    // SAFETY: test-made arguments; bad pointers are the point, and the kernel checks them.
    unsafe { RawKernel.syscall(n, a) }
}

fn open(fd: Fd) -> (usize, Option<usize>) {
    let sock = |dom: i32, ty: i32, proto: i32| {
        // SAFETY: plain socket(2).
        let s = unsafe { libc::socket(dom, ty | libc::SOCK_CLOEXEC, proto) };
        assert!(s >= 0, "socket: {}", std::io::Error::last_os_error());
        s as usize
    };
    match fd {
        Fd::Route => {
            let s = sock(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE);
            (s, Some(s))
        }
        Fd::Generic => {
            let s = sock(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_GENERIC);
            (s, Some(s))
        }
        Fd::Udp => {
            let s = sock(libc::AF_INET, libc::SOCK_DGRAM, 0);
            (s, Some(s))
        }
        Fd::Closed => {
            let s = sock(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE);
            // SAFETY: closing the socket just opened; the number stays unused while the case
            // runs (the test is single-threaded per case and opens nothing in between).
            unsafe { libc::close(s as i32) };
            (s, None)
        }
        Fd::MinusOne => (usize::MAX, None),
    }
}

/// Runs the case with `issue` (raw kernel or gvnet); returns the result and the memory after.
fn run_once(case: &Case, issue: &mut dyn FnMut(Call) -> isize) -> (isize, Vec<u8>) {
    let arena = Arena::new();
    arena.prepare(&case.content);
    let (fd, open_fd) = open(case.fd);
    if let (Some(groups), Some(s)) = (case.prior, open_fd) {
        let mut sa = [0u8; 12];
        sa[0..2].copy_from_slice(&abi::AF_NETLINK.to_ne_bytes());
        sa[8..12].copy_from_slice(&groups.to_ne_bytes());
        issue(Call {
            nr: nr::BIND,
            args: [s, sa.as_ptr() as usize, 12, 0, 0, 0],
        });
        let g: u32 = 33;
        issue(Call {
            nr: nr::SETSOCKOPT,
            args: [
                s,
                abi::SOL_NETLINK as usize,
                abi::NETLINK_ADD_MEMBERSHIP as usize,
                &g as *const u32 as usize,
                4,
                0,
            ],
        });
    }
    let payload = [0u8; 16];
    let put_u32 = |at: usize, v: u32| {
        if at >= arena.base && at + 4 <= arena.base + PAGE {
            // SAFETY: inside the writable page.
            unsafe { (at as *mut u32).write_unaligned(v) };
        }
    };
    let call = match &case.op {
        Op::Bind { ptr, len } => Call {
            nr: nr::BIND,
            args: [fd, arena.addr(*ptr, 0), *len, 0, 0, 0],
        },
        Op::Connect { ptr, len } => Call {
            nr: nr::CONNECT,
            args: [fd, arena.addr(*ptr, 0), *len, 0, 0, 0],
        },
        Op::Sendto {
            ptr,
            len,
            payload: n,
        } => Call {
            nr: nr::SENDTO,
            args: [
                fd,
                payload.as_ptr() as usize,
                *n,
                libc::MSG_DONTWAIT as usize,
                arena.addr(*ptr, 0),
                *len,
            ],
        },
        Op::Setsockopt {
            level,
            opt,
            ptr,
            len,
        } => Call {
            nr: nr::SETSOCKOPT,
            args: [
                fd,
                *level as usize,
                *opt as usize,
                arena.addr(*ptr, 0),
                *len,
                0,
            ],
        },
        Op::ListMemberships { ptr, lenp, room } => {
            let l = arena.addr(*lenp, 1);
            put_u32(l, *room);
            Call {
                nr: nr::GETSOCKOPT,
                args: [
                    fd,
                    abi::SOL_NETLINK as usize,
                    abi::NETLINK_LIST_MEMBERSHIPS as usize,
                    arena.addr(*ptr, 0),
                    l,
                    0,
                ],
            }
        }
        Op::Name {
            peer,
            ptr,
            lenp,
            room,
        } => {
            let l = arena.addr(*lenp, 1);
            put_u32(l, *room);
            Call {
                nr: if *peer {
                    nr::GETPEERNAME
                } else {
                    nr::GETSOCKNAME
                },
                args: [fd, arena.addr(*ptr, 0), l, 0, 0, 0],
            }
        }
    };
    let r = issue(call);
    let mem = arena.snapshot();
    if let Some(s) = open_fd {
        // SAFETY: closing the case's own socket.
        unsafe { libc::close(s as i32) };
    }
    // Port ids differ between sockets: blank nl_pid wherever a sockaddr_nl was written.
    let mut mem = mem;
    if matches!(case.op, Op::Name { .. }) && r == 0 {
        let at = 0; // slot 0 of the writable page
        if mem.len() >= 8 && u16::from_ne_bytes([mem[at], mem[at + 1]]) == abi::AF_NETLINK {
            mem[at + 4..at + 8].fill(0);
        }
    }
    (r, mem)
}

fn ptr() -> impl Strategy<Value = Ptr> {
    prop_oneof![
        6 => Just(Ptr::Valid),
        1 => Just(Ptr::Null),
        1 => Just(Ptr::Unmapped),
        1 => (1usize..16).prop_map(Ptr::Straddle),
        1 => Just(Ptr::ReadOnly),
    ]
}

fn len() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..64,
        1 => Just(12usize),
        1 => Just(128usize),
        1 => Just(129usize),
        1 => Just(4096usize),
        1 => Just(usize::MAX),
        1 => Just(0x8000_0000usize),
    ]
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            4 => Just(abi::AF_NETLINK),
            1 => Just(libc::AF_INET as u16),
            1 => Just(0u16),
            1 => Just(abi::AF_PACKET),
            1 => any::<u16>(),
        ],
        prop_oneof![3 => Just(0u32), 1 => any::<u32>()],
        prop_oneof![
            2 => Just(0u32),
            3 => Just(1u32),
            1 => Just(0x11u32),
            1 => Just(u32::MAX),
            1 => any::<u32>(),
            1 => 0u32..45,
        ],
        proptest::collection::vec(any::<u8>(), 52),
    )
        .prop_map(|(family, pid, groups, rest)| {
            let mut v = Vec::with_capacity(64);
            v.extend_from_slice(&family.to_ne_bytes());
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&pid.to_ne_bytes());
            v.extend_from_slice(&groups.to_ne_bytes());
            v.extend_from_slice(&rest);
            v
        })
}

fn op() -> impl Strategy<Value = Op> {
    let level = prop_oneof![
        4 => Just(abi::SOL_NETLINK),
        1 => Just(abi::SOL_SOCKET),
        1 => any::<i32>(),
    ];
    let opt = prop_oneof![
        3 => Just(abi::NETLINK_ADD_MEMBERSHIP),
        2 => Just(abi::NETLINK_DROP_MEMBERSHIP),
        1 => Just(abi::NETLINK_LIST_MEMBERSHIPS),
        1 => 0i32..16,
    ];
    let room = prop_oneof![
        1 => Just(0u32),
        3 => 0u32..32,
        1 => Just(u32::MAX),
        1 => Just(0x8000_0000u32),
    ];
    prop_oneof![
        (ptr(), len()).prop_map(|(ptr, len)| Op::Bind { ptr, len }),
        (ptr(), len()).prop_map(|(ptr, len)| Op::Connect { ptr, len }),
        (ptr(), len(), 0usize..17).prop_map(|(ptr, len, payload)| Op::Sendto { ptr, len, payload }),
        (level, opt, ptr(), len()).prop_map(|(level, opt, ptr, len)| Op::Setsockopt {
            level,
            opt,
            ptr,
            len
        }),
        (ptr(), ptr(), room.clone()).prop_map(|(ptr, lenp, room)| Op::ListMemberships {
            ptr,
            lenp,
            room
        }),
        (any::<bool>(), ptr(), ptr(), room).prop_map(|(peer, ptr, lenp, room)| Op::Name {
            peer,
            ptr,
            lenp,
            room
        }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![
            5 => Just(Fd::Route),
            1 => Just(Fd::Generic),
            1 => Just(Fd::Udp),
            1 => Just(Fd::Closed),
            1 => Just(Fd::MinusOne),
        ],
        prop_oneof![2 => Just(None), 1 => Just(Some(1u32)), 1 => Just(Some(0x11u32))],
        content(),
        op(),
    )
        .prop_map(|(fd, prior, content, op)| Case {
            fd,
            prior,
            content,
            op,
        })
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let kernel = run_once(case, &mut |c| raw(c.nr, c.args));
    let table = Box::new(Table::new());
    let gvnet = run_once(case, &mut |c| handle(&RawKernel, &table, &c).ret);
    prop_assert_eq!(
        kernel.0,
        gvnet.0,
        "result differs (kernel vs gvnet) for {:?}",
        case
    );
    if kernel.1 != gvnet.1 {
        let first = kernel.1.iter().zip(&gvnet.1).position(|(a, b)| a != b);
        return Err(TestCaseError::fail(format!(
            "memory after the call differs at offset {first:?} for {case:?}"
        )));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("GVNET_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000),
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn emulation_answers_bad_input_as_the_kernel_does(c in case()) {
        check(&c)?;
    }
}

/// An address of 16 family, pid 0 and these groups, then zeros.
fn nl_content(groups: u32) -> Vec<u8> {
    let mut v = vec![0u8; 64];
    v[0..2].copy_from_slice(&abi::AF_NETLINK.to_ne_bytes());
    v[8..12].copy_from_slice(&groups.to_ne_bytes());
    v
}

// The cases the property test found (each was a difference from the kernel, fixed in
// emulate.rs); kept as plain tests so they run every time.

/// connect/bind/sendto with groups and an address length beyond sizeof(sockaddr_storage):
/// the kernel's EINVAL, not an emulated success with 12 bytes.
#[test]
fn regression_address_longer_than_sockaddr_storage() {
    for op in [
        Op::Connect {
            ptr: Ptr::Valid,
            len: 129,
        },
        Op::Bind {
            ptr: Ptr::Valid,
            len: 129,
        },
        Op::Sendto {
            ptr: Ptr::Valid,
            len: 4096,
            payload: 16,
        },
        Op::Bind {
            ptr: Ptr::Valid,
            len: usize::MAX,
        },
    ] {
        let c = Case {
            fd: Fd::Route,
            prior: None,
            content: nl_content(1),
            op,
        };
        check(&c).unwrap();
    }
}

/// setsockopt(ADD_MEMBERSHIP) with a negative optlen (as int): the kernel's EINVAL.
#[test]
fn regression_negative_optlen() {
    let c = Case {
        fd: Fd::Route,
        prior: None,
        content: nl_content(0),
        op: Op::Setsockopt {
            level: abi::SOL_NETLINK,
            opt: abi::NETLINK_ADD_MEMBERSHIP,
            ptr: Ptr::ReadOnly,
            len: usize::MAX,
        },
    };
    check(&c).unwrap();
}

/// getsockname with room for 9..=11 bytes on a subscribed socket: the kernel copies the part
/// of nl_groups that fits.
#[test]
fn regression_getsockname_room_cuts_nl_groups() {
    for room in 9..=11 {
        let c = Case {
            fd: Fd::Route,
            prior: Some(0x0102_0304),
            content: nl_content(0),
            op: Op::Name {
                peer: false,
                ptr: Ptr::Valid,
                lenp: Ptr::Valid,
                room,
            },
        };
        check(&c).unwrap();
    }
}
