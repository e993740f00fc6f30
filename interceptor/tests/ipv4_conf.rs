//! The IPv4 per-interface sysctls netavark sets (`route_localnet`, `rp_filter`, `arp_notify`)
//! where `/proc/sys/net/ipv4/conf` is missing, as in gVisor: on the host kernel, a fresh mount
//! and network namespace (`unshare -mn`) gets an empty tmpfs over `/proc/sys/net/ipv4` and a
//! bridge `podman0`. Then, with the library preloaded in auto mode into `cat` and `dash` (named
//! in `GVNET_TARGETS`, so each decides in its constructor; netavark decides at its first
//! netlink call, before it writes a sysctl):
//!
//! * the probe finds the directory missing (`IPv4 conf sysctls emulated`);
//! * reads of the three files for `podman0`, `all` and `default` give `0` (Linux's default);
//! * a write (`echo 1 >`, `open64` with `O_WRONLY | O_CREAT | O_TRUNC`) is accepted;
//! * another file, or an interface that does not exist, is still ENOENT;
//! * with `GVNET_MODE=off` every one of them is ENOENT (so the library did it).
//!
//! Needs root (`unshare -mn`, `mount`) and `ip`; missing pieces fail the test, it never skips.

mod common;

use common::library_path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(mode: &str) -> String {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "running as uid {euid}: this test makes namespaces (unshare -mn); it fails rather than skips"
    );
    for (tool, package) in [
        ("unshare", "util-linux"),
        ("ip", "iproute2"),
        ("dash", "dash"),
    ] {
        assert!(
            common::find_in_path(tool).is_some(),
            "`{tool}` not found in PATH: install `{package}`; this test fails rather than skips"
        );
    }
    let lib = library_path();
    let c = "/proc/sys/net/ipv4/conf";
    let script = format!(
        "mount -t tmpfs gvnet-test /proc/sys/net/ipv4
ip link add podman0 type bridge
export LD_PRELOAD='{lib}' GVNET_MODE={mode} GVNET_TARGETS=cat,dash
GVNET_LOG=info cat /dev/null 2>&1 | grep -o 'IPv4 conf sysctls [^,:]*' || true
for f in podman0/route_localnet podman0/rp_filter podman0/arp_notify all/rp_filter default/arp_notify nosuch/rp_filter podman0/forwarding; do
  printf '%s: ' $f; cat {c}/$f 2>&1 || true
done
dash -c 'echo 1 > {c}/podman0/route_localnet && echo write: accepted' 2>&1 || true
",
        lib = lib.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-mn", "sh", "-ec", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::clean_gvnet_env(&mut cmd);
    let what = format!("ipv4 conf (GVNET_MODE={mode})");
    let out = common::capture(
        &mut cmd,
        &what,
        "unshare -mn sh",
        Duration::from_secs(60),
        Duration::from_millis(20),
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n--- stderr ---\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    out.stdout + &out.stderr
}

#[test]
fn missing_ipv4_conf_files_are_answered_for_existing_interfaces_only() {
    let auto = run("auto");
    for want in [
        "IPv4 conf sysctls emulated (no /proc/sys/net/ipv4/conf)",
        "podman0/route_localnet: 0\n",
        "podman0/rp_filter: 0\n",
        "podman0/arp_notify: 0\n",
        "all/rp_filter: 0\n",
        "default/arp_notify: 0\n",
        "nosuch/rp_filter: cat: /proc/sys/net/ipv4/conf/nosuch/rp_filter: No such file or directory",
        "podman0/forwarding: cat: /proc/sys/net/ipv4/conf/podman0/forwarding: No such file or directory",
        "write: accepted",
    ] {
        assert!(auto.contains(want), "auto mode lacks {want:?}:\n{auto}");
    }
    let off = run("off");
    assert!(
        off.contains("podman0/rp_filter: cat: /proc/sys/net/ipv4/conf/podman0/rp_filter: No such file or directory"),
        "{off}"
    );
    assert!(!off.contains("write: accepted"), "{off}");
}
