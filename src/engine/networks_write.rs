//! Creating and removing networks, and attaching containers to them.

use std::collections::HashMap;

use bollard::errors::Error as Bollard;
use bollard::models::{
    EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkDisconnectRequest,
};

use super::error::is_not_found;
use super::{Engine, EngineError};

/// The engine's answer (500) when the container has no endpoint on the network, also when
/// the network does not exist at all: "... is not connected to the network X" for a created
/// container, "... is not connected to network X" for a running one.
const NOT_CONNECTED: &str = "is not connected to ";

pub(crate) fn network_request(
    name: &str,
    internal: bool,
    labels: &[(String, String)],
) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("bridge".to_string()),
        internal: Some(internal),
        labels: Some(labels.iter().cloned().collect::<HashMap<_, _>>()),
        ..Default::default()
    }
}

/// A dual-stack network: IPv4 from the engine's pools, IPv6 from `subnet` when given, else
/// from the engine's IPv6 pool. Only the IPv6 subnet goes into the IPAM config: the engine
/// still takes the IPv4 one from its pools (measured on 20.10 and 28.5).
pub(crate) fn ipv6_request(
    mut request: NetworkCreateRequest,
    subnet: Option<&str>,
) -> NetworkCreateRequest {
    request.enable_ipv6 = Some(true);
    if let Some(subnet) = subnet {
        request.ipam = Some(Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(subnet.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        });
    }
    request
}

pub(crate) fn connect_request(container: &str, gw_priority: Option<i64>) -> NetworkConnectRequest {
    NetworkConnectRequest {
        container: container.to_string(),
        endpoint_config: Some(EndpointSettings {
            gw_priority,
            ..Default::default()
        }),
    }
}

impl Engine {
    /// Creates a bridge network; returns its ID. The engine accepts a second network with
    /// a name already in use (DESIGN §7), so look the name up first, under the app/stage lock.
    /// Running out of address pools is explained by `EngineError::explain`.
    pub async fn create_network(
        &self,
        name: &str,
        internal: bool,
        labels: &[(String, String)],
    ) -> Result<String, EngineError> {
        self.create_network_with(name, internal, None, labels).await
    }

    /// `create_network`, dual-stack when `ipv6` is given (`Some(None)`: the IPv6 subnet from
    /// the engine's pool; Engine 20.10 has none and refuses, which `EngineError::explain`
    /// explains).
    pub async fn create_network_with(
        &self,
        name: &str,
        internal: bool,
        ipv6: Option<Option<&str>>,
        labels: &[(String, String)],
    ) -> Result<String, EngineError> {
        tracing::debug!(network = %name, internal, ?ipv6, "creating network");
        let mut request = network_request(name, internal, labels);
        if let Some(subnet) = ipv6 {
            request = ipv6_request(request, subnet);
        }
        self.docker
            .create_network(request)
            .await
            .map(|created| created.id)
            .map_err(|source| EngineError::CreateNetwork {
                name: name.to_string(),
                source,
            })
    }

    /// Removes a network (by ID preferably: a duplicated name is ambiguous); one already gone
    /// is fine. Fails while containers are still attached.
    pub async fn remove_network(&self, id_or_name: &str) -> Result<(), EngineError> {
        tracing::debug!(network = %id_or_name, "removing network");
        match self.docker.remove_network(id_or_name).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(EngineError::RemoveNetwork {
                network: id_or_name.to_string(),
                source,
            }),
        }
    }

    /// Attaches a container to a network, with `GwPriority` when given (ignored by engines
    /// below API 1.48). On a running container this may move its default route: the caller
    /// checks the route afterwards.
    pub async fn connect_network(
        &self,
        container: &str,
        network: &str,
        gw_priority: Option<i64>,
    ) -> Result<(), EngineError> {
        tracing::debug!(%container, %network, ?gw_priority, "connecting network");
        self.docker
            .connect_network(network, connect_request(container, gw_priority))
            .await
            .map_err(|source| EngineError::ConnectNetwork {
                container: container.to_string(),
                network: network.to_string(),
                source,
            })
    }

    /// Detaches a container from a network; not being attached (or the network being gone) is
    /// fine. A missing container is an error: the caller meant some container.
    pub async fn disconnect_network(
        &self,
        container: &str,
        network: &str,
        force: bool,
    ) -> Result<(), EngineError> {
        tracing::debug!(%container, %network, force, "disconnecting network");
        let request = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(force),
        };
        match self.docker.disconnect_network(network, request).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_connected(&e) => Ok(()),
            Err(source) => Err(EngineError::DisconnectNetwork {
                container: container.to_string(),
                network: network.to_string(),
                source,
            }),
        }
    }
}

fn is_not_connected(e: &Bollard) -> bool {
    matches!(e, Bollard::DockerResponseServerError { message, .. } if message.contains(NOT_CONNECTED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connect_request_carries_gw_priority() {
        let body = serde_json::to_value(connect_request("c1", Some(-5))).expect("serializable");
        assert_eq!(body["Container"], "c1");
        assert_eq!(body["EndpointConfig"]["GwPriority"], -5, "{body}");
        let body = serde_json::to_value(connect_request("c1", None)).expect("serializable");
        assert!(body["EndpointConfig"].get("GwPriority").is_none(), "{body}");
    }

    #[test]
    fn networks_are_labelled_bridges() {
        let labels = vec![("bgdeploy.managed".to_string(), "true".to_string())];
        let body =
            serde_json::to_value(network_request("FRONT_x", true, &labels)).expect("serializable");
        assert_eq!(body["Name"], "FRONT_x");
        assert_eq!(body["Driver"], "bridge");
        assert_eq!(body["Internal"], true);
        assert_eq!(body["Labels"]["bgdeploy.managed"], "true");
    }

    #[test]
    fn a_failed_create_for_lack_of_address_pools_is_explained() {
        let e = EngineError::CreateNetwork {
            name: "BACK_x".into(),
            source: Bollard::DockerResponseServerError {
                status_code: 500,
                message: "could not find an available, non-overlapping IPv4 address pool \
                          among the defaults to assign to the network"
                    .into(),
            },
        };
        assert!(e.to_string().contains("BACK_x"));
        assert!(
            e.explain()
                .is_some_and(|h| h.contains("default-address-pools"))
        );
    }

    #[test]
    fn not_connected_is_recognised() {
        let e = Bollard::DockerResponseServerError {
            status_code: 500,
            message: "container 3f is not connected to the network n".into(),
        };
        assert!(is_not_connected(&e));
        let running = Bollard::DockerResponseServerError {
            status_code: 500,
            message: "container 3f is not connected to network n".into(),
        };
        assert!(is_not_connected(&running));
        let other = Bollard::DockerResponseServerError {
            status_code: 404,
            message: "No such container: c".into(),
        };
        assert!(!is_not_connected(&other));
    }
}
