//! The part of gvnet that runs inside the SIGSYS handler.
//!
//! Everything in this crate may be called from a signal handler that interrupted arbitrary code,
//! including a Go thread running on its small signal stack. So it is `no_std` without `alloc`
//! (allocation is a compile error), takes no locks, touches no thread-local storage and formats
//! nothing with `core::fmt`: state lives in fixed tables of atomics, text is written with the
//! [`trace::Line`] writer and one raw `write(2)`.
//!
//! The crate is also where the decisions live, as plain functions over a [`kernel::Kernel`], so
//! the same emulation serves the SIGSYS handler (raw syscalls) and the libc hooks, and the
//! tests drive it with a recording fake kernel.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![deny(
    clippy::std_instead_of_core,
    clippy::print_stdout,
    clippy::print_stderr
)]
// Signal safety by construction (see docs/security.md): no formatting, no panicking macros or
// unwraps, no spin locks, no lazy cells. core/clippy.toml names what is disallowed; tests may
// use all of it.
#![cfg_attr(
    not(test),
    deny(
        clippy::disallowed_macros,
        clippy::disallowed_methods,
        clippy::disallowed_types,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::unreachable,
        clippy::use_debug,
        clippy::dbg_macro
    )
)]
#![cfg_attr(
    test,
    allow(
        clippy::disallowed_macros,
        clippy::disallowed_methods,
        clippy::disallowed_types
    )
)]

pub mod abi;
pub mod call;
pub mod caps;
pub mod counters;
pub mod emulate;
pub mod events;
pub mod filter;
pub mod gwroute;
pub mod kernel;
pub mod linkrec;
pub mod linkstore;
pub mod membership;
pub mod monitor;
pub mod recv;
pub mod routedev;
pub mod rtnl;
pub mod setlink;
pub mod sigsys;
pub mod sites;
pub mod sockaddr;
pub mod state;
pub mod strictchk;
pub mod sysctl;
pub mod trace;
pub mod veth;
pub mod vethpeer;
