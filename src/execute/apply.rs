//! Applying one step. Each arm is the engine calls for one `Action`; bookkeeping for undo
//! is registered *before* the call, so a call cut short by a signal is still undone.

use std::net::IpAddr;
use std::time::Duration;

use super::{DeployError, Executor, Undo};
use crate::engine::{ContainerSpec, EngineError};
use crate::plan::{Action, Step};
use crate::{drain, health, lock, names, proxy, route};

impl Executor<'_> {
    pub(super) async fn apply(&mut self, step: &Step) -> Result<(), DeployError> {
        let engine = self.engine;
        let deploy = self.deploy;
        let (app, stage) = (deploy.app.as_str(), deploy.stage.as_str());
        let on_step = |source: EngineError| DeployError::Step {
            step: step.description.clone(),
            source: Box::new(source),
        };
        // A proxy switch first reads addresses, which changes nothing: it passes the point of
        // no return only once it is about to switch.
        if !matches!(step.action, Action::ProxySwitch { .. }) {
            self.enter_phase(step);
        }
        match &step.action {
            Action::AcquireLock { wait_secs, .. } => {
                let wait = Duration::from_secs_f64(*wait_secs);
                let guard = match self.acquire_lock(wait).await {
                    // A holder on this host whose process is gone (a deploy killed with -9)
                    // cannot be waiting for anything: take its lock over, once, and say so.
                    Err(DeployError::Lock(e))
                        if matches!(*e, lock::LockError::Held { stale: true, .. }) =>
                    {
                        let owner = match *e {
                            lock::LockError::Held { owner, .. } => owner,
                            _ => String::new(),
                        };
                        self.reporter.note(&format!(
                            "taking over the stale lock of {owner} (that process no longer exists)"
                        ));
                        lock::force_release(engine, app, stage).await?;
                        self.acquire_lock(wait).await?
                    }
                    other => other?,
                };
                self.lock = Some(guard);
            }
            Action::CreateNetwork {
                network,
                internal,
                ipv6,
                ipv6_subnet,
            } => {
                let labels = names::labels(app, stage, names::KIND_NETWORK);
                let ipv6 = ipv6.then_some(ipv6_subnet.as_deref());
                engine
                    .create_network_with(network, *internal, ipv6, &labels)
                    .await
                    .map_err(on_step)?;
            }
            Action::ReuseNetwork { .. } => {}
            Action::PullImage { image, allowed } => {
                if !allowed {
                    return Err(DeployError::ImageMissing {
                        image: image.clone(),
                    });
                }
                engine
                    .pull_image(image, &|line| tracing::info!("pull {image}: {line}"))
                    .await
                    .map_err(on_step)?;
            }
            Action::RemoveContainer { container, .. } => {
                engine
                    .remove_container(container, true)
                    .await
                    .map_err(|e| self.after_switch(step, e))?;
                self.outcome.removed.push(container.clone());
            }
            Action::CreateContainer {
                container,
                image,
                network,
                gw_priority,
                ..
            } => {
                self.undo.push(Undo::RemoveContainer {
                    container: container.clone(),
                });
                self.created.push(container.clone());
                self.outcome.container = Some(container.clone());
                let spec = self.container_spec(container, image, network, *gw_priority);
                engine.create_container(&spec).await.map_err(on_step)?;
            }
            Action::ConnectNetwork {
                container,
                network,
                gw_priority,
                ..
            } => {
                if !self.created.contains(container) {
                    // The proxy, a standby, a rolled-back release outlive this run: detach
                    // them again if it fails. A container this run made is simply removed.
                    self.undo.push(Undo::Disconnect {
                        container: container.clone(),
                        network: network.clone(),
                    });
                }
                engine
                    .connect_network(container, network, *gw_priority)
                    .await
                    .map_err(on_step)?;
            }
            Action::StartContainer { container } => {
                if !self.created.contains(container) {
                    self.undo.push(Undo::Stop {
                        container: container.clone(),
                    });
                }
                engine.start_container(container).await.map_err(on_step)?;
            }
            Action::WaitHealthy { container, .. } => {
                // The release waited for is the one this run makes live (or leaves standing by).
                self.outcome.container = Some(container.clone());
                let (id, ip) = self.back_address(container).await?;
                let reporter = &mut *self.reporter;
                let mut on_probe = |r: &health::ProbeReport| reporter.step_progress(&r.to_string());
                if let Err(e) = engine
                    .wait_healthy(&id, ip, deploy.port, &deploy.health, &mut on_probe)
                    .await
                {
                    let report = health::failure_report(engine, &id, &e).await;
                    // The app's own log lines may print its environment.
                    let report = crate::secret::redact(&report, self.secrets);
                    return Err(DeployError::Unhealthy { report });
                }
            }
            Action::BeforeSwitch {
                container,
                image,
                command,
                timeout_secs,
            } => {
                let timeout = Duration::from_secs_f64(*timeout_secs);
                self.before_switch(step, container, image, command, timeout)
                    .await?;
            }
            Action::CheckRoute {
                container,
                expect,
                expect_v6,
            } => {
                let reading = engine.read_default_route(container).await.map_err(|e| {
                    DeployError::RouteUnreadable {
                        container: container.clone(),
                        reason: e.to_string(),
                    }
                })?;
                if let Err(moved) =
                    route::check_both(&reading, expect.as_deref(), expect_v6.as_deref())
                {
                    // Exit 5 names the rule that decided (DESIGN §2 step 5).
                    let why = route::why_moved(engine, &moved).await;
                    return Err(DeployError::RouteMoved {
                        message: format!("{moved}. {why}"),
                    });
                }
                if Some(container) == self.outcome.container.as_ref() {
                    self.outcome.route = reading.network.clone();
                }
            }
            Action::ProxySwitch {
                phase, container, ..
            } => {
                let live = self.outcome.container.clone().unwrap_or_default();
                let changed = self.backend(container).await?;
                let backends = vec![self.backend(&live).await?];
                let remove = *phase == crate::plan::ProxyPhase::Remove;
                // Where to route back to if this switch fails, read before anything changes: a
                // failure to read it after the switch would leave the proxy on the new release.
                let mut old = Vec::new();
                if !remove {
                    for name in self.old_live.clone() {
                        old.push(self.backend(&name).await?);
                    }
                }
                // Taking the old release out of the proxy is the plan's point of no return.
                self.enter_phase(step);
                let reporter = &mut *self.reporter;
                let mut on_line = |line: &str| reporter.step_progress(line);
                let result = proxy::switch(
                    engine,
                    deploy,
                    (*phase).into(),
                    &changed,
                    &backends,
                    &mut on_line,
                )
                .await;
                // Undo is registered once the switch happened. A failed nginx switch put its
                // file back and a failed nginx-proxy regeneration changed nothing; an operator's
                // command may have half-switched, so it is told to route back either way.
                let half_done = proxy::driver(&deploy.proxy.driver).may_half_apply();
                if !remove && (result.is_ok() || half_done) {
                    self.undo.push(Undo::ProxyBack {
                        changed: changed.clone(),
                        backends: old,
                    });
                }
                let switched = result.map_err(|e| self.after_switch_proxy(e))?;
                let verify = match (phase, &deploy.proxy.verify) {
                    (crate::plan::ProxyPhase::Add, Some(verify)) => Some(verify),
                    _ => None,
                };
                // Through a maintenance page nothing answers but the page: nothing to verify.
                let maintenance = match (verify, switched.maintenance) {
                    (None, _) => false,
                    (Some(_), Some(known)) => known,
                    (Some(_), None) => proxy::maintenance_state(engine, deploy).await?.is_some(),
                };
                let verify = match verify {
                    Some(_) if maintenance => {
                        self.reporter
                            .note("maintenance is on: the check through the proxy is skipped");
                        None
                    }
                    other => other,
                };
                if let Some(verify) = verify {
                    let reporter = &mut *self.reporter;
                    let mut on_probe =
                        |r: &health::ProbeReport| reporter.step_progress(&format!("verify: {r}"));
                    proxy::verify(verify, &deploy.health, &mut on_probe).await?;
                }
            }
            Action::DisconnectNetwork { container, network } => {
                engine
                    .disconnect_network(container, network, false)
                    .await
                    .map_err(|e| self.after_switch(step, e))?;
            }
            Action::Drain {
                container,
                port,
                max_secs,
            } => {
                let watch = self.drain_watch();
                let reporter = &mut *self.reporter;
                let mut on_tick = |open: usize, waited: Duration| {
                    reporter.step_progress(&format!(
                        "{open} connection(s) open after {:.1}s",
                        waited.as_secs_f64()
                    ));
                };
                match engine
                    .drain(
                        container,
                        *port,
                        Duration::from_secs_f64(*max_secs),
                        watch.as_ref(),
                        &mut on_tick,
                    )
                    .await
                {
                    Ok(outcome) if !outcome.closed => self.reporter.note(&format!(
                        "{container} still had {} connection(s) after {:.1}s; stopping it anyway",
                        outcome.remaining,
                        outcome.waited.as_secs_f64()
                    )),
                    Ok(_) => {}
                    // Not knowing the connection count is no reason to keep an old release.
                    Err(e) => self
                        .reporter
                        .note(&format!("could not count {container}'s connections: {e}")),
                }
            }
            Action::StopContainer {
                container,
                timeout_secs,
            } => {
                engine
                    .stop_container(container, Duration::from_secs_f64(*timeout_secs))
                    .await
                    .map_err(|e| self.after_switch(step, e))?;
                self.outcome.retired.push(container.clone());
            }
            Action::RecordHistory { .. } => self.record(self.success_word(), 0, None).await,
            Action::ReleaseLock { .. } => self.release().await,
        }
        Ok(())
    }

    async fn acquire_lock(&mut self, wait: Duration) -> Result<lock::LockGuard, DeployError> {
        let reporter = &mut *self.reporter;
        let mut on_wait = |holder: &lock::Holder, waited: Duration| {
            reporter.step_progress(&format!(
                "waiting for the lock held by {} ({}s so far)",
                holder.owner,
                waited.as_secs()
            ));
        };
        let (app, stage) = (&self.deploy.app, &self.deploy.stage);
        Ok(lock::acquire(self.engine, app, stage, wait, &mut on_wait).await?)
    }

    /// Whose connections to the draining release count besides its own: the driver's say.
    fn drain_watch(&self) -> Option<drain::Watch> {
        let front = names::front_network(&self.deploy.app, &self.deploy.stage);
        proxy::driver(&self.deploy.proxy.driver).drain_watch(&front, self.deploy.port)
    }

    fn after_switch_proxy(&self, e: proxy::ProxyError) -> DeployError {
        if !self.switched {
            return DeployError::from(e);
        }
        DeployError::NeedsPerson {
            original: format!(
                "the new release is live, but taking the old one out of the proxy failed: {e}"
            ),
            undo: "nothing was undone (the switch had happened)".into(),
            todo: format!(
                "check the proxy's configuration for {}/{}, then `bgdeploy status {} {}`",
                self.deploy.app, self.deploy.stage, self.deploy.app, self.deploy.stage
            ),
        }
    }

    /// The container's address as the proxy reaches it: on FRONT_ (on BACK_ once it has left
    /// FRONT_, which only the command driver's BGDEPLOY_ADDR then shows).
    async fn backend(&self, container: &str) -> Result<proxy::Backend, DeployError> {
        let (app, stage) = (&self.deploy.app, &self.deploy.stage);
        let networks = [
            names::front_network(app, stage),
            names::back_network(app, stage),
        ];
        let (_, ip) = self.address(container, &networks).await?;
        Ok(proxy::Backend {
            container: container.to_string(),
            addr: std::net::SocketAddr::new(ip, self.deploy.port),
        })
    }

    /// The container's id and its address on the first of `networks` it is attached to.
    async fn address(
        &self,
        container: &str,
        networks: &[String],
    ) -> Result<(String, IpAddr), DeployError> {
        let details = self
            .engine
            .inspect_container(container)
            .await
            .map_err(|source| DeployError::Step {
                step: format!("inspect {container}"),
                source: Box::new(source),
            })?
            .ok_or_else(|| DeployError::Vanished {
                container: container.to_string(),
            })?;
        let ip = networks
            .iter()
            .find_map(|net| {
                details
                    .endpoints
                    .iter()
                    .find(|e| &e.network == net)
                    .and_then(|e| e.ip.as_deref())
            })
            .and_then(|ip| ip.parse::<IpAddr>().ok())
            .ok_or_else(|| DeployError::NoAddress {
                container: container.to_string(),
                network: networks.join(" or "),
            })?;
        Ok((details.id, ip))
    }

    pub(super) fn after_switch(&self, step: &Step, source: EngineError) -> DeployError {
        if !self.switched {
            return DeployError::Step {
                step: step.description.clone(),
                source: Box::new(source),
            };
        }
        DeployError::AfterSwitch {
            step: step.description.clone(),
            todo: format!(
                "finish by hand: `docker stop`/`docker rm` the old release as needed, then \
                 `bgdeploy status {} {}`",
                self.deploy.app, self.deploy.stage
            ),
            source: Box::new(source),
        }
    }

    fn container_spec(
        &self,
        name: &str,
        image: &str,
        network: &str,
        gw_priority: Option<i64>,
    ) -> ContainerSpec {
        super::release::release_spec(self.deploy, self.secrets, name, image, network, gw_priority)
    }

    /// The container's id and its address on the back network, where health checks go.
    async fn back_address(&self, container: &str) -> Result<(String, IpAddr), DeployError> {
        let back = names::back_network(&self.deploy.app, &self.deploy.stage);
        self.address(container, &[back]).await
    }
}
