//! The real libc functions behind the hooks, resolved with `dlsym(RTLD_NEXT)` in the constructor.
//!
//! Resolution happens before `main` (and before any signal handler of ours exists). A hook called
//! even earlier, from another library's constructor, resolves its symbol on the spot: that is
//! ordinary code, not signal context.

use core::sync::atomic::{AtomicUsize, Ordering};
use gvnet_core::abi::nr;
use gvnet_core::state::COUNTERS;

/// `Sym::counted` of a symbol whose forwarded calls are not counted.
const NONE: usize = usize::MAX;

/// One resolved symbol.
pub struct Sym {
    name: &'static [u8],
    addr: AtomicUsize,
    /// The syscall a forwarded call stands for (counted), or `NONE` (`sigaction`, the opens:
    /// every open of the process goes through those hooks).
    counted: usize,
}

impl Sym {
    const fn new(name: &'static [u8], counted: usize) -> Sym {
        Sym {
            name,
            addr: AtomicUsize::new(0),
            counted,
        }
    }

    /// The address of the next definition after libgvnet.so, for a call the hook forwards:
    /// counted as forwarded (`gvnet_core::counters`).
    pub fn get(&self) -> usize {
        if self.counted != NONE {
            COUNTERS.forwarded(self.counted);
        }
        self.resolve()
    }

    /// The address, resolved now if it was not yet; not counted.
    pub fn resolve(&self) -> usize {
        let a = self.addr.load(Ordering::Acquire);
        if a != 0 {
            return a;
        }
        // SAFETY: `name` is NUL-terminated; dlsym is called outside signal context.
        let a = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr() as *const libc::c_char) }
            as usize;
        if a == 0 {
            // Without the real function the program cannot work at all; say which one.
            gvnet_core::trace::line(
                gvnet_core::trace::Level::Error,
                "dlsym(RTLD_NEXT) found no real libc function",
            );
            // SAFETY: abort is always safe to call.
            unsafe { libc::abort() };
        }
        self.addr.store(a, Ordering::Release);
        a
    }
}

macro_rules! syms {
    ($($id:ident = $name:literal / $nr:expr),* $(,)?) => {
        $(#[allow(missing_docs)] pub static $id: Sym = Sym::new(concat!($name, "\0").as_bytes(), $nr);)*
        /// Resolves every symbol (called by the constructor).
        pub fn resolve_all() {
            $( $id.resolve(); )*
        }
    };
}

syms! {
    BIND = "bind" / nr::BIND,
    CONNECT = "connect" / nr::CONNECT,
    SEND = "send" / nr::SENDTO,
    SENDTO = "sendto" / nr::SENDTO,
    SENDMSG = "sendmsg" / nr::SENDMSG,
    SETSOCKOPT = "setsockopt" / nr::SETSOCKOPT,
    GETSOCKOPT = "getsockopt" / nr::GETSOCKOPT,
    GETSOCKNAME = "getsockname" / nr::GETSOCKNAME,
    GETPEERNAME = "getpeername" / nr::GETPEERNAME,
    SIGACTION = "sigaction" / NONE,
    RECV = "recv" / nr::RECVFROM,
    RECVFROM = "recvfrom" / nr::RECVFROM,
    RECVMSG = "recvmsg" / nr::RECVMSG,
    OPEN = "open" / NONE,
    OPEN64 = "open64" / NONE,
    OPENAT = "openat" / NONE,
    OPENAT64 = "openat64" / NONE,
}
