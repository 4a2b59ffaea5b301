//! The engine: a thin, typed wrapper over bollard. Every call names what it touched in its
//! error, and answers in bgdeploy's own types so the rest of the crate never sees bollard.

mod connect;
mod containers;
mod error;
mod images;
mod networks;

pub use connect::{DEFAULT_HOST, DockerHost, Transport, connect, connect_to};
pub use containers::{ContainerDetails, ContainerEntry, EndpointDetails};
pub use error::EngineError;
pub use networks::{NetworkDetails, Subnet, lookup_network};

use crate::observe::EngineInfo;

/// A connected engine whose API version has been negotiated. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: bollard::Docker,
    info: EngineInfo,
}

impl Engine {
    pub fn info(&self) -> &EngineInfo {
        &self.info
    }
}
