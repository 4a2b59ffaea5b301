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
}

/// Newest first. Records of the same second keep the reverse of their file order, which is
/// the order they were written in.
pub fn entries(records: Vec<Record>) -> Vec<Entry> {
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
        })
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.started));
    entries
}

/// The JSON contract: a list of entries, newest first.
pub fn json(entries: &[Entry]) -> String {
    serde_json::to_string_pretty(entries).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub fn human(app: &str, stage: &str, entries: &[Entry]) -> String {
    if entries.is_empty() {
        return format!("No deploys recorded for {app}/{stage}.\n");
    }
    let mut t = Table::new(&[
        "TIME",
        "COMMAND",
        "RESULT",
        "IMAGE",
        "DURATION",
        "BY",
        "CONTAINER",
        "MESSAGE",
    ]);
    for e in entries {
        t.row(vec![
            e.time.clone(),
            e.command.clone(),
            e.result.clone(),
            e.image.clone(),
            duration(e.duration_secs),
            e.by.clone(),
            or_dash(e.container.as_deref()),
            first_line(e.message.as_deref()),
        ]);
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
        entries(vec![
            record("up", 1_795_000_000, "ok", None),
            record(
                "up",
                1_795_000_100,
                "failed",
                Some("release never became healthy\n  caused by: 404"),
            ),
            record("rollback", 1_795_000_100, "ok", None),
            record("cutover", 1_795_003_700, "ok", None),
        ])
    }

    #[test]
    fn newest_first_and_same_second_in_reverse_file_order() {
        let commands: Vec<String> = fixture().into_iter().map(|e| e.command).collect();
        assert_eq!(commands, ["cutover", "rollback", "up", "up"]);
    }

    #[test]
    fn human_snapshot() {
        insta::assert_snapshot!(human("shop", "stage", &fixture()));
        assert_eq!(
            human("shop", "stage", &[]),
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
