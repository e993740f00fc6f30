//! tools scenarios of `gvnet-harness check`: the `gvnet` command (cli/) inside the real
//! sandbox (issue 7). `gvnet doctor --json` must see gVisor, the refused multicast, and the
//! library loaded into the running dockerd with nonzero counters; without the preload it must
//! report the library NOT loaded (and exit non-zero).

use crate::gvisor::Setup;
use crate::sandbox::Mode;
use crate::scenarios::scenario::{Ctx, Expect, Scenario, Verdict};
use crate::util::{self, Result};
use std::fs;
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Stages the `gvnet` command built next to this harness (target/release/gvnet) as opt/gvnet.
pub fn prepare(run_dir: &Path) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| util::Error(format!("current_exe: {e}")))?;
    let gvnet = exe.with_file_name("gvnet");
    if !gvnet.is_file() {
        crate::bail!(
            "{} not found: cargo build --release (the workspace builds the gvnet command)",
            gvnet.display()
        );
    }
    fs::copy(&gvnet, run_dir.join("opt/gvnet"))
        .map_err(|e| util::Error(format!("copying {}: {e}", gvnet.display())))?;
    Ok(())
}

/// Without the library the doctor finds none in dockerd (every setup).
fn doctor_expect(_: &Setup, m: Mode) -> Expect {
    match m {
        Mode::Preload => Expect::Pass,
        Mode::NoPreload => Expect::Fail("library not loaded into dockerd"),
    }
}

pub(crate) const SCENARIOS: &[Scenario] = &[Scenario {
    name: "gvnet-doctor",
    expect: doctor_expect,
    run: doctor,
}];

/// The number after the keys of `path`, each searched after the previous one.
fn number(json: &str, path: &[&str]) -> Option<u64> {
    let mut at = 0;
    for key in path {
        let pat = format!("\"{key}\": ");
        at += json[at..].find(&pat)? + pat.len();
    }
    let digits: String = json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The `found` text of check `name` (for the verdict), or the whole output.
fn found_of(json: &str, name: &str) -> String {
    let pat = format!("\"name\": \"{name}\"");
    json.find(&pat)
        .and_then(|i| {
            let rest = &json[i..];
            let f = rest.find("\"found\": \"")? + 10;
            let end = rest[f..].find("\", \"fix\"")?;
            Some(rest[f..f + end].to_string())
        })
        .unwrap_or_else(|| json.chars().take(300).collect())
}

fn doctor(c: &mut Ctx) -> Verdict {
    let opt = c.sb.opt.clone();
    let gvnet = format!("{opt}/gvnet");
    if !c.run_dir.join("opt/gvnet").is_file() {
        return Err("the gvnet command was not staged (see prepare-tools.err)".into());
    }
    // Give the library something to do first: a container on the default bridge (fails
    // without the preload, which is what the doctor must then explain).
    let _ = c.docker(&["run", "--rm", "bb", "true"], TIMEOUT);
    let out = c.run(&[&gvnet, "doctor", "--json"], TIMEOUT)?;
    let json = out.stdout.trim().to_string();
    let text = c.run(&[&gvnet, "doctor"], TIMEOUT)?;
    if !json.starts_with('{') {
        return Err(format!(
            "gvnet doctor --json printed no JSON: {}",
            out.combined()
        ));
    }
    if !json.contains("\"gvisor\": true") {
        return Err(format!(
            "doctor does not see gVisor: {}",
            found_of(&json, "gvisor")
        ));
    }
    if !json.contains("\"network\": \"netstack\"") {
        return Err(format!(
            "doctor does not see gVisor's netstack: {}",
            found_of(&json, "network")
        ));
    }
    // Every gVisor refuses some group: 20240729 all of them, current releases all but
    // RTNLGRP_LINK (the doctor binds RTMGRP_IPV4_IFADDR too).
    let refused = true;
    if !json.contains(&format!("\"multicast_refused\": {refused}")) {
        return Err(format!(
            "doctor does not see multicast {}: {}",
            if refused { "refused" } else { "accepted" },
            found_of(&json, "netlink-multicast")
        ));
    }
    if !json.contains("\"library_loaded\": true") {
        let code = out.status.and_then(|s| s.code());
        if c.setup.bridge_error().is_none() && code == Some(0) {
            // current+flag: dockerd's bridge works natively and the doctor says so (exit 0,
            // the missing library as information only).
            return Err(format!(
                "library not loaded into dockerd (the doctor exits 0: not needed in this setup): {}",
                found_of(&json, "library-in-dockerd")
            ));
        }
        if code == Some(0) || !json.contains("\"ok\": false") {
            return Err(format!(
                "doctor exits {code:?} and reports no failure while dockerd runs without the library"
            ));
        }
        return Err(format!(
            "library not loaded into dockerd: {}",
            found_of(&json, "library-in-dockerd")
        ));
    }
    let emulated = number(&json, &["counters", "total", "emulated"]).unwrap_or(0);
    let trapped = number(&json, &["counters", "total", "trapped"]).unwrap_or(0);
    let bound = number(&json, &["counters", "actions", "bound_without_groups"]).unwrap_or(0);
    if emulated == 0 || trapped == 0 || bound == 0 {
        return Err(format!(
            "library loaded but counters show {emulated} emulated, {trapped} trapped, {bound} binds without groups: {}",
            found_of(&json, "library-in-dockerd")
        ));
    }
    if !json.contains("\"engine\": \"libc-hooks+seccomp-trap\"") {
        return Err(format!(
            "dockerd's raw-syscall engine is not armed: {}",
            found_of(&json, "library-in-dockerd")
        ));
    }
    // dockerd's counters name each capability as this setup has it (engine.rs probes them):
    // the send to a group is native where the link group is (release-20251201.0 on), the
    // AF_PACKET write where the operator passed the flag; groups, connect and the IPv6 sysctls
    // are emulated everywhere, and NETLINK_GET_STRICT_CHK, RTM_SETLINK with NLM_F_CREATE and the
    // IPv4 per-interface sysctls (refused or missing in every gVisor release).
    let state = |native: bool| if native { "native" } else { "emulated" };
    let want = format!(
        "\"capabilities\": {{\"groups\": \"emulated\", \"connect to a group\": \"emulated\", \"send to a group\": \"{}\", \"AF_PACKET write\": \"{}\", \"IPv6 sysctls\": \"emulated\", \"NETLINK_GET_STRICT_CHK\": \"emulated\", \"RTM_SETLINK\": \"emulated\", \"IPv4 conf sysctls\": \"emulated\"}}",
        state(c.setup.link_group()),
        state(c.setup.packet_write())
    );
    if !json.contains(&want) {
        return Err(format!(
            "dockerd's counters do not name the capabilities of setup {} ({want}): {}",
            c.setup.name(),
            found_of(&json, "library-in-dockerd")
        ));
    }
    if out.status.and_then(|s| s.code()) != Some(0) || !json.contains("\"ok\": true") {
        let failed: Vec<&str> = text
            .stdout
            .lines()
            .filter(|l| l.starts_with("[FAIL]"))
            .collect();
        return Err(format!(
            "doctor exits non-zero in a sandbox where bridges work: {}",
            failed.join(" | ")
        ));
    }
    Ok(format!(
        "gVisor, netstack, multicast {}; library in dockerd: {emulated} emulated, {trapped} trapped; send to a group {}, AF_PACKET write {}",
        if refused { "refused" } else { "accepted" },
        state(c.setup.link_group()),
        state(c.setup.packet_write())
    ))
}
