//! podman scenarios of `gvnet-harness check` (issue 16, docs/podman.md). `podman-none` runs by
//! default; `podman-bridge` is opt-in, run only when named with `--only` (`scenarios::opt_in`):
//! it cannot pass before the library emulates all netavark needs (docs/podman.md lists the
//! steps, measured; the first three are emulated).
//!
//! With the preload, each scenario runs `gvnet podman-setup --lib /opt/gvnet/libgvnet.so` (the
//! containers.conf drop-in and the netavark wrapper) first; without it, podman runs as
//! installed. `podman-none` (`--network none`) needs only the drop-in and passes in every
//! setup; `podman-bridge` needs the library's emulations for netavark.

use crate::gvisor::Setup;
use crate::sandbox::Mode;
use crate::scenarios::scenario::{failure_reason, Ctx, Expect, Scenario, Verdict};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

/// netavark without the library, in every gVisor measured (20240729, current, current+flag):
/// its `setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK)` is refused with ENOPROTOOPT.
pub const EXPECTED_STRICT_CHK: &str =
    "netavark: host netlink socket: IO error: Protocol not available (os error 92)";

/// Must pass with the library; without it netavark fails on STRICT_CHK everywhere.
fn bridge_expect(_: &Setup, m: Mode) -> Expect {
    match m {
        Mode::Preload => Expect::Pass,
        Mode::NoPreload => Expect::Fail(EXPECTED_STRICT_CHK),
    }
}

/// crun, podman's default runtime, without the drop-in, in every gVisor measured.
pub const EXPECTED_CRUN_LO: &str = "crun: ioctl SIOCSIFFLAGS: Inappropriate ioctl for device";

/// With `gvnet podman-setup`'s drop-in (runc, no ping_group_range sysctl) `--network none`
/// works; as installed, crun fails it.
fn none_expect(_: &Setup, m: Mode) -> Expect {
    match m {
        Mode::Preload => Expect::Pass,
        Mode::NoPreload => Expect::Fail(EXPECTED_CRUN_LO),
    }
}

/// In the default list: `gvnet podman-setup`'s drop-in makes `--network none` work in every
/// setup, and without it crun fails.
pub(crate) const SCENARIOS: &[Scenario] = &[Scenario {
    name: "podman-none",
    expect: none_expect,
    run: podman_none,
}];

/// Opt-in (`--only`): netavark still fails in gVisor with the library (docs/podman.md, What
/// netavark needs: step 4, a veth without `IFLA_LINK`).
pub(crate) const OPT_IN: &[Scenario] = &[Scenario {
    name: "podman-bridge",
    expect: bridge_expect,
    run: podman_bridge,
}];

/// `podman ARGS` in the sandbox, without the cgroups v1 warning on every line.
fn podman(c: &mut Ctx, args: &[&str]) -> std::result::Result<crate::util::Output, String> {
    let mut argv = vec!["env", "PODMAN_IGNORE_CGROUPSV1_WARNING=1", "podman"];
    argv.extend_from_slice(args);
    c.run(&argv, TIMEOUT)
}

/// With the preload: `gvnet podman-setup` (once per sandbox: it replaces its own files); in
/// both modes the bb image (podman import is idempotent: the same tarball, the same name).
fn prepare_podman(c: &mut Ctx) -> std::result::Result<(), String> {
    let opt = c.sb.opt.clone();
    if c.sb.mode == Mode::Preload {
        let gvnet = format!("{opt}/gvnet");
        let lib = format!("{opt}/libgvnet.so");
        let out = c.run(&[&gvnet, "podman-setup", "--lib", &lib], TIMEOUT)?;
        if !out.ok() {
            return Err(failure_reason("gvnet podman-setup", &out));
        }
    }
    let out = c.sb.import_bb_podman().map_err(|e| e.to_string())?;
    c.note(&format!("podman import bb: {}", out.combined().trim()));
    if !out.ok() {
        return Err(failure_reason("podman import", &out));
    }
    Ok(())
}

/// A container without network (its own namespace with lo only) must run.
fn podman_none(c: &mut Ctx) -> Verdict {
    prepare_podman(c)?;
    let out = podman(c, &["run", "--rm", "--network", "none", "bb", "echo", "ok"])?;
    if !out.ok() {
        return Err(failure_reason("podman run", &out));
    }
    if out.stdout.trim() != "ok" {
        return Err(format!("printed {:?}, not ok", out.stdout.trim()));
    }
    Ok("--network none runs".into())
}

/// A container on podman's default bridge network must print an address of 10.88.0.0/16 on
/// its eth0.
fn podman_bridge(c: &mut Ctx) -> Verdict {
    prepare_podman(c)?;
    let out = podman(
        c,
        &[
            "run",
            "--rm",
            "--network",
            "podman",
            "bb",
            "ip",
            "-4",
            "addr",
            "show",
            "eth0",
        ],
    )?;
    if !out.ok() {
        return Err(failure_reason("podman run", &out));
    }
    let addr = out
        .stdout
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .unwrap_or("");
    if !addr.starts_with("10.88.") {
        return Err(format!(
            "eth0 has no address of podman's network 10.88.0.0/16: {}",
            out.stdout.trim()
        ));
    }
    Ok(format!("eth0 {addr}"))
}
