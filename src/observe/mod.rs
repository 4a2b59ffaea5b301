//! Reading the live state of an app/stage from the engine.

mod classify;
mod gather;
pub mod model;
mod mounts;

pub use gather::{StageTarget, observe, observe_target};
pub use model::*;
pub use mounts::engine_is_local;
