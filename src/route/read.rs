//! Reading the default route a container actually has, from the kernel's tables, and naming
//! the network it goes through. Prediction (`predict`) says where the engine should put it;
//! this is what the deploy checks after every attach.

mod ifaces;
mod moved;
mod source;

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

pub use moved::{Family, RouteMoved, check, check_both, explain_move};
pub use source::{Attempt, ProcFile, ProcNet, ProcNetError, ReadOptions, ReadSource};

use super::{DefaultRoute, Endpoint, parse_ipv4_route_table, parse_ipv6_route_table};
use crate::engine::{ContainerDetails, Engine, EngineApi};

const IPV6_ROUTE: &str = "ipv6_route";

/// What failed while reading a route: the same failures as any `/proc/net` read.
pub type RouteReadError = ProcNetError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteReading {
    pub container: String,
    pub v4: Option<DefaultRoute<Ipv4Addr>>,
    pub v6: Option<DefaultRoute<Ipv6Addr>>,
    /// The network whose endpoint gateway is the IPv4 default gateway. Matched on the
    /// endpoint, not the network's IPAM config: the default `bridge` network lists no
    /// gateway there on Engine 20.10.
    pub network: Option<String>,
    /// The network on the IPv6 default route's interface (the engine reports no IPv6 gateway
    /// per endpoint to match on).
    pub v6_network: Option<String>,
    pub source: ReadSource,
}

impl RouteReading {
    /// A reading from the kernel's tables of `container`.
    pub fn from_tables(
        container: &ContainerDetails,
        route: &str,
        ipv6_route: Option<&str>,
        source: ReadSource,
    ) -> RouteReading {
        let v4 = parse_ipv4_route_table(route);
        let v6 = ipv6_route.and_then(parse_ipv6_route_table);
        let network = v4.as_ref().and_then(|r| {
            let gateway = r.gateway.to_string();
            container
                .endpoints
                .iter()
                .find(|e| e.gateway.as_deref() == Some(gateway.as_str()))
                .map(|e| e.network.clone())
        });
        let v6_network = v6
            .as_ref()
            .and_then(|r| ifaces::iface_network(route, &r.iface, &container.endpoints));
        RouteReading {
            container: container.name.clone(),
            v4,
            v6,
            network,
            v6_network,
            source,
        }
    }
}

/// Why `moved` happened, from the container's endpoints as the engine describes them now
/// (each network inspected for its internal and IPv6 flags): the rule that decided and the
/// fix, or why it cannot be told.
pub async fn why_moved(engine: &dyn EngineApi, moved: &RouteMoved) -> String {
    let details = match engine.inspect_container(&moved.container).await {
        Ok(Some(d)) => d,
        Ok(None) => return "The container is gone, so why cannot be told.".to_string(),
        Err(e) => return format!("Why cannot be told: {e}."),
    };
    let mut endpoints = Vec::new();
    for e in &details.endpoints {
        let network = engine.inspect_network(&e.network_id).await.ok().flatten();
        let (internal, ipv6) = network.map_or((false, false), |n| (n.info.internal, n.info.ipv6));
        endpoints.push(
            Endpoint::new(e.network.clone(), internal)
                .priority(e.gw_priority)
                .ipv6(ipv6),
        );
    }
    explain_move(moved, &endpoints, engine.info().api)
}

/// The default routes of a running container, through the first source that works (see
/// [`ReadSource`]).
pub async fn read_default_route(
    engine: &Engine,
    container: &str,
) -> Result<RouteReading, RouteReadError> {
    read_default_route_with(engine, container, &ReadOptions::default()).await
}

pub async fn read_default_route_with(
    engine: &Engine,
    container: &str,
    options: &ReadOptions,
) -> Result<RouteReading, RouteReadError> {
    let net = ProcNet::open(engine, container, options).await?;
    let ipv6 = match net.read(IPV6_ROUTE).await? {
        Some(ProcFile {
            truncated: true, ..
        }) => {
            return Err(ProcNetError::Read {
                container: container.to_string(),
                file: IPV6_ROUTE.to_string(),
                via: net.source(),
                reason: "the output was cut off; the default route may be in the missing part"
                    .to_string(),
            });
        }
        other => other.map(|f| f.text),
    };
    Ok(RouteReading::from_tables(
        net.container(),
        net.route_table(),
        ipv6.as_deref(),
        net.source(),
    ))
}

#[cfg(test)]
mod tests;
