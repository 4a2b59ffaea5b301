//! Networks, looked up by exact name: the engine accepts duplicate names and its `name`
//! filter matches substrings, so both are settled here rather than trusted.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::ListNetworksOptionsBuilder;

use super::error::is_not_found;
use super::{Engine, EngineError};
use crate::names;
use crate::observe::{NetworkInfo, NetworkLookup};

/// A network with its address plan, as `inspect` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkDetails {
    pub info: NetworkInfo,
    pub subnets: Vec<Subnet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// CIDR, e.g. "172.21.0.0/16".
    pub subnet: String,
    /// The address containers route through; absent on some drivers.
    pub gateway: Option<String>,
}

impl Engine {
    /// Every network on the engine.
    pub async fn list_networks(&self) -> Result<Vec<NetworkInfo>, EngineError> {
        let networks = self
            .docker
            .list_networks(None)
            .await
            .map_err(|source| EngineError::ListNetworks { source })?;
        Ok(networks
            .into_iter()
            .map(|n| {
                network_info(
                    n.id,
                    n.name,
                    n.driver,
                    (n.internal, n.enable_ipv6),
                    n.labels,
                )
            })
            .collect())
    }

    /// The network(s) named exactly `name`.
    pub async fn find_network(&self, name: &str) -> Result<NetworkLookup, EngineError> {
        let filters = HashMap::from([("name", vec![name])]);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let networks = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|source| EngineError::FindNetwork {
                name: name.to_string(),
                source,
            })?;
        let networks: Vec<NetworkInfo> = networks
            .into_iter()
            .map(|n| {
                network_info(
                    n.id,
                    n.name,
                    n.driver,
                    (n.internal, n.enable_ipv6),
                    n.labels,
                )
            })
            .collect();
        Ok(lookup_network(&networks, name))
    }

    /// One network by ID (or by a name, which fails when the name is ambiguous); `None`
    /// when it does not exist.
    pub async fn inspect_network(
        &self,
        id_or_name: &str,
    ) -> Result<Option<NetworkDetails>, EngineError> {
        let n = match self.docker.inspect_network(id_or_name, None).await {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(source) => {
                return Err(EngineError::InspectNetwork {
                    network: id_or_name.to_string(),
                    source,
                });
            }
        };
        let subnets = n
            .ipam
            .and_then(|ipam| ipam.config)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| {
                Some(Subnet {
                    subnet: c.subnet?,
                    gateway: c.gateway.filter(|g| !g.is_empty()),
                })
            })
            .collect();
        Ok(Some(NetworkDetails {
            info: network_info(
                n.id,
                n.name,
                n.driver,
                (n.internal, n.enable_ipv6),
                n.labels,
            ),
            subnets,
        }))
    }
}

/// `name` among `networks`, by exact name: missing, found, or ambiguous (duplicates, sorted
/// by ID so the answer does not depend on the engine's listing order).
pub fn lookup_network(networks: &[NetworkInfo], name: &str) -> NetworkLookup {
    let mut matches: Vec<NetworkInfo> = networks
        .iter()
        .filter(|n| n.name == name)
        .cloned()
        .collect();
    matches.sort_by(|a, b| a.id.cmp(&b.id));
    match matches.len() {
        0 => NetworkLookup::Missing {
            name: name.to_string(),
        },
        1 => NetworkLookup::Found(matches.remove(0)),
        _ => NetworkLookup::Ambiguous {
            name: name.to_string(),
            matches,
        },
    }
}

fn network_info(
    id: Option<String>,
    name: Option<String>,
    driver: Option<String>,
    (internal, ipv6): (Option<bool>, Option<bool>),
    labels: Option<HashMap<String, String>>,
) -> NetworkInfo {
    let labels: BTreeMap<String, String> = labels.unwrap_or_default().into_iter().collect();
    NetworkInfo {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        driver: driver.unwrap_or_default(),
        internal: internal.unwrap_or(false),
        ipv6: ipv6.unwrap_or(false),
        managed: labels
            .get(names::LABEL_MANAGED)
            .is_some_and(|v| v == "true"),
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(id: &str, name: &str) -> NetworkInfo {
        network_info(
            Some(id.into()),
            Some(name.into()),
            Some("bridge".into()),
            (None, None),
            None,
        )
    }

    #[test]
    fn exact_names_only() {
        // What the engine's substring filter returns for "FRONT_shop_stage".
        let listed = [
            net("1", "FRONT_shop_stage2"),
            net("2", "FRONT_shop_stage"),
            net("3", "xFRONT_shop_stage"),
        ];
        assert_eq!(
            lookup_network(&listed, "FRONT_shop_stage"),
            NetworkLookup::Found(net("2", "FRONT_shop_stage"))
        );
        assert_eq!(
            lookup_network(&listed, "FRONT_shop"),
            NetworkLookup::Missing {
                name: "FRONT_shop".into()
            }
        );
    }

    #[test]
    fn duplicates_are_ambiguous_in_id_order() {
        let listed = [net("b", "FRONT_x"), net("a", "FRONT_x")];
        let NetworkLookup::Ambiguous { name, matches } = lookup_network(&listed, "FRONT_x") else {
            panic!("expected ambiguous");
        };
        assert_eq!(name, "FRONT_x");
        assert_eq!(
            matches.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn managed_means_labelled_by_bgdeploy() {
        let labels = HashMap::from([(names::LABEL_MANAGED.to_string(), "true".to_string())]);
        let n = network_info(
            Some("1".into()),
            Some("BACK_x".into()),
            None,
            (Some(true), None),
            Some(labels),
        );
        assert!(n.managed && n.internal);
        assert!(!net("2", "BACK_x").managed);
    }
}
