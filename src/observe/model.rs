//! What bgdeploy reads from the engine about one app/stage: the input of the planner,
//! next to the validated spec. Plain data, so planning and rendering can be unit-tested
//! from fixed states without an engine.

use std::collections::BTreeMap;

use serde::Serialize;

/// The engine's negotiated API version. Route selection rules depend on it:
/// from 1.48 (Engine 28) endpoints carry a `GwPriority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    pub const GW_PRIORITY: ApiVersion = ApiVersion {
        major: 1,
        minor: 48,
    };

    pub fn has_gw_priority(self) -> bool {
        self >= Self::GW_PRIORITY
    }

    /// Parses "1.41"; `None` for anything else.
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.trim().split_once('.')?;
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

/// Serialized as the engine writes it, `"1.41"`.
impl Serialize for ApiVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineInfo {
    /// Where bgdeploy connected (the DOCKER_HOST value or the default socket).
    pub host: String,
    /// The engine's own version string, e.g. "20.10.24+dfsg1".
    pub version: String,
    pub api: ApiVersion,
    /// True when bgdeploy shares the engine's network namespace (its default bridge's
    /// interface and gateway are here), so containers' addresses are reachable from here;
    /// false when probes run from the engine's side (`engine::probe`).
    pub local: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub internal: bool,
    /// `EnableIPv6`: its endpoints get an IPv6 address and gateway (dual-stack).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ipv6: bool,
    /// Carries bgdeploy's labels (`bgdeploy.managed=true`).
    pub managed: bool,
    pub labels: BTreeMap<String, String>,
}

/// A network looked up by exact name. The engine accepts duplicate names, after which
/// every call that names the network fails as "ambiguous": that case is kept explicit.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NetworkLookup {
    Missing {
        name: String,
    },
    Found(NetworkInfo),
    Ambiguous {
        name: String,
        matches: Vec<NetworkInfo>,
    },
}

impl NetworkLookup {
    pub fn name(&self) -> &str {
        match self {
            NetworkLookup::Missing { name } | NetworkLookup::Ambiguous { name, .. } => name,
            NetworkLookup::Found(n) => &n.name,
        }
    }

    pub fn found(&self) -> Option<&NetworkInfo> {
        match self {
            NetworkLookup::Found(n) => Some(n),
            _ => None,
        }
    }
}

/// One network endpoint of a container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    pub network: String,
    pub network_id: String,
    pub internal: bool,
    /// The network has IPv6 (`EnableIPv6`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ipv6: bool,
    /// `EndpointSettings.GwPriority`; 0 when the engine does not report it (API < 1.48).
    pub gw_priority: i64,
    pub ip: Option<String>,
    pub gateway: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Running and attached to `FRONT_<app>_<stage>`: receiving traffic.
    Live,
    /// Running on the back side only (healthy release waiting for `cutover`).
    Standby,
    /// Stopped, kept for `rollback`.
    Retired,
    /// Created but never started: left by a deploy that was killed; removed by the next one.
    Leftover,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Live => "live",
            Role::Standby => "standby",
            Role::Retired => "retired",
            Role::Leftover => "leftover",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// The engine's state: "running", "exited", "created", ...
    pub state: String,
    /// Health as the engine reports it, when the image has a HEALTHCHECK.
    pub health: Option<String>,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    pub role: Role,
    pub attachments: Vec<Attachment>,
    /// The limits it runs with (`memory`, `cpus`, ... of the spec when it was created).
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
}

/// A container's resource limits as the engine reports them; `None`: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<crate::spec::settings::Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<crate::spec::settings::Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<crate::spec::settings::Cpus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(m) = self.memory {
            parts.push(format!("memory {m}"));
        }
        if let Some(m) = self.memory_reservation {
            parts.push(format!("memory_reservation {m}"));
        }
        if let Some(c) = self.cpus {
            parts.push(format!("cpus {c}"));
        }
        if let Some(p) = self.pids_limit {
            parts.push(format!("pids_limit {p}"));
        }
        if parts.is_empty() {
            f.write_str("no limits")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyInfo {
    pub id: String,
    pub name: String,
    pub running: bool,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProxyLookup {
    /// The proxy driver has no container (`command`, `none`).
    NotNeeded,
    Missing {
        name: String,
    },
    Found(ProxyInfo),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockInfo {
    /// user@host, pid and CI job when known.
    pub owner: String,
    /// Seconds since the epoch.
    pub since: i64,
}

/// Everything the planner needs to know about one app/stage on one engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub engine: EngineInfo,
    pub back: NetworkLookup,
    pub front: NetworkLookup,
    /// The spec's extra networks, in spec order.
    pub extras: Vec<NetworkLookup>,
    /// The app/stage's containers (bgdeploy-labelled), newest first.
    pub containers: Vec<ContainerInfo>,
    pub proxy: ProxyLookup,
    /// Whether the image to deploy is already present on the engine.
    pub image_present: bool,
    pub lock: Option<LockInfo>,
    /// The spec's named volumes, in spec order, and whether each exists yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeLookup>,
    /// Bind-mount host paths missing on this machine (checked only on a local engine).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_binds: Vec<String>,
}

/// A named volume of the spec: one that does not exist yet is created by the engine when
/// the release is created, and then outlives every release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeLookup {
    pub name: String,
    pub exists: bool,
}

impl Observed {
    pub fn live(&self) -> impl Iterator<Item = &ContainerInfo> {
        self.containers.iter().filter(|c| c.role == Role::Live)
    }

    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &ContainerInfo> {
        self.containers.iter().filter(move |c| c.role == role)
    }

    /// The containers a cutover reads through probes on a remote engine (the route check
    /// reads the proxy, the drain the live release): worth starting a probe next to each
    /// while the new release starts (`Engine::warm_probes`).
    pub fn cutover_probe_targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = self.live().map(|c| c.id.clone()).collect();
        if let ProxyLookup::Found(proxy) = &self.proxy {
            targets.push(proxy.id.clone());
        }
        targets
    }
}
