//! Warnings a plan carries: things that would make `up` fail or hurt traffic, found before
//! anything runs.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Stable machine-readable code, e.g. `route_moves`.
    pub code: WarningCode,
    /// What is wrong and what to do, in one or two sentences.
    pub message: String,
    /// The container the warning is about, when there is one (e.g. whose route would move).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// Attaching a network would move a container's default route.
    RouteMoves,
    /// Two networks share a name the deploy needs; the engine then refuses to use it.
    DuplicateNetwork,
    /// A network in `networks:` does not exist.
    NetworkMissing,
    /// BACK_/FRONT_ exists but does not carry bgdeploy's labels.
    UnmanagedNetwork,
    /// FRONT_ exists and is not internal although the spec asks for an internal one.
    FrontNotInternal,
    /// The proxy container named in the spec is missing or not running.
    ProxyMissing,
    /// Another deploy holds the lock.
    Locked,
    /// A bind mount's host path is missing on this (local) engine's host.
    BindPathMissing,
    /// More than one live container (several attached to FRONT_).
    SeveralLive,
}
