//! Progress of a running deploy: a spinner per step on a terminal, plain lines without one
//! (or with `CI` set), one JSON object per line with `--output json`. The executor only
//! talks to the `Reporter` trait, so it does not know which one it feeds.

mod json;
mod plain;
mod spinner;

use std::io::IsTerminal;
use std::time::Duration;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::plan::Step;

pub use json::JsonReporter;
pub use plain::PlainReporter;
pub use spinner::SpinnerReporter;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    Failed,
    /// Not run, or undone, because an earlier step failed.
    Skipped,
}

/// What the executor tells whoever watches.
pub trait Reporter: Send {
    fn step_started(&mut self, n: usize, total: usize, step: &Step);
    /// A line about the step in progress (a probe result, a lock holder, a drain count).
    fn step_progress(&mut self, message: &str);
    fn step_finished(&mut self, n: usize, step: &Step, status: StepStatus, elapsed: Duration);
    /// Something that is not a step: compensation, a note, a warning.
    fn note(&mut self, message: &str);
    /// A hook (`hooks.*`) starts: `command` is its argv joined.
    fn hook_started(&mut self, hook: &str, command: &str) {
        self.note(&format!("hook {hook}: {command}"));
    }
    /// One line a hook printed (secrets already redacted).
    fn hook_output(&mut self, hook: &str, line: &str) {
        self.note(&format!("{hook} | {line}"));
    }
    /// A hook ended: `error` is why it failed, `None` when it succeeded.
    fn hook_finished(&mut self, hook: &str, elapsed: Duration, error: Option<&str>) {
        match error {
            None => self.note(&format!("hook {hook} done in {}", elapsed_text(elapsed))),
            Some(e) => self.note(&format!("hook {hook} failed: {e}")),
        }
    }
    /// The final result document (the last JSON line).
    fn result(&mut self, result: &serde_json::Value, human: &str);
}

/// The reporter for this run: JSON lines when asked for, a spinner on a terminal unless `CI`
/// is set, plain lines otherwise. `quiet` keeps only the final result.
pub fn for_output(format: OutputFormat, quiet: bool) -> Box<dyn Reporter> {
    match format {
        OutputFormat::Json => Box::new(JsonReporter::new()),
        OutputFormat::Human => {
            let terminal = std::io::stdout().is_terminal() && std::env::var_os("CI").is_none();
            if terminal && !quiet {
                Box::new(SpinnerReporter::new())
            } else {
                Box::new(PlainReporter::new(quiet))
            }
        }
    }
}

/// The reporter of a run on the one engine of a stage without `hosts:`: as [`for_output`],
/// and JSON events carry `host: "default"` and the run's id (DESIGN.md §3: every event names
/// its host), so a script reads single-host and fleet streams alike.
pub fn for_single(format: OutputFormat, quiet: bool, run: &str) -> Box<dyn Reporter> {
    match format {
        OutputFormat::Json => for_host(format, quiet, Some(crate::hooks::SINGLE_HOST), run),
        OutputFormat::Human => for_output(format, quiet),
    }
}

/// The reporter for one host of a fleet run, or for the fleet as a whole (`host` `None`):
/// JSON events carry `host` and `run`; human lines start with `[host]` (plain lines also on a
/// terminal, since several hosts' spinners would overwrite each other).
pub fn for_host(
    format: OutputFormat,
    quiet: bool,
    host: Option<&str>,
    run: &str,
) -> Box<dyn Reporter> {
    match format {
        OutputFormat::Json => {
            let mut tags = serde_json::Map::new();
            if let Some(host) = host {
                tags.insert("host".into(), host.into());
            }
            tags.insert("run".into(), run.into());
            Box::new(JsonReporter::tagged(tags))
        }
        OutputFormat::Human => {
            let prefix = host.map(|h| format!("[{h}] ")).unwrap_or_default();
            Box::new(PlainReporter::prefixed(quiet, prefix))
        }
    }
}

fn elapsed_text(d: Duration) -> String {
    elapsed(d)
}

fn elapsed(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
