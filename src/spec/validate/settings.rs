//! The readers of the container settings of DESIGN.md §11 (their rows are in `keys`): each
//! value checked where it is written; and the `logging` block.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::check::Check;
use super::resolve::Resolve;
use super::table::{At, Level, entries, keys, replace};
use super::{leaf, units};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::settings::{Bytes, Logging, Mount, Restart, Ulimit};
use crate::spec::text::{escaped, list, quoted};

/// Labels under this prefix are bgdeploy's state; a user's would corrupt it.
const RESERVED_LABELS: &str = "bgdeploy.";

/// A map in the model's (sorted) order.
pub(super) fn sorted<V: Clone>(map: &IndexMap<String, V>) -> BTreeMap<String, V> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
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
pub(super) fn parsed<T>(
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
pub(super) fn items<T: PartialEq>(
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

pub(super) fn volumes(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<Mount>> {
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

pub(super) fn size(check: &mut Check, node: &Node, at: &KeyPath, min: u64) -> Option<u64> {
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

pub(super) fn user(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
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

pub(super) fn pids_limit(check: &mut Check, node: &Node, at: &KeyPath) -> Option<i64> {
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

pub(super) fn restart(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Restart> {
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

pub(super) fn labels(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
) -> Option<IndexMap<String, String>> {
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
    Some(out)
}

pub(super) fn sysctls(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
) -> Option<IndexMap<String, String>> {
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
    Some(out)
}

pub(super) fn extra_hosts(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<String>> {
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

pub(super) fn ulimits(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
) -> Option<IndexMap<String, Ulimit>> {
    let mut out = IndexMap::new();
    let Some(entries) = check.map(node, at, "a map such as {nofile: {soft: 1024, hard: 4096}}")
    else {
        return Some(out);
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
    Some(out)
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

keys! {
    /// `logging:` as written in one layer.
    pub(super) struct LoggingLayer => () {
        driver: String, Both, replace, logging_driver;
        options: IndexMap<String, String>, Both, entries, |c, n, a| {
            Some(pairs(c, n, a, "max-size: 10m").into_iter().map(|(k, _, v)| (k, v)).collect())
        };
    }
}

pub(super) fn logging(check: &mut Check, node: &Node, at: &KeyPath) -> Option<LoggingLayer> {
    let expected = "a map such as {driver: json-file, options: {max-size: 10m}}";
    let entries = check.map(node, at, expected)?;
    Some(LoggingLayer::read(check, entries, at, Level::Both, &[]))
}

fn logging_driver(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let driver = leaf::text(check, node, at, "a logging driver such as json-file")?;
    if !driver
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    {
        check.report(
            at,
            format!("{} is not a logging driver name", quoted(&driver)),
        );
        return None;
    }
    Some(driver)
}

/// The app's `options` belong to the app's driver: a stage that names another one starts
/// afresh.
pub(super) fn merge_logging(mut app: LoggingLayer, stage: LoggingLayer) -> LoggingLayer {
    if matches!((app.driver.value(), stage.driver.value()), (Some(a), Some(s)) if a != s) {
        app.retain(|key| key != "options");
    }
    LoggingLayer::merged(app, stage)
}

pub(super) fn apply_logging(r: &mut Resolve, logging: &At<LoggingLayer>) {
    let options = logging.value.options.value();
    match logging.value.driver.value() {
        Some(driver) => {
            r.deploy.container.logging = Some(Logging {
                driver: driver.clone(),
                options: options.map(sorted).unwrap_or_default(),
            });
        }
        // Options without a driver would go to whatever driver the daemon defaults to.
        None if options.is_some_and(|o| !o.is_empty()) => r.issue(
            &logging.at,
            "`logging.options` is set without `logging.driver`; name the driver the options are for",
        ),
        None => {}
    }
}
