//! Which interface of a container belongs to which network, from its own route table: every
//! interface has a "connected" route (no gateway) to its subnet, and the engine tells us each
//! endpoint's address. The same pairing proves that a table read through the engine's host
//! `/proc` really is this container's.

use std::net::Ipv4Addr;

use crate::engine::EndpointDetails;

/// A route without a gateway: the subnet directly on `iface`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Connected {
    iface: String,
    net: Ipv4Addr,
    mask: Ipv4Addr,
}

impl Connected {
    fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & u32::from(self.mask) == u32::from(self.net)
    }
}

/// Hex in host byte order, as `/proc/net/route` writes addresses (x86 and arm are little-endian).
fn hex_addr(field: &str) -> Option<Ipv4Addr> {
    u32::from_str_radix(field, 16)
        .ok()
        .map(|n| Ipv4Addr::from(n.swap_bytes()))
}

fn connected_routes(table: &str) -> Vec<Connected> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let (net, gateway, mask) = (hex_addr(f[1])?, hex_addr(f[2])?, hex_addr(f[7])?);
            (gateway.is_unspecified() && !mask.is_unspecified()).then(|| Connected {
                iface: f[0].to_string(),
                net,
                mask,
            })
        })
        .collect()
}

fn endpoint_ip(e: &EndpointDetails) -> Option<Ipv4Addr> {
    e.ip.as_deref()?.parse().ok()
}

/// Why `table` cannot be this container's, or `Ok` when its subnets and the container's
/// endpoints pair up both ways. Both ways, because the engine's host has connected routes for
/// every bridge network too: a table that merely covers the endpoints might be the host's.
pub(super) fn matches_endpoints(table: &str, endpoints: &[EndpointDetails]) -> Result<(), String> {
    let routes = connected_routes(table);
    let ips: Vec<(&str, Ipv4Addr)> = endpoints
        .iter()
        .filter_map(|e| Some((e.network.as_str(), endpoint_ip(e)?)))
        .collect();
    if let Some((network, ip)) = ips
        .iter()
        .find(|(_, ip)| !routes.iter().any(|r| r.contains(*ip)))
    {
        return Err(format!(
            "it has no interface for the address {ip} the container has on `{network}`"
        ));
    }
    if let Some(r) = routes
        .iter()
        .find(|r| !ips.iter().any(|(_, ip)| r.contains(*ip)))
    {
        return Err(format!(
            "its interface {} ({}/{}) belongs to none of the container's networks",
            r.iface, r.net, r.mask
        ));
    }
    Ok(())
}

/// The network whose endpoint address sits on `iface`.
pub(super) fn iface_network(
    table: &str,
    iface: &str,
    endpoints: &[EndpointDetails],
) -> Option<String> {
    let routes = connected_routes(table);
    endpoints
        .iter()
        .find(|e| {
            endpoint_ip(e)
                .is_some_and(|ip| routes.iter().any(|r| r.iface == iface && r.contains(ip)))
        })
        .map(|e| e.network.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from a demo container on `bridge` (172.17.0.2), host side.
    const BRIDGE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
";

    /// What a host with two bridge networks shows: it covers 172.17.0.2 as well.
    const HOST: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
ens3\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\t0\t0\t0
ens3\t0002000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
br-1f2e3d\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
";

    fn ep(network: &str, ip: &str) -> EndpointDetails {
        EndpointDetails {
            network: network.into(),
            network_id: format!("id-{network}"),
            gw_priority: 0,
            ip: Some(ip.into()),
            gateway: None,
        }
    }

    #[test]
    fn a_containers_own_table_matches_its_endpoints() {
        assert_eq!(
            matches_endpoints(BRIDGE, &[ep("bridge", "172.17.0.2")]),
            Ok(())
        );
    }

    #[test]
    fn the_hosts_table_does_not_pass_for_a_containers() {
        let why = matches_endpoints(HOST, &[ep("bridge", "172.17.0.2")]).expect_err("the host");
        assert!(why.contains("ens3"), "{why}");
    }

    #[test]
    fn a_missing_interface_is_named() {
        let eps = [ep("bridge", "172.17.0.2"), ep("FRONT_x", "172.21.0.3")];
        let why = matches_endpoints(BRIDGE, &eps).expect_err("one interface short");
        assert!(
            why.contains("172.21.0.3") && why.contains("FRONT_x"),
            "{why}"
        );
    }

    #[test]
    fn maps_an_interface_to_its_network() {
        let eps = [ep("bridge", "172.17.0.2")];
        assert_eq!(
            iface_network(BRIDGE, "eth0", &eps).as_deref(),
            Some("bridge")
        );
        assert_eq!(iface_network(BRIDGE, "eth1", &eps), None);
    }
}
