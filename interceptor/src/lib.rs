//! libgvnet.so: makes Docker's bridge networking work inside gVisor.
//!
//! gVisor refuses netlink multicast membership, so dockerd cannot subscribe to link updates and
//! every bridge container fails. Loaded with `LD_PRELOAD`, this library supplies what gVisor lacks:
//!
//! * in every process, libc hooks ([`export`]) for C programs, armed at the first netlink call;
//! * in target processes (dockerd, a Go program that bypasses libc), a seccomp filter that traps
//!   the few raw syscalls that need it and a SIGSYS handler that emulates them ([`engine`]).
//!
//! The emulation itself, and everything the SIGSYS handler reaches, lives in the no_std crate
//! `gvnet-core`. See docs/design.md.

mod children;
pub mod config;
mod engine;
pub mod export;
mod logger;
mod real;
mod sites;
