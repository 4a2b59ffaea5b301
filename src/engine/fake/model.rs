//! The in-memory engine's world: networks, containers, their attachments and files, volumes,
//! images. Plain data with the engine's rules that a deploy relies on (a name taken is 409,
//! addresses per network, a volume's files outlive the container that mounts it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use crate::engine::{ContainerDetails, ContainerEntry, EndpointDetails, NetworkDetails, Subnet};
use crate::observe::NetworkInfo;

#[derive(Debug, Clone)]
pub struct Net {
    pub id: String,
    pub name: String,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// The second octet of its 10.N.0.0/24.
    pub n: u8,
    pub next_host: u8,
}

impl Net {
    pub fn gateway(&self) -> String {
        format!("10.{}.0.1", self.n)
    }

    pub fn info(&self) -> NetworkInfo {
        NetworkInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            driver: "bridge".into(),
            internal: self.internal,
            ipv6: false,
            managed: self
                .labels
                .get(crate::names::LABEL_MANAGED)
                .map(String::as_str)
                == Some("true"),
            labels: self.labels.clone(),
        }
    }

    pub fn details(&self) -> NetworkDetails {
        NetworkDetails {
            info: self.info(),
            subnets: vec![Subnet {
                subnet: format!("10.{}.0.0/24", self.n),
                gateway: Some(self.gateway()),
            }],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ep {
    pub network: String,
    pub ip: String,
    pub gw_priority: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Ctr {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub env: Vec<(String, String)>,
    /// "created", "running" or "exited".
    pub state: String,
    /// Creation order, as the engine's nanosecond timestamps order containers.
    pub created: u64,
    pub pid: u32,
    pub endpoints: Vec<Ep>,
    /// `volume:/path` mounts.
    pub binds: Vec<String>,
    /// Files written into the container itself (not into a mounted volume).
    pub files: BTreeMap<String, Vec<u8>>,
    /// Set on a proxy container: what its nginx runs.
    pub proxy: Option<ProxyModel>,
}

/// An nginx in a proxy container: the configuration its workers run, and their generation
/// (a reload that applies starts new workers).
#[derive(Debug, Clone, Default)]
pub struct ProxyModel {
    /// `nginx` or `nginx-proxy` (whose docker-gen regenerates on container events).
    pub kind: String,
    pub loaded: String,
    pub generation: u32,
}

impl Ctr {
    pub fn running(&self) -> bool {
        self.state == "running"
    }

    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn ip_on(&self, network: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| e.network == network)
            .map(|e| e.ip.as_str())
    }

    /// The volume and the path inside it that `path` of this container lands in, when a
    /// volume is mounted there.
    pub fn volume_path(&self, path: &str) -> Option<(String, String)> {
        self.binds.iter().find_map(|b| {
            let (volume, target) = b.split_once(':')?;
            let target = target.split(':').next()?;
            let rest = path.strip_prefix(target)?.strip_prefix('/')?;
            Some((volume.to_string(), rest.to_string()))
        })
    }

    pub fn entry(&self) -> ContainerEntry {
        ContainerEntry {
            id: self.id.clone(),
            name: self.name.clone(),
            state: self.state.clone(),
            created: i64::try_from(self.created).unwrap_or(0),
            labels: self.labels.clone(),
        }
    }

    pub fn details(&self, nets: &BTreeMap<String, Net>) -> ContainerDetails {
        let mut endpoints: Vec<EndpointDetails> = self
            .endpoints
            .iter()
            .map(|e| EndpointDetails {
                network: e.network.clone(),
                network_id: nets
                    .get(&e.network)
                    .map(|n| n.id.clone())
                    .unwrap_or_default(),
                gw_priority: e.gw_priority,
                ip: Some(e.ip.clone()),
                gateway: nets.get(&e.network).map(Net::gateway),
            })
            .collect();
        endpoints.sort_by(|a, b| a.network.as_bytes().cmp(b.network.as_bytes()));
        ContainerDetails {
            id: self.id.clone(),
            name: self.name.clone(),
            image: self.image.clone(),
            image_id: format!("sha256:{}", self.image),
            state: self.state.clone(),
            running: self.running(),
            pid: self.running().then_some(self.pid),
            health: None,
            created: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(self.created)),
            labels: self.labels.clone(),
            endpoints,
            resources: Default::default(),
        }
    }
}

/// Everything the engine holds.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub networks: BTreeMap<String, Net>,
    pub containers: BTreeMap<String, Ctr>,
    pub volumes: BTreeMap<String, BTreeMap<String, String>>,
    /// (volume, path inside it) → content.
    pub volume_files: BTreeMap<(String, String), Vec<u8>>,
    pub images: BTreeSet<String>,
    pub seq: u64,
}

impl World {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// By name, by ID, or by a prefix of the ID of at least 4 characters, as the engine.
    pub fn find(&self, name_or_id: &str) -> Option<&Ctr> {
        self.containers.get(name_or_id).or_else(|| {
            self.containers.values().find(|c| {
                c.id == name_or_id || (name_or_id.len() >= 4 && c.id.starts_with(name_or_id))
            })
        })
    }

    pub fn find_mut(&mut self, name_or_id: &str) -> Option<&mut Ctr> {
        let name = self.find(name_or_id)?.name.clone();
        self.containers.get_mut(&name)
    }

    pub fn add_network(
        &mut self,
        name: &str,
        internal: bool,
        labels: BTreeMap<String, String>,
    ) -> String {
        let n = u8::try_from(self.networks.len() + 1).unwrap_or(u8::MAX);
        let id = format!("net{:04}{}", self.next_seq(), "0".repeat(56));
        self.networks.insert(
            name.to_string(),
            Net {
                id: id.clone(),
                name: name.to_string(),
                internal,
                labels,
                n,
                next_host: 2,
            },
        );
        id
    }

    /// Attaches `container` to `network` with the next free address; false when either is
    /// missing.
    pub fn attach(&mut self, container: &str, network: &str, gw_priority: i64) -> bool {
        let Some(net) = self.networks.get_mut(network) else {
            return false;
        };
        let ip = format!("10.{}.0.{}", net.n, net.next_host);
        net.next_host = net.next_host.saturating_add(1);
        let Some(c) = self.find_mut(container) else {
            return false;
        };
        if c.ip_on(network).is_none() {
            c.endpoints.push(Ep {
                network: network.to_string(),
                ip,
                gw_priority,
            });
        }
        true
    }

    pub fn network_by(&self, id_or_name: &str) -> Option<&Net> {
        self.networks
            .get(id_or_name)
            .or_else(|| self.networks.values().find(|n| n.id == id_or_name))
    }
}
