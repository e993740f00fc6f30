//! Links GCC's unwinder into libgvnet.so statically instead of naming libgcc_s.so.1.
//!
//! Rust's std needs `_Unwind_*` (backtraces, and the landing pads of its prebuilt code even
//! with panic=abort), and rustc asks for them with `-lgcc_s`. A process that preloads gvnet
//! would then have ld.so find, open, map and relocate one more object at every exec, which in
//! gVisor costs milliseconds (docs/performance.md, exec rows). GCC ships the same unwinder as
//! `libgcc_eh.a` (position-independent, every symbol hidden): a linker script named
//! `libgcc_s.so` in a directory searched before the system's makes `-lgcc_s` mean that archive.
//! Where the compiler does not know the archive, nothing changes (and a warning says so).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let found = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let archive = match found {
        // `-print-file-name` echoes the bare name when it does not know the file.
        Some(p) if p.is_absolute() && p.is_file() => p,
        _ => {
            println!("cargo:warning=libgcc_eh.a not found by `{cc} -print-file-name`: libgvnet.so will need libgcc_s.so.1");
            return;
        }
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("unwind");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/unwind");
    write_script(&dir, &archive);
    println!("cargo:rustc-link-search=native={}", dir.display());
}

/// `libgcc_s.so` as a GNU ld script that names the static archive.
fn write_script(dir: &Path, archive: &Path) {
    let script = format!(
        "/* gvnet: -lgcc_s means GCC's static unwinder here */\nINPUT({})\n",
        archive.display()
    );
    std::fs::write(dir.join("libgcc_s.so"), script).expect("write the libgcc_s.so script");
}
