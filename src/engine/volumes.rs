//! Named volumes: where state that must outlive a container (the deploy history) is kept.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptionsBuilder;

use super::error::is_not_found;
use super::{Engine, EngineError};

impl Engine {
    /// Creates a local volume, or leaves one of that name as it is (the engine answers a
    /// create of an existing name with the existing volume; its labels are not changed).
    pub async fn create_volume(
        &self,
        name: &str,
        labels: &[(String, String)],
    ) -> Result<(), EngineError> {
        tracing::debug!(volume = %name, "creating volume");
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.iter().cloned().collect::<HashMap<_, _>>()),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map(|_| ())
            .map_err(|source| EngineError::CreateVolume {
                name: name.to_string(),
                source,
            })
    }

    /// Removes a volume; one already gone is fine. Fails while a container uses it.
    pub async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        tracing::debug!(volume = %name, "removing volume");
        let options = RemoveVolumeOptionsBuilder::new().force(false).build();
        match self.docker.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(EngineError::RemoveVolume {
                name: name.to_string(),
                source,
            }),
        }
    }
}
