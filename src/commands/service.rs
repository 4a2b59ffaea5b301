//! The first half of `up`, `cutover` and `rollback`, which `plan` shows: load → secrets →
//! connect → observe → options → plan. Written once, so that `plan --for X` plans exactly what
//! `X` would, with the same flags, and `plan --check` predicts X's exit code from the same plan.

use std::time::Duration;

use super::{Globals, deploy};
use crate::cli::Target;
use crate::engine::{self, Engine};
use crate::error::Error;
use crate::observe::{self, Observed};
use crate::plan::{Mode, Plan, PlanError, PlanOptions, Prediction, Pull, plan, predict};
use crate::secret::{self, Secret};
use crate::spec::{Deploy, Spec};
use crate::time;

/// What `up`, `cutover` or `rollback` was asked to do (and `plan --for` with the same flags).
#[derive(Debug, Clone)]
pub struct DeployRequest<'a> {
    pub mode: Mode,
    pub target: &'a Target,
    /// `--image`: `up` only.
    pub image: Option<&'a str>,
    pub no_cutover: bool,
    pub lock_wait: Duration,
    pub pull: Pull,
}

impl DeployRequest<'_> {
    pub fn command(&self) -> &'static str {
        self.mode.command()
    }
}

/// A deploy ready to run, or to be shown: the engine as observed and the plan made from it.
pub struct Prepared<'s> {
    pub deploy: &'s Deploy,
    /// The secrets' values, resolved before the engine is contacted so that a missing one
    /// fails first; `plan` drops them.
    pub secrets: Vec<(String, Secret)>,
    pub engine: Engine,
    pub observed: Observed,
    pub opts: PlanOptions,
    /// No plan: `cutover` with no standby, `rollback` with nothing retired.
    pub plan: Result<Plan, PlanError>,
}

/// Loads the spec's app/stage, resolves its secrets, connects, observes and plans.
pub async fn prepare<'s>(
    spec: &'s Spec,
    globals: &Globals,
    request: &DeployRequest<'_>,
) -> Result<Prepared<'s>, Error> {
    let deploy = deploy(spec, request.target)?;
    let secrets = secret::resolve(&deploy.secrets, |name| std::env::var(name).ok())?;
    let engine = engine::connect(globals.context.as_deref()).await?;
    let (observed, opts, plan) = plan_on(&engine, deploy, request, time::release_suffix()).await?;
    Ok(Prepared {
        deploy,
        secrets,
        engine,
        observed,
        opts,
        plan,
    })
}

/// Observes `engine` and plans `request` on it; `suffix` names the new release (one fleet run
/// gives every host the same, its run id).
pub async fn plan_on(
    engine: &Engine,
    deploy: &Deploy,
    request: &DeployRequest<'_>,
    suffix: String,
) -> Result<(Observed, PlanOptions, Result<Plan, PlanError>), Error> {
    let image = request.image.unwrap_or(&deploy.image).to_string();
    let opts = PlanOptions {
        image: image.clone(),
        suffix,
        no_cutover: request.no_cutover,
        lock_wait: request.lock_wait,
        pull: request.pull,
        mode: request.mode.clone(),
    };
    let observed = observe::observe(engine, deploy, &image).await?;
    let plan = plan(deploy, &observed, &opts);
    Ok((observed, opts, plan))
}

impl Prepared<'_> {
    /// The exit code the command is predicted to end with on the engine as observed.
    pub fn prediction(&self) -> Prediction {
        match &self.plan {
            Ok(plan) => predict(plan, self.deploy, &self.observed),
            Err(e) => Prediction::failure(crate::error::exit::DEPLOY_FAILED, e.to_string()),
        }
    }
}
