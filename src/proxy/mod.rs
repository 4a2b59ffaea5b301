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
mod error;
mod exec;
pub mod maintenance;
mod nginx;
mod nginx_proxy;
mod reloaded;
mod render;
mod verify;

use std::net::SocketAddr;

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

/// The maintenance message of the nginx driver's file in the proxy, `None` when it routes.
async fn current_maintenance(
    engine: &dyn EngineApi,
    container: &str,
    config_path: &str,
) -> Result<Option<String>, ProxyError> {
    let file = engine.get_file(container, config_path).await?;
    Ok(file.and_then(|bytes| maintenance::message_of(&String::from_utf8_lossy(&bytes))))
}

/// Whether maintenance mode is on for `deploy`: `Some(message)` when it is, `None` when the
/// proxy routes, or the driver keeps no state bgdeploy can read (`command`, `none`, ...).
pub async fn maintenance_state(
    engine: &dyn EngineApi,
    deploy: &Deploy,
) -> Result<Option<String>, ProxyError> {
    match &deploy.proxy.driver {
        ProxyDriver::Nginx {
            container,
            config_path,
            ..
        } => current_maintenance(engine, container, config_path).await,
        _ => Ok(None),
    }
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
    match &deploy.proxy.driver {
        ProxyDriver::Nginx {
            container,
            virtual_host,
            config_path,
            reload,
        } => {
            let target = nginx::Target {
                container,
                config_path,
                reload: reload.as_deref(),
            };
            let config = match message {
                Some(message) => {
                    maintenance::render(&deploy.app, &deploy.stage, virtual_host, message)
                }
                None => render(&deploy.app, &deploy.stage, virtual_host, backends),
            };
            nginx::apply(engine, &target, &config, on_line).await
        }
        ProxyDriver::Command { command } => {
            let env = command::maintenance_environment(deploy, message, backends);
            command::run(command, &env, command::timeout(deploy), on_line).await
        }
        ProxyDriver::NginxProxy { .. } | ProxyDriver::None => Err(ProxyError::NoMaintenance {
            driver: deploy.proxy.driver.name(),
        }),
    }
}

/// Makes the proxy route `deploy`'s virtual host to exactly `backends`: after an `Add`, the new
/// release; after a `Remove`, what stays live. `changed` is the release this switch is about
/// (the command driver passes it on). `on_line` hears progress and the command driver's output.
///
/// Returns once the proxy has applied the change, as far as the driver can tell: only new
/// nginx workers take requests, or the reload command or script exited 0. On error nginx still
/// runs its previous configuration (the nginx driver also puts its previous file back), unless
/// `ProxyError::needs_person`; what a failing `reload` or `command` did before it failed is
/// theirs to undo, so a caller rolling back should switch again to the releases that stay.
pub async fn switch(
    engine: &dyn EngineApi,
    deploy: &Deploy,
    phase: Phase,
    changed: &Backend,
    backends: &[Backend],
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    match &deploy.proxy.driver {
        ProxyDriver::Nginx {
            container,
            virtual_host,
            config_path,
            reload,
        } => {
            let target = nginx::Target {
                container,
                config_path,
                reload: reload.as_deref(),
            };
            // Read once: the previous file to restore on failure, and whether maintenance is on.
            let previous = engine.get_file(container, config_path).await?;
            let in_maintenance = previous
                .as_deref()
                .and_then(|bytes| maintenance::message_of(&String::from_utf8_lossy(bytes)));
            // A deploy during maintenance keeps the page on: the new release waits behind it.
            let config = match in_maintenance {
                Some(message) => {
                    on_line(
                        "maintenance is on: the page stays up, and nginx will route to the new release at `maintenance off`",
                    );
                    maintenance::render(&deploy.app, &deploy.stage, virtual_host, &message)
                }
                None => render(&deploy.app, &deploy.stage, virtual_host, backends),
            };
            nginx::apply_over(engine, &target, &config, previous, on_line).await
        }
        ProxyDriver::NginxProxy {
            container,
            reload,
            docker_gen,
            ..
        } => {
            let how = match (reload, docker_gen) {
                (Some(argv), _) => nginx_proxy::Regenerate::Command(argv),
                (None, Some(docker_gen)) => nginx_proxy::Regenerate::Signal(docker_gen),
                (None, None) => nginx_proxy::Regenerate::InProxy,
            };
            nginx_proxy::regenerate(engine, container, how, on_line).await
        }
        ProxyDriver::Command { command } => {
            let env = command::environment(deploy, phase, changed, backends);
            command::run(command, &env, command::timeout(deploy), on_line).await
        }
        ProxyDriver::None => Ok(()),
    }
}
