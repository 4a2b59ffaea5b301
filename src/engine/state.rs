//! A container's run state and health as a health wait needs them: whether it still runs,
//! how it ended, and what its HEALTHCHECK last said, with engine-clock times to anchor the
//! event stream on.

use std::time::SystemTime;

use bollard::models::{ContainerInspectResponse, HealthcheckResult};

use super::error::is_not_found;
use super::{Engine, EngineError};

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerState {
    pub id: String,
    pub name: String,
    /// The image as the container was created with it.
    pub image: String,
    pub running: bool,
    /// How the main process ended; `None` while running.
    pub exit_code: Option<i64>,
    /// The last start, on the engine's clock.
    pub started_at: Option<SystemTime>,
    /// `None` when the container has no HEALTHCHECK (none in the image, or disabled).
    pub health: Option<HealthState>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthState {
    /// "starting", "healthy" or "unhealthy".
    pub status: String,
    /// Failed checks in a row.
    pub failing_streak: i64,
    /// The newest check the engine kept.
    pub last: Option<HealthLogEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthLogEntry {
    pub exit_code: Option<i64>,
    pub output: String,
    /// When the check finished, on the engine's clock.
    pub end: Option<SystemTime>,
}

impl Engine {
    /// `None` when there is no such container.
    pub async fn container_state(
        &self,
        name_or_id: &str,
    ) -> Result<Option<ContainerState>, EngineError> {
        match self.docker.inspect_container(name_or_id, None).await {
            Ok(c) => Ok(Some(state(c))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(source) => Err(EngineError::InspectContainer {
                name: name_or_id.to_string(),
                source,
            }),
        }
    }
}

fn state(c: ContainerInspectResponse) -> ContainerState {
    let state = c.state.unwrap_or_default();
    let running = state.running.unwrap_or(false);
    let health = state.health.and_then(|h| {
        let status = h.status.map(|s| s.to_string()).unwrap_or_default();
        if status.is_empty() || status == "none" {
            return None;
        }
        Some(HealthState {
            status,
            failing_streak: h.failing_streak.unwrap_or(0),
            last: h.log.and_then(|log| log.into_iter().last()).map(log_entry),
        })
    });
    ContainerState {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: c.config.and_then(|c| c.image).unwrap_or_default(),
        running,
        exit_code: state.exit_code.filter(|_| !running),
        started_at: engine_time(state.started_at),
        health,
    }
}

fn log_entry(r: HealthcheckResult) -> HealthLogEntry {
    HealthLogEntry {
        exit_code: r.exit_code,
        output: r.output.unwrap_or_default(),
        end: engine_time(r.end),
    }
}

/// RFC 3339 from the engine; its "never" (year 1) and anything unreadable become `None`.
fn engine_time(t: Option<String>) -> Option<SystemTime> {
    t.and_then(|t| humantime::parse_rfc3339_weak(&t).ok())
        .filter(|t| *t > SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn engine_times() {
        assert_eq!(
            engine_time(Some("2024-05-01T10:00:00.123456789Z".into())),
            Some(UNIX_EPOCH + Duration::new(1_714_557_600, 123_456_789))
        );
        assert_eq!(engine_time(Some("0001-01-01T00:00:00Z".into())), None);
        assert_eq!(engine_time(None), None);
    }
}
