//! Linux x86_64 ABI numbers gvnet needs, in one place.
//!
//! Values are the kernel's uapi values; tests compare them with the `libc` crate's.

/// `O_CLOEXEC`. The only `openat` flags the filter traps are `O_RDONLY | O_CLOEXEC`, which is
/// what Go's `os.Open`/`os.ReadFile` pass (the IPv6 sysctl, `sysctl.rs`).
pub const O_CLOEXEC: usize = 0o2000000;
/// `O_DIRECTORY`.
pub const O_DIRECTORY: usize = 0o200000;
/// `AT_FDCWD`: a path relative to the working directory (`*at` calls).
pub const AT_FDCWD: usize = -100isize as usize;
/// `SIG_DFL`.
pub const SIG_DFL: usize = 0;
/// `SIG_IGN`.
pub const SIG_IGN: usize = 1;
/// `AF_NETLINK`.
pub const AF_NETLINK: u16 = 16;
/// `AF_PACKET`.
pub const AF_PACKET: u16 = 17;
/// `NETLINK_ROUTE`, the rtnetlink protocol.
pub const NETLINK_ROUTE: i32 = 0;
/// `SOL_SOCKET`.
pub const SOL_SOCKET: i32 = 1;
/// `SO_PROTOCOL`.
pub const SO_PROTOCOL: i32 = 38;
/// `SO_DOMAIN`.
pub const SO_DOMAIN: i32 = 39;
/// `SOL_NETLINK`.
pub const SOL_NETLINK: i32 = 270;
/// `NETLINK_ADD_MEMBERSHIP`.
pub const NETLINK_ADD_MEMBERSHIP: i32 = 1;
/// `NETLINK_DROP_MEMBERSHIP`.
pub const NETLINK_DROP_MEMBERSHIP: i32 = 2;
/// `NETLINK_LIST_MEMBERSHIPS`.
pub const NETLINK_LIST_MEMBERSHIPS: i32 = 9;
/// `NETLINK_NO_ENOBUFS`: overruns are not reported.
pub const NETLINK_NO_ENOBUFS: i32 = 5;
/// `SO_RCVBUF`.
pub const SO_RCVBUF: i32 = 8;
/// `SO_RCVBUFFORCE`.
pub const SO_RCVBUFFORCE: i32 = 33;
/// `SO_RCVTIMEO` (`SO_RCVTIMEO_OLD`, a `struct timeval`).
pub const SO_RCVTIMEO: i32 = 20;
/// `MSG_PEEK`.
pub const MSG_PEEK: usize = 0x2;
/// `MSG_TRUNC`.
pub const MSG_TRUNC: usize = 0x20;
/// `MSG_DONTWAIT`.
pub const MSG_DONTWAIT: usize = 0x40;
/// `MSG_ERRQUEUE`.
pub const MSG_ERRQUEUE: usize = 0x2000;
/// `O_NONBLOCK`.
pub const O_NONBLOCK: usize = 0o4000;
/// `F_GETFL`.
pub const F_GETFL: usize = 3;
/// `F_DUPFD_CLOEXEC`.
pub const F_DUPFD_CLOEXEC: usize = 1030;
/// `POLLIN`.
pub const POLLIN: i16 = 1;
/// `SOCK_RAW | SOCK_CLOEXEC`.
pub const SOCK_RAW_CLOEXEC: usize = 3 | O_CLOEXEC;
/// Netlink message types and flags.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// `RTM_GETLINK`.
pub const RTM_GETLINK: u16 = 18;
/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 1;
/// `NLM_F_ACK`.
pub const NLM_F_ACK: u16 = 4;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// `struct nlmsghdr` length.
pub const NLMSG_HDRLEN: usize = 16;
/// `sizeof(struct sockaddr_nl)`.
pub const SOCKADDR_NL_LEN: usize = 12;
/// `sizeof(struct sockaddr_ll)`.
pub const SOCKADDR_LL_LEN: usize = 20;
/// `sizeof(struct sockaddr_storage)`: the longest address `move_addr_to_kernel` accepts.
pub const SOCKADDR_STORAGE_LEN: usize = 128;
/// `sizeof(struct msghdr)` on x86_64.
pub const MSGHDR_LEN: usize = 56;
/// `sizeof(struct iovec)` on x86_64.
pub const IOVEC_LEN: usize = 16;
/// `UIO_MAXIOV`: the kernel refuses more iovecs than this.
pub const UIO_MAXIOV: usize = 1024;
/// Number of rtnetlink multicast groups (`RTNLGRP_MAX`, Linux 6.14 and later: the last is
/// `RTNLGRP_IPV6_ACADDR` = 39). Linux sizes a NETLINK_ROUTE socket's group bitmap with it:
/// `NETLINK_ADD_MEMBERSHIP` accepts 1..=39, and `NETLINK_LIST_MEMBERSHIPS` reports 8 bytes.
pub const RTNL_NGROUPS: u32 = 39;
/// `RTNLGRP_LINK`.
pub const RTNLGRP_LINK: u32 = 1;
/// `RTNLGRP_NEIGH`.
pub const RTNLGRP_NEIGH: u32 = 3;
/// `RTNLGRP_IPV4_IFADDR`.
pub const RTNLGRP_IPV4_IFADDR: u32 = 5;
/// `RTNLGRP_IPV4_ROUTE`.
pub const RTNLGRP_IPV4_ROUTE: u32 = 7;
/// `RTNLGRP_IPV6_IFADDR`.
pub const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// `RTNLGRP_IPV6_ROUTE`.
pub const RTNLGRP_IPV6_ROUTE: u32 = 11;
/// `SYS_SECCOMP`, the `si_code` of a SIGSYS raised by a seccomp `RET_TRAP`.
pub const SYS_SECCOMP: i32 = 1;
/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// x86_64 syscall numbers gvnet traps or issues.
pub mod nr {
    use syscalls::Sysno;
    /// `close`.
    pub const CLOSE: usize = Sysno::close as usize;
    /// `fstat`.
    pub const FSTAT: usize = Sysno::fstat as usize;
    /// `getpid`.
    pub const GETPID: usize = Sysno::getpid as usize;
    /// `gettid`.
    pub const GETTID: usize = Sysno::gettid as usize;
    /// `write`.
    pub const WRITE: usize = Sysno::write as usize;
    /// `socket`.
    pub const SOCKET: usize = Sysno::socket as usize;
    /// `connect`.
    pub const CONNECT: usize = Sysno::connect as usize;
    /// `sendto`.
    pub const SENDTO: usize = Sysno::sendto as usize;
    /// `sendmsg`.
    pub const SENDMSG: usize = Sysno::sendmsg as usize;
    /// `bind`.
    pub const BIND: usize = Sysno::bind as usize;
    /// `getsockname`.
    pub const GETSOCKNAME: usize = Sysno::getsockname as usize;
    /// `getpeername`.
    pub const GETPEERNAME: usize = Sysno::getpeername as usize;
    /// `setsockopt`.
    pub const SETSOCKOPT: usize = Sysno::setsockopt as usize;
    /// `getsockopt`.
    pub const GETSOCKOPT: usize = Sysno::getsockopt as usize;
    /// `rt_sigaction`.
    pub const RT_SIGACTION: usize = Sysno::rt_sigaction as usize;
    /// `rt_sigprocmask`.
    pub const RT_SIGPROCMASK: usize = Sysno::rt_sigprocmask as usize;
    /// `tgkill`.
    pub const TGKILL: usize = Sysno::tgkill as usize;
    /// `process_vm_readv`.
    pub const PROCESS_VM_READV: usize = Sysno::process_vm_readv as usize;
    /// `process_vm_writev`.
    pub const PROCESS_VM_WRITEV: usize = Sysno::process_vm_writev as usize;
    /// `recvfrom`.
    pub const RECVFROM: usize = Sysno::recvfrom as usize;
    /// `recvmsg`.
    pub const RECVMSG: usize = Sysno::recvmsg as usize;
    /// `poll`.
    pub const POLL: usize = Sysno::poll as usize;
    /// `fcntl`.
    pub const FCNTL: usize = Sysno::fcntl as usize;
    /// `clock_gettime`.
    pub const CLOCK_GETTIME: usize = Sysno::clock_gettime as usize;
    /// `futex`.
    pub const FUTEX: usize = Sysno::futex as usize;
    /// `clone`.
    pub const CLONE: usize = Sysno::clone as usize;
    /// `mmap`.
    pub const MMAP: usize = Sysno::mmap as usize;
    /// `munmap`.
    pub const MUNMAP: usize = Sysno::munmap as usize;
    /// `madvise`.
    pub const MADVISE: usize = Sysno::madvise as usize;
    /// `newfstatat`.
    pub const NEWFSTATAT: usize = Sysno::newfstatat as usize;
    /// `exit`.
    pub const EXIT: usize = Sysno::exit as usize;
    /// `openat`.
    pub const OPENAT: usize = Sysno::openat as usize;
    /// `getdents64`.
    pub const GETDENTS64: usize = Sysno::getdents64 as usize;
    /// `readlinkat`.
    pub const READLINKAT: usize = Sysno::readlinkat as usize;
    /// `seccomp`.
    pub const SECCOMP: usize = Sysno::seccomp as usize;
    /// `sched_yield`.
    pub const SCHED_YIELD: usize = Sysno::sched_yield as usize;
    /// `read` (not used by gvnet; the bench's loops name it).
    pub const READ: usize = Sysno::read as usize;
    /// `getppid` (not used by gvnet; the bench's loops name it).
    pub const GETPPID: usize = Sysno::getppid as usize;
    /// `ioctl`.
    pub const IOCTL: usize = Sysno::ioctl as usize;
    /// `lseek`.
    pub const LSEEK: usize = Sysno::lseek as usize;
    /// `faccessat`.
    pub const FACCESSAT: usize = Sysno::faccessat as usize;
    /// `memfd_create`.
    pub const MEMFD_CREATE: usize = Sysno::memfd_create as usize;
    /// `mkdirat`.
    pub const MKDIRAT: usize = Sysno::mkdirat as usize;
    /// `renameat`.
    pub const RENAMEAT: usize = Sysno::renameat as usize;
    /// `unlinkat`.
    pub const UNLINKAT: usize = Sysno::unlinkat as usize;
    /// `setns`.
    pub const SETNS: usize = Sysno::setns as usize;
}

/// errno values used by the emulation.
pub mod errno {
    /// `EBADF`.
    pub const EBADF: i32 = 9;
    /// `ENOMEM`.
    pub const ENOMEM: i32 = 12;
    /// `EFAULT`.
    pub const EFAULT: i32 = 14;
    /// `EINVAL`.
    pub const EINVAL: i32 = 22;
    /// `ENOSYS`.
    pub const ENOSYS: i32 = 38;
    /// `ENOTSOCK`.
    pub const ENOTSOCK: i32 = 88;
    /// `ENOPROTOOPT`.
    pub const ENOPROTOOPT: i32 = 92;
    /// `EOPNOTSUPP`.
    pub const EOPNOTSUPP: i32 = 95;
    /// `EACCES`.
    pub const EACCES: i32 = 13;
    /// `EINTR`.
    pub const EINTR: i32 = 4;
    /// `EAGAIN`.
    pub const EAGAIN: i32 = 11;
    /// `ENODEV`.
    pub const ENODEV: i32 = 19;
    /// `ENOBUFS`.
    pub const ENOBUFS: i32 = 105;
    /// `ENOENT`.
    pub const ENOENT: i32 = 2;
    /// `EIO`.
    pub const EIO: i32 = 5;

    /// The symbolic name of an errno, for trace lines.
    pub fn name(e: i32) -> &'static str {
        match e {
            1 => "EPERM",
            2 => "ENOENT",
            4 => "EINTR",
            5 => "EIO",
            9 => "EBADF",
            11 => "EAGAIN",
            12 => "ENOMEM",
            13 => "EACCES",
            14 => "EFAULT",
            19 => "ENODEV",
            22 => "EINVAL",
            34 => "ERANGE",
            38 => "ENOSYS",
            88 => "ENOTSOCK",
            90 => "EMSGSIZE",
            92 => "ENOPROTOOPT",
            93 => "EPROTONOSUPPORT",
            95 => "EOPNOTSUPP",
            97 => "EAFNOSUPPORT",
            98 => "EADDRINUSE",
            99 => "EADDRNOTAVAIL",
            105 => "ENOBUFS",
            111 => "ECONNREFUSED",
            _ => "E?",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_agree_with_libc() {
        assert_eq!(AF_NETLINK as i32, libc::AF_NETLINK);
        assert_eq!(AF_PACKET as i32, libc::AF_PACKET);
        assert_eq!(NETLINK_ROUTE, libc::NETLINK_ROUTE);
        assert_eq!(SOL_SOCKET, libc::SOL_SOCKET);
        assert_eq!(SO_PROTOCOL, libc::SO_PROTOCOL);
        assert_eq!(SO_DOMAIN, libc::SO_DOMAIN);
        assert_eq!(SOL_NETLINK, libc::SOL_NETLINK);
        assert_eq!(NETLINK_ADD_MEMBERSHIP, libc::NETLINK_ADD_MEMBERSHIP);
        assert_eq!(NETLINK_DROP_MEMBERSHIP, libc::NETLINK_DROP_MEMBERSHIP);
        assert_eq!(NETLINK_LIST_MEMBERSHIPS, libc::NETLINK_LIST_MEMBERSHIPS);
        assert_eq!(SOCKADDR_NL_LEN, core::mem::size_of::<libc::sockaddr_nl>());
        assert_eq!(SOCKADDR_LL_LEN, core::mem::size_of::<libc::sockaddr_ll>());
        assert_eq!(
            SOCKADDR_STORAGE_LEN,
            core::mem::size_of::<libc::sockaddr_storage>()
        );
        assert_eq!(MSGHDR_LEN, core::mem::size_of::<libc::msghdr>());
        assert_eq!(IOVEC_LEN, core::mem::size_of::<libc::iovec>());
        assert_eq!(nr::BIND as i64, libc::SYS_bind);
        assert_eq!(nr::SENDTO as i64, libc::SYS_sendto);
        assert_eq!(nr::GETSOCKOPT as i64, libc::SYS_getsockopt);
        assert_eq!(errno::EOPNOTSUPP, libc::EOPNOTSUPP);
        assert_eq!(errno::ENOPROTOOPT, libc::ENOPROTOOPT);
        assert_eq!(errno::EACCES, libc::EACCES);
        assert_eq!(errno::name(libc::EFAULT), "EFAULT");
        assert_eq!(nr::OPENAT as i64, libc::SYS_openat);
        assert_eq!(nr::IOCTL as i64, libc::SYS_ioctl);
        assert_eq!(nr::LSEEK as i64, libc::SYS_lseek);
        assert_eq!(nr::FACCESSAT as i64, libc::SYS_faccessat);
        assert_eq!(nr::MEMFD_CREATE as i64, libc::SYS_memfd_create);
        assert_eq!(nr::MKDIRAT as i64, libc::SYS_mkdirat);
        assert_eq!(nr::RENAMEAT as i64, libc::SYS_renameat);
        assert_eq!(nr::UNLINKAT as i64, libc::SYS_unlinkat);
        assert_eq!(nr::SETNS as i64, libc::SYS_setns);
        assert_eq!(errno::ENOENT, libc::ENOENT);
        assert_eq!(errno::EIO, libc::EIO);
        assert_eq!(O_CLOEXEC as i32, libc::O_CLOEXEC);
    }
}
