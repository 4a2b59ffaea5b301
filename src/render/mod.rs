//! Turning results into text: pure functions from data to strings, so that the human and
//! JSON forms can be snapshotted.

pub mod plan;
