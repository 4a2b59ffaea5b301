//! The `docker` check: the image's own HEALTHCHECK, followed through the engine's event
//! stream (the engine reports changes; it is never polled).

use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use super::HealthError;
use super::probe::{Probe, ProbeReport};
use super::watch::next_event;
use crate::engine::{ContainerState, Engine, HealthEvent, HealthState};

/// Reading the final state for the error message must not hold a failed deploy up for long.
const FINAL_INSPECT: Duration = Duration::from_secs(5);

pub(super) async fn wait(
    engine: &Engine,
    state: &ContainerState,
    started: Instant,
    deadline: Instant,
    budget: Duration,
    on_probe: &mut dyn FnMut(&ProbeReport),
) -> Result<(), HealthError> {
    let Some(health) = &state.health else {
        return Err(HealthError::NoHealthcheck {
            container: state.name.clone(),
            image: state.image.clone(),
        });
    };
    let mut reports = 0;
    let mut report = |probe: Probe| {
        reports += 1;
        let streak = u32::from(probe.passed());
        on_probe(&ProbeReport {
            attempt: reports,
            probe,
            streak,
            needed: 1,
            elapsed: started.elapsed(),
        });
    };
    if health.status == "healthy" {
        report(Probe::Pass("HEALTHCHECK: healthy".into()));
        return Ok(());
    }
    report(Probe::Fail(format!("HEALTHCHECK: {}", health.status)));
    // Replay from the newest check the engine already counted, so that a change between the
    // inspect and the subscription is not lost (the engine only reports changes).
    let since = match (state.started_at, health.last.as_ref().and_then(|l| l.end)) {
        (Some(start), Some(end)) => Some(start.max(end)),
        (start, end) => start.or(end),
    };
    let mut events = engine.health_events(&state.id, since);
    loop {
        match timeout_at(deadline, next_event(&mut events)).await {
            Ok(Ok(HealthEvent::Healthy)) => {
                report(Probe::Pass("HEALTHCHECK: healthy".into()));
                return Ok(());
            }
            Ok(Ok(HealthEvent::Unhealthy)) => {
                // The engine keeps checking: an app that starts slower than the HEALTHCHECK's
                // retries allow still turns healthy later.
                report(Probe::Fail("HEALTHCHECK: unhealthy".into()));
            }
            Ok(Ok(HealthEvent::Died { exit_code })) => {
                return Err(HealthError::Died {
                    container: state.name.clone(),
                    exit_code,
                });
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return timed_out(engine, state, health, budget).await,
        }
    }
}

/// The timeout, with the engine's own account of its last check; or success, when the
/// engine's verdict arrived just as the deadline passed.
async fn timed_out(
    engine: &Engine,
    state: &ContainerState,
    seen: &HealthState,
    budget: Duration,
) -> Result<(), HealthError> {
    let fresh = tokio::time::timeout(FINAL_INSPECT, engine.container_state(&state.id))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let health = fresh
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .unwrap_or(seen);
    if health.status == "healthy" {
        return Ok(());
    }
    let mut last = health.status.clone();
    if let Some(entry) = &health.last {
        let exit = entry
            .exit_code
            .map_or_else(|| "?".to_string(), |c| c.to_string());
        last.push_str(&format!("; the last check exited {exit}"));
        if let Some(line) = super::describe::last_line(&entry.output, 200) {
            last.push_str(&format!(": {line}"));
        }
    }
    Err(HealthError::Timeout {
        container: state.name.clone(),
        mode: "docker",
        check: "the image's HEALTHCHECK, as the engine reports it".to_string(),
        last,
        attempts: u32::try_from(health.failing_streak).unwrap_or(0),
        deadline: budget,
    })
}
