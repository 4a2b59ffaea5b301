//! Plain lines, for logs and CI: one line when a step starts, one when it ends.

use std::io::Write;
use std::time::Duration;

use super::{Reporter, StepStatus, elapsed};
use crate::plan::Step;

pub struct PlainReporter {
    quiet: bool,
    /// Put before every line: `[web1] ` when several hosts report at once.
    prefix: String,
}

impl PlainReporter {
    pub fn new(quiet: bool) -> PlainReporter {
        PlainReporter::prefixed(quiet, String::new())
    }

    /// Lines that start with `prefix`, so that hosts deploying at once stay readable.
    pub fn prefixed(quiet: bool, prefix: String) -> PlainReporter {
        PlainReporter { quiet, prefix }
    }

    fn line(&self, text: &str) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            // A closed stdout must not abort a deploy half-way: progress is best effort.
            let _ = writeln!(out, "{}{text}", self.prefix);
            let _ = out.flush();
        }
    }
}

impl Reporter for PlainReporter {
    fn step_started(&mut self, n: usize, total: usize, step: &Step) {
        self.line(&format!("[{n:>2}/{total}] {}", step.description));
    }

    fn step_progress(&mut self, message: &str) {
        self.line(&format!("        {message}"));
    }

    fn step_finished(&mut self, n: usize, _step: &Step, status: StepStatus, took: Duration) {
        let word = match status {
            StepStatus::Done => "done",
            StepStatus::Failed => "FAILED",
            StepStatus::Skipped => "skipped",
        };
        self.line(&format!("[{n:>2}] {word} in {}", elapsed(took)));
    }

    fn note(&mut self, message: &str) {
        self.line(&format!("  --> {message}"));
    }

    fn result(&mut self, _result: &serde_json::Value, human: &str) {
        // `-q` prints errors only: the exit code says the rest.
        self.line(human);
    }
}
