//! Reading the live state of an app/stage from the engine.

mod classify;
mod gather;
pub mod model;

pub use gather::{StageTarget, observe, observe_target};
pub use model::*;
