//! Whether bgdeploy runs in the engine's network namespace, so that a container's bridge
//! address is reachable from here and its kernel answers a connect directly.
//!
//! Decided from what is actually reachable, not from the URL's scheme: a unix socket can lead
//! to an engine in another network namespace (bgdeploy in a CI job container with the host's
//! socket mounted, or an engine in a VM behind a forwarded socket), and `tcp://127.0.0.1` can
//! be the engine next door. The test: the default bridge's interface (`docker0`, or what the
//! network's `com.docker.network.bridge.name` says) exists in this process's own network
//! namespace (`/proc/self/net/dev` is per namespace) *and* carries the bridge's gateway
//! address (a socket can be bound to it). An interface name alone could be this machine's own
//! `docker0` in front of another engine; the address alone could be a coincidence of private
//! ranges.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use bollard::Docker;

/// The default bridge network's interface and gateway, as the engine reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub iface: String,
    pub gateway: IpAddr,
}

const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

/// The engine's `bridge` network; `None` when it has none (`--bridge=none`) or says nothing
/// usable, in which case bgdeploy works from the engine's side.
pub async fn default_bridge(docker: &Docker) -> Option<Bridge> {
    let network = docker
        .inspect_network(
            "bridge",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .ok()?;
    let iface = network
        .options
        .as_ref()
        .and_then(|o| o.get(BRIDGE_NAME_OPTION))
        .cloned()
        .unwrap_or_else(|| "docker0".to_string());
    let gateway = network
        .ipam
        .and_then(|ipam| ipam.config)
        .into_iter()
        .flatten()
        .find_map(|c| c.gateway.and_then(|g| g.parse::<IpAddr>().ok()))?;
    Some(Bridge { iface, gateway })
}

impl Bridge {
    /// True when this process shares the engine's network namespace.
    pub fn shared(&self) -> bool {
        let Ok(dev) = std::fs::read_to_string("/proc/self/net/dev") else {
            return false;
        };
        has_interface(&dev, &self.iface)
            && UdpSocket::bind(SocketAddr::new(self.gateway, 0)).is_ok()
    }
}

/// `/proc/net/dev` lists one interface a line as `  name: counters…` after two header lines.
fn has_interface(dev: &str, iface: &str) -> bool {
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .any(|(name, _)| name.trim() == iface)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "Inter-|   Receive                            |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:  1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n  \
eth0: 2000      20    0    0    0     0          0         0     2000      20    0    0    0     0       0          0\n\
docker0:    0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n";

    #[test]
    fn finds_interfaces_by_exact_name() {
        assert!(has_interface(DEV, "docker0"));
        assert!(has_interface(DEV, "lo"));
        assert!(!has_interface(DEV, "docker"));
        assert!(!has_interface(DEV, "br-0123456789ab"));
    }

    #[test]
    fn a_bridge_whose_gateway_is_not_here_is_not_shared() {
        // TEST-NET-1 is never assigned to this machine.
        let bridge = Bridge {
            iface: "lo".into(),
            gateway: "192.0.2.1".parse().expect("address"),
        };
        assert!(!bridge.shared());
        let loopback = Bridge {
            iface: "lo".into(),
            gateway: "127.0.0.1".parse().expect("address"),
        };
        assert!(loopback.shared());
    }
}
