//! The real libc functions behind the hooks, resolved with `dlsym(RTLD_NEXT)` in the constructor.
//!
//! Resolution happens before `main` (and before any signal handler of ours exists). A hook called
//! even earlier, from another library's constructor, resolves its symbol on the spot: that is
//! ordinary code, not signal context.

use core::sync::atomic::{AtomicUsize, Ordering};

/// One resolved symbol.
pub struct Sym {
    name: &'static [u8],
    addr: AtomicUsize,
}

impl Sym {
    const fn new(name: &'static [u8]) -> Sym {
        Sym {
            name,
            addr: AtomicUsize::new(0),
        }
    }

    /// The address of the next definition after libgvnet.so.
    pub fn get(&self) -> usize {
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
    ($($id:ident = $name:literal),* $(,)?) => {
        $(#[allow(missing_docs)] pub static $id: Sym = Sym::new(concat!($name, "\0").as_bytes());)*
        /// Resolves every symbol (called by the constructor).
        pub fn resolve_all() {
            $( $id.get(); )*
        }
    };
}

syms! {
    BIND = "bind",
    CONNECT = "connect",
    SENDTO = "sendto",
    SENDMSG = "sendmsg",
    SETSOCKOPT = "setsockopt",
    GETSOCKOPT = "getsockopt",
    GETSOCKNAME = "getsockname",
    GETPEERNAME = "getpeername",
    SIGACTION = "sigaction",
    RECV = "recv",
    RECVFROM = "recvfrom",
    RECVMSG = "recvmsg",
}
