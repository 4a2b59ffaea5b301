//! How a deploy can fail, each with its exit code (DESIGN.md §3).

use crate::engine::EngineError;
use crate::error::exit;
use crate::lock::LockError;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Boxed: the lock's error carries the holder's details and would make every
    /// `Result` in the crate large.
    #[error(transparent)]
    Lock(Box<LockError>),

    /// Refused before anything changed, for a reason the plan found.
    #[error("refused before changing anything: {reason}")]
    Refused { reason: String, code: i32 },

    #[error(
        "image {image} is not on the engine and --pull never forbids pulling it; nothing was changed. Load it (`docker load`) or allow pulling (--pull missing)"
    )]
    ImageMissing { image: String },

    #[error("{step} failed")]
    Step {
        step: String,
        #[source]
        source: Box<EngineError>,
    },

    /// Someone removed the release container while bgdeploy was working on it.
    #[error("container {container} disappeared during the deploy (removed by someone else?)")]
    Vanished { container: String },

    #[error("container {container} has no address on {network}, so it cannot be health-checked")]
    NoAddress { container: String, network: String },

    /// The release never passed its health check; the report has its last logs.
    #[error("{report}")]
    Unhealthy { report: String },

    #[error("{message}")]
    RouteMoved { message: String },

    /// The route could not be read, so whether it moved is unknown: undone like a failure,
    /// not reported as a route that moved.
    #[error("could not check the default route of {container}, so the deploy was undone: {reason}")]
    RouteUnreadable { container: String, reason: String },

    /// The proxy could not be switched (or verified); boxed for its size.
    #[error(transparent)]
    Proxy(Box<crate::proxy::ProxyError>),

    /// A hook on bgdeploy's machine failed (`pre_deploy` stops the run before any change).
    #[error(transparent)]
    Hook(Box<crate::hooks::HookError>),

    /// `hooks.before_switch` failed in its one-off container; the message has its last lines.
    #[error("{message}")]
    BeforeSwitch { message: String },

    #[error("interrupted by a signal during: {step}")]
    Interrupted { step: String },

    /// The release is live, but the old one could not be retired cleanly.
    #[error("the new release is live, but {step} failed; {todo}")]
    AfterSwitch {
        step: String,
        todo: String,
        #[source]
        source: Box<EngineError>,
    },

    /// Undoing a failed deploy failed too: the engine is not as it was.
    #[error("{original}\nand undoing it failed: {undo}. A person must check: {todo}")]
    NeedsPerson {
        original: String,
        undo: String,
        todo: String,
    },
}

impl DeployError {
    pub fn code(&self) -> i32 {
        match self {
            DeployError::Lock(e) if matches!(**e, LockError::Held { .. }) => exit::LOCKED,
            DeployError::Lock(_) => exit::ENGINE,
            DeployError::Refused { code, .. } => *code,
            DeployError::RouteMoved { .. } => exit::ROUTE_MOVED,
            DeployError::Proxy(e) if e.needs_person() => exit::NEEDS_PERSON,
            DeployError::Proxy(_) => exit::DEPLOY_FAILED,
            DeployError::ImageMissing { .. }
            | DeployError::Step { .. }
            | DeployError::Vanished { .. }
            | DeployError::NoAddress { .. }
            | DeployError::RouteUnreadable { .. }
            | DeployError::Unhealthy { .. }
            | DeployError::Hook(_)
            | DeployError::BeforeSwitch { .. }
            | DeployError::Interrupted { .. } => exit::DEPLOY_FAILED,
            DeployError::AfterSwitch { .. } | DeployError::NeedsPerson { .. } => exit::NEEDS_PERSON,
        }
    }

    /// The word recorded in the history.
    pub fn result_word(&self) -> &'static str {
        match self {
            DeployError::Interrupted { .. } => "interrupted",
            DeployError::Hook(e) if matches!(**e, crate::hooks::HookError::Interrupted { .. }) => {
                "interrupted"
            }
            DeployError::RouteMoved { .. } => "route_moved",
            DeployError::AfterSwitch { .. } | DeployError::NeedsPerson { .. } => "needs_person",
            _ => "failed",
        }
    }
}

impl From<LockError> for DeployError {
    fn from(e: LockError) -> DeployError {
        DeployError::Lock(Box::new(e))
    }
}

impl From<crate::proxy::ProxyError> for DeployError {
    fn from(e: crate::proxy::ProxyError) -> DeployError {
        DeployError::Proxy(Box::new(e))
    }
}
