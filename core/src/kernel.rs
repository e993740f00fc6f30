//! The boundary to the kernel: one trait, a real implementation and (in tests) a recording fake.
//!
//! Every effect of the emulation goes through [`Kernel::syscall`], including reads and writes of
//! the caller's memory ([`read_user`], [`write_user`] use `process_vm_readv`/`process_vm_writev`
//! on the own process), so a bad pointer from the program yields `EFAULT` as the kernel would give,
//! never a fault inside the signal handler.

use crate::abi::{errno, nr, AT_FDCWD, O_CLOEXEC, O_DIRECTORY};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// A raw system call interface: returns the kernel's raw result, `-errno` on failure.
pub trait Kernel {
    /// Issues system call `nr` with six arguments.
    ///
    /// # Safety
    /// The arguments must be valid for the call as the kernel defines it; pointers in them are
    /// handed to the kernel, which checks them.
    unsafe fn syscall(&self, nr: usize, args: [usize; 6]) -> isize;
}

/// The real kernel, reached through the `syscall` instruction in this library's own text.
///
/// gvnet's seccomp filter traps only calls made from the target program's own syscall site, so
/// calls issued here pass the filter without trapping again.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawKernel;

impl Kernel for RawKernel {
    unsafe fn syscall(&self, nr: usize, a: [usize; 6]) -> isize {
        // SAFETY: the caller guarantees the arguments are valid for `nr`; the asm in `syscalls`
        // clobbers only rcx and r11 as the syscall instruction does.
        unsafe { syscalls::raw::syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]) as isize }
    }
}

/// Set once `process_vm_readv` turns out to be missing (ENOSYS): memory is then copied directly.
static DIRECT_MEMORY: AtomicBool = AtomicBool::new(false);

#[repr(C)]
struct Iovec {
    base: usize,
    len: usize,
}

/// Where this process keeps its own pid for [`vm_copy`]: 0 before [`cache_pid`] ran (or where it
/// could not), else the address of a page mapped with `MADV_WIPEONFORK`.
static PID_PAGE: AtomicUsize = AtomicUsize::new(0);

/// `MADV_WIPEONFORK` (Linux 4.14).
const MADV_WIPEONFORK: usize = 18;

/// Sets up the cache of the process's pid that [`read_user`] and [`write_user`] address their
/// `process_vm_readv`/`writev` to, saving a `getpid` per copy (about a fifth of a trapped call's
/// cost in the handler on Linux). Called once, from the library's constructor.
///
/// The pid lives in a page the kernel wipes in the child of a `fork` (`MADV_WIPEONFORK`), so a
/// child never uses its parent's pid: it reads 0 and asks `getpid` again. A child sharing the
/// memory (`vfork`, `CLONE_VM`) keeps the parent's pid, which names the same memory while the
/// parent waits for it. Where the kernel lacks `MADV_WIPEONFORK` (gVisor refuses it) nothing is
/// cached and every copy asks `getpid`. Returns whether the cache is in use.
pub fn cache_pid<K: Kernel>(k: &K) -> bool {
    if PID_PAGE.load(Ordering::Acquire) != 0 {
        return true;
    }
    // SAFETY: an anonymous private mapping of one page at an address the kernel chooses
    // (PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS); nothing else refers to it yet.
    let page = unsafe { k.syscall(nr::MMAP, [0, 4096, 3, 0x02 | 0x20, usize::MAX, 0]) };
    if page <= 0 || page as usize % 4096 != 0 {
        return false;
    }
    // SAFETY: `page` is the page just mapped; madvise only changes what fork does with it.
    if unsafe { k.syscall(nr::MADVISE, [page as usize, 4096, MADV_WIPEONFORK, 0, 0, 0]) } != 0
        || PID_PAGE
            .compare_exchange(0, page as usize, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        // SAFETY: the page is ours alone: it was never published.
        unsafe { k.syscall(nr::MUNMAP, [page as usize, 4096, 0, 0, 0, 0]) };
        return PID_PAGE.load(Ordering::Acquire) != 0;
    }
    true
}

/// The process's pid, from the cache when there is one.
fn own_pid<K: Kernel>(k: &K) -> usize {
    let page = PID_PAGE.load(Ordering::Acquire);
    // SAFETY: a non-zero PID_PAGE is a page mapped read-write for the life of the process
    // (never unmapped once published), suitably aligned for an i32; only atomics touch it.
    let cached = (page != 0).then(|| unsafe { &*(page as *const AtomicI32) });
    if let Some(pid) = cached.map(|c| c.load(Ordering::Relaxed)).filter(|&p| p > 0) {
        return pid as usize;
    }
    // SAFETY: getpid has no arguments and cannot fail.
    let pid = unsafe { k.syscall(nr::GETPID, [0; 6]) };
    if let Some(c) = cached {
        c.store(pid as i32, Ordering::Relaxed);
    }
    pid as usize
}

fn vm_copy<K: Kernel>(k: &K, nr_call: usize, local: usize, remote: usize, len: usize) -> isize {
    if len == 0 {
        return 0;
    }
    let pid = own_pid(k);
    let l = Iovec { base: local, len };
    let r = Iovec { base: remote, len };
    // SAFETY: both iovecs live on this stack frame for the duration of the call; the kernel
    // checks `remote` and reports EFAULT for an unmapped range instead of faulting.
    unsafe {
        k.syscall(
            nr_call,
            [
                pid,
                &l as *const Iovec as usize,
                1,
                &r as *const Iovec as usize,
                1,
                0,
            ],
        )
    }
}

/// Which way [`copy_user`] copies.
#[derive(Clone, Copy)]
enum Direction {
    /// From the caller's memory into ours.
    In,
    /// From ours into the caller's memory.
    Out,
}

/// Copies `len` bytes between our buffer `local` and the caller's address `remote`.
fn copy_user<K: Kernel>(
    k: &K,
    dir: Direction,
    local: usize,
    remote: usize,
    len: usize,
) -> Result<(), i32> {
    if remote == 0 {
        return Err(errno::EFAULT);
    }
    if DIRECT_MEMORY.load(Ordering::Relaxed) {
        let (src, dst) = match dir {
            Direction::In => (remote, local),
            Direction::Out => (local, remote),
        };
        // SAFETY: only reached where the kernel lacks process_vm_readv/writev; `remote` is
        // non-null and was handed to a system call by the program, which promised it points at
        // `len` bytes it may read (or write, for output arguments). A lying program faults here
        // as it would have in its own code.
        unsafe { core::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len) };
        return Ok(());
    }
    let nr_call = match dir {
        Direction::In => nr::PROCESS_VM_READV,
        Direction::Out => nr::PROCESS_VM_WRITEV,
    };
    match vm_copy(k, nr_call, local, remote, len) {
        n if n == len as isize => Ok(()),
        n if n == -(errno::ENOSYS as isize) => {
            DIRECT_MEMORY.store(true, Ordering::Relaxed);
            copy_user(k, dir, local, remote, len)
        }
        _ => Err(errno::EFAULT),
    }
}

/// Copies `buf.len()` bytes from the caller's address `addr` into `buf`.
///
/// Returns `Err(errno)`; `EFAULT` for an address the kernel would refuse.
pub fn read_user<K: Kernel>(k: &K, addr: usize, buf: &mut [u8]) -> Result<(), i32> {
    copy_user(k, Direction::In, buf.as_mut_ptr() as usize, addr, buf.len())
}

/// Copies `data` to the caller's address `addr`.
pub fn write_user<K: Kernel>(k: &K, addr: usize, data: &[u8]) -> Result<(), i32> {
    copy_user(k, Direction::Out, data.as_ptr() as usize, addr, data.len())
}

/// Reads an `int` socket option (`SOL_SOCKET`/`SO_DOMAIN` and the like) of `fd`.
pub fn sockopt_int<K: Kernel>(k: &K, fd: usize, level: i32, opt: i32) -> Result<i32, i32> {
    let mut val: i32 = 0;
    let mut len: u32 = 4;
    // SAFETY: `val` and `len` are live locals of the sizes the kernel expects.
    let r = unsafe {
        k.syscall(
            nr::GETSOCKOPT,
            [
                fd,
                level as usize,
                opt as usize,
                &mut val as *mut i32 as usize,
                &mut len as *mut u32 as usize,
                0,
            ],
        )
    };
    if r < 0 {
        Err(-r as i32)
    } else {
        Ok(val)
    }
}

/// The inode number of the file `fd` refers to: a socket's identity while it is open.
pub fn inode<K: Kernel>(k: &K, fd: usize) -> Result<u64, i32> {
    // struct stat on x86_64 is 144 bytes; st_ino is the second u64.
    let mut st = [0u64; 18];
    // SAFETY: `st` is large enough for the kernel's struct stat.
    let r = unsafe { k.syscall(nr::FSTAT, [fd, st.as_mut_ptr() as usize, 0, 0, 0, 0]) };
    if r < 0 {
        Err(-r as i32)
    } else {
        Ok(st[1])
    }
}

/// The inode number of the file at `path` (NUL-terminated), symbolic links followed.
pub fn path_inode<K: Kernel>(k: &K, path: &[u8]) -> Result<u64, i32> {
    if path.last() != Some(&0) {
        return Err(crate::abi::errno::EINVAL);
    }
    let mut st = [0u64; 18];
    // Flags 0: the last component's link is followed, as stat(2) does.
    // SAFETY: `path` is NUL-terminated and `st` is large enough for the kernel's struct stat.
    let r = unsafe {
        k.syscall(
            nr::NEWFSTATAT,
            [
                AT_FDCWD,
                path.as_ptr() as usize,
                st.as_mut_ptr() as usize,
                0,
                0,
                0,
            ],
        )
    };
    if r < 0 {
        Err(-r as i32)
    } else {
        Ok(st[1])
    }
}

/// Calls `each` with the name of every entry of the directory at `path` (NUL-terminated; the
/// name without its NUL) and the descriptor the directory is read through, until it returns
/// false. False when the directory cannot be opened. One 1 KiB buffer on the stack, no
/// allocation.
pub fn dir_entries<K: Kernel>(
    k: &K,
    path: &[u8],
    each: &mut dyn FnMut(&[u8], usize) -> bool,
) -> bool {
    if path.last() != Some(&0) {
        return false;
    }
    // SAFETY: `path` is NUL-terminated; O_RDONLY | O_DIRECTORY | O_CLOEXEC.
    let dir = unsafe {
        k.syscall(
            nr::OPENAT,
            [
                AT_FDCWD,
                path.as_ptr() as usize,
                O_DIRECTORY | O_CLOEXEC,
                0,
                0,
                0,
            ],
        )
    };
    if dir < 0 {
        return false;
    }
    let mut buf = [0u8; 1024];
    'outer: loop {
        // SAFETY: `buf` is a live local of the length given; `dir` is ours.
        let n = unsafe {
            k.syscall(
                nr::GETDENTS64,
                [dir as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
            )
        };
        if n <= 0 {
            break;
        }
        let n = (n as usize).min(buf.len());
        let mut off = 0usize;
        // linux_dirent64: ino u64, off i64, reclen u16, type u8, name (NUL-terminated). Read
        // with `get`: no bounds check to panic on (the monitor thread reaches this).
        while off + 19 < n {
            let Some(&[lo, hi]) = buf.get(off + 16..off + 18) else {
                break 'outer;
            };
            let reclen = usize::from(u16::from_ne_bytes([lo, hi]));
            if reclen == 0 {
                break 'outer;
            }
            let Some(name) = buf.get(off + 19..(off + reclen).min(n)) else {
                break 'outer;
            };
            let name = name.split(|&c| c == 0).next().unwrap_or(name);
            if !each(name, dir as usize) {
                break 'outer;
            }
            off += reclen;
        }
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { k.syscall(nr::CLOSE, [dir as usize, 0, 0, 0, 0, 0]) };
    true
}

/// The calling thread's network namespace: the nsfs inode `/proc/thread-self/ns/net` names
/// (what `stat -L` shows, and `fstat` of an fd opened on the namespace, as `ip netns` keeps
/// them). 0 where it cannot be read.
pub fn net_ns<K: Kernel>(k: &K) -> u64 {
    path_inode(k, b"/proc/thread-self/ns/net\0").unwrap_or(0)
}

#[cfg(test)]
pub mod fake {
    //! A scripted kernel for unit tests: records every call, answers from a script, and serves
    //! `process_vm_readv`/`writev` by copying this process's memory.
    use super::*;
    use core::cell::RefCell;
    use std::collections::HashMap;

    /// One recorded call.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Call {
        /// Syscall number.
        pub nr: usize,
        /// Arguments.
        pub args: [usize; 6],
        /// For calls that pass a socket address or an option value: the bytes it pointed at.
        pub data: Vec<u8>,
    }

    /// The fake: sockets are described by (domain, protocol, inode) per fd.
    #[derive(Default)]
    pub struct FakeKernel {
        /// Calls seen, in order (memory copies and getpid excluded).
        pub calls: RefCell<Vec<Call>>,
        /// fd -> (domain, protocol, inode).
        pub sockets: RefCell<HashMap<usize, (i32, i32, u64)>>,
        /// Scripted results per syscall number; default 0 (or the length for sendto).
        pub results: RefCell<HashMap<usize, Vec<isize>>>,
        /// How many memory copies (`process_vm_readv`/`writev`) were asked for.
        pub copies: core::cell::Cell<usize>,
    }

    impl FakeKernel {
        /// A kernel with one NETLINK_ROUTE socket at `fd` with inode `ino`.
        pub fn with_route_socket(fd: usize, ino: u64) -> Self {
            let k = FakeKernel::default();
            k.sockets.borrow_mut().insert(fd, (16, 0, ino));
            k
        }

        /// Makes the next calls of `nr` return `r`, in order.
        pub fn script(&self, nr: usize, r: &[isize]) {
            self.results
                .borrow_mut()
                .entry(nr)
                .or_default()
                .extend_from_slice(r);
        }

        /// The calls of one number.
        pub fn calls_of(&self, nr: usize) -> Vec<Call> {
            self.calls
                .borrow()
                .iter()
                .filter(|c| c.nr == nr)
                .cloned()
                .collect()
        }

        fn next_result(&self, nr: usize, default: isize) -> isize {
            let mut r = self.results.borrow_mut();
            match r.get_mut(&nr) {
                Some(v) if !v.is_empty() => v.remove(0),
                _ => default,
            }
        }
    }

    impl Kernel for FakeKernel {
        unsafe fn syscall(&self, n: usize, a: [usize; 6]) -> isize {
            match n {
                nr::GETPID => return 1,
                nr::PROCESS_VM_READV | nr::PROCESS_VM_WRITEV => {
                    self.copies.set(self.copies.get() + 1);
                    // SAFETY: tests pass pointers to their own live buffers.
                    unsafe {
                        let l = &*(a[1] as *const Iovec);
                        let r = &*(a[3] as *const Iovec);
                        if r.base < 4096 {
                            return -(errno::EFAULT as isize);
                        }
                        if n == nr::PROCESS_VM_READV {
                            core::ptr::copy_nonoverlapping(
                                r.base as *const u8,
                                l.base as *mut u8,
                                l.len,
                            );
                        } else {
                            core::ptr::copy_nonoverlapping(
                                l.base as *const u8,
                                r.base as *mut u8,
                                l.len,
                            );
                        }
                        return l.len as isize;
                    }
                }
                _ => {}
            }
            let data = match n {
                // SAFETY: the emulation passes its own stack copies here.
                nr::BIND | nr::CONNECT if a[1] >= 4096 => unsafe {
                    core::slice::from_raw_parts(a[1] as *const u8, a[2]).to_vec()
                },
                // SAFETY: as above.
                nr::SENDTO if a[4] >= 4096 => unsafe {
                    core::slice::from_raw_parts(a[4] as *const u8, a[5]).to_vec()
                },
                _ => Vec::new(),
            };
            self.calls.borrow_mut().push(Call {
                nr: n,
                args: a,
                data,
            });
            let sock = self.sockets.borrow().get(&a[0]).copied();
            match n {
                nr::GETSOCKOPT if a[1] == 1 => {
                    let Some((dom, proto, _)) = sock else {
                        return -(errno::ENOTSOCK as isize);
                    };
                    let v = if a[2] == 39 { dom } else { proto };
                    // SAFETY: sockopt_int passes pointers to its locals.
                    unsafe { *(a[3] as *mut i32) = v };
                    0
                }
                nr::FSTAT => {
                    let Some((_, _, ino)) = sock else {
                        return -(errno::EBADF as isize);
                    };
                    // SAFETY: inode() passes a 144-byte buffer.
                    unsafe { *((a[1] as *mut u64).add(1)) = ino };
                    0
                }
                nr::SENDTO => self.next_result(n, a[2] as isize),
                _ => self.next_result(n, 0),
            }
        }
    }
}
