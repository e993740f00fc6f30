//! Shared by the core tests that change process-wide state: they run their checks in a child
//! process, this test binary run again for one test with an environment variable set.
#![allow(clippy::disallowed_methods)]

use std::process::{Command, Output};

/// Runs test `name` of this binary again, alone, with `env` set to 1; its output.
pub fn run_in_child(name: &str, env: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env(env, "1")
        .output()
        .unwrap()
}
