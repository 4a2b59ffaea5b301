//! The container settings of DESIGN.md §11 in one layer (an app's or a stage's): each key
//! read and checked where it is written. Stage over app, and the defaults: `settings_resolve`.

use indexmap::IndexMap;

use super::check::Check;
use super::layer::{At, Val};
use super::{leaf, units};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::settings::{Bytes, Mount, Restart, Ulimit};
use crate::spec::text::{escaped, list, quoted};

/// The keys, in the order the README documents them.
pub(super) const KEYS: &[&str] = &[
    "volumes",
    "tmpfs",
    "labels",
    "user",
    "working_dir",
    "entrypoint",
    "memory",
    "memory_reservation",
    "cpus",
    "pids_limit",
    "ulimits",
    "shm_size",
    "logging",
    "extra_hosts",
    "dns",
    "cap_add",
    "cap_drop",
    "read_only",
    "init",
    "stop_signal",
    "restart",
    "sysctls",
    "security_opt",
    "devices",
];

/// Labels under this prefix are bgdeploy's state; a user's would corrupt it.
const RESERVED_LABELS: &str = "bgdeploy.";

#[derive(Debug, Clone, Default)]
pub(super) struct SettingsLayer {
    pub volumes: Val<Vec<Mount>>,
    pub tmpfs: Val<Vec<(String, String)>>,
    pub labels: IndexMap<String, String>,
    pub user: Val<String>,
    pub working_dir: Val<String>,
    pub entrypoint: Val<Vec<String>>,
    pub memory: Val<At<u64>>,
    pub memory_reservation: Val<At<u64>>,
    pub cpus: Val<i64>,
    pub pids_limit: Val<i64>,
    pub ulimits: IndexMap<String, Ulimit>,
    pub shm_size: Val<u64>,
    pub logging: Val<LoggingLayer>,
    pub extra_hosts: Val<Vec<String>>,
    pub dns: Val<Vec<String>>,
    pub cap_add: Val<Vec<String>>,
    pub cap_drop: Val<Vec<String>>,
    pub read_only: Val<bool>,
    pub init: Val<bool>,
    pub stop_signal: Val<String>,
    pub restart: Val<Restart>,
    pub sysctls: IndexMap<String, String>,
    pub security_opt: Val<Vec<String>>,
    pub devices: Val<Vec<crate::spec::settings::Device>>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct LoggingLayer {
    pub at: KeyPath,
    pub driver: Val<String>,
    pub options: IndexMap<String, String>,
}

/// Reads `key` into `layer` when it is one of the settings; false when it is not.
pub(super) fn read_key(
    check: &mut Check,
    layer: &mut SettingsLayer,
    key: &str,
    node: &Node,
    at: &KeyPath,
) -> bool {
    let l = layer;
    match key {
        "volumes" => l.volumes = Val::from_checked(volumes(check, node, at)),
        "tmpfs" => {
            l.tmpfs = Val::from_checked(items(check, node, at, "/run:size=64m", units::tmpfs))
        }
        "labels" => l.labels = labels(check, node, at),
        "user" => l.user = Val::from_checked(user(check, node, at)),
        "working_dir" => {
            l.working_dir = Val::from_checked(parsed(check, node, at, "/app", |p| {
                units::absolute(p, "working_dir")
            }))
        }
        "entrypoint" => l.entrypoint = Val::from_checked(leaf::argv(check, node, at)),
        "memory" => l.memory = located(size(check, node, at, units::MIN_MEMORY), at),
        "memory_reservation" => l.memory_reservation = located(size(check, node, at, 0), at),
        "shm_size" => l.shm_size = Val::from_checked(size(check, node, at, 0)),
        "cpus" => l.cpus = Val::from_checked(parsed(check, node, at, "1.5", units::cpus)),
        "pids_limit" => l.pids_limit = Val::from_checked(pids_limit(check, node, at)),
        "ulimits" => l.ulimits = ulimits(check, node, at),
        "logging" => l.logging = Val::from_checked(logging(check, node, at)),
        "extra_hosts" => l.extra_hosts = Val::from_checked(extra_hosts(check, node, at)),
        "dns" => l.dns = Val::from_checked(items(check, node, at, "[10.0.0.2]", units::ip)),
        "cap_add" => {
            l.cap_add = Val::from_checked(items(check, node, at, "[NET_ADMIN]", units::capability))
        }
        "cap_drop" => {
            l.cap_drop = Val::from_checked(items(check, node, at, "[NET_RAW]", units::capability))
        }
        "read_only" => l.read_only = Val::from_checked(leaf::boolean(check, node, at)),
        "init" => l.init = Val::from_checked(leaf::boolean(check, node, at)),
        "stop_signal" => {
            l.stop_signal = Val::from_checked(parsed(check, node, at, "SIGTERM", units::signal))
        }
        "restart" => l.restart = Val::from_checked(restart(check, node, at)),
        "sysctls" => l.sysctls = sysctls(check, node, at),
        "security_opt" => {
            l.security_opt =
                Val::from_checked(items(check, node, at, "[no-new-privileges:true]", |s| {
                    Ok(s.to_owned())
                }))
        }
        "devices" => {
            l.devices = Val::from_checked(items(check, node, at, "[/dev/fuse]", units::device))
        }
        _ => return false,
    }
    true
}

fn located<T>(checked: Option<T>, at: &KeyPath) -> Val<At<T>> {
    Val::from_checked(checked.map(|value| At {
        value,
        at: at.clone(),
    }))
}

/// A scalar as written: strings, and numbers verbatim (`cpus: 1.50` is `1.50`).
fn scalar(check: &mut Check, node: &Node, at: &KeyPath, example: &str) -> Option<String> {
    match node {
        Node::Str(s) if s.contains('\0') => {
            check.report(at, "contains a NUL character");
            None
        }
        Node::Str(s) if s.trim().is_empty() => {
            check.report(at, format!("must not be empty, e.g. `{example}`"));
            None
        }
        Node::Str(_) | Node::Int(_) | Node::Float(_) => check.verbatim(node, at),
        other => check.expected(at, &format!("a value such as `{example}`"), other),
    }
}

/// A scalar parsed by `parse`, whose message is reported at `at`.
fn parsed<T>(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
    example: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    let text = scalar(check, node, at, example)?;
    parse(&text).map_err(|e| check.report(at, e)).ok()
}

/// A list of scalars, each parsed by `parse`; a single scalar counts as a list of one, as
/// in Compose (`dns: 10.0.0.2`). Duplicates are reported.
fn items<T: PartialEq>(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
    example: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<Vec<T>> {
    let one = [node.clone()];
    let (nodes, single): (&[Node], bool) = match node {
        Node::Seq(items) => (items, false),
        Node::Null => (&[], false),
        Node::Str(_) => (&one, true),
        other => return check.expected(at, &format!("a list such as {example}"), other),
    };
    let mut out = Vec::new();
    for (i, item) in nodes.iter().enumerate() {
        let item_at = if single { at.clone() } else { at.index(i) };
        if let Some(value) = parsed(check, item, &item_at, example, &parse) {
            if out.contains(&value) {
                check.report(&item_at, "is listed twice");
            } else {
                out.push(value);
            }
        }
    }
    Some(out)
}

fn volumes(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<Mount>> {
    let example = "[uploads:/app/uploads, /etc/shop.yml:/app/shop.yml:ro]";
    let mounts = items(check, node, at, example, units::mount)?;
    let mut seen: Vec<&str> = Vec::new();
    for m in &mounts {
        if seen.contains(&m.target.as_str()) {
            check.report(
                at,
                format!(
                    "two volumes are mounted at {}; mount one thing per path",
                    quoted(&m.target)
                ),
            );
        }
        seen.push(&m.target);
    }
    Some(mounts)
}

fn size(check: &mut Check, node: &Node, at: &KeyPath, min: u64) -> Option<u64> {
    let value = parsed(check, node, at, "512m", units::bytes)?;
    if value < min.max(1) {
        let rule = if min > 1 {
            format!("at least {}", Bytes(min))
        } else {
            "more than zero".to_owned()
        };
        check.report(
            at,
            format!("{} is too small: it must be {rule}", Bytes(value)),
        );
        return None;
    }
    Some(value)
}

fn user(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let user = scalar(check, node, at, "\"1000:1000\"")?;
    if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        check.report(
            at,
            format!(
                "{} contains spaces; write a user or uid, optionally with `:group`",
                quoted(&user)
            ),
        );
        return None;
    }
    Some(user)
}

fn pids_limit(check: &mut Check, node: &Node, at: &KeyPath) -> Option<i64> {
    match node {
        Node::Int(n) if *n >= -1 && *n != 0 => i64::try_from(*n)
            .map_err(|_| check.report(at, format!("{n} is too large")))
            .ok(),
        Node::Int(n) => {
            check.report(
                at,
                format!("{n} is not a process limit: give a positive number, or -1 for none"),
            );
            None
        }
        other => check.expected(at, "a whole number of processes, or -1 for no limit", other),
    }
}

fn restart(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Restart> {
    if let Node::Bool(false) = node {
        check.report(
            at,
            "expected a restart policy, found `false`; write `restart: \"no\"` for no restarts",
        );
        return None;
    }
    parsed(check, node, at, "unless-stopped", units::restart)
}

/// A map of names to scalars, or a list of `NAME=value` (both of Compose's forms).
fn pairs(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
    example: &str,
) -> Vec<(String, KeyPath, String)> {
    let mut out = Vec::new();
    match node {
        Node::Map(entries) => {
            for (key, value) in entries {
                let key_at = at.key(key);
                if let Some(text) = scalar_or_bool(check, value, &key_at) {
                    out.push((key.clone(), key_at, text));
                }
            }
        }
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_at = at.index(i);
                let Some(text) = scalar(check, item, &item_at, example) else {
                    continue;
                };
                match text.split_once('=') {
                    Some((key, value)) => out.push((key.to_owned(), item_at, value.to_owned())),
                    None => check.report(
                        &item_at,
                        format!("{} has no `=`; write `NAME=value`", quoted(&text)),
                    ),
                }
            }
        }
        Node::Null => {}
        other => {
            check.expected::<()>(at, &format!("a map such as {{{example}}}"), other);
        }
    }
    out
}

/// A map value as written; `true`/`false` too, since Compose labels often are.
fn scalar_or_bool(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    match node {
        Node::Bool(_) | Node::Int(_) | Node::Float(_) | Node::Str(_) => {
            match check.verbatim(node, at) {
                Some(text) if text.contains('\0') => {
                    check.report(at, "contains a NUL character");
                    None
                }
                text => text,
            }
        }
        Node::Null => Some(String::new()),
        other => check.expected(at, "a string, number or true/false", other),
    }
}

fn labels(check: &mut Check, node: &Node, at: &KeyPath) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for (key, key_at, value) in pairs(check, node, at, "team: shop") {
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            check.report(
                &key_at,
                format!(
                    "{} is not a label name: it must be non-empty with no spaces",
                    quoted(&key)
                ),
            );
        } else if key.starts_with(RESERVED_LABELS) {
            check.report(
                &key_at,
                format!(
                    "`{}` is reserved: labels under `{RESERVED_LABELS}` hold bgdeploy's own state \
                     (which release is which); choose another prefix, e.g. `com.example.`",
                    escaped(&key)
                ),
            );
        } else {
            out.insert(key, value);
        }
    }
    out
}

fn sysctls(check: &mut Check, node: &Node, at: &KeyPath) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for (key, key_at, value) in pairs(check, node, at, "net.core.somaxconn: 1024") {
        let ok = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
        if ok {
            out.insert(key, value);
        } else {
            check.report(
                &key_at,
                format!(
                    "{} is not a sysctl name such as net.core.somaxconn",
                    quoted(&key)
                ),
            );
        }
    }
    out
}

fn extra_hosts(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<String>> {
    match node {
        Node::Map(_) => {
            let mut out = Vec::new();
            for (host, key_at, ip) in pairs(check, node, at, "db.internal: 10.0.0.5") {
                match units::extra_host(&host, &ip) {
                    Ok(entry) => out.push(entry),
                    Err(e) => check.report(&key_at, e),
                }
            }
            Some(out)
        }
        _ => items(check, node, at, "[db.internal:10.0.0.5]", |text| {
            // Compose's `host:ip` or `host=ip`; an IPv6 address has colons of its own.
            let split = text.split_once('=').or_else(|| text.split_once(':'));
            match split {
                Some((host, ip)) => units::extra_host(host, ip),
                None => Err(format!(
                    "{} has no address; write `HOST:IP`, e.g. db.internal:10.0.0.5",
                    quoted(text)
                )),
            }
        }),
    }
}

fn ulimits(check: &mut Check, node: &Node, at: &KeyPath) -> IndexMap<String, Ulimit> {
    let mut out = IndexMap::new();
    let Some(entries) = check.map(node, at, "a map such as {nofile: {soft: 1024, hard: 4096}}")
    else {
        return out;
    };
    for (name, value) in entries {
        let key_at = at.key(name);
        if !units::ULIMITS.contains(&name.as_str()) {
            check.report(
                &key_at,
                format!(
                    "{} is not a ulimit; known: {}",
                    quoted(name),
                    list(units::ULIMITS)
                ),
            );
            continue;
        }
        if let Some(limit) = ulimit(check, value, &key_at) {
            out.insert(name.clone(), limit);
        }
    }
    out
}

/// `65535` (soft and hard) or `{soft: 1024, hard: 4096}`; -1 is unlimited.
fn ulimit(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Ulimit> {
    let value = |check: &mut Check, node: &Node, at: &KeyPath| match node {
        Node::Int(n) if *n >= -1 => i64::try_from(*n)
            .map_err(|_| check.report(at, format!("{n} is too large")))
            .ok(),
        other => check.expected(at, "a whole number (-1 for unlimited)", other),
    };
    match node {
        Node::Map(entries) => {
            check.unknown_keys(entries, at, &["soft", "hard"], &[]);
            let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            let (Some(soft), Some(hard)) = (get("soft"), get("hard")) else {
                check.report(
                    at,
                    "needs both `soft` and `hard`, e.g. {soft: 1024, hard: 4096}",
                );
                return None;
            };
            let soft = value(check, soft, &at.key("soft"));
            let hard = value(check, hard, &at.key("hard"));
            let (soft, hard) = (soft?, hard?);
            let unlimited = |v: i64| if v == -1 { i64::MAX } else { v };
            if unlimited(soft) > unlimited(hard) {
                check.report(
                    at,
                    format!("soft {soft} is above hard {hard}; the soft limit cannot exceed the hard one"),
                );
                return None;
            }
            Some(Ulimit { soft, hard })
        }
        other => value(check, other, at).map(|v| Ulimit { soft: v, hard: v }),
    }
}

fn logging(check: &mut Check, node: &Node, at: &KeyPath) -> Option<LoggingLayer> {
    let entries = check.map(
        node,
        at,
        "a map such as {driver: json-file, options: {max-size: 10m}}",
    )?;
    check.unknown_keys(entries, at, &["driver", "options"], &[]);
    let mut logging = LoggingLayer {
        at: at.clone(),
        ..LoggingLayer::default()
    };
    for (key, value) in entries {
        let key_at = at.key(key);
        match key.as_str() {
            "driver" => {
                logging.driver = Val::from_checked(
                    leaf::text(check, value, &key_at, "a logging driver such as json-file").filter(
                        |d| {
                            let ok = d
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
                            if !ok {
                                check.report(
                                    &key_at,
                                    format!("{} is not a logging driver name", quoted(d)),
                                );
                            }
                            ok
                        },
                    ),
                );
            }
            "options" => {
                logging.options = pairs(check, value, &key_at, "max-size: 10m")
                    .into_iter()
                    .map(|(k, _, v)| (k, v))
                    .collect();
            }
            _ => {}
        }
    }
    Some(logging)
}
