//! `observe`: one read-only pass over the engine, independent calls in parallel.

use std::collections::BTreeSet;

use futures_util::future::try_join_all;

use super::classify::{self, InternalFlags, NetFlags};
use super::model::{NetworkInfo, Observed, ProxyLookup};
use crate::engine::{ContainerDetails, ContainerEntry, EngineApi, EngineError, lookup_network};
use crate::names;
use crate::spec::Deploy;

/// The live state of `deploy`'s app/stage, and whether `image` is present. Changes nothing.
pub async fn observe(
    engine: &dyn EngineApi,
    deploy: &Deploy,
    image: &str,
) -> Result<Observed, EngineError> {
    let target = StageTarget {
        app: &deploy.app,
        stage: &deploy.stage,
        proxy: deploy.proxy.driver.container(),
        extras: &deploy.networks,
    };
    let mut observed = observe_target(engine, &target, Some(image)).await?;
    observed.volumes = super::mounts::volumes(engine, &deploy.container).await?;
    observed.missing_binds = super::mounts::missing_binds(engine, &deploy.container);
    Ok(observed)
}

/// What to observe when there may be no spec (`status` of every app/stage on the engine).
#[derive(Debug, Clone, Copy)]
pub struct StageTarget<'a> {
    pub app: &'a str,
    pub stage: &'a str,
    /// The proxy container, when the spec names one.
    pub proxy: Option<&'a str>,
    pub extras: &'a [String],
}

/// Like `observe`, from names alone; `image_present` is false when no `image` is given.
pub async fn observe_target(
    engine: &dyn EngineApi,
    target: &StageTarget<'_>,
    image: Option<&str>,
) -> Result<Observed, EngineError> {
    let (app, stage) = (target.app, target.stage);
    let proxy_name = target.proxy;
    let lock_name = names::lock_name(app, stage);
    // One listing answers every by-name lookup and most Internal flags in a single call.
    let (networks, mut containers, proxy, image_present, lock) = tokio::try_join!(
        engine.list_networks(),
        app_containers(engine, app, stage),
        async {
            match proxy_name {
                Some(name) => engine.inspect_container(name).await,
                None => Ok(None),
            }
        },
        async {
            match image {
                Some(image) => engine.image_exists(image).await,
                None => Ok(false),
            }
        },
        engine.inspect_container(&lock_name),
    )?;
    let internal = internal_flags(engine, &networks, containers.iter().chain(proxy.iter())).await?;

    classify::newest_first(&mut containers);
    let front = names::front_network(app, stage);
    Ok(Observed {
        engine: engine.info().clone(),
        back: lookup_network(&networks, &names::back_network(app, stage)),
        front: lookup_network(&networks, &front),
        extras: target
            .extras
            .iter()
            .map(|n| lookup_network(&networks, n))
            .collect(),
        containers: containers
            .iter()
            .map(|c| classify::container(c, &internal, &front))
            .collect(),
        proxy: match (proxy_name, proxy) {
            (None, _) => ProxyLookup::NotNeeded,
            (Some(name), None) => ProxyLookup::Missing {
                name: name.to_string(),
            },
            (Some(_), Some(p)) => ProxyLookup::Found(classify::proxy(&p, &internal)),
        },
        image_present,
        lock: lock.map(|l| classify::lock(&l.labels)),
        volumes: Vec::new(),
        missing_binds: Vec::new(),
    })
}

/// The app/stage's release containers, inspected; the lock and probes are not releases.
async fn app_containers(
    engine: &dyn EngineApi,
    app: &str,
    stage: &str,
) -> Result<Vec<ContainerDetails>, EngineError> {
    let listed = engine.list_app_containers(app, stage).await?;
    // A running one-off (an `exec --one-off` session) is nobody's to touch; one that ended
    // is a leftover for the next deploy to remove. Probes are bgdeploy's own helpers.
    let releases = listed.iter().filter(|c: &&ContainerEntry| {
        let kind = c.labels.get(names::LABEL_KIND).map(String::as_str);
        kind != Some(names::KIND_LOCK)
            && kind != Some(crate::engine::probe::KIND_PROBE)
            && !(kind == Some(names::KIND_ONEOFF) && c.state == "running")
    });
    let inspected = try_join_all(releases.map(|c| engine.inspect_container(&c.id))).await?;
    // A container removed between the listing and its inspection is simply gone.
    Ok(inspected.into_iter().flatten().collect())
}

/// Internal flags of every network the containers are attached to. Networks created after
/// the listing are inspected, each once.
async fn internal_flags<'a>(
    engine: &dyn EngineApi,
    listed: &[NetworkInfo],
    containers: impl Iterator<Item = &'a ContainerDetails>,
) -> Result<InternalFlags, EngineError> {
    let flags_of = |n: &NetworkInfo| NetFlags {
        internal: n.internal,
        ipv6: n.ipv6,
    };
    let mut flags: InternalFlags = listed.iter().map(|n| (n.id.clone(), flags_of(n))).collect();
    let unknown: BTreeSet<&str> = containers
        .flat_map(|c| c.endpoints.iter())
        .map(|e| e.network_id.as_str())
        .filter(|id| !id.is_empty() && !flags.contains_key(*id))
        .collect();
    let late = try_join_all(unknown.iter().map(|id| engine.inspect_network(id))).await?;
    for (id, network) in unknown.into_iter().zip(late) {
        let f = network.map(|n| flags_of(&n.info)).unwrap_or_default();
        flags.insert(id.to_string(), f);
    }
    Ok(flags)
}
