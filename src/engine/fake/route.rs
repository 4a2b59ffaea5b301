//! Default routes in the in-memory engine: what the kernel of a container would hold, by the
//! engine's ordering rule (`route::default_route_holder`): the first non-internal endpoint by
//! priority, then name; none when every endpoint is internal.

use super::model::World;
use crate::observe::ApiVersion;
use crate::route::{DefaultRoute, Endpoint, ProcNetError, ReadSource, RouteReading};

pub(super) fn reading(
    w: &World,
    container: &str,
    api: ApiVersion,
) -> Result<RouteReading, ProcNetError> {
    let c = w
        .find(container)
        .ok_or_else(|| ProcNetError::NoSuchContainer {
            container: container.to_string(),
        })?;
    if !c.running() {
        return Err(ProcNetError::NotRunning {
            container: c.name.clone(),
            state: c.state.clone(),
        });
    }
    let endpoints: Vec<Endpoint> = c
        .endpoints
        .iter()
        .map(|e| Endpoint {
            network: e.network.clone(),
            internal: w.networks.get(&e.network).is_some_and(|n| n.internal),
            gw_priority: e.gw_priority,
            ipv6: false,
        })
        .collect();
    // An internal network gives no default route at all.
    let holder = crate::route::default_route_holder(&endpoints, api).filter(|h| {
        !endpoints
            .iter()
            .any(|e| e.network == h.network && e.internal)
    });
    let gateway = holder
        .as_ref()
        .and_then(|h| w.networks.get(&h.network))
        .and_then(|n| n.gateway().parse().ok());
    Ok(RouteReading {
        container: c.name.clone(),
        v4: gateway.map(|gateway| DefaultRoute {
            iface: "eth0".into(),
            gateway,
        }),
        v6: None,
        network: holder.map(|h| h.network),
        v6_network: None,
        source: ReadSource::HostProc,
    })
}
