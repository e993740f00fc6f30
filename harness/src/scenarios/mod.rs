//! Scenario modules of `gvnet-harness check`, beside the base set in `check.rs`. Each module
//! has a `SCENARIOS` slice (run after the base set, in order) and a `prepare` that stages what
//! its scenarios need into the run directory's `opt/` (visible as /opt/gvnet in the sandbox)
//! before the sandbox starts.

use crate::util::Result;
use std::path::Path;

pub mod docker;
pub mod events;
pub mod safety;
pub mod tools;

/// Stages a module's programs into `run_dir/opt`.
pub type Prepare = fn(&Path) -> Result<()>;

/// (module name, prepare function), called in this order before the sandbox starts.
pub const PREPARE: &[(&str, Prepare)] = &[
    ("events", events::prepare),
    ("docker", docker::prepare),
    ("tools", tools::prepare),
    ("safety", safety::prepare),
];
