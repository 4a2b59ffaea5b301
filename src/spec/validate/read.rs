//! Readers of the app-level values that are not container settings nor blocks: `env`,
//! `secrets`, `networks`; and the stage shorthand `virtual_host`.

use indexmap::IndexMap;

use super::check::Check;
use super::keys::Layer;
use super::leaf;
use super::proxy::ProxyLayer;
use super::resolve::Resolve;
use super::table::{At, Val};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::text::quoted;

/// A stage's `virtual_host: x` means `proxy: {virtual_host: x}`.
pub(super) fn fold_virtual_host(check: &mut Check, layer: &mut Layer) {
    let Val::Set(host) = std::mem::take(&mut layer.virtual_host) else {
        return;
    };
    match &mut layer.proxy {
        Val::Absent => {
            layer.proxy = Val::Set(At {
                value: ProxyLayer {
                    at: layer.at.clone(),
                    virtual_host: Val::Set(host),
                    ..ProxyLayer::default()
                },
                at: layer.at.clone(),
            });
        }
        Val::Set(proxy) if matches!(proxy.value.virtual_host, Val::Absent) => {
            proxy.value.virtual_host = Val::Set(host);
        }
        Val::Set(_) => check.report(
            &host.at,
            "`virtual_host` is also set under `proxy:` in this stage; keep one of the two",
        ),
        Val::Bad => {}
    }
}

/// `env`: names to text. Numbers and booleans are taken as written (`1.10` stays `1.10`).
pub(super) fn env(check: &mut Check, node: &Node, at: &KeyPath) -> IndexMap<String, At<String>> {
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

pub(super) fn secrets(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<At<String>>> {
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

pub(super) fn networks(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<String>> {
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

/// `secrets` into the model; a secret also in `env` (set before, by its row) is an error.
pub(super) fn apply_secrets(r: &mut Resolve, secrets: &At<Vec<At<String>>>) {
    for secret in &secrets.value {
        if r.deploy.env.contains_key(&secret.value) {
            r.issue(
                &secret.at,
                format!(
                    "`{}` is both a secret and in `env`; keep it in one place \
                     (a secret's value is read from bgdeploy's environment)",
                    secret.value
                ),
            );
        }
    }
    r.deploy.secrets = secrets.value.iter().map(|s| s.value.clone()).collect();
}
