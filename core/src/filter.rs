//! The seccomp filter: which raw syscalls trap into gvnet's SIGSYS handler.
//!
//! The filter decides on the syscall number alone for every number it does not name, reading
//! nothing else (not even the architecture), so gVisor (`populateCache` in
//! `pkg/sentry/kernel/seccomp.go`) and Linux (5.11+, the seccomp action cache) cache the verdict
//! for those numbers and never run the filter for them. A number a filter names cannot be cached:
//! then gVisor interprets every filter of the task for each such call, the container's own
//! profile included (docs/performance.md, *Inherited filter*). For the few it names it looks at
//! one argument each, then at the instruction pointer, which must be one of the target program's
//! own syscall sites (the address after its `syscall` instruction), and last at the
//! architecture:
//!
//! | syscall | traps when |
//! |---|---|
//! | bind, connect | addrlen == 12 (`sockaddr_nl`) |
//! | sendto | addrlen == 12 or 20 (`sockaddr_nl`, `sockaddr_ll`) |
//! | setsockopt, getsockopt | level == SOL_NETLINK |
//! | getsockname, getpeername | always (the family is only known after the call) |
//! | openat | flags == `O_RDONLY \| O_CLOEXEC` (Go's `os.Open`; for [`crate::sysctl`]) |
//!
//! The number is tested with range jumps first (the named x86_64 numbers are 42..=55 and 257),
//! so a number outside 42..=55 leaves after 4 instructions and every other number not named
//! after at most 8; the receive layer needs 4. The architecture test comes only before a trap:
//! a number that is not named is allowed whatever the architecture, and an i386 or x32 call
//! (other `arch`, or bit 30 set in the number) never reaches the trap. The tests compare every
//! verdict with the former arch-first program and count the instructions executed.
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
/// BPF_JMP | BPF_JGT | BPF_K (unsigned).
const BPF_JMP_JGT_K: u16 = 0x05 | 0x20;
/// BPF_JMP | BPF_JGE | BPF_K (unsigned).
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
/// x86_64 `socketpair`, the one number in 51..=53 that is not named.
const SOCKETPAIR: u32 = 53;

// The dispatch tree in `build_layer` relies on the order of the named numbers: see the test
// `the_dispatch_tree_matches_the_numbers`.
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
    /// Numbers 49..=55.
    Upper,
    /// Numbers 51..=53.
    Names,
    /// Numbers above 55.
    High,
    /// The architecture test before the trap.
    Arch,
    Site(usize),
}

/// Labels before the sites.
const FIXED_LABELS: usize = 11;

#[derive(Clone, Copy)]
enum Op {
    Ld(u32),
    Jeq(u32, To, To),
    Jgt(u32, To, To),
    Jge(u32, To, To),
    Ret(u32),
}

/// A filter program with symbolic jumps, then assembled.
struct Program {
    ops: [Op; MAX_INSNS],
    len: usize,
    labels: [usize; FIXED_LABELS + MAX_SITES],
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
        To::Upper => 7,
        To::Names => 8,
        To::High => 9,
        To::Arch => 10,
        To::Site(i) => FIXED_LABELS + i,
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
    let mut p = Program::new();
    p.push(Op::Ld(data::NR));
    match layer {
        Layer::Base => {
            p.push(Op::Jgt(nr::GETSOCKOPT as u32, To::High, To::Next));
            p.push(Op::Jge(nr::CONNECT as u32, To::Next, To::Allow));
            p.push(Op::Jge(nr::BIND as u32, To::Upper, To::Next));
            // 42..=48: connect, sendto; above sendto: recvfrom, sendmsg, recvmsg, shutdown.
            p.push(Op::Jgt(nr::SENDTO as u32, To::Allow, To::Next));
            p.push(Op::Jeq(nr::SENDTO as u32, To::Sendto, To::Next));
            p.push(Op::Jeq(nr::CONNECT as u32, To::Bind, To::Allow));
            p.label(To::Upper);
            // 49..=55: bind, getsockname, getpeername, setsockopt, getsockopt.
            p.push(Op::Jge(nr::SETSOCKOPT as u32, To::Sockopt, To::Next));
            p.push(Op::Jge(nr::GETSOCKNAME as u32, To::Names, To::Next));
            p.push(Op::Jeq(nr::BIND as u32, To::Bind, To::Allow));
            p.label(To::Names);
            p.push(Op::Jeq(SOCKETPAIR, To::Allow, To::CheckIp));
            p.label(To::High);
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
        p.push(Op::Jeq((site >> 32) as u32, To::Arch, next));
    }
    p.label(To::Arch);
    p.push(Op::Ld(data::ARCH));
    p.push(Op::Jeq(abi::AUDIT_ARCH_X86_64, To::Trap, To::Allow));
    p.label(To::Allow);
    p.push(Op::Ret(RET_ALLOW));
    p.label(To::Trap);
    p.push(Op::Ret(RET_TRAP | TRAP_DATA));
    Ok(p.assemble(out))
}

impl Program {
    fn new() -> Self {
        Program {
            ops: [Op::Ret(RET_ALLOW); MAX_INSNS],
            len: 0,
            labels: [0; FIXED_LABELS + MAX_SITES],
        }
    }

    /// Resolves the labels into relative offsets; returns the instruction count.
    fn assemble(&self, out: &mut [SockFilter; MAX_INSNS]) -> usize {
        for (i, op) in self.ops[..self.len].iter().enumerate() {
            let rel = |t: To| -> u8 {
                match t {
                    To::Next => 0,
                    // Every jump goes forward and the program is shorter than 256 instructions.
                    t => (self.labels[slot(t)] - i - 1) as u8,
                }
            };
            let jump = |code, k, t, f| SockFilter {
                code,
                jt: rel(t),
                jf: rel(f),
                k,
            };
            out[i] = match *op {
                Op::Ld(off) => SockFilter {
                    code: BPF_LD_W_ABS,
                    jt: 0,
                    jf: 0,
                    k: off,
                },
                Op::Jeq(k, t, f) => jump(BPF_JMP_JEQ_K, k, t, f),
                Op::Jgt(k, t, f) => jump(BPF_JMP_JGT_K, k, t, f),
                Op::Jge(k, t, f) => jump(BPF_JMP_JGE_K, k, t, f),
                Op::Ret(k) => SockFilter {
                    code: BPF_RET_K,
                    jt: 0,
                    jf: 0,
                    k,
                },
            };
        }
        self.len
    }
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

    /// One run of a filter: the verdict, how many instructions ran, which 32-bit words of
    /// `seccomp_data` were read (by offset / 4).
    struct Run {
        ret: u32,
        steps: usize,
        read: u16,
    }

    /// A classic-BPF interpreter for the opcodes the builder emits.
    fn exec(prog: &[SockFilter], nr_: u32, arch: u32, ip: u64, args: [u64; 6]) -> Run {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&nr_.to_le_bytes());
        d[4..8].copy_from_slice(&arch.to_le_bytes());
        d[8..16].copy_from_slice(&ip.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc, mut steps, mut read) = (0usize, 0u32, 0usize, 0u16);
        loop {
            let f = prog[pc];
            steps += 1;
            let jump = |c: bool| if c { f.jt } else { f.jf } as usize;
            match f.code {
                BPF_LD_W_ABS => {
                    let k = f.k as usize;
                    assert_eq!(k % 4, 0, "unaligned load");
                    read |= 1 << (k / 4);
                    acc = u32::from_le_bytes(d[k..k + 4].try_into().unwrap())
                }
                BPF_JMP_JEQ_K => pc += jump(acc == f.k),
                BPF_JMP_JGT_K => pc += jump(acc > f.k),
                BPF_JMP_JGE_K => pc += jump(acc >= f.k),
                BPF_RET_K => {
                    return Run {
                        ret: f.k,
                        steps,
                        read,
                    }
                }
                c => panic!("unexpected opcode {c:#x}"),
            }
            pc += 1;
        }
    }

    fn run(prog: &[SockFilter], nr_: u32, arch: u32, ip: u64, args: [u64; 6]) -> u32 {
        exec(prog, nr_, arch, ip, args).ret
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

    fn layer(l: Layer, sites: &[u64]) -> Vec<SockFilter> {
        let mut out = [SockFilter::default(); MAX_INSNS];
        let n = build_layer(l, sites, &mut out).unwrap();
        out[..n].to_vec()
    }

    /// The program as built until the range tests came: architecture first, then the number,
    /// one JEQ per named number. Kept as the reference the new program must agree with.
    fn arch_first(l: Layer, sites: &[u64]) -> Vec<SockFilter> {
        let mut p = Program::new();
        p.push(Op::Ld(data::ARCH));
        p.push(Op::Jeq(abi::AUDIT_ARCH_X86_64, To::Next, To::Allow));
        p.push(Op::Ld(data::NR));
        match l {
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
        let mut out = [SockFilter::default(); MAX_INSNS];
        let n = p.assemble(&mut out);
        out[..n].to_vec()
    }

    /// Numbers to try: every x86_64 number and beyond, their x32 forms (bit 30), the top bit.
    fn numbers() -> Vec<u32> {
        let mut v: Vec<u32> = (0..=1024).collect();
        v.extend((0..=600).map(|n| n | 0x4000_0000));
        v.extend([0x8000_0000 | 44, 0xffff_ffff, 0x7fff_ffff]);
        v
    }

    fn named(l: Layer, n: u32) -> bool {
        let n = n as usize;
        match l {
            Layer::Base => [
                nr::BIND,
                nr::CONNECT,
                nr::SENDTO,
                nr::SETSOCKOPT,
                nr::GETSOCKOPT,
                nr::GETSOCKNAME,
                nr::GETPEERNAME,
                nr::OPENAT,
            ]
            .contains(&n),
            Layer::Recv => n == nr::RECVFROM || n == nr::RECVMSG,
        }
    }

    #[test]
    fn same_verdicts_as_the_arch_first_program() {
        // i386 (int 0x80), aarch64, none: never trapped; x32 numbers come with x86_64's arch.
        let arches = [X86, 0x4000_0003, 0xc000_00b7, 0];
        let vals = [0u64, 12, 16, 20, 270, 0x1_0000_000c, OPEN_READ as u64];
        let many = [SITE, SITE + 0x100, 0x1_0000_0000];
        let (mut traps, mut runs) = (0usize, 0usize);
        for l in [Layer::Base, Layer::Recv] {
            for sites in [&[SITE][..], &many[..]] {
                let (new, old) = (layer(l, sites), arch_first(l, sites));
                let mut ips = sites.to_vec();
                ips.extend([OTHER, SITE ^ (1 << 40), SITE + 1, 0]);
                for n in numbers() {
                    for arch in arches {
                        for &ip in &ips {
                            for a in vals {
                                for b in vals {
                                    let args = [3, a, b, 0, 0, b];
                                    let v = run(&new, n, arch, ip, args);
                                    let want = run(&old, n, arch, ip, args);
                                    assert_eq!(
                                        v, want,
                                        "{l:?} nr {n:#x} arch {arch:#x} ip {ip:#x} args {args:?}"
                                    );
                                    traps += usize::from(v == TRAP);
                                    runs += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        // The comparison saw both verdicts.
        assert!(
            traps > 1000 && traps < runs / 2,
            "{traps} traps in {runs} runs"
        );
    }

    #[test]
    fn numbers_not_named_read_only_the_number_and_leave_early() {
        for sites in [&[SITE][..], &[SITE, SITE + 0x100, 0x1_0000_0000][..]] {
            for l in [Layer::Base, Layer::Recv] {
                let p = layer(l, sites);
                let mut longest = 0;
                for n in numbers() {
                    if named(l, n) {
                        continue;
                    }
                    for arch in [X86, 0x4000_0003] {
                        let r = exec(&p, n, arch, SITE, [12, 270, 12, 12, 12, 12]);
                        assert_eq!(r.ret, RET_ALLOW, "{l:?} {n}");
                        // Only seccomp_data.nr (word 0): gVisor and Linux cache this verdict.
                        assert_eq!(r.read, 1, "{l:?} nr {n:#x} read words {:#b}", r.read);
                        let bound = match l {
                            Layer::Base if (42..=55).contains(&n) => 8,
                            _ => 4,
                        };
                        assert!(r.steps <= bound, "{l:?} nr {n}: {} instructions", r.steps);
                        longest = longest.max(r.steps);
                    }
                }
                assert_eq!(longest, if l == Layer::Base { 8 } else { 4 }, "{l:?}");
                // getppid and read, the loop benchmark's calls: 4 instructions.
                for n in [110, 0] {
                    assert_eq!(exec(&p, n, X86, OTHER, [0; 6]).steps, 4, "{l:?} {n}");
                }
            }
        }
    }

    #[test]
    fn a_trap_needs_x86_64() {
        for l in [Layer::Base, Layer::Recv] {
            let p = layer(l, &[SITE]);
            let n = if l == Layer::Base {
                nr::GETSOCKNAME
            } else {
                nr::RECVFROM
            } as u32;
            let r = exec(&p, n, X86, SITE, [0; 6]);
            assert_eq!(r.ret, TRAP);
            assert_ne!(r.read & 0b10, 0, "the arch word is read before the trap");
            assert_eq!(run(&p, n, 0x4000_0003, SITE, [0; 6]), RET_ALLOW);
            assert_eq!(run(&p, n | 0x4000_0000, X86, SITE, [0; 6]), RET_ALLOW);
        }
    }

    #[test]
    fn the_dispatch_tree_matches_the_numbers() {
        assert_eq!(SOCKETPAIR as libc::c_long, libc::SYS_socketpair);
        const { assert!(nr::CONNECT < nr::SENDTO && nr::SENDTO < nr::BIND) };
        assert_eq!(nr::BIND + 2, nr::GETSOCKNAME);
        assert_eq!(nr::GETSOCKNAME + 1, nr::GETPEERNAME);
        assert_eq!(nr::GETPEERNAME + 1, SOCKETPAIR as usize);
        assert_eq!(SOCKETPAIR as usize + 1, nr::SETSOCKOPT);
        assert_eq!(nr::SETSOCKOPT + 1, nr::GETSOCKOPT);
        const { assert!(nr::GETSOCKOPT < nr::OPENAT) };
    }
}
