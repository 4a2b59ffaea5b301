//! Draining (DESIGN §2 step 7): waiting until the old container has no established TCP
//! connections on its app port, or the `drain` time is up. Counted from the kernel's
//! `/proc/net/tcp` and `tcp6` of the container, read like its route table (`route::ProcNet`),
//! so nothing in the image (no `netstat`, no `ss`) is needed on a local engine.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::engine::{ContainerDetails, Engine};
use crate::route::{ProcNet, ProcNetError, ReadOptions};

/// Often enough that a drain ends promptly, rarely enough that an exec-based count (three
/// engine calls) keeps up.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The kernel's `TCP_ESTABLISHED`, as `/proc/net/tcp` writes the `st` column.
const ESTABLISHED: &str = "01";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DrainOutcome {
    /// No connection was left.
    pub closed: bool,
    /// Connections open at the last count.
    pub remaining: usize,
    #[serde(with = "millis")]
    pub waited: Duration,
}

/// Connections in `/proc/net/tcp` or `tcp6` text that are ESTABLISHED with `port` as their
/// local port: requests being served by whatever listens on it. Rows are
/// `sl local_address rem_address st …`, addresses `HEXIP:HEXPORT`, the port in plain hex.
pub fn established_on_port(text: &str, port: u16) -> usize {
    text.lines()
        .filter(|line| {
            let mut f = line.split_whitespace().skip(1);
            let (Some(local), Some(_remote), Some(state)) = (f.next(), f.next(), f.next()) else {
                return false;
            };
            state == ESTABLISHED
                && local
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                    == Some(port)
        })
        .count()
}

/// Waits until `container` has no established connection on `port`, at most `max`, calling
/// `on_tick(open, waited)` after every count. A container that is gone or stopped counts as
/// drained: its connections went with it.
pub async fn drain(
    engine: &Engine,
    container: &str,
    port: u16,
    max: Duration,
    on_tick: &mut dyn FnMut(usize, Duration),
) -> Result<DrainOutcome, ProcNetError> {
    drain_with(
        engine,
        container,
        port,
        max,
        &ReadOptions::default(),
        on_tick,
    )
    .await
}

/// [`drain`], reading the tables through the source `options` asks for.
pub async fn drain_with(
    engine: &Engine,
    container: &str,
    port: u16,
    max: Duration,
    options: &ReadOptions,
    on_tick: &mut dyn FnMut(usize, Duration),
) -> Result<DrainOutcome, ProcNetError> {
    let net = match ProcNet::open(engine, container, options).await {
        Ok(net) => Some(net),
        Err(ProcNetError::NotRunning { .. } | ProcNetError::NoSuchContainer { .. }) => None,
        Err(e) => return Err(e),
    };
    let count = async || match &net {
        Some(net) => open_connections(engine, net, port).await,
        None => Ok(0),
    };
    poll_until_zero(max, POLL_INTERVAL, count, on_tick).await
}

/// Calls `count` every `interval` until it says 0 or `max` has passed since the first call
/// (one last count happens at `max`). Errors from `count` end the wait.
pub async fn poll_until_zero<E>(
    max: Duration,
    interval: Duration,
    mut count: impl AsyncFnMut() -> Result<usize, E>,
    on_tick: &mut dyn FnMut(usize, Duration),
) -> Result<DrainOutcome, E> {
    let start = Instant::now();
    let deadline = start + max;
    let mut next = start;
    loop {
        let open = count().await?;
        let waited = start.elapsed();
        on_tick(open, waited);
        if open == 0 || waited >= max {
            return Ok(DrainOutcome {
                closed: open == 0,
                remaining: open,
                waited,
            });
        }
        // On a fixed cadence from the start, so slow counts do not stretch the interval.
        next += interval;
        tokio::time::sleep_until(next.min(deadline)).await;
    }
}

async fn open_connections(
    engine: &Engine,
    net: &ProcNet<'_>,
    port: u16,
) -> Result<usize, ProcNetError> {
    match count_tables(net, port).await {
        Err(_) if gone(engine, net.container()).await => Ok(0),
        other => other,
    }
}

async fn count_tables(net: &ProcNet<'_>, port: u16) -> Result<usize, ProcNetError> {
    let mut open = 0;
    let mut cut = false;
    for file in ["tcp", "tcp6"] {
        if let Some(table) = net.read(file).await? {
            open += established_on_port(&table.text, port);
            cut |= table.truncated;
        }
    }
    // Connections may hide in the part that was cut off: never call that drained.
    Ok(if cut { open.max(1) } else { open })
}

/// The process whose tables we read has ended (stopped, removed, or restarted with a new PID).
async fn gone(engine: &Engine, was: &ContainerDetails) -> bool {
    match engine.inspect_container(&was.id).await {
        Ok(None) => true,
        Ok(Some(now)) => !now.running || now.pid != was.pid,
        Err(_) => false,
    }
}

/// A plain number of milliseconds in JSON output, rather than serde's `{secs, nanos}`.
mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests;
