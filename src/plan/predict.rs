//! What the command a plan is for would end with, read from the plan and the observed state:
//! the exit code of `plan --check`, and the line `plan` prints about it. Pure, so the order in
//! which `up` meets each obstacle is stated once, here, and tested without an engine.

use serde::Serialize;

use super::{Action, Plan, WarningCode};
use crate::error::exit;
use crate::observe::Observed;
use crate::spec::Deploy;

/// The exit code predicted for the command, and why it would not be 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prediction {
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Prediction {
    pub fn success() -> Prediction {
        Prediction {
            exit_code: exit::OK,
            reason: None,
        }
    }

    pub fn failure(exit_code: i32, reason: impl Into<String>) -> Prediction {
        Prediction {
            exit_code,
            reason: Some(reason.into()),
        }
    }
}

/// A warning that makes `up` stop before it changes anything, with its exit code. A predicted
/// route move of the *proxy* stops it because attaching would already hurt live clients; a
/// predicted move of the new release is left to the real check after the attach, which undoes
/// it (exit 5) while the new release serves nothing yet.
pub fn blocking(plan: &Plan, deploy: &Deploy) -> Option<(i32, String)> {
    let proxy = deploy.proxy.driver.container();
    plan.warnings.iter().find_map(|w| {
        let code = match w.code {
            // Without its proxy a switch cannot happen: say so before touching anything.
            WarningCode::DuplicateNetwork
            | WarningCode::NetworkMissing
            | WarningCode::BindPathMissing
            | WarningCode::ProxyMissing => exit::DEPLOY_FAILED,
            WarningCode::RouteMoves if proxy.is_some() && w.subject.as_deref() == proxy => {
                exit::ROUTE_MOVED
            }
            _ => return None,
        };
        Some((code, w.message.clone()))
    })
}

/// The exit code the plan's command would end with on the engine as observed, checking in the
/// order the command meets each obstacle: refusals before the lock, the lock (held by a
/// process that still runs; a dead one's is taken over), the pull, then the route checks.
pub fn predict(plan: &Plan, deploy: &Deploy, obs: &Observed) -> Prediction {
    if let Some((code, reason)) = blocking(plan, deploy) {
        return Prediction::failure(code, reason);
    }
    if let Some(lock) = &obs.lock {
        if !crate::lock::owner_is_gone(&lock.owner) {
            return Prediction::failure(
                exit::LOCKED,
                format!(
                    "another deploy holds the lock of {}/{} ({}); `bgdeploy lock status {} {}` \
                     shows it",
                    plan.app, plan.stage, lock.owner, plan.app, plan.stage
                ),
            );
        }
    }
    let pull_forbidden = plan.steps.iter().find_map(|s| match &s.action {
        Action::PullImage {
            image,
            allowed: false,
        } => Some(image),
        _ => None,
    });
    if let Some(image) = pull_forbidden {
        return Prediction::failure(
            exit::DEPLOY_FAILED,
            format!(
                "image {image} is not on the engine and --pull never forbids pulling it; \
                 pull or load it first, or use --pull missing"
            ),
        );
    }
    if let Some(w) = plan
        .warnings
        .iter()
        .find(|w| w.code == WarningCode::RouteMoves)
    {
        return Prediction::failure(exit::ROUTE_MOVED, w.message.clone());
    }
    Prediction::success()
}
