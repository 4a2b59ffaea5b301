//! `bgdeploy prune APP STAGE`: remove the retired releases beyond the spec's `keep` (the
//! newest are kept for `rollback`), under the deploy lock so that no deploy is retiring or
//! rolling back to one of them meanwhile.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use super::Globals;
use super::hosts::{self, Outcome};
use super::{deploy, load};
use crate::cli::Target;
use crate::engine::Engine;
use crate::error::Error;
use crate::lock;
use crate::names;
use crate::observe::{self, Role, StageTarget};
use crate::output::Output;
use crate::spec::Deploy;

struct Pruned {
    kept: Vec<String>,
    removed: Vec<String>,
    failures: Vec<String>,
}

pub async fn run(globals: &Globals, out: &Output, target: &Target) -> Result<(), Error> {
    let spec = load(globals)?;
    let d = deploy(&spec, target)?;
    let hosts = hosts::connect(globals, d, target.hosts.as_deref()).await?;
    hosts::each(out, d, &hosts, |h| prune_on(&h.engine, d)).await
}

/// Prunes one engine under its own lock. A fleet's hosts are pruned independently: one whose
/// lock is held (a deploy running there) fails with exit 4, the others are pruned, and the
/// command can be run again.
async fn prune_on(engine: &Engine, d: &Deploy) -> Outcome {
    // No waiting: pruning can always be run again later, a deploy in progress cannot.
    let guard = match lock::acquire(engine, &d.app, &d.stage, Duration::ZERO, &mut |_, _| {}).await
    {
        Ok(guard) => guard,
        Err(e) => return Outcome::failed(e.into()),
    };
    let result = prune(engine, d).await;
    let released = guard.release(engine).await;
    if let (Err(_), Err(e)) = (&result, &released) {
        tracing::warn!("could not release the deploy lock: {e}");
    }
    let pruned = match result {
        Ok(pruned) => pruned,
        Err(e) => return Outcome::failed(e),
    };

    let (app, stage, keep) = (&d.app, &d.stage, d.keep);
    let human = if pruned.removed.is_empty() && pruned.failures.is_empty() {
        format!(
            "{app}/{stage}: nothing to prune ({} retired, keep {keep}).\n",
            pruned.kept.len()
        )
    } else {
        let mut text = format!("{app}/{stage}: keep {keep}\n");
        for name in &pruned.removed {
            text.push_str(&format!("  removed {name}\n"));
        }
        for name in &pruned.kept {
            text.push_str(&format!("  kept    {name}\n"));
        }
        text
    };
    let doc = json!({
        "app": app,
        "stage": stage,
        "keep": keep,
        "kept": pruned.kept,
        "removed": pruned.removed,
    });
    let result = match released {
        Err(e) => Err(e.into()),
        Ok(()) if pruned.failures.is_empty() => Ok(()),
        Ok(()) => Err(Error::Incomplete {
            command: format!("prune {app} {stage}"),
            failures: pruned.failures,
        }),
    };
    Outcome { human, doc, result }
}

async fn prune(engine: &Engine, d: &Deploy) -> Result<Pruned, Error> {
    let target = StageTarget {
        app: &d.app,
        stage: &d.stage,
        proxy: None,
        extras: &[],
    };
    let (observed, listed) = tokio::try_join!(
        observe::observe_target(engine, &target, None),
        engine.list_app_containers(&d.app, &d.stage),
    )?;
    // Only containers bgdeploy made: the app/stage labels alone could be copied by hand.
    let ours: BTreeSet<&str> = listed
        .iter()
        .filter(|c| {
            c.labels
                .get(names::LABEL_MANAGED)
                .is_some_and(|v| v == "true")
        })
        .map(|c| c.id.as_str())
        .collect();
    // Newest first, as observed.
    let retired: Vec<_> = observed
        .with_role(Role::Retired)
        .filter(|c| ours.contains(c.id.as_str()))
        .collect();
    let keep = usize::try_from(d.keep)
        .unwrap_or(usize::MAX)
        .min(retired.len());
    let (kept, beyond) = retired.split_at(keep);
    let mut pruned = Pruned {
        kept: kept.iter().map(|c| c.name.clone()).collect(),
        removed: Vec::new(),
        failures: Vec::new(),
    };
    for c in beyond {
        // Not forced: a retired release is stopped, and one started meanwhile is not retired.
        match engine.remove_container(&c.id, false).await {
            Ok(()) => pruned.removed.push(c.name.clone()),
            Err(e) => pruned.failures.push(format!("removing {}: {e}", c.name)),
        }
    }
    Ok(pruned)
}
