//! The vocabulary of interception: an intercepted call ([`Call`]), what gvnet did with it
//! ([`Action`]) and what it returns ([`Outcome`]). The emulation ([`crate::emulate`],
//! [`crate::sysctl`]) makes them, the counters and trace lines read them.

use crate::sockaddr::SockaddrNl;

/// An intercepted system call: number and the six argument registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// Syscall number.
    pub nr: usize,
    /// Arguments in register order (rdi, rsi, rdx, r10, r8, r9).
    pub args: [usize; 6],
}

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Handed to the kernel unchanged.
    PassedThrough,
    /// Handed to the kernel unchanged; it was a change request (RTM_NEWLINK, RTM_DELADDR, ...),
    /// so the event monitors were kicked.
    Kicked,
    /// `bind` issued without groups; groups 1..=32 recorded as these.
    BoundWithoutGroups(u32),
    /// `bind` without groups on a socket that had some: recorded groups 1..=32 cleared.
    ClearedGroups,
    /// `connect` issued without groups.
    ConnectedWithoutGroups(u32),
    /// Sent to `nl_pid` alone; the copy to these groups was not delivered.
    SentWithoutGroups(u32),
    /// AF_PACKET send refused by the kernel with EOPNOTSUPP; reported as sent.
    PacketDropped,
    /// NETLINK_ADD_MEMBERSHIP emulated for this group (or refused with Linux's errno).
    Joined(u32),
    /// NETLINK_DROP_MEMBERSHIP emulated for this group.
    Left(u32),
    /// NETLINK_LIST_MEMBERSHIPS answered with these groups (1..=64).
    Listed(u64),
    /// getsockname's or getpeername's `nl_groups` filled in with these groups.
    ReportedGroups(u32),
    /// The emulation could not record the membership (table full).
    NotRemembered(u32),
    /// `NETLINK_NO_ENOBUFS` recorded (on or off).
    NoEnobufs(bool),
    /// A queued event of this group was received.
    Event(u32),
    /// The receive reported the overrun (ENOBUFS).
    Overrun,
    /// The receive waited for an event or the kernel, then timed out, was interrupted, or
    /// found its socket's fd closed (EBADF).
    Waited,
    /// `openat` of a missing `/proc/sys/net/ipv6/conf/IFACE/disable_ipv6` answered with a
    /// file holding `0` ([`crate::sysctl`]).
    Ipv6SysctlAnswered,
    /// `NETLINK_GET_STRICT_CHK` (12) or `NETLINK_EXT_ACK` (11) set or read: the option, and
    /// whether it is on ([`crate::strictchk`]).
    StrictOption(i32, bool),
    /// A dump request on a strict socket went to the kernel; its replies are filtered.
    StrictDump,
    /// A dump request on a strict socket refused with this errno: not sent, reported as sent,
    /// Linux's answer injected for the next receive.
    StrictRefused(i32),
    /// A datagram of a strict dump filtered: replies kept, of replies seen.
    DumpFiltered(u32, u32),
    /// The injected answer of a refused strict dump was received.
    StrictAnswered,
}

/// The result register and what happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What the call returns: a count or `-errno`.
    pub ret: isize,
    /// What gvnet did.
    pub action: Action,
    /// The netlink address involved, when one was decoded.
    pub addr: Option<SockaddrNl>,
}

impl Outcome {
    /// `ret` and `action`, no address.
    pub const fn new(ret: isize, action: Action) -> Self {
        Outcome {
            ret,
            action,
            addr: None,
        }
    }

    /// The same with the address involved.
    pub const fn with_addr(self, a: SockaddrNl) -> Self {
        Outcome {
            addr: Some(a),
            ..self
        }
    }
}
