//! Which engine, as the docker CLI picks it (DESIGN.md §8): `--context NAME`, then
//! `DOCKER_HOST`, then `DOCKER_CONTEXT`, then `currentContext` in `$DOCKER_CONFIG/config.json`
//! (default `~/.docker`), then the local socket. The context "default" is `DOCKER_HOST` or the
//! local socket. Pure: reads the context store and the environment it is given, connects to
//! nothing.
//!
//! The store, as the docker CLI writes it: `$DOCKER_CONFIG/contexts/meta/<sha256 hex of the
//! name>/meta.json` (`Name`, `Endpoints.docker.Host`, `Endpoints.docker.SkipTLSVerify`), and the
//! TLS files under `$DOCKER_CONFIG/contexts/tls/<sha256 hex of the name>/docker/`
//! (`ca.pem`, `cert.pem`, `key.pem`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::DEFAULT_HOST;

/// The context the docker CLI calls "default": `DOCKER_HOST`, or the local socket.
pub const DEFAULT_CONTEXT: &str = "default";

/// Where the choice of engine came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--context NAME`.
    Flag,
    /// `DOCKER_HOST`.
    DockerHost,
    /// `DOCKER_CONTEXT`.
    DockerContextEnv,
    /// `currentContext` in this `config.json` (what `docker context use` writes).
    ConfigCurrent(PathBuf),
    /// Nothing chose: the local socket.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => write!(f, "--context"),
            Source::DockerHost => write!(f, "DOCKER_HOST"),
            Source::DockerContextEnv => write!(f, "DOCKER_CONTEXT"),
            Source::ConfigCurrent(path) => write!(f, "currentContext in {}", path.display()),
            Source::Default => write!(f, "the default (no context, no DOCKER_HOST)"),
        }
    }
}

/// The engine to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub source: Source,
    /// The context's name; `None` when no context was named (DOCKER_HOST or the local socket).
    pub context: Option<String>,
    /// `unix://…`, `tcp://…`, `ssh://…`, as in `DOCKER_HOST`.
    pub host: String,
    /// The context's TLS files (`ca.pem`, `cert.pem`, `key.pem`, any of them), when it has some.
    pub tls_dir: Option<PathBuf>,
    /// The context's `SkipTLSVerify`.
    pub skip_tls_verify: bool,
    /// The engine is the default context's (`DOCKER_HOST` or the local socket): TLS then comes
    /// from `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`, as for the docker CLI, not from a store.
    pub tls_from_env: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(
        "docker context `{name}` (from {origin}) does not exist; the contexts are: {}.\n\
         List them with `docker context ls`; create one with \
         `docker context create {name} --docker host=ssh://user@host` (or host=tcp://host:2376,\
         ca=…,cert=…,key=…)",
        existing.join(", ")
    )]
    Unknown {
        name: String,
        origin: Source,
        /// Sorted, with `default` first.
        existing: Vec<String>,
    },

    #[error(
        "cannot read docker context `{name}` from {}: {reason}; check the file, or recreate the \
         context (`docker context rm {name}`, then `docker context create {name} …`)",
        path.display()
    )]
    Meta {
        name: String,
        path: PathBuf,
        reason: String,
    },

    #[error(
        "docker context `{name}` has no docker endpoint with a host (in {}); recreate it with \
         `docker context create {name} --docker host=…`",
        path.display()
    )]
    NoDockerHost { name: String, path: PathBuf },

    #[error(
        "cannot read the docker CLI's configuration {}: {reason}; fix or remove it, or name the \
         engine with --context, DOCKER_CONTEXT or DOCKER_HOST",
        path.display()
    )]
    Config { path: PathBuf, reason: String },

    #[error(
        "docker context `{name}` (from {origin}) cannot be looked up: neither DOCKER_CONFIG nor \
         HOME is set; set DOCKER_CONFIG to the docker CLI's configuration directory"
    )]
    NoConfigDir { name: String, origin: Source },
}

impl ContextError {
    /// The context named does not exist (bgdeploy's exit 3, like an unreachable engine).
    pub fn is_unknown(&self) -> bool {
        matches!(self, ContextError::Unknown { .. })
    }
}

/// Picks the engine as the docker CLI does. `flag` is `--context`; `env` reads the environment
/// (`DOCKER_HOST`, `DOCKER_CONTEXT`, `DOCKER_CONFIG`, `HOME`); an empty value counts as unset,
/// as for the docker CLI.
pub fn resolve(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, ContextError> {
    let var = |key: &str| env(key).filter(|v| !v.is_empty());
    let config_dir = var("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| Path::new(&home).join(".docker")));
    let docker_host = var("DOCKER_HOST");
    let default_host = || {
        docker_host
            .clone()
            .unwrap_or_else(|| DEFAULT_HOST.to_string())
    };

    let (name, source) = if let Some(name) = flag.filter(|n| !n.is_empty()) {
        (name.to_string(), Source::Flag)
    } else if let Some(host) = &docker_host {
        return Ok(Resolved {
            source: Source::DockerHost,
            context: None,
            host: host.clone(),
            tls_dir: None,
            skip_tls_verify: false,
            tls_from_env: true,
        });
    } else if let Some(name) = var("DOCKER_CONTEXT") {
        (name, Source::DockerContextEnv)
    } else if let Some(current) = current_context(config_dir.as_deref())? {
        current
    } else {
        return Ok(Resolved {
            source: Source::Default,
            context: None,
            host: default_host(),
            tls_dir: None,
            skip_tls_verify: false,
            tls_from_env: true,
        });
    };

    if name == DEFAULT_CONTEXT {
        return Ok(Resolved {
            source,
            context: Some(name),
            host: default_host(),
            tls_dir: None,
            skip_tls_verify: false,
            tls_from_env: true,
        });
    }
    let Some(dir) = config_dir else {
        return Err(ContextError::NoConfigDir {
            name,
            origin: source,
        });
    };
    read_context(&dir, name, source)
}

/// The directory name of a context in the store: the sha256 of its name, in lowercase hex.
pub fn context_dir_name(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

/// `currentContext` of `config.json`, when the file exists and names one. A file that exists
/// but cannot be read is an error: guessing the local engine instead could deploy to the
/// wrong machine.
fn current_context(dir: Option<&Path>) -> Result<Option<(String, Source)>, ContextError> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    let path = dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ContextError::Config {
                path,
                reason: e.to_string(),
            });
        }
    };
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| ContextError::Config {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(config
        .current_context
        .filter(|name| !name.is_empty())
        .map(|name| (name, Source::ConfigCurrent(path))))
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Endpoints", default)]
    endpoints: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct DockerEndpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

fn read_context(dir: &Path, name: String, source: Source) -> Result<Resolved, ContextError> {
    let hash = context_dir_name(&name);
    let path = dir
        .join("contexts")
        .join("meta")
        .join(&hash)
        .join("meta.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ContextError::Unknown {
                existing: existing_contexts(dir),
                name,
                origin: source,
            });
        }
        Err(e) => {
            return Err(ContextError::Meta {
                name,
                path,
                reason: e.to_string(),
            });
        }
    };
    let meta: Meta = serde_json::from_str(&text).map_err(|e| ContextError::Meta {
        name: name.clone(),
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let endpoint = match meta.endpoints.get("docker") {
        Some(value) => DockerEndpoint::deserialize(value).map_err(|e| ContextError::Meta {
            name: name.clone(),
            path: path.clone(),
            reason: format!("Endpoints.docker: {e}"),
        })?,
        None => return Err(ContextError::NoDockerHost { name, path }),
    };
    let Some(host) = endpoint.host.filter(|h| !h.is_empty()) else {
        return Err(ContextError::NoDockerHost { name, path });
    };
    let tls = dir.join("contexts").join("tls").join(&hash).join("docker");
    let has_tls = ["ca.pem", "cert.pem", "key.pem"]
        .iter()
        .any(|file| tls.join(file).is_file());
    Ok(Resolved {
        source,
        context: Some(name),
        host,
        tls_dir: has_tls.then_some(tls),
        skip_tls_verify: endpoint.skip_tls_verify,
        tls_from_env: false,
    })
}

/// The names of the contexts in the store (their meta.json's `Name`), `default` first, then
/// sorted; unreadable entries are left out (this only feeds an error message).
fn existing_contexts(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("contexts").join("meta"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("meta.json")).ok())
        .filter_map(|text| serde_json::from_str::<Meta>(&text).ok())
        .map(|meta| meta.name)
        .filter(|name| !name.is_empty() && name != DEFAULT_CONTEXT)
        .collect();
    names.sort();
    names.dedup();
    names.insert(0, DEFAULT_CONTEXT.to_string());
    names
}

#[cfg(test)]
mod tests;
