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
//! | layer | syscall | traps when |
//! |---|---|---|
//! | base | connect, bind | addrlen == 12 (`sockaddr_nl`) |
//! | base | setsockopt | level == SOL_NETLINK |
//! | late | sendto | addrlen == 12 or 20 (`sockaddr_nl`, `sockaddr_ll`) |
//! | late | getsockopt | level == SOL_NETLINK |
//! | late | getsockname, getpeername | always (the family is only known after the call) |
//! | late | openat | flags == `O_RDONLY \| O_CLOEXEC` (Go's `os.Open`; for [`crate::sysctl`]) |
//! | recv | recvfrom, recvmsg | always (the socket cannot be seen from BPF) |
//!
//! The constructor installs the base layer. The late layer is installed (TSYNC) by the first
//! trap: Go's netlink users bind every socket first, so no late call on a netlink socket comes
//! before it, and what the target forked before its first netlink call (dockerd's containerd,
//! and so every container) inherits the base layer alone, which names no call of a hot path.
//! The receive layer comes with the first subscription (see [`Layer`]).
//!
//! The number is tested with range jumps first, so a number outside the layer's range leaves
//! after at most 4 instructions and every other number not named after at most 8 (7 in the
//! base layer). The architecture test comes only before a trap:
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
pub use crate::caps::Traps;

/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_TRAP`.
pub const RET_TRAP: u32 = 0x0003_0000;
/// The 16 bits of data gvnet's traps carry (`si_errno` of the SIGSYS): "gv".
pub const TRAP_DATA: u32 = 0x6776;
/// At most this many syscall sites.
pub const MAX_SITES: usize = 8;
/// The `openat` flags that trap: `O_RDONLY | O_CLOEXEC`, what Go's `os.Open` passes.
const OPEN_READ: usize = abi::O_CLOEXEC;
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
    /// Numbers above 55.
    High,
    /// The architecture test before the trap.
    Arch,
    Site(usize),
}

/// Labels before the sites.
const FIXED_LABELS: usize = 9;

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
        To::High => 7,
        To::Arch => 8,
        To::Site(i) => FIXED_LABELS + i,
        To::Next => usize::MAX,
    }
}

/// Which filter: the one installed at start, the late layer added at the first trap, or the
/// receive layer added at the first subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// connect, bind, setsockopt: one of them comes first on any netlink socket (Go's netlink
    /// users bind every socket before they use it). Installed by the constructor; the only
    /// gvnet layer a process forked before dockerd's first netlink call inherits (containerd,
    /// and so every container).
    Base,
    /// sendto, getsockname, getpeername, getsockopt, openat: calls that only matter once a
    /// netlink socket exists. Built by the constructor, installed at the first trap of the base
    /// layer (`state::LATE_LAYER`).
    Late,
    /// recvfrom and recvmsg from the sites, always: the file descriptor cannot be checked in
    /// BPF, so every receive of the target traps once some socket has subscribed and the
    /// handler passes those of sockets without events straight on.
    Recv,
}

impl Layer {
    /// The syscall numbers this layer reads arguments of (the numbers gVisor and Linux cannot
    /// cache a verdict for); every other number is allowed on `nr` alone.
    pub const fn numbers(self) -> &'static [usize] {
        match self {
            Layer::Base => &[nr::CONNECT, nr::BIND, nr::SETSOCKOPT],
            Layer::Late => &[
                nr::SENDTO,
                nr::GETSOCKNAME,
                nr::GETPEERNAME,
                nr::GETSOCKOPT,
                nr::OPENAT,
            ],
            Layer::Recv => &[nr::RECVFROM, nr::RECVMSG],
        }
    }
}

/// Builds the base layer for a kernel that refuses everything ([`Traps::ALL`]) into `out`;
/// returns the instruction count.
pub fn build(sites: &[u64], out: &mut [SockFilter; MAX_INSNS]) -> Result<usize, FilterError> {
    build_layer(Layer::Base, Traps::ALL, sites, out)
}

/// Builds filter `layer` for the given syscall sites into `out`, naming only the calls `traps`
/// asks for; returns the instruction count, 0 when the layer would name nothing (then it is
/// not to be installed).
pub fn build_layer(
    layer: Layer,
    traps: Traps,
    sites: &[u64],
    out: &mut [SockFilter; MAX_INSNS],
) -> Result<usize, FilterError> {
    if sites.is_empty() {
        return Err(FilterError::NoSites);
    }
    if sites.len() > MAX_SITES {
        return Err(FilterError::TooManySites);
    }
    let membership = traps.has(Traps::MEMBERSHIP);
    let (send_nl, send_ll) = (traps.has(Traps::SEND_NL), traps.has(Traps::SEND_LL));
    let send = send_nl || send_ll;
    let openat = traps.has(Traps::OPENAT);
    let names_something = match layer {
        Layer::Base | Layer::Recv => membership,
        Layer::Late => membership || send || openat,
    };
    if !names_something {
        return Ok(0);
    }
    let mut p = Program::new();
    p.push(Op::Ld(data::NR));
    match layer {
        Layer::Base => {
            // 42 connect, 49 bind, 54 setsockopt.
            p.push(Op::Jgt(nr::SETSOCKOPT as u32, To::Allow, To::Next));
            p.push(Op::Jge(nr::CONNECT as u32, To::Next, To::Allow));
            p.push(Op::Jeq(nr::CONNECT as u32, To::Bind, To::Next));
            p.push(Op::Jeq(nr::BIND as u32, To::Bind, To::Next));
            p.push(Op::Jeq(nr::SETSOCKOPT as u32, To::Sockopt, To::Allow));
            p.label(To::Bind);
            p.push(Op::Ld(data::arg_lo(2)));
            p.push(Op::Jeq(abi::SOCKADDR_NL_LEN as u32, To::CheckIp, To::Allow));
            p.label(To::Sockopt);
            p.push(Op::Ld(data::arg_lo(1)));
            p.push(Op::Jeq(abi::SOL_NETLINK as u32, To::CheckIp, To::Allow));
        }
        Layer::Late => {
            // 44 sendto, 51 getsockname, 52 getpeername, 55 getsockopt, 257 openat; each only
            // when `traps` names it.
            let high = if openat { To::High } else { To::Allow };
            let sendto = if send { To::Sendto } else { To::Allow };
            if membership {
                p.push(Op::Jgt(nr::GETSOCKOPT as u32, high, To::Next));
                p.push(Op::Jge(nr::SENDTO as u32, To::Next, To::Allow));
                p.push(Op::Jeq(nr::SENDTO as u32, sendto, To::Next));
                p.push(Op::Jge(nr::GETSOCKNAME as u32, To::Next, To::Allow));
                // 51..=55: getsockopt; socketpair and setsockopt (53, 54) leave.
                p.push(Op::Jeq(nr::GETSOCKOPT as u32, To::Sockopt, To::Next));
                p.push(Op::Jgt(nr::GETPEERNAME as u32, To::Allow, To::CheckIp));
            } else if send {
                p.push(Op::Jeq(nr::SENDTO as u32, To::Sendto, high));
            }
            if openat {
                p.label(To::High);
                p.push(Op::Jeq(nr::OPENAT as u32, To::Openat, To::Allow));
            }
            if send {
                p.label(To::Sendto);
                p.push(Op::Ld(data::arg_lo(5)));
                match (send_nl, send_ll) {
                    (true, true) => {
                        p.push(Op::Jeq(abi::SOCKADDR_NL_LEN as u32, To::CheckIp, To::Next));
                        p.push(Op::Jeq(abi::SOCKADDR_LL_LEN as u32, To::CheckIp, To::Allow));
                    }
                    (true, false) => {
                        p.push(Op::Jeq(abi::SOCKADDR_NL_LEN as u32, To::CheckIp, To::Allow));
                    }
                    _ => p.push(Op::Jeq(abi::SOCKADDR_LL_LEN as u32, To::CheckIp, To::Allow)),
                }
            }
            if membership {
                p.label(To::Sockopt);
                p.push(Op::Ld(data::arg_lo(1)));
                p.push(Op::Jeq(abi::SOL_NETLINK as u32, To::CheckIp, To::Allow));
            }
            if openat {
                p.label(To::Openat);
                p.push(Op::Ld(data::arg_lo(2)));
                p.push(Op::Jeq(OPEN_READ as u32, To::CheckIp, To::Allow));
            }
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
/// any context, at most once per process image: the late layer at the first trap, the receive
/// layer at the first subscription. Instructions are kept as atomics so no lock or `static mut`
/// is needed.
pub struct Staged {
    insns: [core::sync::atomic::AtomicU64; MAX_INSNS],
    len: core::sync::atomic::AtomicUsize,
    /// [`IDLE`], [`INSTALLING`] or [`DONE`].
    state: core::sync::atomic::AtomicU8,
    /// What the layer is, for the trace line.
    what: &'static str,
    /// What is lost when it cannot be installed.
    without: &'static str,
}

const IDLE: u8 = 0;
const INSTALLING: u8 = 1;
const DONE: u8 = 2;

impl Staged {
    /// Nothing staged yet; `what` names the layer in its trace line, `without` says what is
    /// lost when it cannot be installed.
    pub const fn new(what: &'static str, without: &'static str) -> Self {
        Staged {
            insns: [const { core::sync::atomic::AtomicU64::new(0) }; MAX_INSNS],
            len: core::sync::atomic::AtomicUsize::new(0),
            state: core::sync::atomic::AtomicU8::new(IDLE),
            what,
            without,
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

    /// Whether the staged program has been installed (or its one attempt has failed).
    pub fn is_done(&self) -> bool {
        self.state.load(core::sync::atomic::Ordering::Acquire) == DONE
    }

    /// Installs the staged program (seccomp with TSYNC, without NO_NEW_PRIVS) unless it was
    /// installed before; returns the kernel's answer, or 0 when there was nothing to do. A
    /// thread that comes while another installs it waits (yielding) until that is done, so no
    /// caller goes on before the layer is in force.
    pub fn install_once<K: crate::kernel::Kernel>(&self, k: &K) -> isize {
        use core::sync::atomic::Ordering;
        if self.state.load(Ordering::Acquire) == DONE {
            return 0;
        }
        let n = self.len.load(Ordering::Acquire).min(MAX_INSNS);
        if n == 0 {
            return 0;
        }
        if self
            .state
            .compare_exchange(IDLE, INSTALLING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // A TSYNC install takes microseconds; the bound only keeps a stuck installer
            // (impossible without a kernel bug) from holding this thread for good.
            for _ in 0..100_000 {
                if self.state.load(Ordering::Acquire) == DONE {
                    break;
                }
                // SAFETY: sched_yield takes no arguments and touches no memory.
                unsafe { k.syscall(nr::SCHED_YIELD, [0; 6]) };
            }
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
        self.state.store(DONE, Ordering::Release);
        let mut l = crate::trace::Line::new(if r == 0 {
            crate::trace::Level::Info
        } else {
            crate::trace::Level::Warn
        });
        l.str(self.what).str(" ");
        if r == 0 {
            // When, on the wall clock, so that a process's start (`/proc/PID/stat`) can be
            // placed before or after it (scenario layers-inherited).
            let mut ts = [0i64; 2];
            // SAFETY: CLOCK_REALTIME (0) into a live timespec.
            let t =
                unsafe { k.syscall(nr::CLOCK_GETTIME, [0, ts.as_mut_ptr() as usize, 0, 0, 0, 0]) };
            l.str("installed");
            if t == 0 {
                l.str(" at realtime ")
                    .dec(ts[0] * 1000 + ts[1] / 1_000_000)
                    .str(" ms");
            }
        } else {
            l.str("could not be installed: ")
                .result(r)
                .str("; ")
                .str(self.without);
        }
        l.emit();
        r
    }
}

/// The filter's rules without the instruction pointer: whether a call with these arguments is one
/// gvnet must see, given what it traps. The libc hooks use it to send every other call straight to
/// libc, and a test checks it against the BPF program itself.
pub fn wants(traps: Traps, nr_: usize, args: &[usize; 6]) -> bool {
    let lo = |i: usize| args[i] as u32;
    let membership = traps.has(Traps::MEMBERSHIP);
    match nr_ {
        nr::BIND | nr::CONNECT => membership && lo(2) == abi::SOCKADDR_NL_LEN as u32,
        nr::SENDTO => {
            (traps.has(Traps::SEND_NL) && lo(5) == abi::SOCKADDR_NL_LEN as u32)
                || (traps.has(Traps::SEND_LL) && lo(5) == abi::SOCKADDR_LL_LEN as u32)
        }
        nr::SETSOCKOPT | nr::GETSOCKOPT => membership && lo(1) == abi::SOL_NETLINK as u32,
        nr::GETSOCKNAME | nr::GETPEERNAME => membership,
        nr::OPENAT => traps.has(Traps::OPENAT) && lo(2) == OPEN_READ as u32,
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

    /// x86_64 `socketpair`, between getpeername and setsockopt.
    const SOCKETPAIR: u32 = 53;

    /// The base and the late layer together, as dockerd runs after its first trap: a call traps
    /// when either layer traps it.
    struct Stack(Vec<SockFilter>, Vec<SockFilter>);

    impl Stack {
        fn new(sites: &[u64]) -> Self {
            Stack(layer(Layer::Base, sites), layer(Layer::Late, sites))
        }

        fn run(&self, nr_: u32, arch: u32, ip: u64, args: [u64; 6]) -> u32 {
            let (a, b) = (
                run(&self.0, nr_, arch, ip, args),
                run(&self.1, nr_, arch, ip, args),
            );
            if a == TRAP || b == TRAP {
                TRAP
            } else {
                a.min(b)
            }
        }
    }

    #[test]
    fn traps_only_the_named_calls_from_the_site() {
        let p = Stack::new(&[SITE]);
        let run = |n, arch, ip, args| p.run(n, arch, ip, args);
        let bind = nr::BIND as u32;
        assert_eq!(run(bind, X86, SITE, [3, 0x1000, 12, 0, 0, 0]), TRAP);
        assert_eq!(
            run(bind, X86, SITE, [3, 0x1000, 16, 0, 0, 0]),
            RET_ALLOW,
            "AF_INET bind"
        );
        assert_eq!(
            run(bind, X86, OTHER, [3, 0x1000, 12, 0, 0, 0]),
            RET_ALLOW,
            "another site"
        );
        // Same low half, other high half: not the site.
        assert_eq!(
            run(bind, X86, SITE ^ (1 << 40), [3, 0, 12, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            run(nr::CONNECT as u32, X86, SITE, [3, 0, 12, 0, 0, 0]),
            TRAP
        );
        let sendto = nr::SENDTO as u32;
        assert_eq!(run(sendto, X86, SITE, [3, 0, 1, 0, 0x1000, 12]), TRAP);
        assert_eq!(run(sendto, X86, SITE, [3, 0, 1, 0, 0x1000, 20]), TRAP);
        assert_eq!(run(sendto, X86, SITE, [3, 0, 1, 0, 0x1000, 16]), RET_ALLOW);
        assert_eq!(run(sendto, X86, SITE, [3, 0, 1, 0, 0, 0]), RET_ALLOW);
        for n in [nr::SETSOCKOPT, nr::GETSOCKOPT] {
            assert_eq!(run(n as u32, X86, SITE, [3, 270, 1, 0, 4, 0]), TRAP);
            assert_eq!(run(n as u32, X86, SITE, [3, 1, 1, 0, 4, 0]), RET_ALLOW);
        }
        assert_eq!(
            run(nr::GETSOCKNAME as u32, X86, SITE, [3, 0, 0, 0, 0, 0]),
            TRAP
        );
        assert_eq!(
            run(nr::GETSOCKNAME as u32, X86, OTHER, [3, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        let openat = nr::OPENAT as u32;
        let read = OPEN_READ as u64;
        assert_eq!(run(openat, X86, SITE, [0, 0x1000, read, 0, 0, 0]), TRAP);
        assert_eq!(
            run(openat, X86, SITE, [0, 0x1000, read | 1, 0, 0, 0]),
            RET_ALLOW,
            "opened for writing"
        );
        assert_eq!(
            run(openat, X86, OTHER, [0, 0x1000, read, 0, 0, 0]),
            RET_ALLOW
        );
    }

    #[test]
    fn everything_else_is_allowed_without_looking_at_arguments() {
        for l in [Layer::Base, Layer::Late, Layer::Recv] {
            let p = layer(l, &[SITE]);
            for n in 0..460u32 {
                if named(l, n) {
                    continue;
                }
                for args in [
                    [12, 270, 12, 12, 12, 12],
                    [3, 0, OPEN_READ as u64, 0, 0, 20],
                ] {
                    assert_eq!(run(&p, n, X86, SITE, args), RET_ALLOW, "{l:?} syscall {n}");
                }
            }
        }
        // Another architecture (i386 via int 0x80): never trapped.
        let p = Stack::new(&[SITE]);
        assert_eq!(
            p.run(nr::BIND as u32, 0x4000_0003, SITE, [3, 0, 12, 0, 0, 0]),
            RET_ALLOW
        );
    }

    #[test]
    fn the_layers_split_the_named_calls() {
        // What traps each number: exactly one layer, and every number `wants` ever wants.
        let (base, late) = (Layer::Base.numbers(), Layer::Late.numbers());
        assert!(base.iter().all(|n| !late.contains(n)), "disjoint");
        let args = [
            [3, 0, 12, 0, 0, 12],
            [3, 270, 0, 0, 0, 20],
            [0, 0, OPEN_READ, 0, 0, 0],
        ];
        for n in 0..460usize {
            let wanted = args.iter().any(|a| wants(Traps::ALL, n, a));
            assert_eq!(wanted, base.contains(&n) || late.contains(&n), "{n}");
            for l in [Layer::Base, Layer::Late, Layer::Recv] {
                let p = layer(l, &[SITE]);
                let traps = args
                    .iter()
                    .any(|a| run(&p, n as u32, X86, SITE, a.map(|x| x as u64)) == TRAP);
                assert_eq!(traps, l.numbers().contains(&n), "{l:?} nr {n}");
            }
        }
        // A container inherits only the base layer: none of the loop benchmark's calls.
        for n in [nr::SENDTO, nr::RECVFROM, nr::OPENAT, 0, 1, 110] {
            assert!(!base.contains(&n), "{n}");
        }
    }

    #[test]
    fn wants_agrees_with_the_program() {
        let p = Stack::new(&[SITE]);
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
                    let bpf = p.run(n as u32, X86, SITE, args.map(|x| x as u64)) == TRAP;
                    assert_eq!(
                        wants(Traps::ALL, n, &args),
                        bpf,
                        "syscall {n} args {args:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_receive_layer_traps_receives_from_the_site_only() {
        let mut out = [SockFilter::default(); MAX_INSNS];
        let n = build_layer(Layer::Recv, Traps::ALL, &[SITE], &mut out).unwrap();
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
        let p = layer(Layer::Late, &sites);
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
        layer_for(l, Traps::ALL, sites)
    }

    fn layer_for(l: Layer, traps: Traps, sites: &[u64]) -> Vec<SockFilter> {
        let mut out = [SockFilter::default(); MAX_INSNS];
        let n = build_layer(l, traps, sites, &mut out).unwrap();
        out[..n].to_vec()
    }

    /// Every combination of what a kernel can refuse: the layers together trap exactly what
    /// `wants` wants for that combination (from the site, on x86_64), an empty layer is not
    /// built at all, and numbers not named leave as early as in the full program.
    #[test]
    fn each_trap_set_names_exactly_its_calls() {
        let vals = [
            0u64,
            1,
            12,
            16,
            20,
            270,
            OPEN_READ as u64,
            OPEN_READ as u64 | 1,
        ];
        for bits in 0..128u8 {
            let t = Traps::from_bits(bits);
            let progs: Vec<Vec<SockFilter>> = [Layer::Base, Layer::Late]
                .into_iter()
                .map(|l| layer_for(l, t, &[SITE]))
                .collect();
            let recv = layer_for(Layer::Recv, t, &[SITE]);
            assert_eq!(progs[0].is_empty(), !t.has(Traps::MEMBERSHIP), "{t:?}");
            assert_eq!(recv.is_empty(), !t.has(Traps::MEMBERSHIP), "{t:?}");
            // Traps::HOOKS_ONLY are the libc hooks' alone: they name nothing.
            assert_eq!(progs[1].is_empty(), !t.needs_filter(), "{t:?}");
            for n in 0..460u32 {
                for a in vals {
                    for b in vals {
                        let args = [3, a, b, 0, 0, b];
                        let want = wants(t, n as usize, &args.map(|x| x as usize));
                        for ip in [SITE, OTHER] {
                            let trapped = progs
                                .iter()
                                .filter(|p| !p.is_empty())
                                .any(|p| run(p, n, X86, ip, args) == TRAP);
                            assert_eq!(trapped, want && ip == SITE, "{t:?} nr {n} {args:?}");
                        }
                    }
                }
                // A number this set never traps is decided on the number alone, early.
                let named = vals.iter().any(|&a| {
                    vals.iter().any(|&b| {
                        wants(
                            t,
                            n as usize,
                            &[3, a as usize, b as usize, 0, 0, b as usize],
                        )
                    })
                });
                for p in progs.iter().filter(|p| !p.is_empty() && !named) {
                    let r = exec(p, n, X86, SITE, [12, 270, 12, 12, 12, 12]);
                    assert_eq!((r.ret, r.read), (RET_ALLOW, 1), "{t:?} nr {n}");
                    assert!(r.steps <= 8, "{t:?} nr {n}: {} instructions", r.steps);
                }
            }
        }
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
                p.push(Op::Jeq(nr::SETSOCKOPT as u32, To::Sockopt, To::Allow));
                p.label(To::Bind);
                p.push(Op::Ld(data::arg_lo(2)));
                p.push(Op::Jeq(abi::SOCKADDR_NL_LEN as u32, To::CheckIp, To::Allow));
                p.label(To::Sockopt);
                p.push(Op::Ld(data::arg_lo(1)));
                p.push(Op::Jeq(abi::SOL_NETLINK as u32, To::CheckIp, To::Allow));
            }
            Layer::Late => {
                p.push(Op::Jeq(nr::SENDTO as u32, To::Sendto, To::Next));
                p.push(Op::Jeq(nr::GETSOCKOPT as u32, To::Sockopt, To::Next));
                p.push(Op::Jeq(nr::GETSOCKNAME as u32, To::CheckIp, To::Next));
                p.push(Op::Jeq(nr::GETPEERNAME as u32, To::CheckIp, To::Next));
                p.push(Op::Jeq(nr::OPENAT as u32, To::Openat, To::Allow));
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
        l.numbers().contains(&(n as usize))
    }

    #[test]
    fn same_verdicts_as_the_arch_first_program() {
        // i386 (int 0x80), aarch64, none: never trapped; x32 numbers come with x86_64's arch.
        let arches = [X86, 0x4000_0003, 0xc000_00b7, 0];
        let vals = [0u64, 12, 16, 20, 270, 0x1_0000_000c, OPEN_READ as u64];
        let many = [SITE, SITE + 0x100, 0x1_0000_0000];
        let (mut traps, mut runs) = (0usize, 0usize);
        for l in [Layer::Base, Layer::Late, Layer::Recv] {
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
            for l in [Layer::Base, Layer::Late, Layer::Recv] {
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
                            Layer::Base if (42..=54).contains(&n) => 7,
                            Layer::Late if (44..=55).contains(&n) => 8,
                            _ => 4,
                        };
                        assert!(r.steps <= bound, "{l:?} nr {n}: {} instructions", r.steps);
                        longest = longest.max(r.steps);
                    }
                }
                let most = match l {
                    Layer::Base => 7,
                    Layer::Late => 8,
                    Layer::Recv => 4,
                };
                assert_eq!(longest, most, "{l:?}");
                // getppid and read, the loop benchmark's calls: at most 4 instructions.
                for n in [110, 0] {
                    let steps = exec(&p, n, X86, OTHER, [0; 6]).steps;
                    assert!(steps <= 4, "{l:?} {n}: {steps}");
                }
            }
        }
    }

    #[test]
    fn a_trap_needs_x86_64() {
        for (l, n, args) in [
            (Layer::Base, nr::BIND, [3, 0, 12, 0, 0, 0]),
            (Layer::Late, nr::GETSOCKNAME, [0; 6]),
            (Layer::Recv, nr::RECVFROM, [0; 6]),
        ] {
            let p = layer(l, &[SITE]);
            let n = n as u32;
            let r = exec(&p, n, X86, SITE, args);
            assert_eq!(r.ret, TRAP);
            assert_ne!(r.read & 0b10, 0, "the arch word is read before the trap");
            assert_eq!(run(&p, n, 0x4000_0003, SITE, args), RET_ALLOW);
            assert_eq!(run(&p, n | 0x4000_0000, X86, SITE, args), RET_ALLOW);
        }
    }

    #[test]
    fn a_staged_layer_is_installed_once_with_tsync() {
        use crate::kernel::fake::FakeKernel;
        let k = FakeKernel::default();
        let empty = Staged::new("nothing", "nothing");
        assert_eq!(empty.install_once(&k), 0);
        assert!(
            k.calls_of(nr::SECCOMP).is_empty(),
            "nothing staged, nothing installed"
        );

        let s = Staged::new("test layer", "nothing");
        let p = layer(Layer::Late, &[SITE]);
        s.stage(&p);
        assert!(s.is_staged() && !s.is_done());
        assert_eq!(s.install_once(&k), 0);
        assert!(s.is_done());
        assert_eq!(s.install_once(&k), 0);
        let calls = k.calls_of(nr::SECCOMP);
        assert_eq!(calls.len(), 1, "installed once");
        // SECCOMP_SET_MODE_FILTER with SECCOMP_FILTER_FLAG_TSYNC.
        assert_eq!(calls[0].args[..2], [1, 1]);

        // A refusal is reported once and not retried.
        let k = FakeKernel::default();
        k.script(nr::SECCOMP, &[-13]);
        let s = Staged::new("test layer", "nothing");
        s.stage(&p);
        assert_eq!(s.install_once(&k), -13);
        assert_eq!(s.install_once(&k), 0);
        assert_eq!(k.calls_of(nr::SECCOMP).len(), 1);
    }

    #[test]
    fn the_dispatch_tree_matches_the_numbers() {
        assert_eq!(SOCKETPAIR as libc::c_long, libc::SYS_socketpair);
        const { assert!(nr::CONNECT < nr::SENDTO && nr::SENDTO < nr::BIND) };
        assert_eq!(nr::BIND + 2, nr::GETSOCKNAME);
        assert_eq!(nr::GETSOCKNAME + 1, nr::GETPEERNAME);
        assert_eq!(nr::GETPEERNAME + 1, SOCKETPAIR as usize);
        assert_eq!(SOCKETPAIR as usize + 1, nr::SETSOCKOPT);
        const { assert!(nr::CONNECT < nr::BIND && nr::BIND < nr::SETSOCKOPT) };
        assert_eq!(nr::SETSOCKOPT + 1, nr::GETSOCKOPT);
        const { assert!(nr::GETSOCKOPT < nr::OPENAT) };
    }
}
