//! The run's history record, written through the lock container. The file is read once per
//! run and every write is that text plus this run's record, so a run that records twice (a
//! success written while the old release stops, then a failure found after it) leaves one
//! record, the last.

use super::Executor;
use crate::engine::{Engine, EngineError};
use crate::history::{self, Record};

/// Reads the history through `lock` (unless `base` already holds it) and writes it back with
/// `record`; returns the text as read, for a later rewrite.
pub(super) async fn write_record(
    engine: &Engine,
    lock: &str,
    base: Option<String>,
    record: &Record,
) -> (Option<String>, Result<(), EngineError>) {
    let base = match base {
        Some(text) => text,
        None => match history::read(engine, lock).await {
            Ok(text) => text,
            Err(e) => return (None, Err(e)),
        },
    };
    let written = history::write(engine, lock, &base, record).await;
    (Some(base), written)
}

impl Executor<'_> {
    /// This run's record, as of now.
    pub(super) fn history_record(
        &self,
        result: &str,
        exit_code: i32,
        message: Option<String>,
    ) -> Record {
        Record {
            command: self.command.to_string(),
            app: self.deploy.app.clone(),
            stage: self.deploy.stage.clone(),
            image: self.image.clone(),
            container: self.outcome.container.clone(),
            by: crate::lock::owner(),
            started: self.started_epoch,
            duration_secs: self.started.elapsed().as_secs_f64(),
            result: result.to_string(),
            exit_code,
            message,
            run: Some(self.run.clone()),
            host: self.host.clone(),
        }
    }

    /// Writes this run's record. Best effort: history must never turn a good deploy into a
    /// failed one.
    pub(super) async fn record(&mut self, result: &str, exit_code: i32, message: Option<String>) {
        let Some(lock) = self.lock.as_ref().map(|l| l.name.clone()) else {
            return;
        };
        let record = self.history_record(result, exit_code, message);
        let (base, written) =
            write_record(self.engine, &lock, self.history_base.take(), &record).await;
        self.history_base = base;
        if let Err(e) = written {
            self.reporter
                .note(&format!("could not record the deploy in the history: {e}"));
        }
    }
}
