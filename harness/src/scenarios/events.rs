//! events scenarios of `gvnet-harness check`.

use crate::check::Scenario;
use crate::util::Result;
use std::path::Path;

/// Stages what these scenarios need into `run_dir/opt`.
pub fn prepare(_run_dir: &Path) -> Result<()> {
    Ok(())
}

pub const SCENARIOS: &[Scenario] = &[];
