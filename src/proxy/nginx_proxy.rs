//! The `nginx-proxy` driver. nginx-proxy (nginx + docker-gen) renders its config from the
//! `VIRTUAL_HOST`/`VIRTUAL_PORT` of the containers that share a network with it. Its docker-gen
//! runs with `-watch`, which regenerates on container start, stop and die, but not when a
//! container joins or leaves a network, which is exactly what a blue-green switch does. So after
//! each attach and detach bgdeploy has it regenerate, in one of three ways:
//!
//! - by default, inside the proxy container, what nginx-proxy's own image runs (its
//!   `app/Procfile`: `docker-gen -watch -notify "nginx -s reload" /app/nginx.tmpl
//!   /etc/nginx/conf.d/default.conf`) once, without `-watch`. docker-gen ignores the exit status
//!   of its `-notify` command (it only logs it) and skips it when the file did not change, so
//!   bgdeploy runs the three parts itself and checks each: render, `nginx -t`, `nginx -s reload`;
//! - the spec's `reload` argv, run in the proxy container (its exit status is trusted);
//! - nginx-proxy split into two containers: the spec's `signal` (default HUP) sent to
//!   `docker_gen_container`, whose docker-gen regenerates on SIGHUP and reloads nginx through
//!   its own `-notify-sighup`.

use crate::engine::EngineApi;
use crate::spec::{Deploy, DockerGen};

use super::driver::{Driver, DriverFuture, Switched};
use super::exec::{output_text, run, strs};
use super::nginx::RELOAD;
use super::reloaded::{self, RELOAD_WAIT, Seen};
use super::{Backend, Phase, ProxyError};

/// Where nginx-proxy's image keeps its template and the config it renders (its Procfile).
pub const NGINX_PROXY_CONFIG: &str = "/etc/nginx/conf.d/default.conf";
/// docker-gen without `-watch` renders once and exits: non-zero when the template fails.
pub const DOCKER_GEN_RENDER: [&str; 3] = ["docker-gen", "/app/nginx.tmpl", NGINX_PROXY_CONFIG];
const TEST: [&str; 2] = ["nginx", "-t"];

/// The `nginx-proxy` driver as the spec configures it.
pub(super) struct NginxProxy<'a> {
    pub container: &'a str,
    pub virtual_host: &'a str,
    pub reload: Option<&'a [String]>,
    pub docker_gen: Option<&'a DockerGen>,
}

impl Driver for NginxProxy<'_> {
    fn name(&self) -> &'static str {
        "nginx-proxy"
    }

    /// What nginx-proxy routes by.
    fn release_env(&self, port: u16) -> Vec<(String, String)> {
        vec![
            ("VIRTUAL_HOST".to_string(), self.virtual_host.to_string()),
            ("VIRTUAL_PORT".to_string(), port.to_string()),
        ]
    }

    /// It drops a backend from its generated config only once the container has left the
    /// shared network.
    fn leaves_first(&self) -> bool {
        true
    }

    fn switch<'a>(
        &'a self,
        engine: &'a dyn EngineApi,
        _deploy: &'a Deploy,
        _phase: Phase,
        _changed: &'a Backend,
        _backends: &'a [Backend],
        on_line: &'a mut dyn FnMut(&str),
    ) -> DriverFuture<'a, Switched> {
        let how = match (self.reload, self.docker_gen) {
            (Some(argv), _) => Regenerate::Command(argv),
            (None, Some(docker_gen)) => Regenerate::Signal(docker_gen),
            (None, None) => Regenerate::InProxy,
        };
        Box::pin(async move {
            regenerate(engine, self.container, how, on_line).await?;
            Ok(Switched::default())
        })
    }
}

pub(super) enum Regenerate<'a> {
    /// docker-gen, `nginx -t` and `nginx -s reload` in the proxy container.
    InProxy,
    /// The spec's `reload`, in the proxy container.
    Command(&'a [String]),
    /// A signal to a separate docker-gen container.
    Signal(&'a DockerGen),
}

pub(super) async fn regenerate(
    engine: &dyn EngineApi,
    container: &str,
    how: Regenerate<'_>,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    match how {
        Regenerate::InProxy => in_proxy(engine, container, on_line).await,
        Regenerate::Command(argv) => {
            let argv = strs(argv);
            let out = run(engine, container, &argv).await?;
            if out.exit_code != 0 {
                return Err(ProxyError::Reload {
                    container: container.to_string(),
                    argv: argv.join(" "),
                    exit_code: out.exit_code,
                    output: output_text(&out),
                });
            }
            on_line(&format!("`{}` in {container}: done", argv.join(" ")));
            Ok(())
        }
        Regenerate::Signal(docker_gen) => signal(engine, container, docker_gen, on_line).await,
    }
}

async fn in_proxy(
    engine: &dyn EngineApi,
    container: &str,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    let out = run(engine, container, &DOCKER_GEN_RENDER).await?;
    if out.exit_code != 0 {
        return Err(ProxyError::DockerGen {
            container: container.to_string(),
            argv: DOCKER_GEN_RENDER.join(" "),
            exit_code: out.exit_code,
            output: output_text(&out),
        });
    }
    on_line(&format!(
        "docker-gen rendered {NGINX_PROXY_CONFIG} in {container}"
    ));
    let tested = run(engine, container, &TEST).await?;
    if tested.exit_code != 0 {
        return Err(ProxyError::NginxTest {
            container: container.to_string(),
            path: NGINX_PROXY_CONFIG.to_string(),
            output: output_text(&tested),
        });
    }
    let before = reloaded::before(engine, container, on_line).await;
    let out = run(engine, container, &RELOAD).await?;
    if out.exit_code != 0 {
        return Err(ProxyError::Reload {
            container: container.to_string(),
            argv: RELOAD.join(" "),
            exit_code: out.exit_code,
            output: output_text(&out),
        });
    }
    match reloaded::wait(engine, container, &before, RELOAD_WAIT).await {
        Seen::NewWorkers(after) => on_line(&format!(
            "reloaded: new nginx workers after {}ms",
            after.as_millis()
        )),
        Seen::Unknown => on_line("reloaded (`nginx -s reload` exited 0)"),
        Seen::Nothing => {
            return Err(ProxyError::NotReloaded {
                container: container.to_string(),
                waited: RELOAD_WAIT,
            });
        }
    }
    Ok(())
}

/// docker-gen acts on the signal after the engine has delivered it: waiting for nginx's new
/// workers keeps the next step (detaching the old release) from running ahead of the reload.
/// docker-gen skips the reload when the rendered file did not change, so no new workers is a
/// note, not a failure.
async fn signal(
    engine: &dyn EngineApi,
    container: &str,
    docker_gen: &DockerGen,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    let before = reloaded::before(engine, container, on_line).await;
    engine
        .signal_container(&docker_gen.container, &docker_gen.signal)
        .await?;
    on_line(&format!(
        "sent SIG{} to {}",
        docker_gen.signal, docker_gen.container
    ));
    match reloaded::wait(engine, container, &before, RELOAD_WAIT).await {
        Seen::NewWorkers(after) => on_line(&format!(
            "nginx in {container} reloaded after {}ms",
            after.as_millis()
        )),
        Seen::Unknown => {}
        Seen::Nothing => on_line(&format!(
            "nginx in {container} did not reload within {}: either docker-gen found nothing \
             to change, or it failed (see `docker logs {}`)",
            humantime::format_duration(RELOAD_WAIT),
            docker_gen.container
        )),
    }
    Ok(())
}
