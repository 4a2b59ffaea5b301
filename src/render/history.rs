//! `bgdeploy history` output: the records newest first, as a table or a JSON list.

use serde::Serialize;

use super::table::{Table, or_dash};
use crate::history::Record;
use crate::time::since_epoch_rfc3339;

/// One record as shown: the stored fields plus `time` in RFC 3339.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// When the command started, RFC 3339 (UTC).
    pub time: String,
    /// The same instant, seconds since the epoch.
    pub started: i64,
    /// `user@host pid N[ ci job X]`.
    pub by: String,
    /// `up`, `cutover` or `rollback`.
    pub command: String,
    pub image: String,
    pub container: Option<String>,
    /// `ok`, `standby`, `failed`, `interrupted`, `route_moved`, `needs_person`.
    pub result: String,
    pub exit_code: i32,
    pub duration_secs: f64,
    pub message: Option<String>,
    /// The host it ran on: the fleet host's name, `default` for the one engine.
    pub host: String,
    /// The run id, shared by every host of one fleet run; absent in older records.
    pub run: Option<String>,
}

/// Newest first, the records of one run together (a fleet run writes one per host, in the
/// spec's host order). Records of the same second keep the reverse of their file order, which
/// is the order they were written in. A record without a host gets `default_host`.
pub fn entries(records: Vec<Record>, default_host: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = records
        .into_iter()
        .rev()
        .map(|r| Entry {
            time: since_epoch_rfc3339(r.started),
            started: r.started,
            by: r.by,
            command: r.command,
            image: r.image,
            container: r.container,
            result: r.result,
            exit_code: r.exit_code,
            duration_secs: r.duration_secs,
            message: r.message,
            host: r.host.unwrap_or_else(|| default_host.to_string()),
            run: r.run,
        })
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.started));
    entries
}

/// Several hosts' entries (each newest first, in the spec's host order) as one list: newest
/// run first, a run's entries together in host order. A run starts when its first host did.
pub fn merge(hosts: Vec<Vec<Entry>>) -> Vec<Entry> {
    let mut all: Vec<(usize, usize, Entry)> = hosts
        .into_iter()
        .enumerate()
        .flat_map(|(h, entries)| entries.into_iter().enumerate().map(move |(i, e)| (h, i, e)))
        .collect();
    let mut run_start: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for (_, _, e) in &all {
        if let Some(run) = &e.run {
            let start = run_start.entry(run.clone()).or_insert(e.started);
            *start = (*start).min(e.started);
        }
    }
    let key = |e: &Entry| {
        let start = e.run.as_ref().and_then(|r| run_start.get(r)).copied();
        (start.unwrap_or(e.started), e.run.clone())
    };
    all.sort_by(|(ha, ia, a), (hb, ib, b)| key(b).cmp(&key(a)).then(ha.cmp(hb)).then(ia.cmp(ib)));
    all.into_iter().map(|(_, _, e)| e).collect()
}

/// The JSON contract: a list of entries, newest first.
pub fn json(entries: &[Entry]) -> String {
    serde_json::to_string_pretty(entries).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The table; `fleet` adds the HOST and RUN columns (a fleet's records come from several
/// hosts, and one run wrote one on each).
pub fn human(app: &str, stage: &str, entries: &[Entry], fleet: bool) -> String {
    if entries.is_empty() {
        return format!("No deploys recorded for {app}/{stage}.\n");
    }
    let mut columns = vec!["TIME"];
    if fleet {
        columns.extend(["RUN", "HOST"]);
    }
    columns.extend([
        "COMMAND",
        "RESULT",
        "IMAGE",
        "DURATION",
        "BY",
        "CONTAINER",
        "MESSAGE",
    ]);
    let mut t = Table::new(&columns);
    for e in entries {
        let mut row = vec![e.time.clone()];
        if fleet {
            row.extend([or_dash(e.run.as_deref()), e.host.clone()]);
        }
        row.extend([
            e.command.clone(),
            e.result.clone(),
            e.image.clone(),
            duration(e.duration_secs),
            e.by.clone(),
            or_dash(e.container.as_deref()),
            first_line(e.message.as_deref()),
        ]);
        t.row(row);
    }
    t.render("")
}

fn duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = secs.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// Messages can be long error chains: the table shows the first line, cut at 100
/// characters; JSON has all of it.
fn first_line(message: Option<&str>) -> String {
    let line = message.and_then(|m| m.lines().next()).unwrap_or("");
    let mut shown: String = line.chars().take(100).collect();
    if line.chars().count() > 100 {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(command: &str, started: i64, result: &str, message: Option<&str>) -> Record {
        Record {
            command: command.into(),
            app: "shop".into(),
            stage: "stage".into(),
            image: format!("shop:{started}"),
            container: Some(format!("shop_stage_{started}")),
            by: "ann@box pid 7".into(),
            started,
            duration_secs: 4.25,
            result: result.into(),
            exit_code: if result == "ok" { 0 } else { 1 },
            message: message.map(str::to_string),
            run: None,
            host: None,
        }
    }

    fn fixture() -> Vec<Entry> {
        // File order: oldest first, as `history::write` keeps it.
        entries(
            vec![
                record("up", 1_795_000_000, "ok", None),
                record(
                    "up",
                    1_795_000_100,
                    "failed",
                    Some("release never became healthy\n  caused by: 404"),
                ),
                record("rollback", 1_795_000_100, "ok", None),
                record("cutover", 1_795_003_700, "ok", None),
            ],
            "default",
        )
    }

    fn at(host: &str, run: &str, started: i64) -> Entry {
        let mut r = record("up", started, "ok", None);
        r.run = Some(run.to_string());
        entries(vec![r], host).remove(0)
    }

    #[test]
    fn fleet_records_merge_by_run_newest_run_first_hosts_in_order() {
        // Run b started on h1 at 200 and reached h2 at 230; run a was earlier on both.
        let merged = merge(vec![
            vec![at("h1", "b", 200), at("h1", "a", 100)],
            vec![at("h2", "b", 230), at("h2", "a", 110)],
        ]);
        let got: Vec<(String, String)> = merged
            .into_iter()
            .map(|e| (e.run.unwrap_or_default(), e.host))
            .collect();
        let want = [("b", "h1"), ("b", "h2"), ("a", "h1"), ("a", "h2")]
            .map(|(r, h)| (r.to_string(), h.to_string()));
        assert_eq!(got, want);
    }

    #[test]
    fn newest_first_and_same_second_in_reverse_file_order() {
        let commands: Vec<String> = fixture().into_iter().map(|e| e.command).collect();
        assert_eq!(commands, ["cutover", "rollback", "up", "up"]);
    }

    #[test]
    fn human_snapshot() {
        insta::assert_snapshot!(human("shop", "stage", &fixture(), false));
        assert_eq!(
            human("shop", "stage", &[], false),
            "No deploys recorded for shop/stage.\n"
        );
    }

    #[test]
    fn json_snapshot() {
        insta::assert_snapshot!(json(&fixture()));
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0.04), "0.0s");
        assert_eq!(duration(59.94), "59.9s");
        assert_eq!(duration(125.4), "2m05s");
    }
}
