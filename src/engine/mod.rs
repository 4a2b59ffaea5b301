//! The engine: a thin, typed wrapper over bollard. Every call names what it touched in its
//! error, and answers in bgdeploy's own types so the rest of the crate never sees bollard.

mod api;
mod archive;
mod attach;
mod connect;
mod containers;
mod containers_write;
pub mod context;
mod error;
mod events;
mod exec;
#[cfg(test)]
pub mod fake;
mod images;
mod images_write;
mod listing;
mod logs;
mod networks;
mod networks_write;
pub mod probe;
mod reach;
mod settings;
mod signal;
pub mod ssh;
mod state;
mod top;
mod volumes;
mod wait;

pub use api::EngineApi;
pub use archive::MAX_FILE_BYTES;
pub use attach::{Frame, Input, Output, Session};
pub use connect::{DEFAULT_HOST, DockerHost, Transport, connect, connect_to};
pub use containers::{ContainerDetails, ContainerEntry, EndpointDetails};
pub use containers_write::ContainerSpec;
pub use error::EngineError;
pub use events::HealthEvent;
pub use exec::{EXEC_OUTPUT_LIMIT, ExecOutput};
pub use images_write::{LOCK_IMAGE_REPO, lock_image};
pub use listing::ContainerSummary;
pub use logs::LOGS_LIMIT;
pub use networks::{NetworkDetails, Subnet, lookup_network};
pub use settings::{apply_settings, host_config};
pub use state::{ContainerState, HealthLogEntry, HealthState};
pub use top::Process;

use crate::observe::EngineInfo;

/// A connected engine whose API version has been negotiated. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: bollard::Docker,
    info: EngineInfo,
    /// Docker's name for the engine's architecture (`amd64`, `arm64`), for the probe agent.
    arch: String,
    /// Probes this connection started on the engine (`probe.rs`).
    probes: std::sync::Arc<probe::ProbeSites>,
}

impl Engine {
    fn new(docker: bollard::Docker, info: EngineInfo, arch: String) -> Engine {
        Engine {
            docker,
            info,
            arch,
            probes: std::sync::Arc::default(),
        }
    }

    pub fn info(&self) -> &EngineInfo {
        &self.info
    }
}

/// Ends what this process started to reach its engines: probe containers, then ssh
/// connections. Called once before bgdeploy exits, whatever the outcome.
pub async fn close_all() {
    probe::close_all().await;
    ssh::close_all().await;
}
