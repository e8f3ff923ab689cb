//! Pods the way a CNI plugin makes them: a network namespace per pod, a veth pair whose
//! host end is on a bridge, and an address from the pod CIDR; all removed when dropped.
//!
//! ```text
//!  host ── wkbr<N> 10.244.N.1/24 ─┬─ wk<N>v2 ══ eth0 10.244.N.2  (netns wk<N>-<pod>)
//!                                └─ wk<N>v3 ══ eth0 10.244.N.3  (netns wk<N>-<pod>)
//! ```
//!
//! N (1..=254) is a slot held with an `flock` on a file for as long as the [`PodNetwork`]
//! lives, so parallel tests and test binaries never share a subnet or a name. Whatever a
//! killed earlier holder of a slot left behind is removed when the slot is taken again.
//! Everything is done with `ip` from iproute2 and needs root (CAP_NET_ADMIN). Traffic
//! stays on this machine: the host reaches pods through the bridge, no NAT involved.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, geteuid, kill_process};

use crate::error::{Error, Result};
use crate::process::ChildProcess;

/// The first two octets of the pod CIDR `10.244.0.0/16`; each network takes one /24.
const POD_CIDR_PREFIX: [u8; 2] = [10, 244];

/// Pod addresses of one network run from `.2` (`.1` is the bridge) to `.254`.
const FIRST_POD_HOST: u8 = 2;
const LAST_POD_HOST: u8 = 254;

/// Longest pod name: keeps `wk<N>-<name>` a short, readable namespace name.
const MAX_POD_NAME: usize = 32;

/// Fails with the reason these tests cannot run unless the effective user is root.
pub fn require_root() -> Result<()> {
    let euid = geteuid();
    if euid.is_root() {
        Ok(())
    } else {
        Err(Error::Unexpected {
            what: "these tests need root (CAP_NET_ADMIN) to create network namespaces".to_owned(),
            detail: format!(
                "running as uid {}; run them as root (CI does)",
                euid.as_raw()
            ),
        })
    }
}

/// A bridge with the host's address in one /24 of the pod CIDR; pods attach to it.
/// Dropping it deletes the bridge and releases the subnet.
#[derive(Debug)]
pub struct PodNetwork {
    slot: u8,
    bridge: String,
    next_host: AtomicU8,
    _lock: File,
}

impl PodNetwork {
    /// Takes a free subnet, removes leftovers of an earlier holder, and brings up its bridge.
    pub fn create() -> Result<Self> {
        require_root()?;
        let (slot, lock) = take_slot()?;
        let network = Self {
            slot,
            bridge: format!("wkbr{slot}"),
            next_host: AtomicU8::new(FIRST_POD_HOST),
            _lock: lock,
        };
        let gateway = format!("{}/24", network.gateway());
        ip(&["link", "add", &network.bridge, "type", "bridge"])?;
        ip(&["addr", "add", &gateway, "dev", &network.bridge])?;
        ip(&["link", "set", &network.bridge, "up"])?;
        Ok(network)
    }

    /// The bridge's name.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The host's address on the bridge, every pod's default gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        self.address(1)
    }

    /// The network's subnet, `10.244.N.0/24`.
    pub fn cidr(&self) -> String {
        format!("{}/24", self.address(0))
    }

    /// Creates pod `name`: its network namespace, a veth pair with the host end on the
    /// bridge and `eth0` inside, `lo` and `eth0` up, the next free address, and a default
    /// route via the bridge. `name` is 1 to 32 characters of `a-z`, `0-9` and `-`.
    pub fn pod(&self, name: &str) -> Result<Pod> {
        check_pod_name(name)?;
        let host = self
            .next_host
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |host| {
                (host <= LAST_POD_HOST).then_some(host.wrapping_add(1))
            })
            .map_err(|_| Error::Unexpected {
                what: format!("cannot create pod {name}"),
                detail: format!("network {} has no free address left", self.cidr()),
            })?;
        let slot = self.slot;
        let pod = Pod {
            name: name.to_owned(),
            netns: format!("wk{slot}-{name}"),
            host_veth: format!("wk{slot}v{host}"),
            ip: self.address(host),
        };
        // From here on, dropping `pod` removes whatever part of it exists.
        let address = format!("{}/24", pod.ip);
        let gateway = self.gateway().to_string();
        let ns = pod.netns.as_str();
        ip(&["netns", "add", ns])?;
        ip(&[
            "link",
            "add",
            &pod.host_veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns,
        ])?;
        ip(&["link", "set", &pod.host_veth, "master", &self.bridge])?;
        ip(&["link", "set", &pod.host_veth, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&["-n", ns, "addr", "add", &address, "dev", "eth0"])?;
        ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", ns, "route", "add", "default", "via", &gateway])?;
        Ok(pod)
    }

    fn address(&self, host: u8) -> Ipv4Addr {
        let [a, b] = POD_CIDR_PREFIX;
        Ipv4Addr::new(a, b, self.slot, host)
    }
}

impl Drop for PodNetwork {
    /// Deletes the bridge (pods still alive keep their namespace until they are dropped).
    fn drop(&mut self) {
        remove_link(&self.bridge);
    }
}

/// One pod: a network namespace with `eth0` on the network's bridge. Dropping it kills
/// every process left in the namespace and deletes the veth pair and the namespace.
#[derive(Debug)]
pub struct Pod {
    name: String,
    netns: String,
    host_veth: String,
    ip: Ipv4Addr,
}

impl Pod {
    /// The name it was created with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address on `eth0`, reachable from the host.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The network namespace's name (`ip netns list`).
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The host end of its veth pair (`ip link`).
    pub fn host_veth(&self) -> &str {
        &self.host_veth
    }

    /// Runs `program args…` inside the namespace (`ip netns exec`, which execs the program,
    /// so the child's pid is the program's), stderr collected as [`ChildProcess::spawn`] does.
    pub fn spawn(&self, what: &str, program: &Path, args: &[&OsStr]) -> Result<ChildProcess> {
        let mut full: Vec<&OsStr> = Vec::with_capacity(args.len() + 4);
        full.extend(["netns", "exec", self.netns.as_str()].map(OsStr::new));
        full.push(program.as_os_str());
        full.extend_from_slice(args);
        ChildProcess::spawn(what, &PathBuf::from("ip"), &full)
    }

    /// The processes running inside the namespace.
    pub fn pids(&self) -> Result<Vec<u32>> {
        netns_pids(&self.netns)
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        remove_netns_and_link(&self.netns, &self.host_veth);
    }
}

/// The names of all network namespaces (`ip netns list`).
pub fn netns_names() -> Result<Vec<String>> {
    let out = ip(&["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// The names of all links of the host's namespace (`ip link`), without `@peer` suffixes.
pub fn link_names() -> Result<Vec<String>> {
    let out = ip(&["-o", "link", "show"])?;
    Ok(out
        .lines()
        .filter_map(parse_link_name)
        .map(str::to_owned)
        .collect())
}

/// `"12: wk3v2@if3: <BROADCAST,…"` → `"wk3v2"`.
fn parse_link_name(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once(": ")?;
    let (name, _) = rest.split_once(':')?;
    let name = name.split('@').next().unwrap_or(name).trim();
    (!name.is_empty()).then_some(name)
}

fn check_pod_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_POD_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Error::Unexpected {
            what: format!("invalid pod name {name:?}"),
            detail: format!("use 1 to {MAX_POD_NAME} characters of a-z, 0-9 and -"),
        })
    }
}

/// Locks the first free slot, starting at one derived from the pid so parallel processes
/// rarely contend, and skipping subnets that some other interface already uses.
fn take_slot() -> Result<(u8, File)> {
    let dir = std::env::temp_dir().join("wicket-e2e-netns");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let start = std::process::id() % 254;
    for offset in 0..254 {
        let slot = u8::try_from((start + offset) % 254 + 1).unwrap_or(1);
        let path = dir.join(format!("{slot}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("cannot lock {}", path.display()),
                    e.into(),
                ));
            }
        }
        reclaim(slot)?;
        if subnet_in_use(slot)? {
            continue;
        }
        return Ok((slot, file));
    }
    Err(Error::Unexpected {
        what: "cannot create a pod network".to_owned(),
        detail: "every 10.244.N.0/24 subnet is in use".to_owned(),
    })
}

/// Removes the namespaces and links of `slot` that an earlier, killed holder left behind.
fn reclaim(slot: u8) -> Result<()> {
    let netns_prefix = format!("wk{slot}-");
    for netns in netns_names()? {
        if netns.starts_with(&netns_prefix) {
            remove_netns_and_link(&netns, "");
        }
    }
    let bridge = format!("wkbr{slot}");
    let veth_prefix = format!("wk{slot}v");
    for link in link_names()? {
        if link == bridge || link.starts_with(&veth_prefix) {
            remove_link(&link);
        }
    }
    Ok(())
}

/// Whether some interface of the host already has an address in the slot's subnet.
fn subnet_in_use(slot: u8) -> Result<bool> {
    let [a, b] = POD_CIDR_PREFIX;
    let subnet = format!("{a}.{b}.{slot}.0/24");
    let out = ip(&["-o", "-4", "addr", "show", "to", &subnet])?;
    Ok(!out.trim().is_empty())
}

fn netns_pids(netns: &str) -> Result<Vec<u32>> {
    let out = ip(&["netns", "pids", netns])?;
    Ok(out
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect())
}

/// SIGKILLs every process in the namespace; errors go to stderr (called from `Drop`).
fn kill_netns_processes(netns: &str) {
    let pids = match netns_pids(netns) {
        Ok(pids) => pids,
        Err(e) => return report(&format!("cannot list processes of netns {netns}: {e}")),
    };
    for raw in pids {
        let Some(pid) = i32::try_from(raw).ok().and_then(Pid::from_raw) else {
            continue;
        };
        match kill_process(pid, Signal::KILL) {
            Ok(()) | Err(Errno::SRCH) => {}
            Err(e) => report(&format!("cannot kill pid {raw} in netns {netns}: {e}")),
        }
    }
}

/// Deletes a link if it exists; errors go to stderr (called from `Drop`).
fn remove_link(name: &str) {
    match link_names() {
        Ok(links) if !links.iter().any(|link| link == name) => {}
        _ => {
            if let Err(e) = ip(&["link", "del", name]) {
                report(&e.to_string());
            }
        }
    }
}

/// Kills the processes in `netns`, deletes the host veth `link` (which takes `eth0` with it)
/// and then the namespace; only what exists. Errors go to stderr (called from `Drop`).
fn remove_netns_and_link(netns: &str, link: &str) {
    let exists = netns_names().map_or(true, |all| all.iter().any(|name| name == netns));
    if exists {
        kill_netns_processes(netns);
    }
    if !link.is_empty() {
        remove_link(link);
    }
    if exists && let Err(e) = ip(&["netns", "del", netns]) {
        report(&e.to_string());
    }
}

#[allow(
    clippy::print_stderr,
    reason = "cleanup runs in Drop; the test runner shows stderr of failed tests"
)]
fn report(message: &str) {
    eprintln!("pod network cleanup: {message}");
}

/// Runs `ip ARGS…` and returns its stdout, or an error carrying its stderr.
fn ip(args: &[&str]) -> Result<String> {
    let command = format!("ip {}", args.join(" "));
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::Unexpected {
                what: format!("cannot run `{command}`"),
                detail: "`ip` is missing: install iproute2 (`.ci/run` installs it)".to_owned(),
            },
            _ => Error::Spawn {
                what: format!("`{command}`"),
                source,
            },
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Unexpected {
            what: format!("`{command}` failed ({})", output.status),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_link_names_with_and_without_peers() {
        let out = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n\
                   7: wkbr3: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue\n\
                   8: wk3v2@if2: <BROADCAST,MULTICAST,UP> mtu 1500 master wkbr3\n";
        let names: Vec<_> = out.lines().filter_map(parse_link_name).collect();
        assert_eq!(names, ["lo", "wkbr3", "wk3v2"]);
    }

    #[test]
    fn pod_names_are_short_lower_case_labels() {
        assert!(check_pod_name("echo-1").is_ok());
        for bad in ["", "Echo", "a/b", "a b", &"x".repeat(MAX_POD_NAME + 1)] {
            assert!(check_pod_name(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
