//! The planner. Pure: no engine, no clock, no randomness (the new container's name comes in
//! through `PlanOptions`), so its output can be snapshotted from fixed states.

use std::time::Duration;

use super::step::{Action, FamilyChange, ProxyPhase, RouteChange, RunPhase, Step, secs};
use super::warning::{Warning, WarningCode};
use super::{Plan, priority};
use crate::names;
use crate::observe::{Attachment, ContainerInfo, NetworkLookup, Observed, ProxyLookup, Role};
use crate::route::{Endpoint, default_routes};
use crate::spec::{Deploy, HealthCheck};

#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The image to deploy (`--image`, else the spec's). For `cutover` and `rollback`, ignored:
    /// the image is the one of the container that becomes live.
    pub image: String,
    /// Unique part of the new container's name.
    pub suffix: String,
    /// `--no-cutover`: stop once the release is healthy on the back network.
    pub no_cutover: bool,
    pub lock_wait: Duration,
    pub pull: Pull,
    pub mode: Mode,
}

/// Which command the plan is for. All three share the switch (DESIGN.md §2 steps 5–9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Mode {
    /// A new release from `image`.
    #[default]
    Up,
    /// Make the standby live.
    Cutover,
    /// Make a retired release live again: the newest, or the one named.
    Rollback { to: Option<String> },
}

impl Mode {
    /// The command that runs a plan of this mode.
    pub fn command(&self) -> &'static str {
        match self {
            Mode::Up => "up",
            Mode::Cutover => "cutover",
            Mode::Rollback { .. } => "rollback",
        }
    }
}

/// Why there is no plan: `cutover` with no standby, `rollback` with nothing retired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{app}/{stage} has no standby to cut over to; start one with `bgdeploy up {app} {stage} --no-cutover`"
    )]
    NoStandby { app: String, stage: String },
    #[error(
        "{app}/{stage} has no retired release to roll back to (keep: {keep}); `bgdeploy status {app} {stage}` shows what there is"
    )]
    NothingRetired {
        app: String,
        stage: String,
        keep: u32,
    },
    #[error("{name} is not a retired release of {app}/{stage}; retired: {retired}")]
    NotRetired {
        name: String,
        app: String,
        stage: String,
        retired: String,
    },
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
            .map(|a| {
                Endpoint::new(a.network.clone(), a.internal)
                    .priority(a.gw_priority)
                    .ipv6(a.ipv6)
            })
            .collect();
        Sim {
            container: container.to_string(),
            endpoints,
        }
    }

    /// Adds an endpoint and returns how the default routes change.
    fn connect(&mut self, ep: Endpoint, obs: &Observed) -> RouteChange {
        let api = obs.engine.api;
        let before = default_routes(&self.endpoints, api);
        self.endpoints.push(ep);
        let after = default_routes(&self.endpoints, api);
        let ipv6 = self.endpoints.iter().any(|e| e.ipv6).then(|| FamilyChange {
            before: before.v6.map(|h| h.network),
            after: after.v6.as_ref().map(|h| h.network.clone()),
            reason: after.v6.as_ref().map(|h| h.reason),
        });
        RouteChange {
            container: self.container.clone(),
            before: before.v4.map(|h| h.network),
            after: after.v4.as_ref().map(|h| h.network.clone()),
            reason: after.v4.map(|h| h.reason),
            ipv6,
        }
    }
}

struct Builder<'a> {
    obs: &'a Observed,
    steps: Vec<Step>,
    warnings: Vec<Warning>,
    /// The phase the next steps belong to; it only moves forward.
    phase: RunPhase,
}

impl Builder<'_> {
    fn step(&mut self, target: impl Into<String>, action: Action) {
        self.push(Step::new(target, action));
    }

    /// A step that starts together with the previous one.
    fn step_alongside(&mut self, target: impl Into<String>, action: Action) {
        self.push(Step::new(target, action).alongside());
    }

    fn push(&mut self, step: Step) {
        self.steps.push(step.in_phase(self.phase));
    }

    /// The steps from here on are in `phase`.
    fn enter(&mut self, phase: RunPhase) {
        self.phase = self.phase.max(phase);
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

    /// Create or reuse one of the app/stage's own networks, dual-stack when `ipv6` is given
    /// (with the subnet from the spec, if any); returns whether it is internal and whether it
    /// has IPv6.
    fn ensure_network(
        &mut self,
        lookup: &NetworkLookup,
        internal: bool,
        ipv6: Option<Option<&String>>,
    ) -> (bool, bool) {
        let name = lookup.name().to_string();
        match lookup {
            NetworkLookup::Missing { .. } => {
                self.step(
                    &name,
                    Action::CreateNetwork {
                        network: name.clone(),
                        internal,
                        ipv6: ipv6.is_some(),
                        ipv6_subnet: ipv6.flatten().cloned(),
                    },
                );
                (internal, ipv6.is_some())
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
                (n.internal, n.ipv6)
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
                (first.internal, first.ipv6)
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

/// Turns a validated deploy and the observed state into the steps of `up`, `cutover` or
/// `rollback`.
pub fn plan(deploy: &Deploy, obs: &Observed, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut b = Builder {
        obs,
        steps: Vec::new(),
        warnings: Vec::new(),
        phase: RunPhase::Prepare,
    };
    let (app, stage) = (deploy.app.as_str(), deploy.stage.as_str());
    let lock = names::lock_name(app, stage);

    // What becomes live, decided before any step so that a plan that cannot be is no plan.
    let target = match &opts.mode {
        Mode::Up => None,
        Mode::Cutover => {
            Some(
                obs.with_role(Role::Standby)
                    .next()
                    .ok_or_else(|| PlanError::NoStandby {
                        app: app.into(),
                        stage: stage.into(),
                    })?,
            )
        }
        Mode::Rollback { to } => Some(rollback_target(deploy, obs, to.as_deref())?),
    };

    // 1. Lock.
    if let Some(l) = &obs.lock {
        b.warn(
            WarningCode::Locked,
            format!(
                "another deploy holds the lock {lock} ({}, since {}); it will be waited for up to \
                 --lock-wait, then bgdeploy exits 4. If that deploy is gone: `bgdeploy lock release {app} {stage}`.",
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
    if opts.mode == Mode::Up {
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
    }

    // 2. Networks and the proxy's attachment.
    let nets = networks_and_proxy(&mut b, deploy);

    // 3-4. The release that becomes live, healthy on the back network.
    let (new, image, mut sim) = match target {
        None => {
            let new = names::container_name(app, stage, &opts.suffix);
            let sim = new_release(&mut b, deploy, opts, &new, &nets);
            (new, opts.image.clone(), sim)
        }
        Some(c) => {
            let mut attachments = c.attachments.clone();
            if c.state != "running" {
                // A stopped release still attached to FRONT_ (a run killed between stopping
                // it and detaching it; a live release that died) would take traffic through
                // the proxy the moment it starts, before it is healthy: detach it first.
                if attachments.iter().any(|a| a.network == nets.front) {
                    b.step(
                        &c.name,
                        Action::DisconnectNetwork {
                            container: c.name.clone(),
                            network: nets.front.clone(),
                        },
                    );
                    attachments.retain(|a| a.network != nets.front);
                }
                b.step(
                    &c.name,
                    Action::StartContainer {
                        container: c.name.clone(),
                    },
                );
            }
            let sim = Sim::from_attachments(&c.name, &attachments);
            (c.name.clone(), c.image.clone(), sim)
        }
    };
    b.step(
        &new,
        Action::WaitHealthy {
            container: new.clone(),
            check: health_desc(deploy),
            deadline_secs: secs(deploy.health.deadline),
        },
    );

    let switching = !(opts.mode == Mode::Up && opts.no_cutover);
    // Once per run that moves traffic to a release that never served it: `rollback` brings
    // back one that did (its migrations ran), and a standby runs it at its `cutover`.
    let migrates = matches!(opts.mode, Mode::Up | Mode::Cutover);
    if let (true, true, Some(hook)) = (switching, migrates, &deploy.hooks.before_switch) {
        let oneoff = names::oneoff_name(app, stage, &opts.suffix);
        b.step(
            &oneoff,
            Action::BeforeSwitch {
                container: oneoff.clone(),
                image: image.clone(),
                command: hook.command.clone(),
                timeout_secs: secs(hook.timeout),
            },
        );
    }
    let tail = if !switching {
        Tail::default()
    } else {
        switch(&mut b, deploy, &nets, &new, &mut sim)
    };

    // 9. History (written while the old releases stop), the old releases leave FRONT_ once
    // stopped, and the lock.
    let history = Action::RecordHistory {
        app: app.to_string(),
        stage: stage.to_string(),
    };
    if tail.retiring {
        b.step_alongside(format!("{app}/{stage}"), history);
    } else {
        b.step(format!("{app}/{stage}"), history);
    }
    for step in tail.after {
        b.push(step);
    }
    b.step(format!("{app}/{stage}"), Action::ReleaseLock { lock });
    Ok(Plan {
        command: opts.mode.command(),
        app: app.to_string(),
        stage: stage.to_string(),
        image,
        container: new,
        engine: obs.engine.clone(),
        steps: b.steps,
        warnings: b.warnings,
        retiring: tail.retired,
    })
}

fn rollback_target<'o>(
    deploy: &Deploy,
    obs: &'o Observed,
    to: Option<&str>,
) -> Result<&'o ContainerInfo, PlanError> {
    let (app, stage) = (deploy.app.clone(), deploy.stage.clone());
    let mut retired = obs.with_role(Role::Retired);
    match to {
        None => retired.next().ok_or(PlanError::NothingRetired {
            app,
            stage,
            keep: deploy.keep,
        }),
        Some(name) => obs
            .with_role(Role::Retired)
            .find(|c| c.name == name)
            .ok_or_else(|| PlanError::NotRetired {
                name: name.to_string(),
                app,
                stage,
                retired: {
                    let names: Vec<&str> = retired.map(|c| c.name.as_str()).collect();
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                },
            }),
    }
}

/// What step 2 found out, for the later steps.
struct Nets {
    front: String,
    back: String,
    back_internal: bool,
    back_ipv6: bool,
    front_internal: bool,
    front_ipv6: bool,
    proxy: Option<String>,
}

/// Step 2: BACK_ and FRONT_, and the proxy on FRONT_ with its route checked.
fn networks_and_proxy(b: &mut Builder<'_>, deploy: &Deploy) -> Nets {
    let obs = b.obs;
    let (app, stage) = (deploy.app.as_str(), deploy.stage.as_str());
    let front = names::front_network(app, stage);
    let back = names::back_network(app, stage);
    let v6 = deploy.ipv6.as_ref();
    let (back_internal, back_ipv6) =
        b.ensure_network(&obs.back, false, v6.map(|v| v.back.as_ref()));
    let (front_internal, front_ipv6) = b.ensure_network(
        &obs.front,
        deploy.front_internal,
        v6.map(|v| v.front.as_ref()),
    );
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
    let proxy = deploy.proxy.driver.container().map(str::to_string);
    match (&obs.proxy, &proxy) {
        (ProxyLookup::Found(p), Some(name)) => {
            if !p.running {
                b.warn(WarningCode::ProxyMissing, format!("proxy container {name} is not running; start it (`docker start {name}`), then deploy."));
            }
            if !p.attachments.iter().any(|a| a.network == front) {
                let mut sim = Sim::from_attachments(name, &p.attachments);
                let change = sim.connect(
                    Endpoint::new(front.clone(), front_internal).priority(priority::FRONT).ipv6(front_ipv6),
                    obs,
                );
                b.route_warning(
                    &change,
                    &front,
                    &format!(
                        "Every client of the proxy would lose its connections, so bgdeploy refuses (exit 5). Fix: \
                         create {front} as internal (front_internal: true; `docker network rm {front}` if it \
                         exists, then deploy again), or use Engine 28+ where bgdeploy sends GwPriority."
                    ),
                );
                let expect = change.before.clone();
                let expect_v6 = change.ipv6.as_ref().and_then(|c| c.before.clone());
                b.step(
                    name,
                    Action::ConnectNetwork {
                        container: name.clone(),
                        network: front.clone(),
                        gw_priority: b.priority(priority::FRONT),
                        route: change,
                    },
                );
                b.step(name, Action::CheckRoute { container: name.clone(), expect, expect_v6 });
            }
        }
        (ProxyLookup::Missing { .. }, Some(name)) => b.warn(
            WarningCode::ProxyMissing,
            format!("proxy container {name} does not exist on the engine; start it (or fix proxy.container) first."),
        ),
        _ => {}
    }
    Nets {
        front,
        back,
        back_internal,
        back_ipv6,
        front_internal,
        front_ipv6,
        proxy,
    }
}

/// Steps 3: leftovers and a replaced standby go; the new release is created on BACK_, joins
/// the extra networks and starts. Returns its endpoints for the route simulation.
fn new_release(
    b: &mut Builder<'_>,
    deploy: &Deploy,
    opts: &PlanOptions,
    new: &str,
    nets: &Nets,
) -> Sim {
    let obs = b.obs;
    let back = names::back_network(&deploy.app, &deploy.stage);
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
                reason: "standby replaced by this deploy".into(),
            },
        );
    }
    for path in &obs.missing_binds {
        b.warn(
            WarningCode::BindPathMissing,
            format!(
                "the host path {path} in `volumes` does not exist on this host; create it (or fix \
                 `volumes`), then deploy. bgdeploy stops here rather than let the engine fail \
                 the release."
            ),
        );
    }
    let mut env: Vec<String> = deploy.env.keys().cloned().collect();
    let proxy_env = crate::proxy::driver(&deploy.proxy.driver).release_env(deploy.port);
    env.extend(proxy_env.into_iter().map(|(name, _)| name));
    b.step(
        new,
        Action::CreateContainer {
            container: new.to_string(),
            image: opts.image.clone(),
            network: back.clone(),
            gw_priority: b.priority(priority::BACK),
            env,
            secrets: deploy.secrets.clone(),
            settings: Box::new(deploy.container.clone()),
            volumes_created: obs
                .volumes
                .iter()
                .filter(|v| !v.exists)
                .map(|v| v.name.clone())
                .collect(),
        },
    );
    let mut sim = Sim {
        container: new.to_string(),
        endpoints: vec![
            Endpoint::new(back.clone(), nets.back_internal)
                .priority(priority::BACK)
                .ipv6(nets.back_ipv6),
        ],
    };
    for (name, lookup) in deploy.networks.iter().zip(&obs.extras) {
        let (internal, ipv6) = match lookup {
            NetworkLookup::Found(n) => (n.internal, n.ipv6),
            NetworkLookup::Ambiguous { matches, .. } => {
                b.warn(
                    WarningCode::DuplicateNetwork,
                    format!(
                        "{} networks are named {name}; the engine refuses to attach an ambiguous name. Remove \
                         the extra ones with `docker network rm <id>`.",
                        matches.len()
                    ),
                );
                matches
                    .first()
                    .map_or((false, false), |m| (m.internal, m.ipv6))
            }
            NetworkLookup::Missing { .. } => {
                b.warn(
                    WarningCode::NetworkMissing,
                    format!("network {name} (listed in networks:) does not exist; create it or remove it from the spec."),
                );
                (false, false)
            }
        };
        let change = sim.connect(
            Endpoint::new(name.clone(), internal)
                .priority(priority::EXTRA)
                .ipv6(ipv6),
            obs,
        );
        b.route_warning(
            &change,
            name,
            &if change.reason == Some(crate::route::RouteReason::DualStack) {
                format!(
                    "`up` would stop with exit 5. Fix: make {back} dual-stack too (`ipv6: true`), so that \
                     bgdeploy's GwPriority decides, or attach {name} without IPv6, or create it --internal."
                )
            } else {
                format!(
                    "`up` would stop with exit 5. Fix: rename the network so that it sorts after {back}, create it \
                     --internal, or use Engine 28+ where bgdeploy sends GwPriority."
                )
            },
        );
        b.step(
            new,
            Action::ConnectNetwork {
                container: new.to_string(),
                network: name.clone(),
                gw_priority: b.priority(priority::EXTRA),
                route: change,
            },
        );
    }
    b.step(
        new,
        Action::StartContainer {
            container: new.to_string(),
        },
    );
    if !deploy.networks.is_empty() {
        b.step(
            new,
            Action::CheckRoute {
                container: new.to_string(),
                expect: Some(back.clone()),
                expect_v6: nets.back_ipv6.then_some(back),
            },
        );
    }
    sim
}

/// What the end of a switch leaves to the steps after it.
#[derive(Default)]
struct Tail {
    /// The last steps stop or remove releases: the history record can be written alongside.
    retiring: bool,
    /// The live releases taken out of traffic.
    retired: Vec<String>,
    /// Steps for the old releases once they stopped: leaving FRONT_, or going for good when
    /// beyond `keep`.
    after: Vec<Step>,
}

/// Steps 5-8: `new` joins FRONT_ (route checked), the proxy routes to it, the old live
/// releases leave (proxy, drain, stop, FRONT_), and retired ones beyond `keep` go.
///
/// The old release stays on FRONT_ while it drains, so that requests in flight through the
/// proxy can finish — except with nginx-proxy, which only drops a backend from its generated
/// config once the container has left the shared network. It leaves FRONT_ after it stopped:
/// a stopped container's detach is bookkeeping in the engine, a running one's is a network
/// change that costs as much as a tenth of a deploy.
fn switch(b: &mut Builder<'_>, deploy: &Deploy, nets: &Nets, new: &str, sim: &mut Sim) -> Tail {
    let obs = b.obs;
    let front = &nets.front;
    b.enter(RunPhase::Switch);
    if !sim.endpoints.iter().any(|e| &e.network == front) {
        let change = sim.connect(
            Endpoint::new(front.clone(), nets.front_internal)
                .priority(priority::FRONT)
                .ipv6(nets.front_ipv6),
            obs,
        );
        b.route_warning(
            &change,
            front,
            &format!("bgdeploy would stop with exit 5. Fix: create {front} as internal, or keep {} sorting first.", nets.back),
        );
        b.step(
            new,
            Action::ConnectNetwork {
                container: new.to_string(),
                network: front.clone(),
                gw_priority: b.priority(priority::FRONT),
                route: change,
            },
        );
    }
    b.step(
        new,
        Action::CheckRoute {
            container: new.to_string(),
            expect: Some(nets.back.clone()),
            expect_v6: nets.back_ipv6.then(|| nets.back.clone()),
        },
    );

    let proxy_driver = crate::proxy::driver(&deploy.proxy.driver);
    let driver = proxy_driver.name().to_string();
    let switch = proxy_driver.switches();
    let proxy = nets.proxy.clone().unwrap_or_else(|| driver.clone());
    if switch {
        b.step(
            &proxy,
            Action::ProxySwitch {
                driver: driver.clone(),
                phase: ProxyPhase::Add,
                container: new.to_string(),
            },
        );
    }
    let old: Vec<&ContainerInfo> = obs.live().filter(|c| c.name != new).collect();
    let leaves_first = proxy_driver.leaves_first();
    // Retired after this run, newest first: the releases that just left, then those already
    // retired (less the one a rollback brings back); the oldest beyond `keep` go.
    let retired: Vec<&ContainerInfo> = old
        .iter()
        .copied()
        .chain(obs.with_role(Role::Retired).filter(|c| c.name != new))
        .collect();
    let beyond_keep: Vec<&str> = retired
        .iter()
        .skip(deploy.keep as usize)
        .map(|c| c.name.as_str())
        .collect();
    let remove = |name: &str| Action::RemoveContainer {
        container: name.to_string(),
        reason: format!("retired beyond keep: {}", deploy.keep),
    };
    let mut tail = Tail {
        retired: old.iter().map(|c| c.name.clone()).collect(),
        ..Tail::default()
    };
    for c in &old {
        let name = c.name.clone();
        if leaves_first {
            // The point of no return: nginx-proxy drops it from its config.
            b.enter(RunPhase::Retire);
            b.step(
                &name,
                Action::DisconnectNetwork {
                    container: name.clone(),
                    network: front.clone(),
                },
            );
        }
        if beyond_keep.contains(&name.as_str()) {
            // Stopped first all the same, so that it shuts down cleanly.
            tail.after.push(Step::new(&name, remove(&name)));
        } else if !leaves_first {
            tail.after.push(Step::new(
                &name,
                Action::DisconnectNetwork {
                    container: name.clone(),
                    network: front.clone(),
                },
            ));
        }
        if switch {
            // The point of no return: the proxy stops routing to the old release.
            b.enter(RunPhase::Retire);
            b.step(
                &proxy,
                Action::ProxySwitch {
                    driver: driver.clone(),
                    phase: ProxyPhase::Remove,
                    container: name.clone(),
                },
            );
        }
        b.step(
            &name,
            Action::Drain {
                container: name.clone(),
                port: deploy.port,
                max_secs: secs(deploy.drain),
            },
        );
    }
    // Drained, the old releases stop together, and releases retired earlier that are beyond
    // `keep` go meanwhile: independent engine calls.
    let stops = old.iter().map(|c| {
        (
            c.name.as_str(),
            Action::StopContainer {
                container: c.name.clone(),
                timeout_secs: secs(deploy.stop_timeout),
            },
        )
    });
    let earlier = retired[old.len()..]
        .iter()
        .filter(|c| beyond_keep.contains(&c.name.as_str()))
        .map(|c| (c.name.as_str(), remove(&c.name)));
    if !old.is_empty() {
        // Without a proxy to switch, stopping the old release is what takes it out.
        b.enter(RunPhase::Retire);
    }
    for (name, action) in stops.chain(earlier) {
        if tail.retiring {
            b.step_alongside(name, action);
        } else {
            b.step(name, action);
        }
        tail.retiring = true;
    }
    tail
}
