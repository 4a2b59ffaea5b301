//! Waiting for a container to exit: the one-off containers of `hooks.before_switch` and
//! `exec --one-off` run to completion.

use bollard::errors::Error as Bollard;
use bollard::query_parameters::WaitContainerOptions;
use futures_util::StreamExt;

use super::{Engine, EngineError};

impl Engine {
    /// Waits until the container (started or about to be) has exited; returns its exit code.
    /// Dropping the future stops waiting; the container runs on.
    pub async fn wait_container(&self, container: &str) -> Result<i64, EngineError> {
        let options = WaitContainerOptions {
            condition: "not-running".to_string(),
        };
        let mut stream = self.docker.wait_container(container, Some(options));
        let failed = |source| EngineError::WaitContainer {
            container: container.to_string(),
            source,
        };
        match stream.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard turns a non-zero exit into this error; it is an answer, not a failure.
            Some(Err(Bollard::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(source)) => Err(failed(source)),
            None => Err(failed(Bollard::DockerStreamError {
                error: "the engine closed the wait without an exit code".to_string(),
            })),
        }
    }
}
