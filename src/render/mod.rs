//! Turning results into text: pure functions from data to strings, so that the human and
//! JSON forms can be snapshotted.

pub mod doctor;
pub mod history;
pub mod plan;
pub mod settings;
pub mod status;
pub mod table;
