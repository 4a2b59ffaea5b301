//! `bgdeploy history APP STAGE`: the deploy records kept in the app/stage's state volume.
//! A file in a volume can only be read through a container that mounts it: the lock container
//! when a deploy holds it, else a reader container created for the read and removed after it
//! (never started; the archive API works on created containers).

use futures_util::future::join_all;

use super::Globals;
use super::hosts;
use super::{deploy, load};
use crate::cli::Target;
use crate::engine::{ContainerSpec, Engine, EngineError};
use crate::error::Error;
use crate::history::{self, Record};
use crate::output::Output;
use crate::{lock, names, render, time};

/// `bgdeploy.kind` of the short-lived reader. It carries the app/stage labels so that one
/// left behind by a killed `history` is found and removed by `down` (and `up`'s leftover
/// clean-up), like any other bgdeploy container of the app/stage.
const KIND_HISTORY_READER: &str = "history-reader";

pub async fn run(globals: &Globals, out: &Output, target: &Target) -> Result<(), Error> {
    let spec = load(globals)?;
    let d = deploy(&spec, target)?;
    let hosts = hosts::connect(globals, d, target.hosts.as_deref()).await?;
    // Every host's file at once; a fleet's records are merged by run.
    let read = join_all(hosts.iter().map(|h| read(&h.engine, &d.app, &d.stage))).await;
    let mut per_host = Vec::new();
    for (h, records) in hosts.iter().zip(read) {
        let records = records.map_err(|e| hosts::on(d, &h.name, e.into()))?;
        per_host.push(render::history::entries(records, &h.name));
    }
    let entries = render::history::merge(per_host);
    out.text_or_json(
        &render::history::human(&d.app, &d.stage, &entries, d.is_fleet()),
        &render::history::json(&entries),
    )
}

/// Every record of `app`/`stage`, in file order (oldest first). No state volume: no history.
pub async fn read(engine: &Engine, app: &str, stage: &str) -> Result<Vec<Record>, EngineError> {
    let volume = lock::state_volume(app, stage);
    if engine.volume_labels(&volume).await?.is_none() {
        return Ok(Vec::new());
    }
    let path = format!("{}/{}", history::DIR, history::FILE);
    let lock_name = names::lock_name(app, stage);
    if engine.inspect_container(&lock_name).await?.is_some() {
        // The deploy may release (remove) the lock between the inspect and the read, and a
        // lock made by hand may not mount the volume: either way, the reader settles it.
        match engine.get_file(&lock_name, &path).await {
            Ok(Some(bytes)) => return Ok(history::parse(&String::from_utf8_lossy(&bytes))),
            Ok(None) => {}
            Err(e) => tracing::debug!("reading the history through {lock_name} failed: {e}"),
        }
    }
    let bytes = through_reader(engine, app, stage, &volume, &path).await?;
    Ok(bytes
        .map(|b| history::parse(&String::from_utf8_lossy(&b)))
        .unwrap_or_default())
}

async fn through_reader(
    engine: &Engine,
    app: &str,
    stage: &str,
    volume: &str,
    path: &str,
) -> Result<Option<Vec<u8>>, EngineError> {
    let image = engine.ensure_lock_image().await?;
    let spec = ContainerSpec {
        name: format!("{app}_{stage}_history-reader-{}", time::release_suffix()),
        image,
        labels: names::labels(app, stage, KIND_HISTORY_READER),
        // Never started: it needs no network.
        network: "none".to_string(),
        binds: vec![format!("{volume}:{}:ro", history::DIR)],
        settings: None,
        ..Default::default()
    };
    let id = engine.create_container(&spec).await?;
    let read = engine.get_file(&id, path).await;
    // Removed on every path; a failure here only leaves a labelled, never-started container
    // that `down` removes, so it does not hide the history that was read.
    if let Err(e) = engine.remove_container(&id, true).await {
        tracing::warn!("could not remove the history reader {}: {e}", spec.name);
    }
    read
}
