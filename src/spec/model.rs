//! The validated deploy model. Nothing here can be constructed from unchecked input except
//! through `spec::load`/`spec::parse`: the planner and executor only ever see these types.

use std::collections::BTreeMap;
use std::time::Duration;

use indexmap::IndexMap;

/// A whole validated spec file: every app, with every stage already merged and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Where the spec came from, for messages.
    pub path: String,
    pub apps: IndexMap<String, AppStages>,
}

/// One app's stages, each a fully resolved deploy configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AppStages {
    pub stages: IndexMap<String, Deploy>,
}

/// Everything needed to deploy one app to one stage, with defaults applied and
/// stage overrides merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Deploy {
    pub app: String,
    pub stage: String,
    pub image: String,
    pub port: u16,
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    /// Names of environment variables read from bgdeploy's environment at deploy time.
    /// Only the names live in the model; values are read by `secret::resolve` and never printed.
    pub secrets: Vec<String>,
    /// Existing networks joined on the back side, in spec order.
    pub networks: Vec<String>,
    pub health: Health,
    pub proxy: Proxy,
    pub front_internal: bool,
    pub drain: Duration,
    pub stop_timeout: Duration,
    pub keep: u32,
    /// Volumes, limits, logging, user and the rest of Compose's keys (DESIGN.md §11).
    pub container: super::settings::ContainerSettings,
    /// `hooks`: commands run around the deploy (DESIGN.md §10).
    pub hooks: Hooks,
    /// `hosts`: the engines of a fleet, name → engine, in rollout order (DESIGN.md §9).
    /// Empty: the one engine the docker CLI would pick (section 8).
    pub hosts: IndexMap<String, HostEngine>,
    /// `rollout`: how a fleet run goes over `hosts`.
    pub rollout: Rollout,
}

impl Deploy {
    /// Whether this stage is deployed to several named engines.
    pub fn is_fleet(&self) -> bool {
        !self.hosts.is_empty()
    }
}

/// One fleet host's engine, as written in `hosts:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEngine {
    /// A URL as in `DOCKER_HOST`; `cert_path` (with `ca.pem`, `cert.pem`, `key.pem`) makes
    /// a `tcp://` URL verified TLS.
    Url {
        url: String,
        cert_path: Option<std::path::PathBuf>,
    },
    /// A docker context by name (DESIGN.md §8).
    Context { name: String },
}

impl std::fmt::Display for HostEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostEngine::Url { url, .. } => write!(f, "{url}"),
            HostEngine::Context { name } => write!(f, "context {name}"),
        }
    }
}

/// `rollout:` — the order and pace of a fleet run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// Hosts deployed first, alone; `None`: the default (1 with two or more hosts).
    pub canary: Option<u32>,
    /// Hosts at a time after the canary.
    pub parallel: u32,
    /// Pause between batches.
    pub wait: Duration,
    pub on_failure: OnFailure,
}

impl Rollout {
    /// The canary count for a fleet of `hosts` hosts: as written, else 1 when there are two
    /// or more (a fleet of one has nothing to be a canary for).
    pub fn canary_for(&self, hosts: usize) -> usize {
        match self.canary {
            Some(n) => (n as usize).min(hosts),
            None if hosts >= 2 => 1,
            None => 0,
        }
    }
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            canary: None,
            parallel: defaults::PARALLEL,
            wait: defaults::WAIT,
            on_failure: OnFailure::Rollback,
        }
    }
}

/// `rollout.on_failure`: what a failed fleet run does with hosts that already switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Every host that switched goes back to the release it had (health-gated).
    Rollback,
    /// They are left as they are (exit 6).
    Halt,
}

impl OnFailure {
    pub fn name(self) -> &'static str {
        match self {
            OnFailure::Rollback => "rollback",
            OnFailure::Halt => "halt",
        }
    }
}

/// `hooks:` — what runs around a deploy. Every hook is optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hooks {
    /// On bgdeploy's machine, before anything changes; a failure stops the run (exit 1).
    pub pre_deploy: Option<Hook>,
    /// In a one-off container of the new image, once it is healthy and before traffic moves.
    pub before_switch: Option<Hook>,
    /// On bgdeploy's machine, after a run that succeeded.
    pub post_deploy: Option<Hook>,
    /// On bgdeploy's machine, after a run that failed.
    pub on_failure: Option<Hook>,
}

/// One hook: a command and how long it may run before it is killed.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub command: Vec<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub check: HealthCheck,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive successes required.
    pub healthy: u32,
    pub deadline: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HealthCheck {
    /// GET `path` on the container's back-network address and port; healthy when the status is in `expect`.
    Http { path: String, expect: StatusRange },
    /// A TCP connect to the container's back-network address on `port`.
    Tcp { port: u16 },
    /// Exec `argv` in the container; exit 0 is healthy.
    Cmd { argv: Vec<String> },
    /// The image's own HEALTHCHECK, as reported by the engine.
    Docker,
}

impl HealthCheck {
    pub fn mode(&self) -> &'static str {
        match self {
            HealthCheck::Http { .. } => "http",
            HealthCheck::Tcp { .. } => "tcp",
            HealthCheck::Cmd { .. } => "cmd",
            HealthCheck::Docker => "docker",
        }
    }
}

/// An inclusive range of HTTP status codes, e.g. `200-399`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    pub low: u16,
    pub high: u16,
}

impl StatusRange {
    pub fn contains(&self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }
}

impl std::fmt::Display for StatusRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Proxy {
    pub driver: ProxyDriver,
    /// `proxy.verify`: checked through the proxy after each switch.
    pub verify: Option<Verify>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProxyDriver {
    /// nginx-proxy (docker-gen): routes by VIRTUAL_HOST / VIRTUAL_PORT on the container.
    NginxProxy {
        container: String,
        virtual_host: String,
        reload: Option<Vec<String>>,
        /// A separate docker-gen container to signal instead of regenerating inside `container`.
        docker_gen: Option<DockerGen>,
    },
    /// Plain nginx: bgdeploy renders the server block into `config_path` in `container`.
    Nginx {
        container: String,
        virtual_host: String,
        config_path: String,
        reload: Option<Vec<String>>,
    },
    /// A command run on the host with BGDEPLOY_* variables.
    Command {
        command: Vec<String>,
    },
    None,
}

impl ProxyDriver {
    pub fn name(&self) -> &'static str {
        match self {
            ProxyDriver::NginxProxy { .. } => "nginx-proxy",
            ProxyDriver::Nginx { .. } => "nginx",
            ProxyDriver::Command { .. } => "command",
            ProxyDriver::None => "none",
        }
    }

    /// The proxy container that must share the front network, for drivers that have one.
    pub fn container(&self) -> Option<&str> {
        match self {
            ProxyDriver::NginxProxy { container, .. } | ProxyDriver::Nginx { container, .. } => {
                Some(container)
            }
            ProxyDriver::Command { .. } | ProxyDriver::None => None,
        }
    }

    pub fn virtual_host(&self) -> Option<&str> {
        match self {
            ProxyDriver::NginxProxy { virtual_host, .. }
            | ProxyDriver::Nginx { virtual_host, .. } => Some(virtual_host),
            ProxyDriver::Command { .. } | ProxyDriver::None => None,
        }
    }
}

/// `proxy.docker_gen_container` / `proxy.signal`: nginx-proxy run as two containers, where
/// docker-gen (started with `-watch` and `-notify-sighup <nginx>`) regenerates the config and
/// reloads nginx when it receives `signal`.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerGen {
    pub container: String,
    /// A signal name without the `SIG` prefix, e.g. `HUP`.
    pub signal: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verify {
    pub url: String,
    pub host: Option<String>,
}

/// Defaults applied when a key is absent. Kept in one place so that the README,
/// `deploy.example.yaml` and the validator agree.
pub mod defaults {
    use std::time::Duration;

    pub const EXPECT: super::StatusRange = super::StatusRange {
        low: 200,
        high: 399,
    };
    pub const INTERVAL: Duration = Duration::from_millis(500);
    pub const TIMEOUT: Duration = Duration::from_secs(2);
    pub const HEALTHY: u32 = 1;
    pub const DEADLINE: Duration = Duration::from_secs(60);
    pub const FRONT_INTERNAL: bool = true;
    pub const DRAIN: Duration = Duration::from_secs(5);
    pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
    pub const KEEP: u32 = 2;
    /// `hooks.pre_deploy`, `post_deploy`, `on_failure`: a check or a notification that runs
    /// longer than this is hung.
    pub const HOOK_TIMEOUT: Duration = Duration::from_secs(5 * 60);
    /// `hooks.before_switch`: migrations can take a while.
    pub const BEFORE_SWITCH_TIMEOUT: Duration = Duration::from_secs(10 * 60);
    /// `rollout.parallel`: one host at a time after the canary.
    pub const PARALLEL: u32 = 1;
    /// `rollout.wait`: no pause between batches.
    pub const WAIT: Duration = Duration::ZERO;
    /// docker-gen regenerates its templates on SIGHUP.
    pub const DOCKER_GEN_SIGNAL: &str = "HUP";
}
