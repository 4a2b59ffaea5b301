//! The planner. Pure: no engine, no clock, no randomness (the new container's name comes in
//! through `PlanOptions`), so its output can be snapshotted from fixed states.

use std::time::Duration;

use super::step::{Action, ProxyPhase, RouteChange, Step, secs};
use super::warning::{Warning, WarningCode};
use super::{Plan, priority};
use crate::names;
use crate::observe::{Attachment, NetworkLookup, Observed, ProxyLookup, Role};
use crate::route::{Endpoint, default_route_holder};
use crate::spec::{Deploy, HealthCheck, ProxyDriver};

#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The image to deploy (`--image`, else the spec's).
    pub image: String,
    /// Unique part of the new container's name.
    pub suffix: String,
    /// `--no-cutover`: stop once the release is healthy on the back network.
    pub no_cutover: bool,
    pub lock_wait: Duration,
    pub pull: Pull,
}

/// When the image is pulled (`--pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pull {
    #[default]
    Missing,
    Always,
    Never,
}

/// A container's endpoints as the planner tracks them while it simulates the steps.
struct Sim {
    container: String,
    endpoints: Vec<Endpoint>,
}

impl Sim {
    fn from_attachments(container: &str, attachments: &[Attachment]) -> Sim {
        let endpoints = attachments
            .iter()
            .map(|a| Endpoint {
                network: a.network.clone(),
                internal: a.internal,
                gw_priority: a.gw_priority,
            })
            .collect();
        Sim {
            container: container.to_string(),
            endpoints,
        }
    }

    /// Adds an endpoint and returns how the default route changes.
    fn connect(&mut self, ep: Endpoint, obs: &Observed) -> RouteChange {
        let api = obs.engine.api;
        let before = default_route_holder(&self.endpoints, api).map(|h| h.network);
        self.endpoints.push(ep);
        let after = default_route_holder(&self.endpoints, api);
        RouteChange {
            container: self.container.clone(),
            before,
            after: after.as_ref().map(|h| h.network.clone()),
            reason: after.map(|h| h.reason),
        }
    }
}

struct Builder<'a> {
    obs: &'a Observed,
    steps: Vec<Step>,
    warnings: Vec<Warning>,
}

impl Builder<'_> {
    fn step(&mut self, target: impl Into<String>, action: Action) {
        self.steps.push(Step::new(target, action));
    }

    fn warn(&mut self, code: WarningCode, message: String) {
        self.warnings.push(Warning {
            code,
            message,
            subject: None,
        });
    }

    fn priority(&self, p: i64) -> Option<i64> {
        self.obs.engine.api.has_gw_priority().then_some(p)
    }

    /// Create or reuse one of the app/stage's own networks; returns whether it is internal.
    fn ensure_network(&mut self, lookup: &NetworkLookup, internal: bool) -> bool {
        let name = lookup.name().to_string();
        match lookup {
            NetworkLookup::Missing { .. } => {
                self.step(
                    &name,
                    Action::CreateNetwork {
                        network: name.clone(),
                        internal,
                    },
                );
                internal
            }
            NetworkLookup::Found(n) => {
                if !n.managed {
                    self.warn(
                        WarningCode::UnmanagedNetwork,
                        format!(
                            "network {name} exists but does not carry bgdeploy's labels; it will be used as it \
                             is. If another tool owns it, rename the app or stage."
                        ),
                    );
                }
                self.step(
                    &name,
                    Action::ReuseNetwork {
                        network: name.clone(),
                        id: n.id.clone(),
                        internal: n.internal,
                    },
                );
                n.internal
            }
            NetworkLookup::Ambiguous { matches, .. } => {
                let ids: Vec<&str> = matches.iter().map(|m| short(&m.id)).collect();
                self.warn(
                    WarningCode::DuplicateNetwork,
                    format!(
                        "{} networks are named {name} (ids {}); the engine refuses to use an ambiguous name, \
                         so `up` will stop. Remove the extra ones with `docker network rm <id>` (keep the one \
                         your containers use).",
                        matches.len(),
                        ids.join(", ")
                    ),
                );
                // Planning goes on with the first match so the rest of the plan is still shown.
                let first = &matches[0];
                self.step(
                    &name,
                    Action::ReuseNetwork {
                        network: name.clone(),
                        id: first.id.clone(),
                        internal: first.internal,
                    },
                );
                first.internal
            }
        }
    }

    fn route_warning(&mut self, change: &RouteChange, network: &str, fix: &str) {
        if !change.moves() {
            return;
        }
        let why = change
            .reason
            .map(|r| r.explain())
            .unwrap_or("of the engine's ordering rules");
        self.warn(
            WarningCode::RouteMoves,
            format!(
                "connecting {} to {network} would move its default route from {} to {}, because {why}. {fix}",
                change.container,
                change.before.as_deref().unwrap_or("-"),
                change.after.as_deref().unwrap_or("-"),
            ),
        );
        if let Some(w) = self.warnings.last_mut() {
            w.subject = Some(change.container.clone());
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn health_desc(deploy: &Deploy) -> String {
    let h = &deploy.health;
    let check = match &h.check {
        HealthCheck::Http { path, expect } => format!("http GET {path} expecting {expect}"),
        HealthCheck::Tcp { port } => format!("tcp connect to port {port}"),
        HealthCheck::Cmd { argv } => format!("exec {}", argv.join(" ")),
        HealthCheck::Docker => "the image's HEALTHCHECK".to_string(),
    };
    format!("{check}, {} in a row", h.healthy)
}

/// Turns a validated deploy and the observed state into the steps of `up`.
pub fn plan(deploy: &Deploy, obs: &Observed, opts: &PlanOptions) -> Plan {
    let mut b = Builder {
        obs,
        steps: Vec::new(),
        warnings: Vec::new(),
    };
    let (app, stage) = (deploy.app.as_str(), deploy.stage.as_str());
    let back = names::back_network(app, stage);
    let front = names::front_network(app, stage);
    let lock = names::lock_name(app, stage);
    let new = names::container_name(app, stage, &opts.suffix);

    // 1. Lock.
    if let Some(l) = &obs.lock {
        b.warn(
            WarningCode::Locked,
            format!(
                "another deploy holds the lock {lock} ({}, since {}); `up` will wait --lock-wait, then exit 4. \
                 If that deploy is gone: `bgdeploy lock release {app} {stage}`.",
                l.owner,
                crate::time::since_epoch_rfc3339(l.since)
            ),
        );
    }
    b.step(
        format!("{app}/{stage}"),
        Action::AcquireLock {
            lock: lock.clone(),
            wait_secs: secs(opts.lock_wait),
        },
    );
    // Pulled before anything is created, so that a pull that fails leaves the engine as it was.
    let pull = match opts.pull {
        Pull::Always => true,
        Pull::Missing | Pull::Never => !obs.image_present,
    };
    if pull {
        b.step(
            &opts.image,
            Action::PullImage {
                image: opts.image.clone(),
                allowed: opts.pull != Pull::Never,
            },
        );
    }

    // 2. Networks and the proxy's attachment.
    let back_internal = b.ensure_network(&obs.back, false);
    let front_internal = b.ensure_network(&obs.front, deploy.front_internal);
    if let (true, Some(f)) = (deploy.front_internal, obs.front.found()) {
        if !f.internal {
            b.warn(
                WarningCode::FrontNotInternal,
                format!(
                    "{front} exists and is not internal, although the spec asks for an internal front network \
                     (front_internal: true). A non-internal front network can take the proxy's default route. \
                     Recreate it: `bgdeploy down {app} {stage} --networks`, then deploy again."
                ),
            );
        }
    }
    let live: Vec<_> = obs.live().collect();
    if live.len() > 1 {
        let names: Vec<&str> = live.iter().map(|c| c.name.as_str()).collect();
        b.warn(
            WarningCode::SeveralLive,
            format!(
                "{} containers are attached to {front} ({}); all of them will be retired.",
                live.len(),
                names.join(", ")
            ),
        );
    }
    let proxy_name = deploy.proxy.driver.container().map(str::to_string);
    match (&obs.proxy, &proxy_name) {
        (ProxyLookup::Found(p), Some(name)) => {
            if !p.running {
                b.warn(WarningCode::ProxyMissing, format!("proxy container {name} is not running; start it before `up`."));
            }
            if !p.attachments.iter().any(|a| a.network == front) {
                let mut sim = Sim::from_attachments(name, &p.attachments);
                let change = sim.connect(
                    Endpoint { network: front.clone(), internal: front_internal, gw_priority: priority::FRONT },
                    obs,
                );
                b.route_warning(
                    &change,
                    &front,
                    &format!(
                        "Every client of the proxy would lose its connections. Fix: create {front} as internal \
                         (front_internal: true; `docker network rm {front}` if it exists, then deploy again), \
                         or use Engine 28+ where bgdeploy sends GwPriority."
                    ),
                );
                let expect = change.before.clone();
                b.step(
                    name,
                    Action::ConnectNetwork {
                        container: name.clone(),
                        network: front.clone(),
                        gw_priority: b.priority(priority::FRONT),
                        route: change,
                    },
                );
                b.step(name, Action::CheckRoute { container: name.clone(), expect });
            }
        }
        (ProxyLookup::Missing { .. }, Some(name)) => b.warn(
            WarningCode::ProxyMissing,
            format!(
                "proxy container {name} does not exist on the engine; start it (or fix proxy.container) before `up`."
            ),
        ),
        _ => {}
    }

    // 3. The new container.
    for leftover in obs.with_role(Role::Leftover) {
        b.step(
            &leftover.name,
            Action::RemoveContainer {
                container: leftover.name.clone(),
                reason: "left over from an interrupted deploy".into(),
            },
        );
    }
    for standby in obs.with_role(Role::Standby) {
        b.step(
            &standby.name,
            Action::RemoveContainer {
                container: standby.name.clone(),
                reason: "replaced by this deploy".into(),
            },
        );
    }
    let mut env: Vec<String> = deploy.env.keys().cloned().collect();
    if let ProxyDriver::NginxProxy { .. } = deploy.proxy.driver {
        env.extend(["VIRTUAL_HOST".to_string(), "VIRTUAL_PORT".to_string()]);
    }
    b.step(
        &new,
        Action::CreateContainer {
            container: new.clone(),
            image: opts.image.clone(),
            network: back.clone(),
            gw_priority: b.priority(priority::BACK),
            env,
            secrets: deploy.secrets.clone(),
        },
    );
    let mut sim = Sim {
        container: new.clone(),
        endpoints: vec![Endpoint {
            network: back.clone(),
            internal: back_internal,
            gw_priority: priority::BACK,
        }],
    };
    for (name, lookup) in deploy.networks.iter().zip(&obs.extras) {
        let internal = match lookup {
            NetworkLookup::Found(n) => n.internal,
            NetworkLookup::Ambiguous { matches, .. } => {
                b.warn(
                    WarningCode::DuplicateNetwork,
                    format!(
                        "{} networks are named {name}; the engine refuses to attach an ambiguous name. Remove \
                         the extra ones with `docker network rm <id>`.",
                        matches.len()
                    ),
                );
                matches[0].internal
            }
            NetworkLookup::Missing { .. } => {
                b.warn(
                    WarningCode::NetworkMissing,
                    format!(
                        "network {name} (listed in networks:) does not exist; create it or remove it from the spec."
                    ),
                );
                false
            }
        };
        let change = sim.connect(
            Endpoint {
                network: name.clone(),
                internal,
                gw_priority: priority::EXTRA,
            },
            obs,
        );
        b.route_warning(
            &change,
            name,
            &format!(
                "`up` would stop with exit 5. Fix: rename the network so that it sorts after {back}, create it \
                 --internal, or use Engine 28+ where bgdeploy sends GwPriority."
            ),
        );
        b.step(
            &new,
            Action::ConnectNetwork {
                container: new.clone(),
                network: name.clone(),
                gw_priority: b.priority(priority::EXTRA),
                route: change,
            },
        );
    }
    b.step(
        &new,
        Action::StartContainer {
            container: new.clone(),
        },
    );
    if !deploy.networks.is_empty() {
        b.step(
            &new,
            Action::CheckRoute {
                container: new.clone(),
                expect: Some(back.clone()),
            },
        );
    }

    // 4. Health.
    b.step(
        &new,
        Action::WaitHealthy {
            container: new.clone(),
            check: health_desc(deploy),
            deadline_secs: secs(deploy.health.deadline),
        },
    );

    if !opts.no_cutover {
        // 5. Front network, route check.
        let change = sim.connect(
            Endpoint {
                network: front.clone(),
                internal: front_internal,
                gw_priority: priority::FRONT,
            },
            obs,
        );
        b.route_warning(
            &change,
            &front,
            &format!("`up` would stop with exit 5. Fix: create {front} as internal, or keep {back} sorting first."),
        );
        b.step(
            &new,
            Action::ConnectNetwork {
                container: new.clone(),
                network: front.clone(),
                gw_priority: b.priority(priority::FRONT),
                route: change,
            },
        );
        b.step(
            &new,
            Action::CheckRoute {
                container: new.clone(),
                expect: Some(back.clone()),
            },
        );

        // 6. Proxy routes to the new container.
        let driver = deploy.proxy.driver.name().to_string();
        let switch = !matches!(deploy.proxy.driver, ProxyDriver::None);
        let proxy_target = proxy_name.clone().unwrap_or_else(|| driver.clone());
        if switch {
            b.step(
                &proxy_target,
                Action::ProxySwitch {
                    driver: driver.clone(),
                    phase: ProxyPhase::Add,
                    container: new.clone(),
                },
            );
        }

        // 7-8. Old live: detach, proxy again, drain, stop.
        for old in &live {
            b.step(
                &old.name,
                Action::DisconnectNetwork {
                    container: old.name.clone(),
                    network: front.clone(),
                },
            );
            if switch {
                b.step(
                    &proxy_target,
                    Action::ProxySwitch {
                        driver: driver.clone(),
                        phase: ProxyPhase::Remove,
                        container: old.name.clone(),
                    },
                );
            }
            b.step(
                &old.name,
                Action::Drain {
                    container: old.name.clone(),
                    port: deploy.port,
                    max_secs: secs(deploy.drain),
                },
            );
            b.step(
                &old.name,
                Action::StopContainer {
                    container: old.name.clone(),
                    timeout_secs: secs(deploy.stop_timeout),
                },
            );
        }
        // Retired after this deploy: the old live ones (newest), then those already retired.
        let retired = live.iter().copied().chain(obs.with_role(Role::Retired));
        for gone in retired.skip(deploy.keep as usize) {
            b.step(
                &gone.name,
                Action::RemoveContainer {
                    container: gone.name.clone(),
                    reason: format!("retired beyond keep: {}", deploy.keep),
                },
            );
        }
    }

    // 9. History and lock.
    b.step(
        format!("{app}/{stage}"),
        Action::RecordHistory {
            app: app.to_string(),
            stage: stage.to_string(),
        },
    );
    b.step(format!("{app}/{stage}"), Action::ReleaseLock { lock });

    Plan {
        app: app.to_string(),
        stage: stage.to_string(),
        image: opts.image.clone(),
        container: new,
        engine: obs.engine.clone(),
        steps: b.steps,
        warnings: b.warnings,
    }
}
