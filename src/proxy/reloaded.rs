//! Seeing that nginx applied a reload. `nginx -s reload` only signals the master process and
//! exits 0 whether or not the master then manages to load the new configuration; the master
//! starts a new generation of workers when it does (the old ones finish their requests and
//! exit). Comparing worker PIDs before and after, through the engine's process list (`ps` on
//! the engine's host, nothing needed in the image), tells the two apart, and returning only
//! once new workers run means traffic has moved when the switch returns.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::engine::{EngineApi, Process};

/// A master that applies a config starts its workers within milliseconds; seconds mean it
/// did not.
pub(super) const RELOAD_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// The nginx workers serving before a reload, when they can be seen.
pub(super) struct Before(Option<BTreeSet<u32>>);

/// What happened after a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// Only new workers took requests this long after the wait began.
    NewWorkers(Duration),
    /// None within the wait.
    Nothing,
    /// Workers cannot be seen (not nginx, or the engine would not list processes): no opinion.
    Unknown,
}

/// The workers now running in `container`; says on `on_line` when they cannot be seen.
pub(super) async fn before(
    engine: &dyn EngineApi,
    container: &str,
    on_line: &mut dyn FnMut(&str),
) -> Before {
    match engine.processes(container).await {
        Ok(processes) => {
            let workers = serving_workers(&processes);
            if workers.is_empty() {
                on_line(&format!(
                    "no nginx worker processes seen in `{container}`: the reload's effect \
                     cannot be confirmed"
                ));
                Before(None)
            } else {
                Before(Some(workers))
            }
        }
        Err(e) => {
            on_line(&format!(
                "the processes of `{container}` cannot be listed ({e}): the reload's effect \
                 cannot be confirmed"
            ));
            Before(None)
        }
    }
}

/// Waits up to `max` until the workers taking requests are all new: the master started new
/// ones, and every old one has stopped accepting (it stays, retitled, until its requests in
/// flight are done). Until then an old worker may still accept a connection and route it by
/// the old configuration.
pub(super) async fn wait(
    engine: &dyn EngineApi,
    container: &str,
    before: &Before,
    max: Duration,
) -> Seen {
    let Before(Some(old)) = before else {
        return Seen::Unknown;
    };
    let started = Instant::now();
    loop {
        match engine.processes(container).await {
            Ok(processes) => {
                let serving = serving_workers(&processes);
                if !serving.is_empty() && serving.is_disjoint(old) {
                    return Seen::NewWorkers(started.elapsed());
                }
            }
            Err(e) => {
                tracing::debug!(%container, error = %e, "cannot list processes after a reload");
                return Seen::Unknown;
            }
        }
        if started.elapsed() >= max {
            return Seen::Nothing;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// PIDs of nginx workers that take new requests: after a reload the old ones are retitled
/// `nginx: worker process is shutting down` until their last request is done.
fn serving_workers(processes: &[Process]) -> BTreeSet<u32> {
    processes
        .iter()
        .filter(|p| p.command.trim() == "nginx: worker process")
        .map(|p| p.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, command: &str) -> Process {
        Process {
            pid,
            command: command.to_string(),
        }
    }

    #[test]
    fn only_serving_workers_count() {
        let processes = [
            process(1, "nginx: master process /usr/sbin/nginx -g daemon off;"),
            process(7, "nginx: worker process is shutting down"),
            process(9, "nginx: worker process"),
            process(10, "nginx: cache manager process"),
            process(11, "sh -c sleep 5"),
        ];
        assert_eq!(serving_workers(&processes), BTreeSet::from([9]));
    }
}
