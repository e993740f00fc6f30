//! `RTM_SETLINK` with `NLM_F_CREATE`, which gVisor refuses (libc hooks only).
//!
//! netavark (podman's network backend, netlink-packet-route over libc `send`) sets links up,
//! masters them, renames and moves them with `RTM_SETLINK` and the flags
//! `NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE`. Linux's `rtnl_setlink`
//! (net/core/rtnetlink.c) never looks at `nlmsg_flags`: `CREATE`, `EXCL` and `REPLACE` mean
//! nothing to it. gVisor's `setLink` (pkg/sentry/socket/netlink/route/protocol.go) answers
//! EINVAL when `NLM_F_CREATE` is set, and its `SetInterface`, which does the work for
//! `RTM_NEWLINK` and `RTM_SETLINK` alike, answers EEXIST for an existing device when `EXCL` or
//! `REPLACE` is set. Without those three flags gVisor's setlink does what Linux's does (for what
//! gVisor supports at all: up, master, name, MTU, address, namespace), and a device that does
//! not exist is ENODEV in both.
//!
//! So where the probe finds `RTM_SETLINK | NLM_F_CREATE` refused (`caps::Native::SETLINK`),
//! the send hooks send a copy of the caller's request without those flags ([`rewrite`]); the
//! caller's memory is never written. The ack's echoed header (`nlmsgerr.msg`) is the copy's:
//! the same type, sequence number and pid, the flags without `CREATE | EXCL | REPLACE`.
//! netlink-packet-core (netavark) matches an ack by its sequence number and error code alone.

use crate::abi;

/// `RTM_SETLINK`.
pub const RTM_SETLINK: u16 = 19;
/// `NLM_F_REPLACE`.
pub const NLM_F_REPLACE: u16 = 0x100;
/// `NLM_F_EXCL`.
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`.
pub const NLM_F_CREATE: u16 = 0x400;
/// The flags `rtnl_setlink` ignores and gVisor refuses on `RTM_SETLINK`.
pub const DROPPED: u16 = NLM_F_REPLACE | NLM_F_EXCL | NLM_F_CREATE;
/// The largest request copied: a larger one goes to the kernel unchanged. netavark's setlink
/// requests are under 100 bytes; the copy lives on the hook's stack.
pub const MAX_COPY: usize = 4096;

const NLMSG_HDRLEN: usize = 16;

/// Whether the first message of `head` (at least its first 6 bytes: length and type) is an
/// `RTM_SETLINK` carrying one of [`DROPPED`]: the cheap test before a request is copied.
pub fn wants(head: &[u8]) -> bool {
    match head.get(4..8) {
        Some(b) => {
            u16::from_ne_bytes([b[0], b[1]]) == RTM_SETLINK
                && u16::from_ne_bytes([b[2], b[3]]) & DROPPED != 0
        }
        None => false,
    }
}

/// Clears [`DROPPED`] in every well-formed `RTM_SETLINK` request of `buf` (a datagram of one or
/// more netlink messages, walked as `netlink_rcv_skb` walks it: a message shorter than its
/// header or longer than what is left ends the walk). Returns how many messages were changed;
/// nothing else in `buf` is touched.
pub fn rewrite(buf: &mut [u8]) -> usize {
    let mut at = 0;
    let mut changed = 0;
    while let Some(h) = buf.get(at..at + NLMSG_HDRLEN) {
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() - at {
            break;
        }
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        let flags = u16::from_ne_bytes([h[6], h[7]]);
        if ty == RTM_SETLINK && flags & abi::NLM_F_REQUEST != 0 && flags & DROPPED != 0 {
            buf[at + 6..at + 8].copy_from_slice(&(flags & !DROPPED).to_ne_bytes());
            changed += 1;
        }
        // NLMSG_ALIGN(len); an overflow cannot happen (len <= buf.len()).
        at += (len + 3) & !3;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{
        NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
        NLM_F_REQUEST,
    };
    use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
    use netlink_packet_route::RouteNetlinkMessage;

    /// A request as netavark builds it (`set_up`: ifi_flags = ifi_change = IFF_UP).
    fn netavark_setlink(index: u32, name: Option<&str>, seq: u32) -> Vec<u8> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        if let Some(n) = name {
            link.attributes.push(LinkAttribute::IfName(n.to_string()));
        }
        let mut h = NetlinkHeader::default();
        h.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
        h.sequence_number = seq;
        let mut m =
            NetlinkMessage::new(h, NetlinkPayload::from(RouteNetlinkMessage::SetLink(link)));
        m.finalize();
        let mut buf = vec![0u8; m.buffer_len()];
        m.serialize(&mut buf);
        buf
    }

    fn parse(buf: &[u8]) -> NetlinkMessage<RouteNetlinkMessage> {
        NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf).unwrap()
    }

    #[test]
    fn netavarks_setlink_loses_create_and_excl_and_nothing_else() {
        let orig = netavark_setlink(1, Some("lo"), 7);
        assert!(wants(&orig));
        let mut copy = orig.clone();
        assert_eq!(rewrite(&mut copy), 1);
        let (a, b) = (parse(&orig), parse(&copy));
        assert_eq!(b.header.flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(b.header.sequence_number, 7);
        assert_eq!(b.header.message_type, RTM_SETLINK);
        assert_eq!(
            a.payload, b.payload,
            "the ifinfomsg and attributes are the caller's"
        );
        // Only bytes 6..8 (the flags) differ.
        let diff: Vec<usize> = (0..orig.len()).filter(|&i| orig[i] != copy[i]).collect();
        assert!(diff.iter().all(|&i| i == 6 || i == 7), "{diff:?}");
        assert!(!wants(&copy), "a rewritten request needs nothing more");
        assert_eq!(rewrite(&mut copy), 0);
    }

    #[test]
    fn other_requests_and_short_or_bad_buffers_are_left_alone() {
        // An RTM_NEWLINK with CREATE | EXCL (creating a link) keeps its flags.
        let mut newlink = netavark_setlink(0, Some("br0"), 1);
        newlink[4..6].copy_from_slice(&16u16.to_ne_bytes());
        let before = newlink.clone();
        assert!(!wants(&newlink));
        assert_eq!(rewrite(&mut newlink), 0);
        assert_eq!(newlink, before);
        // A setlink without any of the flags (iproute2 sends RTM_NEWLINK; others SETLINK bare).
        let mut bare = netavark_setlink(1, None, 2);
        bare[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        assert!(!wants(&bare));
        assert_eq!(rewrite(&mut bare), 0);
        // Truncated: the length says more than there is; header too short.
        let mut cut = netavark_setlink(1, None, 3);
        let n = cut.len();
        let mut cut = cut.split_off(0);
        cut.truncate(n - 4);
        let before = cut.clone();
        assert_eq!(rewrite(&mut cut), 0);
        assert_eq!(cut, before);
        assert!(!wants(&[0u8; 5]));
        assert_eq!(rewrite(&mut [0u8; 15]), 0);
        // A length below the header's ends the walk.
        let mut zero = [0u8; 32];
        zero[4..6].copy_from_slice(&RTM_SETLINK.to_ne_bytes());
        zero[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_CREATE).to_ne_bytes());
        assert_eq!(rewrite(&mut zero), 0);
    }

    #[test]
    fn every_setlink_of_a_batch_is_rewritten() {
        let mut batch = netavark_setlink(1, None, 1);
        let mut newlink = netavark_setlink(0, Some("x"), 2);
        newlink[4..6].copy_from_slice(&16u16.to_ne_bytes());
        batch.extend_from_slice(&newlink);
        batch.extend_from_slice(&netavark_setlink(3, Some("eth0"), 3));
        assert_eq!(rewrite(&mut batch), 2);
        let first = parse(&batch);
        let l1 = first.header.length as usize;
        let second = parse(&batch[l1..]);
        let l2 = second.header.length as usize;
        let third = parse(&batch[l1 + l2..]);
        assert_eq!(first.header.flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(
            second.header.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
        );
        assert_eq!(third.header.flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(third.header.sequence_number, 3);
    }
}
