//! Pulling an image, and building the deploy lock's image on the engine itself.

use bollard::body_full;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use futures_util::StreamExt;
use futures_util::lock::Mutex;

use super::{Engine, EngineError};

/// The lock image's repository; its tag is bgdeploy's version.
pub const LOCK_IMAGE_REPO: &str = "bgdeploy-lock";

/// Nothing runs in it: the lock container is created and never started, and an image is all
/// the engine needs to create one. Built from the engine's own `scratch`, so it needs no
/// registry and no file on the machine bgdeploy runs on.
const LOCK_DOCKERFILE: &str = "FROM scratch\nLABEL bgdeploy.kind=lock\nCMD [\"/bgdeploy-lock\"]\n";

/// Tasks of one process that find the image missing build it once, not once each (each build
/// would leave the previous result behind as a dangling image).
static BUILDING: Mutex<()> = Mutex::new(());

/// `bgdeploy-lock:<crate version>`.
pub fn lock_image() -> String {
    format!("{LOCK_IMAGE_REPO}:{}", env!("CARGO_PKG_VERSION"))
}

impl Engine {
    /// Pulls `image`, passing each progress line to `progress`. A reference without tag or
    /// digest means `:latest`, as with `docker pull` (the API alone would pull every tag).
    pub async fn pull_image(
        &self,
        image: &str,
        progress: &dyn Fn(&str),
    ) -> Result<(), EngineError> {
        tracing::debug!(%image, "pulling image");
        let (from_image, tag) = split_reference(image);
        let options = CreateImageOptionsBuilder::new()
            .from_image(from_image)
            .tag(tag)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|source| EngineError::PullImage {
                image: image.to_string(),
                source,
            })?;
            let line = match (info.id, info.status) {
                (Some(id), Some(status)) => format!("{id}: {status}"),
                (None, Some(status)) => status,
                _ => continue,
            };
            progress(&line);
        }
        Ok(())
    }

    /// The lock image, built on the engine when it is missing; returns its reference.
    pub async fn ensure_lock_image(&self) -> Result<String, EngineError> {
        let image = lock_image();
        let context = build_context().map_err(|reason| EngineError::BuildImage {
            image: image.clone(),
            source: bollard::errors::Error::DockerStreamError { error: reason },
        })?;
        self.ensure_built_image(&image, context).await?;
        Ok(image)
    }

    /// Builds `image` on the engine from the tar `context` (a Dockerfile and its files) when
    /// the engine does not have it yet. Names are content-addressed by the callers, so an
    /// image that exists is the right one.
    pub(super) async fn ensure_built_image(
        &self,
        image: &str,
        context: Vec<u8>,
    ) -> Result<(), EngineError> {
        if self.image_exists(image).await? {
            return Ok(());
        }
        let _building = BUILDING.lock().await;
        if self.image_exists(image).await? {
            return Ok(());
        }
        tracing::info!(%image, "building bgdeploy's image on the engine");
        let build_error = |source| EngineError::BuildImage {
            image: image.to_string(),
            source,
        };
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(image)
            .rm(true)
            .forcerm(true)
            .build();
        let mut stream = self
            .docker
            .build_image(options, None, Some(body_full(context.into())));
        while let Some(item) = stream.next().await {
            let info = item.map_err(build_error)?;
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                return Err(build_error(bollard::errors::Error::DockerStreamError {
                    error,
                }));
            }
            if let Some(line) = info
                .stream
                .as_deref()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
            {
                tracing::debug!(%image, "build: {line}");
            }
        }
        Ok(())
    }
}

/// `(fromImage, tag)` for the create-image call: the tag (or digest) the reference names,
/// else `latest`. A `:` before the last `/` is a registry port, not a tag.
fn split_reference(image: &str) -> (&str, &str) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name, digest);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], &image[last_slash + i + 1..]),
        None => (image, "latest"),
    }
}

/// The build context: a tar with only the Dockerfile.
fn build_context() -> Result<Vec<u8>, String> {
    super::archive::pack("Dockerfile", LOCK_DOCKERFILE.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_like_docker_pull() {
        assert_eq!(split_reference("shop"), ("shop", "latest"));
        assert_eq!(split_reference("shop:1.4.2"), ("shop", "1.4.2"));
        assert_eq!(
            split_reference("registry:5000/team/shop"),
            ("registry:5000/team/shop", "latest")
        );
        assert_eq!(
            split_reference("registry:5000/team/shop:v2"),
            ("registry:5000/team/shop", "v2")
        );
        assert_eq!(split_reference("shop@sha256:abc"), ("shop", "sha256:abc"));
    }

    #[test]
    fn the_lock_image_is_versioned_and_built_from_scratch() {
        assert_eq!(
            lock_image(),
            format!("bgdeploy-lock:{}", env!("CARGO_PKG_VERSION"))
        );
        let context = build_context().expect("packs");
        let dockerfile = super::super::archive::unpack(&context).expect("unpacks");
        assert!(dockerfile.starts_with(b"FROM scratch\n"));
    }
}
