//! Images: bgdeploy never pulls behind the operator's back, it only asks what is there.

use super::error::is_not_found;
use super::{Engine, EngineError};

impl Engine {
    /// Whether `image` (a name:tag or an ID) is present on the engine.
    pub async fn image_exists(&self, image: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(source) => Err(EngineError::InspectImage {
                image: image.to_string(),
                source,
            }),
        }
    }
}
