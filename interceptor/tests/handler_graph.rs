//! Signal safety of the built library, read from its machine code.
//!
//! `gvnet-core` is `no_std` without `alloc`, and its lints forbid formatting and panicking
//! macros (core/clippy.toml, core/src/lib.rs). That is a property of the source. This test checks
//! the property where it matters, in the built `libgvnet.so`: it disassembles the library
//! (`objdump -d`, `objdump -R`, `objdump -t`), builds the static call graph, and walks it from
//! the entry points that run where nothing may be taken for granted:
//!
//! * `gvnet_core::sigsys::handle_sigsys`: the SIGSYS handler, run on whatever thread trapped,
//!   possibly a Go thread on its small signal stack, in the middle of malloc or holding a lock;
//! * `gvnet_core::monitor::monitor_main`: the monitor thread, a raw `clone` without TLS set up
//!   by libc (so `std`, `errno`, TLS and libc locks are not usable there either).
//!
//! Every function reachable from them must be from the allow-list below: gvnet-core itself, the
//! `syscalls` crate, compiler builtins and the libc memory primitives the compiler emits calls to
//! (`memcpy`, `memset`, `memmove`, `memcmp`/`bcmp`, all async-signal-safe in glibc: no locks, no
//! allocation, no TLS). Reaching `core::fmt`, a panic entry (`core::panicking`,
//! `core::slice::index::*_fail`, `core::option::unwrap_failed` ...), `std`, `alloc`, `log`,
//! `malloc`, `pthread_*` or `__tls_get_addr` fails the test with the path that gets there.
//!
//! Edges followed: direct `call`/`jmp` to a symbol; calls and loads through a GOT slot (resolved
//! with the dynamic relocations); code addresses taken with `lea` (closures, function
//! pointers); and, for a reference into a data object (`dyn` vtables, tables of function
//! pointers), every code address relocated into that object. Not followed, by nature: pointers
//! the program gives at run time (the program's own SIGSYS handler that `forward` calls).
//! What this proves: no instruction path in the shipped binary from those entries reaches
//! formatting, panicking, allocation, locks or TLS. It does not prove the absence of deadlock
//! by other means (a spin on an atomic); the stress test (`stress.rs`) covers behaviour.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

/// The entries checked.
const ROOTS: [&str; 2] = [
    "gvnet_core::sigsys::handle_sigsys",
    "gvnet_core::monitor::monitor_main",
];

/// Functions a root may reach: name prefixes (after demangling, `<impl>` wrappers removed).
const ALLOWED_PREFIXES: [&str; 4] = [
    "gvnet_core::",
    "syscalls::",
    "compiler_builtins::",
    "core::ptr::drop_in_place<gvnet_core::",
];

/// libc symbols a root may reach (async-signal-safe memory primitives).
const ALLOWED_LIBC: [&str; 5] = ["memcpy", "memset", "memmove", "memcmp", "bcmp"];

fn objdump(args: &[&str], lib: &Path) -> String {
    let tool = common::find_in_path("objdump").unwrap_or_else(|| {
        panic!("`objdump` not found in PATH; install the Debian package `binutils` (the test fails rather than skips)")
    });
    let out = Command::new(tool)
        .args(args)
        .arg(lib)
        .output()
        .unwrap_or_else(|e| panic!("running objdump {args:?}: {e}"));
    assert!(
        out.status.success(),
        "objdump {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("objdump prints UTF-8")
}

/// The library's code and data, as far as the graph needs them.
struct Image {
    /// Function start address -> name.
    funcs: BTreeMap<u64, String>,
    /// Function name -> referenced addresses (call/jmp targets, rip-relative operands).
    refs: HashMap<String, BTreeSet<u64>>,
    /// Relocated word address -> target: a code address (RELATIVE) or an imported symbol.
    relocs: BTreeMap<u64, Target>,
    /// Data objects: start -> (size, name).
    objects: BTreeMap<u64, (u64, String)>,
}

#[derive(Clone, Debug)]
enum Target {
    Addr(u64),
    Import(String),
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

impl Image {
    fn load(lib: &Path) -> Image {
        let dis = objdump(&["-d", "-C", "--no-show-raw-insn", "-w"], lib);
        let mut funcs = BTreeMap::new();
        let mut refs: HashMap<String, BTreeSet<u64>> = HashMap::new();
        let mut cur: Option<String> = None;
        for line in dis.lines() {
            // "0000000000030c00 <gvnet_core::sigsys::handle_sigsys>:"
            if let Some(head) = line.strip_suffix(">:") {
                if let Some((addr, name)) = head.split_once(" <") {
                    if let Some(a) = hex(addr) {
                        funcs.insert(a, name.to_string());
                        cur = Some(name.to_string());
                        continue;
                    }
                }
            }
            let Some(f) = &cur else { continue };
            // Instruction: "   30ca4:\tcall   *0x3c056(%rip)        # 6cd00 <_DYNAMIC+0x490>"
            let Some((_, insn)) = line.split_once(":\t") else {
                continue;
            };
            let entry = refs.entry(f.clone()).or_default();
            // Direct branch target: "call   1b230 <gvnet_core::emulate::handle>"
            let mut words = insn.split_whitespace();
            let op = words.next().unwrap_or("");
            if op.starts_with('j') || op.starts_with("call") {
                if let Some(a) = words.next().and_then(hex) {
                    entry.insert(a);
                }
            }
            // rip-relative operand, resolved by objdump in the comment.
            if let Some((_, comment)) = insn.split_once("# ") {
                if let Some(a) = comment.split_whitespace().next().and_then(hex) {
                    entry.insert(a);
                }
            }
        }

        let mut relocs = BTreeMap::new();
        for line in objdump(&["-R", "-C", "-w"], lib).lines() {
            let mut w = line.split_whitespace();
            let (Some(off), Some(kind), Some(value)) = (w.next(), w.next(), w.next()) else {
                continue;
            };
            let Some(off) = hex(off) else { continue };
            let target = match kind {
                "R_X86_64_RELATIVE" => match value.strip_prefix("*ABS*+").and_then(hex) {
                    Some(a) => Target::Addr(a),
                    None => continue,
                },
                "R_X86_64_GLOB_DAT" | "R_X86_64_JUMP_SLOT" | "R_X86_64_64" => {
                    let sym = value.split('@').next().unwrap_or(value);
                    let sym = sym.split('+').next().unwrap_or(sym);
                    Target::Import(sym.to_string())
                }
                _ => continue,
            };
            relocs.insert(off, target);
        }

        let mut objects = BTreeMap::new();
        for line in objdump(&["-t", "-C", "-w"], lib).lines() {
            // "000000000006af98 l     O .data.rel.ro\t0000000000000018              .hidden anon..."
            let Some((left, right)) = line.split_once('\t') else {
                continue;
            };
            if !left.contains(" O ") {
                continue;
            }
            let Some(addr) = left.split_whitespace().next().and_then(hex) else {
                continue;
            };
            let mut r = right.split_whitespace();
            let Some(size) = r.next().and_then(hex) else {
                continue;
            };
            let name = r.last().unwrap_or("").to_string();
            if size > 0 {
                objects.insert(addr, (size, name));
            }
        }
        Image {
            funcs,
            refs,
            relocs,
            objects,
        }
    }

    /// Names of the functions (or imports) address `a` leads to.
    fn targets(&self, a: u64) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(f) = self.funcs.get(&a) {
            out.push(f.clone());
            return out;
        }
        let mut push = |t: &Target| match t {
            Target::Addr(x) => {
                if let Some(f) = self.funcs.get(x) {
                    out.push(f.clone());
                }
            }
            Target::Import(s) => out.push(s.clone()),
        };
        if let Some(t) = self.relocs.get(&a) {
            push(t);
            return out;
        }
        // A reference into a data object: everything relocated into it.
        if let Some((&start, (size, _))) = self.objects.range(..=a).next_back() {
            if a < start + size {
                for (_, t) in self.relocs.range(start..start + size) {
                    push(t);
                }
            }
        }
        out
    }
}

fn allowed(name: &str) -> bool {
    let bare = name.trim_start_matches('<');
    ALLOWED_PREFIXES.iter().any(|p| bare.starts_with(p))
        || ALLOWED_LIBC.contains(&name)
        // Monomorphised core helpers over gvnet-core's own types (iterators, slices): allowed
        // unless they are formatting or panicking, which the forbidden check below names.
        || (bare.starts_with("core::") && !forbidden(name))
}

fn forbidden(name: &str) -> bool {
    const BAD: [&str; 14] = [
        "core::fmt",
        "core::panicking",
        "_fail",
        "unwrap_failed",
        "expect_failed",
        "rust_begin_unwind",
        "__rust_",
        "std::",
        "alloc::",
        "log::",
        "malloc",
        "pthread_",
        "__tls_get_addr",
        "gvnet::",
    ];
    BAD.iter().any(|b| name.contains(b))
}

/// Walks from `root`; returns each reached function with the function it was reached from.
fn reach(img: &Image, root: &str) -> BTreeMap<String, String> {
    let mut parent = BTreeMap::new();
    parent.insert(root.to_string(), String::new());
    let mut todo = vec![root.to_string()];
    while let Some(f) = todo.pop() {
        // Never look inside what is not allowed: one offending edge is enough to report.
        if !allowed(&f) || forbidden(&f) {
            continue;
        }
        for &a in img.refs.get(&f).into_iter().flatten() {
            for t in img.targets(a) {
                if t == f || parent.contains_key(&t) {
                    continue;
                }
                parent.insert(t.clone(), f.clone());
                todo.push(t);
            }
        }
    }
    parent
}

fn path_to(parent: &BTreeMap<String, String>, f: &str) -> String {
    let mut chain = vec![f.to_string()];
    let mut cur = f;
    while let Some(p) = parent.get(cur) {
        if p.is_empty() {
            break;
        }
        chain.push(p.clone());
        cur = p;
    }
    chain.reverse();
    chain.join("\n    -> ")
}

/// Whether `f` is a panic entry: with `panic = "abort"` it ends the process (after std's panic
/// hook, which formats and may allocate): a crash, never a return into the program.
fn is_panic_entry(f: &str) -> bool {
    f.starts_with("core::panicking::")
        || f.starts_with("core::slice::index::") && f.ends_with("_fail")
}

/// gvnet-core functions that still contain a compiler-inserted bounds or divisor check the
/// optimiser could not prove away (see "Known limits" in docs/security.md). A check is a panic
/// edge, and a panic in the handler aborts the process. Each one is a bug to remove; the list
/// exists so that no new one appears unnoticed: a function not named here that reaches a panic
/// entry fails the test, and so does a name here that no longer has one (remove it then).
const KNOWN_PANIC_SITES: [&str; 0] = [];

#[test]
fn handler_and_monitor_reach_no_formatting_panics_allocation_locks_or_tls() {
    let lib = common::library_path();
    // A debug build keeps overflow checks and un-inlined generic helpers: panic paths the
    // shipped (release, panic = "abort") library does not have. Judge what ships.
    assert!(
        !lib.to_string_lossy().contains("/debug/"),
        "{} is a debug build; this test judges the release library: `cargo build --release -p gvnet` \
         and set GVNET_SO (as `make unit` does)",
        lib.display()
    );
    let img = Image::load(&lib);
    let mut report = String::new();
    let mut panic_sites = BTreeSet::new();
    for root in ROOTS {
        assert!(
            img.funcs.values().any(|f| f == root),
            "{root} not found in {} (symbols stripped, or renamed?)",
            lib.display()
        );
        let reached = reach(&img, root);
        // The graph must be real: the handler reaches the emulation, the monitor the rtnl diff.
        let expect = if root.contains("sigsys") {
            "gvnet_core::emulate::handle"
        } else {
            "gvnet_core::rtnl::"
        };
        assert!(
            reached.keys().any(|f| f.contains(expect)),
            "{root}: the call graph does not reach {expect}; the disassembly parser is broken:\n{:?}",
            reached.keys().collect::<Vec<_>>()
        );
        // Every edge from an allowed function to something that is not allowed.
        for f in reached.keys().filter(|f| allowed(f) && !forbidden(f)) {
            for &a in img.refs.get(f).into_iter().flatten() {
                for t in img.targets(a) {
                    if allowed(&t) && !forbidden(&t) {
                        continue;
                    }
                    if is_panic_entry(&t) && KNOWN_PANIC_SITES.contains(&f.as_str()) {
                        panic_sites.insert(f.clone());
                        continue;
                    }
                    report.push_str(&format!(
                        "{root} reaches {t}:\n    {}\n    -> {t}\n",
                        path_to(&reached, f)
                    ));
                }
            }
        }
        eprintln!("{root}: {} functions reachable", reached.len());
    }
    for known in KNOWN_PANIC_SITES {
        if !panic_sites.contains(known) {
            report.push_str(&format!(
                "{known} is listed in KNOWN_PANIC_SITES but no longer reaches a panic: remove it\n"
            ));
        }
    }
    assert!(
        report.is_empty(),
        "signal-unsafe code reachable in {}:\n{report}",
        lib.display()
    );
}

/// The checker itself must be able to fail: the library's constructor side (gvnet::engine)
/// uses `log` and `std`, so walking from it must find them.
#[test]
fn the_checker_finds_std_where_it_is_used() {
    let img = Image::load(&common::library_path());
    let root = img
        .funcs
        .values()
        .find(|f| f.contains("gvnet::logger::Logger as log::Log>::log"))
        .cloned()
        .expect("the logger's Log::log implementation is in the library");
    let mut parent = BTreeMap::new();
    parent.insert(root.clone(), String::new());
    let mut todo = vec![root.clone()];
    let mut bad = None;
    while let Some(f) = todo.pop() {
        for &a in img.refs.get(&f).into_iter().flatten() {
            for t in img.targets(a) {
                if parent.contains_key(&t) {
                    continue;
                }
                if t.contains("core::fmt") {
                    bad = Some(t.clone());
                }
                parent.insert(t.clone(), f.clone());
                todo.push(t);
            }
        }
        if bad.is_some() {
            break;
        }
    }
    assert!(
        bad.is_some(),
        "{root} formats with core::fmt, but the checker did not see it"
    );
}
