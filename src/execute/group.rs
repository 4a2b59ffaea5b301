//! Steps that run at the same time (`Step::with_previous`): the end of a switch, where the
//! old release stops, retired releases beyond `keep` go and the history is written. They are
//! independent engine calls; one after the other they were most of a deploy's tail. Each
//! step's work is prepared from the executor's state before they start and its effect applied
//! after each ends, so the running calls share nothing but the engine connection.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::{DeployError, Executor};
use crate::engine::{EngineApi, EngineError};
use crate::history::Record;
use crate::plan::{Action, Step};
use crate::progress::StepStatus;

/// Whether `action` may run alongside other steps: only single engine calls after the switch
/// that register no undo and read nothing another step writes.
pub(super) fn groupable(action: &Action) -> bool {
    matches!(
        action,
        Action::StopContainer { .. }
            | Action::RemoveContainer { .. }
            | Action::RecordHistory { .. }
    )
}

/// One step's engine work, with everything it needs owned.
enum Work {
    Stop {
        container: String,
        timeout: Duration,
    },
    Remove {
        container: String,
    },
    /// Through the lock container (`None`: no lock, nothing to write through), from the
    /// history text already read, if any.
    History(Option<Box<(String, Option<String>, Record)>>),
}

/// What a step's work did.
enum Done {
    Engine(Result<(), EngineError>),
    /// The history text as read, and whether the write went through.
    History(Option<String>, Result<(), EngineError>),
}

impl Work {
    async fn run(&mut self, engine: &dyn EngineApi) -> Done {
        match self {
            Work::Stop { container, timeout } => {
                Done::Engine(engine.stop_container(container, *timeout).await)
            }
            Work::Remove { container } => {
                Done::Engine(engine.remove_container(container, true).await)
            }
            Work::History(Some(job)) => {
                let (lock, base, record) = &mut **job;
                let (base, written) =
                    super::record::write_record(engine, lock, base.take(), record).await;
                Done::History(base, written)
            }
            Work::History(None) => Done::History(None, Ok(())),
        }
    }
}

impl Executor<'_> {
    /// Runs `group` (every step `groupable`) at once; reports each step as it ends. The
    /// first failure is returned once all have ended, the others are noted.
    pub(super) async fn run_group(
        &mut self,
        group: &[Step],
        total: usize,
    ) -> Result<(), DeployError> {
        let mut works = Vec::with_capacity(group.len());
        for step in group {
            let work = self.prepare(step);
            self.step_count += 1;
            self.reporter.step_started(self.step_count, total, step);
            works.push((self.step_count, step, work));
        }
        let engine = self.engine;
        let mut running: FuturesUnordered<_> = works
            .into_iter()
            .map(|(n, step, mut work)| async move {
                let t = Instant::now();
                let result = work.run(engine).await;
                (n, step, work, result, t.elapsed())
            })
            .collect();
        let mut failure = None;
        while let Some((n, step, work, result, took)) = running.next().await {
            let status = match self.settle(step, work, result) {
                Ok(()) => StepStatus::Done,
                Err(e) => {
                    if failure.is_some() {
                        self.reporter.note(&format!("also failed: {e}"));
                    } else {
                        failure = Some(e);
                    }
                    StepStatus::Failed
                }
            };
            self.reporter.step_finished(n, step, status, took);
        }
        if let Some(e) = failure {
            return Err(e);
        }
        // As after a single step: a signal during the group is honoured once it ended.
        if !self.switched && self.cancel.is_cancelled() {
            return Err(DeployError::Interrupted {
                step: group
                    .iter()
                    .map(|s| s.description.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        Ok(())
    }

    fn prepare(&mut self, step: &Step) -> Work {
        match &step.action {
            Action::StopContainer {
                container,
                timeout_secs,
            } => {
                self.enter_phase(step);
                Work::Stop {
                    container: container.clone(),
                    timeout: Duration::from_secs_f64(*timeout_secs),
                }
            }
            Action::RemoveContainer { container, .. } => {
                self.enter_phase(step);
                Work::Remove {
                    container: container.clone(),
                }
            }
            Action::RecordHistory { .. } => {
                self.enter_phase(step);
                let Some(lock) = self.lock.as_ref().map(|l| l.name.clone()) else {
                    return Work::History(None);
                };
                let record = self.history_record(self.success_word(), 0, None);
                Work::History(Some(Box::new((lock, self.history_base.take(), record))))
            }
            // `run` groups only the steps `groupable` admits.
            _ => Work::History(None),
        }
    }

    /// Applies what a step's work did to the outcome.
    fn settle(&mut self, step: &Step, work: Work, done: Done) -> Result<(), DeployError> {
        match (work, done) {
            (Work::Stop { container, .. }, Done::Engine(Ok(()))) => {
                self.outcome.retired.push(container)
            }
            (Work::Remove { container }, Done::Engine(Ok(()))) => {
                self.outcome.removed.push(container)
            }
            (_, Done::Engine(Err(e))) => return Err(self.after_switch(step, e)),
            (_, Done::History(base, written)) => {
                self.history_base = base;
                // History must never turn a good deploy into a failed one.
                if let Err(e) = written {
                    self.reporter
                        .note(&format!("could not record the deploy in the history: {e}"));
                }
            }
            (Work::History(_), Done::Engine(Ok(()))) => {}
        }
        Ok(())
    }
}
