//! The scenarios of `gvnet-harness check`: what a scenario is (`Scenario`, what it must do in
//! a setup and mode, `Expect`), the context it runs in (`Ctx`) and its verdict (`Verdict`), and
//! every scenario in the order they run: the base set (`base`), then each module's. check.rs
//! only runs them. Each module has a `SCENARIOS` slice and a `prepare` that stages what its
//! scenarios need into the run directory's `opt/` (visible as /opt/gvnet in the sandbox)
//! before the sandbox starts.

use crate::util::Result;
use std::path::Path;

pub mod base;
pub mod children;
pub mod docker;
pub mod events;
pub mod podman;
pub mod safety;
pub mod scenario;
pub mod tools;

pub(crate) use scenario::{Ctx, Expect, Scenario, Verdict};

/// Every scenario, in the order they run: the base set, then each module's.
pub(crate) fn all() -> impl Iterator<Item = &'static Scenario> {
    base::BASE
        .iter()
        .chain(events::SCENARIOS)
        .chain(docker::SCENARIOS)
        .chain(tools::SCENARIOS)
        .chain(safety::SCENARIOS)
        .chain(children::SCENARIOS)
        .chain(podman::SCENARIOS)
}

/// Stages a module's programs into `run_dir/opt`.
pub type Prepare = fn(&Path) -> Result<()>;

/// (module name, prepare function), called in this order before the sandbox starts.
pub const PREPARE: &[(&str, Prepare)] = &[
    ("events", events::prepare),
    ("docker", docker::prepare),
    ("tools", tools::prepare),
    ("safety", safety::prepare),
    ("children", children::prepare),
    ("podman", podman::prepare),
];
