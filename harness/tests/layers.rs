//! gvnet-harness's modules form one-way layers: each module uses only modules listed before it in
//! [`ORDER`] (docs/design.md, *Layers*, gives the same order for the harness). In particular
//! check.rs runs the scenarios and scenarios/ never refers back to it.
//!
//! The reader is core/tests/layers.rs's (tests/layers/reader.rs): a path to a module later in
//! the order, or to one the order does not name, fails the test with the file and line. A folder
//! module (`scenarios/mod.rs`) is listed after its children; main.rs, the crate root, is above
//! every module and not read.
// A test reading files: the workspace's signal-safety rules are for the library.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

#[path = "../../tests/layers/reader.rs"]
mod reader;

use std::path::{Path, PathBuf};

/// Every module of gvnet-harness, bottom first: a module may use only those before it.
const ORDER: &[(&str, &[&str])] = &[
    // Errors and processes; the cached test environment; what a gVisor does; a running sandbox.
    ("mechanism", &["util", "testbed", "gvisor", "sandbox"]),
    // What a scenario is, every scenario, and their list.
    (
        "scenarios",
        &[
            "scenarios::scenario",
            "scenarios::docker",
            "scenarios::events",
            "scenarios::tools",
            "scenarios::safety",
            "scenarios::children",
            "scenarios::podman",
            "scenarios::base",
            "scenarios",
        ],
    ),
    // Running the scenarios: `gvnet-harness check`.
    ("check", &["check"]),
    // Measuring: `gvnet-harness bench`. The statistics, what every part uses (the options, the
    // run's state, a row, a bench sandbox), one module per part, and the run with its report.
    (
        "bench",
        &[
            "bench::stats",
            "bench::common",
            "bench::start",
            "bench::trap",
            "bench::events",
            "bench::loop",
            "bench::scale",
            "bench::current",
            "bench",
        ],
    ),
];

fn order() -> Vec<&'static str> {
    ORDER.iter().flat_map(|(_, m)| m.iter().copied()).collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let errors = reader::upward_references(&src(), "main", &order());
    assert!(
        errors.is_empty(),
        "modules referring upward:\n{}",
        errors.join("\n")
    );
}
