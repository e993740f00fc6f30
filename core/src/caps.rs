//! What the kernel in front of the library does natively, and so what gvnet must do.
//!
//! gVisor releases differ exactly where gvnet works (docs/gvisor-releases.md): 20240729 refuses
//! every netlink group, a send to a group and AF_PACKET writes; release-20251201.0 and later
//! accept RTNLGRP_LINK and a send to a group but refuse every other group (EOPNOTSUPP) and a
//! `connect` with groups (EACCES), and refuse AF_PACKET writes unless the operator passes
//! `--allow-packet-socket-write`; none has IPv6's per-interface sysctls. So the constructor asks
//! the kernel about each capability separately ([`Native`]) and gvnet emulates exactly what is
//! refused; [`Traps`] is what follows for the seccomp filter and the libc hooks.
//!
//! This module decides; the process-wide answer lives in `state::NATIVE` and `state::TRAPS`,
//! written once by the constructor before any hook or trap can run.

use crate::abi;

/// The rtnetlink groups gvnet can deliver events for (`rtnl::Kind::group`): LINK, NEIGH,
/// IPV4_IFADDR, IPV4_ROUTE, IPV6_IFADDR, IPV6_ROUTE. These are the groups the constructor
/// probes one by one.
pub const EMULABLE_GROUPS: [u32; 6] = [
    abi::RTNLGRP_LINK,
    abi::RTNLGRP_NEIGH,
    abi::RTNLGRP_IPV4_IFADDR,
    abi::RTNLGRP_IPV4_ROUTE,
    abi::RTNLGRP_IPV6_IFADDR,
    abi::RTNLGRP_IPV6_ROUTE,
];

/// Bitmap (bit `g - 1`) of [`EMULABLE_GROUPS`].
pub const EMULABLE_MASK: u64 = {
    let mut m = 0u64;
    let mut i = 0;
    while i < EMULABLE_GROUPS.len() {
        m |= 1u64 << (EMULABLE_GROUPS[i] - 1);
        i += 1;
    }
    m
};

/// Every group a NETLINK_ROUTE socket can join (1..=`RTNL_NGROUPS`).
const ALL_GROUPS: u64 = (1u64 << abi::RTNL_NGROUPS) - 1;

/// What the kernel accepts natively: a bitmap of groups (bit `g - 1`: bind and
/// NETLINK_ADD_MEMBERSHIP of group `g` both accepted) and four flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Native(u64);

impl Native {
    /// Nothing native: gvnet emulates everything it can (`GVNET_MODE=force`, and the value
    /// before the constructor decides).
    pub const NONE: Native = Native(0);
    /// `connect` with `nl_groups` (a default destination group).
    pub const CONNECT_GROUP: u64 = 1 << 48;
    /// `sendto`/`sendmsg` to an address with `nl_groups`.
    pub const SEND_GROUP: u64 = 1 << 49;
    /// A write on an AF_PACKET socket.
    pub const PACKET_WRITE: u64 = 1 << 50;
    /// `/proc/sys/net/ipv6/conf/IFACE/disable_ipv6` exists (or IPv6 itself is off).
    pub const IPV6_SYSCTL: u64 = 1 << 51;
    /// `setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK)` is accepted on a NETLINK_ROUTE socket
    /// (gVisor: ENOPROTOOPT), so the kernel checks and filters dump requests itself.
    pub const STRICT_CHK: u64 = 1 << 52;
    /// `RTM_SETLINK` with `NLM_F_CREATE` is accepted for an existing device, as Linux's
    /// `rtnl_setlink` accepts it (gVisor: EINVAL; [`crate::setlink`]).
    pub const SETLINK: u64 = 1 << 53;
    /// `/proc/sys/net/ipv4/conf` exists (gVisor has none; [`crate::sysctl::ipv4_conf_open`]).
    pub const IPV4_CONF: u64 = 1 << 54;
    /// Everything, as on Linux.
    pub const ALL: Native = Native(
        ALL_GROUPS
            | Self::CONNECT_GROUP
            | Self::SEND_GROUP
            | Self::PACKET_WRITE
            | Self::IPV6_SYSCTL
            | Self::STRICT_CHK
            | Self::SETLINK
            | Self::IPV4_CONF,
    );

    /// From the probes' answers. `accepted` has bit `g - 1` for each probed group the kernel
    /// accepted by bind and by NETLINK_ADD_MEMBERSHIP. Groups are native all together or not
    /// at all: a kernel that accepts every group gvnet probes (Linux) has them all, and one that
    /// refuses any of them has none. gVisor from release-20251118.0 accepts RTNLGRP_LINK alone,
    /// but its link events are a small part of Linux's (none on creation of a veth or bridge,
    /// none on up/down; docs/gvisor-releases.md): a subscriber gets complete events only from
    /// gvnet's monitor, and one socket never gets both kinds.
    pub const fn from_probes(accepted: u64, flags: u64) -> Native {
        let groups = if accepted & EMULABLE_MASK == EMULABLE_MASK {
            ALL_GROUPS
        } else {
            0
        };
        let flags = flags
            & (Self::CONNECT_GROUP
                | Self::SEND_GROUP
                | Self::PACKET_WRITE
                | Self::IPV6_SYSCTL
                | Self::STRICT_CHK
                | Self::SETLINK
                | Self::IPV4_CONF);
        Native(groups | flags)
    }

    /// The raw bits (for the counters).
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// From raw bits (as [`Native::bits`] gave them).
    pub const fn from_bits(bits: u64) -> Native {
        Native(bits)
    }

    /// The groups the kernel accepts (bit `g - 1`).
    pub const fn groups(self) -> u64 {
        self.0 & ALL_GROUPS
    }

    /// Whether the kernel accepts every group of `mask` (bit `g - 1`); an empty mask is.
    pub const fn accepts_all(self, mask: u64) -> bool {
        mask & !self.groups() == 0
    }

    /// Whether every group is the kernel's (Linux), so no membership is emulated.
    pub const fn groups_native(self) -> bool {
        self.groups() == ALL_GROUPS
    }

    /// Whether the kernel accepts group `g` (1..=64; beyond `RTNL_NGROUPS` never).
    pub const fn accepts(self, g: u32) -> bool {
        g >= 1 && g <= 64 && self.accepts_all(1u64 << (g - 1))
    }

    /// Whether this flag ([`Native::SEND_GROUP`], ...) is set.
    pub const fn has(self, flag: u64) -> bool {
        self.0 & flag == flag
    }

    /// Whether some group gvnet can emulate, or a connect to a group, is refused: then sockets
    /// may be emulated, and every call that concerns a socket's memberships must be seen.
    pub const fn membership_emulated(self) -> bool {
        !self.accepts_all(EMULABLE_MASK) || !self.has(Self::CONNECT_GROUP)
    }

    /// Which calls gvnet must see, given what is native and whether events are delivered.
    pub const fn traps(self, events: bool) -> Traps {
        let membership = self.membership_emulated();
        let mut t = 0;
        if membership {
            t |= Traps::MEMBERSHIP;
        }
        // A send to a netlink address: emulated when a send to a group is refused; seen also
        // when sockets may be emulated and events are on, because a change request sent to the
        // kernel wakes the event monitors (monitor::sent_to_kernel).
        if !self.has(Self::SEND_GROUP) || (membership && events) {
            t |= Traps::SEND_NL;
        }
        if !self.has(Self::PACKET_WRITE) {
            t |= Traps::SEND_LL;
        }
        if !self.has(Self::IPV6_SYSCTL) {
            t |= Traps::OPENAT;
        }
        if !self.has(Self::STRICT_CHK) {
            t |= Traps::STRICT;
        }
        if !self.has(Self::SETLINK) {
            t |= Traps::SETLINK;
        }
        if !self.has(Self::IPV4_CONF) {
            t |= Traps::IPV4_CONF;
        }
        Traps(t)
    }
}

/// The calls gvnet must see: the seccomp filter names these and no others, and the libc hooks
/// hand every other call straight to libc ([`crate::filter::wants`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traps(u8);

impl Traps {
    /// bind/connect with a `sockaddr_nl`, set/getsockopt at SOL_NETLINK, getsockname,
    /// getpeername, and the receives of subscribed sockets.
    pub const MEMBERSHIP: u8 = 1;
    /// sendto with a `sockaddr_nl` (addrlen 12).
    pub const SEND_NL: u8 = 2;
    /// sendto with a `sockaddr_ll` (addrlen 20).
    pub const SEND_LL: u8 = 4;
    /// openat `O_RDONLY | O_CLOEXEC` (the IPv6 sysctl, [`crate::sysctl`]).
    pub const OPENAT: u8 = 8;
    /// `NETLINK_GET_STRICT_CHK` and the dumps of strict sockets ([`crate::strictchk`]): libc
    /// hooks only. The seccomp filter names nothing for it and [`crate::filter::wants`] wants
    /// nothing more for it: the hooks of setsockopt, getsockopt, the sends and the receives
    /// take those calls in themselves. Go's raw syscalls keep the kernel's answer (ENOPROTOOPT).
    pub const STRICT: u8 = 16;
    /// `RTM_SETLINK` sent without the flags gVisor refuses on it ([`crate::setlink`]): libc
    /// hooks only (`send`, `sendto` to the kernel), like [`Traps::STRICT`]. Go's raw syscalls
    /// keep the kernel's answer (dockerd sends no RTM_SETLINK).
    pub const SETLINK: u8 = 32;
    /// An open of a missing `/proc/sys/net/ipv4/conf/IFACE/{route_localnet,rp_filter,
    /// arp_notify}` ([`crate::sysctl::ipv4_conf_open`]): libc hooks only (`open`, `open64`,
    /// `openat`, `openat64`; netavark's `std::fs`).
    pub const IPV4_CONF: u8 = 64;
    /// Calls the libc hooks alone serve: the seccomp filter names nothing for them.
    pub const HOOKS_ONLY: u8 = Self::STRICT | Self::SETLINK | Self::IPV4_CONF;
    /// None: the library stays passive.
    pub const NONE: Traps = Traps(0);
    /// All of them: what `GVNET_MODE=force` and a kernel refusing everything need.
    pub const ALL: Traps = Traps(
        Self::MEMBERSHIP
            | Self::SEND_NL
            | Self::SEND_LL
            | Self::OPENAT
            | Self::STRICT
            | Self::SETLINK
            | Self::IPV4_CONF,
    );

    /// From raw bits.
    pub const fn from_bits(bits: u8) -> Traps {
        Traps(bits & Self::ALL.0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether `flag` ([`Traps::MEMBERSHIP`], ...) is set.
    pub const fn has(self, flag: u8) -> bool {
        self.0 & flag == flag
    }

    /// Whether nothing is trapped.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the seccomp filter has anything to name: everything but [`Traps::STRICT`] and
    /// [`Traps::SETLINK`], which the libc hooks alone serve.
    pub const fn needs_filter(self) -> bool {
        self.0 & !Self::HOOKS_ONLY != 0
    }
}

/// A capability's state in this process, as the decision line, the counters and `gvnet doctor`
/// name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The kernel does it; gvnet passes the calls through.
    Native,
    /// The kernel refuses it; gvnet emulates it.
    Emulated,
    /// The kernel refuses it and gvnet does not emulate it here (`GVNET_MODE=off`).
    Off,
}

impl State {
    /// `native`, `emulated` or `off`.
    pub const fn name(self) -> &'static str {
        match self {
            State::Native => "native",
            State::Emulated => "emulated",
            State::Off => "off",
        }
    }
}

/// The capabilities by name, in the order [`states`] reports them.
pub const CAPABILITIES: [&str; 8] = [
    "groups",
    "connect to a group",
    "send to a group",
    "AF_PACKET write",
    "IPv6 sysctls",
    "NETLINK_GET_STRICT_CHK",
    "RTM_SETLINK",
    "IPv4 conf sysctls",
];

/// Each capability's state: native where `kernel` does it and `emulating` is off for it; else
/// emulated where `traps` takes its calls in, off where nothing does.
pub fn states(kernel: Native, traps: Traps) -> [State; 8] {
    let s = |native: bool, trapped: bool| {
        if native {
            State::Native
        } else if trapped {
            State::Emulated
        } else {
            State::Off
        }
    };
    let m = traps.has(Traps::MEMBERSHIP);
    [
        s(kernel.groups_native(), m),
        s(kernel.has(Native::CONNECT_GROUP), m),
        s(kernel.has(Native::SEND_GROUP), traps.has(Traps::SEND_NL)),
        s(kernel.has(Native::PACKET_WRITE), traps.has(Traps::SEND_LL)),
        s(kernel.has(Native::IPV6_SYSCTL), traps.has(Traps::OPENAT)),
        s(kernel.has(Native::STRICT_CHK), traps.has(Traps::STRICT)),
        s(kernel.has(Native::SETLINK), traps.has(Traps::SETLINK)),
        s(kernel.has(Native::IPV4_CONF), traps.has(Traps::IPV4_CONF)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: u64 = 1 << (abi::RTNLGRP_LINK - 1);

    /// gVisor 20240729: nothing native but IPv6 sysctls missing too.
    const OLD: Native = Native::from_probes(0, 0);
    /// gVisor release-20260817.0 without `--allow-packet-socket-write`.
    const CURRENT: Native = Native::from_probes(LINK, Native::SEND_GROUP);
    /// The same with the flag.
    const CURRENT_FLAG: Native =
        Native::from_probes(LINK, Native::SEND_GROUP | Native::PACKET_WRITE);

    #[test]
    fn linux_is_all_native_and_traps_nothing() {
        let linux = Native::from_probes(
            EMULABLE_MASK,
            Native::CONNECT_GROUP
                | Native::SEND_GROUP
                | Native::PACKET_WRITE
                | Native::IPV6_SYSCTL
                | Native::STRICT_CHK
                | Native::SETLINK
                | Native::IPV4_CONF,
        );
        assert_eq!(linux, Native::ALL);
        assert!(
            linux.accepts(4),
            "an unprobed group (TC) follows the probed ones"
        );
        assert!(linux.accepts(39) && !linux.accepts(40) && !linux.accepts(0));
        assert_eq!(linux.traps(true), Traps::NONE);
    }

    #[test]
    fn gvisor_20240729_needs_everything() {
        assert_eq!(OLD.traps(true), Traps::ALL);
        assert_eq!(OLD.traps(false), Traps::ALL);
        assert!(!OLD.accepts(1));
    }

    #[test]
    fn current_gvisor_emulates_every_group_and_sends_natively() {
        // LINK is accepted there, but its events are incomplete: groups go together.
        assert!(!CURRENT.accepts(abi::RTNLGRP_LINK));
        assert!(!CURRENT.accepts(abi::RTNLGRP_IPV4_IFADDR));
        assert!(!CURRENT.accepts_all(LINK));
        assert!(CURRENT.accepts_all(0));
        assert!(CURRENT.has(Native::SEND_GROUP) && !CURRENT.has(Native::CONNECT_GROUP));
        assert_eq!(CURRENT.traps(true), Traps::ALL);
        // Without events a send to a netlink address needs nothing: the send to a group is
        // native and no monitor waits for kicks.
        assert_eq!(
            CURRENT.traps(false),
            Traps::from_bits(
                Traps::MEMBERSHIP
                    | Traps::SEND_LL
                    | Traps::OPENAT
                    | Traps::STRICT
                    | Traps::SETLINK
                    | Traps::IPV4_CONF
            )
        );
        // With the operator's flag the AF_PACKET write is the kernel's.
        assert_eq!(
            CURRENT_FLAG.traps(true),
            Traps::from_bits(
                Traps::MEMBERSHIP
                    | Traps::SEND_NL
                    | Traps::OPENAT
                    | Traps::STRICT
                    | Traps::SETLINK
                    | Traps::IPV4_CONF
            )
        );
    }

    #[test]
    fn states_name_what_is_native_emulated_or_off() {
        use State::*;
        assert_eq!(
            states(CURRENT, CURRENT.traps(true)),
            [Emulated, Emulated, Native, Emulated, Emulated, Emulated, Emulated, Emulated]
        );
        assert_eq!(
            states(CURRENT_FLAG, CURRENT_FLAG.traps(true)),
            [Emulated, Emulated, Native, Native, Emulated, Emulated, Emulated, Emulated]
        );
        assert_eq!(states(OLD, Traps::NONE), [Off; 8]);
        assert_eq!(states(super::Native::ALL, Traps::NONE), [State::Native; 8]);
    }

    #[test]
    fn a_refused_connect_alone_keeps_the_membership_calls() {
        let n = Native::from_probes(EMULABLE_MASK, Native::SEND_GROUP | Native::PACKET_WRITE);
        assert!(n.membership_emulated());
        assert!(n.traps(false).has(Traps::MEMBERSHIP));
    }

    #[test]
    fn only_what_is_refused_is_trapped() {
        for bits in 0..128u64 {
            let flags = bits << 48;
            let n = Native::from_probes(EMULABLE_MASK, flags);
            let t = n.traps(true);
            assert_eq!(t.has(Traps::STRICT), !n.has(Native::STRICT_CHK));
            assert_eq!(t.has(Traps::SETLINK), !n.has(Native::SETLINK));
            assert_eq!(t.has(Traps::IPV4_CONF), !n.has(Native::IPV4_CONF));
            // A kernel refusing NETLINK_GET_STRICT_CHK or RTM_SETLINK with NLM_F_CREATE alone
            // needs the hooks, not the filter.
            if bits & 0xf == 0xf {
                assert_eq!(t.bits() & !Traps::HOOKS_ONLY, 0);
                assert!(!t.needs_filter());
            }
            assert_eq!(t.has(Traps::MEMBERSHIP), !n.has(Native::CONNECT_GROUP));
            assert_eq!(t.has(Traps::SEND_LL), !n.has(Native::PACKET_WRITE));
            assert_eq!(t.has(Traps::OPENAT), !n.has(Native::IPV6_SYSCTL));
            assert_eq!(
                t.has(Traps::SEND_NL),
                !n.has(Native::SEND_GROUP) || t.has(Traps::MEMBERSHIP)
            );
        }
    }
}
