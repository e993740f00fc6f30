//! The one IPv6 sysctl dockerd needs and gVisor lacks:
//! `/proc/sys/net/ipv6/conf/IFACE/disable_ipv6`.
//!
//! gVisor has no `/proc/sys/net/ipv6/conf` (20240729 has no `/proc/sys/net/ipv6` at all; the
//! current build has the directory with four stubs and no `conf/`), although its netstack runs IPv6 on
//! every interface (addresses, neighbour discovery, routes and TCP over bridges and veth pairs
//! work; docs/docker.md). moby's bridge driver reads that file for the bridge of every network
//! created with `--ipv6` (`setupBridgeIPv6`) and fails the network with `Cannot read IPv6 setup
//! for bridge`. It writes the file only when the value read is not `0`.
//!
//! gvnet answers the read, and only the read, with what is true there: `0` (IPv6 enabled). It
//! does so only when all of these hold, so a kernel that has the file, or a name that is no
//! interface, is answered by the kernel:
//! * the kernel's own `openat` returned ENOENT;
//! * the path is absolute, `/proc/sys/net/ipv6/conf/NAME/disable_ipv6`, NAME one path element;
//! * it is opened for reading (`O_RDONLY`);
//! * `/proc/sys/net/ipv6/conf` does not exist (a kernel with IPv6's per-interface sysctls has
//!   it; the constructor leaves the `openat` trap out where it exists, or where IPv6 itself is
//!   off: [`crate::caps::Native::IPV6_SYSCTL`]);
//! * NAME is `all`, `default`, or an interface of the caller's network namespace
//!   (`SIOCGIFINDEX`);
//! * the calling thread is in the process's own network namespace (`/proc/thread-self/ns/net`
//!   and `/proc/self/ns/net` name the same inode). gVisor cannot turn IPv6 off on one
//!   interface, so a read of `0` must not be followed by a write of `1`: moby reads the file for
//!   a container's `eth0` from a thread inside the container's namespace and, for an IPv4-only
//!   container, writes `1` when it read `0` (and fails the container when the write fails),
//!   but on ENOENT it goes on without IPv6 changes. Its bridges live in its own namespace.
//!
//! The answer is a memfd holding `0\n`, positioned at 0, close-on-exec when asked.

use crate::abi::{errno, nr, AT_FDCWD, O_CLOEXEC, O_DIRECTORY};
use crate::call::{Action, Call, Outcome};
use crate::kernel::{path_inode, read_user, Kernel};

/// The directory a kernel with IPv6's per-interface sysctls has.
pub const IPV6_CONF_DIR: &[u8] = b"/proc/sys/net/ipv6/conf\0";
const PREFIX: &[u8] = b"/proc/sys/net/ipv6/conf/";
const LEAF: &[u8] = b"/disable_ipv6";
/// Longest path considered: prefix + IFNAMSIZ - 1 + leaf (`/route_localnet`, the longest of
/// both kinds).
const MAX_PATH: usize = 24 + 15 + 15;
/// The directory a kernel with IPv4's per-interface sysctls has (gVisor has none).
pub const IPV4_CONF_DIR: &[u8] = b"/proc/sys/net/ipv4/conf\0";
const V4_PREFIX: &[u8] = b"/proc/sys/net/ipv4/conf/";
/// The IPv4 per-interface files netavark sets (on its bridge, and on `eth0` in a container's
/// namespace). Linux's default for each is 0 (`ipv4_devconf`/`ipv4_devconf_dflt` in
/// net/ipv4/devinet.c leave them 0; distributions set `rp_filter` 2 in sysctl.d).
const V4_LEAVES: [&[u8]; 3] = [b"route_localnet", b"rp_filter", b"arp_notify"];
/// `O_ACCMODE`, `O_RDONLY`.
const O_ACCMODE: usize = 3;
const O_RDONLY: usize = 0;
const F_OK: usize = 0;
const MFD_CLOEXEC: usize = 1;
const SIOCGIFINDEX: usize = 0x8933;
/// `sizeof(struct ifreq)`.
const IFREQ_LEN: usize = 40;
const AF_INET: usize = 2;
const SOCK_DGRAM_CLOEXEC: usize = 2 | O_CLOEXEC;
/// What a read of the emulated file returns.
const ENABLED: &[u8] = b"0\n";

/// Reads the NUL-terminated path at `addr` into `buf` in 16-byte aligned pieces (a piece never
/// crosses a page, so a short string at the end of a mapping reads fine). Returns its length
/// without the NUL, or None when it is longer than `buf` or unreadable.
fn read_path<K: Kernel>(k: &K, addr: usize, buf: &mut [u8; MAX_PATH + 1]) -> Option<usize> {
    let mut got = 0;
    while got < buf.len() {
        let at = addr.checked_add(got)?;
        let piece = (16 - at % 16).min(buf.len() - got);
        let part = buf.get_mut(got..got + piece)?;
        read_user(k, at, part).ok()?;
        if let Some(i) = part.iter().position(|&b| b == 0) {
            return Some(got + i);
        }
        got += piece;
    }
    None
}

/// NAME of `/proc/sys/net/ipv6/conf/NAME/disable_ipv6`, if `path` is that.
fn iface_of(path: &[u8]) -> Option<&[u8]> {
    let name = path.strip_prefix(PREFIX)?.strip_suffix(LEAF)?;
    let ok = !name.is_empty() && name.len() <= 15 && !name.contains(&b'/') && name != b"..";
    ok.then_some(name)
}

/// NAME of `/proc/sys/net/ipv4/conf/NAME/LEAF`, LEAF one of [`V4_LEAVES`], if `path` is that.
fn ipv4_iface_of(path: &[u8]) -> Option<&[u8]> {
    let rest = path.strip_prefix(V4_PREFIX)?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (name, leaf) = (rest.get(..slash)?, rest.get(slash + 1..)?);
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != b".."
        && name != b"."
        && V4_LEAVES.contains(&leaf);
    ok.then_some(name)
}

/// Whether NAME is `all`, `default` or an interface of the caller's network namespace.
fn iface_exists<K: Kernel>(k: &K, name: &[u8]) -> bool {
    if name == b"all" || name == b"default" {
        return true;
    }
    let mut ifr = [0u8; IFREQ_LEN];
    match ifr.get_mut(..name.len()) {
        Some(dst) => dst.copy_from_slice(name),
        None => return false,
    }
    // SAFETY: socket, ioctl on it with a live 40-byte ifreq, close: no memory of the program.
    unsafe {
        let s = k.syscall(nr::SOCKET, [AF_INET, SOCK_DGRAM_CLOEXEC, 0, 0, 0, 0]);
        if s < 0 {
            return false;
        }
        let r = k.syscall(
            nr::IOCTL,
            [s as usize, SIOCGIFINDEX, ifr.as_mut_ptr() as usize, 0, 0, 0],
        );
        k.syscall(nr::CLOSE, [s as usize, 0, 0, 0, 0, 0]);
        r == 0
    }
}

/// Whether the calling thread is in the network namespace of the process (its main thread).
fn in_own_namespace<K: Kernel>(k: &K) -> bool {
    match (
        path_inode(k, b"/proc/thread-self/ns/net\0"),
        path_inode(k, b"/proc/self/ns/net\0"),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A memfd holding [`ENABLED`], at offset 0; or `-errno`.
fn answer<K: Kernel>(k: &K, cloexec: bool) -> isize {
    answer_named(k, b"gvnet-disable_ipv6\0", cloexec)
}

/// A memfd called `name` (NUL-terminated) holding `0\n`, at offset 0; or `-errno`.
fn answer_named<K: Kernel>(k: &K, name: &[u8], cloexec: bool) -> isize {
    let flags = if cloexec { MFD_CLOEXEC } else { 0 };
    // SAFETY: memfd_create with a static NUL-terminated name; write of a static buffer; lseek.
    unsafe {
        let fd = k.syscall(
            nr::MEMFD_CREATE,
            [name.as_ptr() as usize, flags, 0, 0, 0, 0],
        );
        if fd < 0 {
            return fd;
        }
        let w = k.syscall(
            nr::WRITE,
            [
                fd as usize,
                ENABLED.as_ptr() as usize,
                ENABLED.len(),
                0,
                0,
                0,
            ],
        );
        let s = k.syscall(nr::LSEEK, [fd as usize, 0, 0, 0, 0, 0]);
        if w != ENABLED.len() as isize || s != 0 {
            k.syscall(nr::CLOSE, [fd as usize, 0, 0, 0, 0, 0]);
            return -(errno::EIO as isize);
        }
        fd
    }
}

/// `openat`: the kernel's answer, unless it is the missing IPv6 sysctl described above.
pub fn openat<K: Kernel>(k: &K, c: &Call) -> Outcome {
    // SAFETY: the program's own arguments, handed to the kernel unchanged.
    let ret = unsafe { k.syscall(c.nr, c.args) };
    let passed = Outcome {
        ret,
        action: Action::PassedThrough,
        addr: None,
    };
    if ret != -(errno::ENOENT as isize) || c.args[2] & O_ACCMODE != O_RDONLY {
        return passed;
    }
    let mut buf = [0u8; MAX_PATH + 1];
    let Some(len) = read_path(k, c.args[1], &mut buf) else {
        return passed;
    };
    let Some(name) = buf.get(..len).and_then(iface_of) else {
        return passed;
    };
    // SAFETY: faccessat of a static NUL-terminated path.
    let dir = unsafe {
        k.syscall(
            nr::FACCESSAT,
            [AT_FDCWD, IPV6_CONF_DIR.as_ptr() as usize, F_OK, 0, 0, 0],
        )
    };
    if dir != -(errno::ENOENT as isize) || !in_own_namespace(k) || !iface_exists(k, name) {
        return passed;
    }
    let fd = answer(k, c.args[2] & O_CLOEXEC != 0);
    if fd < 0 {
        return passed;
    }
    Outcome {
        ret: fd,
        action: Action::Ipv6SysctlAnswered,
        addr: None,
    }
}

/// An open (libc `open`, `open64`, `openat`, `openat64`: netavark's `std::fs`) of the path at
/// `path` with `flags`, which the kernel answered `ret`: `Some(fd)` where gvnet answers it
/// instead. That is when the kernel said ENOENT, the path is absolute,
/// `/proc/sys/net/ipv4/conf/NAME/LEAF` with LEAF one of `route_localnet`, `rp_filter`,
/// `arp_notify`, `/proc/sys/net/ipv4/conf` does not exist, no `O_DIRECTORY` is asked for, and
/// NAME is `all`, `default` or an interface of the calling thread's network namespace (any
/// namespace: netavark sets `eth0`'s in the container's). The fd is a memfd holding Linux's
/// default, `0\n`, at offset 0, close-on-exec when asked, readable and writable whatever the
/// access mode: a write is accepted and kept in that memfd alone (gVisor has no such setting
/// to change), so the next open reads `0` again.
pub fn ipv4_conf_open<K: Kernel>(k: &K, path: usize, flags: usize, ret: isize) -> Option<isize> {
    if ret != -(errno::ENOENT as isize) || flags & O_DIRECTORY != 0 {
        return None;
    }
    let mut buf = [0u8; MAX_PATH + 1];
    let len = read_path(k, path, &mut buf)?;
    let name = buf.get(..len).and_then(ipv4_iface_of)?;
    // SAFETY: faccessat of a static NUL-terminated path.
    let dir = unsafe {
        k.syscall(
            nr::FACCESSAT,
            [AT_FDCWD, IPV4_CONF_DIR.as_ptr() as usize, F_OK, 0, 0, 0],
        )
    };
    if dir != -(errno::ENOENT as isize) || !iface_exists(k, name) {
        return None;
    }
    let fd = answer_named(k, b"gvnet-ipv4-conf\0", flags & O_CLOEXEC != 0);
    (fd >= 0).then_some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fake::FakeKernel;

    fn open_call(path: &core::ffi::CStr, flags: usize) -> Call {
        Call {
            nr: nr::OPENAT,
            args: [AT_FDCWD, path.as_ptr() as usize, flags, 0, 0, 0],
        }
    }

    const ENOENT: isize = -(errno::ENOENT as isize);
    const RD: usize = O_RDONLY | O_CLOEXEC;

    /// A kernel without /proc/sys/net/ipv6, where `socket` gives fd 9 and SIOCGIFINDEX finds
    /// what `ioctl` is scripted to answer, and memfd_create gives fd 11.
    fn gvisor(ioctl: isize) -> FakeKernel {
        let k = FakeKernel::default();
        k.script(nr::OPENAT, &[ENOENT]);
        k.script(nr::FACCESSAT, &[ENOENT]);
        k.script(nr::SOCKET, &[9]);
        k.script(nr::IOCTL, &[ioctl]);
        k.script(nr::MEMFD_CREATE, &[11]);
        k.script(nr::WRITE, &[2]);
        k.script(nr::LSEEK, &[0]);
        k
    }

    #[test]
    fn answers_the_bridge_sysctl_where_the_directory_is_missing() {
        let k = gvisor(0);
        let o = openat(
            &k,
            &open_call(c"/proc/sys/net/ipv6/conf/br-0123456789ab/disable_ipv6", RD),
        );
        assert_eq!(o.ret, 11);
        assert_eq!(o.action, Action::Ipv6SysctlAnswered);
        assert_eq!(k.calls_of(nr::MEMFD_CREATE)[0].args[1], MFD_CLOEXEC);
        let w = &k.calls_of(nr::WRITE)[0];
        assert_eq!((w.args[0], w.args[2]), (11, 2));
        assert_eq!(k.calls_of(nr::LSEEK)[0].args[..3], [11, 0, 0]);
        assert_eq!(
            k.calls_of(nr::CLOSE)[0].args[0],
            9,
            "the ioctl socket is closed"
        );
    }

    #[test]
    fn all_and_default_need_no_interface() {
        for p in [
            c"/proc/sys/net/ipv6/conf/all/disable_ipv6",
            c"/proc/sys/net/ipv6/conf/default/disable_ipv6",
        ] {
            let k = gvisor(-(errno::ENODEV as isize));
            assert_eq!(openat(&k, &open_call(p, RD)).ret, 11);
            assert!(k.calls_of(nr::IOCTL).is_empty());
        }
    }

    #[test]
    fn the_kernel_answers_everything_else() {
        // The kernel has the file (Linux): its fd, nothing else asked.
        let k = FakeKernel::default();
        k.script(nr::OPENAT, &[5]);
        let o = openat(
            &k,
            &open_call(c"/proc/sys/net/ipv6/conf/eth0/disable_ipv6", RD),
        );
        assert_eq!((o.ret, o.action), (5, Action::PassedThrough));
        assert!(k.calls_of(nr::FACCESSAT).is_empty());
        // No such interface: ENOENT, as Linux.
        let k = gvisor(-(errno::ENODEV as isize));
        let o = openat(
            &k,
            &open_call(c"/proc/sys/net/ipv6/conf/nope0/disable_ipv6", RD),
        );
        assert_eq!((o.ret, o.action), (ENOENT, Action::PassedThrough));
        assert!(k.calls_of(nr::MEMFD_CREATE).is_empty());
        // The directory exists (IPv6 sysctls present, or IPv6 disabled in Linux): ENOENT.
        let k = FakeKernel::default();
        k.script(nr::OPENAT, &[ENOENT]);
        k.script(nr::FACCESSAT, &[0]);
        let o = openat(
            &k,
            &open_call(c"/proc/sys/net/ipv6/conf/br0/disable_ipv6", RD),
        );
        assert_eq!(o.ret, ENOENT);
        // A thread in another network namespace (a container's): ENOENT.
        let k = gvisor(0);
        k.script(nr::NEWFSTATAT, &[0, ENOENT]);
        let o = openat(
            &k,
            &open_call(c"/proc/sys/net/ipv6/conf/eth0/disable_ipv6", RD),
        );
        assert_eq!(o.ret, ENOENT);
        // Opened for writing: ENOENT (a write of 1 could not be honoured).
        let k = gvisor(0);
        let o = openat(
            &k,
            &open_call(c"/proc/sys/net/ipv6/conf/br0/disable_ipv6", 1 | O_CLOEXEC),
        );
        assert_eq!(o.ret, ENOENT);
        // Other files and malformed names.
        for p in [
            c"/proc/sys/net/ipv6/conf/br0/forwarding",
            c"/proc/sys/net/ipv6/conf/a/b/disable_ipv6",
            c"/proc/sys/net/ipv6/conf//disable_ipv6",
            c"/proc/sys/net/ipv6/conf/../disable_ipv6",
            c"/proc/sys/net/ipv6/conf/abcdefghijklmnop/disable_ipv6",
            c"proc/sys/net/ipv6/conf/br0/disable_ipv6",
            c"/etc/hosts",
        ] {
            let k = gvisor(0);
            let o = openat(&k, &open_call(p, RD));
            assert_eq!(o.ret, ENOENT, "{p:?}");
            assert!(k.calls_of(nr::MEMFD_CREATE).is_empty(), "{p:?}");
        }
    }

    #[test]
    fn without_cloexec_the_memfd_is_inherited() {
        let k = gvisor(0);
        openat(
            &k,
            &open_call(c"/proc/sys/net/ipv6/conf/all/disable_ipv6", O_RDONLY),
        );
        assert_eq!(k.calls_of(nr::MEMFD_CREATE)[0].args[1], 0);
    }

    #[test]
    fn iface_of_parses_one_element() {
        assert_eq!(
            iface_of(b"/proc/sys/net/ipv6/conf/docker0/disable_ipv6"),
            Some(&b"docker0"[..])
        );
        assert_eq!(
            iface_of(b"/proc/sys/net/ipv6/conf/docker0/disable_ipv6x"),
            None
        );
    }

    #[test]
    fn ipv4_conf_open_answers_netavarks_files_where_the_directory_is_missing() {
        const WR: usize = 1 | O_CLOEXEC;
        for (p, flags) in [
            (c"/proc/sys/net/ipv4/conf/podman0/route_localnet", RD),
            (c"/proc/sys/net/ipv4/conf/podman0/route_localnet", WR),
            (c"/proc/sys/net/ipv4/conf/podman0/rp_filter", WR),
            (c"/proc/sys/net/ipv4/conf/eth0/arp_notify", RD),
            (c"/proc/sys/net/ipv4/conf/br-0123456789ab/rp_filter", 2),
        ] {
            let k = gvisor(0);
            let fd = ipv4_conf_open(&k, p.as_ptr() as usize, flags, ENOENT);
            assert_eq!(fd, Some(11), "{p:?}");
            assert_eq!(
                k.calls_of(nr::MEMFD_CREATE)[0].args[1],
                if flags & O_CLOEXEC != 0 {
                    MFD_CLOEXEC
                } else {
                    0
                }
            );
            let w = &k.calls_of(nr::WRITE)[0];
            assert_eq!((w.args[0], w.args[2]), (11, 2), "holds 0 and a newline");
        }
        for p in [
            c"/proc/sys/net/ipv4/conf/all/rp_filter",
            c"/proc/sys/net/ipv4/conf/default/arp_notify",
        ] {
            let k = gvisor(-(errno::ENODEV as isize));
            assert_eq!(
                ipv4_conf_open(&k, p.as_ptr() as usize, RD, ENOENT),
                Some(11)
            );
            assert!(k.calls_of(nr::IOCTL).is_empty());
        }
    }

    #[test]
    fn ipv4_conf_open_leaves_everything_else_to_the_kernel() {
        let ok = c"/proc/sys/net/ipv4/conf/podman0/rp_filter";
        // The kernel opened it, or refused it otherwise than ENOENT.
        for ret in [3, -(errno::EACCES as isize)] {
            let k = gvisor(0);
            assert_eq!(ipv4_conf_open(&k, ok.as_ptr() as usize, RD, ret), None);
            assert!(k.calls_of(nr::MEMFD_CREATE).is_empty());
        }
        // A directory is asked for.
        let k = gvisor(0);
        assert_eq!(
            ipv4_conf_open(&k, ok.as_ptr() as usize, RD | O_DIRECTORY, ENOENT),
            None
        );
        // Other files, other places, relative paths, odd names.
        for p in [
            c"/proc/sys/net/ipv4/conf/podman0/forwarding",
            c"/proc/sys/net/ipv4/conf/podman0/rp_filter/x",
            c"/proc/sys/net/ipv4/conf/podman0",
            c"/proc/sys/net/ipv4/ip_forward",
            c"proc/sys/net/ipv4/conf/podman0/rp_filter",
            c"/proc/sys/net/ipv4/conf/../rp_filter",
            c"/proc/sys/net/ipv4/conf//rp_filter",
            c"/proc/sys/net/ipv4/conf/a-name-longer-than-15/rp_filter",
            c"/proc/sys/net/ipv6/conf/podman0/rp_filter",
        ] {
            let k = gvisor(0);
            assert_eq!(
                ipv4_conf_open(&k, p.as_ptr() as usize, RD, ENOENT),
                None,
                "{p:?}"
            );
            assert!(k.calls_of(nr::FACCESSAT).is_empty(), "{p:?}");
        }
        // The directory exists (a kernel with the sysctls: the file really is missing).
        let k = FakeKernel::default();
        k.script(nr::FACCESSAT, &[0]);
        assert_eq!(ipv4_conf_open(&k, ok.as_ptr() as usize, RD, ENOENT), None);
        // No such interface.
        let k = gvisor(-(errno::ENODEV as isize));
        assert_eq!(ipv4_conf_open(&k, ok.as_ptr() as usize, RD, ENOENT), None);
        assert!(k.calls_of(nr::MEMFD_CREATE).is_empty());
    }

    #[test]
    fn read_path_stops_at_the_nul_and_refuses_long_paths() {
        let k = FakeKernel::default();
        let mut buf = [0u8; MAX_PATH + 1];
        let p = c"/a/b";
        assert_eq!(read_path(&k, p.as_ptr() as usize, &mut buf), Some(4));
        let long = [b'x'; 80];
        assert_eq!(read_path(&k, long.as_ptr() as usize, &mut buf), None);
    }
}
