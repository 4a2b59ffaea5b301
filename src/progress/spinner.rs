//! A spinner per step with its elapsed time, for a person at a terminal. Steps that run
//! together (`with_previous`) each have their own line until they end.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{Reporter, StepStatus, elapsed};
use crate::plan::Step;

pub struct SpinnerReporter {
    bars: MultiProgress,
    /// The steps running now: (number, its bar, its prefix).
    running: Vec<(usize, ProgressBar, String)>,
}

impl SpinnerReporter {
    pub fn new() -> SpinnerReporter {
        SpinnerReporter {
            bars: MultiProgress::new(),
            running: Vec::new(),
        }
    }

    /// Prints a line above the spinners (or plainly when none runs).
    fn line(&self, text: String) {
        if self.running.is_empty() || self.bars.println(&text).is_err() {
            println!("{text}");
        }
    }
}

impl Default for SpinnerReporter {
    fn default() -> Self {
        Self::new()
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed:>4}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Reporter for SpinnerReporter {
    fn step_started(&mut self, n: usize, total: usize, step: &Step) {
        let bar = self
            .bars
            .add(ProgressBar::new_spinner().with_style(style()));
        let prefix = format!("[{n:>2}/{total}]");
        bar.set_prefix(prefix.clone());
        bar.set_message(step.description.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.running.push((n, bar, prefix));
    }

    /// Progress lines come from steps that run alone: the newest bar shows them.
    fn step_progress(&mut self, message: &str) {
        if let Some((_, bar, _)) = self.running.last() {
            bar.set_message(message.to_string());
        }
    }

    fn step_finished(&mut self, n: usize, step: &Step, status: StepStatus, took: Duration) {
        let mark = match status {
            StepStatus::Done => "ok",
            StepStatus::Failed => "FAILED",
            StepStatus::Skipped => "skipped",
        };
        let at = self.running.iter().position(|(m, _, _)| *m == n);
        let prefix = at.map_or_else(|| format!("[{n:>2}]"), |i| self.running[i].2.clone());
        let line = format!("{prefix} {} ({mark}, {})", step.description, elapsed(took));
        if let Some(i) = at {
            let (_, bar, _) = self.running.remove(i);
            bar.finish_and_clear();
            self.bars.remove(&bar);
        }
        self.line(line);
    }

    fn note(&mut self, message: &str) {
        self.line(format!("  --> {message}"));
    }

    fn result(&mut self, _result: &serde_json::Value, human: &str) {
        for (_, bar, _) in self.running.drain(..) {
            bar.finish_and_clear();
        }
        println!("{human}");
    }
}
