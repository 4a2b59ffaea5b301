//! `plan` of a fleet stage: the batches, then every host's steps and warnings, each host
//! observed and planned at once; `--check` exits with the worst code predicted, naming the
//! host. Reads the engines, changes nothing, takes no lock.

use serde_json::{Value, json};

use super::{batches, connect_all, select};
use crate::commands::service::{self, DeployRequest};
use crate::error::Error;
use crate::output::Output;
use crate::plan::{Prediction, predict};
use crate::render;
use crate::spec::Deploy;

/// One host's plan as shown: its human text, its JSON document and the prediction.
struct Shown {
    host: String,
    human: String,
    json: Value,
    prediction: Prediction,
}

pub async fn run(
    deploy: &Deploy,
    request: &DeployRequest<'_>,
    out: &Output,
    check: bool,
) -> Result<(), Error> {
    let names = select::hosts(deploy, request.target.hosts.as_deref())?;
    let hosts = connect_all(deploy, &names).await?;
    let suffix = crate::time::release_suffix();
    let command = request.command();
    let plans = hosts.iter().enumerate().map(|(i, h)| {
        let suffix = suffix.clone();
        async move {
            // `before_switch` runs on the first host only, as the run does it.
            let mut d = deploy.clone();
            if i > 0 {
                d.hooks.before_switch = None;
            }
            let planned = service::plan_on(&h.engine, &d, request, suffix).await;
            (h.name.clone(), d, planned)
        }
    });
    let mut shown = Vec::new();
    for (host, d, planned) in futures_util::future::join_all(plans).await {
        let (observed, _, plan) = planned.map_err(|e| Error::Host {
            host: host.clone(),
            source: Box::new(e),
        })?;
        let s = match plan {
            Ok(plan) => {
                let prediction = predict(&plan, &d, &observed);
                Shown {
                    host,
                    human: render::plan::human(&plan, &prediction),
                    json: parse(&render::plan::json(&plan, &prediction)),
                    prediction,
                }
            }
            Err(e) => {
                let prediction =
                    Prediction::failure(crate::error::exit::DEPLOY_FAILED, e.to_string());
                Shown {
                    host,
                    human: render::plan::no_plan(command, &d, &e, &prediction),
                    json: parse(&render::plan::no_plan_json(command, &d, &prediction)),
                    prediction,
                }
            }
        };
        shown.push(s);
    }
    let groups = batches(
        &names,
        deploy.rollout.canary_for(names.len()),
        deploy.rollout.parallel as usize,
    );
    let worst = shown
        .iter()
        .filter(|s| s.prediction.exit_code != 0)
        .max_by_key(|s| s.prediction.exit_code);
    out.text_or_json(
        &human(deploy, &groups, &shown),
        &document(deploy, command, &groups, &shown, worst),
    )?;
    match worst {
        Some(s) if check => Err(Error::Predicted {
            command: format!(
                "bgdeploy {command} {} {} on host {}",
                deploy.app, deploy.stage, s.host
            ),
            code: s.prediction.exit_code,
            reason: s.prediction.reason.clone().unwrap_or_default(),
        }),
        _ => Ok(()),
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn batch_lines(deploy: &Deploy, groups: &[Vec<String>]) -> Vec<String> {
    let canary = deploy.rollout.canary_for(groups.iter().map(Vec::len).sum()) > 0;
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let kind = if i == 0 && canary { "canary" } else { "batch" };
            format!("{kind} {}: {}", i + 1, g.join(", "))
        })
        .collect()
}

fn human(deploy: &Deploy, groups: &[Vec<String>], shown: &[Shown]) -> String {
    let r = &deploy.rollout;
    let mut out = format!(
        "Fleet {}/{}: {} host{}, on failure: {}{}\n",
        deploy.app,
        deploy.stage,
        shown.len(),
        if shown.len() == 1 { "" } else { "s" },
        r.on_failure.name(),
        if r.wait.is_zero() {
            String::new()
        } else {
            format!(", {} between batches", humantime::format_duration(r.wait))
        }
    );
    for line in batch_lines(deploy, groups) {
        out.push_str(&format!("  {line}\n"));
    }
    for s in shown {
        out.push_str(&format!("\n== host {} ==\n", s.host));
        out.push_str(&s.human);
    }
    out
}

/// The contract's keys (`app`, `stage`, `steps`, `warnings`) with every host's steps and
/// warnings, each tagged with its `host`; the per-host documents under `hosts`, the batches,
/// and the worst prediction.
fn document(
    deploy: &Deploy,
    command: &str,
    groups: &[Vec<String>],
    shown: &[Shown],
    worst: Option<&Shown>,
) -> String {
    let tagged = |key: &str| -> Vec<Value> {
        shown
            .iter()
            .flat_map(|s| {
                let items = s
                    .json
                    .get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                items.into_iter().map(move |mut item| {
                    if let Some(map) = item.as_object_mut() {
                        map.insert("host".into(), s.host.clone().into());
                    }
                    item
                })
            })
            .collect()
    };
    let hosts: Vec<Value> = shown
        .iter()
        .map(|s| json!({"host": s.host, "plan": s.json}))
        .collect();
    let predicted = match worst {
        Some(s) => {
            json!({"exit_code": s.prediction.exit_code, "reason": s.prediction.reason, "host": s.host})
        }
        None => json!({"exit_code": 0}),
    };
    let doc = json!({
        "app": deploy.app,
        "stage": deploy.stage,
        "for": command,
        "steps": tagged("steps"),
        "warnings": tagged("warnings"),
        "batches": groups,
        "rollout": {
            "canary": deploy.rollout.canary_for(shown.len()),
            "parallel": deploy.rollout.parallel,
            "wait_secs": deploy.rollout.wait.as_secs_f64(),
            "on_failure": deploy.rollout.on_failure.name(),
        },
        "hosts": hosts,
        "predicted": predicted,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
