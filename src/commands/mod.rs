//! One function per command. Each loads what it needs (spec, engine) and returns data or an
//! error; printing goes through `Output`.

mod completions;
mod confirm;
pub(crate) mod deploy;
mod doctor;
mod down;
mod exec;
mod history;
mod hosts;
mod lock;
mod logs;
mod maintenance;
mod man;
mod plan;
mod prune;
pub(crate) mod service;
mod status;
mod validate;

use std::path::PathBuf;

use crate::cli::{Cli, Command, LockAction, MaintenanceAction, OutputFormat, PullPolicy, Target};
use crate::error::Error;
use crate::output::Output;
use crate::plan::{Mode, Pull};
use crate::spec::{self, Deploy, Spec};

/// The global options every command reads; the commands see this, never the clap types.
#[derive(Debug, Clone)]
pub struct Globals {
    pub file: PathBuf,
    pub context: Option<String>,
    pub output: OutputFormat,
    pub quiet: bool,
}

pub async fn run(cli: Cli) -> Result<(), Error> {
    let globals = Globals {
        file: cli.file.clone(),
        context: cli.context.clone(),
        output: cli.output,
        quiet: cli.quiet,
    };
    let globals = &globals;
    let out = Output::new(cli.output, cli.quiet);
    match &cli.command {
        Command::Validate => validate::run(globals, &out),
        Command::Plan {
            target,
            for_command,
            image,
            no_cutover,
            pull,
            to,
            lock_wait,
            check,
        } => {
            let flags = plan::Flags {
                for_command: *for_command,
                image: image.as_deref(),
                no_cutover: *no_cutover,
                pull: *pull,
                to: to.as_deref(),
            };
            let request = plan::request(target, &flags, *lock_wait)?;
            plan::run(globals, &out, &request, *check).await
        }
        Command::Completions { shell } => completions::run(*shell, &out),
        Command::Up {
            target,
            image,
            no_cutover,
            lock_wait,
            pull,
        } => {
            let request = service::DeployRequest {
                mode: Mode::Up,
                target,
                image: image.as_deref(),
                no_cutover: *no_cutover,
                lock_wait: *lock_wait,
                pull: pull_of(*pull),
            };
            deploy::run(globals, &request).await
        }
        Command::Cutover { target, lock_wait } => {
            deploy::run(globals, &switch_request(Mode::Cutover, target, *lock_wait)).await
        }
        Command::Rollback {
            target,
            to,
            lock_wait,
        } => {
            let mode = Mode::Rollback { to: to.clone() };
            deploy::run(globals, &switch_request(mode, target, *lock_wait)).await
        }
        Command::History { target } => history::run(globals, &out, target).await,
        Command::Prune { target } => prune::run(globals, &out, target).await,
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
            down::run(globals, &out, args).await
        }
        Command::Lock {
            action: LockAction::Status { target },
        } => lock::status(globals, &out, target).await,
        Command::Lock {
            action: LockAction::Release { target, yes },
        } => lock::release(globals, &out, target, *yes).await,
        Command::Status { app, stage, hosts } => {
            let (app, stage) = (app.as_deref(), stage.as_deref());
            status::run(globals, &out, app, stage, hosts.as_deref()).await
        }
        Command::Doctor { name, hosts } => {
            doctor::run(globals, &out, name.as_deref(), hosts.as_deref()).await
        }
        Command::Man => man::run(&out),
        Command::Maintenance {
            action: MaintenanceAction::On { target, message },
        } => {
            let message = message
                .as_deref()
                .unwrap_or(crate::proxy::maintenance::DEFAULT_MESSAGE);
            maintenance::run(globals, &out, target, Some(message)).await
        }
        Command::Maintenance {
            action: MaintenanceAction::Off { target },
        } => maintenance::run(globals, &out, target, None).await,
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
            exec::run(globals, args).await
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
            logs::run(globals, args).await
        }
    }
}

fn load(globals: &Globals) -> Result<Spec, Error> {
    Ok(spec::load(&globals.file)?)
}

fn pull_of(policy: PullPolicy) -> Pull {
    match policy {
        PullPolicy::Missing => Pull::Missing,
        PullPolicy::Always => Pull::Always,
        PullPolicy::Never => Pull::Never,
    }
}

/// `cutover` and `rollback`: no image to choose, and none to pull (the release exists).
fn switch_request(
    mode: Mode,
    target: &Target,
    lock_wait: std::time::Duration,
) -> service::DeployRequest<'_> {
    service::DeployRequest {
        mode,
        target,
        image: None,
        no_cutover: false,
        lock_wait,
        pull: Pull::Never,
    }
}

/// `--hosts` on a stage without `hosts:`: a usage error rather than a silent deploy to the one
/// engine.
pub(crate) fn no_hosts(deploy: &Deploy, target: &Target) -> Result<(), Error> {
    match &target.hosts {
        Some(named) if !deploy.is_fleet() => Err(Error::UnknownHosts {
            app: deploy.app.clone(),
            stage: deploy.stage.clone(),
            unknown: named.clone(),
            hosts: vec!["(none: the stage has no `hosts:`, it runs on the one engine)".into()],
        }),
        _ => Ok(()),
    }
}

fn deploy<'a>(spec: &'a Spec, target: &Target) -> Result<&'a Deploy, Error> {
    Ok(spec.deploy(&target.app, &target.stage)?)
}
