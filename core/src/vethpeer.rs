//! `IFLA_LINK` on a veth's ends where the kernel leaves it out (gVisor), libc hooks only.
//!
//! Linux puts into every `RTM_NEWLINK` of a veth its peer's ifindex (`IFLA_LINK`, from
//! `veth_get_iflink`), also when the peer lives in another network namespace. netavark
//! (podman) creates a pair from the sandbox's namespace with the peer moved into the
//! container's (`IFLA_NET_NS_FD`), reads the peer by name in the container's namespace and
//! takes the host end's index from that `IFLA_LINK` to set the host end up. gVisor's
//! `RTM_NEWLINK` for a veth carries no `IFLA_LINK` (20240729: name, MTU and addresses;
//! 20260817 adds `IFLA_LINKINFO` kind `veth`), so netavark sets up index 0: ENODEV.
//!
//! ```text
//! send of RTM_NEWLINK kind veth (the caller's namespace = its socket's)
//!     before: link indexes of that namespace (a dump on a private socket)
//!     the request goes to the kernel unchanged
//!     after: the links that are new there; the host end is the one named as requested, else
//!            the one that is not the peer, else the only new one
//!     Pairs::record(host namespace, host index, peer namespace, peer name [, peer index])
//! receive on a NETLINK_ROUTE socket while a pair is recorded
//!     supply: each RTM_NEWLINK without IFLA_LINK that is a recorded end, in the socket's
//!     namespace, gets IFLA_LINK = the other end's index, appended as its last attribute
//! ```
//!
//! No probe: the kernel's own answer tells (an end without `IFLA_LINK`); where the kernel
//! puts it in (Linux, `GVNET_MODE=force`), nothing is added. The cost, two link dumps per veth
//! created, is paid only where gvnet is active. The pair is known only to the process that
//! created it (netavark creates and reads in one process), and `IFLA_LINK_NETNSID`, which
//! Linux adds for a peer in another namespace, is not: gVisor has no namespace ids.
//!
//! A socket's namespace is the one recorded when gvnet first saw the socket
//! ([`crate::membership::Slot::netns`], set where `NETLINK_GET_STRICT_CHK` is emulated, which
//! netlink-sys sets right after socket(2)), else the calling thread's.

use crate::kernel::{inode, net_ns, path_inode, Kernel};
use crate::linkrec::parse_request;
use crate::linkstore::created;
use crate::membership::Table;
use crate::rtnl::RTM_GETLINK;
use crate::strictchk::dump;
use crate::trace::{self, Level, Line};
use crate::veth::{
    attr, parse_create, pick, supply, u16_at, u32_at, Link, Name, Pairs, PeerNs, IFLA_IFNAME,
    LINK_ATTRS, RTM_NEWLINK,
};

/// The largest create request read; netavark's is about 120 bytes.
pub const MAX_REQUEST: usize = 1024;
/// How many links of the namespace are remembered before the create; with more, a link is
/// taken as new when its index is above the largest one seen (both kernels count up).
const BEFORE: usize = 256;

/// The peer's namespace for a create: the socket's ([`PeerNs::Same`]), an fd's, or a
/// process's. 0 where it cannot be read.
fn peer_ns<K: Kernel>(k: &K, here: u64, p: PeerNs) -> u64 {
    match p {
        PeerNs::Same => here,
        PeerNs::Fd(fd) => inode(k, fd as usize).unwrap_or(0),
        PeerNs::Pid(pid) => {
            // "/proc/" + up to 10 digits + "/ns/net" + NUL.
            let mut path = [0u8; 32];
            let mut at = 0;
            for &c in b"/proc/" {
                path[at] = c;
                at += 1;
            }
            let mut digits = [0u8; 10];
            let (mut v, mut n) = (pid, 0);
            loop {
                digits[n] = b'0' + (v % 10) as u8;
                n += 1;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            for d in digits[..n].iter().rev() {
                path[at] = *d;
                at += 1;
            }
            for &c in b"/ns/net\0" {
                path[at] = c;
                at += 1;
            }
            path_inode(k, &path[..at]).unwrap_or(0)
        }
    }
}

/// The links of the calling thread's namespace (index and name), each given to `each`.
fn links<K: Kernel>(k: &K, each: &mut dyn FnMut(Link)) {
    dump(k, RTM_GETLINK, 0, &mut |m| {
        if u16_at(m, 4) == RTM_NEWLINK && m.len() >= LINK_ATTRS {
            let end = (u32_at(m, 0) as usize).min(m.len());
            let name = attr(&m[LINK_ATTRS..end], IFLA_IFNAME)
                .map(Name::from_attr)
                .unwrap_or_default();
            each(Link {
                index: u32_at(m, 20),
                name,
            });
        }
    });
}

/// Sends the request `req` (the caller's, read) on route socket `fd` with `send`, and when it
/// is a veth create in the thread's namespace, finds the ends it made and records them in
/// `pairs`. Returns `send`'s result unchanged.
pub fn around_create<K: Kernel>(
    k: &K,
    t: &Table,
    pairs: &Pairs,
    fd: usize,
    req: &[u8],
    send: &dyn Fn() -> isize,
) -> isize {
    let Some(c) = parse_create(req) else {
        return send();
    };
    // One stat of the thread's namespace serves both: an unrecorded socket is taken as the
    // thread's (Table::socket_ns).
    let here = net_ns(k);
    let sock = t.recorded_ns(k, fd);
    if here == 0 || (sock != 0 && sock != here) {
        trace::line(
            Level::Info,
            "veth create on a socket of another namespace than the thread's: its ends are not \
             followed (no IFLA_LINK supplied for them)",
        );
        return send();
    }
    let mut before = [0u32; BEFORE];
    let (mut nb, mut max, mut overflow) = (0usize, 0u32, false);
    links(k, &mut |l| {
        max = max.max(l.index);
        if nb < BEFORE {
            before[nb] = l.index;
            nb += 1;
        } else {
            overflow = true;
        }
    });
    let r = send();
    if r < 0 {
        return r;
    }
    let mut new = [Link::default(); 4];
    let mut nn = 0usize;
    links(k, &mut |l| {
        let old = if overflow {
            l.index <= max
        } else {
            before[..nb].contains(&l.index)
        };
        if !old {
            if nn < new.len() {
                new[nn] = l;
            }
            nn += 1;
        }
    });
    let found = if nn <= new.len() {
        pick(&c, &new[..nn])
    } else {
        None
    };
    let Some((host, peer)) = found else {
        if trace::enabled(Level::Info) {
            let mut l = Line::new(Level::Info);
            l.str("veth create: ")
                .dec(nn as i64)
                .str(" new link(s) in this namespace, not one host end: no IFLA_LINK supplied for this pair");
            l.emit();
        }
        return r;
    };
    let pns = peer_ns(k, here, c.peer_ns);
    let peer = peer.unwrap_or(Link {
        index: 0,
        name: c.peer,
    });
    pairs.record(here, host.index, pns, peer);
    // Its kind and master, where the kernel leaves them out (crate::linkstore).
    let master = parse_request(req).and_then(|r| r.master).unwrap_or(0);
    created(
        k,
        here,
        host.index,
        &host.name,
        &Name::from_attr(b"veth"),
        master,
    );
    if trace::enabled(Level::Info) {
        let mut l = Line::new(Level::Info);
        l.str("veth created: host end ")
            .bytes(host.name.as_bytes())
            .str(" (index ")
            .dec(i64::from(host.index))
            .str("), peer ")
            .bytes(peer.name.as_bytes())
            .str(if pns == here {
                " here"
            } else {
                " in namespace "
            });
        if pns != here {
            l.dec(pns as i64);
        }
        l.str(": IFLA_LINK supplied on receive where the kernel leaves it out");
        l.emit();
    }
    r
}

/// After a receive of `len` bytes into the caller's `buf` on socket `fd`: the length the
/// caller gets, with `IFLA_LINK` supplied ([`supply`]) in the socket's namespace.
pub fn received<K: Kernel>(
    k: &K,
    t: &Table,
    pairs: &Pairs,
    fd: usize,
    buf: &mut [u8],
    len: usize,
) -> usize {
    if pairs.is_empty() || len < LINK_ATTRS {
        return len;
    }
    let ns = t.socket_ns(k, fd);
    let s = supply(buf, len, ns, pairs);
    if s.no_room > 0 {
        trace::line(
            Level::Warn,
            "a veth end's RTM_NEWLINK received without IFLA_LINK: no room in the caller's buffer to add it",
        );
    }
    if s.added > 0 && trace::enabled(Level::Debug) {
        let mut l = Line::new(Level::Debug);
        l.str("IFLA_LINK supplied in ")
            .dec(s.added as i64)
            .str(" veth RTM_NEWLINK message(s) received on fd ")
            .dec(fd as i64);
        l.emit();
    }
    s.len
}
