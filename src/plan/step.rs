//! A plan's steps as data: what `plan` prints and what the executor applies.

use std::time::Duration;

use serde::Serialize;

use crate::route::RouteReason;

/// One step: an action and its target. Serialized flat as
/// `{"action": "...", "target": "...", <action fields>}` (the JSON contract of `plan`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub target: String,
    /// Where the step stands relative to the point of no return. Serialized as `run_phase`:
    /// `proxy_switch` steps already carry a `phase` (add/remove) in the same flat object.
    #[serde(rename = "run_phase")]
    pub phase: RunPhase,
    /// The action in words, as the human output shows it.
    pub description: String,
    /// Starts together with the step before it instead of after it ends (steps that do not
    /// depend on each other, such as the old release stopping while the history is written).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub with_previous: bool,
}

impl Step {
    /// The `action` tag as it appears in JSON, e.g. `connect_network`.
    pub fn action_name(&self) -> String {
        serde_json::to_value(&self.action)
            .ok()
            .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_string))
            .unwrap_or_default()
    }

    pub fn new(target: impl Into<String>, action: Action) -> Step {
        Step {
            description: action.to_string(),
            action,
            target: target.into(),
            phase: RunPhase::Prepare,
            with_previous: false,
        }
    }

    /// This step, in `phase`.
    pub fn in_phase(mut self, phase: RunPhase) -> Step {
        self.phase = phase;
        self
    }

    /// This step, starting together with the one before it.
    pub fn alongside(mut self) -> Step {
        self.with_previous = true;
        self
    }
}

/// The three parts of a run. The executor reads the point of no return from them: the first
/// `Retire` step. Before it a failure or a signal undoes everything the run did and the live
/// release keeps serving; from it on nothing is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// The lock, networks, the proxy's attachment and the new release, healthy on the back
    /// network: nothing routes to it yet.
    Prepare,
    /// The new release joins the front network and the proxy routes to it, next to the old
    /// one: still undone on failure.
    Switch,
    /// The old releases leave the proxy, drain and stop: not undone.
    Retire,
}

impl RunPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Prepare => "prepare",
            RunPhase::Switch => "switch",
            RunPhase::Retire => "retire",
        }
    }
}

/// The predicted default route of a container after a network change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteChange {
    pub container: String,
    /// The network holding the default route before the step (`None`: no default route).
    pub before: Option<String>,
    /// The network that will hold it after the step.
    pub after: Option<String>,
    /// Why `after` holds it.
    pub reason: Option<RouteReason>,
    /// The same for the IPv6 default route; absent when none of the container's networks
    /// has IPv6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<FamilyChange>,
}

/// The predicted IPv6 default route around a network change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyChange {
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<RouteReason>,
}

impl RouteChange {
    /// A route that existed and would land elsewhere, in either family. Gaining a first
    /// route is not a move.
    pub fn moves(&self) -> bool {
        let v6 = self
            .ipv6
            .as_ref()
            .is_some_and(|c| c.before.is_some() && c.before != c.after);
        (self.before.is_some() && self.before != self.after) || v6
    }
}

/// A reason in a few words, for the plan's human form.
fn rule(reason: Option<RouteReason>) -> &'static str {
    match reason {
        None => "",
        Some(RouteReason::Only) => " (its only network)",
        Some(RouteReason::Internal) => " (internal networks last)",
        Some(RouteReason::Priority) => " (GwPriority)",
        Some(RouteReason::NameOrder) => " (name order)",
        Some(RouteReason::DualStack) => " (dual-stack first)",
        Some(RouteReason::GwBridge) => " (docker_gwbridge last)",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Take the app/stage's deploy lock (a created-never-started container).
    AcquireLock {
        lock: String,
        wait_secs: f64,
    },
    /// Create a network, labelled as bgdeploy's.
    CreateNetwork {
        network: String,
        internal: bool,
        /// Dual-stack (`ipv6:` in the spec).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        ipv6: bool,
        /// The IPv6 subnet given in the spec; none: the engine's pool.
        #[serde(skip_serializing_if = "Option::is_none")]
        ipv6_subnet: Option<String>,
    },
    /// Use a network that already exists.
    ReuseNetwork {
        network: String,
        id: String,
        internal: bool,
    },
    /// Pull the image. `allowed` is false under `--pull never`: the step then fails, before
    /// anything is created, because the image is not on the engine.
    PullImage {
        image: String,
        allowed: bool,
    },
    /// Remove one of our containers (a standby being replaced, a retired one beyond `keep`).
    RemoveContainer {
        container: String,
        reason: String,
    },
    /// Create the release container on the back network.
    CreateContainer {
        container: String,
        image: String,
        network: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        gw_priority: Option<i64>,
        /// Names of the env vars set (values are not shown; secrets are among them).
        env: Vec<String>,
        secrets: Vec<String>,
        /// Volumes, limits, logging, user and the rest (DESIGN.md §11), as the container gets them.
        settings: Box<crate::spec::ContainerSettings>,
        /// Named volumes that do not exist yet: the engine creates them with the container.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        volumes_created: Vec<String>,
    },
    /// Attach a container to a network.
    ConnectNetwork {
        container: String,
        network: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        gw_priority: Option<i64>,
        route: RouteChange,
    },
    StartContainer {
        container: String,
    },
    /// Wait until the release passes its health check `healthy` times in a row.
    WaitHealthy {
        container: String,
        check: String,
        deadline_secs: f64,
    },
    /// `hooks.before_switch`: run `command` to completion in a one-off container of the new
    /// release (its image and settings, on the back side), then remove it; a non-zero exit
    /// or a timeout fails the run before any traffic moves.
    BeforeSwitch {
        container: String,
        image: String,
        command: Vec<String>,
        timeout_secs: f64,
    },
    /// Read the container's default route from the kernel and compare with `expect`.
    CheckRoute {
        container: String,
        expect: Option<String>,
        /// Where the IPv6 default route must be; absent: only that an IPv6 route, if there
        /// is one, is on `expect` too.
        #[serde(skip_serializing_if = "Option::is_none")]
        expect_v6: Option<String>,
    },
    /// Tell the proxy to route to (`add`) or away from (`remove`) a container.
    ProxySwitch {
        driver: String,
        phase: ProxyPhase,
        container: String,
    },
    /// Detach a container from a network.
    DisconnectNetwork {
        container: String,
        network: String,
    },
    /// Wait until the container has no established connections on its port, at most `max`.
    Drain {
        container: String,
        port: u16,
        max_secs: f64,
    },
    StopContainer {
        container: String,
        timeout_secs: f64,
    },
    /// Record the deploy in the history kept on the engine.
    RecordHistory {
        app: String,
        stage: String,
    },
    ReleaseLock {
        lock: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyPhase {
    Add,
    Remove,
}

pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn dur(s: f64) -> String {
    humantime::format_duration(Duration::from_millis((s * 1000.0).round() as u64)).to_string()
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::AcquireLock { lock, wait_secs } => {
                write!(f, "take the deploy lock {lock}")?;
                if *wait_secs > 0.0 {
                    write!(f, " (waiting up to {})", dur(*wait_secs))?;
                }
                Ok(())
            }
            Action::CreateNetwork {
                network,
                internal,
                ipv6,
                ipv6_subnet,
            } => {
                let kind = if *internal {
                    "internal bridge"
                } else {
                    "bridge"
                };
                let family = match (ipv6, ipv6_subnet) {
                    (false, _) => String::new(),
                    (true, Some(subnet)) => format!(", dual-stack, IPv6 {subnet}"),
                    (true, None) => ", dual-stack, IPv6 from the engine's pool".to_string(),
                };
                write!(f, "create network {network} ({kind}{family})")
            }
            Action::ReuseNetwork {
                network, internal, ..
            } => {
                let kind = if *internal {
                    "internal"
                } else {
                    "not internal"
                };
                write!(f, "use existing network {network} ({kind})")
            }
            Action::PullImage {
                image,
                allowed: true,
            } => write!(f, "pull image {image}"),
            Action::PullImage {
                image,
                allowed: false,
            } => write!(
                f,
                "image {image} is not on the engine and --pull never forbids pulling it"
            ),
            Action::RemoveContainer { container, reason } => {
                write!(f, "remove container {container} ({reason})")
            }
            Action::CreateContainer {
                container,
                image,
                network,
                env,
                secrets,
                ..
            } => {
                write!(f, "create container {container} from {image} on {network}")?;
                if !env.is_empty() {
                    write!(f, "; env {}", env.join(", "))?;
                }
                if !secrets.is_empty() {
                    write!(f, "; secrets {} (values hidden)", secrets.join(", "))?;
                }
                Ok(())
            }
            Action::ConnectNetwork {
                container,
                network,
                route,
                ..
            } => {
                write!(f, "connect {container} to {network}; ")?;
                let why = rule(route.reason);
                match (&route.before, &route.after) {
                    (_, None) => write!(f, "no default route")?,
                    (Some(b), Some(a)) if b == a => write!(f, "default route stays on {a}{why}")?,
                    (Some(b), Some(a)) => write!(f, "DEFAULT ROUTE MOVES from {b} to {a}{why}")?,
                    (None, Some(a)) => write!(f, "default route on {a}{why}")?,
                }
                if let Some(v6) = &route.ipv6 {
                    let why = rule(v6.reason);
                    match (&v6.before, &v6.after) {
                        (_, None) => write!(f, "; no IPv6 default route")?,
                        (Some(b), Some(a)) if b == a => write!(f, "; IPv6 stays on {a}{why}")?,
                        (Some(b), Some(a)) => write!(f, "; IPv6 ROUTE MOVES from {b} to {a}{why}")?,
                        (None, Some(a)) => write!(f, "; IPv6 on {a}{why}")?,
                    }
                }
                Ok(())
            }
            Action::StartContainer { container } => write!(f, "start {container}"),
            Action::WaitHealthy {
                container,
                check,
                deadline_secs,
            } => {
                write!(
                    f,
                    "wait until {container} is healthy ({check}, deadline {})",
                    dur(*deadline_secs)
                )
            }
            Action::BeforeSwitch {
                container,
                image,
                command,
                timeout_secs,
            } => write!(
                f,
                "run hooks.before_switch `{}` in a one-off container {container} of {image} \
                 (timeout {}), then remove it",
                command.join(" "),
                dur(*timeout_secs)
            ),
            Action::CheckRoute {
                container,
                expect,
                expect_v6,
            } => match (expect, expect_v6) {
                (Some(net), Some(v6)) if net == v6 => write!(
                    f,
                    "check that {container}'s IPv4 and IPv6 default routes are on {net}"
                ),
                (Some(net), Some(v6)) => write!(
                    f,
                    "check that {container}'s default route is on {net}, its IPv6 one on {v6}"
                ),
                (Some(net), None) => {
                    write!(f, "check that {container}'s default route is on {net}")
                }
                (None, _) => write!(f, "check that {container} has no default route"),
            },
            Action::ProxySwitch {
                driver,
                phase,
                container,
            } => match phase {
                ProxyPhase::Add => write!(f, "route traffic to {container} ({driver})"),
                ProxyPhase::Remove => write!(f, "stop routing traffic to {container} ({driver})"),
            },
            Action::DisconnectNetwork { container, network } => {
                write!(f, "disconnect {container} from {network}")
            }
            Action::Drain {
                container,
                port,
                max_secs,
            } => write!(
                f,
                "drain {container}: wait for its connections on port {port} to close (at most {})",
                dur(*max_secs)
            ),
            Action::StopContainer {
                container,
                timeout_secs,
            } => {
                write!(
                    f,
                    "stop {container} (timeout {}) and keep it as retired",
                    dur(*timeout_secs)
                )
            }
            Action::RecordHistory { app, stage } => {
                write!(f, "record the deploy in {app}/{stage}'s history")
            }
            Action::ReleaseLock { lock } => write!(f, "release the deploy lock {lock}"),
        }
    }
}
