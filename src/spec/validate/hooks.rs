//! `hooks:` (DESIGN.md §10): each hook is an argv list, or `{command: [...], timeout: 5m}`
//! when the default timeout does not fit. A stage's hook replaces the app's hook of the same
//! name, whole.

use std::time::Duration;

use super::check::Check;
use super::leaf;
use super::resolve::Resolve;
use super::table::{At, Level, Val, keys, replace};
use crate::spec::model::{Hook, defaults};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;

keys! {
    /// `hooks:` as written in one layer.
    pub(super) struct HooksLayer => () {
        pre_deploy: HookLayer, Both, replace, hook;
        before_switch: HookLayer, Both, replace, hook;
        post_deploy: HookLayer, Both, replace, hook;
        on_failure: HookLayer, Both, replace, hook;
    }
}

keys! {
    /// One hook in its long form.
    struct HookForm => () {
        command: Vec<String>, Both, replace, leaf::argv;
        timeout: Duration, Both, replace, |c, n, a| leaf::duration(c, n, a, true);
    }
}

/// One hook as written.
#[derive(Debug, Clone)]
pub(super) struct HookLayer {
    command: Vec<String>,
    timeout: Option<Duration>,
}

pub(super) fn read(check: &mut Check, node: &Node, at: &KeyPath) -> Option<HooksLayer> {
    let entries = check.map(
        node,
        at,
        "a map such as {pre_deploy: [./check.sh], before_switch: {command: [bin/migrate]}}",
    )?;
    Some(HooksLayer::read(check, entries, at, Level::Both, &[]))
}

/// `[argv...]` or `{command: [argv...], timeout: DUR}`.
fn hook(check: &mut Check, node: &Node, at: &KeyPath) -> Option<HookLayer> {
    let Node::Map(entries) = node else {
        return leaf::argv(check, node, at).map(|command| HookLayer {
            command,
            timeout: None,
        });
    };
    let form = HookForm::read(check, entries, at, Level::Both, &[]);
    let timeout = match form.timeout {
        Val::Bad => None,
        timeout => Some(timeout.value().copied()),
    };
    match form.command {
        Val::Absent => {
            check.report(
                at,
                "a hook written as a map needs `command`: the argv to run, e.g. \
                 `{command: [bin/rails, db:migrate], timeout: 10m}`",
            );
            None
        }
        command => Some(HookLayer {
            command: command.value()?.clone(),
            timeout: timeout?,
        }),
    }
}

/// The merged hooks into the model, with their default timeouts.
pub(super) fn apply(r: &mut Resolve, hooks: &At<HooksLayer>) {
    let h = &hooks.value;
    let hook = |val: &Val<At<HookLayer>>, default| {
        val.value().map(|h| Hook {
            command: h.command.clone(),
            timeout: h.timeout.unwrap_or(default),
        })
    };
    let hooks = &mut r.deploy.hooks;
    hooks.pre_deploy = hook(&h.pre_deploy, defaults::HOOK_TIMEOUT);
    hooks.before_switch = hook(&h.before_switch, defaults::BEFORE_SWITCH_TIMEOUT);
    hooks.post_deploy = hook(&h.post_deploy, defaults::HOOK_TIMEOUT);
    hooks.on_failure = hook(&h.on_failure, defaults::HOOK_TIMEOUT);
}
