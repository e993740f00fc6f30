//! Finding the target program's own syscall site.
//!
//! A Go program issues every syscall of the `syscall` and `golang.org/x/sys/unix` packages from one
//! place, the body of `internal/runtime/syscall/linux.Syscall6` (`runtime/internal/syscall` before
//! Go 1.23; the same body since Go 1.19):
//!
//! ```text
//! MOVQ SI, R10; MOVQ DI, DX; MOVQ CX, SI; MOVQ BX, DI; SYSCALL
//! 49 89 f2      48 89 fa     48 89 ce     48 89 df     0f 05
//! ```
//!
//! Debian strips dockerd, so no symbol names the function; the byte sequence does, and it occurs
//! once. The filter wants the address *after* the `syscall` instruction, which is what the kernel
//! reports as `seccomp_data.instruction_pointer`.

/// The body of Go's `Syscall6` up to and including `SYSCALL`.
pub const GO_SYSCALL6: [u8; 14] = [
    0x49, 0x89, 0xf2, 0x48, 0x89, 0xfa, 0x48, 0x89, 0xce, 0x48, 0x89, 0xdf, 0x0f, 0x05,
];

/// Calls `found(offset)` for every offset in `hay` just past an occurrence of [`GO_SYSCALL6`].
pub fn scan(hay: &[u8], mut found: impl FnMut(usize)) {
    let n = GO_SYSCALL6.len();
    let mut i = 0;
    while i + n <= hay.len() {
        if hay[i] == GO_SYSCALL6[0] && hay[i..i + n] == GO_SYSCALL6 {
            found(i + n);
            i += n;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_after_syscall() {
        let mut text = vec![0x90u8; 100];
        text[40..54].copy_from_slice(&GO_SYSCALL6);
        let mut hits = vec![];
        scan(&text, |o| hits.push(o));
        assert_eq!(hits, vec![54]);
        text[40] = 0x48;
        hits.clear();
        scan(&text, |o| hits.push(o));
        assert!(hits.is_empty());
    }
}
