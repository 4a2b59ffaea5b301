//! The spec's mounts as the engine and this machine see them before a deploy: which named
//! volumes exist yet (the engine creates the others on first use, as `docker run` does), and
//! which bind-mount host paths are missing (checked only when the engine runs here).

use std::path::Path;

use futures_util::future::try_join_all;

use super::model::VolumeLookup;
use crate::engine::{EngineApi, EngineError};
use crate::spec::ContainerSettings;

/// Whether paths on the engine's host can be checked from here. The one place that decides
/// it for mounts, so that a change in how an engine counts as local applies here too.
pub fn engine_is_local(engine: &dyn EngineApi) -> bool {
    engine.info().local
}

pub(super) async fn volumes(
    engine: &dyn EngineApi,
    settings: &ContainerSettings,
) -> Result<Vec<VolumeLookup>, EngineError> {
    let names: Vec<&str> = settings.named_volumes().collect();
    let labels = try_join_all(names.iter().map(|name| engine.volume_labels(name))).await?;
    Ok(names
        .into_iter()
        .zip(labels)
        .map(|(name, labels)| VolumeLookup {
            name: name.to_string(),
            exists: labels.is_some(),
        })
        .collect())
}

/// The bind-mount host paths that do not exist, when the engine is local; none otherwise
/// (a remote engine reports a missing path itself when the container is created).
pub(super) fn missing_binds(engine: &dyn EngineApi, settings: &ContainerSettings) -> Vec<String> {
    if !engine_is_local(engine) {
        return Vec::new();
    }
    missing_paths(settings.bind_paths())
}

/// Paths that are certainly not there; one that cannot be checked (no permission) is left to
/// the engine, which runs as root.
fn missing_paths<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<String> {
    paths
        .filter(|p| matches!(Path::new(p).try_exists(), Ok(false)))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_that_are_certainly_missing() {
        let paths = ["/", "/proc/self", "/no/such/bgdeploy/path"];
        assert_eq!(missing_paths(paths.into_iter()), ["/no/such/bgdeploy/path"]);
    }
}
