//! The errors behind exit codes. One function, `Error::code`, maps them (DESIGN.md §3).

use crate::engine::EngineError;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] SpecError),

    /// A command declared by the CLI contract whose implementation has not landed.
    #[error(
        "`{command}` is not available yet in bgdeploy {version}; nothing was changed",
        version = env!("CARGO_PKG_VERSION")
    )]
    NotAvailable { command: &'static str },

    /// The engine could not be reached, or refused, before anything was changed.
    #[error(transparent)]
    Engine(#[from] EngineError),

    #[error(transparent)]
    Deploy(Box<crate::execute::DeployError>),

    #[error(
        "proxy driver `{driver}` is not available yet in bgdeploy {version}; use `driver: none` \
         (and switch traffic yourself) until it lands. Nothing was changed",
        version = env!("CARGO_PKG_VERSION")
    )]
    DriverNotAvailable { driver: &'static str },

    #[error("could not write the output")]
    Output(#[source] std::io::Error),
}

/// Exit codes of the CLI contract.
pub mod exit {
    pub const OK: i32 = 0;
    pub const DEPLOY_FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const ENGINE: i32 = 3;
    pub const LOCKED: i32 = 4;
    pub const ROUTE_MOVED: i32 = 5;
    pub const NEEDS_PERSON: i32 = 10;
}

impl Error {
    pub fn code(&self) -> i32 {
        match self {
            Error::Spec(_) | Error::NotAvailable { .. } | Error::DriverNotAvailable { .. } => {
                exit::USAGE
            }
            Error::Deploy(e) => e.code(),
            Error::Engine(_) => exit::ENGINE,
            Error::Output(_) => exit::DEPLOY_FAILED,
        }
    }
}

impl Error {
    /// A line on what to do, when the error alone does not say it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Engine(e) => e.explain(),
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

impl From<crate::execute::DeployError> for Error {
    fn from(e: crate::execute::DeployError) -> Error {
        Error::Deploy(Box::new(e))
    }
}
