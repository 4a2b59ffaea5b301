//! One function per command. Each loads what it needs (spec, engine) and returns data or an
//! error; printing goes through `Output`.

mod completions;
mod deploy;
mod plan;
mod validate;

use crate::cli::{Cli, Command, LockAction, Target};
use crate::error::Error;
use crate::output::Output;
use crate::spec::{self, Deploy, Spec};

pub async fn run(cli: Cli) -> Result<(), Error> {
    let out = Output::new(cli.output, cli.quiet);
    match &cli.command {
        Command::Validate => validate::run(&cli, &out),
        Command::Plan { target, image } => plan::run(&cli, &out, target, image.as_deref()).await,
        Command::Completions { shell } => completions::run(*shell, &out),
        Command::Up {
            target,
            image,
            no_cutover,
            lock_wait,
            pull,
        } => {
            let args = deploy::DeployArgs {
                command: "up",
                mode: crate::plan::Mode::Up,
                target,
                image: image.as_deref(),
                no_cutover: *no_cutover,
                lock_wait: *lock_wait,
                pull: *pull,
            };
            deploy::run(&cli, args).await
        }
        Command::Cutover { target, lock_wait } => {
            let args = deploy::DeployArgs {
                command: "cutover",
                mode: crate::plan::Mode::Cutover,
                target,
                image: None,
                no_cutover: false,
                lock_wait: *lock_wait,
                pull: crate::cli::PullPolicy::Never,
            };
            deploy::run(&cli, args).await
        }
        Command::Rollback {
            target,
            to,
            lock_wait,
        } => {
            let args = deploy::DeployArgs {
                command: "rollback",
                mode: crate::plan::Mode::Rollback { to: to.clone() },
                target,
                image: None,
                no_cutover: false,
                lock_wait: *lock_wait,
                pull: crate::cli::PullPolicy::Never,
            };
            deploy::run(&cli, args).await
        }
        Command::History { target } => not_yet(&cli, target, "history"),
        Command::Prune { target } => not_yet(&cli, target, "prune"),
        Command::Down { target, .. } => not_yet(&cli, target, "down"),
        Command::Lock {
            action: LockAction::Status { target },
        } => not_yet(&cli, target, "lock status"),
        Command::Lock {
            action: LockAction::Release { target, .. },
        } => not_yet(&cli, target, "lock release"),
        Command::Status { .. } => Err(Error::NotAvailable { command: "status" }),
        Command::Doctor => Err(Error::NotAvailable { command: "doctor" }),
    }
}

/// Commands of the contract that have not landed still check their arguments against the
/// spec first, so that a typo'd stage is reported as such rather than as "not available".
fn not_yet(cli: &Cli, target: &Target, command: &'static str) -> Result<(), Error> {
    let spec = load(cli)?;
    spec.deploy(&target.app, &target.stage)?;
    Err(Error::NotAvailable { command })
}

fn load(cli: &Cli) -> Result<Spec, Error> {
    Ok(spec::load(&cli.file)?)
}

fn deploy<'a>(spec: &'a Spec, target: &Target) -> Result<&'a Deploy, Error> {
    Ok(spec.deploy(&target.app, &target.stage)?)
}
