//! `gvnet podman-nat`: podman's published ports (`-p`) and its containers' outbound SNAT,
//! where netavark's own firewall drivers cannot work (gVisor has no nftables, and iptables
//! there has no MASQUERADE and no `-m addrtype`; docs/podman.md, *Ports and outbound*).
//!
//! `gvnet podman-setup` sets `firewall_driver = "none"` and has its netavark wrapper hand
//! netavark's input (the network options podman writes to netavark's stdin: the container,
//! its addresses per network, its port mappings, each network's bridge and subnets) to
//! `gvnet podman-nat setup FILE` after a successful `netavark setup`, and to `teardown` after
//! `netavark teardown`. The options of every container set up are kept under
//! [`STATE_DIR`]; each call recomputes every rule from them, the sandbox's IPv4 addresses and
//! its uplink (the device of the default route), and writes two nat chains in one
//! `iptables-restore --noflush`: the same means `gvnet-dockerd` uses for Docker's networks,
//! kept in step by netavark's calls instead of Docker's events.
//!
//! ```text
//! GVNET-PODMAN-DNAT (from PREROUTING and OUTPUT), per published port and protocol:
//!   -d LOCAL/32 -p P -m P --dport HP -j DNAT --to-destination CIP:CP   (each local address,
//!                                                                       or the -p address)
//! GVNET-PODMAN-SNAT (from POSTROUTING):
//!   -s 127.0.0.1/32 -d CIP/32 -p P -m P --dport CP -j SNAT --to-source GATEWAY
//!                                     (localhost: Linux would drop 127.0.0.1 on a bridge)
//!   -d SUBNET -j RETURN               (traffic between containers is never translated)
//!   -s SUBNET -o UPLINK -p tcp|udp -j SNAT --to-source UPLINK-ADDRESS
//! ```
//!
//! Without `-m addrtype`, "a local address" is each IPv4 address the sandbox has when the
//! rules are computed; an address added later is covered from the next container's setup
//! or teardown (or `gvnet podman-nat sync`). With no container left, the chains and their
//! jumps are removed. ICMP is not translated (SNAT needs `-p tcp` or `-p udp` in gVisor).

use crate::json::Json;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the options of the containers set up are kept, one `ID@NETWORK.json` per container
/// and network (`podman network connect` and `disconnect` set up and tear down one network of
/// a running container).
pub const STATE_DIR: &str = "/run/gvnet/podman-nat";
/// The chain of published ports.
pub const DNAT_CHAIN: &str = "GVNET-PODMAN-DNAT";
/// The chain of source translations.
pub const SNAT_CHAIN: &str = "GVNET-PODMAN-SNAT";
/// The most ports one mapping's range expands to (one rule each, for exact port pairs).
const RANGE_MAX: u64 = 1024;

/// An IPv4 subnet: address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet(pub Ipv4Addr, pub u8);

impl Subnet {
    fn parse(s: &str) -> Option<Subnet> {
        let (a, p) = s.split_once('/')?;
        let p: u8 = p.parse().ok().filter(|p| *p <= 32)?;
        let a: Ipv4Addr = a.parse().ok()?;
        Some(Subnet(Ipv4Addr::from(u32::from(a) & mask(p)), p))
    }

    /// Whether `ip` is inside.
    fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.1) == u32::from(self.0)
    }
}

/// The netmask of a prefix length (at most 32).
fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

/// A container's place on one network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Net {
    /// The network's name.
    pub name: String,
    /// Its IPv4 subnets with their gateways.
    pub subnets: Vec<(Subnet, Option<Ipv4Addr>)>,
    /// The container's IPv4 addresses on it.
    pub ips: Vec<Ipv4Addr>,
    /// `--internal`: no outbound, no ports.
    pub internal: bool,
}

/// One published port mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// The host address asked for (`-p ADDR:HP:CP`), `None`: every local address.
    pub host_ip: Option<Ipv4Addr>,
    /// First host port.
    pub host_port: u16,
    /// First container port.
    pub container_port: u16,
    /// How many consecutive ports.
    pub range: u16,
    /// `tcp`, `udp` (`sctp` is not translated by gVisor and is left out).
    pub protocols: Vec<&'static str>,
}

/// What `podman-nat` keeps of one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// podman's container id.
    pub id: String,
    /// Its networks, in the options' order.
    pub nets: Vec<Net>,
    /// Its published ports.
    pub ports: Vec<Port>,
}

/// The container netavark's options describe. Networks other than bridges, IPv6 subnets and
/// addresses, and IPv6 host addresses are left out (gVisor has no ip6tables nat).
pub fn container(o: &Json) -> Result<Container, String> {
    let id = o
        .get("container_id")
        .and_then(Json::as_str)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or("no container_id (or not alphanumeric) in netavark's options")?
        .to_string();
    let info = o.get("network_info");
    let mut nets = Vec::new();
    for (name, per) in o.get("networks").map(Json::members).unwrap_or(&[]) {
        let Some(ni) = info.and_then(|i| i.get(name)) else {
            continue;
        };
        if ni.get("driver").and_then(Json::as_str) != Some("bridge") {
            continue;
        }
        let subnets = ni
            .get("subnets")
            .map(Json::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(|s| {
                let net = Subnet::parse(s.get("subnet")?.as_str()?)?;
                let gw = s
                    .get("gateway")
                    .and_then(Json::as_str)
                    .and_then(|g| g.parse().ok());
                Some((net, gw))
            })
            .collect();
        let ips = per
            .get("static_ips")
            .map(Json::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(|ip| ip.as_str()?.parse().ok())
            .collect();
        nets.push(Net {
            name: name.clone(),
            subnets,
            ips,
            internal: matches!(ni.get("internal"), Some(Json::Bool(true))),
        });
    }
    let mut ports = Vec::new();
    for p in o.get("port_mappings").map(Json::items).unwrap_or(&[]) {
        let num = |k: &str| p.get(k).and_then(Json::as_u64);
        let (Some(hp), Some(cp)) = (num("host_port"), num("container_port")) else {
            return Err("a port mapping without host_port or container_port".into());
        };
        let range = num("range").unwrap_or(1).max(1);
        if hp + range > 65536 || cp + range > 65536 || range > RANGE_MAX {
            return Err(format!(
                "port mapping {hp}:{cp} range {range} out of bounds"
            ));
        }
        let host_ip = match p.get("host_ip").and_then(Json::as_str).unwrap_or("") {
            "" | "0.0.0.0" => None,
            ip => match ip.parse::<Ipv4Addr>() {
                Ok(a) => Some(a),
                // An IPv6 host address: nothing to translate it with here.
                Err(_) => continue,
            },
        };
        let protocols = p
            .get("protocol")
            .and_then(Json::as_str)
            .unwrap_or("tcp")
            .split(',')
            .filter_map(|x| match x.trim() {
                "tcp" => Some("tcp"),
                "udp" => Some("udp"),
                _ => None,
            })
            .collect();
        ports.push(Port {
            host_ip,
            host_port: hp as u16,
            container_port: cp as u16,
            range: range as u16,
            protocols,
        });
    }
    Ok(Container { id, nets, ports })
}

/// The file that keeps container `id`'s place on network `net`; `None` for a network name
/// podman would not make (`[A-Za-z0-9][A-Za-z0-9_.-]*`).
pub fn kept_name(id: &str, net: &str) -> Option<String> {
    let ok = net
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && net
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then(|| format!("{id}@{net}.json"))
}

/// The network a kept file's name is for.
pub fn kept_network(file_name: &str) -> Option<&str> {
    file_name
        .strip_suffix(".json")?
        .split_once('@')
        .map(|(_, n)| n)
}

impl Container {
    /// This container on network `net` alone (its ports go there).
    pub fn only(mut self, net: &str) -> Container {
        self.nets.retain(|n| n.name == net);
        self
    }
}

/// What the rules depend on besides the containers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    /// Every local IPv4 address (127.0.0.1 included).
    pub local: Vec<Ipv4Addr>,
    /// The uplink: the default route's device and its first IPv4 address.
    pub uplink: Option<(String, Ipv4Addr)>,
}

/// The two chains' rules, each `iptables -S` style without the leading `-A CHAIN`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// GVNET-PODMAN-DNAT.
    pub dnat: Vec<String>,
    /// GVNET-PODMAN-SNAT, in order.
    pub snat: Vec<String>,
}

impl Rules {
    /// Whether no rule is wanted (the chains go).
    pub fn is_empty(&self) -> bool {
        self.dnat.is_empty() && self.snat.is_empty()
    }
}

fn push_once(v: &mut Vec<String>, r: String) {
    if !v.contains(&r) {
        v.push(r);
    }
}

/// Every rule for the containers `cs` on host `h` (see the module's table).
pub fn rules(cs: &[Container], h: &Host) -> Rules {
    let mut r = Rules::default();
    let mut localhost = Vec::new();
    let mut subnets: Vec<Subnet> = Vec::new();
    for c in cs {
        for n in c.nets.iter().filter(|n| !n.internal) {
            for (s, _) in &n.subnets {
                if !subnets.contains(s) {
                    subnets.push(*s);
                }
            }
        }
        // Ports go to the first network (in the options' order) where the container has an
        // address inside one of its subnets: podman lists a container's networks sorted by name.
        let target = c.nets.iter().filter(|n| !n.internal).find_map(|n| {
            n.ips.iter().find_map(|ip| {
                n.subnets
                    .iter()
                    .find(|(s, _)| s.contains(*ip))
                    .map(|(_, gw)| (*ip, *gw))
            })
        });
        let Some((cip, gw)) = target else { continue };
        for p in &c.ports {
            let dests: Vec<Ipv4Addr> = match p.host_ip {
                Some(a) => vec![a],
                None => h.local.clone(),
            };
            for proto in &p.protocols {
                for i in 0..p.range {
                    let (hp, cp) = (p.host_port + i, p.container_port + i);
                    for d in &dests {
                        push_once(
                            &mut r.dnat,
                            format!(
                                "-d {d}/32 -p {proto} -m {proto} --dport {hp} -j DNAT --to-destination {cip}:{cp}"
                            ),
                        );
                    }
                    if let Some(gw) = gw.filter(|_| dests.iter().any(|d| d.is_loopback())) {
                        push_once(
                            &mut localhost,
                            format!(
                                "-s 127.0.0.1/32 -d {cip}/32 -p {proto} -m {proto} --dport {cp} -j SNAT --to-source {gw}"
                            ),
                        );
                    }
                }
            }
        }
    }
    r.snat = localhost;
    if let Some((dev, addr)) = &h.uplink {
        // gVisor applies an SNAT rule with -o UPLINK to traffic between two containers of a
        // bridge too, and resets such TCP connections: traffic to any bridge subnet leaves
        // the chain first (as in gvnet-dockerd).
        for s in &subnets {
            r.snat.push(format!("-d {s} -j RETURN"));
        }
        for s in &subnets {
            for proto in ["tcp", "udp"] {
                r.snat.push(format!(
                    "-s {s} -o {dev} -p {proto} -j SNAT --to-source {addr}"
                ));
            }
        }
    }
    r
}

/// The `iptables-restore --noflush` input that makes both chains hold exactly `r` (a chain
/// named in it is emptied first), in one table replacement.
pub fn restore_input(r: &Rules) -> String {
    let mut s = format!("*nat\n:{DNAT_CHAIN} - [0:0]\n:{SNAT_CHAIN} - [0:0]\n");
    for x in &r.dnat {
        let _ = writeln!(s, "-A {DNAT_CHAIN} {x}");
    }
    for x in &r.snat {
        let _ = writeln!(s, "-A {SNAT_CHAIN} {x}");
    }
    s.push_str("COMMIT\n");
    s
}

/// The jumps into the chains: (built-in chain, target).
pub const JUMPS: [(&str, &str); 3] = [
    ("PREROUTING", DNAT_CHAIN),
    ("OUTPUT", DNAT_CHAIN),
    ("POSTROUTING", SNAT_CHAIN),
];

/// The local IPv4 addresses in `ip -4 -o addr show` output.
pub fn parse_addrs(text: &str) -> Vec<Ipv4Addr> {
    let mut v = Vec::new();
    for l in text.lines() {
        let mut w = l.split_whitespace();
        while let Some(x) = w.next() {
            if x == "inet" {
                if let Some(a) = w
                    .next()
                    .and_then(|a| a.split('/').next())
                    .and_then(|a| a.parse().ok())
                {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                }
            }
        }
    }
    v
}

/// The device of the first default route that names one, in `ip -4 route show default`.
pub fn parse_default_dev(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.windows(2)
            .find(|p| p[0] == "dev")
            .map(|p| p[1].to_string())
    })
}

// ---- effects ----

fn tool(legacy: &str, plain: &str) -> String {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(legacy).is_file()));
    if found { legacy } else { plain }.to_string()
}

fn ipt(args: &[&str]) -> io::Result<std::process::Output> {
    Command::new(tool("iptables-legacy", "iptables"))
        .arg("-w")
        .args(args)
        .stdin(Stdio::null())
        .output()
}

fn ip(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The sandbox as the rules see it now.
fn host() -> Host {
    let mut local = parse_addrs(&ip(&["-4", "-o", "addr", "show"]));
    // gVisor lists addresses in no fixed order: sorted, the same state gives the same rules.
    local.sort();
    let uplink = parse_default_dev(&ip(&["-4", "route", "show", "default"])).and_then(|dev| {
        let a = parse_addrs(&ip(&["-4", "-o", "addr", "show", "dev", &dev]));
        a.first().map(|a| (dev, *a))
    });
    Host { local, uplink }
}

/// The containers kept under `dir`; an unreadable file is reported and skipped.
fn kept(dir: &Path, log: &mut dyn FnMut(String)) -> Vec<Container> {
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else { return v };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(net) = kept_network(name) else {
            log(format!("skipped {}: not a kept file's name", p.display()));
            continue;
        };
        match fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| Json::parse(&t))
            .and_then(|j| container(&j))
        {
            Ok(c) => v.push(c.only(net)),
            Err(e) => log(format!("skipped {}: {e}", p.display())),
        }
    }
    v
}

/// Holds `dir/lock` (flock) while alive: netavark runs for several containers at once.
struct Lock(#[allow(dead_code)] fs::File);

fn lock(dir: &Path) -> io::Result<Lock> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    // SAFETY: flock on a descriptor this function owns; blocks until the lock is free.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Lock(f))
}

/// Makes the chains hold `r` (or removes them and their jumps when `r` is empty).
fn apply(r: &Rules, log: &mut dyn FnMut(String)) -> Result<(), String> {
    let exists = |chain: &str| ipt(&["-t", "nat", "-S", chain]).is_ok_and(|o| o.status.success());
    if r.is_empty() {
        for (from, to) in JUMPS {
            while ipt(&["-t", "nat", "-D", from, "-j", to]).is_ok_and(|o| o.status.success()) {}
        }
        for chain in [DNAT_CHAIN, SNAT_CHAIN] {
            if exists(chain) {
                let _ = ipt(&["-t", "nat", "-F", chain]);
                let _ = ipt(&["-t", "nat", "-X", chain]);
                log(format!(
                    "removed the chain {chain} (no container with ports or outbound left)"
                ));
            }
        }
        return Ok(());
    }
    let mut child = Command::new(tool("iptables-legacy-restore", "iptables-restore"))
        .args(["-w", "--noflush"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("iptables-restore: {e}"))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(restore_input(r).as_bytes())
            .map_err(|e| format!("iptables-restore: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("iptables-restore: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "iptables-restore: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    for (from, to) in JUMPS {
        let has = ipt(&["-t", "nat", "-C", from, "-j", to]).is_ok_and(|o| o.status.success());
        if !has {
            let o = ipt(&["-t", "nat", "-I", from, "1", "-j", to])
                .map_err(|e| format!("iptables: {e}"))?;
            if !o.status.success() {
                return Err(format!(
                    "iptables -t nat -I {from} 1 -j {to}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
        }
    }
    Ok(())
}

/// `gvnet podman-nat setup|teardown FILE`, `sync`, `status`: see the module. Log lines go to
/// stderr, each prefixed.
pub fn main(args: &[&str]) -> Result<(), String> {
    let dir = Path::new(STATE_DIR);
    let mut log = |s: String| eprintln!("gvnet podman-nat: {s}");
    let request = match args {
        [op @ ("setup" | "teardown"), file] => Some((*op, *file)),
        ["sync"] => None,
        ["status"] => {
            let cs = kept(dir, &mut log);
            let h = host();
            println!(
                "uplink: {}",
                h.uplink.as_ref().map_or(
                    "none (no default route with a device)".into(),
                    |(d, a)| format!("{d} {a}")
                )
            );
            println!("containers: {}", cs.len());
            print!("{}", restore_input(&rules(&cs, &h)));
            return Ok(());
        }
        _ => return Err("usage: gvnet podman-nat setup|teardown FILE|-, sync, status".into()),
    };
    fs::create_dir_all(dir).map_err(|e| format!("{STATE_DIR}: {e}"))?;
    let _l = lock(dir).map_err(|e| format!("{STATE_DIR}/lock: {e}"))?;
    let what = match request {
        None => "sync".to_string(),
        Some((op, file)) => {
            let text = if file == "-" {
                io::read_to_string(io::stdin()).map_err(|e| e.to_string())?
            } else {
                fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?
            };
            let c = container(&Json::parse(&text)?)?;
            for n in &c.nets {
                let Some(name) = kept_name(&c.id, &n.name) else {
                    log(format!("network name {:?} left out", n.name));
                    continue;
                };
                let kept_file = dir.join(name);
                if op == "setup" {
                    fs::write(&kept_file, &text)
                        .map_err(|e| format!("{}: {e}", kept_file.display()))?;
                } else {
                    let _ = fs::remove_file(&kept_file);
                }
            }
            let short = &c.id[..c.id.len().min(12)];
            let nets: Vec<&str> = c.nets.iter().map(|n| n.name.as_str()).collect();
            format!(
                "{op} of {short} on {} ({} port mapping(s))",
                nets.join(","),
                c.ports.len()
            )
        }
    };
    sync(dir, &what, &mut log)
}

/// Recomputes and applies every rule (the lock held).
fn sync(dir: &Path, what: &str, log: &mut dyn FnMut(String)) -> Result<(), String> {
    let cs = kept(dir, log);
    let h = host();
    let r = rules(&cs, &h);
    apply(&r, log)?;
    log(format!(
        "{what}: {} container network(s), {} DNAT and {} SNAT rule(s); uplink {}",
        cs.len(),
        r.dnat.len(),
        r.snat.len(),
        h.uplink
            .as_ref()
            .map_or("none: no outbound SNAT".into(), |(d, a)| format!("{d} {a}"))
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As podman 5.8 wrote it for `podman run -p 8080:80 -p 5353:53/udp --network podman
    /// --network gvn2` (captured in gVisor 20240729 through the wrapper).
    const OPTIONS: &str = r#"{"container_id":"e6a777a7b3528f8e8ca645734ce7edabf30f914441e5baad9e2635a3eb27a337","container_name":"web","port_mappings":[{"host_ip":"","container_port":80,"host_port":8080,"range":1,"protocol":"tcp"},{"host_ip":"","container_port":53,"host_port":5353,"range":1,"protocol":"udp"}],"networks":{"gvn2":{"static_ips":["10.89.0.2"],"aliases":["e6a777a7b352"],"interface_name":"eth1"},"podman":{"static_ips":["10.88.0.6"],"aliases":["e6a777a7b352"],"interface_name":"eth0"}},"container_hostname":"e6a777a7b352","network_info":{"gvn2":{"name":"gvn2","id":"d5cc4cb08fad00314f752c5d81cba1865195019e8a16752d0dbce74f5f2fb87d","driver":"bridge","network_interface":"podman1","created":"2026-12-03T15:40:27.594492543Z","subnets":[{"subnet":"10.89.0.0/24","gateway":"10.89.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":true,"ipam_options":{"driver":"host-local"}},"podman":{"name":"podman","id":"2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9","driver":"bridge","network_interface":"podman0","created":"2026-12-03T15:40:27.838289302Z","subnets":[{"subnet":"10.88.0.0/16","gateway":"10.88.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}"#;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn reads_podmans_options() {
        let c = container(&Json::parse(OPTIONS).unwrap()).unwrap();
        assert!(c.id.starts_with("e6a777a7b352"));
        assert_eq!(c.nets.len(), 2);
        assert_eq!(c.nets[0].name, "gvn2");
        assert_eq!(
            c.nets[0].subnets,
            vec![(Subnet(a("10.89.0.0"), 24), Some(a("10.89.0.1")))]
        );
        assert_eq!(c.nets[1].ips, vec![a("10.88.0.6")]);
        assert_eq!(
            c.ports[1],
            Port {
                host_ip: None,
                host_port: 5353,
                container_port: 53,
                range: 1,
                protocols: vec!["udp"],
            }
        );
    }

    #[test]
    fn ports_reach_the_first_network_from_every_local_address_and_localhost_is_translated() {
        let c = container(&Json::parse(OPTIONS).unwrap()).unwrap();
        let h = Host {
            local: vec![a("127.0.0.1"), a("10.88.0.1"), a("203.0.113.1")],
            uplink: Some(("gvnet-up0".into(), a("203.0.113.1"))),
        };
        let r = rules(&[c], &h);
        assert_eq!(
            r.dnat,
            [
                "-d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.89.0.2:80",
                "-d 10.88.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.89.0.2:80",
                "-d 203.0.113.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.89.0.2:80",
                "-d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.89.0.2:53",
                "-d 10.88.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.89.0.2:53",
                "-d 203.0.113.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.89.0.2:53",
            ]
        );
        assert_eq!(
            r.snat,
            [
                "-s 127.0.0.1/32 -d 10.89.0.2/32 -p tcp -m tcp --dport 80 -j SNAT --to-source 10.89.0.1",
                "-s 127.0.0.1/32 -d 10.89.0.2/32 -p udp -m udp --dport 53 -j SNAT --to-source 10.89.0.1",
                "-d 10.89.0.0/24 -j RETURN",
                "-d 10.88.0.0/16 -j RETURN",
                "-s 10.89.0.0/24 -o gvnet-up0 -p tcp -j SNAT --to-source 203.0.113.1",
                "-s 10.89.0.0/24 -o gvnet-up0 -p udp -j SNAT --to-source 203.0.113.1",
                "-s 10.88.0.0/16 -o gvnet-up0 -p tcp -j SNAT --to-source 203.0.113.1",
                "-s 10.88.0.0/16 -o gvnet-up0 -p udp -j SNAT --to-source 203.0.113.1",
            ]
        );
    }

    #[test]
    fn no_uplink_no_outbound_and_no_containers_no_rules() {
        let c = container(&Json::parse(OPTIONS).unwrap()).unwrap();
        let h = Host {
            local: vec![a("10.88.0.1")],
            uplink: None,
        };
        let r = rules(&[c], &h);
        assert_eq!(r.dnat.len(), 2);
        assert!(
            r.snat.is_empty(),
            "no localhost among the addresses, no uplink: {r:?}"
        );
        assert!(rules(&[], &h).is_empty());
    }

    #[test]
    fn a_host_address_ranges_and_internal_networks() {
        let mut o = Json::parse(OPTIONS).unwrap();
        if let Json::Obj(m) = &mut o {
            for (k, v) in m.iter_mut() {
                if k == "port_mappings" {
                    *v = Json::parse(
                        r#"[{"host_ip":"127.0.0.1","container_port":80,"host_port":8080,"range":2,"protocol":"tcp,udp"},
                            {"host_ip":"::1","container_port":1,"host_port":1,"range":1,"protocol":"tcp"},
                            {"host_ip":"","container_port":9,"host_port":9,"range":1,"protocol":"sctp"}]"#,
                    )
                    .unwrap();
                }
            }
        }
        let c = container(&o).unwrap();
        assert_eq!(c.ports.len(), 2, "the IPv6 host address is left out");
        assert!(c.ports[1].protocols.is_empty(), "sctp is not translated");
        let h = Host {
            local: vec![a("127.0.0.1"), a("10.88.0.1")],
            uplink: None,
        };
        let r = rules(std::slice::from_ref(&c), &h);
        assert_eq!(r.dnat.len(), 4, "{:?}", r.dnat);
        assert!(r.dnat[1].contains("--dport 8081 -j DNAT --to-destination 10.89.0.2:81"));
        assert!(r.dnat.iter().all(|x| x.starts_with("-d 127.0.0.1/32")));
        let mut internal = c;
        internal.nets[0].internal = true;
        let r = rules(&[internal], &h);
        assert!(
            r.dnat[0].ends_with("10.88.0.6:80"),
            "ports skip an internal network: {r:?}"
        );
        let bad = OPTIONS.replace("\"range\":1", "\"range\":70000");
        assert!(container(&Json::parse(&bad).unwrap()).is_err());
        let noid = OPTIONS.replace("e6a777a7b3528f8e", "../../etc");
        assert!(container(&Json::parse(&noid).unwrap()).is_err());
    }

    #[test]
    fn one_file_per_container_and_network() {
        assert_eq!(kept_name("abc", "gvn2").as_deref(), Some("abc@gvn2.json"));
        assert_eq!(kept_network("abc@gvn2.json"), Some("gvn2"));
        assert_eq!(kept_network("abc@my.net-1.json"), Some("my.net-1"));
        for bad in ["", "../x", "a/b", ".x", "a b"] {
            assert_eq!(kept_name("abc", bad), None, "{bad:?}");
        }
        assert_eq!(kept_network("abc.json"), None);
        let c = container(&Json::parse(OPTIONS).unwrap()).unwrap();
        let h = Host {
            local: vec![a("10.88.0.1")],
            uplink: None,
        };
        // Kept apart (connect/disconnect), each network's file sends the ports to its address;
        // the first file (by name) comes first in the chain and wins.
        let r = rules(&[c.clone().only("gvn2"), c.clone().only("podman")], &h);
        assert!(
            r.dnat[0].ends_with("10.89.0.2:80") && r.dnat[2].ends_with("10.88.0.6:80"),
            "{r:?}"
        );
        assert_eq!(rules(&[c.only("nope")], &h), Rules::default());
    }

    #[test]
    fn restore_input_names_both_chains_once() {
        let r = Rules {
            dnat: vec![
                "-d 127.0.0.1/32 -p tcp -m tcp --dport 1 -j DNAT --to-destination 10.0.0.2:1"
                    .into(),
            ],
            snat: vec![],
        };
        assert_eq!(
            restore_input(&r),
            "*nat\n:GVNET-PODMAN-DNAT - [0:0]\n:GVNET-PODMAN-SNAT - [0:0]\n\
             -A GVNET-PODMAN-DNAT -d 127.0.0.1/32 -p tcp -m tcp --dport 1 -j DNAT --to-destination 10.0.0.2:1\n\
             COMMIT\n"
        );
    }

    #[test]
    fn reads_ip_output() {
        let addrs = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n\
                     3: podman0    inet 10.88.0.1/16 brd 10.88.255.255 scope global podman0\n";
        assert_eq!(parse_addrs(addrs), vec![a("127.0.0.1"), a("10.88.0.1")]);
        assert_eq!(
            parse_default_dev("default via 203.0.113.2 dev gvnet-up0 \ndefault dev x\n"),
            Some("gvnet-up0".into())
        );
        assert_eq!(parse_default_dev("default via 10.0.0.1\n"), None);
    }
}
