//! The engines a per-stage command acts on (DESIGN.md §3, §9): a fleet stage's hosts — all, or
//! those `--hosts` names — or, for a stage without `hosts:`, the one engine the docker CLI
//! would pick, named `default`. And how the commands that only read or tidy (`lock`, `prune`,
//! `down`) run on each and report: concurrently, one section per host, one JSON document with
//! a `hosts` array, and the first failing host's error (in rollout order) as the exit.

use futures_util::future::join_all;
use serde_json::json;

use super::Globals;
use crate::engine::{self, Engine};
use crate::error::Error;
use crate::fleet::{self, Host};
use crate::output::Output;
use crate::spec::Deploy;

/// The host name of the one engine of a stage without `hosts:` (JSON's `host`).
pub(super) const SINGLE: &str = crate::hooks::SINGLE_HOST;

/// The hosts `only` picks (every host without it), in rollout order; for a stage without
/// `hosts:` the one engine, named `default`. `--hosts` on such a stage is a usage error: it
/// would otherwise be ignored silently.
pub(super) fn names(d: &Deploy, only: Option<&[String]>) -> Result<Vec<String>, Error> {
    if d.is_fleet() {
        return fleet::select::hosts(d, only);
    }
    match only {
        None => Ok(vec![SINGLE.to_string()]),
        Some(_) => Err(Error::Usage(format!(
            "--hosts: {}/{} has no `hosts:` (it runs on the one engine the docker CLI picks); \
             drop --hosts, or give the stage `hosts:` in the spec",
            d.app, d.stage
        ))),
    }
}

/// Connects to every host `only` picks, concurrently; any unreachable host stops the command
/// before it changes anything (exit 3, naming the host).
pub(super) async fn connect(
    globals: &Globals,
    d: &Deploy,
    only: Option<&[String]>,
) -> Result<Vec<Host>, Error> {
    let names = names(d, only)?;
    if !d.is_fleet() {
        let engine = engine::connect(globals.context.as_deref()).await?;
        return Ok(vec![Host {
            name: SINGLE.to_string(),
            engine,
        }]);
    }
    fleet::connect_all(d, &names).await
}

/// Connects to every host `only` picks, concurrently, keeping each outcome: `status` shows the
/// hosts it reached and names the ones it did not.
pub(super) async fn connect_each(
    globals: &Globals,
    d: &Deploy,
    only: Option<&[String]>,
) -> Result<Vec<(String, Result<Engine, Error>)>, Error> {
    let names = names(d, only)?;
    if !d.is_fleet() {
        let engine = engine::connect(globals.context.as_deref())
            .await
            .map_err(Error::from);
        return Ok(vec![(SINGLE.to_string(), engine)]);
    }
    Ok(join_all(names.into_iter().map(|name| async move {
        let engine = match d.hosts.get(&name) {
            Some(host) => match fleet::docker_host(host) {
                Ok(h) => engine::connect_to(&h).await.map_err(Error::from),
                Err(e) => Err(Error::from(e)),
            },
            None => Err(Error::Usage(format!("no host {name}"))),
        };
        (name, engine)
    }))
    .await)
}

/// What a command did on one host: its text, its JSON document, how it ended.
pub(super) struct Outcome {
    pub human: String,
    pub doc: serde_json::Value,
    pub result: Result<(), Error>,
}

impl Outcome {
    /// A host where the command failed before it had anything to show.
    pub fn failed(error: Error) -> Outcome {
        Outcome {
            human: format!("error: {error}\n"),
            doc: json!({"error": error.to_string()}),
            result: Err(error),
        }
    }
}

/// Runs `each` on every host concurrently and prints what they did. One engine: its text and
/// document as before, the document with `host: "default"`. A fleet: each host's text under
/// a `host NAME:` line (indented), and `{"app", "stage", "hosts": [document + host, ...]}`.
/// Ends with the first failing host's error (rollout order), wrapped to name it.
pub(super) async fn each<'a, F, Fut>(
    out: &Output,
    d: &Deploy,
    hosts: &'a [Host],
    each: F,
) -> Result<(), Error>
where
    F: Fn(&'a Host) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let outcomes = join_all(hosts.iter().map(&each)).await;
    let named: Vec<(&str, Outcome)> = hosts
        .iter()
        .map(|h| h.name.as_str())
        .zip(outcomes)
        .collect();
    report(out, d, named)
}

/// Prints the hosts' outcomes (see `each`) and returns the first failure.
pub(super) fn report(
    out: &Output,
    d: &Deploy,
    outcomes: Vec<(&str, Outcome)>,
) -> Result<(), Error> {
    let fleet = d.is_fleet();
    let mut human = String::new();
    let mut docs = Vec::new();
    let mut first_failure = None;
    for (host, outcome) in outcomes {
        let mut doc = outcome.doc;
        if let Some(map) = doc.as_object_mut() {
            map.insert("host".into(), json!(host));
        }
        if fleet {
            human.push_str(&section(host, &outcome.human));
        } else {
            human.push_str(&outcome.human);
        }
        docs.push(doc);
        if let Err(e) = outcome.result
            && first_failure.is_none()
        {
            first_failure = Some(on(d, host, e));
        }
    }
    let doc = if fleet {
        json!({"app": d.app, "stage": d.stage, "hosts": docs})
    } else {
        docs.pop().unwrap_or_default()
    };
    out.document(&human, &doc)?;
    first_failure.map_or(Ok(()), Err)
}

/// `error` on `host`: named when the stage is a fleet (the single engine's errors are as
/// they always were).
pub(super) fn on(d: &Deploy, host: &str, error: Error) -> Error {
    if d.is_fleet() {
        Error::Host {
            host: host.to_string(),
            source: Box::new(error),
        }
    } else {
        error
    }
}

/// `host NAME:` and the text indented under it.
pub(super) fn section(host: &str, text: &str) -> String {
    let mut out = format!("host {host}:\n");
    for line in text.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}
