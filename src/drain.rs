//! Draining (DESIGN §2 step 7): waiting until the old container has no established TCP
//! connections on its app port, or the `drain` time is up. Counted from the kernel's
//! `/proc/net/tcp` and `tcp6` of the container, read like its route table (`route::ProcNet`),
//! so nothing in the image (no `netstat`, no `ss`) is needed on a local engine.

use std::net::{IpAddr, SocketAddr};
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
/// `TCP_SYN_SENT`: a connect under way.
const SYN_SENT: &str = "02";

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

/// A proxy that may still be about to reach the release being drained.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The proxy container.
    pub proxy: String,
    /// The network the proxy reaches the release on, and the port it connects to: the
    /// release's address there is what the proxy's connections are matched against.
    pub network: String,
    pub port: u16,
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
    drain_watching(engine, container, port, max, None, on_tick).await
}

/// [`drain`], also counting the connections `watch.proxy` has open or is opening to the
/// release. A request that a proxy worker took before the switch can sit in a connect the
/// release has not answered yet — a SYN dropped by a full accept queue is sent again only a
/// second later — and the release's own table does not show it: stopped then, the release
/// answers the retry with a reset, and the proxy with a 502. Not knowing the proxy's
/// connections (it stopped, its table cannot be read) leaves the release's count alone.
pub async fn drain_watching(
    engine: &Engine,
    container: &str,
    port: u16,
    max: Duration,
    watch: Option<&Watch>,
    on_tick: &mut dyn FnMut(usize, Duration),
) -> Result<DrainOutcome, ProcNetError> {
    let options = ReadOptions::default();
    let net = match ProcNet::open(engine, container, &options).await {
        Ok(net) => net,
        // Gone or stopped: its connections went with it.
        Err(ProcNetError::NotRunning { .. } | ProcNetError::NoSuchContainer { .. }) => {
            return poll_until_zero(max, POLL_INTERVAL, async || Ok(0), on_tick).await;
        }
        Err(e) => return Err(e),
    };
    // The release's address comes from the inspect `open` just made.
    let target = watch.and_then(|w| {
        net.container()
            .endpoints
            .iter()
            .find(|e| e.network == w.network)
            .and_then(|e| e.ip.as_deref()?.parse::<IpAddr>().ok())
            .map(|ip| (w, SocketAddr::new(ip, w.port)))
    });
    let proxy = match target {
        Some((w, target)) => match ProcNet::open(engine, &w.proxy, &options).await {
            Ok(p) => Some((p, target)),
            Err(e) => {
                tracing::debug!(proxy = %w.proxy, "cannot read the proxy's connections: {e}");
                None
            }
        },
        None => None,
    };
    let count = async || {
        let own = match count_tables(&net, port).await {
            Ok(n) => n,
            // The release has gone meanwhile: nothing reaches it any more.
            Err(_) if gone(engine, net.container()).await => return Ok(0),
            Err(e) => return Err(e),
        };
        let via_proxy = match &proxy {
            Some((p, target)) => proxy_connections(p, *target).await,
            None => 0,
        };
        Ok(own + via_proxy)
    };
    poll_until_zero(max, POLL_INTERVAL, count, on_tick).await
}

/// The proxy's connections to `target` that are open or being opened; 0 when its tables
/// cannot be read.
async fn proxy_connections(proxy: &ProcNet<'_>, target: SocketAddr) -> usize {
    let (v4, v6) = tokio::join!(proxy.read("tcp"), proxy.read("tcp6"));
    [v4, v6]
        .into_iter()
        .filter_map(Result::ok)
        .flatten()
        .map(|table| connections_to(&table.text, target))
        .sum()
}

/// Rows of a `/proc/net/tcp` or `tcp6` table whose remote end is `target` and whose state is
/// ESTABLISHED or SYN_SENT: requests under way to it, or about to be. Addresses are written
/// as the kernel stores them (`%08X` of the network-order word; IPv4 in `tcp6` as v4-mapped).
pub fn connections_to(text: &str, target: SocketAddr) -> usize {
    let port = format!("{:04X}", target.port());
    let hosts: Vec<String> = match target.ip() {
        IpAddr::V4(ip) => {
            let word = format!("{:08X}", u32::from_ne_bytes(ip.octets()));
            vec![word.clone(), format!("0000000000000000FFFF0000{word}")]
        }
        IpAddr::V6(ip) => {
            let o = ip.octets();
            let words: String = o
                .chunks(4)
                .map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
                .collect();
            vec![words]
        }
    };
    text.lines()
        .filter(|line| {
            let mut f = line.split_whitespace().skip(1);
            let (Some(_local), Some(remote), Some(state)) = (f.next(), f.next(), f.next()) else {
                return false;
            };
            (state == ESTABLISHED || state == SYN_SENT)
                && remote.rsplit_once(':').is_some_and(|(h, p)| {
                    p.eq_ignore_ascii_case(&port) && hosts.iter().any(|x| x.eq_ignore_ascii_case(h))
                })
        })
        .count()
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

async fn count_tables(net: &ProcNet<'_>, port: u16) -> Result<usize, ProcNetError> {
    let mut open = 0;
    let mut cut = false;
    // Both at once: each read walks the kernel's connection table.
    let (v4, v6) = tokio::join!(net.read("tcp"), net.read("tcp6"));
    for table in [v4?, v6?].into_iter().flatten() {
        open += established_on_port(&table.text, port);
        cut |= table.truncated;
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
