//! Fleets (DESIGN.md §9): one stage on several hosts. This layer sits above the single-host
//! deploy: it connects, locks and plans every host, then runs each host's plan with the same
//! executor, in batches, and on a failure brings the hosts that switched back. The executor
//! does not know it is part of a fleet.

pub mod batches;
pub mod connect;
mod host;
pub mod locks;
pub mod plan;
mod report;
pub mod run;
pub mod select;
pub mod steps;

pub use batches::batches;
pub use connect::{Host, connect_all, docker_host};
