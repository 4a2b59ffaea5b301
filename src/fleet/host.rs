//! One host of a fleet run: its engine, lock, plan, and where it stands.

use super::connect::Host;
use super::run::{execute, split};
use crate::commands::service::{self, DeployRequest};
use crate::engine::Engine;
use crate::error::exit;
use crate::execute::{Cancel, DeployError, Job};
use crate::lock::LockGuard;
use crate::observe::Observed;
use crate::plan::{Plan, Step, WarningCode, blocking};
use crate::progress::Reporter;
use crate::secret::Secret;
use crate::spec::Deploy;

/// A release container and its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub container: String,
    pub image: String,
    /// The container's ID, when known (the engine's probes are keyed by it).
    pub id: Option<String>,
}

/// Where a host stands in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Planned, not started yet.
    Pending,
    /// Its part succeeded: the new release is live (or standby).
    Deployed,
    /// Its part failed; what it did was undone (before the switch) or it needs a person.
    Failed,
    /// Never started: an earlier host failed, or the run was interrupted.
    NotStarted,
    /// Switched, then brought back to the release it had (`on_failure: rollback`).
    RolledBack,
    /// Switched, and bringing it back failed: it is left on the new release.
    RollbackFailed,
    /// Switched and left there (`on_failure: halt`).
    Halted,
}

impl State {
    /// The word in the result table and the `result` of the host's JSON entry.
    pub fn word(self) -> &'static str {
        match self {
            State::Pending | State::NotStarted => "not started",
            State::Deployed => "ok",
            State::Failed => "failed",
            State::RolledBack => "rolled back",
            State::RollbackFailed => "rollback failed",
            State::Halted => "halted on the new release",
        }
    }
}

pub struct HostRun {
    pub name: String,
    pub engine: Engine,
    /// The stage as this host runs it (`before_switch` on the first host only).
    pub deploy: Deploy,
    pub lock: Option<LockGuard>,
    pub reporter: Box<dyn Reporter>,
    pub plan: Option<Plan>,
    /// The live release before the run: where a fleet rollback goes back to.
    pub previous: Option<Release>,
    /// The live release now, as far as this run knows.
    pub live: Option<Release>,
    /// The new release when the run on this host succeeded (live, or standby).
    pub new_release: Option<Release>,
    pub state: State,
    pub exit_code: i32,
    pub error: Option<String>,
    /// Prune steps held back until the whole fleet succeeded.
    deferred: Vec<Step>,
    /// The containers its cutover reads through probes, as observed when it was planned.
    probe_targets: Vec<String>,
}

impl HostRun {
    pub fn new(host: Host, deploy: Deploy, reporter: Box<dyn Reporter>) -> HostRun {
        HostRun {
            name: host.name,
            engine: host.engine,
            deploy,
            lock: None,
            reporter,
            plan: None,
            previous: None,
            live: None,
            new_release: None,
            state: State::Pending,
            exit_code: exit::OK,
            error: None,
            deferred: Vec::new(),
            probe_targets: Vec::new(),
        }
    }

    pub fn set_plan(&mut self, plan: Plan, observed: &Observed) {
        self.previous = observed.live().next().map(|c| Release {
            container: c.name.clone(),
            image: c.image.clone(),
            id: Some(c.id.clone()),
        });
        self.live = self.previous.clone();
        self.probe_targets = observed.cutover_probe_targets();
        self.plan = Some(plan);
    }

    pub fn plan_warnings(&self) -> Vec<String> {
        self.plan
            .iter()
            .flat_map(|p| p.warnings.iter())
            // Planned under the fleet's own locks: the holder seen is this run.
            .filter(|w| w.code != WarningCode::Locked)
            .map(|w| w.message.clone())
            .collect()
    }

    /// Runs this host's plan (lock steps out, prunes held back).
    pub async fn deploy_now(&mut self, secrets: &[(String, Secret)], cancel: Cancel, job: Job) {
        let Some(plan) = self.plan.clone() else {
            self.state = State::NotStarted;
            return;
        };
        let (now, deferred) = split(&plan.steps);
        self.deferred = deferred;
        let cutover = job.cutover;
        if cutover {
            // As the single-host `up` does: on a remote engine the probes the route check and
            // the drain read are started while the new release starts, not when those steps
            // come (a container start each, on the path of every host's cutover otherwise).
            self.engine
                .warm_probes(std::mem::take(&mut self.probe_targets));
        }
        match execute(self, &now, &plan.retiring, secrets, cancel, job).await {
            Ok(outcome) => {
                let release = Release {
                    container: outcome.container.unwrap_or_else(|| plan.container.clone()),
                    image: plan.image.clone(),
                    id: None,
                };
                if cutover {
                    self.live = Some(release.clone());
                }
                self.new_release = Some(release);
                self.state = State::Deployed;
            }
            Err(e) => self.failed(&e, State::Failed),
        }
    }

    fn failed(&mut self, e: &DeployError, state: State) {
        self.state = state;
        self.exit_code = e.code();
        self.error = Some(e.to_string());
    }

    /// Makes the release it had live again: `rollback --to` it, on this host, under the
    /// fleet's lock. Health-gated and through the proxy, as that command is.
    pub async fn roll_back(
        &mut self,
        request: &DeployRequest<'_>,
        secrets: &[(String, Secret)],
        run: String,
    ) {
        let Some(previous) = self.previous.clone() else {
            self.state = State::RollbackFailed;
            self.error =
                Some("no release was live before this run, so there is none to go back to".into());
            return;
        };
        self.reporter.note(&format!(
            "rolling back to {} ({}), the release it had",
            previous.container, previous.image
        ));
        // This process probed the old release while it drained; that probe shares the network
        // namespace the release had, which went away when it stopped. Started again, it gets a
        // new one, which a fresh probe must join.
        if let Some(id) = &previous.id {
            self.engine.forget_probe(id).await;
        }
        let planned = service::plan_on(&self.engine, &self.deploy, request, run.clone()).await;
        let plan = match planned {
            Ok((_, _, Ok(plan))) => plan,
            Ok((_, _, Err(e))) => return self.rollback_refused(e.to_string()),
            Err(e) => return self.rollback_refused(e.to_string()),
        };
        if let Some((_, reason)) = blocking(&plan, &self.deploy) {
            return self.rollback_refused(reason);
        }
        // Its own prunes wait too: a failed run removes nothing a person may want back.
        let (now, _) = split(&plan.steps);
        let job = Job {
            command: "rollback",
            image: plan.image.clone(),
            cutover: true,
            run,
            host: Some(self.name.clone()),
        };
        let cancel = Cancel::on_signals();
        match execute(self, &now, &plan.retiring, secrets, cancel, job).await {
            Ok(_) => {
                self.live = self.previous.clone();
                self.state = State::RolledBack;
            }
            Err(e) => {
                let code = e.code();
                self.failed(&e, State::RollbackFailed);
                if code != exit::NEEDS_PERSON {
                    self.exit_code = exit::MIXED;
                }
            }
        }
    }

    fn rollback_refused(&mut self, reason: String) {
        self.state = State::RollbackFailed;
        self.exit_code = exit::MIXED;
        self.error = Some(format!("could not roll back: {reason}"));
    }

    /// After the fleet succeeded: the retired releases beyond `keep` go. Best effort, as the
    /// single-host prune is: a failure is reported, and the next run prunes again.
    pub async fn prune_deferred(&mut self) {
        for step in std::mem::take(&mut self.deferred) {
            if let crate::plan::Action::RemoveContainer { container, .. } = &step.action {
                match self.engine.remove_container(container, true).await {
                    Ok(()) => self
                        .reporter
                        .note(&format!("removed {container} (beyond keep)")),
                    Err(e) => self.reporter.note(&format!(
                        "could not remove {container}: {e}; `bgdeploy prune` retries"
                    )),
                }
            }
        }
    }
}
