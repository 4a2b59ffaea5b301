//! Errors from talking to the engine: one variant per operation, each naming the object, so
//! that "no such network" and "engine gone" read differently and map to different exit codes.

use bollard::errors::Error as Bollard;

/// The daemon's message when its address pools are used up (about 30 bridge networks with the
/// default `default-address-pools`).
const POOL_EXHAUSTED: &str = "could not find an available, non-overlapping IPv4 address pool";
/// Engine 20.10 has no IPv6 pool: an IPv6 network needs its subnet given.
const NO_IPV6_POOL: &str = "non-overlapping IPv6 address pool";
/// The daemon's message when a network name matches several networks.
const AMBIGUOUS: &str = "is ambiguous";

const POOL_EXHAUSTED_HELP: &str = "the engine has no free address pool left for a new network: \
every user-defined bridge network takes a subnet from the daemon's `default-address-pools` \
(about 30 networks with the defaults, and bgdeploy needs two per app/stage). Remove networks \
nobody uses (`docker network ls`, `docker network prune`), or give the daemon more or smaller \
pools in /etc/docker/daemon.json, e.g. \
\"default-address-pools\": [{\"base\": \"10.200.0.0/16\", \"size\": 24}], and restart it";

const NO_IPV6_POOL_HELP: &str = "the engine has no IPv6 address pool to take the network's \
IPv6 subnet from (Engine 20.10 has none; Engine 27+ has a default one). Give the subnets in the \
spec, e.g. `ipv6: {back: fd00:1::/64, front: fd00:2::/64}` (unique per app/stage), or give the \
daemon IPv6 `default-address-pools` in /etc/docker/daemon.json and restart it";

const AMBIGUOUS_HELP: &str = "several networks carry this name (the engine accepts duplicate \
names, and from then on refuses every call that names them). List them with \
`docker network ls --no-trunc --filter name=<name>` and remove the extra one by ID with \
`docker network rm <id>`";

const PERMISSION_HELP: &str = "the engine's socket is not accessible to this user: run as a \
member of the `docker` group (or root), or point DOCKER_HOST at an engine you may use";

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "cannot reach the Docker engine at {host}: {reason}\n\
         bgdeploy finds the engine like the docker CLI does: --context NAME, else \
         DOCKER_HOST (DOCKER_HOST=unix:///path/docker.sock, DOCKER_HOST=tcp://host:2376 with \
         DOCKER_TLS_VERIFY=1 and the certificates in DOCKER_CERT_PATH, default ~/.docker, or \
         DOCKER_HOST=ssh://user@host[:port]), else DOCKER_CONTEXT or the current \
         `docker context`, else the local socket. Check that `docker info` works with the \
         same settings."
    )]
    Unreachable { host: String, reason: String },

    #[error("DOCKER_HOST={host} is not supported: {reason}")]
    UnsupportedHost { host: String, reason: String },

    /// The docker context named (by --context, DOCKER_CONTEXT or `docker context use`)
    /// cannot be used. Boxed: it carries the list of contexts.
    #[error(transparent)]
    Context(Box<super::context::ContextError>),

    #[error("the engine at {host} answered, but its version could not be read")]
    Version { host: String, source: Bollard },

    #[error("cannot list the engine's networks")]
    ListNetworks { source: Bollard },

    #[error("cannot look up network `{name}`")]
    FindNetwork { name: String, source: Bollard },

    #[error("cannot inspect network `{network}`")]
    InspectNetwork { network: String, source: Bollard },

    #[error("cannot list the containers of {app}/{stage}")]
    ListContainers {
        app: String,
        stage: String,
        source: Bollard,
    },

    #[error("cannot inspect container `{name}`")]
    InspectContainer { name: String, source: Bollard },

    #[error("cannot list the engine's containers")]
    ListAllContainers { source: Bollard },

    #[error("cannot inspect volume `{name}`")]
    InspectVolume { name: String, source: Bollard },

    #[error("cannot check whether image `{image}` is present on the engine")]
    InspectImage { image: String, source: Bollard },

    #[error("cannot run `{command}` in container `{container}`")]
    Exec {
        container: String,
        command: String,
        source: Bollard,
    },

    #[error("cannot read the logs of container `{container}`")]
    Logs { container: String, source: Bollard },

    #[error("cannot follow the engine's events for container `{container}`")]
    Events { container: String, source: Bollard },

    #[error("cannot create network `{name}`")]
    CreateNetwork { name: String, source: Bollard },

    #[error("cannot remove network `{network}`")]
    RemoveNetwork { network: String, source: Bollard },

    #[error("cannot connect container `{container}` to network `{network}`")]
    ConnectNetwork {
        container: String,
        network: String,
        source: Bollard,
    },

    #[error("cannot disconnect container `{container}` from network `{network}`")]
    DisconnectNetwork {
        container: String,
        network: String,
        source: Bollard,
    },

    /// The engine's message has the container's env values replaced by `<redacted>`.
    #[error("cannot create container `{name}` from image `{image}`")]
    CreateContainer {
        name: String,
        image: String,
        source: Bollard,
    },

    /// 409 Conflict on create: the name is the lock's test-and-set, so this is its own case.
    #[error("the container name `{name}` is already in use")]
    NameInUse { name: String },

    #[error("cannot start container `{container}`")]
    StartContainer { container: String, source: Bollard },

    #[error("cannot stop container `{container}`")]
    StopContainer { container: String, source: Bollard },

    #[error("cannot remove container `{container}`")]
    RemoveContainer { container: String, source: Bollard },

    #[error(
        "cannot pull image `{image}`: check its name and tag, and that the engine can reach \
         its registry (and is logged in to it); where there is no registry, build the image \
         on the engine or `docker load` it there"
    )]
    PullImage { image: String, source: Bollard },

    #[error("cannot build image `{image}`")]
    BuildImage { image: String, source: Bollard },

    #[error("cannot create volume `{name}`")]
    CreateVolume { name: String, source: Bollard },

    #[error("cannot remove volume `{name}`")]
    RemoveVolume { name: String, source: Bollard },

    #[error("cannot write `{path}` into container `{container}`")]
    PutFile {
        container: String,
        path: String,
        source: Bollard,
    },

    #[error("cannot read `{path}` from container `{container}`")]
    GetFile {
        container: String,
        path: String,
        source: Bollard,
    },

    /// The tar archive going to or coming from the archive API could not be made or read.
    #[error("cannot transfer `{path}` in container `{container}`: {reason}")]
    Archive {
        container: String,
        path: String,
        reason: String,
    },

    #[error("cannot send SIG{signal} to container `{container}`")]
    SignalContainer {
        container: String,
        signal: String,
        source: Bollard,
    },

    #[error("cannot list the processes of container `{container}`")]
    ListProcesses { container: String, source: Bollard },

    /// No probe could be started next to a container (see `engine::probe`).
    #[error(
        "cannot start bgdeploy's probe next to container `{container}` on the engine: {reason}"
    )]
    Probe { container: String, reason: String },

    #[error("cannot wait for container `{container}` to exit")]
    WaitContainer { container: String, source: Bollard },

    #[error("cannot attach to container `{container}`")]
    Attach { container: String, source: Bollard },
}

impl EngineError {
    /// True when the engine could not be talked to at all: at connect time, or because the
    /// connection failed during an operation (the engine went away). Nothing was changed by
    /// the failing call itself; whether earlier calls changed something is the caller's to know.
    pub fn is_unreachable(&self) -> bool {
        match self {
            EngineError::Unreachable { .. }
            | EngineError::UnsupportedHost { .. }
            | EngineError::Context(_)
            | EngineError::Version { .. } => true,
            _ => self.bollard().is_some_and(is_transport),
        }
    }

    /// What an operator can do about a known engine failure, to print after the error chain.
    pub fn explain(&self) -> Option<&'static str> {
        if let EngineError::Unreachable { reason, .. } = self {
            return reason
                .contains("ermission denied")
                .then_some(PERMISSION_HELP);
        }
        let message = match self.bollard()? {
            Bollard::DockerResponseServerError { message, .. } => message,
            _ => return None,
        };
        if message.contains(POOL_EXHAUSTED) {
            Some(POOL_EXHAUSTED_HELP)
        } else if message.contains(NO_IPV6_POOL) {
            Some(NO_IPV6_POOL_HELP)
        } else if message.contains(AMBIGUOUS) {
            Some(AMBIGUOUS_HELP)
        } else {
            None
        }
    }

    fn bollard(&self) -> Option<&Bollard> {
        match self {
            EngineError::Unreachable { .. }
            | EngineError::UnsupportedHost { .. }
            | EngineError::Context(_) => None,
            EngineError::Version { source, .. }
            | EngineError::ListNetworks { source }
            | EngineError::FindNetwork { source, .. }
            | EngineError::InspectNetwork { source, .. }
            | EngineError::ListContainers { source, .. }
            | EngineError::InspectContainer { source, .. }
            | EngineError::ListAllContainers { source }
            | EngineError::InspectVolume { source, .. }
            | EngineError::InspectImage { source, .. }
            | EngineError::Exec { source, .. }
            | EngineError::Logs { source, .. }
            | EngineError::Events { source, .. }
            | EngineError::CreateNetwork { source, .. }
            | EngineError::RemoveNetwork { source, .. }
            | EngineError::ConnectNetwork { source, .. }
            | EngineError::DisconnectNetwork { source, .. }
            | EngineError::CreateContainer { source, .. }
            | EngineError::StartContainer { source, .. }
            | EngineError::StopContainer { source, .. }
            | EngineError::RemoveContainer { source, .. }
            | EngineError::PullImage { source, .. }
            | EngineError::BuildImage { source, .. }
            | EngineError::CreateVolume { source, .. }
            | EngineError::RemoveVolume { source, .. }
            | EngineError::PutFile { source, .. }
            | EngineError::GetFile { source, .. }
            | EngineError::SignalContainer { source, .. }
            | EngineError::ListProcesses { source, .. }
            | EngineError::WaitContainer { source, .. }
            | EngineError::Attach { source, .. } => Some(source),
            EngineError::NameInUse { .. }
            | EngineError::Archive { .. }
            | EngineError::Probe { .. } => None,
        }
    }
}

/// The request never got an answer from the engine (as opposed to an answer that says no).
fn is_transport(e: &Bollard) -> bool {
    matches!(
        e,
        Bollard::HyperLegacyError { .. }
            | Bollard::HyperResponseError { .. }
            | Bollard::IOError { .. }
            | Bollard::RequestTimeoutError
            | Bollard::SocketNotFoundError(_)
    )
}

/// The engine answered 404 for the object named in the request.
pub(crate) fn is_not_found(e: &Bollard) -> bool {
    matches!(
        e,
        Bollard::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The `source()` chain in one line, without the wrappers' own words ("Error in the hyper
/// legacy client", "client error (Connect)"), which say nothing without the OS error underneath.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    const WRAPPERS: [&str; 2] = ["Error in the hyper legacy client", "client error ("];
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    let useful: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !WRAPPERS.iter().any(|w| p.starts_with(w)))
        .collect();
    if useful.is_empty() {
        parts.join(": ")
    } else {
        useful.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> Bollard {
        Bollard::DockerResponseServerError {
            status_code,
            message: message.to_string(),
        }
    }

    #[test]
    fn explains_address_pool_exhaustion() {
        let e = EngineError::InspectNetwork {
            network: "FRONT_x".into(),
            source: server(
                500,
                "could not find an available, non-overlapping IPv4 address pool among the \
                 defaults to assign to the network",
            ),
        };
        let help = e.explain().expect("an explanation");
        assert!(help.contains("default-address-pools"), "{help}");
        assert!(!e.is_unreachable());
    }

    #[test]
    fn explains_a_missing_ipv6_pool() {
        let e = EngineError::CreateNetwork {
            name: "BACK_x".into(),
            source: server(
                500,
                "could not find an available, non-overlapping IPv6 address pool among the \
                 defaults to assign to the network",
            ),
        };
        let help = e.explain().expect("an explanation");
        assert!(help.contains("ipv6: {back:"), "{help}");
    }

    #[test]
    fn explains_ambiguous_names() {
        let e = EngineError::InspectNetwork {
            network: "FRONT_x".into(),
            source: server(
                400,
                "network FRONT_x is ambiguous (2 matches found on name)",
            ),
        };
        assert!(
            e.explain()
                .expect("an explanation")
                .contains("docker network rm")
        );
        let other = EngineError::InspectImage {
            image: "x".into(),
            source: server(500, "boom"),
        };
        assert_eq!(other.explain(), None);
    }

    #[test]
    fn transport_failures_count_as_unreachable() {
        let e = EngineError::ListNetworks {
            source: Bollard::RequestTimeoutError,
        };
        assert!(e.is_unreachable());
        let e = EngineError::ListNetworks {
            source: server(500, "boom"),
        };
        assert!(!e.is_unreachable());
    }

    #[test]
    fn explains_a_socket_this_user_may_not_open() {
        let e = EngineError::Unreachable {
            host: "unix:///var/run/docker.sock".into(),
            reason: "Permission denied (os error 13)".into(),
        };
        assert!(
            e.explain()
                .expect("an explanation")
                .contains("docker` group")
        );
    }

    #[test]
    fn unreachable_names_the_address_and_the_way_out() {
        let e = EngineError::Unreachable {
            host: "unix:///nonexistent.sock".into(),
            reason: "no such socket".into(),
        };
        let text = e.to_string();
        for needle in [
            "unix:///nonexistent.sock",
            "DOCKER_HOST=",
            "ssh://",
            "docker info",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }
}
