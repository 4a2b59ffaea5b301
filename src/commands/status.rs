//! `bgdeploy status [APP STAGE]`: what runs, in which role, and where each running
//! container's default route really is (read from the kernel, not predicted). Changes nothing.

use std::collections::{BTreeSet, HashMap};

use futures_util::future::{join_all, try_join_all};

use super::Globals;
use super::hosts;
use super::load;
use crate::engine::{self, Engine, EngineError};
use crate::error::Error;
use crate::lock::{self, Holder};
use crate::observe::{self, NetworkLookup, Observed, ProxyLookup, Role, StageTarget};
use crate::output::Output;
use crate::render::status::{
    ContainerStatus, FleetStatus, HostStatus, LockStatus, MaintenanceStatus, NetworkStatus,
    ProxyStatus, StageNetworks, StageStatus, StatusReport,
};
use crate::route::{self, Endpoint, RouteReading};
use crate::spec::{Deploy, Spec, SpecError};
use crate::{names, render, time};

/// Route readings by container ID: a reading, or why there is none.
pub(crate) type Routes = HashMap<String, Result<RouteReading, String>>;

pub async fn run(
    globals: &Globals,
    out: &Output,
    app: Option<&str>,
    stage: Option<&str>,
    only: Option<&[String]>,
) -> Result<(), Error> {
    let (Some(app), Some(stage)) = (app, stage) else {
        if only.is_some() {
            return Err(Error::Usage(
                "--hosts picks hosts of one fleet stage: give APP STAGE too \
                 (`bgdeploy status APP STAGE --hosts H,..`)"
                    .to_string(),
            ));
        }
        return run_discovered(globals, out).await;
    };
    let spec = load(globals)?;
    let d = spec.deploy(app, stage)?;
    let now = time::now_epoch();
    let connected = hosts::connect_each(globals, d, only).await?;
    let read = join_all(connected.into_iter().map(|(host, engine)| {
        let spec = &spec;
        async move {
            let status = match engine {
                Ok(engine) => stage_status(&engine, Some(spec), app, stage, &host, now)
                    .await
                    .map_err(Error::from),
                Err(e) => Err(e),
            };
            (host, status)
        }
    }))
    .await;
    if !d.is_fleet() {
        let apps = read
            .into_iter()
            .map(|(_, status)| status)
            .collect::<Result<Vec<_>, Error>>()?;
        let report = StatusReport { apps, fleet: None };
        return out.text_or_json(
            &render::status::human(&report),
            &render::status::json(&report),
        );
    }
    let mut apps = Vec::new();
    let mut hosts_status = Vec::new();
    let mut unreachable = None;
    for (host, status) in read {
        match status {
            Ok(status) => {
                let live = status.containers.iter().find(|c| c.role == Role::Live);
                hosts_status.push(HostStatus {
                    host: host.clone(),
                    reachable: true,
                    error: None,
                    live_image: live.map(|c| c.image.clone()),
                    live_container: live.map(|c| c.name.clone()),
                    drift: false,
                });
                apps.push(status);
            }
            Err(e) => {
                hosts_status.push(HostStatus {
                    host: host.clone(),
                    reachable: false,
                    error: Some(e.to_string()),
                    live_image: None,
                    live_container: None,
                    drift: false,
                });
                unreachable.get_or_insert(hosts::on(d, &host, e));
            }
        }
    }
    let drift = flag_drift(&mut hosts_status);
    let report = StatusReport {
        apps,
        fleet: Some(FleetStatus {
            app: app.to_string(),
            stage: stage.to_string(),
            drift,
            hosts: hosts_status,
        }),
    };
    out.text_or_json(
        &render::status::human(&report),
        &render::status::json(&report),
    )?;
    // What could be read is shown; a host that could not be is the exit (3 when unreachable).
    unreachable.map_or(Ok(()), Err)
}

/// Marks the reachable hosts whose live image (or lack of one) differs from the most common
/// one (the earliest host's, on a tie); true when any does. Drift is a state to see, not a
/// failure: a `--hosts` deploy leaves it on purpose.
pub(crate) fn flag_drift(hosts: &mut [HostStatus]) -> bool {
    let reached: Vec<Option<String>> = hosts
        .iter()
        .filter(|h| h.reachable)
        .map(|h| h.live_image.clone())
        .collect();
    let count = |image: &Option<String>| reached.iter().filter(|i| *i == image).count();
    let Some(common) = reached
        .iter()
        .fold(None::<&Option<String>>, |best, image| match best {
            Some(b) if count(b) >= count(image) => Some(b),
            _ => Some(image),
        })
        .cloned()
    else {
        return false;
    };
    let mut any = false;
    for h in hosts.iter_mut().filter(|h| h.reachable) {
        h.drift = h.live_image != common;
        any |= h.drift;
    }
    any
}

/// `status` without APP STAGE: every app/stage found on the one engine.
async fn run_discovered(globals: &Globals, out: &Output) -> Result<(), Error> {
    let spec = optional_spec(globals);
    let engine = engine::connect(globals.context.as_deref()).await?;
    let stages = discover(&engine).await?;
    let now = time::now_epoch();
    let report = StatusReport {
        apps: try_join_all(stages.iter().map(|(app, stage)| {
            stage_status(&engine, spec.as_ref(), app, stage, hosts::SINGLE, now)
        }))
        .await?,
        fleet: None,
    };
    out.text_or_json(
        &render::status::human(&report),
        &render::status::json(&report),
    )
}

/// The spec when there is one: `status` and `doctor` without arguments work without it
/// (then without proxy information), and a broken spec must not hide the engine's state.
pub(super) fn optional_spec(globals: &Globals) -> Option<Spec> {
    match crate::spec::load(&globals.file) {
        Ok(spec) => Some(spec),
        Err(SpecError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            None
        }
        Err(e) => {
            tracing::warn!("{e}\n(going on without the spec: no proxy information)");
            None
        }
    }
}

/// Every app/stage with a bgdeploy-labelled container or network on the engine, sorted.
async fn discover(engine: &Engine) -> Result<Vec<(String, String)>, EngineError> {
    let managed = format!("{}=true", names::LABEL_MANAGED);
    let (containers, networks) = tokio::try_join!(
        engine.list_containers(true, Some(&managed)),
        engine.list_networks(),
    )?;
    let pair = |labels: &std::collections::BTreeMap<String, String>| {
        Some((
            labels.get(names::LABEL_APP)?.clone(),
            labels.get(names::LABEL_STAGE)?.clone(),
        ))
    };
    let found: BTreeSet<(String, String)> = containers
        .iter()
        .filter_map(|c| pair(&c.labels))
        .chain(
            networks
                .iter()
                .filter(|n| n.managed)
                .filter_map(|n| pair(&n.labels)),
        )
        .collect();
    Ok(found.into_iter().collect())
}

async fn stage_status(
    engine: &Engine,
    spec: Option<&Spec>,
    app: &str,
    stage: &str,
    host: &str,
    now: i64,
) -> Result<StageStatus, EngineError> {
    let deploy = spec.and_then(|s| s.deploy(app, stage).ok());
    let no_extras = Vec::new();
    let target = StageTarget {
        app,
        stage,
        proxy: deploy.and_then(|d| d.proxy.driver.container()),
        extras: deploy.map_or(&no_extras, |d| &d.networks),
    };
    let (observed, holder) = tokio::try_join!(
        observe::observe_target(engine, &target, None),
        lock::status(engine, app, stage),
    )?;
    let mut running: Vec<&str> = observed
        .containers
        .iter()
        .filter(|c| c.state == "running")
        .map(|c| c.id.as_str())
        .collect();
    if let ProxyLookup::Found(p) = &observed.proxy
        && p.running
    {
        running.push(&p.id);
    }
    let readings = futures_util::future::join_all(running.iter().map(|id| async move {
        let reading = route::read_default_route(engine, id)
            .await
            .map_err(|e| e.to_string());
        (id.to_string(), reading)
    }))
    .await;
    let routes: Routes = readings.into_iter().collect();
    let mut status = build(&observed, app, stage, holder.as_ref(), &routes, now);
    status.host = host.to_string();
    for c in &mut status.containers {
        c.host = host.to_string();
    }
    status.maintenance = maintenance(engine, deploy).await;
    Ok(status)
}

/// Maintenance mode as the proxy's file says (`nginx` driver only: the others keep no state
/// bgdeploy can read). Unreadable is unknown, not a failure of `status`.
async fn maintenance(engine: &Engine, deploy: Option<&Deploy>) -> Option<MaintenanceStatus> {
    let deploy = deploy?;
    match crate::proxy::read_maintenance(engine, deploy).await? {
        Ok(message) => Some(MaintenanceStatus {
            on: message.is_some(),
            message,
        }),
        Err(e) => {
            tracing::warn!("could not read the maintenance state: {e}");
            None
        }
    }
}

/// The report of one app/stage from what was read. Pure, so it is tested without an engine.
pub(crate) fn build(
    obs: &Observed,
    app: &str,
    stage: &str,
    holder: Option<&Holder>,
    routes: &Routes,
    now: i64,
) -> StageStatus {
    let back = names::back_network(app, stage);
    let front = names::front_network(app, stage);
    let mut problems = Vec::new();
    for lookup in [&obs.back, &obs.front] {
        if let NetworkLookup::Ambiguous { name, matches } = lookup {
            problems.push(format!(
                "{} networks are named {name}, and the engine refuses every call that names \
                 it: remove the extra one by ID (`docker network ls --no-trunc --filter \
                 name={name}`, then `docker network rm <id>`)",
                matches.len()
            ));
        }
    }
    let live = obs.with_role(Role::Live).count();
    if live > 1 {
        problems.push(format!(
            "{live} containers are live (attached to {front}); there should be one"
        ));
    }
    let containers = obs
        .containers
        .iter()
        .map(|c| {
            let mut status = ContainerStatus {
                host: hosts::SINGLE.to_string(),
                name: c.name.clone(),
                id: c.id.chars().take(12).collect(),
                role: c.role,
                image: c.image.clone(),
                state: c.state.clone(),
                health: c.health.clone(),
                created: time::since_epoch_rfc3339(c.created),
                age_secs: u64::try_from(now.saturating_sub(c.created)).unwrap_or(0),
                networks: c.attachments.iter().map(|a| a.network.clone()).collect(),
                default_route: None,
                default_route_v6: None,
                route_ok: None,
                route_note: None,
                resources: c.resources,
            };
            match routes.get(&c.id) {
                Some(Ok(reading)) => {
                    status.default_route = reading.network.clone();
                    status.default_route_v6 = reading.v6_network.clone();
                    let endpoints: Vec<Endpoint> = c
                        .attachments
                        .iter()
                        .map(|a| {
                            Endpoint::new(a.network.clone(), a.internal)
                                .priority(a.gw_priority)
                                .ipv6(a.ipv6)
                        })
                        .collect();
                    match route::check(reading, Some(&back)) {
                        Ok(()) => status.route_ok = Some(true),
                        Err(moved) => {
                            let why = route::explain_move(&moved, &endpoints, obs.engine.api);
                            let note = format!("{moved}. {why}");
                            problems.push(note.clone());
                            status.route_ok = Some(false);
                            status.route_note = Some(note);
                        }
                    }
                }
                Some(Err(e)) => {
                    status.route_note = Some(format!("the default route could not be read: {e}"))
                }
                None => {}
            }
            status
        })
        .collect();
    let proxy = proxy_status(obs, &front, routes, live > 0, &mut problems);
    let lock = holder.map(|h| LockStatus {
        owner: h.owner.clone(),
        since: h.since.map(time::since_epoch_rfc3339),
        age_secs: h.age.map(|a| a.as_secs()),
        stale: h.stale,
    });
    if holder.is_some_and(|h| h.stale) {
        problems.push(format!(
            "the deploy lock is stale (its process on this host is gone): release it with \
             `bgdeploy lock release {app} {stage}`"
        ));
    }
    StageStatus {
        app: app.to_string(),
        stage: stage.to_string(),
        host: hosts::SINGLE.to_string(),
        networks: StageNetworks {
            back: network_status(&obs.back),
            front: network_status(&obs.front),
        },
        proxy,
        lock,
        maintenance: None,
        containers,
        problems,
    }
}

fn network_status(lookup: &NetworkLookup) -> NetworkStatus {
    let (state, internal) = match lookup {
        NetworkLookup::Missing { .. } => ("missing", None),
        NetworkLookup::Found(n) => ("found", Some(n.internal)),
        NetworkLookup::Ambiguous { .. } => ("ambiguous", None),
    };
    NetworkStatus {
        name: lookup.name().to_string(),
        state,
        internal,
    }
}

fn proxy_status(
    obs: &Observed,
    front: &str,
    routes: &Routes,
    has_live: bool,
    problems: &mut Vec<String>,
) -> Option<ProxyStatus> {
    match &obs.proxy {
        ProxyLookup::NotNeeded => None,
        ProxyLookup::Missing { name } => {
            problems.push(format!("the proxy container {name} does not exist"));
            Some(ProxyStatus {
                container: name.clone(),
                state: "missing",
                running: false,
                default_route: None,
            })
        }
        ProxyLookup::Found(p) => {
            let attached = p.attachments.iter().any(|a| a.network == front);
            if has_live && !attached {
                problems.push(format!(
                    "the proxy {} is not attached to {front}, so the live release gets no \
                     traffic through it",
                    p.name
                ));
            }
            let default_route = match routes.get(&p.id) {
                Some(Ok(r)) => r.network.clone(),
                _ => None,
            };
            if default_route.as_deref() == Some(front) && p.attachments.len() > 1 {
                problems.push(format!(
                    "the proxy's default route is on {front}: attaching it moved the route \
                     (`F` sorts before `b` of `bridge`). Fix: make {front} internal \
                     (`front_internal: true`; remove the network and let `bgdeploy up` \
                     recreate it)"
                ));
            }
            Some(ProxyStatus {
                container: p.name.clone(),
                state: if attached { "attached" } else { "detached" },
                running: p.running,
                default_route,
            })
        }
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
