//! Listing containers across the whole engine (`status` without arguments, `doctor`), and
//! looking at one volume. The list call already carries each container's networks and
//! `HostConfig.NetworkMode`, so callers inspect only the containers that matter.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::ListContainersOptionsBuilder;

use super::error::is_not_found;
use super::{Engine, EngineError};

/// A container as the list call reports it, with what a whole-engine audit needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    /// "running", "exited", "created", ...
    pub state: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub labels: BTreeMap<String, String>,
    /// `HostConfig.NetworkMode`: the network it was created on (`default` means `bridge`),
    /// or `host`, `none`, `container:<id>`.
    pub network_mode: String,
    /// Names of the networks it is attached to, sorted byte-wise.
    pub networks: Vec<String>,
}

impl Engine {
    /// Every container (also stopped ones when `all`), or only those carrying `label`
    /// (`key` or `key=value`, as for `docker ps --filter label=`).
    pub async fn list_containers(
        &self,
        all: bool,
        label: Option<&str>,
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        let filters: HashMap<&str, Vec<&str>> = label
            .map(|l| HashMap::from([("label", vec![l])]))
            .unwrap_or_default();
        let options = ListContainersOptionsBuilder::new()
            .all(all)
            .filters(&filters)
            .build();
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|source| EngineError::ListAllContainers { source })?;
        Ok(listed
            .into_iter()
            .map(|c| {
                let mut networks: Vec<String> = c
                    .network_settings
                    .and_then(|s| s.networks)
                    .map(|n| n.into_keys().collect())
                    .unwrap_or_default();
                networks.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                ContainerSummary {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                    created: c.created.unwrap_or(0),
                    labels: c.labels.unwrap_or_default().into_iter().collect(),
                    network_mode: c
                        .host_config
                        .and_then(|h| h.network_mode)
                        .unwrap_or_default(),
                    networks,
                }
            })
            .collect())
    }

    /// The labels of volume `name`; `None` when there is no such volume.
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EngineError> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(Some(v.labels.into_iter().collect())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(source) => Err(EngineError::InspectVolume {
                name: name.to_string(),
                source,
            }),
        }
    }
}
