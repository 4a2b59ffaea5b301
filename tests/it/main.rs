//! The one integration-test binary: everything here runs against a real Docker engine
//! (DOCKER_HOST, default the local socket). See harness.rs for how tests stay isolated.

mod cleanup;
mod cli;
mod concurrency;
mod context;
mod cutover;
mod doctor;
mod drain;
mod engine_connect;
mod engine_reads;
mod engine_writes;
mod exec_logs;
mod faults;
mod fleet_fixture;
mod fleet_ops;
mod fleet_rollout;
mod harness;
mod health;
mod history;
mod hooks;
mod hostile;
mod lock;
mod maintenance;
mod observe;
mod ops;
mod plan_check;
mod proxy;
mod remote;
mod route_engines;
mod route_read;
mod settings;
mod status;
mod switch;
mod testhost;
mod up;
