//! Planning: one pure function turns (validated deploy, observed state) into the steps of
//! DESIGN.md §2. `plan` renders them; `up` applies them with the executor.

mod build;
mod step;
mod warning;

pub use build::{Mode, PlanError, PlanOptions, Pull, plan};
pub use step::{Action, FamilyChange, ProxyPhase, RouteChange, Step};
pub use warning::{Warning, WarningCode};

use serde::Serialize;

use crate::observe::EngineInfo;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub app: String,
    pub stage: String,
    pub image: String,
    /// The name the new release container will get.
    pub container: String,
    pub engine: EngineInfo,
    pub steps: Vec<Step>,
    pub warnings: Vec<Warning>,
}

/// GwPriority values sent on API >= 1.48 so that the back network always holds the
/// default route: BACK highest, the spec's extra networks between, FRONT lowest.
pub mod priority {
    pub const BACK: i64 = 100;
    pub const EXTRA: i64 = 0;
    pub const FRONT: i64 = -100;
}

#[cfg(test)]
mod tests;
