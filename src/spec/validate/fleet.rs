//! `hosts:` and `rollout:` (DESIGN.md §9): a stage deployed to several engines. `hosts` is
//! name → engine in rollout order; a stage's `hosts` replaces the app's whole (a stage is one
//! fleet), while a stage's `rollout` keys go over the app's one by one.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

use super::check::Check;
use super::leaf;
use super::resolve::Resolve;
use super::table::{At, Level, Val, keys, replace};
use crate::engine::{DockerHost, EngineError};
use crate::spec::model::{HostEngine, OnFailure, Rollout, defaults};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::text::quoted;

keys! {
    /// `rollout:` as written in one layer.
    pub(super) struct RolloutLayer => () {
        canary: u32, Both, replace, |c, n, a| leaf::count(c, n, a, 0);
        parallel: u32, Both, replace, parallel;
        wait: Duration, Both, replace, |c, n, a| leaf::duration(c, n, a, false);
        on_failure: OnFailure, Both, replace, on_failure;
    }
}

keys! {
    /// One host written as a map.
    struct HostForm => () {
        url: String, Both, replace, url;
        context: String, Both, replace, context;
        cert_path: PathBuf, Both, replace, cert_path;
    }
}

const HOST_FORMS: &str = "an engine URL such as ssh://deploy@web1 or tcp://web1:2376, or a \
     map {url: tcp://web1:2376, cert_path: /etc/bgdeploy/web1} or {context: web1}";

/// `hosts:` — a map of host names to engines, kept in the order written (the rollout order).
pub(super) fn hosts(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
) -> Option<IndexMap<String, HostEngine>> {
    let entries = check.map(node, at, "a map of host names to engines, in rollout order")?;
    if entries.is_empty() {
        check.report(
            at,
            "`hosts` is empty: name at least one host, e.g. `hosts: {web1: ssh://deploy@web1}`, \
             or leave `hosts` out to deploy to the one engine the docker CLI would use",
        );
        return None;
    }
    let mut out = IndexMap::new();
    let mut seen: Vec<(String, &str)> = Vec::new();
    let mut ok = true;
    for (name, value) in entries {
        let host_at = at.key(name);
        if !leaf::is_docker_name(name) {
            check.report(
                &host_at,
                format!(
                    "{} cannot be used as a host name: it names the host in output, history \
                     and `--hosts`, so use letters, digits, `_`, `.` and `-`, starting with a \
                     letter or digit",
                    quoted(name)
                ),
            );
            ok = false;
            continue;
        }
        let Some(engine) = host(check, value, &host_at) else {
            ok = false;
            continue;
        };
        let key = engine_key(&engine);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            check.report(
                &host_at,
                format!(
                    "host `{name}` is the same engine as host `{first}` ({engine}): every host \
                     of a fleet has its own engine; remove one of them"
                ),
            );
            ok = false;
            continue;
        }
        seen.push((key, name));
        out.insert(name.clone(), engine);
    }
    ok.then_some(out)
}

/// What makes two hosts the same engine: the same context, or the same URL once the docker
/// CLI's default ports are filled in.
fn engine_key(engine: &HostEngine) -> String {
    match engine {
        HostEngine::Context { name } => format!("context:{name}"),
        HostEngine::Url { url, .. } => match DockerHost::parse(url, None) {
            Ok(host) => format!("{:?}", host.transport),
            Err(_) => url.clone(),
        },
    }
}

/// One host's value: a URL, or `{url, cert_path}`, or `{context}`.
fn host(check: &mut Check, node: &Node, at: &KeyPath) -> Option<HostEngine> {
    let entries = match node {
        Node::Str(_) => {
            return url(check, node, at).map(|url| HostEngine::Url {
                url,
                cert_path: None,
            });
        }
        Node::Map(entries) => entries,
        other => return check.expected(at, HOST_FORMS, other),
    };
    let form = HostForm::read(check, entries, at, Level::Both, &[]);
    let url = form.url.value().cloned();
    let context = form.context.value().cloned();
    let cert = form.cert_path.set();
    // A key already reported as wrong: what the host was meant to be is unknown.
    if [&form.url, &form.context]
        .iter()
        .any(|v| matches!(v, Val::Bad))
        || matches!(form.cert_path, Val::Bad)
    {
        return None;
    }
    match (url, context) {
        (Some(_), Some(_)) => {
            check.report(
                at,
                "a host has either `url` or `context`, not both: the context already names its \
                 engine",
            );
            None
        }
        (None, Some(name)) => {
            if let Some(cert) = cert {
                check.report(
                    &cert.at,
                    "`cert_path` goes with `url`; a context keeps its own TLS files (`docker \
                     context create NAME --docker host=tcp://…,ca=…,cert=…,key=…`)",
                );
                return None;
            }
            Some(HostEngine::Context { name })
        }
        (Some(url), None) => {
            if let Some(cert) = cert
                && !url.starts_with("tcp://")
            {
                check.report(
                    &cert.at,
                    format!(
                        "`cert_path` is for TLS to a tcp:// engine, and this host's url is {}",
                        quoted(&url)
                    ),
                );
                return None;
            }
            Some(HostEngine::Url {
                url,
                cert_path: cert.map(|c| c.value.clone()),
            })
        }
        (None, None) => {
            check.report(
                at,
                format!("a host written as a map needs `url` or `context`: {HOST_FORMS}"),
            );
            None
        }
    }
}

/// An engine URL the docker CLI would take in `DOCKER_HOST`, checked by the same parser that
/// later connects to it.
fn url(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let url = leaf::text(check, node, at, "an engine URL such as ssh://deploy@web1")?;
    if let Err(e) = DockerHost::parse(&url, None) {
        // ssh's own reason says what is wrong with the address; for the rest, the forms a
        // spec can write (TLS is `cert_path` here, not DOCKER_TLS_VERIFY).
        let reason = match e {
            EngineError::UnsupportedHost { reason, .. } if url.starts_with("ssh://") => reason,
            _ => "use unix:///path/docker.sock, tcp://host:port (with `cert_path` for TLS) or \
                  ssh://user@host[:port]"
                .to_string(),
        };
        check.report(
            at,
            format!(
                "{} is not an engine URL bgdeploy can use: {reason}",
                quoted(&url)
            ),
        );
        return None;
    }
    Some(url)
}

fn context(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    leaf::docker_name(check, node, at, "a docker context name")
}

fn cert_path(check: &mut Check, node: &Node, at: &KeyPath) -> Option<PathBuf> {
    let path = leaf::text(
        check,
        node,
        at,
        "a directory holding ca.pem, cert.pem and key.pem",
    )?;
    Some(PathBuf::from(path))
}

fn parallel(check: &mut Check, node: &Node, at: &KeyPath) -> Option<u32> {
    if let Node::Int(0) = node {
        check.report(
            at,
            "0 hosts at a time would deploy nothing: write 1 for one host at a time, or the \
             number of hosts for all at once",
        );
        return None;
    }
    leaf::count(check, node, at, 1)
}

fn on_failure(check: &mut Check, node: &Node, at: &KeyPath) -> Option<OnFailure> {
    match node {
        Node::Str(s) if s == "rollback" => Some(OnFailure::Rollback),
        Node::Str(s) if s == "halt" => Some(OnFailure::Halt),
        Node::Str(s) => {
            check.report(
                at,
                format!(
                    "{} is not a failure policy: use `rollback` (every host that switched goes \
                     back to the release it had) or `halt` (leave them as they are)",
                    quoted(s)
                ),
            );
            None
        }
        other => check.expected(at, "rollback or halt", other),
    }
}

pub(super) fn read_rollout(check: &mut Check, node: &Node, at: &KeyPath) -> Option<RolloutLayer> {
    let entries = check.map(
        node,
        at,
        "a map such as {canary: 1, parallel: 2, wait: 30s, on_failure: rollback}",
    )?;
    Some(RolloutLayer::read(check, entries, at, Level::Both, &[]))
}

/// The merged `rollout` into the model; runs after `hosts` (row order), so the canary count
/// is checked against the stage's hosts.
pub(super) fn apply_rollout(r: &mut Resolve, rollout: &At<RolloutLayer>) {
    let l = &rollout.value;
    r.deploy.rollout = Rollout {
        canary: l.canary.value().copied(),
        parallel: l.parallel.value().copied().unwrap_or(defaults::PARALLEL),
        wait: l.wait.value().copied().unwrap_or(defaults::WAIT),
        on_failure: l.on_failure.value().copied().unwrap_or(OnFailure::Rollback),
    };
    let hosts = r.deploy.hosts.len();
    if let Some(canary) = l.canary.set()
        && canary.value as usize > hosts
    {
        r.issue(
            &canary.at,
            format!(
                "canary {} is more than the stage's {hosts} hosts: use at most {}",
                canary.value, hosts
            ),
        );
    }
}
