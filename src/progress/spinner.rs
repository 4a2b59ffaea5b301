//! A spinner per step with its elapsed time, for a person at a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Reporter, StepStatus, elapsed};
use crate::plan::Step;

pub struct SpinnerReporter {
    bar: Option<ProgressBar>,
    prefix: String,
}

impl SpinnerReporter {
    pub fn new() -> SpinnerReporter {
        SpinnerReporter {
            bar: None,
            prefix: String::new(),
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
        let bar = ProgressBar::new_spinner().with_style(style());
        self.prefix = format!("[{n:>2}/{total}]");
        bar.set_prefix(self.prefix.clone());
        bar.set_message(step.description.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bar = Some(bar);
    }

    fn step_progress(&mut self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }

    fn step_finished(&mut self, _n: usize, step: &Step, status: StepStatus, took: Duration) {
        let mark = match status {
            StepStatus::Done => "ok",
            StepStatus::Failed => "FAILED",
            StepStatus::Skipped => "skipped",
        };
        let line = format!(
            "{} {} ({mark}, {})",
            self.prefix,
            step.description,
            elapsed(took)
        );
        match self.bar.take() {
            Some(bar) => {
                bar.finish_and_clear();
                println!("{line}");
            }
            None => println!("{line}"),
        }
    }

    fn note(&mut self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("  --> {message}")),
            None => println!("  --> {message}"),
        }
    }

    fn result(&mut self, _result: &serde_json::Value, human: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        println!("{human}");
    }
}
