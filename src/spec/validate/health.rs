//! `health:` — how bgdeploy decides that a new release may get traffic. Exactly one of the
//! modes `http`/`tcp`/`cmd`/`docker`; a stage's mode replaces the app's, and the app's `expect`
//! carries over only to an `http` check.

use std::time::Duration;

use super::check::Check;
use super::leaf;
use super::resolve::{Block, Resolve};
use super::table::{At, Level, Val, keys, replace};
use crate::spec::model::{Health, HealthCheck, StatusRange, defaults};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::text::list;

keys! {
    /// `health:` as written in one layer.
    pub(super) struct HealthLayer => () {
        http: Mode, Both, replace, |c, n, a| leaf::http_path(c, n, a).map(Mode::Http);
        tcp: Mode, Both, replace, tcp;
        cmd: Mode, Both, replace, |c, n, a| leaf::argv(c, n, a).map(Mode::Cmd);
        docker: Mode, Both, replace, docker;
        expect: StatusRange, Both, replace, leaf::status_range;
        interval: Duration, Both, replace, |c, n, a| leaf::duration(c, n, a, true);
        timeout: Duration, Both, replace, |c, n, a| leaf::duration(c, n, a, true);
        healthy: u32, Both, replace, |c, n, a| leaf::count(c, n, a, 1);
        deadline: Duration, Both, replace, |c, n, a| leaf::duration(c, n, a, true);
    }
}

const MODES: &[&str] = &["http", "tcp", "cmd", "docker"];

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Mode {
    Http(String),
    /// `None`: the app's own port.
    Tcp(Option<u16>),
    Cmd(Vec<String>),
    Docker,
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Http(_) => "http",
            Mode::Tcp(_) => "tcp",
            Mode::Cmd(_) => "cmd",
            Mode::Docker => "docker",
        }
    }
}

impl HealthLayer {
    /// The check chosen: the one mode written (several are `Bad`, already reported).
    fn mode(&self) -> &Val<At<Mode>> {
        [&self.http, &self.tcp, &self.cmd, &self.docker]
            .into_iter()
            .find(|mode| !matches!(mode, Val::Absent))
            .unwrap_or(&Val::Absent)
    }
}

pub(super) fn read(check: &mut Check, node: &Node, at: &KeyPath) -> Option<HealthLayer> {
    let entries = check.map(node, at, "a map such as {http: /up}")?;
    let mut health = HealthLayer::read(check, entries, at, Level::Both, &[]);
    let modes: Vec<String> = entries
        .iter()
        .filter(|(key, _)| MODES.contains(&key.as_str()))
        .map(|(key, _)| format!("`{key}`"))
        .collect();
    if modes.len() > 1 {
        check.report(
            at,
            format!(
                "sets {}; a health check uses exactly one of {}",
                modes.join(" and "),
                list(MODES)
            ),
        );
        health.retain(|key| !MODES.contains(&key));
        health.http = Val::Bad;
    }
    Some(health)
}

/// `tcp: true` checks the app's port; `tcp: 9000` another one.
fn tcp(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Mode> {
    match node {
        Node::Bool(true) => Some(Mode::Tcp(None)),
        Node::Bool(false) => {
            check.report(
                at,
                "`tcp: false` chooses no check; write `tcp: true` or use another check",
            );
            None
        }
        Node::Int(_) => leaf::port(check, node, at).map(|p| Mode::Tcp(Some(p))),
        other => check.expected(at, "true (the app's port) or a port number", other),
    }
}

fn docker(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Mode> {
    match node {
        Node::Bool(true) => Some(Mode::Docker),
        Node::Bool(false) => {
            check.report(
                at,
                "`docker: false` chooses no check; write `docker: true` to use the image's \
                 HEALTHCHECK, or use another check",
            );
            None
        }
        other => check.expected(at, "true (use the image's HEALTHCHECK)", other),
    }
}

pub(super) fn merge(mut app: HealthLayer, stage: HealthLayer) -> HealthLayer {
    let stage_mode = stage.mode();
    if let Val::Set(mode) = stage_mode {
        if !matches!(mode.value, Mode::Http(_)) {
            app.expect = Val::Absent;
        }
    }
    if !matches!(stage_mode, Val::Absent) {
        app.retain(|key| !MODES.contains(&key));
    }
    HealthLayer::merged(app, stage)
}

/// The merged block into the model. (No block at all means `tcp: true`: see `Resolve`.)
pub(super) fn apply(r: &mut Resolve, health: &At<HealthLayer>) {
    let h = &health.value;
    let Some(mode) = r.required(
        h.mode(),
        Block::Health,
        "`health` does not say what to check: set exactly one of `http: /up`, \
         `tcp: true`, `cmd: [...]` or `docker: true`",
    ) else {
        return;
    };
    if let (Some(expect), false) = (h.expect.set(), matches!(mode, Mode::Http(_))) {
        r.issue(
            &expect.at,
            format!(
                "`expect` applies only to `http` checks, and this check is `{}`",
                mode.name()
            ),
        );
    }
    let check = match mode {
        Mode::Http(path) => HealthCheck::Http {
            path: path.clone(),
            expect: h.expect.value().copied().unwrap_or(defaults::EXPECT),
        },
        Mode::Tcp(Some(port)) => HealthCheck::Tcp { port: *port },
        Mode::Tcp(None) => HealthCheck::Tcp {
            port: r.deploy.port,
        },
        Mode::Cmd(argv) => HealthCheck::Cmd { argv: argv.clone() },
        Mode::Docker => HealthCheck::Docker,
    };
    r.deploy.health = Health {
        check,
        interval: h.interval.value().copied().unwrap_or(defaults::INTERVAL),
        timeout: h.timeout.value().copied().unwrap_or(defaults::TIMEOUT),
        healthy: h.healthy.value().copied().unwrap_or(defaults::HEALTHY),
        deadline: h.deadline.value().copied().unwrap_or(defaults::DEADLINE),
    };
}
