//! The little of ELF64 (x86-64, little-endian) the `gvnet` command reads from files: the header,
//! program headers, and one symbol of `.dynsym`. Every read is bounds-checked; a malformed file
//! is an error, never a panic.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// `e_type` of a position-independent executable or shared object.
pub const ET_DYN: u16 = 3;
/// Loadable segment.
pub const PT_LOAD: u32 = 1;
/// Program interpreter (a dynamically linked executable has one).
pub const PT_INTERP: u32 = 3;
/// Executable segment flag.
pub const PF_X: u32 = 1;
const SHT_DYNSYM: u32 = 11;

/// A program header.
#[derive(Clone, Copy, Debug)]
pub struct Phdr {
    /// `p_type`.
    pub kind: u32,
    /// `p_flags`.
    pub flags: u32,
    /// `p_offset`.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_filesz`.
    pub filesz: u64,
}

/// An opened ELF file.
pub struct Elf {
    file: File,
    /// `e_type`.
    pub kind: u16,
    /// Program headers.
    pub phdrs: Vec<Phdr>,
    shoff: u64,
    shnum: u16,
    shentsize: u16,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(w)
}

impl Elf {
    /// Opens `path` and reads its header and program headers.
    pub fn open(path: &Path) -> Result<Elf, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut h = [0u8; 64];
        file.read_exact_at(&mut h, 0)
            .map_err(|e| format!("{}: ELF header: {e}", path.display()))?;
        if &h[..4] != b"\x7fELF" || h[4] != 2 || h[5] != 1 {
            return Err(format!(
                "{}: not a 64-bit little-endian ELF file",
                path.display()
            ));
        }
        let (phoff, phentsize, phnum) = (u64_at(&h, 32), u16_at(&h, 54), u16_at(&h, 56));
        if phentsize < 56 || phnum > 256 {
            return Err(format!("{}: odd program headers", path.display()));
        }
        let mut raw = vec![0u8; phentsize as usize * phnum as usize];
        file.read_exact_at(&mut raw, phoff)
            .map_err(|e| format!("{}: program headers: {e}", path.display()))?;
        let phdrs = raw
            .chunks(phentsize as usize)
            .map(|p| Phdr {
                kind: u32_at(p, 0),
                flags: u32_at(p, 4),
                offset: u64_at(p, 8),
                vaddr: u64_at(p, 16),
                filesz: u64_at(p, 32),
            })
            .collect();
        Ok(Elf {
            file,
            kind: u16_at(&h, 16),
            phdrs,
            shoff: u64_at(&h, 40),
            shentsize: u16_at(&h, 58),
            shnum: u16_at(&h, 60),
        })
    }

    /// Whether it names a program interpreter (a dynamically linked executable).
    pub fn is_dynamic(&self) -> bool {
        self.phdrs.iter().any(|p| p.kind == PT_INTERP)
    }

    /// The virtual address the file's byte 0 is mapped at (before the load bias): the loader
    /// maps the segment holding file offset 0 there.
    pub fn vaddr_of_offset0(&self) -> u64 {
        self.phdrs
            .iter()
            .find(|p| p.kind == PT_LOAD && p.offset == 0)
            .map(|p| p.vaddr)
            .unwrap_or(0)
    }

    /// Fills `buf` from `off`, as far as the file goes; returns the bytes read.
    pub fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.file.read_at(&mut buf[n..], off + n as u64)? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }

    fn read_vec(&self, off: u64, len: u64) -> Result<Vec<u8>, String> {
        if len > 64 << 20 {
            return Err(format!("section of {len} bytes is too large"));
        }
        let mut v = vec![0u8; len as usize];
        let n = self.read_at(&mut v, off).map_err(|e| e.to_string())?;
        if n != v.len() {
            return Err("file ends inside a section".into());
        }
        Ok(v)
    }

    /// `st_value` of the defined symbol `name` in `.dynsym`.
    pub fn dynamic_symbol(&self, name: &str) -> Result<Option<u64>, String> {
        if self.shentsize < 64 || self.shnum == 0 {
            return Err("no section headers".into());
        }
        let sh = self.read_vec(self.shoff, self.shentsize as u64 * self.shnum as u64)?;
        let section = |i: usize| &sh[i * self.shentsize as usize..][..64];
        for i in 0..self.shnum as usize {
            let s = section(i);
            if u32_at(s, 4) != SHT_DYNSYM {
                continue;
            }
            let link = u32_at(s, 40) as usize;
            if link >= self.shnum as usize {
                return Err(".dynsym links to no string table".into());
            }
            let syms = self.read_vec(u64_at(s, 24), u64_at(s, 32))?;
            let st = section(link);
            let strs = self.read_vec(u64_at(st, 24), u64_at(st, 32))?;
            for sym in syms.chunks_exact(24) {
                let (name_off, shndx) = (u32_at(sym, 0) as usize, u16_at(sym, 6));
                if shndx == 0 || name_off >= strs.len() {
                    continue;
                }
                let rest = &strs[name_off..];
                let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
                if &rest[..end] == name.as_bytes() {
                    return Ok(Some(u64_at(sym, 8)));
                }
            }
        }
        Ok(None)
    }
}

/// Go syscall sites (gvnet_core's scanner) in the executable segments of `elf`, as offsets in
/// the file of the byte after `syscall`.
pub fn go_syscall_sites(elf: &Elf) -> Result<Vec<u64>, String> {
    let mut sites = Vec::new();
    let mut buf = vec![0u8; 4 << 20];
    for p in elf
        .phdrs
        .iter()
        .filter(|p| p.kind == PT_LOAD && p.flags & PF_X != 0)
    {
        let read = |chunk: &mut [u8], off: u64| elf.read_at(chunk, p.offset + off);
        gvnet_core::sites::scan_chunked(&mut buf, p.filesz, read, |end| sites.push(p.offset + end))
            .map_err(|e| e.to_string())?;
    }
    sites.sort_unstable();
    sites.dedup();
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_executable() {
        let exe = std::env::current_exe().unwrap();
        let elf = Elf::open(&exe).unwrap();
        assert!(elf.phdrs.iter().any(|p| p.kind == PT_LOAD));
        // Rust test binaries are dynamically linked PIEs on Debian.
        assert!(elf.is_dynamic());
        assert_eq!(elf.kind, ET_DYN);
        // Not a Go program.
        assert!(go_syscall_sites(&elf).unwrap().is_empty());
    }

    #[test]
    fn finds_a_libc_symbol_in_libc() {
        let libc = [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("glibc's libc.so.6");
        let elf = Elf::open(libc).unwrap();
        assert!(elf.dynamic_symbol("bind").unwrap().is_some());
        assert!(elf.dynamic_symbol("gvnet_counters").unwrap().is_none());
    }

    #[test]
    fn refuses_what_is_not_elf() {
        let dir = std::env::temp_dir().join(format!("gvnet-elf-{}", std::process::id()));
        std::fs::write(
            &dir,
            b"#!/bin/sh\necho not elf, and long enough to fill a header ....................\n",
        )
        .unwrap();
        let e = Elf::open(&dir).err().unwrap();
        let _ = std::fs::remove_file(&dir);
        assert!(e.contains("not a 64-bit"), "{e}");
    }
}
