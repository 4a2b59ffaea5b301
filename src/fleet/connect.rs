//! Reaching every host of a fleet: each `hosts:` value becomes the `DockerHost` the single-host
//! path connects to (a URL as in `DOCKER_HOST`, with `cert_path` for TLS, or a docker
//! context), and all are connected at once, so a fleet is as slow to reach as its slowest host.

use crate::engine::{self, DockerHost, Engine, EngineError};
use crate::error::Error;
use crate::spec::{Deploy, HostEngine};

/// One host of the fleet, connected.
pub struct Host {
    /// The host's name in `hosts:`.
    pub name: String,
    pub engine: Engine,
}

/// Where `engine` is: its URL (TLS when `cert_path` is given), or its context from the store.
pub fn docker_host(engine: &HostEngine) -> Result<DockerHost, EngineError> {
    match engine {
        HostEngine::Url { url, cert_path } => DockerHost::parse(url, cert_path.clone()),
        HostEngine::Context { name } => DockerHost::resolve(Some(name)),
    }
}

/// Connects to `names` (hosts of `deploy`, in the order given) concurrently. Any host that
/// cannot be reached fails the whole: the error names the first such host in that order (the
/// others are listed in it), with the engine error's exit code (3).
pub async fn connect_all(deploy: &Deploy, names: &[String]) -> Result<Vec<Host>, Error> {
    let attempts = names.iter().map(|name| async move {
        let result = match deploy.hosts.get(name) {
            Some(engine) => match docker_host(engine) {
                Ok(host) => engine::connect_to(&host).await,
                Err(e) => Err(e),
            },
            None => Err(EngineError::UnsupportedHost {
                host: name.clone(),
                reason: "not a host of this stage".to_string(),
            }),
        };
        (name.clone(), result)
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut hosts = Vec::new();
    let mut failed: Vec<(String, EngineError)> = Vec::new();
    for (name, result) in results {
        match result {
            Ok(engine) => hosts.push(Host { name, engine }),
            Err(e) => failed.push((name, e)),
        }
    }
    let mut failed = failed.into_iter();
    match failed.next() {
        None => Ok(hosts),
        Some((host, first)) => {
            let others: Vec<String> = failed.map(|(name, _)| name).collect();
            let host = if others.is_empty() {
                host
            } else {
                format!("{host} (also unreachable: {})", others.join(", "))
            };
            Err(Error::Host {
                host,
                source: Box::new(Error::Engine(first)),
            })
        }
    }
}
