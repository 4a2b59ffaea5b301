//! `bgdeploy plan APP STAGE`: load → observe → plan → render. Reads the engine, changes nothing.

use std::time::Duration;

use super::{deploy, load};
use crate::cli::{Cli, Target};
use crate::error::Error;
use crate::output::Output;
use crate::plan::{Mode, PlanOptions, Pull, plan};
use crate::{engine, observe, render, secret, time};

pub async fn run(
    cli: &Cli,
    out: &Output,
    target: &Target,
    image: Option<&str>,
) -> Result<(), Error> {
    let spec = load(cli)?;
    let deploy = deploy(&spec, target)?;
    // Checked now so that a missing secret fails the plan, not the deploy; values are dropped.
    secret::resolve(&deploy.secrets, |name| std::env::var(name).ok())?;
    let image = image.unwrap_or(&deploy.image).to_string();
    let engine = engine::connect(cli.context.as_deref()).await?;
    let observed = observe::observe(&engine, deploy, &image).await?;
    let opts = PlanOptions {
        image,
        suffix: time::release_suffix(),
        no_cutover: false,
        lock_wait: Duration::ZERO,
        pull: Pull::Missing,
        mode: Mode::Up,
    };
    let plan = plan(deploy, &observed, &opts)?;
    out.text_or_json(&render::plan::human(&plan), &render::plan::json(&plan))
}
