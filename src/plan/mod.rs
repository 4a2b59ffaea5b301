//! Planning: one pure function turns (validated deploy, observed state) into the steps of
//! DESIGN.md §2. `plan` renders them; `up` applies them with the executor.

mod build;
mod predict;
mod step;
mod warning;

pub use build::{Mode, PlanError, PlanOptions, Pull, plan};
pub use predict::{Prediction, blocking, predict};
pub use step::{Action, FamilyChange, ProxyPhase, RouteChange, RunPhase, Step};
pub use warning::{Warning, WarningCode};

use serde::Serialize;

use crate::observe::EngineInfo;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub app: String,
    pub stage: String,
    /// The command the plan is for: `up`, `cutover` or `rollback`.
    #[serde(rename = "for")]
    pub command: &'static str,
    pub image: String,
    /// The name the new release container will get.
    pub container: String,
    pub engine: EngineInfo,
    pub steps: Vec<Step>,
    pub warnings: Vec<Warning>,
    /// The live releases this run takes out of traffic (drains, stops and keeps as retired):
    /// where an undo routes the proxy back to.
    pub retiring: Vec<String>,
}

impl Plan {
    /// The index of the first step that is not undone on failure, if the run has one.
    pub fn point_of_no_return(&self) -> Option<usize> {
        self.steps.iter().position(|s| s.phase == RunPhase::Retire)
    }
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
