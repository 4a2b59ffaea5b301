//! `hooks:` (DESIGN.md §10): each hook is an argv list, or `{command: [...], timeout: 5m}`
//! when the default timeout does not fit.

use super::check::Check;
use super::layer::{HookLayer, HooksLayer, Val};
use super::leaf;
use crate::spec::model::{Hook, Hooks, defaults};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;

const HOOK_KEYS: &[&str] = &["pre_deploy", "before_switch", "post_deploy", "on_failure"];
const HOOK_FORM_KEYS: &[&str] = &["command", "timeout"];

pub(super) fn read(check: &mut Check, node: &Node, at: &KeyPath) -> Option<HooksLayer> {
    let entries = check.map(
        node,
        at,
        "a map such as {pre_deploy: [./check.sh], before_switch: {command: [bin/migrate]}}",
    )?;
    check.unknown_keys(entries, at, HOOK_KEYS, &[]);
    let mut hooks = HooksLayer::default();
    for (key, value) in entries {
        let key_at = at.key(key);
        let hook = Val::from_checked(hook(check, value, &key_at));
        match key.as_str() {
            "pre_deploy" => hooks.pre_deploy = hook,
            "before_switch" => hooks.before_switch = hook,
            "post_deploy" => hooks.post_deploy = hook,
            "on_failure" => hooks.on_failure = hook,
            _ => {}
        }
    }
    Some(hooks)
}

/// `[argv...]` or `{command: [argv...], timeout: DUR}`.
fn hook(check: &mut Check, node: &Node, at: &KeyPath) -> Option<HookLayer> {
    let Node::Map(entries) = node else {
        return leaf::argv(check, node, at).map(|command| HookLayer {
            command,
            timeout: None,
        });
    };
    check.unknown_keys(entries, at, HOOK_FORM_KEYS, &[]);
    let mut command = None;
    let mut timeout = Some(None);
    for (key, value) in entries {
        let key_at = at.key(key);
        match key.as_str() {
            "command" => command = Some(leaf::argv(check, value, &key_at)),
            "timeout" => timeout = leaf::duration(check, value, &key_at, true).map(Some),
            _ => {}
        }
    }
    let Some(command) = command else {
        check.report(
            at,
            "a hook written as a map needs `command`: the argv to run, e.g. \
             `{command: [bin/rails, db:migrate], timeout: 10m}`",
        );
        return None;
    };
    Some(HookLayer {
        command: command?,
        timeout: timeout?,
    })
}

/// The merged layer's hooks, with default timeouts.
pub(super) fn resolve(layer: Option<&HooksLayer>) -> Hooks {
    let Some(layer) = layer else {
        return Hooks::default();
    };
    let hook = |val: &Val<HookLayer>, default| {
        val.set().map(|h| Hook {
            command: h.command.clone(),
            timeout: h.timeout.unwrap_or(default),
        })
    };
    Hooks {
        pre_deploy: hook(&layer.pre_deploy, defaults::HOOK_TIMEOUT),
        before_switch: hook(&layer.before_switch, defaults::BEFORE_SWITCH_TIMEOUT),
        post_deploy: hook(&layer.post_deploy, defaults::HOOK_TIMEOUT),
        on_failure: hook(&layer.on_failure, defaults::HOOK_TIMEOUT),
    }
}
