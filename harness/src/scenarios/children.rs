//! `children-without-library` (issue 18): dockerd passes the library on to none of its
//! children. containerd, a container's shim and everything below them run without libgvnet.so
//! mapped and without it in `LD_PRELOAD`, and containers still start; dockerd itself keeps it.
//! Then dockerd is restarted with `GVNET_CHILDREN=keep`, the behaviour before the setting:
//! containerd maps the library again (what each child paid at every exec). dockerd is
//! restarted with its usual settings at the end.

use crate::gvisor::Setup;
use crate::sandbox::Mode;
use crate::scenarios::scenario::{Ctx, Expect, Scenario, Verdict};
use crate::util::Result;
use std::path::Path;
use std::time::Duration;

const SHORT: Duration = Duration::from_secs(30);
const LIB: &str = "libgvnet.so";

/// Nothing to stage.
pub fn prepare(_: &Path) -> Result<()> {
    Ok(())
}

/// Whether process `pid` maps libgvnet.so, and its `LD_PRELOAD` (None: not set).
fn library_of(c: &mut Ctx, pid: u32) -> std::result::Result<(bool, Option<String>), String> {
    let maps = c.run(&["cat", &format!("/proc/{pid}/maps")], SHORT)?;
    let env = c.run(&["cat", &format!("/proc/{pid}/environ")], SHORT)?;
    let preload = env
        .stdout
        .split('\0')
        .find_map(|v| v.strip_prefix("LD_PRELOAD="))
        .map(str::to_string);
    Ok((maps.stdout.contains(LIB), preload))
}

/// The pid of the containerd-shim-runc-v2 started for container `id` (`-id ID`).
fn shim_of(c: &mut Ctx, id: &str) -> std::result::Result<u32, String> {
    c.one_pid(&[
        "pgrep",
        "-f",
        &format!("containerd-shim-runc-v2 .*-id {id}"),
    ])
}

/// "name (pid N): maps libgvnet.so / LD_PRELOAD=..." for the notes and the verdict.
fn describe(name: &str, pid: u32, (maps, preload): &(bool, Option<String>)) -> String {
    format!(
        "{name} (pid {pid}): {}, LD_PRELOAD {}",
        if *maps {
            "maps libgvnet.so"
        } else {
            "no libgvnet.so mapped"
        },
        preload
            .as_deref()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "unset".into())
    )
}

fn children_without_library(c: &mut Ctx) -> Verdict {
    let dockerd = c.pid_of("dockerd")?;
    let own = library_of(c, dockerd)?;
    if !own.0 {
        return Err(format!(
            "dockerd does not map libgvnet.so: {}",
            describe("dockerd", dockerd, &own)
        ));
    }
    let ctr = c.pid_of("containerd")?;
    let containerd = library_of(c, ctr)?;
    // A running container: its shim, started by containerd for it.
    let name = "gvnet-children";
    let _ = c.docker(&["rm", "-f", name], SHORT);
    let id = c.docker_ok(&["run", "-d", "--name", name, "bb", "sleep", "60"], SHORT)?;
    // Its own shim: the one started with `-id ID` (an earlier container's may still be
    // going away).
    let shim = shim_of(c, &id).and_then(|p| Ok((p, library_of(c, p)?)));
    let _ = c.docker(&["rm", "-f", name], SHORT);
    let (shim_pid, shim) = shim?;
    let seen = format!(
        "{}; {}; {}",
        describe("dockerd", dockerd, &own),
        describe("containerd", ctr, &containerd),
        describe("containerd-shim-runc-v2", shim_pid, &shim)
    );
    c.note(&seen);
    let clean =
        |l: &(bool, Option<String>)| !l.0 && !l.1.as_deref().is_some_and(|v| v.contains(LIB));
    if !clean(&containerd) || !clean(&shim) {
        return Err(format!(
            "a child of dockerd still loads the library: {seen}"
        ));
    }
    // The behaviour before GVNET_CHILDREN: the children load it.
    let r = (|| -> std::result::Result<String, String> {
        c.restart_dockerd("TERM", &[("GVNET_CHILDREN", "keep")])?;
        let ctr = c.pid_of("containerd")?;
        let kept = library_of(c, ctr)?;
        if !kept.0 {
            return Err(format!(
                "with GVNET_CHILDREN=keep containerd should load the library: {}",
                describe("containerd", ctr, &kept)
            ));
        }
        Ok(describe("containerd", ctr, &kept))
    })();
    let back = c.restart_dockerd("TERM", &[]);
    let kept = r?;
    back.map_err(|e| format!("restoring dockerd's settings: {e}"))?;
    Ok(format!(
        "{seen}; a container started; with GVNET_CHILDREN=keep: {kept}"
    ))
}

/// Without the library dockerd maps nothing (every setup).
fn children_expect(_: &Setup, m: Mode) -> Expect {
    match m {
        Mode::Preload => Expect::Pass,
        Mode::NoPreload => Expect::Fail("dockerd does not map libgvnet.so"),
    }
}

pub const SCENARIOS: &[Scenario] = &[Scenario {
    name: "children-without-library",
    expect: children_expect,
    run: children_without_library,
}];
