//! The veth pairs a process created and the `IFLA_LINK` the kernel leaves out of their
//! `RTM_NEWLINK` messages: the pure part (reading a create request, telling the ends apart
//! among the new links, the ring of pairs, adding the attribute to a received datagram).
//! `crate::vethpeer` talks to the kernel; the why is there.

use crate::abi::{self, NLMSG_HDRLEN};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;

/// `IFNAMSIZ`.
pub const IFNAMSIZ: usize = 16;
/// `IFLA_IFNAME`.
pub const IFLA_IFNAME: u16 = 3;
/// `IFLA_LINK`.
pub const IFLA_LINK: u16 = 5;
/// `IFLA_LINKINFO`.
pub const IFLA_LINKINFO: u16 = 18;
/// `IFLA_NET_NS_PID`.
const IFLA_NET_NS_PID: u16 = 19;
/// `IFLA_NET_NS_FD`.
const IFLA_NET_NS_FD: u16 = 28;
/// `IFLA_INFO_KIND`.
pub const IFLA_INFO_KIND: u16 = 1;
/// `IFLA_INFO_DATA`.
const IFLA_INFO_DATA: u16 = 2;
/// `VETH_INFO_PEER`.
const VETH_INFO_PEER: u16 = 1;
/// `NLA_TYPE_MASK`: the nested and byte-order flags cleared.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// `NLM_F_CREATE`.
pub const NLM_F_CREATE: u16 = 0x400;
/// nlmsghdr + ifinfomsg: where a link message's attributes start.
pub const LINK_ATTRS: usize = NLMSG_HDRLEN + 16;
/// How many pairs a process remembers; the oldest is forgotten first.
pub const RING: usize = 16;

/// An interface name: up to 15 bytes (empty: none given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Name {
    len: u8,
    b: [u8; IFNAMSIZ],
}

impl Name {
    /// The name in an `IFLA_IFNAME` payload (NUL-terminated or not); too long: empty.
    pub fn from_attr(v: &[u8]) -> Name {
        let v = match v.iter().position(|&c| c == 0) {
            Some(end) => &v[..end],
            None => v,
        };
        let mut n = Name::default();
        if v.len() < IFNAMSIZ {
            n.b[..v.len()].copy_from_slice(v);
            n.len = v.len() as u8;
        }
        n
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.b[..usize::from(self.len)]
    }

    /// Whether no name was given.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Where a create request puts the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerNs {
    /// The namespace of the socket the request is sent on.
    Same,
    /// The namespace an fd of the caller refers to (`IFLA_NET_NS_FD`).
    Fd(u32),
    /// The namespace of a process (`IFLA_NET_NS_PID`).
    Pid(u32),
}

/// What an `RTM_NEWLINK` request of kind veth asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Create {
    /// The host end's name (`IFLA_IFNAME`), maybe empty.
    pub name: Name,
    /// The peer's name (`VETH_INFO_PEER`'s `IFLA_IFNAME`), maybe empty.
    pub peer: Name,
    /// Where the peer goes.
    pub peer_ns: PeerNs,
}

/// The native-endian u16 at `at` (0 past the end).
pub fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |x| u16::from_ne_bytes([x[0], x[1]]))
}

/// The native-endian u32 at `at` (0 past the end).
pub fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
}

/// The attributes in `b` as (type without flags, payload), walked as `nla_parse` walks them:
/// a malformed one ends the walk.
fn attrs(b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0usize;
    core::iter::from_fn(move || {
        let len = usize::from(u16_at(b, at));
        if at + 4 > b.len() || len < 4 || at + len > b.len() {
            return None;
        }
        let item = (u16_at(b, at + 2) & NLA_TYPE_MASK, &b[at + 4..at + len]);
        at += (len + 3) & !3;
        Some(item)
    })
}

/// The payload of the first attribute `ty` in `b`.
pub fn attr(b: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(b).find(|&(t, _)| t == ty).map(|(_, v)| v)
}

fn payload_u32(v: &[u8]) -> Option<u32> {
    (v.len() >= 4).then(|| u32_at(v, 0))
}

/// The veth create the first message of `req` asks for: an `RTM_NEWLINK` request with
/// `NLM_F_CREATE` and `IFLA_LINKINFO` kind `veth`. `None` for anything else.
pub fn parse_create(req: &[u8]) -> Option<Create> {
    let len = u32_at(req, 0) as usize;
    if len < LINK_ATTRS || len > req.len() || u16_at(req, 4) != RTM_NEWLINK {
        return None;
    }
    let flags = u16_at(req, 6);
    if flags & abi::NLM_F_REQUEST == 0 || flags & NLM_F_CREATE == 0 {
        return None;
    }
    let a = &req[LINK_ATTRS..len];
    let info = attr(a, IFLA_LINKINFO)?;
    let kind = attr(info, IFLA_INFO_KIND)?;
    if Name::from_attr(kind).as_bytes() != b"veth" {
        return None;
    }
    let mut c = Create {
        name: attr(a, IFLA_IFNAME)
            .map(Name::from_attr)
            .unwrap_or_default(),
        peer: Name::default(),
        peer_ns: PeerNs::Same,
    };
    // VETH_INFO_PEER: an ifinfomsg, then the peer's attributes.
    if let Some(peer) = attr(info, IFLA_INFO_DATA).and_then(|d| attr(d, VETH_INFO_PEER)) {
        let pa = peer.get(16..).unwrap_or(&[]);
        c.peer = attr(pa, IFLA_IFNAME)
            .map(Name::from_attr)
            .unwrap_or_default();
        if let Some(fd) = attr(pa, IFLA_NET_NS_FD).and_then(payload_u32) {
            c.peer_ns = PeerNs::Fd(fd);
        } else if let Some(pid) = attr(pa, IFLA_NET_NS_PID).and_then(payload_u32) {
            c.peer_ns = PeerNs::Pid(pid);
        }
    }
    Some(c)
}

/// A link seen after the create: its index and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Link {
    /// ifindex.
    pub index: u32,
    /// `IFLA_IFNAME`.
    pub name: Name,
}

/// The two ends among the links that are new in the creating namespace: (host, peer if it is
/// there too). The host end is the new link named as requested; unnamed, the one not named as
/// the peer; with a peer elsewhere, the only new link. `None` when that does not single one
/// out (a failed create adds none; another process may have added one at the same time).
pub fn pick(c: &Create, new: &[Link]) -> Option<(Link, Option<Link>)> {
    let host = if !c.name.is_empty() {
        let mut named = new.iter().filter(|l| l.name == c.name);
        let h = *named.next()?;
        named.next().is_none().then_some(h)?
    } else {
        let mut others = new
            .iter()
            .filter(|l| c.peer_ns != PeerNs::Same || c.peer.is_empty() || l.name != c.peer);
        let h = *others.next()?;
        match (others.next(), c.peer_ns) {
            (None, _) => h,
            // Both ends here and neither named: each end's IFLA_LINK is the other's index,
            // so which one is called the host end does not matter.
            (Some(o), PeerNs::Same) if c.peer.is_empty() && new.len() == 2 => {
                return Some((h, Some(*o)));
            }
            _ => return None,
        }
    };
    if c.peer_ns != PeerNs::Same {
        return Some((host, None));
    }
    let mut peers = new
        .iter()
        .filter(|l| l.index != host.index && (c.peer.is_empty() || l.name == c.peer));
    let p = *peers.next()?;
    peers.next().is_none().then_some((host, Some(p)))
}

/// One remembered pair. `gen` is even while the entry is stable (0: empty) and odd while it is
/// written; a reader that sees it change reads nothing.
struct Pair {
    gen: AtomicU32,
    host_ns: AtomicU64,
    host_index: AtomicU32,
    peer_ns: AtomicU64,
    peer_index: AtomicU32,
    peer_name: [AtomicU32; IFNAMSIZ / 4],
}

/// A stable copy of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ends {
    host_ns: u64,
    host_index: u32,
    peer_ns: u64,
    peer_index: u32,
    peer_name: [u8; IFNAMSIZ],
}

impl Pair {
    const fn new() -> Pair {
        Pair {
            gen: AtomicU32::new(0),
            host_ns: AtomicU64::new(0),
            host_index: AtomicU32::new(0),
            peer_ns: AtomicU64::new(0),
            peer_index: AtomicU32::new(0),
            peer_name: [const { AtomicU32::new(0) }; IFNAMSIZ / 4],
        }
    }

    fn read(&self) -> Option<Ends> {
        let g = self.gen.load(Ordering::Acquire);
        if g == 0 || g % 2 == 1 {
            return None;
        }
        let mut name = [0u8; IFNAMSIZ];
        for (i, w) in self.peer_name.iter().enumerate() {
            name[i * 4..i * 4 + 4].copy_from_slice(&w.load(Ordering::Acquire).to_ne_bytes());
        }
        let e = Ends {
            host_ns: self.host_ns.load(Ordering::Acquire),
            host_index: self.host_index.load(Ordering::Acquire),
            peer_ns: self.peer_ns.load(Ordering::Acquire),
            peer_index: self.peer_index.load(Ordering::Acquire),
            peer_name: name,
        };
        (self.gen.load(Ordering::Acquire) == g).then_some(e)
    }
}

/// The pairs this process created, newest last: a fixed ring of atomics, no lock.
pub struct Pairs {
    slots: [Pair; RING],
    next: AtomicUsize,
}

impl Default for Pairs {
    fn default() -> Self {
        Self::new()
    }
}

impl Pairs {
    /// An empty ring.
    pub const fn new() -> Pairs {
        Pairs {
            slots: [const { Pair::new() }; RING],
            next: AtomicUsize::new(0),
        }
    }

    /// Whether no pair was ever recorded: the receive hooks' cheap test.
    pub fn is_empty(&self) -> bool {
        self.next.load(Ordering::Acquire) == 0
    }

    /// Remembers a pair: the host end (`host_index` in `host_ns`) and the peer (`peer` in
    /// `peer_ns`, its index if known, else 0 until a message shows it).
    pub fn record(&self, host_ns: u64, host_index: u32, peer_ns: u64, peer: Link) {
        let i = self.next.fetch_add(1, Ordering::AcqRel) % RING;
        let p = &self.slots[i];
        // Odd while written; two writers of one slot (16 creates racing) may leave either's.
        let g = p.gen.fetch_add(1, Ordering::AcqRel) | 1;
        p.gen.store(g, Ordering::Release);
        p.host_ns.store(host_ns, Ordering::Release);
        p.host_index.store(host_index, Ordering::Release);
        p.peer_ns.store(peer_ns, Ordering::Release);
        p.peer_index.store(peer.index, Ordering::Release);
        for (k, w) in p.peer_name.iter().enumerate() {
            let b = &peer.name.b[k * 4..k * 4 + 4];
            w.store(
                u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                Ordering::Release,
            );
        }
        p.gen.store(g.wrapping_add(1).max(2), Ordering::Release);
    }

    /// The `IFLA_LINK` for link `index` named `name` seen in namespace `ns`: the other end's
    /// index, if it is a recorded end (the newest record first). A peer seen for the first time
    /// has its index remembered, so the host end's messages can name it from then on.
    pub fn link_of(&self, ns: u64, index: u32, name: &Name) -> Option<u32> {
        let n = self.next.load(Ordering::Acquire);
        for back in 0..n.min(RING) {
            let slot = &self.slots[(n - 1 - back) % RING];
            let Some(e) = slot.read() else { continue };
            let is_peer = ns == e.peer_ns
                && if e.peer_index != 0 {
                    index == e.peer_index
                } else {
                    name.as_bytes() == Name::from_attr(&e.peer_name).as_bytes()
                };
            if is_peer {
                if e.peer_index == 0 {
                    let _ = slot.peer_index.compare_exchange(
                        0,
                        index,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                }
                return Some(e.host_index);
            }
            if ns == e.host_ns && index == e.host_index {
                return (e.peer_index != 0).then_some(e.peer_index);
            }
        }
        None
    }
}

/// Appends `bytes` (whole attributes, a multiple of 4 long) to the message at `at` of the
/// datagram `buf[..len]`: what follows the message moves up and its `nlmsg_len` grows. The new
/// datagram length, or `None` when `buf` has no room after `len` (nothing changes then).
pub fn append(buf: &mut [u8], len: usize, at: usize, bytes: &[u8]) -> Option<usize> {
    let mlen = u32_at(buf, at) as usize;
    let end = at + ((mlen + 3) & !3);
    let n = bytes.len();
    if n % 4 != 0 || end > len || len + n > buf.len() {
        return None;
    }
    buf.copy_within(end..len, end + n);
    buf[end..end + n].copy_from_slice(bytes);
    buf[at..at + 4].copy_from_slice(&((end + n - at) as u32).to_ne_bytes());
    Some(len + n)
}

/// What [`supply`] did to a datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Supplied {
    /// The datagram's length now.
    pub len: usize,
    /// Messages that got an `IFLA_LINK`.
    pub added: usize,
    /// Messages that should have, but the caller's buffer had no room for 8 more bytes.
    pub no_room: usize,
}

/// Appends to each `RTM_NEWLINK` message of the datagram `buf[..len]` the attributes `more`
/// writes for it (given the whole message and a buffer; it returns their length, 0 for none).
/// `buf` is the caller's whole buffer: each addition moves what follows and needs that much
/// room after `len`. Messages are walked as a netlink reader walks them; a malformed one ends
/// the walk, and nothing else in `buf` changes.
pub fn supply_each(
    buf: &mut [u8],
    len: usize,
    more: &mut dyn FnMut(&[u8], &mut [u8; MORE_MAX]) -> usize,
) -> Supplied {
    let mut out = Supplied {
        len: len.min(buf.len()),
        ..Supplied::default()
    };
    let mut at = 0usize;
    while at + NLMSG_HDRLEN <= out.len {
        let mlen = u32_at(buf, at) as usize;
        if mlen < NLMSG_HDRLEN || mlen > out.len - at {
            break;
        }
        let mut next = at + ((mlen + 3) & !3);
        if u16_at(buf, at + 4) == RTM_NEWLINK && mlen >= LINK_ATTRS {
            let mut a = [0u8; MORE_MAX];
            let n = more(&buf[at..at + mlen], &mut a).min(MORE_MAX);
            if n > 0 {
                match append(buf, out.len, at, &a[..n]) {
                    Some(new) => {
                        out.len = new;
                        out.added += 1;
                        next = at + u32_at(buf, at) as usize;
                    }
                    None => out.no_room += 1,
                }
            }
        }
        at = next;
    }
    out
}

/// The most a [`supply_each`] caller adds to one message.
pub const MORE_MAX: usize = 36;

/// Appends `IFLA_LINK` to each `RTM_NEWLINK` message of the datagram `buf[..len]` that has
/// none and is a recorded end seen in namespace `ns` ([`Pairs::link_of`]), as
/// [`supply_each`] does.
pub fn supply(buf: &mut [u8], len: usize, ns: u64, pairs: &Pairs) -> Supplied {
    supply_each(buf, len, &mut |m, a| {
        let attrs = &m[LINK_ATTRS..];
        if attr(attrs, IFLA_LINK).is_some() {
            return 0;
        }
        let name = attr(attrs, IFLA_IFNAME)
            .map(Name::from_attr)
            .unwrap_or_default();
        let Some(link) = pairs.link_of(ns, u32_at(m, 20), &name) else {
            return 0;
        };
        a[0..2].copy_from_slice(&8u16.to_ne_bytes());
        a[2..4].copy_from_slice(&IFLA_LINK.to_ne_bytes());
        a[4..8].copy_from_slice(&link.to_ne_bytes());
        8
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{
        NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
        NLM_F_MULTIPART, NLM_F_REQUEST,
    };
    use netlink_packet_route::link::{
        InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
    };
    use netlink_packet_route::RouteNetlinkMessage;

    fn bytes(m: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
        let mut h = NetlinkHeader::default();
        h.flags = flags;
        h.sequence_number = seq;
        let mut m = NetlinkMessage::new(h, NetlinkPayload::from(m));
        m.finalize();
        let mut buf = vec![0u8; m.buffer_len()];
        m.serialize(&mut buf);
        buf
    }

    /// The create netavark 1.17 sends (`create_veth_pair`): no host name, a master, the
    /// peer named and moved by fd.
    fn netavark_create(host: Option<&str>, peer: &str, ns: Option<LinkAttribute>) -> Vec<u8> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes.push(LinkAttribute::Mtu(1500));
        if let Some(a) = ns {
            p.attributes.push(a);
        }
        let mut m = LinkMessage::default();
        if let Some(h) = host {
            m.attributes.push(LinkAttribute::IfName(h.to_string()));
        }
        m.attributes.push(LinkAttribute::Mtu(1500));
        m.attributes.push(LinkAttribute::Controller(3));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        bytes(
            RouteNetlinkMessage::NewLink(m),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE,
            1,
        )
    }

    fn name(s: &str) -> Name {
        Name::from_attr(s.as_bytes())
    }

    fn link(index: u32, n: &str) -> Link {
        Link {
            index,
            name: name(n),
        }
    }

    #[test]
    fn netavarks_create_is_read() {
        let c = parse_create(&netavark_create(
            None,
            "eth0",
            Some(LinkAttribute::NetNsFd(7)),
        ));
        assert_eq!(
            c,
            Some(Create {
                name: Name::default(),
                peer: name("eth0"),
                peer_ns: PeerNs::Fd(7),
            })
        );
        let c = parse_create(&netavark_create(
            Some("veth0"),
            "eth1",
            Some(LinkAttribute::NetNsPid(42)),
        ))
        .unwrap();
        assert_eq!(c.name, name("veth0"));
        assert_eq!(c.peer_ns, PeerNs::Pid(42));
        let c = parse_create(&netavark_create(Some("a"), "b", None)).unwrap();
        assert_eq!(c.peer_ns, PeerNs::Same);
    }

    #[test]
    fn only_a_veth_create_is_one() {
        let mut bridge = LinkMessage::default();
        bridge
            .attributes
            .push(LinkAttribute::IfName("podman0".to_string()));
        bridge
            .attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        let create = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
        assert_eq!(
            parse_create(&bytes(RouteNetlinkMessage::NewLink(bridge), create, 1)),
            None
        );
        // The same veth request without NLM_F_CREATE (a change of an existing link), or as
        // RTM_SETLINK, or cut short.
        let mut v = netavark_create(None, "eth0", None);
        v[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        assert_eq!(parse_create(&v), None);
        let mut v = netavark_create(None, "eth0", None);
        v[4..6].copy_from_slice(&19u16.to_ne_bytes());
        assert_eq!(parse_create(&v), None);
        let v = netavark_create(None, "eth0", None);
        assert_eq!(parse_create(&v[..v.len() - 4]), None);
        assert_eq!(parse_create(&[]), None);
    }

    #[test]
    fn a_long_name_is_no_name() {
        assert!(Name::from_attr(b"0123456789abcdef\0").is_empty());
        assert_eq!(Name::from_attr(b"0123456789abcde\0").as_bytes().len(), 15);
    }

    fn create(n: &str, p: &str, ns: PeerNs) -> Create {
        Create {
            name: name(n),
            peer: name(p),
            peer_ns: ns,
        }
    }

    #[test]
    fn the_host_end_is_picked_from_the_new_links() {
        // netavark: peer elsewhere, host unnamed: gVisor names it veth<index>.
        let c = create("", "eth0", PeerNs::Fd(7));
        assert_eq!(
            pick(&c, &[link(9, "veth9")]),
            Some((link(9, "veth9"), None))
        );
        // A failed create added nothing; two new unnamed ones cannot be told apart.
        assert_eq!(pick(&c, &[]), None);
        assert_eq!(pick(&c, &[link(9, "veth9"), link(10, "veth10")]), None);
        // Named: the one with the name, whatever else appeared.
        let c = create("vh0", "eth0", PeerNs::Fd(7));
        assert_eq!(
            pick(&c, &[link(9, "other"), link(10, "vh0")]),
            Some((link(10, "vh0"), None))
        );
        assert_eq!(pick(&c, &[link(9, "other")]), None);
        // Both ends here (iproute2's `ip link add a type veth peer name b`).
        let c = create("a", "b", PeerNs::Same);
        assert_eq!(
            pick(&c, &[link(5, "b"), link(6, "a")]),
            Some((link(6, "a"), Some(link(5, "b"))))
        );
        let c = create("", "b", PeerNs::Same);
        assert_eq!(
            pick(&c, &[link(5, "veth5"), link(6, "b")]),
            Some((link(5, "veth5"), Some(link(6, "b"))))
        );
        let c = create("", "", PeerNs::Same);
        let (h, p) = pick(&c, &[link(5, "veth5"), link(6, "veth6")]).unwrap();
        assert_eq!((h.index, p.unwrap().index), (5, 6));
        assert_eq!(pick(&c, &[link(5, "x"), link(6, "y"), link(7, "z")]), None);
    }

    /// A reply to `RTM_GETLINK` as gVisor 20240729 sends it: name, MTU, address, no IFLA_LINK.
    fn gvisor_link(index: u32, n: &str, seq: u32, flags: u16) -> Vec<u8> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes.push(LinkAttribute::IfName(n.to_string()));
        m.attributes.push(LinkAttribute::Mtu(1500));
        m.attributes
            .push(LinkAttribute::Address(vec![2, 0, 0, 0, 0, index as u8]));
        bytes(RouteNetlinkMessage::NewLink(m), flags, seq)
    }

    fn parse_all(b: &[u8]) -> Vec<NetlinkMessage<RouteNetlinkMessage>> {
        let mut out = vec![];
        let mut at = 0;
        while at < b.len() {
            let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&b[at..]).unwrap();
            at += (m.header.length as usize + 3) & !3;
            out.push(m);
        }
        out
    }

    fn link_attr(m: &NetlinkMessage<RouteNetlinkMessage>) -> Option<u32> {
        match &m.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::Link(i) => Some(*i),
                    _ => None,
                })
            }
            _ => None,
        }
    }

    const HOST: u64 = 4026531840;
    const CONTAINER: u64 = 4026532300;

    #[test]
    fn the_peer_gets_the_host_ends_index_and_nothing_else_changes() {
        let pairs = Pairs::new();
        assert!(pairs.is_empty());
        pairs.record(HOST, 9, CONTAINER, link(0, "eth0"));
        let orig = gvisor_link(2, "eth0", 5, 0);
        let mut buf = orig.clone();
        buf.resize(orig.len() + 64, 0xee);
        let s = supply(&mut buf, orig.len(), CONTAINER, &pairs);
        assert_eq!((s.len, s.added, s.no_room), (orig.len() + 8, 1, 0));
        let got = parse_all(&buf[..s.len]);
        assert_eq!(got.len(), 1);
        assert_eq!(link_attr(&got[0]), Some(9));
        let want = parse_all(&orig);
        assert_eq!(got[0].header.sequence_number, 5);
        let (
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(a)),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(b)),
        ) = (&want[0].payload, &got[0].payload)
        else {
            panic!("not links");
        };
        assert_eq!(a.header, b.header);
        assert_eq!(&b.attributes[..a.attributes.len()], &a.attributes[..]);
        assert_eq!(b.attributes.len(), a.attributes.len() + 1);
        // Beyond the new length the buffer is as it was.
        assert!(buf[s.len..].iter().all(|&c| c == 0xee));

        // The host end, seen after the peer, gets the peer's index.
        let h = gvisor_link(9, "veth9", 6, 0);
        let mut buf = h.clone();
        buf.resize(h.len() + 8, 0);
        let s = supply(&mut buf, h.len(), HOST, &pairs);
        assert_eq!(link_attr(&parse_all(&buf[..s.len])[0]), Some(2));
    }

    #[test]
    fn a_dump_gets_it_in_the_right_message_only() {
        let pairs = Pairs::new();
        pairs.record(HOST, 9, CONTAINER, link(0, "eth0"));
        let mut d = gvisor_link(1, "lo", 7, NLM_F_MULTIPART);
        d.extend(gvisor_link(2, "eth0", 7, NLM_F_MULTIPART));
        d.extend(gvisor_link(3, "eth1", 7, NLM_F_MULTIPART));
        let n = d.len();
        let mut buf = d.clone();
        buf.resize(n + 8, 0);
        let s = supply(&mut buf, n, CONTAINER, &pairs);
        assert_eq!((s.len, s.added), (n + 8, 1));
        let got = parse_all(&buf[..s.len]);
        let links: Vec<_> = got.iter().map(link_attr).collect();
        assert_eq!(links, vec![None, Some(9), None]);
        assert_eq!(parse_all(&d)[2], got[2], "the message after it moved whole");
    }

    #[test]
    fn nothing_is_added_where_it_does_not_belong() {
        let pairs = Pairs::new();
        pairs.record(HOST, 9, CONTAINER, link(0, "eth0"));
        // The sandbox's own eth0, in the host namespace.
        let m = gvisor_link(2, "eth0", 1, 0);
        let mut buf = m.clone();
        buf.resize(m.len() + 8, 0);
        assert_eq!(supply(&mut buf, m.len(), HOST, &pairs).added, 0);
        assert_eq!(&buf[..m.len()], &m[..]);
        // The host end before the peer's index is known: nothing to say.
        let h = gvisor_link(9, "veth9", 1, 0);
        let mut buf = h.clone();
        buf.resize(h.len() + 8, 0);
        assert_eq!(supply(&mut buf, h.len(), HOST, &pairs).added, 0);
        // A message that has IFLA_LINK keeps the kernel's.
        let mut l = LinkMessage::default();
        l.header.index = 2;
        l.attributes.push(LinkAttribute::IfName("eth0".into()));
        l.attributes.push(LinkAttribute::Link(33));
        let k = bytes(RouteNetlinkMessage::NewLink(l), 0, 1);
        let mut buf = k.clone();
        buf.resize(k.len() + 8, 0);
        assert_eq!(supply(&mut buf, k.len(), CONTAINER, &pairs).added, 0);
        assert_eq!(link_attr(&parse_all(&buf[..k.len()])[0]), Some(33));
        // No room: the datagram is left as the kernel gave it.
        let p = gvisor_link(2, "eth0", 1, 0);
        let mut buf = p.clone();
        let s = supply(&mut buf, p.len(), CONTAINER, &pairs);
        assert_eq!((s.len, s.added, s.no_room), (p.len(), 0, 1));
        assert_eq!(buf, p);
    }

    #[test]
    fn the_newest_pair_wins_and_a_known_peer_is_matched_by_index() {
        let pairs = Pairs::new();
        pairs.record(HOST, 9, CONTAINER, link(0, "eth0"));
        assert_eq!(pairs.link_of(CONTAINER, 2, &name("eth0")), Some(9));
        // The peer's index is now known: another eth0 there (a later device) is not it.
        assert_eq!(pairs.link_of(CONTAINER, 4, &name("eth0")), None);
        pairs.record(HOST, 12, CONTAINER, link(0, "eth0"));
        assert_eq!(pairs.link_of(CONTAINER, 4, &name("eth0")), Some(12));
        for i in 0..RING as u32 {
            pairs.record(HOST, 100 + i, 7, link(0, "x"));
        }
        assert_eq!(
            pairs.link_of(CONTAINER, 4, &name("eth0")),
            None,
            "forgotten"
        );
    }
}
