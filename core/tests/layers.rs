//! gvnet-core's modules form one-way layers: each module uses only modules listed before it in
//! [`ORDER`] (docs/design.md, *Layers*, draws the same order).
//!
//! The reader (tests/layers/reader.rs, shared with harness/tests/layers.rs) collects every
//! `crate::...`/`super::...` path outside comments, strings and `#[cfg(test)]` items; a path to a
//! module later in the order, or to one the order does not name, fails the test with the file
//! and line.
//!
//! It also checks that every `pub static` is in `state.rs`: the one module that names the
//! process-wide state the others share.
// A test reading files: core/clippy.toml's signal-safety rules are for the library.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

#[path = "../../tests/layers/reader.rs"]
mod reader;

use std::fs;
use std::path::{Path, PathBuf};

/// Every module of gvnet-core, bottom first: a module may use only those before it. The groups
/// are the layers of docs/design.md; within a group the order matters too.
const ORDER: &[(&str, &[&str])] = &[
    // ABI vocabulary: numbers, addresses, what an intercepted call is and what became of it.
    ("vocabulary", &["abi", "sockaddr", "call", "sites"]),
    // Talking to the kernel and writing lines.
    ("mechanism", &["kernel", "trace"]),
    // The types process-wide state is made of, and the pure decisions about the kernel.
    (
        "state types",
        &[
            "events",
            "membership",
            "counters",
            "caps",
            "filter",
            "veth",
            "linkrec",
            "gwroute",
        ],
    ),
    // Every process-wide static others share.
    ("state", &["state"]),
    // The emulation: pure rtnetlink diffing, the answers to each call, the monitor a
    // subscription starts, and the decisions.
    (
        "emulation",
        &[
            "rtnl::attrs",
            "rtnl::msg",
            "rtnl::strict",
            "rtnl::key",
            "rtnl::content",
            "rtnl::view",
            "rtnl",
            "setlink",
            "sysctl",
            "recv",
            "monitor",
            "strictchk",
            "linkstore",
            "routedev",
            "vethpeer",
            "emulate",
        ],
    ),
    // Entry points the kernel calls.
    ("entry", &["sigsys"]),
];

fn order() -> Vec<&'static str> {
    ORDER.iter().flat_map(|(_, m)| m.iter().copied()).collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let errors = reader::upward_references(&src(), "lib", &order());
    assert!(
        errors.is_empty(),
        "modules referring upward:\n{}",
        errors.join("\n")
    );
}

#[test]
fn every_public_static_is_in_state() {
    let mut files = Vec::new();
    reader::modules(&src(), "lib", "", &mut files);
    let mut errors = Vec::new();
    for (m, path) in &files {
        if m == "state" {
            continue;
        }
        let text = reader::drop_test_items(&reader::strip(&fs::read_to_string(path).unwrap()));
        for (i, line) in text.lines().enumerate() {
            let l = line.trim_start();
            if l.starts_with("pub static") || l.starts_with("pub(crate) static") {
                errors.push(format!("{}:{}: {l}", path.display(), i + 1));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "process-wide statics outside state.rs:\n{}",
        errors.join("\n")
    );
}
