//! Reading the container's health events: the only way a wait learns of a death (or, in
//! `docker` mode, of a verdict) without polling the engine.

use futures_util::{Stream, StreamExt};

use super::HealthError;
use crate::engine::{EngineError, HealthEvent};

/// The next event; an engine failure (the engine's stream ends with one) is an error.
pub(super) async fn next_event<S>(events: &mut S) -> Result<HealthEvent, HealthError>
where
    S: Stream<Item = Result<HealthEvent, EngineError>> + Unpin,
{
    match events.next().await {
        Some(item) => item.map_err(HealthError::Engine),
        // Unreachable by the engine's contract (its last item is an error, and callers stop at
        // the first error); waiting forever leaves the verdict to the caller's deadline.
        None => std::future::pending().await,
    }
}

/// Resolves only when the container dies (or the engine fails); health changes are ignored.
pub(super) async fn until_death<S>(mut events: S, container: &str) -> HealthError
where
    S: Stream<Item = Result<HealthEvent, EngineError>> + Unpin,
{
    loop {
        match next_event(&mut events).await {
            Ok(HealthEvent::Died { exit_code }) => {
                return HealthError::Died {
                    container: container.to_string(),
                    exit_code,
                };
            }
            Ok(HealthEvent::Healthy | HealthEvent::Unhealthy) => {}
            Err(e) => return e,
        }
    }
}
