//! The end of a fleet run: one row per host (host, the release live there now, how its part
//! ended) for people, and the `result` document with `hosts: [...]` (DESIGN.md §3, §9).

use serde_json::json;

use super::host::{HostRun, State};
use crate::spec::Deploy;

/// The result document and its human form.
pub fn result(
    command: &str,
    deploy: &Deploy,
    run: &str,
    image: &str,
    hosts: &[HostRun],
    code: i32,
    error: &Option<String>,
) -> (serde_json::Value, String) {
    let entries: Vec<serde_json::Value> = hosts.iter().map(entry).collect();
    let doc = json!({
        "ok": code == 0,
        "command": command,
        "app": deploy.app,
        "stage": deploy.stage,
        "run": run,
        "image": image,
        "hosts": entries,
        "exit_code": code,
        "error": error,
    });
    let rows: Vec<[String; 3]> = hosts.iter().map(row).collect();
    let mut human = table(&rows);
    let headline = match error {
        None => format!(
            "{}/{}: {command} done on {} host{} (run {run})",
            deploy.app,
            deploy.stage,
            hosts.len(),
            if hosts.len() == 1 { "" } else { "s" }
        ),
        Some(e) => format!(
            "{}/{}: {command} failed (exit {code}): {e}",
            deploy.app, deploy.stage
        ),
    };
    human.push_str(&headline);
    (doc, human)
}

fn entry(h: &HostRun) -> serde_json::Value {
    let shown = shown_release(h);
    json!({
        "host": h.name,
        "ok": h.state == State::Deployed,
        "result": h.state.word(),
        "container": shown.map(|r| r.container.clone()),
        "image": shown.map(|r| r.image.clone()),
        "role": if h.state == State::Deployed && h.live != h.new_release { "standby" } else { "live" },
        "exit_code": h.exit_code,
        "error": h.error,
    })
}

/// The release the entry names: the new one when it is standby (`up --no-cutover`), else the
/// one live now.
fn shown_release(h: &HostRun) -> Option<&super::host::Release> {
    match (h.state, &h.new_release) {
        (State::Deployed, Some(new)) => Some(new),
        _ => h.live.as_ref(),
    }
}

fn row(h: &HostRun) -> [String; 3] {
    let live = match &h.live {
        Some(r) => format!("{} ({})", r.container, r.image),
        None => "-".to_string(),
    };
    let mut result = h.state.word().to_string();
    if let Some(e) = &h.error {
        // The first line: the table stays a table; the JSON has it whole.
        result.push_str(": ");
        result.push_str(e.lines().next().unwrap_or_default());
    }
    [h.name.clone(), live, result]
}

fn table(rows: &[[String; 3]]) -> String {
    let header = [
        "HOST".to_string(),
        "LIVE NOW".to_string(),
        "RESULT".to_string(),
    ];
    let width = |c: usize| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    for r in std::iter::once(&header).chain(rows) {
        out.push_str(&format!("{:<w0$}  {:<w1$}  {}\n", r[0], r[1], r[2]));
    }
    out
}
