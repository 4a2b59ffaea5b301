//! bgdeploy: blue-green deploys of Docker containers behind a reverse proxy, checked so that
//! no container's default route moves. `main.rs` only parses arguments and maps errors to
//! exit codes; everything else lives here so integration tests can reach it.

pub mod cli;
pub mod commands;
pub mod drain;
pub mod engine;
pub mod error;
pub mod execute;
pub mod fleet;
pub mod health;
pub mod history;
pub mod hooks;
pub mod hostcmd;
pub mod lock;
pub mod names;
pub mod observe;
pub mod output;
pub mod plan;
pub mod progress;
pub mod proxy;
pub mod render;
pub mod route;
pub mod secret;
pub mod spec;
pub mod terminal;
pub mod time;
