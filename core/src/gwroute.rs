//! An IPv4 route through a gateway that names no device: the pure part (reading the request,
//! choosing the device Linux would, adding `RTA_OIF`). `crate::routedev` reads the addresses
//! and sends; the why is there.

use crate::abi::{self, NLMSG_HDRLEN};
use crate::veth::{append, attr, u16_at, u32_at};

/// `RTM_NEWROUTE`.
pub const RTM_NEWROUTE: u16 = 24;
/// `RTM_NEWADDR`.
pub const RTM_NEWADDR: u16 = 20;
/// `RTM_GETADDR`.
pub const RTM_GETADDR: u16 = 22;
/// `RTA_OIF`.
const RTA_OIF: u16 = 4;
/// `RTA_GATEWAY`.
const RTA_GATEWAY: u16 = 5;
/// `RTA_MULTIPATH`.
const RTA_MULTIPATH: u16 = 9;
/// `RTA_VIA`.
const RTA_VIA: u16 = 18;
/// `RTA_NH_ID`.
const RTA_NH_ID: u16 = 30;
/// `IFA_ADDRESS`.
const IFA_ADDRESS: u16 = 1;
/// `IFA_LOCAL`.
const IFA_LOCAL: u16 = 2;
/// `AF_INET`.
const AF_INET: u8 = 2;
/// nlmsghdr + rtmsg: where a route message's attributes start.
pub const ROUTE_ATTRS: usize = NLMSG_HDRLEN + 12;
/// nlmsghdr + ifaddrmsg: where an address message's attributes start.
const ADDR_ATTRS: usize = NLMSG_HDRLEN + 8;
/// The room [`with_oif`] needs after the request.
pub const OIF_ROOM: usize = 8;

/// Whether the first message of `head` (its first 8 bytes) is an `RTM_NEWROUTE` request: the
/// cheap test before the request is copied.
pub fn wants(head: &[u8]) -> bool {
    head.len() >= 8 && u16_at(head, 4) == RTM_NEWROUTE && u16_at(head, 6) & abi::NLM_F_REQUEST != 0
}

/// The gateway of the first message of `req` when it is an IPv4 `RTM_NEWROUTE` through a
/// gateway (`RTA_GATEWAY`) without a device (`RTA_OIF`), multipath or nexthop object.
pub fn gateway_without_device(req: &[u8]) -> Option<[u8; 4]> {
    let len = u32_at(req, 0) as usize;
    if len < ROUTE_ATTRS || len > req.len() || !wants(req) || req[NLMSG_HDRLEN] != AF_INET {
        return None;
    }
    let a = &req[ROUTE_ATTRS..len];
    if [RTA_OIF, RTA_MULTIPATH, RTA_VIA, RTA_NH_ID]
        .iter()
        .any(|&t| attr(a, t).is_some())
    {
        return None;
    }
    let gw = attr(a, RTA_GATEWAY)?;
    (gw.len() == 4).then(|| [gw[0], gw[1], gw[2], gw[3]])
}

/// Appends `RTA_OIF` = `oif` to the first message of `req[..len]` (`req` has
/// [`OIF_ROOM`] more bytes after it); the new length.
pub fn with_oif(req: &mut [u8], len: usize, oif: u32) -> Option<usize> {
    let mut a = [0u8; 8];
    a[0..2].copy_from_slice(&8u16.to_ne_bytes());
    a[2..4].copy_from_slice(&RTA_OIF.to_ne_bytes());
    a[4..8].copy_from_slice(&oif.to_ne_bytes());
    append(req, len, 0, &a)
}

/// An IPv4 address of a device: (ifindex, address, prefix length).
pub type Addr = (u32, [u8; 4], u8);

/// The IPv4 address in the `RTM_NEWADDR` message `m`, if it is one.
pub fn parse_addr(m: &[u8]) -> Option<Addr> {
    let len = (u32_at(m, 0) as usize).min(m.len());
    if len < ADDR_ATTRS || u16_at(m, 4) != RTM_NEWADDR || m[NLMSG_HDRLEN] != AF_INET {
        return None;
    }
    let prefix = m[NLMSG_HDRLEN + 1];
    let index = u32_at(m, NLMSG_HDRLEN + 4);
    let a = &m[ADDR_ATTRS..len];
    let v = attr(a, IFA_LOCAL).or_else(|| attr(a, IFA_ADDRESS))?;
    (v.len() == 4 && prefix <= 32).then(|| (index, [v[0], v[1], v[2], v[3]], prefix))
}

/// The device Linux's `fib_check_nh` would give a gateway route without one: the device of the
/// most specific connected subnet holding the gateway (a /32 address holds only itself).
/// `None` when no address's subnet holds it (Linux: ENETUNREACH, left to the kernel).
pub fn pick(gw: [u8; 4], addrs: &[Addr]) -> Option<u32> {
    let g = u32::from_be_bytes(gw);
    addrs
        .iter()
        .filter(|(_, a, p)| {
            let mask = if *p == 0 { 0 } else { u32::MAX << (32 - p) };
            (u32::from_be_bytes(*a) & mask) == (g & mask)
        })
        .max_by_key(|(_, _, p)| *p)
        .map(|(i, _, _)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use netlink_packet_core::{NetlinkMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST};
    use netlink_packet_route::address::{AddressAttribute, AddressMessage};
    use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
    use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

    fn bytes(m: RouteNetlinkMessage) -> Vec<u8> {
        let mut nl = NetlinkMessage::from(m);
        nl.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
        nl.finalize();
        let mut b = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut b);
        b
    }

    /// netavark's default route: destination 0.0.0.0/0, a gateway, a metric, no device.
    fn netavark_default(gw: &str, oif: Option<u32>) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.destination_prefix_length = 0;
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(
                gw.parse().unwrap(),
            )));
        m.attributes.push(RouteAttribute::Priority(100));
        if let Some(i) = oif {
            m.attributes.push(RouteAttribute::Oif(i));
        }
        m
    }

    #[test]
    fn a_gateway_without_a_device_gets_one() {
        let mut req = bytes(RouteNetlinkMessage::NewRoute(netavark_default(
            "10.88.0.1",
            None,
        )));
        assert_eq!(gateway_without_device(&req), Some([10, 88, 0, 1]));
        let len = req.len();
        req.resize(len + OIF_ROOM, 0);
        let n = with_oif(&mut req, len, 2).unwrap();
        let back = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&req[..n]).unwrap();
        let want = bytes(RouteNetlinkMessage::NewRoute(netavark_default(
            "10.88.0.1",
            Some(2),
        )));
        assert_eq!(&req[..n], &want[..], "{back:?}");
        assert_eq!(gateway_without_device(&req[..n]), None, "now it names one");
    }

    #[test]
    fn other_routes_are_left_alone() {
        let mut direct = netavark_default("10.88.0.1", None);
        direct
            .attributes
            .retain(|a| !matches!(a, RouteAttribute::Gateway(_)));
        assert_eq!(
            gateway_without_device(&bytes(RouteNetlinkMessage::NewRoute(direct))),
            None
        );
        let mut v6 = RouteMessage::default();
        v6.header.address_family = AddressFamily::Inet6;
        v6.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet6(
                "fe80::1".parse().unwrap(),
            )));
        assert_eq!(
            gateway_without_device(&bytes(RouteNetlinkMessage::NewRoute(v6))),
            None
        );
        let del = bytes(RouteNetlinkMessage::DelRoute(netavark_default(
            "10.88.0.1",
            None,
        )));
        assert_eq!(gateway_without_device(&del), None);
        assert!(!wants(&del));
    }

    #[test]
    fn the_most_specific_subnet_holding_the_gateway_names_the_device() {
        let a = |i, s: &str, p| (i, s.parse::<Ipv4Addr>().unwrap().octets(), p);
        let addrs = [
            a(1, "127.0.0.1", 8),
            a(2, "10.88.0.5", 16),
            a(3, "10.88.7.9", 24),
            a(4, "0.0.0.0", 0),
        ];
        assert_eq!(pick([10, 88, 0, 1], &addrs), Some(2));
        assert_eq!(pick([10, 88, 7, 1], &addrs), Some(3));
        assert_eq!(pick([8, 8, 8, 8], &addrs[..3]), None);
        assert_eq!(pick([8, 8, 8, 8], &addrs), Some(4));
    }

    #[test]
    fn addresses_read_from_address_messages() {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = 16;
        m.header.index = 2;
        m.attributes
            .push(AddressAttribute::Local("10.88.0.5".parse().unwrap()));
        m.attributes
            .push(AddressAttribute::Address("10.88.0.5".parse().unwrap()));
        let b = bytes(RouteNetlinkMessage::NewAddress(m));
        assert_eq!(parse_addr(&b), Some((2, [10, 88, 0, 5], 16)));
        assert_eq!(parse_addr(&b[..20]), None);
    }
}
