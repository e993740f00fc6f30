//! The base scenarios of `gvnet-harness check`, run before each module's: docker's own
//! networks (host, none, the default bridge, a user network, a published port), no veth left
//! behind, and `ip monitor link`.

use super::scenario::{always, bridge, failure_reason, Ctx, Expect, Scenario, Verdict};
use crate::gvisor::Setup;
use crate::sandbox::{self, Mode};
use std::time::{Duration, Instant};

const RUN_TIMEOUT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(30);

fn expect_ok(got: &str) -> Verdict {
    if got.trim() == "ok" {
        Ok("printed ok".into())
    } else {
        Err(format!("expected 'ok', got {got:?}"))
    }
}

fn host_network(c: &mut Ctx) -> Verdict {
    expect_ok(&c.docker_ok(
        &["run", "--rm", "--network", "host", "bb", "echo", "ok"],
        RUN_TIMEOUT,
    )?)
}

fn none_network(c: &mut Ctx) -> Verdict {
    expect_ok(&c.docker_ok(
        &["run", "--rm", "--network", "none", "bb", "echo", "ok"],
        RUN_TIMEOUT,
    )?)
}

fn default_bridge(c: &mut Ctx) -> Verdict {
    expect_ok(&c.docker_ok(&["run", "--rm", "bb", "echo", "ok"], RUN_TIMEOUT)?)
}

fn bridge_address(c: &mut Ctx) -> Verdict {
    let out = c.docker_ok(
        &["run", "--rm", "bb", "ip", "-4", "addr", "show", "eth0"],
        RUN_TIMEOUT,
    )?;
    let addr = out
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .ok_or_else(|| format!("no 'inet' address in: {}", out.replace('\n', " | ")))?;
    Ok(format!("eth0 has {addr}"))
}

fn user_network(c: &mut Ctx) -> Verdict {
    let net = "gvnet-usernet";
    let _ = c.docker(&["rm", "-f", "gvnet-srv"], SHORT);
    let _ = c.docker(&["network", "rm", net], SHORT);
    let r = (|| -> Verdict {
        c.docker_ok(&["network", "create", net], SHORT)?;
        c.docker_ok(
            &[
                "run",
                "-d",
                "--name",
                "gvnet-srv",
                "--network",
                net,
                "bb",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/var/www",
            ],
            RUN_TIMEOUT,
        )?;
        let ip = c.docker_ok(
            &[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                "gvnet-srv",
            ],
            SHORT,
        )?;
        if ip.is_empty() {
            return Err("server container has no IP address".into());
        }
        let script = format!(
            "ping -c1 -W2 {ip} >/dev/null 2>&1 && echo ping-ip=ok || echo ping-ip=FAIL; \
             ping -c1 -W2 gvnet-srv >/dev/null 2>&1 && echo ping-name=ok || echo ping-name=FAIL; \
             wget -q -T 5 -O- http://{ip}/ 2>/dev/null | grep -q 'hello from gvnet' && echo wget-ip=ok || echo wget-ip=FAIL; \
             wget -q -T 5 -O- http://gvnet-srv/ 2>/dev/null | grep -q 'hello from gvnet' && echo wget-name=ok || echo wget-name=FAIL"
        );
        let out = c.docker_ok(
            &["run", "--rm", "--network", net, "bb", "sh", "-c", &script],
            RUN_TIMEOUT,
        )?;
        let results: Vec<&str> = out.split_whitespace().filter(|w| w.contains('=')).collect();
        if results.len() == 4 && results.iter().all(|r| r.ends_with("=ok")) {
            Ok(format!("server {ip}: ping and wget by IP and by name"))
        } else {
            Err(format!("server {ip}: {}", results.join(" ")))
        }
    })();
    let _ = c.docker(&["rm", "-f", "gvnet-srv"], SHORT);
    let _ = c.docker(&["network", "rm", net], SHORT);
    r
}

fn publish(c: &mut Ctx) -> Verdict {
    let _ = c.docker(&["rm", "-f", "gvnet-pub"], SHORT);
    let r = (|| -> Verdict {
        c.docker_ok(
            &[
                "run",
                "-d",
                "--name",
                "gvnet-pub",
                "-p",
                "8080:80",
                "bb",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/var/www",
            ],
            RUN_TIMEOUT,
        )?;
        let start = Instant::now();
        loop {
            let out = c.run(
                &[
                    "busybox",
                    "wget",
                    "-q",
                    "-T",
                    "3",
                    "-O-",
                    "http://127.0.0.1:8080/",
                ],
                SHORT,
            )?;
            if out.ok() && out.stdout.contains("hello from gvnet") {
                return Ok(format!(
                    "127.0.0.1:8080 answered after {:.1}s",
                    start.elapsed().as_secs_f64()
                ));
            }
            if start.elapsed() > Duration::from_secs(15) {
                return Err(failure_reason("wget 127.0.0.1:8080", &out));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    })();
    let _ = c.docker(&["rm", "-f", "gvnet-pub"], SHORT);
    r
}

fn no_stale_veth(c: &mut Ctx) -> Verdict {
    let left = c.docker_ok(&["ps", "-aq"], SHORT)?;
    if !left.is_empty() {
        return Err(format!("containers left: {}", left.replace('\n', " ")));
    }
    // gVisor reports no link kind (`ip link show type veth` lists nothing even while
    // containers run): veths are found by name (scenarios::docker::veths).
    let start = Instant::now();
    loop {
        let veths = super::docker::veths(c)?;
        if veths.is_empty() {
            return Ok("no veth left".into());
        }
        if start.elapsed() > Duration::from_secs(5) {
            return Err(format!("{} veth left: {}", veths.len(), veths.join(" ")));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `ip monitor link`'s complaint when gVisor refuses its subscription.
pub const EXPECTED_IP_MONITOR: &str = "Cannot bind netlink socket: Permission denied";

/// A C program through libc in the sandbox itself: `ip monitor link` subscribes with a bind with
/// `nl_groups`. With the library staged (preload mode) it runs under `LD_PRELOAD`, subscribes and
/// keeps listening until `timeout` ends it (exit 124); gVisor alone refuses the bind at once.
fn ip_monitor(c: &mut Ctx) -> Verdict {
    let lib = "/opt/gvnet/libgvnet.so";
    let mode = sandbox::mode_env();
    let script = format!(
        "if [ -e {lib} ]; then export LD_PRELOAD={lib} {mode}; fi; timeout 2 ip monitor link; echo \"exit $?\""
    );
    let out = c.run(&["sh", "-c", &script], Duration::from_secs(30))?;
    let text = out.combined();
    if text.contains("exit 124") {
        return Ok("subscribed and kept listening until timeout ended it (2 s)".into());
    }
    let why = text
        .lines()
        .find(|l| !l.starts_with("gvnet[") && !l.starts_with("exit "))
        .unwrap_or("no output");
    Err(format!("ip monitor link stopped by itself: {why}"))
}

pub(crate) const BASE: &[Scenario] = &[
    Scenario {
        name: "host-network",
        expect: always,
        run: host_network,
    },
    Scenario {
        name: "none-network",
        expect: always,
        run: none_network,
    },
    Scenario {
        name: "default-bridge",
        expect: bridge,
        run: default_bridge,
    },
    Scenario {
        name: "bridge-address",
        expect: bridge,
        run: bridge_address,
    },
    Scenario {
        name: "user-network",
        expect: bridge,
        run: user_network,
    },
    Scenario {
        name: "publish",
        expect: bridge,
        run: publish,
    },
    Scenario {
        name: "no-stale-veth",
        expect: always,
        run: no_stale_veth,
    },
    Scenario {
        name: "ip-monitor",
        expect: ip_monitor_expect,
        run: ip_monitor,
    },
];

/// `ip monitor link` subscribes to RTNLGRP_LINK only, which current gVisor accepts natively.
pub(crate) fn ip_monitor_expect(s: &Setup, m: Mode) -> Expect {
    if m == Mode::NoPreload && !s.link_group() {
        Expect::Fail(EXPECTED_IP_MONITOR)
    } else {
        Expect::Pass
    }
}
