//! One function per command. Each loads what it needs (spec, engine) and returns data or an
//! error; printing goes through `Output`.

mod completions;
mod confirm;
mod deploy;
mod doctor;
mod down;
mod exec;
mod history;
mod lock;
mod logs;
mod maintenance;
mod man;
mod plan;
mod prune;
mod status;
mod validate;

use crate::cli::{Cli, Command, LockAction, MaintenanceAction, Target};
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
        Command::History { target } => history::run(&cli, &out, target).await,
        Command::Prune { target } => prune::run(&cli, &out, target).await,
        Command::Down {
            target,
            networks,
            history,
            yes,
        } => {
            let args = down::DownArgs {
                target,
                networks: *networks,
                history: *history,
                yes: *yes,
            };
            down::run(&cli, &out, args).await
        }
        Command::Lock {
            action: LockAction::Status { target },
        } => lock::status(&cli, &out, target).await,
        Command::Lock {
            action: LockAction::Release { target, yes },
        } => lock::release(&cli, &out, target, *yes).await,
        Command::Status { app, stage } => {
            status::run(&cli, &out, app.as_deref(), stage.as_deref()).await
        }
        Command::Doctor { name } => doctor::run(&cli, &out, name.as_deref()).await,
        Command::Man => man::run(&out),
        Command::Maintenance {
            action: MaintenanceAction::On { target, message },
        } => {
            let message = message
                .as_deref()
                .unwrap_or(crate::proxy::maintenance::DEFAULT_MESSAGE);
            maintenance::run(&cli, &out, target, Some(message)).await
        }
        Command::Maintenance {
            action: MaintenanceAction::Off { target },
        } => maintenance::run(&cli, &out, target, None).await,
        Command::Exec {
            target,
            one_off,
            interactive,
            tty,
            command,
        } => {
            let args = exec::ExecArgs {
                target,
                one_off: *one_off,
                interactive: *interactive,
                tty: *tty,
                command,
            };
            exec::run(&cli, args).await
        }
        Command::Logs {
            target,
            follow,
            since,
            tail,
            release,
        } => {
            let args = logs::LogsArgs {
                target,
                follow: *follow,
                since: *since,
                tail: *tail,
                release: release.as_deref(),
            };
            logs::run(&cli, args).await
        }
    }
}

fn load(cli: &Cli) -> Result<Spec, Error> {
    Ok(spec::load(&cli.file)?)
}

fn deploy<'a>(spec: &'a Spec, target: &Target) -> Result<&'a Deploy, Error> {
    Ok(spec.deploy(&target.app, &target.stage)?)
}
