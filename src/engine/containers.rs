//! Containers: listing an app/stage's by label, and inspecting one by name.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::models::{ContainerInspectResponse, EndpointSettings};
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::error::is_not_found;
use super::{Engine, EngineError};
use crate::names;
use crate::observe::Resources;
use crate::spec::settings::{Bytes, Cpus};

/// A container as the list call reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEntry {
    pub id: String,
    pub name: String,
    /// "running", "exited", "created", ...
    pub state: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub labels: BTreeMap<String, String>,
}

/// A container as `inspect` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerDetails {
    pub id: String,
    pub name: String,
    /// The image as the container was created with it (e.g. "shop:1.4.2").
    pub image: String,
    /// The image's ID (sha256:...).
    pub image_id: String,
    /// "running", "exited", "created", ...
    pub state: String,
    pub running: bool,
    /// The main process on the engine's host, while running.
    pub pid: Option<u32>,
    /// "starting", "healthy", "unhealthy", when the image has a HEALTHCHECK.
    pub health: Option<String>,
    /// Nanosecond precision: containers created within the same second still order.
    pub created: Option<SystemTime>,
    pub labels: BTreeMap<String, String>,
    /// One per network, in byte-wise network name order.
    pub endpoints: Vec<EndpointDetails>,
    /// The limits it was created with.
    pub resources: Resources,
}

impl ContainerDetails {
    /// Creation time in seconds since the epoch; 0 when the engine did not say.
    pub fn created_unix(&self) -> i64 {
        self.created
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointDetails {
    pub network: String,
    pub network_id: String,
    /// 0 below API 1.48, where the engine neither reports nor honours it.
    pub gw_priority: i64,
    pub ip: Option<String>,
    pub gateway: Option<String>,
}

impl Engine {
    /// Every container (any state) labelled with this app and stage, lock included.
    pub async fn list_app_containers(
        &self,
        app: &str,
        stage: &str,
    ) -> Result<Vec<ContainerEntry>, EngineError> {
        let labels = vec![
            format!("{}={app}", names::LABEL_APP),
            format!("{}={stage}", names::LABEL_STAGE),
        ];
        let filters = HashMap::from([("label", labels)]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|source| EngineError::ListContainers {
                app: app.to_string(),
                stage: stage.to_string(),
                source,
            })?;
        Ok(listed
            .into_iter()
            .map(|c| ContainerEntry {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                created: c.created.unwrap_or(0),
                labels: c.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    /// One container by name or ID; `None` when there is no such container.
    pub async fn inspect_container(
        &self,
        name_or_id: &str,
    ) -> Result<Option<ContainerDetails>, EngineError> {
        match self.docker.inspect_container(name_or_id, None).await {
            Ok(c) => Ok(Some(details(c))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(source) => Err(EngineError::InspectContainer {
                name: name_or_id.to_string(),
                source,
            }),
        }
    }
}

fn details(c: ContainerInspectResponse) -> ContainerDetails {
    let state = c.state.unwrap_or_default();
    let config = c.config.unwrap_or_default();
    let mut endpoints: Vec<EndpointDetails> = c
        .network_settings
        .and_then(|s| s.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(network, e)| endpoint(network, e))
        .collect();
    endpoints.sort_by(|a, b| a.network.as_bytes().cmp(b.network.as_bytes()));
    let running = state.running.unwrap_or(false);
    ContainerDetails {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.image.unwrap_or_default(),
        image_id: c.image.unwrap_or_default(),
        state: state.status.map(|s| s.to_string()).unwrap_or_default(),
        running,
        pid: state
            .pid
            .and_then(|p| u32::try_from(p).ok())
            .filter(|p| running && *p > 0),
        health: state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none"),
        created: c.created.and_then(|t| humantime::parse_rfc3339(&t).ok()),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        endpoints,
        resources: resources(c.host_config.as_ref()),
    }
}

/// The limits of a HostConfig; the engine reports "none" as 0 (or -1 for pids).
fn resources(host: Option<&bollard::models::HostConfig>) -> Resources {
    let Some(host) = host else {
        return Resources::default();
    };
    let positive = |v: Option<i64>| v.filter(|v| *v > 0);
    let bytes = |v: Option<i64>| positive(v).and_then(|v| u64::try_from(v).ok()).map(Bytes);
    Resources {
        memory: bytes(host.memory),
        memory_reservation: bytes(host.memory_reservation),
        cpus: positive(host.nano_cpus).map(Cpus),
        pids_limit: positive(host.pids_limit),
    }
}

fn endpoint(network: String, e: EndpointSettings) -> EndpointDetails {
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    EndpointDetails {
        network,
        network_id: e.network_id.unwrap_or_default(),
        gw_priority: e.gw_priority.unwrap_or(0),
        ip: non_empty(e.ip_address),
        gateway: non_empty(e.gateway),
    }
}
