//! The seccomp filter: which raw syscalls trap into gvnet's SIGSYS handler.
//!
//! The filter decides on the syscall number first and lets every number it does not name through
//! without looking further, so gVisor (and Linux) can cache the verdict for those numbers. For the
//! few it names it looks at one argument each, then at the instruction pointer, which must be one
//! of the target program's own syscall sites (the address after its `syscall` instruction):
//!
//! | syscall | traps when |
//! |---|---|
//! | bind, connect | addrlen == 12 (`sockaddr_nl`) |
//! | sendto | addrlen == 12 or 20 (`sockaddr_nl`, `sockaddr_ll`) |
//! | setsockopt, getsockopt | level == SOL_NETLINK |
//! | getsockname, getpeername | always (the family is only known after the call) |
//! | openat | flags == `O_RDONLY \| O_CLOEXEC` (Go's `os.Open`; for [`crate::sysctl`]) |
//!
//! A trap returns `SECCOMP_RET_TRAP | TRAP_DATA`; the handler recognises its own traps by that
//! value in `si_errno`. A descendant that does not run gvnet's handler never traps: its syscall
//! sites are at other addresses. The filter never needs NO_NEW_PRIVS to be set by gvnet.
//!
//! The pipeline is rules (the table above) -> [`Program`] (symbolic jumps) -> `sock_filter` array,
//! built without allocation.

use crate::abi::{self, nr};

/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_TRAP`.
pub const RET_TRAP: u32 = 0x0003_0000;
/// The 16 bits of data gvnet's traps carry (`si_errno` of the SIGSYS): "gv".
pub const TRAP_DATA: u32 = 0x6776;
/// At most this many syscall sites.
pub const MAX_SITES: usize = 8;
/// The `openat` flags that trap: `O_RDONLY | O_CLOEXEC`, what Go's `os.Open` passes.
const OPEN_READ: usize = crate::sysctl::O_CLOEXEC;
/// At most this many instructions.
pub const MAX_INSNS: usize = 64;

/// `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant.
    pub k: u32,
}

/// BPF_LD | BPF_W | BPF_ABS.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data`.
mod data {
    pub const NR: u32 = 0;
    pub const ARCH: u32 = 4;
    pub const IP_LO: u32 = 8;
    pub const IP_HI: u32 = 12;
    /// Low 32 bits of argument `i` (little endian).
    pub const fn arg_lo(i: u32) -> u32 {
        16 + 8 * i
    }
}

/// Why a filter could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterError {
    /// No syscall site given: the filter would trap nothing.
    NoSites,
    /// More sites than [`MAX_SITES`].
    TooManySites,
}

#[derive(Clone, Copy)]
enum To {
    Next,
    Allow,
    Trap,
    CheckIp,
    Bind,
    Sendto,
    Sockopt,
    Openat,
    Site(usize),
}

#[derive(Clone, Copy)]
enum Op {
    Ld(u32),
    Jeq(u32, To, To),
    Ret(u32),
}

/// A filter program with symbolic jumps, then assembled.
struct Program {
    ops: [Op; MAX_INSNS],
    len: usize,
    labels: [usize; 7 + MAX_SITES],
}

impl Program {
    fn push(&mut self, op: Op) {
        self.ops[self.len] = op;
        self.len += 1;
    }

    fn label(&mut self, t: To) {
        self.labels[slot(t)] = self.len;
    }
}

fn slot(t: To) -> usize {
    match t {
        To::Allow => 0,
        To::Trap => 1,
        To::CheckIp => 2,
        To::Bind => 3,
        To::Sendto => 4,
        To::Sockopt => 5,
        To::Openat => 6,
        To::Site(i) => 7 + i,
        To::Next => usize::MAX,
    }
}

/// Which filter: the one installed at start, or the receive layer added at the first
/// subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// bind, connect, sendto, set/getsockopt, getsockname, getpeername (the table above).
    Base,
    /// recvfrom and recvmsg from the sites, always: the file descriptor cannot be checked in
    /// BPF, so every receive of the target traps once some socket has subscribed and the
    /// handler passes those of sockets without events straight on.
    Recv,
}

/// Builds the filter for the given syscall sites into `out`; returns the instruction count.
pub fn build(sites: &[u64], out: &mut [SockFilter; MAX_INSNS]) -> Result<usize, FilterError> {
    build_layer(Layer::Base, sites, out)
}

/// Builds filter `layer` for the given syscall sites into `out`; returns the instruction count.
pub fn build_layer(
    layer: Layer,
    sites: &[u64],
    out: &mut [SockFilter; MAX_INSNS],
) -> Result<usize, FilterError> {
    if sites.is_empty() {
        return Err(FilterError::NoSites);
    }
    if sites.len() > MAX_SITES {
        return Err(FilterError::TooManySites);
    }
    let mut p = Program {
        ops: [Op::Ret(RET_ALLOW); MAX_INSNS],
        len: 0,
        labels: [0; 7 + MAX_SITES],
    };
    p.push(Op::Ld(data::ARCH));
    p.push(Op::Jeq(abi::AUDIT_ARCH_X86_64, To::Next, To::Allow));
    p.push(Op::Ld(data::NR));
    match layer {
        Layer::Base => {
            p.push(Op::Jeq(nr::BIND as u32, To::Bind, To::Next));
            p.push(Op::Jeq(nr::CONNECT as u32, To::Bind, To::Next));
            p.push(Op::Jeq(nr::SENDTO as u32, To::Sendto, To::Next));
            p.push(Op::Jeq(nr::SETSOCKOPT as u32, To::Sockopt, To::Next));
            p.push(Op::Jeq(nr::GETSOCKOPT as u32, To::Sockopt, To::Next));
            p.push(Op::Jeq(nr::GETSOCKNAME as u32, To::CheckIp, To::Next));
            p.push(Op::Jeq(nr::GETPEERNAME as u32, To::CheckIp, To::Next));
            p.push(Op::Jeq(nr::OPENAT as u32, To::Openat, To::Allow));
            p.label(To::Bind);
            p.push(Op::Ld(data::arg_lo(2)));
            p.push(Op::Jeq(abi::SOCKADDR_NL_LEN as u32, To::CheckIp, To::Allow));
            p.label(To::Sendto);
            p.push(Op::Ld(data::arg_lo(5)));
            p.push(Op::Jeq(abi::SOCKADDR_NL_LEN as u32, To::CheckIp, To::Next));
            p.push(Op::Jeq(abi::SOCKADDR_LL_LEN as u32, To::CheckIp, To::Allow));
            p.label(To::Sockopt);
            p.push(Op::Ld(data::arg_lo(1)));
            p.push(Op::Jeq(abi::SOL_NETLINK as u32, To::CheckIp, To::Allow));
            p.label(To::Openat);
            p.push(Op::Ld(data::arg_lo(2)));
            p.push(Op::Jeq(OPEN_READ as u32, To::CheckIp, To::Allow));
        }
        Layer::Recv => {
            p.push(Op::Jeq(nr::RECVFROM as u32, To::CheckIp, To::Next));
            p.push(Op::Jeq(nr::RECVMSG as u32, To::CheckIp, To::Allow));
        }
    }
    p.label(To::CheckIp);
    for (i, &site) in sites.iter().enumerate() {
        p.label(To::Site(i));
        let next = if i + 1 < sites.len() {
            To::Site(i + 1)
        } else {
            To::Allow
        };
        p.push(Op::Ld(data::IP_LO));
        p.push(Op::Jeq(site as u32, To::Next, next));
        p.push(Op::Ld(data::IP_HI));
        p.push(Op::Jeq((site >> 32) as u32, To::Trap, next));
    }
    p.label(To::Allow);
    p.push(Op::Ret(RET_ALLOW));
    p.label(To::Trap);
    p.push(Op::Ret(RET_TRAP | TRAP_DATA));

    for (i, op) in p.ops[..p.len].iter().enumerate() {
        let rel = |t: To| -> u8 {
            match t {
                To::Next => 0,
                // Every jump goes forward and the program is shorter than 256 instructions.
                t => (p.labels[slot(t)] - i - 1) as u8,
            }
        };
        out[i] = match *op {
            Op::Ld(off) => SockFilter {
                code: BPF_LD_W_ABS,
                jt: 0,
                jf: 0,
                k: off,
            },
            Op::Jeq(k, t, f) => SockFilter {
                code: BPF_JMP_JEQ_K,
                jt: rel(t),
                jf: rel(f),
                k,
            },
            Op::Ret(k) => SockFilter {
                code: BPF_RET_K,
                jt: 0,
                jf: 0,
                k,
            },
        };
    }
    Ok(p.len)
}

/// A filter built ahead (in the constructor, where the sites are known) and installed later from
/// any context, at most once per process image: the receive layer, added at the first
/// subscription. Instructions are kept as atomics so no lock or `static mut` is needed.
pub struct Staged {
    insns: [core::sync::atomic::AtomicU64; MAX_INSNS],
    len: core::sync::atomic::AtomicUsize,
    installed: core::sync::atomic::AtomicBool,
}

/// The receive layer of this process (empty unless the engine staged it).
pub static RECV_LAYER: Staged = Staged::new();

impl Default for Staged {
    fn default() -> Self {
        Self::new()
    }
}

impl Staged {
    /// Nothing staged.
    pub const fn new() -> Self {
        Staged {
            insns: [const { core::sync::atomic::AtomicU64::new(0) }; MAX_INSNS],
            len: core::sync::atomic::AtomicUsize::new(0),
            installed: core::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Keeps `prog` for a later [`Staged::install_once`].
    pub fn stage(&self, prog: &[SockFilter]) {
        use core::sync::atomic::Ordering;
        let n = prog.len().min(MAX_INSNS);
        for (slot, f) in self.insns.iter().zip(&prog[..n]) {
            let v = f.code as u64 | (f.jt as u64) << 16 | (f.jf as u64) << 24 | (f.k as u64) << 32;
            slot.store(v, Ordering::Relaxed);
        }
        self.len.store(n, Ordering::Release);
    }

    /// Whether a program is staged.
    pub fn is_staged(&self) -> bool {
        self.len.load(core::sync::atomic::Ordering::Acquire) != 0
    }

    /// Installs the staged program (seccomp with TSYNC, without NO_NEW_PRIVS) unless it was
    /// installed before; returns the kernel's answer, or 0 when there was nothing to do.
    pub fn install_once<K: crate::kernel::Kernel>(&self, k: &K) -> isize {
        use core::sync::atomic::Ordering;
        let n = self.len.load(Ordering::Acquire).min(MAX_INSNS);
        if n == 0 || self.installed.swap(true, Ordering::AcqRel) {
            return 0;
        }
        let mut prog = [SockFilter::default(); MAX_INSNS];
        for (f, slot) in prog.iter_mut().zip(self.insns.iter().take(n)) {
            let v = slot.load(Ordering::Relaxed);
            *f = SockFilter {
                code: v as u16,
                jt: (v >> 16) as u8,
                jf: (v >> 24) as u8,
                k: (v >> 32) as u32,
            };
        }
        #[repr(C)]
        struct Fprog {
            len: u16,
            filter: *const SockFilter,
        }
        let fprog = Fprog {
            len: n as u16,
            filter: prog.as_ptr(),
        };
        // SECCOMP_SET_MODE_FILTER = 1, SECCOMP_FILTER_FLAG_TSYNC = 1.
        // SAFETY: `fprog` and `prog` are live locals; the kernel copies the program.
        let r = unsafe {
            k.syscall(
                nr::SECCOMP,
                [1, 1, &fprog as *const Fprog as usize, 0, 0, 0],
            )
        };
        let mut l = crate::trace::Line::new(if r == 0 {
            crate::trace::Level::Info
        } else {
            crate::trace::Level::Warn
        });
        l.str("events: receive filter layer (recvfrom, recvmsg from the Go site) ");
        if r == 0 {
            l.str("installed");
        } else {
            l.str("could not be installed: ")
                .result(r)
                .str("; Go subscribers get no events");
        }
        l.emit();
        r
    }
}

/// The filter's rules without the instruction pointer: whether a call with these arguments is one
/// gvnet must see. The libc hooks use it to send every other call straight to libc, and a test
/// checks it against the BPF program itself.
pub fn wants(nr_: usize, args: &[usize; 6]) -> bool {
    let lo = |i: usize| args[i] as u32;
    match nr_ {
        nr::BIND | nr::CONNECT => lo(2) == abi::SOCKADDR_NL_LEN as u32,
        nr::SENDTO => lo(5) == abi::SOCKADDR_NL_LEN as u32 || lo(5) == abi::SOCKADDR_LL_LEN as u32,
        nr::SETSOCKOPT | nr::GETSOCKOPT => lo(1) == abi::SOL_NETLINK as u32,
        nr::GETSOCKNAME | nr::GETPEERNAME => true,
        nr::OPENAT => lo(2) == OPEN_READ as u32,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for the three opcodes the builder emits.
    fn run(prog: &[SockFilter], nr_: u32, arch: u32, ip: u64, args: [u64; 6]) -> u32 {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&nr_.to_le_bytes());
        d[4..8].copy_from_slice(&arch.to_le_bytes());
        d[8..16].copy_from_slice(&ip.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let f = prog[pc];
            match f.code {
                BPF_LD_W_ABS => {
                    acc = u32::from_le_bytes(d[f.k as usize..f.k as usize + 4].try_into().unwrap())
                }
                BPF_JMP_JEQ_K => pc += if acc == f.k { f.jt } else { f.jf } as usize,
                BPF_RET_K => return f.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
            pc += 1;
        }
    }

    const SITE: u64 = 0x5555_1234_5678;
    const OTHER: u64 = 0x7fff_0000_5678;
    const X86: u32 = abi::AUDIT_ARCH_X86_64;
    const TRAP: u32 = RET_TRAP | TRAP_DATA;

    fn prog(sites: &[u64]) -> Vec<SockFilter> {
        let mut out = [SockFilter::default(); MAX_INSNS];
        let n = build(sites, &mut out).unwrap();
        out[..n].to_vec()
    }

    #[test]
    fn traps_only_the_named_calls_from_the_site() {
        let p = prog(&[SITE]);
        let bind = nr::BIND as u32;
        assert_eq!(run(&p, bind, X86, SITE, [3, 0x1000, 12, 0, 0, 0]), TRAP);
        assert_eq!(
            run(&p, bind, X86, SITE, [3, 0x1000, 16, 0, 0, 0]),
            RET_ALLOW,
            "AF_INET bind"
        );
        assert_eq!(
            run(&p, bind, X86, OTHER, [3, 0x1000, 12, 0, 0, 0]),
            RET_ALLOW,
            "another site"
        );
        // Same low half, other high half: not the site.
        assert_eq!(
            run(&p, bind, X86, SITE ^ (1 << 40), [3, 0, 12, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            run(&p, nr::CONNECT as u32, X86, SITE, [3, 0, 12, 0, 0, 0]),
            TRAP
        );
        let sendto = nr::SENDTO as u32;
        assert_eq!(run(&p, sendto, X86, SITE, [3, 0, 1, 0, 0x1000, 12]), TRAP);
        assert_eq!(run(&p, sendto, X86, SITE, [3, 0, 1, 0, 0x1000, 20]), TRAP);
        assert_eq!(
            run(&p, sendto, X86, SITE, [3, 0, 1, 0, 0x1000, 16]),
            RET_ALLOW
        );
        assert_eq!(run(&p, sendto, X86, SITE, [3, 0, 1, 0, 0, 0]), RET_ALLOW);
        for n in [nr::SETSOCKOPT, nr::GETSOCKOPT] {
            assert_eq!(run(&p, n as u32, X86, SITE, [3, 270, 1, 0, 4, 0]), TRAP);
            assert_eq!(run(&p, n as u32, X86, SITE, [3, 1, 1, 0, 4, 0]), RET_ALLOW);
        }
        assert_eq!(
            run(&p, nr::GETSOCKNAME as u32, X86, SITE, [3, 0, 0, 0, 0, 0]),
            TRAP
        );
        assert_eq!(
            run(&p, nr::GETSOCKNAME as u32, X86, OTHER, [3, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        let openat = nr::OPENAT as u32;
        let read = OPEN_READ as u64;
        assert_eq!(run(&p, openat, X86, SITE, [0, 0x1000, read, 0, 0, 0]), TRAP);
        assert_eq!(
            run(&p, openat, X86, SITE, [0, 0x1000, read | 1, 0, 0, 0]),
            RET_ALLOW,
            "opened for writing"
        );
        assert_eq!(
            run(&p, openat, X86, OTHER, [0, 0x1000, read, 0, 0, 0]),
            RET_ALLOW
        );
    }

    #[test]
    fn everything_else_is_allowed_without_looking_at_arguments() {
        let p = prog(&[SITE]);
        for n in 0..460u32 {
            let named = [
                nr::BIND,
                nr::CONNECT,
                nr::SENDTO,
                nr::SETSOCKOPT,
                nr::GETSOCKOPT,
                nr::GETSOCKNAME,
                nr::GETPEERNAME,
                nr::OPENAT,
            ];
            if named.contains(&(n as usize)) {
                continue;
            }
            assert_eq!(
                run(&p, n, X86, SITE, [12, 270, 12, 12, 12, 12]),
                RET_ALLOW,
                "syscall {n}"
            );
        }
        // Another architecture (i386 via int 0x80): never trapped.
        assert_eq!(
            run(&p, nr::BIND as u32, 0x4000_0003, SITE, [3, 0, 12, 0, 0, 0]),
            RET_ALLOW
        );
    }

    #[test]
    fn wants_agrees_with_the_program() {
        let p = prog(&[SITE]);
        let vals = [
            0usize,
            1,
            12,
            16,
            20,
            270,
            0x1_0000_000c,
            OPEN_READ,
            OPEN_READ | 1,
        ];
        for n in 0..340usize {
            for &a in &vals {
                for &b in &vals {
                    let args = [3, a, b, 0, 0, b];
                    let bpf = run(&p, n as u32, X86, SITE, args.map(|x| x as u64)) == TRAP;
                    assert_eq!(wants(n, &args), bpf, "syscall {n} args {args:?}");
                }
            }
        }
    }

    #[test]
    fn the_receive_layer_traps_receives_from_the_site_only() {
        let mut out = [SockFilter::default(); MAX_INSNS];
        let n = build_layer(Layer::Recv, &[SITE], &mut out).unwrap();
        let p = &out[..n];
        for nr_ in 0..460u32 {
            let want = nr_ as usize == nr::RECVFROM || nr_ as usize == nr::RECVMSG;
            let expect = if want { TRAP } else { RET_ALLOW };
            assert_eq!(run(p, nr_, X86, SITE, [3, 0, 0, 0, 0, 0]), expect, "{nr_}");
            assert_eq!(run(p, nr_, X86, OTHER, [3, 0, 0, 0, 0, 0]), RET_ALLOW);
        }
    }

    #[test]
    fn several_sites() {
        let sites = [SITE, SITE + 0x100, 0x1_0000_0000];
        let p = prog(&sites);
        for s in sites {
            assert_eq!(run(&p, nr::GETSOCKNAME as u32, X86, s, [0; 6]), TRAP);
        }
        assert_eq!(
            run(&p, nr::GETSOCKNAME as u32, X86, SITE + 1, [0; 6]),
            RET_ALLOW
        );
        let mut out = [SockFilter::default(); MAX_INSNS];
        assert_eq!(build(&[], &mut out), Err(FilterError::NoSites));
        assert_eq!(build(&[1; 9], &mut out), Err(FilterError::TooManySites));
        assert!(build(&[1; MAX_SITES], &mut out).is_ok());
    }
}
