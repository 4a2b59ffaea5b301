//! The deploy history, kept on the engine: a JSON-lines file in the app/stage's state volume,
//! read and written through the lock container (which mounts the volume at `/state`) while
//! the lock is held. No local state: any machine pointed at the engine sees the same history.

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, EngineError};

pub const DIR: &str = "/state";
pub const FILE: &str = "history.jsonl";
/// Older records are dropped beyond this many, so the file stays small.
pub const MAX_RECORDS: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `up`, `cutover` or `rollback`.
    pub command: String,
    pub app: String,
    pub stage: String,
    pub image: String,
    /// The release container the command made live (or tried to).
    pub container: Option<String>,
    /// user@host, pid, CI job.
    pub by: String,
    /// Seconds since the epoch.
    pub started: i64,
    pub duration_secs: f64,
    /// `ok`, `standby` (up --no-cutover), `failed`, `interrupted`, `route_moved`, `needs_person`.
    pub result: String,
    pub exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The run id (also the hooks' `BGDEPLOY_RUN`); absent in records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The fleet host's name (`hosts:`); absent for a stage on the one engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// Parses the file, skipping lines that are not records (a record written by a newer
/// bgdeploy, a torn write) instead of failing: history must never block a deploy.
pub fn parse(text: &str) -> Vec<Record> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The file's new content: the old records plus `record`, at most `MAX_RECORDS`.
pub fn appended(old: &str, record: &Record) -> String {
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    lines.push(serde_json::to_string(record).unwrap_or_default());
    let skip = lines.len().saturating_sub(MAX_RECORDS);
    let mut out = lines[skip..].join("\n");
    out.push('\n');
    out
}

/// The history file's text as it is, read through the lock container (held by the caller);
/// empty when there is no history yet.
pub async fn read(engine: &Engine, lock_container: &str) -> Result<String, EngineError> {
    let path = format!("{DIR}/{FILE}");
    let bytes = engine
        .get_file(lock_container, &path)
        .await?
        .unwrap_or_default();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Writes `base` (the file as [`read`] found it under this lock) plus `record`. Always from
/// the same `base`, so a run that writes its record twice (a success, then a failure found
/// after it) leaves one record, the last.
pub async fn write(
    engine: &Engine,
    lock_container: &str,
    base: &str,
    record: &Record,
) -> Result<(), EngineError> {
    let text = appended(base, record);
    engine
        .put_file(lock_container, DIR, FILE, text.as_bytes())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: i64) -> Record {
        Record {
            command: "up".into(),
            app: "shop".into(),
            stage: "stage".into(),
            image: "shop:1".into(),
            container: Some(format!("shop_stage_{n}")),
            by: "ci@host pid 1".into(),
            started: n,
            duration_secs: 1.5,
            result: "ok".into(),
            exit_code: 0,
            message: None,
            run: None,
            host: None,
        }
    }

    #[test]
    fn appends_and_caps_and_survives_junk() {
        let mut text = String::from("not json\n");
        for n in 0..(MAX_RECORDS as i64 + 5) {
            text = appended(&text, &record(n));
        }
        let records = parse(&text);
        assert_eq!(records.len(), MAX_RECORDS);
        assert_eq!(
            records.last().map(|r| r.started),
            Some(MAX_RECORDS as i64 + 4)
        );
    }
}
