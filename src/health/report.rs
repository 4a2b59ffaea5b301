//! The error a failed health wait ends a deploy with: the reason, then the container's own
//! last words, read before the container is removed.

use std::fmt::Write as _;
use std::time::Duration;

use super::HealthError;
use crate::engine::EngineApi;

/// Enough to show a stack trace's top or a "listening on 127.0.0.1" line.
pub const LOG_LINES: u32 = 20;

/// A wedged engine must not hold up the report of a failure.
const LOGS_TIMEOUT: Duration = Duration::from_secs(10);

/// `err`, followed by the last `LOG_LINES` lines `container` wrote (or why they are missing).
///
/// The lines are the app's own output: the caller should redact secret values from the result
/// before printing it.
pub async fn failure_report(engine: &dyn EngineApi, container: &str, err: &HealthError) -> String {
    // What the engine said, when it was the engine that failed (a lost connection, say).
    let mut text = crate::error::chain::lines(err, "", "\n  caused by: ");
    if matches!(err, HealthError::Engine(_)) {
        let _ = write!(
            text,
            "\n  the engine failed or stopped answering while bgdeploy waited for the release; check \
             it with `docker info`"
        );
    }
    if matches!(err, HealthError::Gone { .. }) {
        return text;
    }
    // `container` is often an ID; the name is what the operator sees in `docker ps`.
    let shown = err.container().unwrap_or(container);
    let logs = tokio::time::timeout(LOGS_TIMEOUT, engine.logs_tail(container, LOG_LINES)).await;
    match logs {
        Ok(Ok(logs)) if logs.trim().is_empty() => {
            let _ = write!(text, "\n`{shown}` wrote nothing to its log");
        }
        Ok(Ok(logs)) => {
            let _ = write!(text, "\nlast log lines of `{shown}`:");
            for line in logs.lines() {
                let _ = write!(text, "\n  | {line}");
            }
        }
        Ok(Err(e)) => {
            let why = crate::error::chain::one_line(&e);
            let _ = write!(text, "\n(the logs of `{shown}` could not be read: {why})");
        }
        Err(_) => {
            let _ = write!(
                text,
                "\n(the logs of `{shown}` could not be read: no answer within {})",
                humantime::format_duration(LOGS_TIMEOUT)
            );
        }
    }
    text
}
