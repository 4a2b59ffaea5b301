//! Whether bgdeploy runs in the engine's network namespace, so that a container's bridge
//! address is reachable from here and its kernel answers a connect directly.
//!
//! Decided from what is actually reachable, not from the URL's scheme: a unix socket can lead
//! to an engine in another network namespace (bgdeploy in a CI job container with the host's
//! socket mounted, or an engine in a VM behind a forwarded socket), and `tcp://127.0.0.1` can
//! be the engine next door. The test: the default bridge's interface (`docker0`, or what the
//! network's `com.docker.network.bridge.name` says) exists in this process's own network
//! namespace *and* carries an address of the bridge's subnet (the gateway's, when the engine
//! names one: the default bridge often lists only its subnet). An interface name alone could
//! be this machine's own `docker0` in front of another engine; an address alone could be a
//! coincidence of private ranges.

use std::net::Ipv4Addr;

use bollard::Docker;

/// The default bridge network's interface, subnet and gateway, as the engine reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub iface: String,
    /// IPv4 network address and prefix length.
    pub subnet: (Ipv4Addr, u8),
    pub gateway: Option<Ipv4Addr>,
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
    let config = network
        .ipam
        .and_then(|ipam| ipam.config)
        .into_iter()
        .flatten()
        .find_map(|c| {
            let subnet = parse_subnet(c.subnet.as_deref()?)?;
            let gateway = c.gateway.and_then(|g| g.parse::<Ipv4Addr>().ok());
            Some((subnet, gateway))
        })?;
    Some(Bridge {
        iface,
        subnet: config.0,
        gateway: config.1,
    })
}

impl Bridge {
    /// True when this process shares the engine's network namespace.
    pub fn shared(&self) -> bool {
        interface_addresses(&self.iface).iter().any(|a| {
            self.gateway
                .map_or_else(|| in_subnet(*a, self.subnet), |g| g == *a)
        })
    }
}

/// `172.17.0.0/16` → (172.17.0.0, 16).
fn parse_subnet(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = text.split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((addr.parse().ok()?, len))
}

fn in_subnet(addr: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    u32::from(addr) & mask == u32::from(net) & mask
}

/// The IPv4 addresses of interface `name` in this process's network namespace.
fn interface_addresses(name: &str) -> Vec<Ipv4Addr> {
    let mut found = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free once.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return found;
        }
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null()
                && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET
                && !ifa.ifa_name.is_null()
                && std::ffi::CStr::from_ptr(ifa.ifa_name).to_bytes() == name.as_bytes()
            {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                found.push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            }
            cur = ifa.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_contain_their_addresses() {
        let net = parse_subnet("172.17.0.0/16").expect("a subnet");
        assert!(in_subnet("172.17.0.1".parse().expect("ip"), net));
        assert!(!in_subnet("172.18.0.1".parse().expect("ip"), net));
        assert!(in_subnet(
            "10.1.2.3".parse().expect("ip"),
            parse_subnet("0.0.0.0/0").expect("any")
        ));
        assert_eq!(parse_subnet("172.17.0.0/33"), None);
        assert_eq!(parse_subnet("fd00::/64"), None);
    }

    #[test]
    fn loopback_is_here_and_a_foreign_bridge_is_not() {
        let lo = Bridge {
            iface: "lo".into(),
            subnet: (Ipv4Addr::new(127, 0, 0, 0), 8),
            gateway: None,
        };
        assert!(lo.shared());
        let with_gateway = Bridge {
            gateway: Some(Ipv4Addr::new(127, 0, 0, 1)),
            ..lo.clone()
        };
        assert!(with_gateway.shared());
        // TEST-NET-1 is never assigned to this machine.
        let foreign = Bridge {
            gateway: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..lo.clone()
        };
        assert!(!foreign.shared());
        let missing = Bridge {
            iface: "no-such-if0".into(),
            ..lo
        };
        assert!(!missing.shared());
    }
}
