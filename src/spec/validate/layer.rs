//! One level of settings as written: an app's keys, or one stage's overrides, each value
//! already checked (`read`). Whether a level is complete is decided only after a stage is
//! merged over its app (`merge`, then `resolve`).

use std::time::Duration;

use indexmap::IndexMap;

use crate::spec::model::StatusRange;
use crate::spec::path::KeyPath;

/// A setting in one layer: not written, written but wrong (already reported, so nothing
/// that depends on it is reported again), or written and right.
#[derive(Debug, Clone, Default)]
pub(super) enum Val<T> {
    #[default]
    Absent,
    Bad,
    Set(T),
}

impl<T> Val<T> {
    pub fn from_checked(checked: Option<T>) -> Self {
        checked.map_or(Val::Bad, Val::Set)
    }

    /// This layer's value over `base`'s.
    pub fn or(self, base: Val<T>) -> Val<T> {
        match self {
            Val::Absent => base,
            written => written,
        }
    }

    pub fn set(&self) -> Option<&T> {
        match self {
            Val::Set(value) => Some(value),
            _ => None,
        }
    }
}

/// A value with the path it was written at, for problems found after merging.
#[derive(Debug, Clone)]
pub(super) struct At<T> {
    pub value: T,
    pub at: KeyPath,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Layer {
    pub at: KeyPath,
    pub image: Val<String>,
    pub port: Val<u16>,
    pub command: Val<Vec<String>>,
    pub env: IndexMap<String, At<String>>,
    pub secrets: Val<Vec<At<String>>>,
    pub networks: Val<Vec<String>>,
    pub health: Val<HealthLayer>,
    pub proxy: Val<ProxyLayer>,
    pub front_internal: Val<bool>,
    pub ipv6: Val<Option<crate::spec::model::Ipv6>>,
    pub drain: Val<Duration>,
    pub stop_timeout: Val<Duration>,
    pub keep: Val<u32>,
    /// The container settings of DESIGN.md §11.
    pub settings: super::settings::SettingsLayer,
    pub hooks: Val<HooksLayer>,
}

/// `hooks:` as written in one layer; a stage's hook replaces the app's hook of the same name.
#[derive(Debug, Clone, Default)]
pub(super) struct HooksLayer {
    pub pre_deploy: Val<HookLayer>,
    pub before_switch: Val<HookLayer>,
    pub post_deploy: Val<HookLayer>,
    pub on_failure: Val<HookLayer>,
}

/// One hook as written: `[argv...]` or `{command: [...], timeout: 5m}`.
#[derive(Debug, Clone)]
pub(super) struct HookLayer {
    pub command: Vec<String>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct HealthLayer {
    pub at: KeyPath,
    pub mode: Val<At<Mode>>,
    pub expect: Val<At<StatusRange>>,
    pub interval: Val<Duration>,
    pub timeout: Val<Duration>,
    pub healthy: Val<u32>,
    pub deadline: Val<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Mode {
    Http(String),
    /// `None`: the app's own port.
    Tcp(Option<u16>),
    Cmd(Vec<String>),
    Docker,
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Http(_) => "http",
            Mode::Tcp(_) => "tcp",
            Mode::Cmd(_) => "cmd",
            Mode::Docker => "docker",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct ProxyLayer {
    pub at: KeyPath,
    pub driver: Val<At<Driver>>,
    pub container: Val<At<String>>,
    pub virtual_host: Val<At<String>>,
    pub reload: Val<At<Vec<String>>>,
    pub config_path: Val<At<String>>,
    pub command: Val<At<Vec<String>>>,
    pub docker_gen_container: Val<At<String>>,
    pub signal: Val<At<String>>,
    pub verify: Val<VerifyLayer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Driver {
    NginxProxy,
    Nginx,
    Command,
    None,
}

pub(super) const DRIVERS: &[&str] = &["nginx-proxy", "nginx", "command", "none"];

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::NginxProxy => "nginx-proxy",
            Driver::Nginx => "nginx",
            Driver::Command => "command",
            Driver::None => "none",
        }
    }

    /// Whether this driver reads the proxy key `key` (`driver` and `verify` apply to all).
    pub fn uses(self, key: &str) -> bool {
        match key {
            "container" | "virtual_host" | "reload" => {
                matches!(self, Driver::NginxProxy | Driver::Nginx)
            }
            "config_path" => self == Driver::Nginx,
            "docker_gen_container" | "signal" => self == Driver::NginxProxy,
            "command" => self == Driver::Command,
            _ => true,
        }
    }

    /// The drivers that read `key`, for "belongs to" messages.
    pub fn users(key: &str) -> String {
        let users: Vec<String> = [Driver::NginxProxy, Driver::Nginx, Driver::Command]
            .into_iter()
            .filter(|d| d.uses(key))
            .map(|d| format!("`{}`", d.name()))
            .collect();
        match users.as_slice() {
            [one] => format!("driver {one}"),
            many => format!("drivers {}", many.join(" and ")),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct VerifyLayer {
    pub at: KeyPath,
    pub url: Val<String>,
    pub host: Val<String>,
}
