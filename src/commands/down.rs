//! `bgdeploy down APP STAGE [--networks] [--history]`: take an app/stage off the engine.
//! Under the deploy lock: detach the proxy from FRONT_ first (so it stops sending traffic
//! before anything disappears), stop and remove every container of the app/stage, then the
//! networks when asked. Only objects carrying bgdeploy's labels for this app/stage are
//! removed; the proxy is only disconnected. The history volume stays unless `--history`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use super::Globals;
use super::confirm::{self, Consent};
use super::hosts::{self, Outcome};
use super::{deploy, load};
use crate::cli::Target;
use crate::engine::{Engine, EngineError};
use crate::error::Error;
use crate::lock;
use crate::names;
use crate::observe::{self, Role, StageTarget};
use crate::output::Output;
use crate::spec::Deploy;

pub struct DownArgs<'a> {
    pub target: &'a Target,
    pub networks: bool,
    pub history: bool,
    pub yes: bool,
}

/// What was done, and what could not be.
#[derive(Debug, Default)]
struct Report {
    /// (proxy container, network)
    detached: Vec<(String, String)>,
    containers: Vec<(String, Role)>,
    networks: Vec<String>,
    volume: Option<String>,
    notes: Vec<String>,
    failures: Vec<String>,
}

pub async fn run(globals: &Globals, out: &Output, args: DownArgs<'_>) -> Result<(), Error> {
    let spec = load(globals)?;
    let d = deploy(&spec, args.target)?;
    let (app, stage) = (d.app.as_str(), d.stage.as_str());
    let consent = confirm::consent(&format!("down {app} {stage}"), args.yes)?;
    let hosts = hosts::connect(globals, d, args.target.hosts.as_deref()).await?;
    if consent == Consent::Ask
        && let Some(first) = hosts.first()
    {
        let mut q = question(&first.engine, d, &args).await?;
        if d.is_fleet() {
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            q = format!("On hosts {} (as on {}): {q}", names.join(", "), first.name);
        }
        confirm::confirm(consent, &q)?;
    }
    hosts::each(out, d, &hosts, |h| down_on(&h.engine, d, &args)).await
}

/// Takes the app/stage off one engine under its lock. A fleet's hosts are taken down
/// independently (concurrently); running `down` again finishes what a failed host left.
async fn down_on(engine: &Engine, d: &Deploy, args: &DownArgs<'_>) -> Outcome {
    let (app, stage) = (d.app.as_str(), d.stage.as_str());
    // No waiting: taking an app/stage down in the middle of a deploy would race it.
    let guard = match lock::acquire(engine, app, stage, Duration::ZERO, &mut |_, _| {}).await {
        Ok(guard) => guard,
        Err(e) => return Outcome::failed(e.into()),
    };
    let mut report = Report::default();
    let result = tear_down(engine, d, args.networks, &mut report).await;
    if let Err(e) = guard.release(engine).await {
        report
            .failures
            .push(format!("releasing the deploy lock: {e}"));
    }
    // Nothing was changed when the engine could not even be read.
    if let Err(e) = result {
        return Outcome::failed(e.into());
    }
    history_volume(engine, d, args.history, &mut report).await;
    let result = if report.failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Incomplete {
            command: format!("down {app} {stage}"),
            failures: report.failures.clone(),
        })
    };
    Outcome {
        human: human(d, &report),
        doc: document(d, &report),
        result,
    }
}

/// The question names what will go, read without the lock (it is taken after the answer).
async fn question(engine: &Engine, d: &Deploy, args: &DownArgs<'_>) -> Result<String, Error> {
    let listed = engine.list_app_containers(&d.app, &d.stage).await?;
    let names: Vec<&str> = listed
        .iter()
        .filter(|c| c.labels.get(names::LABEL_KIND).map(String::as_str) != Some(names::KIND_LOCK))
        .map(|c| c.name.as_str())
        .collect();
    let mut q = format!(
        "Take {}/{} down: remove {} container{}",
        d.app,
        d.stage,
        names.len(),
        if names.len() == 1 { "" } else { "s" }
    );
    if !names.is_empty() {
        q.push_str(&format!(" ({})", names.join(", ")));
    }
    if args.networks {
        q.push_str(&format!(
            ", networks {} and {}",
            names::back_network(&d.app, &d.stage),
            names::front_network(&d.app, &d.stage)
        ));
    }
    if args.history {
        q.push_str(", and the deploy history");
    }
    if let Some(proxy) = d.proxy.driver.container() {
        q.push_str(&format!(" (the proxy {proxy} is only detached)"));
    }
    q.push('?');
    Ok(q)
}

/// Reads first (an error there means nothing was changed), then acts, recording failures
/// and going on: a half-done `down` is finished by running it again.
async fn tear_down(
    engine: &Engine,
    d: &Deploy,
    networks: bool,
    report: &mut Report,
) -> Result<(), EngineError> {
    let (app, stage) = (d.app.as_str(), d.stage.as_str());
    let front = names::front_network(app, stage);
    let target = StageTarget {
        app,
        stage,
        proxy: d.proxy.driver.container(),
        extras: &[],
    };
    let (observed, listed, all_networks) = tokio::try_join!(
        observe::observe_target(engine, &target, None),
        engine.list_app_containers(app, stage),
        engine.list_networks(),
    )?;

    match &observed.proxy {
        observe::ProxyLookup::Found(p) => {
            for a in p.attachments.iter().filter(|a| a.network == front) {
                // By network ID: a duplicated FRONT_ name would be ambiguous.
                match engine.disconnect_network(&p.id, &a.network_id, false).await {
                    Ok(()) => report.detached.push((p.name.clone(), front.clone())),
                    Err(e) => report.failures.push(format!("detaching the proxy: {e}")),
                }
            }
        }
        observe::ProxyLookup::Missing { name } => report.notes.push(format!(
            "the proxy {name} does not exist; nothing to detach"
        )),
        observe::ProxyLookup::NotNeeded => {}
    }

    let ours: BTreeSet<&str> = listed
        .iter()
        .filter(|c| {
            c.labels
                .get(names::LABEL_MANAGED)
                .is_some_and(|v| v == "true")
        })
        .map(|c| c.id.as_str())
        .collect();
    let mut doomed: Vec<_> = observed
        .containers
        .iter()
        .filter(|c| ours.contains(c.id.as_str()))
        .collect();
    // Live first: it is what users reach, and the proxy no longer points at it.
    doomed.sort_by_key(|c| c.role);
    for c in doomed {
        if c.state == "running"
            && let Err(e) = engine.stop_container(&c.id, d.stop_timeout).await
        {
            // Removal below kills it anyway; say that it was not a clean stop.
            report
                .notes
                .push(format!("{} did not stop cleanly: {e}", c.name));
        }
        match engine.remove_container(&c.id, true).await {
            Ok(()) => report.containers.push((c.name.clone(), c.role)),
            Err(e) => report.failures.push(format!("removing {}: {e}", c.name)),
        }
    }

    if networks {
        for name in [front, names::back_network(app, stage)] {
            for n in all_networks.iter().filter(|n| n.name == name) {
                let label = |k: &str| n.labels.get(k).map(String::as_str);
                let is_ours = n.managed
                    && label(names::LABEL_APP) == Some(app)
                    && label(names::LABEL_STAGE) == Some(stage);
                if !is_ours {
                    report.notes.push(format!(
                        "network {name} ({}) does not carry bgdeploy's labels for {app}/{stage}; \
                         left alone",
                        short(&n.id)
                    ));
                    continue;
                }
                match engine.remove_network(&n.id).await {
                    Ok(()) => report.networks.push(name.clone()),
                    Err(e) => report
                        .failures
                        .push(format!("removing network {name}: {e}")),
                }
            }
        }
    }
    Ok(())
}

/// After the lock is released: the lock container mounts the volume, and a volume in use
/// cannot be removed.
async fn history_volume(engine: &Engine, d: &Deploy, remove: bool, report: &mut Report) {
    let volume = lock::state_volume(&d.app, &d.stage);
    let labels = match engine.volume_labels(&volume).await {
        Ok(Some(labels)) => labels,
        Ok(None) => return,
        Err(e) => {
            report.failures.push(e.to_string());
            return;
        }
    };
    if !remove {
        report.notes.push(format!(
            "kept the deploy history (volume {volume}); `--history` removes it"
        ));
        return;
    }
    let label = |k: &str| labels.get(k).map(String::as_str);
    if label(names::LABEL_MANAGED) != Some("true")
        || label(names::LABEL_APP) != Some(d.app.as_str())
        || label(names::LABEL_STAGE) != Some(d.stage.as_str())
    {
        report.notes.push(format!(
            "volume {volume} does not carry bgdeploy's labels for {}/{}; left alone",
            d.app, d.stage
        ));
        return;
    }
    match engine.remove_volume(&volume).await {
        Ok(()) => report.volume = Some(volume),
        Err(e) => report.failures.push(format!("removing the history: {e}")),
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn human(d: &Deploy, r: &Report) -> String {
    let mut out = if r.failures.is_empty() {
        format!("{}/{} is down.\n", d.app, d.stage)
    } else {
        format!("{}/{}: down did not finish.\n", d.app, d.stage)
    };
    for (proxy, network) in &r.detached {
        out.push_str(&format!("  detached proxy {proxy} from {network}\n"));
    }
    for (name, role) in &r.containers {
        out.push_str(&format!("  removed container {name} ({role})\n"));
    }
    for name in &r.networks {
        out.push_str(&format!("  removed network {name}\n"));
    }
    if let Some(volume) = &r.volume {
        out.push_str(&format!("  removed the deploy history (volume {volume})\n"));
    }
    if r.detached.is_empty() && r.containers.is_empty() && r.networks.is_empty() {
        out.push_str("  there was nothing to remove\n");
    }
    for note in &r.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}

/// `{"app", "stage", "detached": [{"container", "network"}], "removed_containers":
/// [{"name", "role"}], "removed_networks", "removed_volume", "notes", "failures"}`.
fn document(d: &Deploy, r: &Report) -> serde_json::Value {
    json!({
        "app": d.app,
        "stage": d.stage,
        "detached": r.detached.iter().map(|(c, n)| json!({"container": c, "network": n})).collect::<Vec<_>>(),
        "removed_containers": r.containers.iter().map(|(name, role)| json!({"name": name, "role": role})).collect::<Vec<_>>(),
        "removed_networks": r.networks,
        "removed_volume": r.volume,
        "notes": r.notes,
        "failures": r.failures,
    })
}
