//! Waiting until a freshly started release is healthy (deploy step 4): `http`, `tcp` and `cmd`
//! probe it on a cadence, `docker` follows the image's HEALTHCHECK through the engine's events.
//! In every mode, the container's death ends the wait at once.
//!
//! `wait_healthy` is cancel-safe: everything runs inside its own future (no spawned tasks), so
//! dropping it (Ctrl-C in a `tokio::select!`) stops every probe and closes the event stream.
//! A `cmd` probe's process may outlive it in the container: the engine cannot kill an exec.

mod cmd;
mod describe;
mod docker;
mod error;
mod http;
mod poll;
mod probe;
mod remote;
mod report;
mod tcp;
mod watch;

use std::net::IpAddr;

use tokio::time::Instant;

pub use error::HealthError;
pub use poll::{PollTimeout, Schedule, poll};
pub use probe::{Probe, ProbeReport};
pub use report::{LOG_LINES, failure_report};

use crate::engine::Engine;
use crate::spec::{Health, HealthCheck};
use cmd::CmdProbe;
use http::HttpProbe;
use remote::RemoteProbe;
use tcp::TcpProbe;

/// Waits until `container_id` passes `health` within `health.deadline`.
///
/// `ip` is the container's back-network address and `port` the app's port (the `http` check
/// uses it; `tcp` has its own). `on_probe` hears about every probe, for progress output.
pub async fn wait_healthy(
    engine: &Engine,
    container_id: &str,
    ip: IpAddr,
    port: u16,
    health: &Health,
    on_probe: &mut dyn FnMut(&ProbeReport),
) -> Result<(), HealthError> {
    let started = Instant::now();
    let deadline = started + health.deadline;
    let state = engine
        .container_state(container_id)
        .await?
        .ok_or_else(|| HealthError::Gone {
            container: container_id.to_string(),
        })?;
    if !state.running {
        return Err(HealthError::Died {
            container: state.name,
            exit_code: state.exit_code,
        });
    }
    // From here when bgdeploy shares the engine's network namespace; else from the engine's
    // side, through a probe next to the container (`engine::probe`).
    let direct = engine.info().local;
    let remote = |check, port| {
        Prober::Remote(RemoteProbe::new(
            engine,
            container_id,
            ip,
            port,
            check,
            health.timeout,
            health.interval,
        ))
    };
    let prober = match &health.check {
        HealthCheck::Docker => {
            return docker::wait(engine, &state, started, deadline, health.deadline, on_probe)
                .await;
        }
        HealthCheck::Http { path, expect } if direct => {
            Prober::Http(HttpProbe::new(ip, port, path, *expect, health.timeout)?)
        }
        HealthCheck::Http { path, expect } => remote(
            remote::Check::Http {
                path: path.clone(),
                expect: *expect,
            },
            port,
        ),
        HealthCheck::Tcp { port } if direct => {
            Prober::Tcp(TcpProbe::new(ip, *port, health.timeout))
        }
        HealthCheck::Tcp { port } => remote(remote::Check::Tcp, *port),
        HealthCheck::Cmd { argv } => {
            Prober::Cmd(CmdProbe::new(engine, &state.id, argv, health.timeout))
        }
    };
    // Anchored at the start the engine recorded, so a death before the subscription is
    // replayed rather than missed.
    let deaths = engine.health_events(&state.id, state.started_at);
    let schedule = Schedule {
        interval: health.interval,
        healthy: health.healthy,
        deadline,
    };
    tokio::select! {
        biased;
        died = watch::until_death(deaths, &state.name) => Err(died),
        polled = poll(|| prober.check(), schedule, on_probe) => match polled {
            Ok(_) => Ok(()),
            Err(timeout) => Err(HealthError::Timeout {
                container: state.name.clone(),
                mode: health.check.mode(),
                check: prober.describe(),
                last: timeout.last.to_string(),
                attempts: timeout.attempts,
                deadline: health.deadline,
            }),
        },
    }
}

enum Prober<'a> {
    Http(HttpProbe),
    Tcp(TcpProbe),
    Cmd(CmdProbe<'a>),
    Remote(RemoteProbe<'a>),
}

impl Prober<'_> {
    async fn check(&self) -> Probe {
        match self {
            Prober::Http(p) => p.check().await,
            Prober::Tcp(p) => p.check().await,
            Prober::Cmd(p) => p.check().await,
            Prober::Remote(p) => p.check().await,
        }
    }

    fn describe(&self) -> String {
        match self {
            Prober::Http(p) => p.describe(),
            Prober::Tcp(p) => p.describe(),
            Prober::Cmd(p) => p.describe(),
            Prober::Remote(p) => p.describe(),
        }
    }
}
