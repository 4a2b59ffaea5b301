//! `up`, `cutover` and `rollback`: load → observe → plan → execute, one path for the three.
//! The lock is taken first, then the engine is observed again and the plan remade under it,
//! so that a run that waited for the lock acts on what the previous one left.

use std::time::Duration;

use super::{deploy, load};
use crate::cli::{Cli, OutputFormat, PullPolicy, Target};
use crate::engine::{self, Engine};
use crate::error::{Error, exit};
use crate::execute::{self, Cancel, DeployError, Executor, Job};
use crate::observe;
use crate::plan::{Mode, Plan, PlanOptions, Pull, WarningCode, plan};
use crate::progress;
use crate::spec::Deploy;
use crate::{hooks, secret, time};

pub struct DeployArgs<'a> {
    pub command: &'static str,
    pub mode: Mode,
    pub target: &'a Target,
    pub image: Option<&'a str>,
    pub no_cutover: bool,
    pub lock_wait: Duration,
    pub pull: PullPolicy,
}

pub async fn run(cli: &Cli, args: DeployArgs<'_>) -> Result<(), Error> {
    let spec = load(cli)?;
    let deploy = deploy(&spec, args.target)?;
    let secrets = secret::resolve(&deploy.secrets, |name| std::env::var(name).ok())?;
    let image = args.image.unwrap_or(&deploy.image).to_string();
    let engine = engine::connect(cli.context.as_deref()).await?;
    let opts = PlanOptions {
        image: image.clone(),
        suffix: time::release_suffix(),
        no_cutover: args.no_cutover,
        lock_wait: args.lock_wait,
        pull: match args.pull {
            PullPolicy::Missing => Pull::Missing,
            PullPolicy::Always => Pull::Always,
            PullPolicy::Never => Pull::Never,
        },
        mode: args.mode.clone(),
    };
    let observed = observe::observe(&engine, deploy, &image).await?;
    let first = plan(deploy, &observed, &opts)?;
    // cutover and rollback deploy the image of the container they make live.
    let image = first.image.clone();
    refuse_blocking(&first, deploy).map_err(Error::from)?;
    if !args.no_cutover {
        // Where bgdeploy sees the engine's networks only through probes (a remote engine),
        // the proxy's and the live release's are started while the new release starts: the
        // route check and the drain read them later.
        let mut targets: Vec<String> = observed.live().map(|c| c.id.clone()).collect();
        if let observe::ProxyLookup::Found(proxy) = &observed.proxy {
            targets.push(proxy.id.clone());
        }
        engine.warm_probes(targets);
    }

    let mut reporter = progress::for_output(cli.output, cli.quiet);
    for w in &first.warnings {
        reporter.note(&format!("warning: {}", w.message));
    }
    // Listening from here on: a signal during `pre_deploy` kills the hook, not bgdeploy.
    let mut cancel = Cancel::on_signals();
    let run_info = hooks::RunInfo {
        app: deploy.app.clone(),
        stage: deploy.stage.clone(),
        command: args.command.to_string(),
        image: image.clone(),
        // The release's unique suffix names the run too: one id per run, sortable by time.
        run: opts.suffix.clone(),
        hosts: vec![hooks::SINGLE_HOST.to_string()],
        performer: crate::lock::owner(),
    };
    let hooks = Hooks {
        deploy,
        info: &run_info,
        secrets: &secrets,
    };
    if let Some(hook) = &deploy.hooks.pre_deploy {
        let env = hooks::environment(&run_info, None);
        if let Err(e) = hooks::run(
            "pre_deploy",
            hook,
            &env,
            &secrets,
            &mut *reporter,
            &mut cancel,
        )
        .await
        {
            let err = DeployError::Hook(Box::new(e));
            reporter.note("pre_deploy failed: nothing was changed");
            hooks.on_failure(&mut *reporter, &err).await;
            return Err(report_failure(
                cli,
                &mut *reporter,
                args.command,
                deploy,
                err,
            ));
        }
    }
    let mut exec = Executor::new(
        &engine,
        deploy,
        &secrets,
        &mut *reporter,
        cancel,
        Job {
            command: args.command,
            image: image.clone(),
            cutover: !args.no_cutover,
            run: run_info.run.clone(),
        },
    );
    let result = run_plan(&mut exec, &engine, deploy, &opts, &first).await;
    let (outcome, failure) = match result {
        Ok(()) => (Some(exec.finish()), None),
        Err(e) => (None, Some(exec.fail(e).await)),
    };
    drop(exec);
    match (outcome, failure) {
        (Some(outcome), _) => {
            let role = if args.no_cutover { "standby" } else { "live" };
            let post = hooks.post_deploy(&mut *reporter, role).await;
            let (mut doc, human) =
                execute::result_document(args.command, deploy, &image, &outcome, role);
            if let Some(e) = &post {
                // The deploy stands; the result says that the hook failed.
                doc["exit_code"] = exit::POST_DEPLOY_FAILED.into();
                doc["error"] = e.to_string().into();
            }
            reporter.result(&doc, &human);
            match post {
                None => Ok(()),
                Some(e) => Err(Error::PostDeploy(Box::new(e))),
            }
        }
        (None, Some(err)) => {
            hooks.on_failure(&mut *reporter, &err).await;
            Err(report_failure(
                cli,
                &mut *reporter,
                args.command,
                deploy,
                err,
            ))
        }
        (None, None) => Ok(()),
    }
}

/// The failure's result line (JSON), and the error to exit with.
fn report_failure(
    cli: &Cli,
    reporter: &mut dyn progress::Reporter,
    command: &str,
    deploy: &Deploy,
    err: DeployError,
) -> Error {
    if cli.output == OutputFormat::Json {
        reporter.result(&execute::failure_document(command, deploy, &err), "");
    }
    Error::from(err)
}

/// The hooks that run on bgdeploy's machine after the run.
struct Hooks<'a> {
    deploy: &'a Deploy,
    info: &'a hooks::RunInfo,
    secrets: &'a [(String, secret::Secret)],
}

impl Hooks<'_> {
    /// Runs `post_deploy` after a success; returns why it failed, if it did.
    async fn post_deploy(
        &self,
        reporter: &mut dyn progress::Reporter,
        role: &str,
    ) -> Option<hooks::HookError> {
        let hook = self.deploy.hooks.post_deploy.as_ref()?;
        let result = hooks::RunResult {
            result: if role == "standby" { "standby" } else { "ok" },
            exit_code: 0,
        };
        let env = hooks::environment(self.info, Some(result));
        // A signal that ended nothing so far may still stop the notification.
        let mut cancel = Cancel::on_signals();
        hooks::run(
            "post_deploy",
            hook,
            &env,
            self.secrets,
            reporter,
            &mut cancel,
        )
        .await
        .err()
    }

    /// Runs `on_failure` after a failed run. Its own failure is reported, and the run's exit
    /// code stays the run's.
    async fn on_failure(&self, reporter: &mut dyn progress::Reporter, err: &DeployError) {
        let Some(hook) = self.deploy.hooks.on_failure.as_ref() else {
            return;
        };
        let result = hooks::RunResult {
            result: err.result_word(),
            exit_code: err.code(),
        };
        let env = hooks::environment(self.info, Some(result));
        // A fresh listener: the signal that interrupted the run must not also stop the
        // hook that reports it; a second one does.
        let mut cancel = Cancel::on_signals();
        if hooks::run(
            "on_failure",
            hook,
            &env,
            self.secrets,
            reporter,
            &mut cancel,
        )
        .await
        .is_err()
        {
            reporter.note("the on_failure hook failed (see above); the exit code is the run's");
        }
    }
}

async fn run_plan(
    exec: &mut Executor<'_>,
    engine: &Engine,
    deploy: &Deploy,
    opts: &PlanOptions,
    first: &Plan,
) -> Result<(), DeployError> {
    let total = first.steps.len();
    let (lock, _) = execute::split_lock(first);
    exec.run(lock, total).await?;
    // Under the lock: what a killed run left of its probes goes (nothing else is touched).
    engine.remove_stale_probes(&deploy.app, &deploy.stage).await;
    let observed = observe::observe(engine, deploy, &opts.image)
        .await
        .map_err(|source| DeployError::Step {
            step: "read the app/stage's state".into(),
            source: Box::new(source),
        })?;
    // Under the lock the standby or the retired release may have gone: that is a failure
    // of this run, not a usage error.
    let plan = plan(deploy, &observed, opts).map_err(|e| DeployError::Refused {
        reason: e.to_string(),
        code: exit::DEPLOY_FAILED,
    })?;
    refuse_blocking(&plan, deploy)?;
    let (_, rest) = execute::split_lock(&plan);
    exec.run(rest, total).await
}

/// Warnings that make `up` stop before it changes anything. A predicted route move of the
/// *proxy* stops it here because attaching would already hurt live clients; a predicted move
/// of the new release is left to the real check after the attach, which undoes it (exit 5)
/// while the new release serves nothing yet.
fn refuse_blocking(plan: &Plan, deploy: &Deploy) -> Result<(), DeployError> {
    let proxy = deploy.proxy.driver.container();
    for w in &plan.warnings {
        let code = match w.code {
            // Without its proxy a switch cannot happen: say so before touching anything.
            WarningCode::DuplicateNetwork
            | WarningCode::NetworkMissing
            | WarningCode::BindPathMissing
            | WarningCode::ProxyMissing => exit::DEPLOY_FAILED,
            WarningCode::RouteMoves if proxy.is_some() && w.subject.as_deref() == proxy => {
                exit::ROUTE_MOVED
            }
            _ => continue,
        };
        return Err(DeployError::Refused {
            reason: w.message.clone(),
            code,
        });
    }
    Ok(())
}
