//! Signalling a container's main process through the engine (what `docker kill -s` does):
//! how bgdeploy tells a separate docker-gen container to regenerate the proxy's config.

use bollard::query_parameters::KillContainerOptionsBuilder;

use super::{Engine, EngineError};

impl Engine {
    /// Sends `signal` (a name such as `HUP` or `SIGHUP`) to the main process of the running
    /// container `container`. The engine answers once the signal is delivered, not once the
    /// process has acted on it. A stopped container is an error (409 from the engine).
    pub async fn signal_container(&self, container: &str, signal: &str) -> Result<(), EngineError> {
        tracing::debug!(%container, %signal, "signalling container");
        let options = KillContainerOptionsBuilder::new().signal(signal).build();
        self.docker
            .kill_container(container, Some(options))
            .await
            .map_err(|source| EngineError::SignalContainer {
                container: container.to_string(),
                signal: signal.to_string(),
                source,
            })
    }
}
