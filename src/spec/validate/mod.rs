//! Raw tree → validated model. Every problem is collected, none stops the walk: the user
//! gets the whole list in one run.
//!
//! Per app: its own keys are read as a layer, each stage's overrides as another; each stage
//! is then merged over the app and resolved into a `Deploy`. Every key, with how it is read,
//! merged and put into the model, is a row of a table: `keys` (and a block's own table in its
//! module: `health`, `proxy`, `hooks`, `settings::LoggingLayer`); `table` says how.

mod check;
mod fleet;
mod health;
mod hooks;
mod keys;
mod leaf;
mod proxy;
mod read;
mod resolve;
mod settings;
#[macro_use]
mod table;
mod units;

use std::cell::OnceCell;
use std::collections::HashSet;

use indexmap::IndexMap;

use check::Check;
pub(crate) use check::Issue;
use keys::Layer;
use resolve::{Block, Missing, Resolve};
use table::Level;

use super::lines::Lines;
use super::model::{AppStages, Deploy};
use super::path::KeyPath;
use super::raw::Node;
use super::text::{escaped, quoted};

/// The apps of a spec, or every problem found in it (in the order found, duplicates removed).
pub(crate) fn validate(
    root: &Node,
    text: &str,
    lines: &OnceCell<Lines>,
) -> Result<IndexMap<String, AppStages>, Vec<Issue>> {
    let mut check = Check::new(text, lines);
    let apps = top(&mut check, root);
    if check.issues.is_empty() {
        Ok(apps)
    } else {
        Err(dedup(check.issues))
    }
}

/// An app's settings reach every stage, so one wrong app key shows up once per stage.
fn dedup(mut issues: Vec<Issue>) -> Vec<Issue> {
    let mut seen = HashSet::new();
    issues.retain(|issue| seen.insert((issue.at.clone(), issue.message.clone())));
    issues
}

fn top(check: &mut Check, root: &Node) -> IndexMap<String, AppStages> {
    let mut apps = IndexMap::new();
    let root_at = KeyPath::root();
    let Node::Map(entries) = root else {
        check.expected::<()>(
            &root_at,
            "a map with an `apps:` key at the top of the file",
            root,
        );
        return apps;
    };
    for (key, value) in entries {
        if key != "apps" {
            let looks_like_app = value.get("image").is_some() || value.get("port").is_some();
            let hint = if looks_like_app {
                format!("; if `{}` is an app, indent it under `apps:`", escaped(key))
            } else {
                String::new()
            };
            check.report(
                &root_at.key(key),
                format!(
                    "unknown key `{}` (the top level holds only `apps`){hint}",
                    escaped(key)
                ),
            );
        }
    }
    let apps_at = root_at.key("apps");
    let entries = match root.get("apps") {
        None => {
            check.report(
                &root_at,
                "`apps` is missing: the spec is a map `apps:` of app names to their settings",
            );
            return apps;
        }
        Some(node) => match check.map(node, &apps_at, "a map of app names to their settings") {
            Some(entries) => entries,
            None => return apps,
        },
    };
    if entries.is_empty() {
        check.report(&apps_at, "`apps` is empty; define at least one app");
    }
    for (name, node) in entries {
        let at = apps_at.key(name);
        name_check(check, "an app", name, &at);
        if let Some(stages) = app(check, name, node, &at) {
            apps.insert(name.clone(), stages);
        }
    }
    apps
}

fn name_check(check: &mut Check, what: &str, name: &str, at: &KeyPath) {
    if !leaf::is_docker_name(name) {
        check.report(
            at,
            format!(
                "{} cannot be used as {what} name: it becomes part of container names \
                 (`<app>_<stage>_<id>`) and network names (`BACK_<app>_<stage>`), so use \
                 letters, digits, `_`, `.` and `-`, starting with a letter or digit",
                quoted(name),
            ),
        );
    }
}

fn app(check: &mut Check, name: &str, node: &Node, at: &KeyPath) -> Option<AppStages> {
    let entries = check.map(node, at, "a map of app settings (image, port, stages, ...)")?;
    let app_layer = Layer::read(check, entries, at, Level::App, keys::APP_WRONG_PLACE);
    let stages_node = entries.iter().find(|(k, _)| k == "stages").map(|(_, v)| v);
    let stage_layers = stages(check, stages_node, at);
    if stage_layers.is_empty() {
        // Still check the app's own keys as a whole, so that one run reports everything.
        let r = resolve::resolve(&app_layer, name, "");
        check.issues.extend(r.issues);
        for m in r.missing {
            check.report(&block_at(&app_layer, m.block), m.message);
        }
        return None;
    }
    let mut resolved: Vec<(String, Layer, Resolve)> = Vec::new();
    for (stage, stage_layer) in stage_layers {
        let merged = Layer::merged(app_layer.clone(), stage_layer.clone());
        let r = resolve::resolve(&merged, name, &stage);
        resolved.push((stage, stage_layer, r));
    }
    report_missing(check, &app_layer, &resolved);
    let mut deploys: IndexMap<String, Deploy> = IndexMap::new();
    for (stage, _, r) in resolved {
        check.issues.extend(r.issues);
        deploys.insert(stage, r.deploy);
    }
    Some(AppStages { stages: deploys })
}
/// The stage layers of an app, in file order; stages that are not maps are reported and
/// left out.
fn stages(check: &mut Check, node: Option<&Node>, app_at: &KeyPath) -> Vec<(String, Layer)> {
    const EXAMPLE: &str = "e.g. `stages: {stage: {}, production: {}}`";
    let at = app_at.key("stages");
    let entries = match node {
        None => {
            check.report(
                app_at,
                format!("`stages` is missing: list the stages this app deploys to, {EXAMPLE}"),
            );
            return Vec::new();
        }
        Some(node) => {
            let expected = format!("a map of stage names to overrides, {EXAMPLE}");
            match check.map(node, &at, &expected) {
                Some(entries) => entries,
                None => return Vec::new(),
            }
        }
    };
    if entries.is_empty() {
        check.report(
            &at,
            format!("no stages are listed; add at least one, {EXAMPLE}"),
        );
    }
    let mut out = Vec::new();
    for (name, node) in entries {
        let stage_at = at.key(name);
        name_check(check, "a stage", name, &stage_at);
        let expected = "a map of settings that override the app's, or nothing";
        if let Some(entries) = check.map(node, &stage_at, expected) {
            let mut layer = Layer::read(
                check,
                entries,
                &stage_at,
                Level::Stage,
                keys::STAGE_WRONG_PLACE,
            );
            read::fold_virtual_host(check, &mut layer);
            out.push((name.clone(), layer));
        }
    }
    out
}

/// A required key missing in every stage is reported once, on the app; missing in only some
/// stages, on each of those.
fn report_missing(check: &mut Check, app: &Layer, resolved: &[(String, Layer, Resolve)]) {
    let mut seen: Vec<&Missing> = Vec::new();
    for (_, _, r) in resolved {
        for m in &r.missing {
            if seen.contains(&m) {
                continue;
            }
            seen.push(m);
            let lacking: Vec<&(String, Layer, Resolve)> = resolved
                .iter()
                .filter(|(_, _, r)| r.missing.contains(m))
                .collect();
            if lacking.len() == resolved.len() {
                check.report(
                    &block_at(app, m.block),
                    format!("{}; set it on the app, or in every stage", m.message),
                );
            } else {
                for (_, stage, _) in lacking {
                    check.report(
                        &block_at(stage, m.block),
                        format!("{}; set it on the app or in this stage", m.message),
                    );
                }
            }
        }
    }
}

/// Where to report something missing from `block` of a layer: the block when the layer
/// writes it, else the layer itself.
fn block_at(layer: &Layer, block: Block) -> KeyPath {
    let proxy_at = layer
        .proxy
        .set()
        .map(|proxy| match (block, proxy.value.verify.set()) {
            (Block::Verify, Some(verify)) => verify.at.clone(),
            _ => proxy.at.clone(),
        });
    let at = match block {
        Block::App => None,
        Block::Health => layer.health.set().map(|h| h.at.clone()),
        Block::Proxy | Block::Verify => proxy_at,
    };
    at.unwrap_or_else(|| layer.at.clone())
}
