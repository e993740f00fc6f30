//! Questions `gvnet doctor` asks the kernel directly, each on a scratch socket that is closed
//! again. A result is `Ok(())` (the kernel accepts) or the errno it refused with.

use std::mem::size_of;

/// An errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// Its name (`EACCES`), from gvnet_core's table, else the number.
    pub fn name(self) -> String {
        let n = gvnet_core::abi::errno::name(self.0);
        if n.starts_with('E') {
            n.to_string()
        } else {
            format!("errno {}", self.0)
        }
    }
}

/// An fd closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closing an fd this struct owns.
        unsafe { libc::close(self.0) };
    }
}

fn socket(domain: i32, kind: i32, proto: i32) -> Result<Fd, Errno> {
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        Err(Errno::last())
    } else {
        Ok(Fd(fd))
    }
}

fn check(r: isize) -> Result<(), Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

fn nl_addr(groups: u32) -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain data; all-zero is valid.
    let mut a: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    a.nl_family = libc::AF_NETLINK as u16;
    a.nl_groups = groups;
    a
}

/// What the kernel says to netlink multicast: bind with RTMGRP_LINK and with RTMGRP_IPV4_IFADDR
/// (current gVisor accepts the link group alone), NETLINK_ADD_MEMBERSHIP of RTNLGRP_LINK, and a
/// send to the RTMGRP_LINK group.
pub struct Multicast {
    /// bind with nl_groups = RTMGRP_LINK.
    pub bind: Result<(), Errno>,
    /// bind with nl_groups = RTMGRP_IPV4_IFADDR.
    pub bind_address: Result<(), Errno>,
    /// setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_LINK).
    pub add_membership: Result<(), Errno>,
    /// sendto the RTMGRP_LINK group (an NLMSG_NOOP).
    pub send_to_group: Result<(), Errno>,
}

impl Multicast {
    /// Whether any of the three was refused.
    pub fn refused(&self) -> bool {
        self.bind.is_err()
            || self.bind_address.is_err()
            || self.add_membership.is_err()
            || self.send_to_group.is_err()
    }
}

/// Asks the four multicast questions, each on its own scratch NETLINK_ROUTE socket.
pub fn multicast() -> Multicast {
    let route = || socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE);
    let bind_groups = |groups: u32| {
        route().and_then(|fd| {
            let a = nl_addr(groups);
            // SAFETY: `a` is a live sockaddr_nl of the length given.
            check(unsafe {
                libc::bind(
                    fd.0,
                    &a as *const _ as *const libc::sockaddr,
                    size_of::<libc::sockaddr_nl>() as u32,
                )
            } as isize)
        })
    };
    let bind_address = bind_groups(libc::RTMGRP_IPV4_IFADDR as u32);
    let bind = bind_groups(libc::RTMGRP_LINK as u32);
    let add_membership = route().and_then(|fd| {
        let g: i32 = libc::RTNLGRP_LINK as i32;
        // SAFETY: `g` is a live int of the length given.
        check(unsafe {
            libc::setsockopt(
                fd.0,
                libc::SOL_NETLINK,
                libc::NETLINK_ADD_MEMBERSHIP,
                &g as *const i32 as *const libc::c_void,
                4,
            )
        } as isize)
    });
    let send_to_group = route().and_then(|fd| {
        let a = nl_addr(1);
        let mut msg = [0u8; 16];
        msg[0..4].copy_from_slice(&16u32.to_ne_bytes());
        msg[4..6].copy_from_slice(&(libc::NLMSG_NOOP as u16).to_ne_bytes());
        // SAFETY: `msg` and `a` are live for the call.
        check(unsafe {
            libc::sendto(
                fd.0,
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                libc::MSG_DONTWAIT,
                &a as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_nl>() as u32,
            )
        })
    });
    Multicast {
        bind,
        bind_address,
        add_membership,
        send_to_group,
    }
}

/// An AF_PACKET (SOCK_DGRAM, ETH_P_ARP) write of a 28-byte ARP request to the broadcast
/// address of the loopback interface, as dockerd's address announcement writes one. Needs
/// CAP_NET_RAW (EPERM without). The frame is well formed and goes to `lo` only.
pub fn packet_write() -> Result<(), Errno> {
    let proto = (libc::ETH_P_ARP as u16).to_be();
    let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, proto as i32)?;
    let ifindex = {
        // SAFETY: a NUL-terminated name.
        let i = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        if i == 0 {
            1
        } else {
            i as i32
        }
    };
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut ll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = proto;
    ll.sll_ifindex = ifindex;
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    // ARP request: Ethernet, IPv4, who-has 127.0.0.1 tell 127.0.0.1.
    let mut arp = [0u8; 28];
    arp[0..2].copy_from_slice(&1u16.to_be_bytes());
    arp[2..4].copy_from_slice(&0x0800u16.to_be_bytes());
    arp[4] = 6;
    arp[5] = 4;
    arp[6..8].copy_from_slice(&1u16.to_be_bytes());
    arp[14..18].copy_from_slice(&[127, 0, 0, 1]);
    arp[24..28].copy_from_slice(&[127, 0, 0, 1]);
    // SAFETY: `arp` and `ll` are live for the call.
    check(unsafe {
        libc::sendto(
            fd.0,
            arp.as_ptr() as *const libc::c_void,
            arp.len(),
            libc::MSG_DONTWAIT,
            &ll as *const _ as *const libc::sockaddr,
            size_of::<libc::sockaddr_ll>() as u32,
        )
    })
}

/// A NETLINK_NETFILTER socket (what nft and iptables-nft talk through).
pub fn nftables() -> Result<(), Errno> {
    socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_NETFILTER).map(drop)
}

/// iptables-legacy's first question: `getsockopt(IPT_SO_GET_INFO)` for the `filter` table on
/// a raw IPv4 socket (needs CAP_NET_RAW).
pub fn iptables_legacy() -> Result<(), Errno> {
    const IPT_SO_GET_INFO: i32 = 64;
    let fd = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
    // struct ipt_getinfo: name[32], valid_hooks, hook_entry[5], underflow[5], num_entries, size.
    let mut info = [0u8; 84];
    info[..6].copy_from_slice(b"filter");
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: `info` and `len` are live and writable for the call.
    check(unsafe {
        libc::getsockopt(
            fd.0,
            libc::IPPROTO_IP,
            IPT_SO_GET_INFO,
            info.as_mut_ptr() as *mut libc::c_void,
            &mut len,
        )
    } as isize)
}

/// Whether a bridge can be created in a new network namespace: run in a child (`gvnet
/// probe-bridge`), which unshares its network namespace, asks for an RTM_NEWLINK of kind
/// `bridge` and exits 0 on success or with the errno. The namespace dies with the child.
pub fn bridge_in_new_netns() -> Result<(), Errno> {
    // SAFETY: unshare affects only this (child) process.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(Errno::last());
    }
    let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
    // nlmsghdr(16) + ifinfomsg(16) + IFLA_IFNAME(4 + "gvnetprobe0\0" = 16) +
    // IFLA_LINKINFO(4 + IFLA_INFO_KIND(4 + "bridge\0" -> 8) = 16)
    let mut m = Vec::with_capacity(64);
    let attr = |m: &mut Vec<u8>, kind: u16, data: &[u8]| {
        m.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(data);
        while m.len() % 4 != 0 {
            m.push(0);
        }
    };
    m.extend_from_slice(&[0u8; 16]); // header, filled below
    m.extend_from_slice(&[0u8; 16]); // ifinfomsg, AF_UNSPEC
    attr(&mut m, libc::IFLA_IFNAME, b"gvnetprobe0\0");
    let mut kind = Vec::new();
    attr(&mut kind, libc::IFLA_INFO_KIND, b"bridge\0");
    attr(&mut m, libc::IFLA_LINKINFO, &kind);
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&libc::RTM_NEWLINK.to_ne_bytes());
    let flags =
        (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
    m[6..8].copy_from_slice(&flags.to_ne_bytes());
    m[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: `m` is live for the call.
    check(unsafe { libc::send(fd.0, m.as_ptr() as *const libc::c_void, m.len(), 0) })?;
    let mut buf = [0u8; 4096];
    // SAFETY: `buf` is live and writable for the call.
    let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    check(n)?;
    // NLMSG_ERROR: header(16) + int error.
    if n >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == libc::NLMSG_ERROR as u16 {
        let e = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        if e < 0 {
            return Err(Errno(-e));
        }
    }
    Ok(())
}
