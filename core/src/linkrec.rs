//! A link's kind and master where the kernel leaves them out of its `RTM_NEWLINK` messages
//! (gVisor 20240729 reports neither `IFLA_LINKINFO` nor `IFLA_MASTER`): the pure part
//! (reading a request, the record kept for a link, adding the attributes to a received
//! datagram). `crate::linkstore` keeps the records and talks to the kernel; the why is there.

use crate::abi;
use crate::veth::{
    attr, supply_each, u16_at, u32_at, Name, Supplied, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINKINFO,
    LINK_ATTRS, MORE_MAX, NLM_F_CREATE, RTM_NEWLINK,
};

/// `RTM_DELLINK`.
pub const RTM_DELLINK: u16 = 17;
/// `RTM_SETLINK`.
pub const RTM_SETLINK: u16 = 19;
/// `IFLA_MASTER`.
pub const IFLA_MASTER: u16 = 10;
/// The largest record file: "NAME KIND MASTER\n" with both names at most 15 bytes.
pub const RECORD_MAX: usize = 48;
/// The directory of the records, one file per link.
pub const DIR: &[u8] = b"/run/gvnet/links\0";
/// Its parent, made first.
pub const PARENT: &[u8] = b"/run/gvnet\0";
/// The longest record path: DIR, '/', two decimal numbers, '-', '.', a pid, NUL.
pub const PATH_MAX: usize = 80;

/// A link request gvnet follows: a create (`RTM_NEWLINK` with `NLM_F_CREATE`), or a change of
/// master (`RTM_NEWLINK` without it, or `RTM_SETLINK`, with `IFLA_MASTER`), or a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Request {
    /// The message type.
    pub ty: u16,
    /// ifindex in the request (0: by name).
    pub index: u32,
    /// `IFLA_IFNAME` (empty: none).
    pub name: Name,
    /// `IFLA_INFO_KIND` (empty: none).
    pub kind: Name,
    /// `IFLA_MASTER`, if the request has one (0: no master).
    pub master: Option<u32>,
}

impl Request {
    /// Whether this creates a link.
    pub fn creates(&self) -> bool {
        self.ty == RTM_NEWLINK && !self.kind.is_empty()
    }
}

/// Whether the first message of `head` (its first 8 bytes) may be a [`Request`]: the cheap
/// test before the request is copied.
pub fn wants(head: &[u8]) -> bool {
    head.len() >= 8 && matches!(u16_at(head, 4), RTM_NEWLINK | RTM_SETLINK | RTM_DELLINK)
}

/// The request the first message of `req` makes, if gvnet follows it: a create with a kind
/// (named or not: a veth's host end may be left for the kernel to name), a change of master by
/// index, or a delete by index.
pub fn parse_request(req: &[u8]) -> Option<Request> {
    let len = u32_at(req, 0) as usize;
    if len < LINK_ATTRS || len > req.len() {
        return None;
    }
    let ty = u16_at(req, 4);
    let flags = u16_at(req, 6);
    if flags & abi::NLM_F_REQUEST == 0 || !matches!(ty, RTM_NEWLINK | RTM_SETLINK | RTM_DELLINK) {
        return None;
    }
    let a = &req[LINK_ATTRS..len];
    let r = Request {
        ty,
        index: u32_at(req, 20),
        name: attr(a, IFLA_IFNAME)
            .map(Name::from_attr)
            .unwrap_or_default(),
        kind: attr(a, IFLA_LINKINFO)
            .and_then(|i| attr(i, IFLA_INFO_KIND))
            .map(Name::from_attr)
            .unwrap_or_default(),
        master: attr(a, IFLA_MASTER)
            .filter(|v| v.len() >= 4)
            .map(|v| u32_at(v, 0)),
    };
    let wanted = match ty {
        RTM_DELLINK => r.index != 0,
        RTM_NEWLINK if flags & NLM_F_CREATE != 0 => !r.kind.is_empty(),
        _ => r.index != 0 && r.master.is_some(),
    };
    wanted.then_some(Request {
        // A create is known by its kind; without NLM_F_CREATE a kind names nothing new.
        kind: if ty == RTM_NEWLINK && flags & NLM_F_CREATE != 0 {
            r.kind
        } else {
            Name::default()
        },
        ..r
    })
}

/// What the kernel left out for one link, kept in a file ([`Record::encode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Record {
    /// The link's name when recorded: a record applies to a message of the same index and name.
    pub name: Name,
    /// The kind it was created with (empty: the kernel reports it, or unknown).
    pub kind: Name,
    /// Its master's index (0: none, or the kernel reports it).
    pub master: u32,
}

impl Record {
    /// "NAME KIND MASTER\n", KIND "-" when empty. Returns the length written into `out`.
    pub fn encode(&self, out: &mut [u8; RECORD_MAX]) -> usize {
        let mut at = 0;
        let mut put = |b: &[u8]| {
            out[at..at + b.len()].copy_from_slice(b);
            at += b.len();
        };
        put(self.name.as_bytes());
        put(b" ");
        put(if self.kind.is_empty() {
            b"-"
        } else {
            self.kind.as_bytes()
        });
        put(b" ");
        let mut d = [0u8; 10];
        put(decimal(u64::from(self.master), &mut d));
        put(b"\n");
        at
    }

    /// The record in `b` as [`Record::encode`] writes it; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<Record> {
        let b = b.strip_suffix(b"\n")?;
        let mut f = b.split(|&c| c == b' ');
        let (name, kind, master) = (f.next()?, f.next()?, f.next()?);
        if f.next().is_some() || name.is_empty() || name.len() > 15 || kind.len() > 15 {
            return None;
        }
        let mut m: u32 = 0;
        if master.is_empty() || master.len() > 10 {
            return None;
        }
        for &c in master {
            if !c.is_ascii_digit() {
                return None;
            }
            m = m.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
        }
        Some(Record {
            name: Name::from_attr(name),
            kind: if kind == b"-" {
                Name::default()
            } else {
                Name::from_attr(kind)
            },
            master: m,
        })
    }

    /// Whether the record says nothing the kernel leaves out.
    pub fn is_empty(&self) -> bool {
        self.kind.is_empty() && self.master == 0
    }
}

/// `v` in decimal, written at the end of `d`; the digits.
fn decimal(mut v: u64, d: &mut [u8]) -> &[u8] {
    let mut at = d.len();
    loop {
        at -= 1;
        d[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || at == 0 {
            break;
        }
    }
    &d[at..]
}

/// The record file of link `index` in namespace `ns`, NUL-terminated, in `out`:
/// `/run/gvnet/links/NS-INDEX`, then `.PID` when `tmp` is given (the file written before its
/// rename). Returns the length with the NUL.
pub fn path(ns: u64, index: u32, tmp: Option<u32>, out: &mut [u8; PATH_MAX]) -> usize {
    let mut at = 0;
    let mut put = |b: &[u8]| {
        out[at..at + b.len()].copy_from_slice(b);
        at += b.len();
    };
    put(&DIR[..DIR.len() - 1]);
    put(b"/");
    let mut d = [0u8; 20];
    put(decimal(ns, &mut d));
    put(b"-");
    put(decimal(u64::from(index), &mut d));
    if let Some(pid) = tmp {
        put(b".");
        put(decimal(u64::from(pid), &mut d));
    }
    put(b"\0");
    at
}

/// The namespace and index a record file's name (`NS-INDEX`, as [`path`] writes it) stands
/// for; `None` for any other name (a file being written has a `.PID` after it).
pub fn parse_file_name(name: &[u8]) -> Option<(u64, u32)> {
    let name = match name.iter().position(|&c| c == 0) {
        Some(end) => &name[..end],
        None => name,
    };
    let dash = name.iter().position(|&c| c == b'-')?;
    let number = |d: &[u8]| -> Option<u64> {
        if d.is_empty() || d.len() > 20 {
            return None;
        }
        d.iter().try_fold(0u64, |v, &c| {
            c.is_ascii_digit()
                .then_some(())
                .and_then(|_| v.checked_mul(10)?.checked_add(u64::from(c - b'0')))
        })
    };
    let ns = number(&name[..dash])?;
    let index = u32::try_from(number(&name[dash + 1..])?).ok()?;
    Some((ns, index))
}

/// What a received `RTM_NEWLINK` message lacks that a record could give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Lacks {
    /// No `IFLA_LINKINFO`.
    pub kind: bool,
    /// No `IFLA_MASTER`.
    pub master: bool,
}

/// What the link message `m` (a whole `RTM_NEWLINK`) lacks; `None` when it is not one.
pub fn lacks(m: &[u8]) -> Option<Lacks> {
    let mlen = (u32_at(m, 0) as usize).min(m.len());
    if mlen < LINK_ATTRS || u16_at(m, 4) != RTM_NEWLINK {
        return None;
    }
    let a = &m[LINK_ATTRS..mlen];
    Some(Lacks {
        kind: attr(a, IFLA_LINKINFO).is_none(),
        master: attr(a, IFLA_MASTER).is_none(),
    })
}

/// The attributes a record adds to a message that lacks `l`: `IFLA_MASTER`, then
/// `IFLA_LINKINFO` { `IFLA_INFO_KIND` }, into `out`; their length (0: nothing to add).
pub fn attrs_for(r: &Record, l: Lacks, out: &mut [u8; MORE_MAX]) -> usize {
    let mut at = 0;
    if l.master && r.master != 0 {
        out[0..2].copy_from_slice(&8u16.to_ne_bytes());
        out[2..4].copy_from_slice(&IFLA_MASTER.to_ne_bytes());
        out[4..8].copy_from_slice(&r.master.to_ne_bytes());
        at = 8;
    }
    if l.kind && !r.kind.is_empty() {
        let k = r.kind.as_bytes();
        let kind_len = 4 + k.len() + 1;
        let kind_pad = (kind_len + 3) & !3;
        let info_len = 4 + kind_pad;
        // NLA_F_NESTED is not set: Linux's rtnl_link_info_fill uses nla_nest_start_noflag.
        out[at..at + 2].copy_from_slice(&(info_len as u16).to_ne_bytes());
        out[at + 2..at + 4].copy_from_slice(&IFLA_LINKINFO.to_ne_bytes());
        out[at + 4..at + 6].copy_from_slice(&(kind_len as u16).to_ne_bytes());
        out[at + 6..at + 8].copy_from_slice(&IFLA_INFO_KIND.to_ne_bytes());
        out[at + 8..at + 8 + k.len()].fill(0);
        out[at + 8..at + 8 + k.len()].copy_from_slice(k);
        out[at + 8 + k.len()..at + info_len].fill(0);
        at += info_len;
    }
    at
}

/// Adds to each `RTM_NEWLINK` message of the datagram `buf[..len]` what it lacks and `lookup`
/// (given the message's index and name) has a record of, as [`supply_each`] does. `lookup` is
/// asked only for messages that lack something.
pub fn supply(
    buf: &mut [u8],
    len: usize,
    lookup: &mut dyn FnMut(u32, &Name) -> Option<Record>,
) -> Supplied {
    supply_each(buf, len, &mut |m, a| {
        let Some(l) = lacks(m).filter(|l| l.kind || l.master) else {
            return 0;
        };
        let name = attr(&m[LINK_ATTRS..], IFLA_IFNAME)
            .map(Name::from_attr)
            .unwrap_or_default();
        match lookup(u32_at(m, 20), &name).filter(|r| r.name == name) {
            Some(r) => attrs_for(&r, l, a),
            None => 0,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
    use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
    use netlink_packet_route::RouteNetlinkMessage;

    fn bytes(m: RouteNetlinkMessage, flags: u16) -> Vec<u8> {
        let mut nl = NetlinkMessage::from(m);
        nl.header.flags = flags;
        nl.finalize();
        let mut b = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut b);
        b
    }

    fn link(index: u32, name: &str, attrs: Vec<LinkAttribute>) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes.push(LinkAttribute::IfName(name.into()));
        m.attributes.extend(attrs);
        m
    }

    fn parse(b: &[u8]) -> Vec<LinkMessage> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < b.len() {
            let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&b[at..]).unwrap();
            at += m.header.length as usize;
            if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) = m.payload {
                out.push(l);
            }
        }
        out
    }

    const CREATE: u16 = NLM_F_REQUEST | 0x400 | 0x200 | 4;

    #[test]
    fn a_bridge_create_is_a_request_with_its_kind() {
        let m = link(
            0,
            "podman1",
            vec![LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )])],
        );
        let r = parse_request(&bytes(RouteNetlinkMessage::NewLink(m), CREATE)).unwrap();
        assert!(r.creates());
        assert_eq!(r.name.as_bytes(), b"podman1");
        assert_eq!(r.kind.as_bytes(), b"bridge");
        assert_eq!(r.master, None);
    }

    #[test]
    fn a_veth_create_with_a_master_carries_both() {
        let m = link(
            0,
            "veth0",
            vec![
                LinkAttribute::Controller(7),
                LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth)]),
            ],
        );
        let r = parse_request(&bytes(RouteNetlinkMessage::NewLink(m), CREATE)).unwrap();
        assert_eq!((r.kind.as_bytes(), r.master), (&b"veth"[..], Some(7)));
    }

    #[test]
    fn master_changes_and_deletes_by_index_are_requests_the_rest_are_not() {
        let set = link(4, "tv0", vec![LinkAttribute::Controller(3)]);
        let r = parse_request(&bytes(
            RouteNetlinkMessage::SetLink(set.clone()),
            NLM_F_REQUEST | 4,
        ));
        assert_eq!(
            r.map(|r| (r.ty, r.index, r.master)),
            Some((RTM_SETLINK, 4, Some(3)))
        );
        let r =
            parse_request(&bytes(RouteNetlinkMessage::NewLink(set), NLM_F_REQUEST | 4)).unwrap();
        assert!(!r.creates(), "no NLM_F_CREATE: a change, not a create");
        let nomaster = link(4, "tv0", vec![LinkAttribute::Controller(0)]);
        let r = parse_request(&bytes(
            RouteNetlinkMessage::NewLink(nomaster),
            NLM_F_REQUEST,
        ));
        assert_eq!(r.map(|r| r.master), Some(Some(0)));
        let del = link(4, "tv0", vec![]);
        let r = parse_request(&bytes(RouteNetlinkMessage::DelLink(del), NLM_F_REQUEST | 4));
        assert_eq!(r.map(|r| r.ty), Some(RTM_DELLINK));
        // Up without a master, a delete by name, a create without a kind: not followed.
        let up = link(4, "tv0", vec![]);
        assert_eq!(
            parse_request(&bytes(RouteNetlinkMessage::SetLink(up), NLM_F_REQUEST)),
            None
        );
        let del = link(0, "tv0", vec![]);
        assert_eq!(
            parse_request(&bytes(RouteNetlinkMessage::DelLink(del), NLM_F_REQUEST)),
            None
        );
        let unnamed = link(
            0,
            "",
            vec![LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Veth,
            )])],
        );
        let r = parse_request(&bytes(RouteNetlinkMessage::NewLink(unnamed), CREATE));
        assert_eq!(
            r.map(|r| r.creates()),
            Some(true),
            "an unnamed create is followed too"
        );
        let plain = link(0, "x0", vec![]);
        assert_eq!(
            parse_request(&bytes(RouteNetlinkMessage::NewLink(plain), CREATE)),
            None
        );
        // A GETLINK is not one.
        let get = link(4, "tv0", vec![]);
        assert_eq!(
            parse_request(&bytes(RouteNetlinkMessage::GetLink(get), NLM_F_REQUEST)),
            None
        );
    }

    #[test]
    fn records_round_trip_and_junk_is_refused() {
        let r = Record {
            name: Name::from_attr(b"podman1"),
            kind: Name::from_attr(b"bridge"),
            master: 0,
        };
        let mut b = [0u8; RECORD_MAX];
        let n = r.encode(&mut b);
        assert_eq!(&b[..n], b"podman1 bridge 0\n");
        assert_eq!(Record::decode(&b[..n]), Some(r));
        let v = Record {
            name: Name::from_attr(b"veth0123456789a"),
            kind: Name::default(),
            master: u32::MAX,
        };
        let n = v.encode(&mut b);
        assert_eq!(&b[..n], b"veth0123456789a - 4294967295\n");
        assert_eq!(Record::decode(&b[..n]), Some(v));
        for junk in [
            &b""[..],
            b"a b\n",
            b"a b 1",
            b"a b 1 2\n",
            b"a b x\n",
            b"a b 4294967296\n",
            b" b 1\n",
        ] {
            assert_eq!(
                Record::decode(junk),
                None,
                "{:?}",
                String::from_utf8_lossy(junk)
            );
        }
    }

    #[test]
    fn paths_name_the_namespace_and_index() {
        let mut p = [0u8; PATH_MAX];
        let n = path(4026531840, 12, None, &mut p);
        assert_eq!(&p[..n], b"/run/gvnet/links/4026531840-12\0");
        let n = path(u64::MAX, u32::MAX, Some(u32::MAX), &mut p);
        assert_eq!(
            &p[..n],
            b"/run/gvnet/links/18446744073709551615-4294967295.4294967295\0"
        );
    }

    #[test]
    fn file_names_read_back_as_written() {
        let mut p = [0u8; PATH_MAX];
        let n = path(4026531840, 12, None, &mut p);
        let name = &p[DIR.len()..n];
        assert_eq!(parse_file_name(name), Some((4026531840, 12)));
        for junk in [
            &b"4026531840-12.77\0"[..],
            b"-12",
            b"1-",
            b"a-1",
            b"1-4294967296",
            b".",
        ] {
            assert_eq!(
                parse_file_name(junk),
                None,
                "{:?}",
                String::from_utf8_lossy(junk)
            );
        }
    }

    #[test]
    fn supply_adds_kind_and_master_the_kernel_left_out() {
        // As gVisor 20240729 sends them: name only.
        let mut dg = bytes(RouteNetlinkMessage::NewLink(link(3, "podman1", vec![])), 2);
        dg.extend(bytes(
            RouteNetlinkMessage::NewLink(link(4, "veth0", vec![])),
            2,
        ));
        dg.extend(bytes(
            RouteNetlinkMessage::NewLink(link(1, "lo", vec![])),
            2,
        ));
        let len = dg.len();
        dg.resize(len + 100, 0xee);
        let mut asked = Vec::new();
        let s = supply(&mut dg, len, &mut |i, n| {
            asked.push(i);
            match i {
                3 => Some(Record {
                    name: *n,
                    kind: Name::from_attr(b"bridge"),
                    master: 0,
                }),
                4 => Some(Record {
                    name: *n,
                    kind: Name::from_attr(b"veth"),
                    master: 3,
                }),
                _ => None,
            }
        });
        assert_eq!(asked, [3, 4, 1]);
        assert_eq!((s.added, s.no_room), (2, 0));
        let got = parse(&dg[..s.len]);
        assert_eq!(got.len(), 3);
        assert!(got[0]
            .attributes
            .contains(&LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge
            )])));
        assert!(!got[0]
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::Controller(_))));
        assert!(got[1].attributes.contains(&LinkAttribute::Controller(3)));
        assert!(got[1]
            .attributes
            .contains(&LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Veth
            )])));
        assert_eq!(got[2], link(1, "lo", vec![]));
    }

    #[test]
    fn supply_keeps_what_the_kernel_reports_and_records_of_another_name() {
        let kernel = link(
            3,
            "podman1",
            vec![
                LinkAttribute::Controller(9),
                LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
            ],
        );
        let mut dg = bytes(RouteNetlinkMessage::NewLink(kernel.clone()), 2);
        let len = dg.len();
        dg.resize(len + 64, 0);
        let mut asked = 0;
        let s = supply(&mut dg, len, &mut |_, _| {
            asked += 1;
            None
        });
        assert_eq!(
            (asked, s.len, s.added),
            (0, len, 0),
            "nothing lacking: no lookup"
        );
        // A reused index under another name: the record is not this link's.
        let mut dg = bytes(RouteNetlinkMessage::NewLink(link(3, "other", vec![])), 2);
        let len = dg.len();
        dg.resize(len + 64, 0);
        let s = supply(&mut dg, len, &mut |_, _| {
            Some(Record {
                name: Name::from_attr(b"podman1"),
                kind: Name::from_attr(b"bridge"),
                master: 0,
            })
        });
        assert_eq!((s.len, s.added), (len, 0));
    }

    #[test]
    fn supply_without_room_changes_nothing() {
        let mut dg = bytes(RouteNetlinkMessage::NewLink(link(3, "podman1", vec![])), 2);
        let len = dg.len();
        let before = dg.clone();
        let s = supply(&mut dg, len, &mut |_, n| {
            Some(Record {
                name: *n,
                kind: Name::from_attr(b"bridge"),
                master: 0,
            })
        });
        assert_eq!((s.len, s.added, s.no_room), (len, 0, 1));
        assert_eq!(dg, before);
    }
}
