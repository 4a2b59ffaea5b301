//! `up`, `cutover` and `rollback`: the deploy service's first half (`service::prepare`, which
//! `plan` shows), then execute; one path for the three. The lock is taken first, then the
//! engine is observed again and the plan remade under it, so that a run that waited for the
//! lock acts on what the previous one left.

use super::service::{self, DeployRequest};
use super::{Globals, load};
use crate::cli::OutputFormat;
use crate::engine::EngineApi;
use crate::error::{Error, exit};
use crate::execute::{self, Cancel, DeployError, Executor, Job};
use crate::observe;
use crate::plan::{Plan, PlanOptions, blocking, plan};
use crate::progress;
use crate::spec::Deploy;
use crate::{hooks, secret};

pub async fn run(globals: &Globals, request: &DeployRequest<'_>) -> Result<(), Error> {
    let command = request.command();
    let spec = load(globals)?;
    let stage = super::deploy(&spec, request.target)?;
    if stage.is_fleet() {
        let secrets = secret::resolve(&stage.secrets, |name| std::env::var(name).ok())?;
        let out = crate::fleet::run::Output {
            format: globals.output,
            quiet: globals.quiet,
        };
        return crate::fleet::run::run(stage, request, &secrets, out).await;
    }
    super::no_hosts(stage, request.target)?;
    let service::Prepared {
        deploy,
        secrets,
        engine,
        observed,
        opts,
        plan: first,
    } = service::prepare(&spec, globals, request).await?;
    let first = first?;
    // cutover and rollback deploy the image of the container they make live.
    let image = first.image.clone();
    refuse_blocking(&first, deploy).map_err(Error::from)?;
    if !request.no_cutover {
        // Where bgdeploy sees the engine's networks only through probes (a remote engine),
        // the proxy's and the live release's are started while the new release starts: the
        // route check and the drain read them later.
        engine.warm_probes(observed.cutover_probe_targets());
    }

    let mut reporter = progress::for_single(globals.output, globals.quiet, &opts.suffix);
    for w in &first.warnings {
        reporter.note(&format!("warning: {}", w.message));
    }
    // Listening from here on: a signal during `pre_deploy` kills the hook, not bgdeploy.
    let mut cancel = Cancel::on_signals();
    let run_info = hooks::RunInfo {
        app: deploy.app.clone(),
        stage: deploy.stage.clone(),
        command: command.to_string(),
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
                globals,
                &mut *reporter,
                command,
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
            command,
            image: image.clone(),
            cutover: !request.no_cutover,
            run: run_info.run.clone(),
            host: None,
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
            let role = if request.no_cutover {
                "standby"
            } else {
                "live"
            };
            let post = hooks.post_deploy(&mut *reporter, role).await;
            let (mut doc, human) =
                execute::result_document(command, deploy, &image, &outcome, role);
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
                globals,
                &mut *reporter,
                command,
                deploy,
                err,
            ))
        }
        (None, None) => Ok(()),
    }
}

/// The failure's result line (JSON), and the error to exit with.
fn report_failure(
    globals: &Globals,
    reporter: &mut dyn progress::Reporter,
    command: &str,
    deploy: &Deploy,
    err: DeployError,
) -> Error {
    if globals.output == OutputFormat::Json {
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

/// The run under the lock, shared with the executor's fault matrix (`execute::matrix`), which
/// drives it over the in-memory engine.
pub(crate) async fn run_plan(
    exec: &mut Executor<'_>,
    engine: &dyn EngineApi,
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
    exec.set_retiring(&plan.retiring);
    exec.run(rest, total).await
}

/// Warnings that make `up` stop before it changes anything (`plan::blocking` says which).
fn refuse_blocking(plan: &Plan, deploy: &Deploy) -> Result<(), DeployError> {
    match blocking(plan, deploy) {
        Some((code, reason)) => Err(DeployError::Refused { reason, code }),
        None => Ok(()),
    }
}
