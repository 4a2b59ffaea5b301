//! The one loop that applies a plan's steps, in order, with compensation: any failure or
//! signal before the point of no return (the first step of the plan's `retire` phase) undoes
//! what this run did, so the live release keeps serving and nothing of the new one is left.

mod apply;
mod cancel;
mod error;
mod group;
#[cfg(test)]
mod matrix;
mod oneoff;
mod record;
pub mod release;

use std::time::{Duration, Instant};

use serde_json::json;

pub use cancel::Cancel;
pub use error::DeployError;

use crate::engine::EngineApi;
use crate::lock::LockGuard;
use crate::plan::{Action, Plan, RunPhase, Step};
use crate::progress::{Reporter, StepStatus};
use crate::secret::Secret;
use crate::spec::Deploy;

/// Something this run did that must be undone if it fails before the switch.
#[derive(Debug, Clone)]
enum Undo {
    RemoveContainer {
        container: String,
    },
    Disconnect {
        container: String,
        network: String,
    },
    /// A retired release that `rollback` started goes back to being retired.
    Stop {
        container: String,
    },
    /// The proxy was switched to the new release: switch it back to these.
    ProxyBack {
        changed: crate::proxy::Backend,
        backends: Vec<crate::proxy::Backend>,
    },
}

/// What a finished run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The release container made live (or left as standby).
    pub container: Option<String>,
    pub retired: Vec<String>,
    pub removed: Vec<String>,
    /// The network holding the new release's default route, as read from the kernel.
    pub route: Option<String>,
    pub duration: Duration,
}

/// What is being run, for the history and the result.
#[derive(Debug, Clone)]
pub struct Job {
    /// `up`, `cutover` or `rollback`.
    pub command: &'static str,
    pub image: String,
    /// False for `up --no-cutover`: success leaves a standby.
    pub cutover: bool,
    /// The run id, recorded in the history and given to the hooks.
    pub run: String,
    /// The fleet host this runs on (`hosts:`), for the history; `None` on the one engine.
    pub host: Option<String>,
}

pub struct Executor<'a> {
    engine: &'a dyn EngineApi,
    deploy: &'a Deploy,
    secrets: &'a [(String, Secret)],
    reporter: &'a mut dyn Reporter,
    cancel: Cancel,
    /// `up`, `cutover` or `rollback`, for the history.
    command: &'static str,
    image: String,
    /// False for `up --no-cutover`: success leaves a standby.
    cutover: bool,
    run: String,
    host: Option<String>,
    lock: Option<LockGuard>,
    /// The lock was handed in by a fleet run (`adopt_lock`), which releases it when the whole
    /// run ends: this executor only writes the history through it.
    lock_adopted: bool,
    /// The history file as this run read it under the lock (see `record`).
    history_base: Option<String>,
    undo: Vec<Undo>,
    /// Set once the first `retire` step of the plan started: from then on, no undo.
    switched: bool,
    /// Containers this run created: undoing removes them, so their attachments need no undo.
    created: Vec<String>,
    /// The releases the plan takes out of traffic (`Plan::retiring`): where the proxy goes
    /// back to when the switch is undone.
    old_live: Vec<String>,
    outcome: Outcome,
    started: Instant,
    started_epoch: i64,
    step_count: usize,
}

/// Whether a signal cuts `action` short. Steps that wait (for the lock, a pull, health, a
/// drain) are. The others are single engine calls: dropped half-way, the engine still finishes
/// them, possibly after the undo ran (a container created just after its removal was tried,
/// left behind), so they run to their end and the signal is honoured right after. A lock wait
/// cut short while its create is in flight can leave the lock behind; it is then stale (this
/// process is gone) and the next `up` on this host takes it over.
fn interruptible(action: &Action) -> bool {
    match action {
        Action::AcquireLock { wait_secs, .. } => *wait_secs > 0.0,
        Action::PullImage { .. }
        | Action::WaitHealthy { .. }
        | Action::BeforeSwitch { .. }
        | Action::Drain { .. } => true,
        _ => false,
    }
}

impl<'a> Executor<'a> {
    pub fn new(
        engine: &'a dyn EngineApi,
        deploy: &'a Deploy,
        secrets: &'a [(String, Secret)],
        reporter: &'a mut dyn Reporter,
        cancel: Cancel,
        job: Job,
    ) -> Executor<'a> {
        Executor {
            engine,
            deploy,
            secrets,
            reporter,
            cancel,
            command: job.command,
            image: job.image,
            cutover: job.cutover,
            run: job.run,
            host: job.host,
            lock: None,
            lock_adopted: false,
            history_base: None,
            undo: Vec::new(),
            switched: false,
            created: Vec::new(),
            old_live: Vec::new(),
            outcome: Outcome::default(),
            started: Instant::now(),
            started_epoch: crate::time::now_epoch(),
            step_count: 0,
        }
    }

    /// Runs under a lock the caller already holds (a fleet holds every host's lock for the
    /// whole run): the history is written through it, and it is not released here.
    pub fn adopt_lock(&mut self, guard: LockGuard) {
        self.lock = Some(guard);
        self.lock_adopted = true;
    }

    /// The adopted lock back, once the run on this host is over.
    pub fn take_lock(&mut self) -> Option<LockGuard> {
        self.lock.take()
    }

    /// The live releases the plan takes out of traffic (`Plan::retiring`), before `run`.
    pub fn set_retiring(&mut self, releases: &[String]) {
        self.old_live = releases.to_vec();
    }

    /// Applies `steps`; numbering continues across calls, so `up` can take the lock, then
    /// observe and plan under it, then run the rest.
    pub async fn run(&mut self, steps: &[Step], total: usize) -> Result<(), DeployError> {
        let mut rest = steps;
        while !rest.is_empty() {
            // A step with `with_previous` starts together with the one before it.
            let len = 1 + rest[1..].iter().take_while(|s| s.with_previous).count();
            let (batch, after) = rest.split_at(len);
            rest = after;
            if len > 1 && batch.iter().all(|s| group::groupable(&s.action)) {
                self.run_group(batch, total).await?;
            } else {
                for step in batch {
                    self.run_one(step, total).await?;
                }
            }
        }
        Ok(())
    }

    async fn run_one(&mut self, step: &Step, total: usize) -> Result<(), DeployError> {
        self.step_count += 1;
        let n = self.step_count;
        self.reporter.step_started(n, total, step);
        let t = Instant::now();
        let result = if self.switched || !interruptible(&step.action) {
            self.apply(step).await
        } else {
            let mut cancel = self.cancel.clone();
            tokio::select! {
                r = self.apply(step) => r,
                () = cancel.cancelled() => Err(DeployError::Interrupted { step: step.description.clone() }),
            }
        };
        match result {
            Ok(()) => {
                self.reporter
                    .step_finished(n, step, StepStatus::Done, t.elapsed());
                // A signal during a step that runs to its end is honoured right after it.
                if !self.switched && self.cancel.is_cancelled() {
                    return Err(DeployError::Interrupted {
                        step: step.description.clone(),
                    });
                }
                Ok(())
            }
            Err(e) => {
                self.reporter
                    .step_finished(n, step, StepStatus::Failed, t.elapsed());
                Err(e)
            }
        }
    }

    /// Called as a step's first change begins: a `retire` step passes the point of no
    /// return, and from here on nothing is undone.
    fn enter_phase(&mut self, step: &Step) {
        if step.phase == RunPhase::Retire && !self.switched {
            self.switched = true;
            self.undo.clear();
        }
    }

    /// The history's word for a run that succeeded.
    fn success_word(&self) -> &'static str {
        if self.cutover { "ok" } else { "standby" }
    }

    /// After a failure: undo (before the switch), record the attempt, release the lock.
    /// Returns the error to report, which becomes `NeedsPerson` when undoing failed.
    pub async fn fail(&mut self, err: DeployError) -> DeployError {
        let err = if self.switched {
            self.committed(err)
        } else {
            self.compensate(err).await
        };
        self.record(err.result_word(), err.code(), Some(err.to_string()))
            .await;
        self.release().await;
        err
    }

    /// A failure after the switch: the new release is live and nothing is undone, so the exit
    /// code must say that a person finishes the job (10), never that the deploy was rolled
    /// back (1).
    fn committed(&self, err: DeployError) -> DeployError {
        if matches!(
            err,
            DeployError::AfterSwitch { .. } | DeployError::NeedsPerson { .. }
        ) {
            return err;
        }
        let (app, stage) = (&self.deploy.app, &self.deploy.stage);
        DeployError::NeedsPerson {
            original: format!(
                "the new release is live, but the deploy failed after the switch: {err}"
            ),
            undo: "nothing was undone (the switch had happened)".into(),
            todo: format!(
                "retire the old release by hand (`docker stop`) if it still runs, then \
                 `bgdeploy status {app} {stage}`"
            ),
        }
    }

    /// After success: the outcome (history and lock are steps of the plan).
    pub fn finish(&mut self) -> Outcome {
        let mut out = std::mem::take(&mut self.outcome);
        out.duration = self.started.elapsed();
        out
    }

    async fn compensate(&mut self, err: DeployError) -> DeployError {
        let mut failures = Vec::new();
        while let Some(undo) = self.undo.pop() {
            let (what, result) = match &undo {
                Undo::RemoveContainer { container } => (
                    format!("remove {container}"),
                    self.engine.remove_container(container, true).await,
                ),
                Undo::Disconnect { container, network } => (
                    format!("disconnect {container} from {network}"),
                    self.engine
                        .disconnect_network(container, network, true)
                        .await,
                ),
                Undo::Stop { container } => (
                    format!("stop {container} again"),
                    self.engine
                        .stop_container(container, self.deploy.stop_timeout)
                        .await,
                ),
                Undo::ProxyBack { changed, backends } => {
                    let reporter = &mut *self.reporter;
                    let mut on_line = |line: &str| reporter.note(line);
                    let result = crate::proxy::switch(
                        self.engine,
                        self.deploy,
                        crate::proxy::Phase::Remove,
                        changed,
                        backends,
                        &mut on_line,
                    )
                    .await;
                    let names: Vec<&str> = backends.iter().map(|b| b.container.as_str()).collect();
                    let what = format!("route the proxy back to {}", names.join(", "));
                    match result {
                        Ok(_) => self.reporter.note(&format!("undone: {what}")),
                        Err(e) => {
                            failures.push(format!("{what}: {}", crate::error::chain::one_line(&e)))
                        }
                    }
                    continue;
                }
            };
            match result {
                Ok(()) => self.reporter.note(&format!("undone: {what}")),
                Err(e) => failures.push(format!("{what}: {}", crate::error::chain::one_line(&e))),
            }
        }
        if failures.is_empty() {
            self.reporter
                .note("the live release was not touched; everything this run did is undone");
            return err;
        }
        DeployError::NeedsPerson {
            original: err.to_string(),
            undo: failures.join("; "),
            todo: "remove what is listed above with `docker rm -f` / `docker network disconnect`, \
                   then run `bgdeploy status` to see what is live"
                .to_string(),
        }
    }

    async fn release(&mut self) {
        if self.lock_adopted {
            return;
        }
        if let Some(lock) = self.lock.take() {
            let name = lock.name.clone();
            if let Err(e) = lock.release(self.engine).await {
                self.reporter.note(&format!(
                    "could not release the lock {name}: {}; run `bgdeploy lock release {} {}`",
                    crate::error::chain::one_line(&e),
                    self.deploy.app,
                    self.deploy.stage
                ));
            }
        }
    }
}

/// The result document of `up`/`cutover`/`rollback` (the last JSON line) and its human form.
pub fn result_document(
    command: &str,
    deploy: &Deploy,
    image: &str,
    outcome: &Outcome,
    role: &str,
) -> (serde_json::Value, String) {
    let doc = json!({
        "ok": true,
        "command": command,
        "app": deploy.app,
        "stage": deploy.stage,
        "image": image,
        "container": outcome.container,
        "role": role,
        "default_route": outcome.route,
        "retired": outcome.retired,
        "removed": outcome.removed,
        "duration_secs": outcome.duration.as_secs_f64(),
        "exit_code": 0,
    });
    let name = outcome.container.as_deref().unwrap_or("-");
    let mut human = format!(
        "{}/{}: {name} ({image}) is {role}",
        deploy.app, deploy.stage
    );
    if let Some(route) = &outcome.route {
        human.push_str(&format!("; its default route is on {route}"));
    }
    if !outcome.retired.is_empty() {
        human.push_str(&format!("; retired {}", outcome.retired.join(", ")));
    }
    if !outcome.removed.is_empty() {
        human.push_str(&format!("; removed {}", outcome.removed.join(", ")));
    }
    human.push_str(&format!(" ({:.1}s)", outcome.duration.as_secs_f64()));
    (doc, human)
}

/// The result document of a failed run.
pub fn failure_document(command: &str, deploy: &Deploy, err: &DeployError) -> serde_json::Value {
    json!({
        "ok": false,
        "command": command,
        "app": deploy.app,
        "stage": deploy.stage,
        "error": err.to_string(),
        "exit_code": err.code(),
    })
}

fn is_lock_step(step: &Step) -> bool {
    matches!(step.action, Action::AcquireLock { .. })
}

/// Splits a plan into its lock step and the rest.
pub fn split_lock(plan: &Plan) -> (&[Step], &[Step]) {
    let n = plan.steps.iter().take_while(|s| is_lock_step(s)).count();
    plan.steps.split_at(n)
}
