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

/// Scans `size` bytes of a file segment in chunks of `buf.len()` bytes (more than
/// `GO_SYSCALL6.len()`), reading with `read_at(chunk, offset into the segment)`, which fills as
/// much of `chunk` as the file holds. Calls `found(offset)` for every offset in the segment just
/// past an occurrence of [`GO_SYSCALL6`]. Chunks overlap by one byte less than the pattern, so an
/// occurrence across a chunk border is found once. Serves the library (its own executable, from
/// `/proc/self/exe`) and `gvnet doctor` (dockerd's file).
pub fn scan_chunked<E>(
    buf: &mut [u8],
    size: u64,
    mut read_at: impl FnMut(&mut [u8], u64) -> Result<usize, E>,
    mut found: impl FnMut(u64),
) -> Result<(), E> {
    let overlap = GO_SYSCALL6.len() - 1;
    if buf.len() <= overlap {
        return Ok(());
    }
    let mut done = 0u64;
    while done < size {
        let want = ((size - done) as usize).min(buf.len());
        let got = read_at(&mut buf[..want], done)?;
        scan(&buf[..got], |end| found(done + end as u64));
        if got < want || done + got as u64 >= size {
            break;
        }
        done += (got - overlap) as u64;
    }
    Ok(())
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

    #[test]
    fn chunked_scan_finds_a_site_across_a_chunk_border_once() {
        for at in 0..40 {
            let mut file = [0x90u8; 64];
            file[at..at + 14].copy_from_slice(&GO_SYSCALL6);
            let mut buf = [0u8; 20];
            let mut hits = vec![];
            let read = |chunk: &mut [u8], off: u64| -> Result<usize, ()> {
                let off = off as usize;
                let n = chunk.len().min(file.len() - off);
                chunk[..n].copy_from_slice(&file[off..off + n]);
                Ok(n)
            };
            scan_chunked(&mut buf, file.len() as u64, read, |o| hits.push(o)).unwrap();
            assert_eq!(hits, vec![at as u64 + 14], "site at {at}");
        }
    }
}
