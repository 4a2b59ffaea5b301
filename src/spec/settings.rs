//! The container settings of a release (DESIGN.md §11), validated: Compose's keys and
//! meanings. The engine side turns them into a create request in one place
//! (`engine::settings`), for release containers and one-off containers alike.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Everything a release container gets beyond image, command, env and networks. The
/// default is what a spec without any of these keys means.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ContainerSettings {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Mount>,
    /// Container path → tmpfs options (`size=64m,mode=1777`), empty for the defaults.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
    /// The user's labels; `bgdeploy.*` is refused by the validator (reserved).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `host:ip`, as the engine takes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// Upper case with the `CAP_` prefix (`ALL` stays `ALL`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    pub read_only: bool,
    pub init: bool,
    /// `SIGTERM`-style name; `None`: the image's (normally SIGTERM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    pub restart: Restart,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
}

impl ContainerSettings {
    /// The named volumes mounted, in spec order.
    pub fn named_volumes(&self) -> impl Iterator<Item = &str> {
        self.volumes.iter().filter_map(|m| match &m.source {
            MountSource::Volume(name) => Some(name.as_str()),
            MountSource::Bind(_) => None,
        })
    }

    /// The host paths bind-mounted, in spec order.
    pub fn bind_paths(&self) -> impl Iterator<Item = &str> {
        self.volumes.iter().filter_map(|m| match &m.source {
            MountSource::Bind(path) => Some(path.as_str()),
            MountSource::Volume(_) => None,
        })
    }
}

/// One entry of `volumes`: `uploads:/app/uploads` or `/etc/shop.yml:/app/shop.yml:ro`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: MountSource,
    /// An absolute path in the container.
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A named volume; the engine creates it on first use, and it outlives every release.
    Volume(String),
    /// An absolute path on the engine's host.
    Bind(String),
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            MountSource::Volume(name) | MountSource::Bind(name) => name,
        };
        write!(f, "{source}:{}", self.target)?;
        if self.read_only {
            f.write_str(":ro")?;
        }
        Ok(())
    }
}

/// Serialized as the short form the user writes (`uploads:/app/uploads:ro`).
impl Serialize for Mount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A size in bytes. Shown with the largest unit that divides it (`512m`); JSON has the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")];
        for (size, unit) in UNITS {
            if self.0 >= size && self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}b", self.0)
    }
}

/// A CPU quota in billionths of a CPU, as the engine's `NanoCpus` (`1.5` = 1_500_000_000).
/// JSON shows the number of CPUs (`1.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpus(pub i64);

impl Serialize for Cpus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 1e9)
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1_000_000_000;
        let frac = self.0 % 1_000_000_000;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:09}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// `soft`/`hard` limits; -1 is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logging {
    pub driver: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// The engine's restart policy. The default keeps a release running across engine restarts
/// and crashes, and lets `bgdeploy` stop it for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    No,
    Always,
    #[default]
    UnlessStopped,
    /// `on-failure[:N]`: `None` retries without limit.
    OnFailure(Option<u32>),
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Restart::No => f.write_str("no"),
            Restart::Always => f.write_str("always"),
            Restart::UnlessStopped => f.write_str("unless-stopped"),
            Restart::OnFailure(None) => f.write_str("on-failure"),
            Restart::OnFailure(Some(n)) => write!(f, "on-failure:{n}"),
        }
    }
}

impl Serialize for Restart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `/dev/fuse`, `/dev/sda:/dev/xvda:rwm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub host: String,
    pub container: String,
    /// Some of `r`, `w`, `m`.
    pub permissions: String,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.host, self.container, self.permissions)
    }
}

impl Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cpus_show_as_written() {
        assert_eq!(Bytes(512 << 20).to_string(), "512m");
        assert_eq!(Bytes(1 << 30).to_string(), "1g");
        assert_eq!(Bytes(1536 << 20).to_string(), "1536m");
        assert_eq!(Bytes(1000).to_string(), "1000b");
        assert_eq!(Cpus(1_500_000_000).to_string(), "1.5");
        assert_eq!(Cpus(2_000_000_000).to_string(), "2");
        assert_eq!(Cpus(10_000_000).to_string(), "0.01");
        assert_eq!(Restart::OnFailure(Some(3)).to_string(), "on-failure:3");
    }
}
