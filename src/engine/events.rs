//! The engine's event stream, narrowed to one container and to what a health wait reacts to:
//! health status changes (the image's HEALTHCHECK) and the container's death.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt, stream};

use super::{Engine, EngineError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthEvent {
    /// `health_status: healthy`.
    Healthy,
    /// `health_status: unhealthy`; the engine keeps checking, so it may still turn healthy.
    Unhealthy,
    /// `die`: the main process ended. `None` when the engine did not say how.
    Died { exit_code: Option<i64> },
}

impl Engine {
    /// Health changes and the death of `container_id`, as they happen.
    ///
    /// The engine only reports health *changes*, and starts streaming at an unknown moment after
    /// the request: an event between an `inspect` and the subscription would be lost. `since`
    /// (on the engine's clock, e.g. the container's start) makes the engine replay what happened
    /// from then on first, so nothing falls into that gap.
    ///
    /// The stream does not end on its own: when the engine closes it (daemon shutdown), its last
    /// item is an error.
    pub fn health_events(
        &self,
        container_id: &str,
        since: Option<SystemTime>,
    ) -> impl Stream<Item = Result<HealthEvent, EngineError>> + Send + Unpin + 'static {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("container".to_string(), vec![container_id.to_string()]),
            // The engine matches `health_status` against "health_status: <status>" as a prefix.
            (
                "event".to_string(),
                vec!["health_status".to_string(), "die".to_string()],
            ),
        ]);
        let options = EventsOptions {
            since: since.map(engine_timestamp),
            until: None,
            filters: Some(filters),
        };
        let container = container_id.to_string();
        let failed = {
            let container = container.clone();
            move |source| EngineError::Events { container, source }
        };
        let closed = failed.clone()(bollard::errors::Error::IOError {
            err: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the engine closed its event stream",
            ),
        });
        let events = self
            .docker
            .events(Some(options))
            .filter_map(move |item| {
                let item = match item {
                    Ok(message) => health_event(&message).map(Ok),
                    Err(source) => Some(Err(failed.clone()(source))),
                };
                std::future::ready(item)
            })
            .chain(stream::once(std::future::ready(Err(closed))));
        Box::pin(events)
    }
}

/// "seconds.nanoseconds", the engine's own format for `since`.
fn engine_timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

fn health_event(message: &EventMessage) -> Option<HealthEvent> {
    match message.action.as_deref()? {
        "health_status: healthy" => Some(HealthEvent::Healthy),
        "health_status: unhealthy" => Some(HealthEvent::Unhealthy),
        "die" => {
            let exit_code = message
                .actor
                .as_ref()
                .and_then(|a| a.attributes.as_ref())
                .and_then(|attrs| attrs.get("exitCode"))
                .and_then(|code| code.parse().ok());
            Some(HealthEvent::Died { exit_code })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bollard::models::EventActor;

    use super::*;

    fn message(action: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            action: Some(action.to_string()),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(
                    attributes
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn reads_health_changes_and_deaths() {
        assert_eq!(
            health_event(&message("health_status: healthy", &[])),
            Some(HealthEvent::Healthy)
        );
        assert_eq!(
            health_event(&message("health_status: unhealthy", &[])),
            Some(HealthEvent::Unhealthy)
        );
        assert_eq!(
            health_event(&message("die", &[("exitCode", "3"), ("name", "x")])),
            Some(HealthEvent::Died { exit_code: Some(3) })
        );
        // A label may shadow the engine's attribute with anything.
        assert_eq!(
            health_event(&message("die", &[("exitCode", "many")])),
            Some(HealthEvent::Died { exit_code: None })
        );
        assert_eq!(health_event(&message("health_status: starting", &[])), None);
        assert_eq!(health_event(&message("start", &[])), None);
    }

    #[test]
    fn since_is_seconds_dot_nanoseconds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 42);
        assert_eq!(engine_timestamp(t), "1700000000.000000042");
    }
}
