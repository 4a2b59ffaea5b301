//! `bgdeploy plan APP STAGE [--for up|cutover|rollback] [--check]`: the deploy service's first
//! half (the same as the command's own), rendered with the predicted exit code. Reads the
//! engine, changes nothing: the lock is looked at, not taken.

use std::time::Duration;

use super::service::{self, DeployRequest};
use super::{Globals, load, pull_of};
use crate::cli::{PlanFor, PullPolicy, Target};
use crate::error::Error;
use crate::output::Output;
use crate::plan::{Mode, Pull};
use crate::render;

/// The flags of the command planned, as given.
pub struct Flags<'a> {
    pub for_command: PlanFor,
    pub image: Option<&'a str>,
    pub no_cutover: bool,
    pub pull: Option<PullPolicy>,
    pub to: Option<&'a str>,
}

/// The request the planned command would make; a flag that command does not take is a usage
/// error, as it would be there.
pub fn request<'a>(
    target: &'a Target,
    flags: &Flags<'a>,
    lock_wait: Duration,
) -> Result<DeployRequest<'a>, Error> {
    let command = match flags.for_command {
        PlanFor::Up => "up",
        PlanFor::Cutover => "cutover",
        PlanFor::Rollback => "rollback",
    };
    let mut foreign = Vec::new();
    if flags.for_command != PlanFor::Up {
        if flags.image.is_some() {
            foreign.push("--image");
        }
        if flags.no_cutover {
            foreign.push("--no-cutover");
        }
        if flags.pull.is_some() {
            foreign.push("--pull");
        }
    }
    if flags.for_command != PlanFor::Rollback && flags.to.is_some() {
        foreign.push("--to");
    }
    if !foreign.is_empty() {
        return Err(Error::Usage(format!(
            "`bgdeploy {command}` takes no {}; drop it, or plan the command that takes it \
             (--image, --no-cutover and --pull are `up`'s, --to is `rollback`'s)",
            foreign.join(", ")
        )));
    }
    let (mode, pull) = match flags.for_command {
        PlanFor::Up => (Mode::Up, flags.pull.map_or(Pull::Missing, pull_of)),
        PlanFor::Cutover => (Mode::Cutover, Pull::Never),
        PlanFor::Rollback => (
            Mode::Rollback {
                to: flags.to.map(str::to_string),
            },
            Pull::Never,
        ),
    };
    Ok(DeployRequest {
        mode,
        target,
        image: flags.image,
        no_cutover: flags.no_cutover,
        lock_wait,
        pull,
    })
}

pub async fn run(
    globals: &Globals,
    out: &Output,
    request: &DeployRequest<'_>,
    check: bool,
) -> Result<(), Error> {
    let spec = load(globals)?;
    let stage = super::deploy(&spec, request.target)?;
    if stage.is_fleet() {
        return crate::fleet::plan::run(stage, request, out, check).await;
    }
    super::no_hosts(stage, request.target)?;
    let prepared = service::prepare(&spec, globals, request).await?;
    let prediction = prepared.prediction();
    match &prepared.plan {
        Ok(plan) => out.text_or_json(
            &render::plan::human(plan, &prediction),
            &render::plan::json(plan, &prediction),
        )?,
        Err(e) => {
            let deploy = prepared.deploy;
            out.text_or_json(
                &render::plan::no_plan(request.command(), deploy, e, &prediction),
                &render::plan::no_plan_json(request.command(), deploy, &prediction),
            )?;
        }
    }
    match prediction.reason {
        Some(reason) if check => Err(Error::Predicted {
            command: format!(
                "bgdeploy {} {} {}",
                request.command(),
                request.target.app,
                request.target.stage
            ),
            code: prediction.exit_code,
            reason,
        }),
        _ => Ok(()),
    }
}
