//! The deploy spec: raw serde types, then validation into the model.

pub mod model;

pub use model::*;
