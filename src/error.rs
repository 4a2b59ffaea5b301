//! The errors behind exit codes. One function, `Error::code`, maps them (DESIGN.md §3).

use crate::engine::EngineError;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] SpecError),

    /// The engine could not be reached, or refused, before anything was changed.
    #[error(transparent)]
    Engine(#[from] EngineError),

    #[error(transparent)]
    Deploy(Box<crate::execute::DeployError>),

    /// Nothing to do that the command could do: `cutover` without a standby, `rollback`
    /// with nothing retired.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),

    /// `prune`, `down`, `lock release`: the deploy lock was held, or could not be handled.
    #[error(transparent)]
    Lock(Box<crate::lock::LockError>),

    /// A command that changes the engine was run without a terminal to ask on, and without `--yes`.
    #[error(
        "`bgdeploy {command}` asks for confirmation, but stdin is not a terminal; pass --yes \
         to go ahead. Nothing was changed"
    )]
    NeedsYes { command: String },

    /// The operator answered no at the prompt.
    #[error("not confirmed; nothing was changed")]
    Declined,

    /// `doctor` found default routes where they should not be (the findings are on stdout).
    #[error("doctor flagged {count} problem{}; see the findings above", if *.count == 1 { "" } else { "s" })]
    Flagged { count: usize },

    /// `prune`/`down` changed part of what they meant to and could not do the rest.
    #[error(
        "`bgdeploy {command}` could not finish: {}. Run it again, or remove what is left by hand",
        failures.join("; ")
    )]
    Incomplete {
        command: String,
        failures: Vec<String>,
    },

    /// The deploy succeeded, but `hooks.post_deploy` failed (nothing was undone).
    #[error("the deploy succeeded (nothing was undone), but {0}")]
    PostDeploy(Box<crate::hooks::HookError>),

    /// `exec`, `logs`: the app/stage has no live release to act on.
    #[error(
        "{app}/{stage} has no live release; deploy one with `bgdeploy up {app} {stage}` \
         (`bgdeploy status {app} {stage}` shows what there is)"
    )]
    NoLive { app: String, stage: String },

    /// `logs --release NAME`: not a release of the app/stage.
    #[error("{name} is not a release of {app}/{stage}; its releases: {known}")]
    UnknownRelease {
        name: String,
        app: String,
        stage: String,
        known: String,
    },

    /// `maintenance`: the proxy could not be switched (nginx keeps its previous config).
    #[error("{0}")]
    Maintenance(Box<crate::proxy::ProxyError>),

    /// `maintenance` with a driver that has no maintenance mode, or a message nginx cannot hold.
    #[error("{0}")]
    MaintenanceUsage(String),

    /// `exec`: the command's own exit code, passed through without a message.
    #[error("the command exited with code {code}")]
    Exit { code: i32 },

    #[error("could not write the output")]
    Output(#[source] std::io::Error),

    /// Flags that do not go together (clap cannot say it: e.g. `plan --for cutover --image`).
    #[error("{0}")]
    Usage(String),

    /// A fleet command stopped on one host before anything changed anywhere (unreachable,
    /// locked, a plan that refuses): the host's own error, with its code.
    #[error("host {host}: {source}")]
    Host {
        host: String,
        #[source]
        source: Box<Error>,
    },

    /// `--hosts` names a host the stage does not have.
    #[error(
        "{app}/{stage} has no host {}; its hosts are: {}",
        unknown.join(", "),
        hosts.join(", ")
    )]
    UnknownHosts {
        app: String,
        stage: String,
        unknown: Vec<String>,
        hosts: Vec<String>,
    },

    /// A fleet run that failed on some host; the per-host table is already printed. `code`:
    /// 1 when every host is back on the release it had, 6 when hosts are left on different
    /// releases, 10 when one could not be restored.
    #[error("{summary}")]
    FleetFailed { code: i32, summary: String },

    /// `plan --check`: the command planned would not succeed; the plan is on stdout.
    #[error("`{command}` would stop with exit {code}: {reason}")]
    Predicted {
        command: String,
        code: i32,
        reason: String,
    },
}

/// Exit codes of the CLI contract.
pub mod exit {
    pub const OK: i32 = 0;
    pub const DEPLOY_FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const ENGINE: i32 = 3;
    pub const LOCKED: i32 = 4;
    pub const ROUTE_MOVED: i32 = 5;
    /// A fleet run stopped with hosts on different releases (`on_failure: halt`, or a fleet
    /// rollback that could not finish on some host).
    pub const MIXED: i32 = 6;
    /// The deploy succeeded but `hooks.post_deploy` failed.
    pub const POST_DEPLOY_FAILED: i32 = 7;
    pub const NEEDS_PERSON: i32 = 10;
}

impl Error {
    pub fn code(&self) -> i32 {
        match self {
            Error::Spec(_) => exit::USAGE,
            Error::Deploy(e) => e.code(),
            Error::Plan(_) => exit::DEPLOY_FAILED,
            Error::Engine(_) => exit::ENGINE,
            Error::Lock(e) if matches!(**e, crate::lock::LockError::Held { .. }) => exit::LOCKED,
            Error::Lock(_) => exit::ENGINE,
            Error::NeedsYes { .. } => exit::USAGE,
            Error::Declined | Error::Flagged { .. } => exit::DEPLOY_FAILED,
            Error::Incomplete { .. } => exit::NEEDS_PERSON,
            Error::Output(_) => exit::DEPLOY_FAILED,
            Error::PostDeploy(_) => exit::POST_DEPLOY_FAILED,
            Error::NoLive { .. } => exit::DEPLOY_FAILED,
            Error::UnknownRelease { .. } => exit::USAGE,
            Error::Exit { code } => *code,
            Error::Maintenance(e) if e.needs_person() => exit::NEEDS_PERSON,
            Error::Maintenance(_) => exit::DEPLOY_FAILED,
            Error::MaintenanceUsage(_) => exit::USAGE,
            Error::Usage(_) => exit::USAGE,
            Error::Predicted { code, .. } => *code,
            Error::Host { source, .. } => source.code(),
            Error::UnknownHosts { .. } => exit::USAGE,
            Error::FleetFailed { code, .. } => *code,
        }
    }
}

impl Error {
    /// Errors that are only an exit code (`exec` passing its command's on): nothing to print.
    pub fn is_silent(&self) -> bool {
        matches!(self, Error::Exit { .. })
    }

    /// A line on what to do, when the error alone does not say it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Engine(e) => e.explain(),
            Error::Host { source, .. } => source.hint(),
            Error::Lock(e) => match &**e {
                crate::lock::LockError::Engine(e) => e.explain(),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The error and every cause below it, one per line, as printed on stderr.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("error: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    out
}

impl From<crate::lock::LockError> for Error {
    fn from(e: crate::lock::LockError) -> Error {
        Error::Lock(Box::new(e))
    }
}

impl From<crate::execute::DeployError> for Error {
    fn from(e: crate::execute::DeployError) -> Error {
        Error::Deploy(Box::new(e))
    }
}
