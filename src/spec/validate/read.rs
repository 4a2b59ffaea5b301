//! Reading one app's or stage's map into a `Layer`. Each value is checked here, where it is
//! written, so that problems point at the line that holds it.

use indexmap::IndexMap;

use super::check::Check;
use super::layer::{At, DRIVERS, Driver, HealthLayer, Layer, Mode, ProxyLayer, Val, VerifyLayer};
use super::{leaf, settings};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::text::{closest, list, quoted};

const APP_KEYS: &[&str] = &[
    "image",
    "port",
    "command",
    "env",
    "secrets",
    "networks",
    "health",
    "proxy",
    "front_internal",
    "ipv6",
    "drain",
    "stop_timeout",
    "keep",
    "hooks",
    "stages",
];
const STAGE_KEYS: &[&str] = &[
    "image",
    "port",
    "command",
    "env",
    "secrets",
    "networks",
    "health",
    "proxy",
    "front_internal",
    "ipv6",
    "drain",
    "stop_timeout",
    "keep",
    "hooks",
    "virtual_host",
];
const HEALTH_KEYS: &[&str] = &[
    "http", "tcp", "cmd", "docker", "expect", "interval", "timeout", "healthy", "deadline",
];
const MODES: &[&str] = &["http", "tcp", "cmd", "docker"];
const PROXY_KEYS: &[&str] = &[
    "driver",
    "container",
    "virtual_host",
    "reload",
    "config_path",
    "command",
    "docker_gen_container",
    "signal",
    "verify",
];
const VERIFY_KEYS: &[&str] = &["url", "host"];

/// A level's own keys and the container settings, which both levels take.
fn with_settings(keys: &[&'static str]) -> Vec<&'static str> {
    keys.iter().chain(settings::KEYS).copied().collect()
}

/// A checked value with the path it was written at.
fn located<T>(checked: Option<T>, at: &KeyPath) -> Val<At<T>> {
    Val::from_checked(checked.map(|value| At {
        value,
        at: at.clone(),
    }))
}

/// Where a layer comes from, which decides the keys it may hold.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Level {
    App,
    Stage,
}

/// Reads one app's or stage's map. For an app, also returns its `stages` value.
/// `None` when the node is not a map (already reported).
pub(super) fn read<'n>(
    check: &mut Check,
    node: &'n Node,
    at: &KeyPath,
    level: Level,
) -> Option<(Layer, Option<&'n Node>)> {
    let expected = match level {
        Level::App => "a map of app settings (image, port, stages, ...)",
        Level::Stage => "a map of settings that override the app's, or nothing",
    };
    let entries = check.map(node, at, expected)?;
    match level {
        Level::App => check.unknown_keys(
            entries,
            at,
            &with_settings(APP_KEYS),
            &[(
                "virtual_host",
                "`virtual_host` belongs under `proxy:` here; the `virtual_host:` \
                 shorthand is only for stages",
            )],
        ),
        Level::Stage => check.unknown_keys(
            entries,
            at,
            &with_settings(STAGE_KEYS),
            &[(
                "stages",
                "stages cannot be nested; a stage overrides the app's keys",
            )],
        ),
    }
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let mut layer = Layer {
        at: at.clone(),
        ..Layer::default()
    };
    for (key, value) in entries {
        let key_at = at.key(key);
        match key.as_str() {
            "image" => layer.image = Val::from_checked(leaf::image(check, value, &key_at)),
            "port" => layer.port = Val::from_checked(leaf::port(check, value, &key_at)),
            "command" => layer.command = Val::from_checked(leaf::argv(check, value, &key_at)),
            "env" => layer.env = env(check, value, &key_at),
            "secrets" => layer.secrets = Val::from_checked(secrets(check, value, &key_at)),
            "networks" => layer.networks = Val::from_checked(networks(check, value, &key_at)),
            "health" => layer.health = Val::from_checked(health(check, value, &key_at)),
            "proxy" => layer.proxy = Val::from_checked(proxy(check, value, &key_at)),
            "front_internal" => {
                layer.front_internal = Val::from_checked(leaf::boolean(check, value, &key_at));
            }
            "ipv6" => layer.ipv6 = Val::from_checked(super::ipv6::ipv6(check, value, &key_at)),
            "drain" => {
                layer.drain = Val::from_checked(leaf::duration(check, value, &key_at, false));
            }
            "stop_timeout" => {
                layer.stop_timeout =
                    Val::from_checked(leaf::duration(check, value, &key_at, false));
            }
            "keep" => layer.keep = Val::from_checked(leaf::count(check, value, &key_at, 0)),
            "hooks" => layer.hooks = Val::from_checked(super::hooks::read(check, value, &key_at)),
            _ => {
                settings::read_key(check, &mut layer.settings, key, value, &key_at);
            }
        }
    }
    if level == Level::Stage {
        if let Some(value) = get("virtual_host") {
            shorthand_virtual_host(check, &mut layer, value, &at.key("virtual_host"));
        }
    }
    let stages = if level == Level::App {
        get("stages")
    } else {
        None
    };
    Some((layer, stages))
}

/// A stage's `virtual_host: x` means `proxy: {virtual_host: x}`.
fn shorthand_virtual_host(check: &mut Check, layer: &mut Layer, node: &Node, at: &KeyPath) {
    let Some(host) = leaf::host_name(check, node, at) else {
        return;
    };
    let value = Val::Set(At {
        value: host,
        at: at.clone(),
    });
    match &mut layer.proxy {
        Val::Absent => {
            layer.proxy = Val::Set(ProxyLayer {
                at: layer.at.clone(),
                virtual_host: value,
                ..ProxyLayer::default()
            });
        }
        Val::Set(proxy) if matches!(proxy.virtual_host, Val::Absent) => proxy.virtual_host = value,
        Val::Set(_) => check.report(
            at,
            "`virtual_host` is also set under `proxy:` in this stage; keep one of the two",
        ),
        Val::Bad => {}
    }
}

/// `env`: names to text. Numbers and booleans are taken as written (`1.10` stays `1.10`).
fn env(check: &mut Check, node: &Node, at: &KeyPath) -> IndexMap<String, At<String>> {
    let mut env = IndexMap::new();
    let Some(entries) = check.map(node, at, "a map of variable names to values") else {
        return env;
    };
    for (name, value) in entries {
        let value_at = at.key(name);
        if name.is_empty() || name.contains(['=', '\0']) {
            check.report(
                &value_at,
                format!(
                    "{} is not usable as an environment variable name: it must be \
                     non-empty and contain no `=`",
                    quoted(name)
                ),
            );
            continue;
        }
        let text = match value {
            Node::Null => {
                check.report(
                    &value_at,
                    format!("`{name}` has no value; write `{name}: \"\"` for an empty one"),
                );
                continue;
            }
            Node::Seq(_) | Node::Map(_) => {
                check.expected::<()>(&value_at, "a string, number or true/false", value);
                continue;
            }
            scalar => check.verbatim(scalar, &value_at).unwrap_or_default(),
        };
        if text.contains('\0') {
            check.report(&value_at, "contains a NUL character");
            continue;
        }
        env.insert(
            name.clone(),
            At {
                value: text,
                at: value_at,
            },
        );
    }
    env
}

/// A list whose items are each checked by `item`; duplicates are reported.
fn string_list<T>(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
    expected: &str,
    mut item: impl FnMut(&mut Check, &Node, &KeyPath) -> Option<T>,
    key: impl Fn(&T) -> &str,
) -> Option<Vec<T>> {
    let items: &[Node] = match node {
        Node::Seq(items) => items,
        Node::Null => &[],
        other => return check.expected(at, expected, other),
    };
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for (i, node) in items.iter().enumerate() {
        let item_at = at.index(i);
        match item(check, node, &item_at) {
            Some(value) if out.iter().any(|seen| key(seen) == key(&value)) => {
                check.report(&item_at, format!("`{}` is listed twice", key(&value)));
            }
            Some(value) => out.push(value),
            None => {}
        }
    }
    // The good items are kept even when others are wrong (and reported): nothing depends on
    // the list being complete, and checks against it (a secret also in `env`) still run.
    Some(out)
}

fn secrets(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<At<String>>> {
    let item = |check: &mut Check, node: &Node, at: &KeyPath| {
        let name = leaf::text(check, node, at, "the name of an environment variable")?;
        if !leaf::is_env_name(&name) {
            check.report(
                at,
                format!(
                    "{} is not a valid environment variable name: use letters, digits \
                     and `_`, not starting with a digit",
                    quoted(&name)
                ),
            );
            return None;
        }
        Some(At {
            value: name,
            at: at.clone(),
        })
    };
    string_list(
        check,
        node,
        at,
        "a list of environment variable names, e.g. [DATABASE_URL]",
        item,
        |s| &s.value,
    )
}

fn networks(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<String>> {
    let item = |check: &mut Check, node: &Node, at: &KeyPath| {
        let name = leaf::docker_name(check, node, at, "a network name")?;
        if name == "host" || name == "none" {
            check.report(
                at,
                format!("`{name}` cannot be joined together with other networks"),
            );
            return None;
        }
        Some(name)
    };
    string_list(
        check,
        node,
        at,
        "a list of network names, e.g. [shared_redis]",
        item,
        |s| s,
    )
}

fn health(check: &mut Check, node: &Node, at: &KeyPath) -> Option<HealthLayer> {
    let entries = check.map(node, at, "a map such as {http: /up}")?;
    check.unknown_keys(entries, at, HEALTH_KEYS, &[]);
    let mut health = HealthLayer {
        at: at.clone(),
        ..HealthLayer::default()
    };
    let mut modes = Vec::new();
    for (key, value) in entries {
        let key_at = at.key(key);
        let mode = match key.as_str() {
            "http" => Some(leaf::http_path(check, value, &key_at).map(Mode::Http)),
            "tcp" => Some(tcp(check, value, &key_at)),
            "cmd" => Some(leaf::argv(check, value, &key_at).map(Mode::Cmd)),
            "docker" => Some(docker(check, value, &key_at)),
            _ => None,
        };
        if let Some(mode) = mode {
            modes.push(key.as_str());
            health.mode = located(mode, &key_at);
            continue;
        }
        match key.as_str() {
            "expect" => {
                health.expect = located(leaf::status_range(check, value, &key_at), &key_at);
            }
            "interval" => {
                health.interval = Val::from_checked(leaf::duration(check, value, &key_at, true))
            }
            "timeout" => {
                health.timeout = Val::from_checked(leaf::duration(check, value, &key_at, true))
            }
            "deadline" => {
                health.deadline = Val::from_checked(leaf::duration(check, value, &key_at, true))
            }
            "healthy" => health.healthy = Val::from_checked(leaf::count(check, value, &key_at, 1)),
            _ => {}
        }
    }
    if modes.len() > 1 {
        check.report(
            at,
            format!(
                "sets {}; a health check uses exactly one of {}",
                modes
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(" and "),
                list(MODES)
            ),
        );
        health.mode = Val::Bad;
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

fn proxy(check: &mut Check, node: &Node, at: &KeyPath) -> Option<ProxyLayer> {
    let entries = check.map(node, at, "a map such as {driver: nginx-proxy, ...}")?;
    check.unknown_keys(entries, at, PROXY_KEYS, &[]);
    let mut proxy = ProxyLayer {
        at: at.clone(),
        ..ProxyLayer::default()
    };
    for (key, value) in entries {
        let at = at.key(key);
        match key.as_str() {
            "driver" => proxy.driver = located(driver(check, value, &at), &at),
            "container" => {
                let name = leaf::docker_name(check, value, &at, "the proxy container's name");
                proxy.container = located(name, &at);
            }
            "virtual_host" => {
                proxy.virtual_host = located(leaf::host_name(check, value, &at), &at);
            }
            "reload" => proxy.reload = located(leaf::argv(check, value, &at), &at),
            "config_path" => {
                proxy.config_path = located(leaf::config_path(check, value, &at), &at);
            }
            "command" => proxy.command = located(leaf::argv(check, value, &at), &at),
            "docker_gen_container" => {
                let name = leaf::docker_name(check, value, &at, "the docker-gen container's name");
                proxy.docker_gen_container = located(name, &at);
            }
            "signal" => proxy.signal = located(leaf::signal(check, value, &at), &at),
            "verify" => proxy.verify = Val::from_checked(verify(check, value, &at)),
            _ => {}
        }
    }
    Some(proxy)
}

fn driver(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Driver> {
    let name = leaf::text(check, node, at, "a proxy driver")?;
    let driver = match name.as_str() {
        "nginx-proxy" => Driver::NginxProxy,
        "nginx" => Driver::Nginx,
        "command" => Driver::Command,
        "none" => Driver::None,
        _ => {
            let hint = closest(&name, DRIVERS)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            check.report(
                at,
                format!(
                    "unknown proxy driver {}; {hint}(drivers: {})",
                    quoted(&name),
                    list(DRIVERS)
                ),
            );
            return None;
        }
    };
    Some(driver)
}

fn verify(check: &mut Check, node: &Node, at: &KeyPath) -> Option<VerifyLayer> {
    let entries = check.map(node, at, "a map such as {url: \"http://127.0.0.1/up\"}")?;
    check.unknown_keys(entries, at, VERIFY_KEYS, &[]);
    let mut verify = VerifyLayer {
        at: at.clone(),
        ..VerifyLayer::default()
    };
    for (key, value) in entries {
        let key_at = at.key(key);
        match key.as_str() {
            "url" => verify.url = Val::from_checked(leaf::http_url(check, value, &key_at)),
            "host" => verify.host = Val::from_checked(leaf::host_name(check, value, &key_at)),
            _ => {}
        }
    }
    Some(verify)
}
