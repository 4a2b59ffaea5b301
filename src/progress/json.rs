//! One JSON object per line: `step_started`, `step_progress`, `step_finished`, `note`, then
//! `result`. Scripts read the stream as it comes.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use super::{Reporter, StepStatus};
use crate::plan::Step;

#[derive(Default)]
pub struct JsonReporter {
    /// Fields every event carries (a fleet run's `host` and `run`).
    tags: serde_json::Map<String, serde_json::Value>,
}

impl JsonReporter {
    pub fn new() -> JsonReporter {
        JsonReporter::default()
    }

    /// Every event also carries `tags` (e.g. `{"host": "web1", "run": "…"}`).
    pub fn tagged(tags: serde_json::Map<String, serde_json::Value>) -> JsonReporter {
        JsonReporter { tags }
    }

    fn emit(&self, mut value: serde_json::Value) {
        if let Some(map) = value.as_object_mut() {
            for (k, v) in &self.tags {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }
}

impl Reporter for JsonReporter {
    fn step_started(&mut self, n: usize, total: usize, step: &Step) {
        self.emit(json!({"event": "step_started", "n": n, "total": total, "step": step}));
    }

    fn step_progress(&mut self, message: &str) {
        self.emit(json!({"event": "step_progress", "message": message}));
    }

    fn step_finished(&mut self, n: usize, step: &Step, status: StepStatus, elapsed: Duration) {
        self.emit(json!({
            "event": "step_finished",
            "n": n,
            "action": step.action_name(),
            "target": step.target,
            "status": status,
            "elapsed_secs": elapsed.as_secs_f64(),
        }));
    }

    fn note(&mut self, message: &str) {
        self.emit(json!({"event": "note", "message": message}));
    }

    fn hook_started(&mut self, hook: &str, command: &str) {
        self.emit(json!({"event": "hook_started", "hook": hook, "command": command}));
    }

    fn hook_output(&mut self, hook: &str, line: &str) {
        self.emit(json!({"event": "hook_output", "hook": hook, "line": line}));
    }

    fn hook_finished(&mut self, hook: &str, elapsed: Duration, error: Option<&str>) {
        self.emit(json!({
            "event": "hook_finished",
            "hook": hook,
            "ok": error.is_none(),
            "error": error,
            "elapsed_secs": elapsed.as_secs_f64(),
        }));
    }

    fn result(&mut self, result: &serde_json::Value, _human: &str) {
        let mut doc = result.clone();
        if let Some(map) = doc.as_object_mut() {
            map.insert("event".into(), json!("result"));
        }
        self.emit(doc);
    }
}
