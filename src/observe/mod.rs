//! Reading the live state of an app/stage from the engine.

pub mod model;

pub use model::*;
