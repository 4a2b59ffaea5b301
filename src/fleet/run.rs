//! `up`, `cutover` and `rollback` of a fleet stage (DESIGN.md §9). Before any change: every
//! host connected, locked (all or none) and planned; then the canary host(s) alone and batches
//! of `parallel`, each host run by the single-host executor under the lock the fleet holds. A
//! failure stops new hosts; `on_failure` then brings the hosts that switched back (`rollback`)
//! or leaves them (`halt`). The locks are released when the whole run ends.

use std::time::Duration;

use super::host::{HostRun, Release, State};
use super::{connect_all, locks, report, select, steps};
use crate::cli::OutputFormat;
use crate::commands::service::{self, DeployRequest};
use crate::error::{Error, exit};
use crate::execute::{Cancel, DeployError, Executor, Job};
use crate::hooks::{self, RunInfo, RunResult};
use crate::plan::{Mode, Pull, blocking};
use crate::progress::{self, Reporter};
use crate::secret::Secret;
use crate::spec::{Deploy, OnFailure};

/// How the run reports.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: OutputFormat,
    pub quiet: bool,
}

impl Output {
    fn reporter(&self, host: Option<&str>, run: &str) -> Box<dyn Reporter> {
        progress::for_host(self.format, self.quiet, host, run)
    }
}

/// Runs `request` on the fleet of `deploy` (a stage with `hosts:`).
pub async fn run(
    deploy: &Deploy,
    request: &DeployRequest<'_>,
    secrets: &[(String, Secret)],
    out: Output,
) -> Result<(), Error> {
    let command = request.command();
    let names = select::hosts(deploy, request.target.hosts.as_deref())?;
    // One id for the run on every host: the new release's suffix, the history's `run`.
    let run_id = crate::time::release_suffix();
    let mut fleet = out.reporter(None, &run_id);
    fleet.note(&format!(
        "{command} {}/{} on {} host{} ({}), run {run_id}",
        deploy.app,
        deploy.stage,
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    ));
    let connected = connect_all(deploy, &names).await?;
    let mut hosts: Vec<HostRun> = connected
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            HostRun::new(
                h,
                host_deploy(deploy, i),
                out.reporter(Some(&names[i]), &run_id),
            )
        })
        .collect();

    take_locks(&mut hosts, deploy, request.lock_wait, out, &run_id).await?;
    // From here on every path releases the locks.
    let result = locked(&mut hosts, deploy, request, secrets, &run_id, &mut *fleet).await;
    release_locks(&mut hosts, deploy, &mut *fleet).await;
    let summary = result?;
    let code = summary.code;
    let image = summary.image.clone();
    let (doc, human) = report::result(
        command,
        deploy,
        &run_id,
        &image,
        &hosts,
        code,
        &summary.error,
    );
    fleet.result(&doc, &human);
    if code == exit::OK {
        return Ok(());
    }
    Err(Error::FleetFailed {
        code,
        summary: summary
            .error
            .unwrap_or_else(|| "the fleet run failed".into()),
    })
}

/// The deploy a host runs: `before_switch` (migrations) runs once per run, on the first host.
fn host_deploy(deploy: &Deploy, index: usize) -> Deploy {
    let mut d = deploy.clone();
    if index > 0 {
        d.hooks.before_switch = None;
    }
    d
}

/// Every host's lock, all or none: all at once without waiting, else in host-name order.
async fn take_locks(
    hosts: &mut [HostRun],
    deploy: &Deploy,
    wait: Duration,
    out: Output,
    run_id: &str,
) -> Result<(), Error> {
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let (app, stage) = (deploy.app.as_str(), deploy.stage.as_str());
    let shared: &[HostRun] = hosts;
    let taken =
        locks::take_all(
            &names,
            |i, attempt| {
                let host = &shared[i];
                let mut reporter = out.reporter(None, run_id);
                let wait = match attempt {
                    locks::Attempt::NoWait => Duration::ZERO,
                    locks::Attempt::InOrder => wait,
                };
                async move {
                    locks::take(&host.engine, app, stage, wait, &host.name, &mut *reporter).await
                }
            },
            |i, guard| {
                let engine = &shared[i].engine;
                async move {
                    // Best effort: a lock that cannot be removed is stale once this process ends.
                    let _ = guard.release(engine).await;
                }
            },
        )
        .await;
    match taken {
        Ok(guards) => {
            for (host, guard) in hosts.iter_mut().zip(guards) {
                host.lock = Some(guard);
            }
            Ok(())
        }
        Err((i, e)) => Err(Error::Host {
            host: names[i].clone(),
            source: Box::new(Error::from(e)),
        }),
    }
}

async fn release_locks(hosts: &mut [HostRun], deploy: &Deploy, fleet: &mut dyn Reporter) {
    let releases = hosts.iter_mut().filter_map(|h| {
        let guard = h.lock.take()?;
        let engine = &h.engine;
        let name = h.name.clone();
        Some(async move { (name, guard.release(engine).await) })
    });
    for (name, result) in futures_util::future::join_all(releases).await {
        if let Err(e) = result {
            fleet.note(&format!(
                "[{name}] could not release the lock: {e}; run `bgdeploy lock release {} {} --hosts {name}`",
                deploy.app, deploy.stage
            ));
        }
    }
}

/// What the run ended with.
struct Summary {
    code: i32,
    image: String,
    error: Option<String>,
}

/// Everything between taking the locks and releasing them.
async fn locked(
    hosts: &mut [HostRun],
    deploy: &Deploy,
    request: &DeployRequest<'_>,
    secrets: &[(String, Secret)],
    run_id: &str,
    fleet: &mut dyn Reporter,
) -> Result<Summary, Error> {
    plan_all(hosts, request, run_id).await?;
    let image = hosts
        .first()
        .and_then(|h| h.plan.as_ref())
        .map(|p| p.image.clone())
        .unwrap_or_default();
    for h in hosts.iter_mut() {
        let warnings: Vec<String> = h.plan_warnings();
        for w in warnings {
            h.reporter.note(&format!("warning: {w}"));
        }
    }
    let info = RunInfo {
        app: deploy.app.clone(),
        stage: deploy.stage.clone(),
        command: request.command().to_string(),
        image: image.clone(),
        run: run_id.to_string(),
        hosts: hosts.iter().map(|h| h.name.clone()).collect(),
        performer: crate::lock::owner(),
    };
    let mut cancel = Cancel::on_signals();
    if let Some(hook) = &deploy.hooks.pre_deploy {
        let env = hooks::environment(&info, None);
        if let Err(e) = hooks::run("pre_deploy", hook, &env, secrets, fleet, &mut cancel).await {
            fleet.note("pre_deploy failed: nothing was changed on any host");
            let error = e.to_string();
            on_failure_hook(deploy, &info, secrets, fleet, exit::DEPLOY_FAILED).await;
            for h in hosts.iter_mut() {
                h.state = State::NotStarted;
            }
            return Ok(Summary {
                code: exit::DEPLOY_FAILED,
                image,
                error: Some(error),
            });
        }
    }

    let rollout = &deploy.rollout;
    let ranges = super::batches(
        &(0..hosts.len()).collect::<Vec<_>>(),
        rollout.canary_for(hosts.len()),
        rollout.parallel as usize,
    );
    let cutover = !request.no_cutover;
    let mut failed = false;
    for (b, batch) in ranges.iter().enumerate() {
        if failed || cancel.is_cancelled() {
            break;
        }
        if b > 0 && !rollout.wait.is_zero() {
            fleet.note(&format!(
                "waiting {} before the next batch",
                humantime::format_duration(rollout.wait)
            ));
            let mut c = cancel.clone();
            tokio::select! {
                () = tokio::time::sleep(rollout.wait) => {}
                () = c.cancelled() => break,
            }
        }
        let names: Vec<&str> = batch.iter().map(|&i| hosts[i].name.as_str()).collect();
        fleet.note(&format!(
            "{} {}: {}",
            if b == 0 && rollout.canary_for(hosts.len()) > 0 {
                "canary"
            } else {
                "batch"
            },
            b + 1,
            names.join(", ")
        ));
        let (start, end) = (batch[0], batch[batch.len() - 1] + 1);
        let runs = hosts[start..end].iter_mut().map(|h| {
            let job = Job {
                command: request.command(),
                image: h.plan.as_ref().map(|p| p.image.clone()).unwrap_or_default(),
                cutover,
                run: run_id.to_string(),
                host: Some(h.name.clone()),
            };
            h.deploy_now(secrets, cancel.clone(), job)
        });
        futures_util::future::join_all(runs).await;
        failed = hosts[start..end].iter().any(|h| h.state == State::Failed);
    }
    let interrupted = !failed && cancel.is_cancelled();
    for h in hosts.iter_mut().filter(|h| h.state == State::Pending) {
        h.state = State::NotStarted;
    }
    if !failed && !interrupted {
        // Each host's own engine: all at once.
        futures_util::future::join_all(hosts.iter_mut().map(|h| h.prune_deferred())).await;
        if let Some(hook) = &deploy.hooks.post_deploy {
            let result = RunResult {
                result: if cutover { "ok" } else { "standby" },
                exit_code: 0,
            };
            let env = hooks::environment(&info, Some(result));
            let mut c = Cancel::on_signals();
            if let Err(e) = hooks::run("post_deploy", hook, &env, secrets, fleet, &mut c).await {
                return Ok(Summary {
                    code: exit::POST_DEPLOY_FAILED,
                    image,
                    error: Some(format!("the deploy succeeded on every host, but {e}")),
                });
            }
        }
        return Ok(Summary {
            code: exit::OK,
            image,
            error: None,
        });
    }

    let first = hosts.iter().find(|h| h.state == State::Failed);
    let (first_code, mut error) = match first {
        Some(h) => (
            h.exit_code,
            format!(
                "host {} failed: {}",
                h.name,
                h.error.clone().unwrap_or_default()
            ),
        ),
        None => (
            exit::DEPLOY_FAILED,
            "interrupted: no more hosts were started".to_string(),
        ),
    };
    let switched = hosts.iter().any(|h| h.state == State::Deployed);
    if switched {
        match rollout.on_failure {
            OnFailure::Rollback => {
                fleet.note("on_failure: rollback — the hosts that switched go back to the release they had");
                roll_back(hosts, request, secrets, run_id).await;
            }
            OnFailure::Halt => {
                fleet
                    .note("on_failure: halt — the hosts that switched are left on the new release");
                for h in hosts.iter_mut().filter(|h| h.state == State::Deployed) {
                    h.state = State::Halted;
                }
            }
        }
    }
    let code = fleet_code(hosts, first_code);
    if code == exit::MIXED {
        error.push_str("; hosts are left on different releases (see the table)");
    } else if code != exit::NEEDS_PERSON {
        error.push_str("; every host is on the release it had");
    }
    on_failure_hook(deploy, &info, secrets, fleet, code).await;
    Ok(Summary {
        code,
        image,
        error: Some(error),
    })
}

/// The run's exit code once it failed: 10 when a host needs a person, 6 when hosts are left on
/// different releases, else the first failure's own (1, or 5 for a route that moved).
fn fleet_code(hosts: &[HostRun], first_code: i32) -> i32 {
    if hosts.iter().any(|h| h.exit_code == exit::NEEDS_PERSON) {
        return exit::NEEDS_PERSON;
    }
    if hosts.iter().any(|h| {
        matches!(
            h.state,
            State::Halted | State::RollbackFailed | State::Deployed
        )
    }) {
        return exit::MIXED;
    }
    first_code
}

/// Observes and plans every host (under the locks), concurrently; the first host (in rollout
/// order) whose plan cannot be made or refuses stops the run before any change.
async fn plan_all(
    hosts: &mut [HostRun],
    request: &DeployRequest<'_>,
    run_id: &str,
) -> Result<(), Error> {
    let plans = hosts.iter().map(|h| async move {
        h.engine
            .remove_stale_probes(&h.deploy.app, &h.deploy.stage)
            .await;
        service::plan_on(&h.engine, &h.deploy, request, run_id.to_string()).await
    });
    let results = futures_util::future::join_all(plans).await;
    let mut refused = None;
    for (h, result) in hosts.iter_mut().zip(results) {
        let outcome = match result {
            Ok((observed, _, Ok(plan))) => match blocking(&plan, &h.deploy) {
                None => {
                    h.set_plan(plan, &observed);
                    Ok(())
                }
                Some((code, reason)) => Err(Error::from(DeployError::Refused { reason, code })),
            },
            Ok((_, _, Err(e))) => Err(Error::Plan(e)),
            Err(e) => Err(e),
        };
        if let (Err(e), None) = (outcome, &refused) {
            refused = Some(Error::Host {
                host: h.name.clone(),
                source: Box::new(e),
            });
        }
    }
    match refused {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `on_failure: rollback`: every host that switched in this run makes the release it had live
/// again, as `rollback --to` would (health-gated, through its proxy), all at once.
async fn roll_back(
    hosts: &mut [HostRun],
    request: &DeployRequest<'_>,
    secrets: &[(String, Secret)],
    run_id: &str,
) {
    let runs = hosts
        .iter_mut()
        .filter(|h| h.state == State::Deployed)
        .map(|h| {
            let to = h.previous.as_ref().map(|r: &Release| r.container.clone());
            let back = DeployRequest {
                mode: Mode::Rollback { to },
                target: request.target,
                image: None,
                no_cutover: false,
                lock_wait: Duration::ZERO,
                pull: Pull::Never,
            };
            let run = run_id.to_string();
            async move { h.roll_back(&back, secrets, run).await }
        });
    futures_util::future::join_all(runs).await;
}

async fn on_failure_hook(
    deploy: &Deploy,
    info: &RunInfo,
    secrets: &[(String, Secret)],
    fleet: &mut dyn Reporter,
    code: i32,
) {
    let Some(hook) = &deploy.hooks.on_failure else {
        return;
    };
    let result = RunResult {
        result: if code == exit::MIXED {
            "halted"
        } else {
            "failed"
        },
        exit_code: code,
    };
    let env = hooks::environment(info, Some(result));
    let mut cancel = Cancel::on_signals();
    if hooks::run("on_failure", hook, &env, secrets, fleet, &mut cancel)
        .await
        .is_err()
    {
        fleet.note("the on_failure hook failed (see above); the exit code is the run's");
    }
}

/// Runs one host's part with the single-host executor, under the lock the fleet holds.
pub(super) async fn execute(
    h: &mut HostRun,
    steps: &[crate::plan::Step],
    retiring: &[String],
    secrets: &[(String, Secret)],
    cancel: Cancel,
    job: Job,
) -> Result<crate::execute::Outcome, DeployError> {
    let lock = h.lock.take();
    let mut exec = Executor::new(&h.engine, &h.deploy, secrets, &mut *h.reporter, cancel, job);
    if let Some(lock) = lock {
        exec.adopt_lock(lock);
    }
    exec.set_retiring(retiring);
    let result = exec.run(steps, steps.len()).await;
    let result = match result {
        Ok(()) => Ok(exec.finish()),
        Err(e) => Err(exec.fail(e).await),
    };
    h.lock = exec.take_lock();
    result
}

pub(super) use steps::split;
