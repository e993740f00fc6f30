//! A link's kind (`IFLA_LINKINFO` / `IFLA_INFO_KIND`) and master (`IFLA_MASTER`) where the
//! kernel leaves them out of `RTM_NEWLINK` (gVisor 20240729), libc hooks only.
//!
//! Linux puts both into every link message (`rtnl_fill_ifinfo`). netavark (podman) asks for
//! a network's bridge by name and refuses a link without kind `bridge` ("could not determine
//! namespace link kind for bridge podman1": the second container on a network), and at a
//! container's teardown dumps the links whose master is the bridge and deletes the bridge when
//! none is left (with no `IFLA_MASTER` anywhere: while other containers still use it). Each
//! netavark run is a process of its own, so what one run created the next one reads: the
//! records are files, one per link, that every process with the library shares.
//!
//! ```text
//! send of a link request on a route socket (the caller's namespace = its socket's)
//!     create with a kind (veth: its host end, from crate::vethpeer), master set by index
//!         the request goes to the kernel; after success the kernel's own message for the link
//!         is read (a dump): what it lacks of what was asked is written to
//!         /run/gvnet/links/NS-INDEX ("NAME KIND MASTER")
//!     delete by index: after success, the link's record goes
//!     (a create or a delete also removes the records of links no longer there)
//! receive on a route socket (plain, or a strict dump before it is filtered)
//!     each RTM_NEWLINK that lacks kind or master and has a record of its index and name in
//!     the socket's namespace gets the attributes, appended at its end
//! ```
//!
//! No probe: the kernel's own message tells; where it reports both (Linux, release-20260817.0),
//! no file is ever written and a receive costs one failed stat of the directory per datagram
//! that has a link without kind or master (Linux's `lo`). A record names the link's name too:
//! a message of the same index under another name is not the recorded link. gVisor counts
//! indexes up without reuse, so a record left by a link deleted otherwise (a veth's host end
//! goes with its peer) names nothing; the files are a few bytes on the sandbox's /run.

use crate::abi::{nr, AT_FDCWD, O_CLOEXEC};
use crate::kernel::{dir_entries, net_ns, path_inode, Kernel};
use crate::linkrec::{
    lacks, parse_file_name, path, supply, Lacks, Record, Request, DIR, PARENT, PATH_MAX,
    RECORD_MAX, RTM_DELLINK,
};
use crate::membership::Table;
use crate::rtnl::RTM_GETLINK;
use crate::strictchk::dump;
use crate::trace::{self, Level, Line};
use crate::veth::{attr, u32_at, Name, IFLA_IFNAME, LINK_ATTRS};

fn sys<K: Kernel>(k: &K, n: usize, a: [usize; 6]) -> isize {
    // SAFETY: every caller passes NUL-terminated paths and live buffers of the lengths given.
    unsafe { k.syscall(n, a) }
}

/// The record of link `index` in namespace `ns`, if a file holds one.
fn read<K: Kernel>(k: &K, ns: u64, index: u32) -> Option<Record> {
    let mut p = [0u8; PATH_MAX];
    path(ns, index, None, &mut p);
    let fd = sys(
        k,
        nr::OPENAT,
        [AT_FDCWD, p.as_ptr() as usize, O_CLOEXEC, 0, 0, 0],
    );
    if fd < 0 {
        return None;
    }
    let mut b = [0u8; RECORD_MAX];
    let n = sys(
        k,
        nr::READ,
        [fd as usize, b.as_mut_ptr() as usize, b.len(), 0, 0, 0],
    );
    sys(k, nr::CLOSE, [fd as usize, 0, 0, 0, 0, 0]);
    if n <= 0 {
        return None;
    }
    Record::decode(&b[..n as usize])
}

/// Writes (or, for an empty record, removes) the record of link `index` in `ns`: written to a
/// file of this process's and renamed, so a reader sees the old record or the new one.
fn write<K: Kernel>(k: &K, ns: u64, index: u32, r: &Record) -> bool {
    let mut p = [0u8; PATH_MAX];
    path(ns, index, None, &mut p);
    if r.is_empty() {
        forget(k, ns, index);
        return true;
    }
    for d in [PARENT, DIR] {
        // 0755; EEXIST is the usual answer.
        sys(
            k,
            nr::MKDIRAT,
            [AT_FDCWD, d.as_ptr() as usize, 0o755, 0, 0, 0],
        );
    }
    let pid = sys(k, nr::GETPID, [0; 6]) as u32;
    let mut tmp = [0u8; PATH_MAX];
    path(ns, index, Some(pid), &mut tmp);
    // O_WRONLY | O_CREAT | O_TRUNC.
    let flags = 0o1 | 0o100 | 0o1000 | O_CLOEXEC;
    let fd = sys(
        k,
        nr::OPENAT,
        [AT_FDCWD, tmp.as_ptr() as usize, flags, 0o644, 0, 0],
    );
    if fd < 0 {
        return false;
    }
    let mut b = [0u8; RECORD_MAX];
    let n = r.encode(&mut b);
    let w = sys(k, nr::WRITE, [fd as usize, b.as_ptr() as usize, n, 0, 0, 0]);
    sys(k, nr::CLOSE, [fd as usize, 0, 0, 0, 0, 0]);
    let done = w == n as isize
        && sys(
            k,
            nr::RENAMEAT,
            [
                AT_FDCWD,
                tmp.as_ptr() as usize,
                AT_FDCWD,
                p.as_ptr() as usize,
                0,
                0,
            ],
        ) == 0;
    if !done {
        sys(
            k,
            nr::UNLINKAT,
            [AT_FDCWD, tmp.as_ptr() as usize, 0, 0, 0, 0],
        );
    }
    done
}

/// Removes the record of link `index` in `ns`, if any.
fn forget<K: Kernel>(k: &K, ns: u64, index: u32) {
    let mut p = [0u8; PATH_MAX];
    path(ns, index, None, &mut p);
    sys(k, nr::UNLINKAT, [AT_FDCWD, p.as_ptr() as usize, 0, 0, 0, 0]);
}

/// How many link indexes a dump remembers for [`sweep`]; with more links, no sweep.
const LIVE: usize = 256;

/// The indexes of the links a dump saw (`n > LIVE`: too many to remember).
struct Live {
    index: [u32; LIVE],
    n: usize,
}

impl Live {
    const fn new() -> Live {
        Live {
            index: [0; LIVE],
            n: 0,
        }
    }
}

/// The kernel's message for a link of the calling thread's namespace, the one with `index`,
/// or with `name` when `index` is 0: (index, name, what it lacks). `live` gets every index.
fn reported<K: Kernel>(
    k: &K,
    index: u32,
    name: &Name,
    live: &mut Live,
) -> Option<(u32, Name, Lacks)> {
    let mut found = None;
    dump(k, RTM_GETLINK, 0, &mut |m| {
        let Some(l) = lacks(m) else { return };
        let i = u32_at(m, 20);
        if live.n < LIVE {
            live.index[live.n] = i;
        }
        live.n += 1;
        let end = (u32_at(m, 0) as usize).min(m.len());
        let n = attr(&m[LINK_ATTRS..end], IFLA_IFNAME)
            .map(Name::from_attr)
            .unwrap_or_default();
        if (index != 0 && i == index) || (index == 0 && n == *name) {
            found = Some((i, n, l));
        }
    });
    found
}

/// Removes the records of namespace `ns` whose link is gone (not in `live`, a dump of `ns`
/// just made): a veth's host end goes with its peer, a link may be deleted by name.
fn sweep<K: Kernel>(k: &K, ns: u64, live: &Live) {
    if live.n > LIVE {
        return;
    }
    dir_entries(k, DIR, &mut |name, _| {
        if let Some((rns, index)) = parse_file_name(name) {
            if rns == ns && !live.index[..live.n].contains(&index) {
                forget(k, ns, index);
            }
        }
        true
    });
}

/// After the create of link `index` (0: find it by `name`) in namespace `ns` (the thread's)
/// with kind `kind` and master `master`: records what the kernel's message for it lacks, and
/// removes the records of links that are gone.
pub fn created<K: Kernel>(k: &K, ns: u64, index: u32, name: &Name, kind: &Name, master: u32) {
    let mut live = Live::new();
    let Some((index, name, l)) = reported(k, index, name, &mut live) else {
        return;
    };
    if l.kind || l.master {
        sweep(k, ns, &live);
    }
    let r = Record {
        name,
        kind: if l.kind { *kind } else { Name::default() },
        master: if l.master { master } else { 0 },
    };
    if r.is_empty() {
        return;
    }
    let ok = write(k, ns, index, &r);
    if trace::enabled(Level::Info) {
        let mut line = Line::new(Level::Info);
        line.str("link ")
            .bytes(name.as_bytes())
            .str(" (index ")
            .dec(i64::from(index))
            .str(") created: the kernel reports no ")
            .str(match (r.kind.is_empty(), r.master == 0) {
                (false, false) => "kind and no master",
                (false, true) => "kind",
                _ => "master",
            })
            .str(if ok {
                "; recorded, supplied on receive (IFLA_LINKINFO kind "
            } else {
                "; the record could not be written under /run/gvnet/links (kind "
            })
            .bytes(if r.kind.is_empty() {
                b"-"
            } else {
                r.kind.as_bytes()
            })
            .str(", IFLA_MASTER ")
            .dec(i64::from(r.master))
            .str(")");
        line.emit();
    }
}

/// After a change of link `index`'s master to `master` (0: none) in `ns`.
fn master_set<K: Kernel>(k: &K, ns: u64, index: u32, master: u32) {
    let mut live = Live::new();
    let Some((index, name, l)) = reported(k, index, &Name::default(), &mut live) else {
        return;
    };
    if !l.master {
        return;
    }
    let mut r = read(k, ns, index)
        .filter(|r| r.name == name)
        .unwrap_or(Record {
            name,
            ..Record::default()
        });
    r.master = master;
    write(k, ns, index, &r);
    if trace::enabled(Level::Debug) {
        let mut line = Line::new(Level::Debug);
        line.str("link ")
            .bytes(name.as_bytes())
            .str(" (index ")
            .dec(i64::from(index))
            .str("): master ")
            .dec(i64::from(master))
            .str(" recorded (the kernel reports none)");
        line.emit();
    }
}

/// Sends the link request `r` (the caller's, read by [`crate::linkrec::parse_request`]) on
/// route socket `fd` with `send`; when it succeeded in the thread's namespace, updates the
/// records. Returns `send`'s result unchanged.
pub fn around_request<K: Kernel>(
    k: &K,
    t: &Table,
    fd: usize,
    r: &Request,
    send: &dyn Fn() -> isize,
) -> isize {
    let here = net_ns(k);
    let sock = t.recorded_ns(k, fd);
    let res = send();
    if res < 0 || here == 0 || (sock != 0 && sock != here) {
        return res;
    }
    after(k, here, r);
    res
}

fn after<K: Kernel>(k: &K, ns: u64, r: &Request) {
    if r.ty == RTM_DELLINK {
        forget(k, ns, r.index);
        if any(k) {
            // A bridge goes last at a network's teardown: the records of its ports go too.
            // The dump is for `live` alone: no link has index u32::MAX.
            let mut live = Live::new();
            reported(k, u32::MAX, &Name::default(), &mut live);
            sweep(k, ns, &live);
        }
    } else if r.creates() {
        if r.index == 0 && r.name.is_empty() {
            // An unnamed veth end: crate::vethpeer finds it and records it.
            return;
        }
        created(k, ns, r.index, &r.name, &r.kind, r.master.unwrap_or(0));
    } else if let Some(m) = r.master {
        master_set(k, ns, r.index, m);
    }
}

/// Whether the records' directory exists: a receive reads records only then.
fn any<K: Kernel>(k: &K) -> bool {
    path_inode(k, DIR).is_ok()
}

/// After a receive of `len` bytes into `buf` (the caller's whole buffer) on route socket `fd`:
/// the length the caller gets, with kind and master supplied from the records of the socket's
/// namespace.
pub fn received<K: Kernel>(k: &K, t: &Table, fd: usize, buf: &mut [u8], len: usize) -> usize {
    if len < LINK_ATTRS {
        return len;
    }
    // Asked once per datagram, on its first link that lacks something.
    let mut ns: Option<u64> = None;
    let s = supply(buf, len, &mut |index, _name| {
        let here = *ns.get_or_insert_with(|| if any(k) { t.socket_ns(k, fd) } else { 0 });
        if here == 0 {
            return None;
        }
        read(k, here, index)
    });
    if s.no_room > 0 {
        trace::line(
            Level::Warn,
            "a link's RTM_NEWLINK received without kind or master: no room in the caller's buffer to add them",
        );
    }
    if s.added > 0 && trace::enabled(Level::Debug) {
        let mut l = Line::new(Level::Debug);
        l.str("kind/master supplied in ")
            .dec(s.added as i64)
            .str(" RTM_NEWLINK message(s) received on fd ")
            .dec(fd as i64);
        l.emit();
    }
    s.len
}
