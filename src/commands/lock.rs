//! `bgdeploy lock status|release APP STAGE`: who holds the deploy lock, and removing a lock
//! whose deploy died (a `kill -9`, a lost CI runner).

use serde_json::json;

use super::Globals;
use super::confirm;
use super::{deploy, load};
use crate::cli::Target;
use crate::engine;
use crate::error::Error;
use crate::lock::{self, Holder};
use crate::output::Output;
use crate::render::table::age;
use crate::time::since_epoch_rfc3339;

pub async fn status(globals: &Globals, out: &Output, target: &Target) -> Result<(), Error> {
    let spec = load(globals)?;
    let d = deploy(&spec, target)?;
    let engine = engine::connect(globals.context.as_deref()).await?;
    let holder = lock::status(&engine, &d.app, &d.stage).await?;
    let (app, stage) = (d.app.as_str(), d.stage.as_str());
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
    out.document(&human, &document(app, stage, holder.as_ref()))
}

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
    let engine = engine::connect(globals.context.as_deref()).await?;
    let Some(holder) = lock::status(&engine, app, stage).await? else {
        let human = format!("{app}/{stage} is not locked; nothing to release.\n");
        let mut doc = document(app, stage, None);
        doc["released"] = json!(false);
        return out.document(&human, &doc);
    };
    let warning = if holder.stale {
        ""
    } else {
        " If that deploy is still running, it will fail when it next needs the lock."
    };
    confirm::confirm(
        consent,
        &format!(
            "Release the deploy lock of {app}/{stage}, {}?{warning}",
            describe(&holder)
        ),
    )?;
    let released = lock::force_release(&engine, app, stage).await?;
    let human = match &released {
        Some(h) => format!(
            "Released the deploy lock {} of {app}/{stage} ({}).\n",
            h.lock,
            describe(h)
        ),
        None => format!("{app}/{stage} is not locked any more (released meanwhile).\n"),
    };
    let mut doc = document(app, stage, released.as_ref());
    doc["locked"] = json!(false);
    doc["released"] = json!(released.is_some());
    out.document(&human, &doc)
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
