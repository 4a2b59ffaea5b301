//! Switching traffic (DESIGN §2 step 6): making the proxy route the app's host name to the
//! releases that should be live, with one driver per kind of proxy, and checking the result
//! through the proxy (`verify`).
//!
//! - `nginx`: bgdeploy renders a server block (`render`) into the proxy container, has nginx
//!   test it, and only then reloads; a rejected config is put back as it was.
//! - `nginx-proxy`: the proxy generates its own config from `VIRTUAL_HOST`; bgdeploy makes it
//!   regenerate now (network changes are not among the events docker-gen watches).
//! - `command`: an operator's script on the host, told what changed through `BGDEPLOY_*`.
//! - `none`: nothing to do.

mod command;
mod driver;
mod error;
mod exec;
pub mod maintenance;
mod nginx;
mod nginx_proxy;
mod reloaded;
mod render;
mod verify;

use std::net::SocketAddr;

pub use driver::{Driver, DriverFuture, Switched};
pub use error::ProxyError;
pub use nginx_proxy::{DOCKER_GEN_RENDER, NGINX_PROXY_CONFIG};
pub use render::{render, upstream_name};
pub use verify::verify;

use crate::engine::EngineApi;
use crate::plan::ProxyPhase;
use crate::spec::{Deploy, ProxyDriver};

/// A release the proxy can send traffic to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The container's name, for comments in generated config and for `BGDEPLOY_CONTAINER`.
    pub container: String,
    /// The container's address on `FRONT_<app>_<stage>` and the app's port.
    pub addr: SocketAddr,
}

/// What a switch is about: a release joining the proxy, or one leaving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Add,
    Remove,
}

impl Phase {
    /// As the command driver's `BGDEPLOY_PHASE` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Add => "add",
            Phase::Remove => "remove",
        }
    }
}

impl From<ProxyPhase> for Phase {
    fn from(phase: ProxyPhase) -> Phase {
        match phase {
            ProxyPhase::Add => Phase::Add,
            ProxyPhase::Remove => Phase::Remove,
        }
    }
}

/// The driver the spec configures, behind the one interface the planner and the executor use.
pub fn driver(config: &ProxyDriver) -> Box<dyn Driver + '_> {
    match config {
        ProxyDriver::Nginx {
            container,
            virtual_host,
            config_path,
            reload,
        } => Box::new(nginx::Nginx {
            container,
            virtual_host,
            config_path,
            reload: reload.as_deref(),
        }),
        ProxyDriver::NginxProxy {
            container,
            virtual_host,
            reload,
            docker_gen,
        } => Box::new(nginx_proxy::NginxProxy {
            container,
            virtual_host,
            reload: reload.as_deref(),
            docker_gen: docker_gen.as_ref(),
        }),
        ProxyDriver::Command { command } => Box::new(command::Command { argv: command }),
        ProxyDriver::None => Box::new(driver::NoProxy),
    }
}

/// Whether maintenance mode is on for `deploy`: `Some(message)` when it is, `None` when the
/// proxy routes, or the driver keeps no state bgdeploy can read (`command`, `none`, ...).
pub async fn maintenance_state(
    engine: &dyn EngineApi,
    deploy: &Deploy,
) -> Result<Option<String>, ProxyError> {
    read_maintenance(engine, deploy).await.unwrap_or(Ok(None))
}

/// The maintenance state as the proxy keeps it, or `None` when the driver keeps none that
/// bgdeploy can read (then `status` shows nothing rather than "off").
pub async fn read_maintenance(
    engine: &dyn EngineApi,
    deploy: &Deploy,
) -> Option<Result<Option<String>, ProxyError>> {
    let driver = driver(&deploy.proxy.driver);
    let state = driver.maintenance_state(engine)?;
    Some(state.await)
}

/// Turns maintenance mode on (`Some(message)`) or off (`None`, routing to `backends` again).
/// `nginx`: renders the server block, tests and reloads as a switch does. `command`: runs the
/// command with `BGDEPLOY_PHASE` `maintenance_on`/`maintenance_off`. Other drivers cannot.
pub async fn set_maintenance(
    engine: &dyn EngineApi,
    deploy: &Deploy,
    message: Option<&str>,
    backends: &[Backend],
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    driver(&deploy.proxy.driver)
        .set_maintenance(engine, deploy, message, backends, on_line)
        .await
}

/// Makes the proxy route `deploy`'s virtual host to exactly `backends`: after an `Add`, the new
/// release; after a `Remove`, what stays live. `changed` is the release this switch is about
/// (the command driver passes it on). `on_line` hears progress and the command driver's output.
///
/// Returns once the proxy has applied the change, as far as the driver can tell: only new
/// nginx workers take requests, or the reload command or script exited 0. On error nginx still
/// runs its previous configuration (the nginx driver also puts its previous file back), unless
/// `ProxyError::needs_person`; what a failing `reload` or `command` did before it failed is
/// theirs to undo (`Driver::may_half_apply`), so a caller rolling back should switch again to
/// the releases that stay.
pub async fn switch(
    engine: &dyn EngineApi,
    deploy: &Deploy,
    phase: Phase,
    changed: &Backend,
    backends: &[Backend],
    on_line: &mut dyn FnMut(&str),
) -> Result<Switched, ProxyError> {
    driver(&deploy.proxy.driver)
        .switch(engine, deploy, phase, changed, backends, on_line)
        .await
}
