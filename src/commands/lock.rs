//! `bgdeploy lock status|release APP STAGE`: who holds the deploy lock, and removing a lock
//! whose deploy died (a `kill -9`, a lost CI runner).

use serde_json::json;

use futures_util::future::join_all;

use super::Globals;
use super::confirm;
use super::hosts::{self, Outcome};
use super::{deploy, load};
use crate::cli::Target;
use crate::engine::Engine;
use crate::error::Error;
use crate::lock::{self, Holder};
use crate::output::Output;
use crate::render::table::age;
use crate::spec::Deploy;
use crate::time::since_epoch_rfc3339;

pub async fn status(globals: &Globals, out: &Output, target: &Target) -> Result<(), Error> {
    let spec = load(globals)?;
    let d = deploy(&spec, target)?;
    let hosts = hosts::connect(globals, d, target.hosts.as_deref()).await?;
    hosts::each(out, d, &hosts, |h| status_on(&h.engine, d)).await
}

async fn status_on(engine: &Engine, d: &Deploy) -> Outcome {
    let (app, stage) = (d.app.as_str(), d.stage.as_str());
    let holder = match lock::status(engine, app, stage).await {
        Ok(holder) => holder,
        Err(e) => return Outcome::failed(e.into()),
    };
    let human = match &holder {
        None => format!("{app}/{stage} is not locked.\n"),
        Some(h) => {
            let mut text = format!("{app}/{stage} is locked: {}.\n", describe(h));
            if h.stale {
                text.push_str(&format!(
                    "It is stale: that process ran on this host and no longer exists. Release \
                     it with `bgdeploy lock release {app} {stage}`.\n"
                ));
            }
            text
        }
    };
    Outcome {
        human,
        doc: document(app, stage, holder.as_ref()),
        result: Ok(()),
    }
}

/// Releases the lock on every host picked; asks once, naming each host's holder.
pub async fn release(
    globals: &Globals,
    out: &Output,
    target: &Target,
    yes: bool,
) -> Result<(), Error> {
    let spec = load(globals)?;
    let d = deploy(&spec, target)?;
    let (app, stage) = (d.app.as_str(), d.stage.as_str());
    let consent = confirm::consent(&format!("lock release {app} {stage}"), yes)?;
    let hosts = hosts::connect(globals, d, target.hosts.as_deref()).await?;
    let holders = join_all(hosts.iter().map(|h| lock::status(&h.engine, app, stage))).await;
    let mut held = Vec::new();
    for (h, holder) in hosts.iter().zip(holders) {
        if let Some(holder) = holder.map_err(|e| hosts::on(d, &h.name, e.into()))? {
            held.push((h.name.as_str(), holder));
        }
    }
    if !held.is_empty() {
        let fleet = d.is_fleet();
        let whose: Vec<String> = held
            .iter()
            .map(|(host, holder)| match fleet {
                true => format!("on {host} {}", describe(holder)),
                false => describe(holder),
            })
            .collect();
        let warning = if held.iter().all(|(_, h)| h.stale) {
            ""
        } else {
            " If that deploy is still running, it will fail when it next needs the lock."
        };
        confirm::confirm(
            consent,
            &format!(
                "Release the deploy lock of {app}/{stage}, {}?{warning}",
                whose.join("; ")
            ),
        )?;
    }
    hosts::each(out, d, &hosts, |h| release_on(&h.engine, d)).await
}

async fn release_on(engine: &Engine, d: &Deploy) -> Outcome {
    let (app, stage) = (d.app.as_str(), d.stage.as_str());
    let released = match lock::force_release(engine, app, stage).await {
        Ok(released) => released,
        Err(e) => return Outcome::failed(e.into()),
    };
    let human = match &released {
        Some(h) => format!(
            "Released the deploy lock {} of {app}/{stage} ({}).\n",
            h.lock,
            describe(h)
        ),
        None => format!("{app}/{stage} is not locked; nothing to release.\n"),
    };
    let mut doc = document(app, stage, released.as_ref());
    doc["locked"] = json!(false);
    doc["released"] = json!(released.is_some());
    Outcome {
        human,
        doc,
        result: Ok(()),
    }
}

/// "held by X since T (2m ago), stale".
fn describe(h: &Holder) -> String {
    let mut text = format!("held by {}", h.owner);
    if let Some(since) = h.since {
        text.push_str(&format!(" since {}", since_epoch_rfc3339(since)));
    }
    if let Some(a) = h.age {
        text.push_str(&format!(" ({} ago)", age(a.as_secs())));
    }
    if h.stale {
        text.push_str(", stale");
    }
    text
}

/// `{"app", "stage", "lock", "locked", "owner", "since", "age_secs", "stale"}`; the holder's
/// fields are null when not locked.
fn document(app: &str, stage: &str, holder: Option<&Holder>) -> serde_json::Value {
    json!({
        "app": app,
        "stage": stage,
        "lock": crate::names::lock_name(app, stage),
        "locked": holder.is_some(),
        "owner": holder.map(|h| h.owner.clone()),
        "since": holder.and_then(|h| h.since).map(since_epoch_rfc3339),
        "age_secs": holder.and_then(|h| h.age).map(|a| a.as_secs()),
        "stale": holder.map(|h| h.stale),
    })
}
