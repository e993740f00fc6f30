//! The reader behind the layer tests of gvnet-core (core/tests/layers.rs) and gvnet-harness
//! (harness/tests/layers.rs), included by both with `#[path]`: it reads every `src/**/*.rs` of
//! a crate, drops comments, string literals (raw strings included) and `#[cfg(test)]` items, and
//! collects the `crate::...` and `super::...` paths that remain (`use crate::{a, b::C}` groups
//! included). A path to a module later in the crate's order, or to one the order does not name,
//! is an error with the file and line. Paths without `crate::`/`super::` can only name a
//! module's own children (or other crates); a folder module (`rtnl/mod.rs`) is listed after its
//! children; a `tests/` folder inside src/ holds a module's unit tests and is not read.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its module path (`rtnl/mod.rs` = `rtnl`); `root` is the
/// crate root's file stem (`lib`, `main`), which is above every module and not read.
pub fn modules(dir: &Path, root: &str, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_stem().unwrap().to_str().unwrap().to_string();
        if p.is_dir() && name == "tests" {
            continue; // `#[cfg(test)] mod tests;` in a folder: test code
        } else if p.is_dir() {
            modules(&p, root, &format!("{prefix}{name}::"), out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let m = match (prefix, name.as_str()) {
                ("", n) if n == root => continue,
                (_, "mod") => prefix.trim_end_matches("::").to_string(),
                _ => format!("{prefix}{name}"),
            };
            out.push((m, p));
        }
    }
}

/// `text` with comments and string literals blanked out (newlines kept, so lines still count).
pub fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |c: u8| if c == b'\n' { b'\n' } else { b' ' };
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if b[i..].starts_with(b"r#\"") && !(i > 0 && is_ident(b[i - 1])) {
            // A raw string `r#"..."#`.
            while i < b.len() && !b[..i].ends_with(b"\"#") {
                out.push(blank(b[i]));
                i += 1;
            }
        } else if b[i] == b'"' && !(i > 0 && b[i - 1] == b'\'') {
            // A string literal.
            out.push(b' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    out.push(b' ');
                    out.push(blank(b[i + 1]));
                    i += 2;
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `text` (already stripped) with every item under `#[cfg(test)]` blanked out.
pub fn drop_test_items(text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    let mut from = 0;
    while let Some(at) = find(&b, b"#[cfg(test)]", from) {
        // The item ends at its first `;` outside braces, or with the block it opens.
        let mut i = at;
        let mut depth = 0i32;
        let mut opened = false;
        while i < b.len() {
            match b[i] {
                b'{' => {
                    depth += 1;
                    opened = true;
                }
                b'}' => depth -= 1,
                b';' if !opened => break,
                _ => {}
            }
            i += 1;
            if opened && depth == 0 {
                break;
            }
        }
        for c in &mut b[at..i.min(text.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = i.min(b.len());
    }
    String::from_utf8(b).unwrap()
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The paths a path tree beginning at `s` names, each as its segments: `a::b::C` is one,
/// `{a, b::{c, d}}` is three. Returns them and the length of the tree read.
fn paths(s: &[u8]) -> (Vec<Vec<String>>, usize) {
    let mut i = 0;
    let mut segs: Vec<String> = Vec::new();
    loop {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < s.len() && s[i] == b'{' {
            i += 1;
            let mut all = Vec::new();
            loop {
                while i < s.len() && (s[i].is_ascii_whitespace() || s[i] == b',') {
                    i += 1;
                }
                if i >= s.len() || s[i] == b'}' {
                    i += 1;
                    break;
                }
                let (inner, n) = paths(&s[i..]);
                i += n;
                for p in inner {
                    all.push(segs.iter().cloned().chain(p).collect());
                }
                // Skip an `as name`.
                while i < s.len() && !matches!(s[i], b',' | b'}') {
                    i += 1;
                }
            }
            return (all, i);
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        if i == start {
            break;
        }
        segs.push(String::from_utf8_lossy(&s[start..i]).into_owned());
        if s[i..].starts_with(b"::") {
            i += 2;
        } else {
            break;
        }
    }
    (vec![segs], i)
}

/// The module a path names: the longest prefix of it that is a module of the crate.
fn module_of(path: &[String], known: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| known.contains(m))
}

/// (line, module path named) for every `crate::` and `super::` path in `text` (stripped).
fn references(module: &str, is_mod_rs: bool, text: &str) -> Vec<(usize, Vec<String>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    // `super` of `rtnl::link` is `rtnl`; of a top-level module, the crate root.
    let mut parent: Vec<String> = module.split("::").map(str::to_string).collect();
    if !is_mod_rs {
        parent.pop();
    }
    for (kw, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut from = 0;
        while let Some(at) = find(b, kw.as_bytes(), from) {
            from = at + kw.len();
            if at > 0 && is_ident(b[at - 1]) {
                continue;
            }
            let line = b[..at].iter().filter(|&&c| c == b'\n').count() + 1;
            for p in paths(&b[from..]).0 {
                out.push((line, base.iter().cloned().chain(p).collect()));
            }
        }
    }
    out
}

/// The upward references of the crate at `src` (each an error line), and the modules `order`
/// misses or names without a file.
pub fn upward_references(src: &Path, root: &str, order: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    modules(src, root, "", &mut files);
    let found: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let listed: BTreeSet<String> = order.iter().map(|m| m.to_string()).collect();
    let mut errors = Vec::new();
    for m in found.difference(&listed) {
        errors.push(format!(
            "{m}: a module the order does not place; add it to ORDER"
        ));
    }
    for m in listed.difference(&found) {
        errors.push(format!("{m}: in ORDER but no such file"));
    }
    let rank = |m: &str| order.iter().position(|o| *o == m);
    for (m, path) in &files {
        let text = drop_test_items(&strip(&fs::read_to_string(path).unwrap()));
        let is_mod_rs = path.file_name().is_some_and(|f| f == "mod.rs");
        for (line, p) in references(m, is_mod_rs, &text) {
            let Some(to) = module_of(&p, &found) else {
                continue; // the crate root or a name it declares
            };
            if to == *m || to.starts_with(&format!("{m}::")) {
                continue; // itself, or its own children
            }
            if rank(&to) >= rank(m) {
                errors.push(format!(
                    "{}:{line}: {m} uses {to} ({}), which is not below it",
                    path.strip_prefix(src).unwrap().display(),
                    p.join("::")
                ));
            }
        }
    }
    errors
}

#[test]
fn the_reader_sees_what_it_must() {
    let known: BTreeSet<String> = ["abi", "kernel", "rtnl", "rtnl::link"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text = strip(
        "use crate::{abi::{self, nr}, kernel::Kernel as K};\n\
         // crate::rtnl in a comment\n\
         let s = \"crate::rtnl\";\n\
         let r = r#\"crate::rtnl \"\"#;\n\
         use super::link::Link;\n",
    );
    let refs = references("rtnl::view", false, &text);
    let mods: Vec<_> = refs
        .iter()
        .map(|(l, p)| (*l, module_of(p, &known).unwrap()))
        .collect();
    assert_eq!(
        mods,
        [
            (1, "abi".to_string()),
            (1, "abi".to_string()),
            (1, "kernel".to_string()),
            (5, "rtnl::link".to_string())
        ]
    );
    let t = drop_test_items("a\n#[cfg(test)]\nmod tests {\n use crate::x; { }\n}\nb crate::y");
    assert!(!t.contains("crate::x") && t.contains("crate::y"));
    let r = strip("a r#\"crate::b \"\"# crate::c");
    assert!(!r.contains("crate::b") && r.contains("crate::c"));
    assert_eq!(t.lines().count(), 6);
}
