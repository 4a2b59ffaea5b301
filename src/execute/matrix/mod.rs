//! The fault matrix: `up`, `cutover` and `rollback`, for every proxy driver, run against the
//! in-memory engine (`engine::fake`) with a failure at every engine call (refused, or done
//! with its answer lost) and a signal at the start of every step. After each run the engine
//! must be in one of the two states DESIGN.md §2 allows, chosen by where the fault struck
//! relative to the point of no return: before it, the old release live and routed and
//! nothing of the new one left; from it on, the new release live and routed. The lock is
//! released either way, and the exit code says which.
//!
//! The point of no return is found here from what the steps do (the first step that takes an
//! old release out of traffic: the proxy switch that removes it, its leaving `FRONT_`, or its
//! stop), never from what the executor or the plan says about it, so that a step marked on
//! the wrong side of it fails the matrix.

mod oracle;
#[cfg(test)]
mod tests;

use std::time::Duration;

use tokio::sync::watch;

use super::{Cancel, Executor, Job};
use crate::engine::fake::{FakeEngine, World};
use crate::plan::{Mode, Plan, PlanOptions, Pull, Step, plan};
use crate::progress::{Reporter, StepStatus};
use crate::spec::Deploy;

pub const APP: &str = "shop";
pub const STAGE: &str = "stage";
pub const PROXY: &str = "proxy";
pub const PORT: u16 = 8080;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Nginx,
    NginxProxy,
    Command,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Up,
    Cutover,
    Rollback,
}

/// One driver's deploy, its engine as the setup left it, and the command driver's log.
pub struct Fixture {
    pub driver: Driver,
    pub deploy: Deploy,
    /// Where the command driver's script appends `PHASE BACKENDS` (the routing it was told).
    pub log: Option<tempfile::NamedTempFile>,
    /// The command driver's log as the setup left it.
    pub log_text: String,
    pub world: World,
}

/// What a run ended with.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub error: Option<String>,
    /// The plan made before the lock (under it, the same: nothing changes in between).
    pub plan: Option<Plan>,
    pub notes: Vec<String>,
}

/// When a run gets its signal (SIGINT, SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// As the first step starts.
    AtStart,
    /// Once step N has finished, before the next starts.
    After(usize),
    /// While step N runs: at its first engine call.
    During(usize),
}

/// The reporter of a matrix run: tells the engine which step runs, records the steps, and
/// sends the signal at the step boundary asked for.
struct Recorder<'a> {
    engine: &'a FakeEngine,
    signal_at: Option<Signal>,
    signal: watch::Sender<bool>,
    notes: Vec<String>,
}

impl Reporter for Recorder<'_> {
    fn step_started(&mut self, n: usize, _total: usize, _step: &Step) {
        self.engine.set_step(n);
        if n == 1 && self.signal_at == Some(Signal::AtStart) {
            let _ = self.signal.send(true);
        }
    }
    fn step_progress(&mut self, _message: &str) {}
    fn step_finished(&mut self, n: usize, _step: &Step, _status: StepStatus, _elapsed: Duration) {
        if self.signal_at == Some(Signal::After(n)) {
            let _ = self.signal.send(true);
        }
    }
    fn note(&mut self, message: &str) {
        self.notes.push(message.to_string());
    }
    fn result(&mut self, _result: &serde_json::Value, _human: &str) {}
}

impl Fixture {
    /// A live release of `shop:2` and a retired one of `shop:1` behind `driver`; for
    /// `cutover`, also a standby of `shop:3`.
    pub async fn new(driver: Driver, cmd: Cmd) -> Fixture {
        Fixture::with(driver, cmd, "").await
    }

    /// As `new`, with `extra` added to the app's keys (indented by four spaces).
    pub async fn with(driver: Driver, cmd: Cmd, extra: &str) -> Fixture {
        let log = (driver == Driver::Command)
            .then(|| tempfile::NamedTempFile::new().expect("a temporary file"));
        let log_path = log.as_ref().map(|f| f.path().display().to_string());
        let yaml = spec_yaml(driver, log_path, extra);
        let spec = crate::spec::parse(&yaml, "deploy.yaml").expect("a valid spec");
        let deploy = spec.deploy(APP, STAGE).expect("the app/stage").clone();
        let engine = FakeEngine::new();
        engine.with_world(|w| {
            for image in ["shop:1", "shop:2", "shop:3"] {
                w.images.insert(image.to_string());
            }
        });
        match driver {
            Driver::Nginx => engine.add_proxy(PROXY, "nginx"),
            Driver::NginxProxy => engine.add_proxy(PROXY, "nginx-proxy"),
            Driver::Command | Driver::None => {}
        }
        let mut fixture = Fixture {
            driver,
            deploy,
            log,
            log_text: String::new(),
            world: World::default(),
        };
        let mut setup = vec![(Mode::Up, "shop:1", false), (Mode::Up, "shop:2", false)];
        if cmd == Cmd::Cutover {
            setup.push((Mode::Up, "shop:3", true));
        }
        for (i, (mode, image, no_cutover)) in setup.into_iter().enumerate() {
            let ran = fixture
                .run_on(&engine, mode, image, no_cutover, &format!("s{i}"), None)
                .await;
            assert_eq!(ran.code, 0, "setup {image}: {ran:?}");
        }
        fixture.world = engine.world();
        fixture.log_text = fixture.read_log();
        fixture
    }

    pub fn read_log(&self) -> String {
        self.log
            .as_ref()
            .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
            .unwrap_or_default()
    }

    /// A fresh engine holding the setup's world, and the command driver's log put back.
    pub fn engine(&self) -> FakeEngine {
        if let Some(log) = &self.log {
            std::fs::write(log.path(), &self.log_text).expect("writing the log");
        }
        FakeEngine::with(self.world.clone())
    }

    /// `cmd` on `engine`, as `commands::deploy` runs it: observe, plan, take the lock, observe
    /// and plan again under it, run the rest; on failure, undo and release.
    pub async fn run(&self, engine: &FakeEngine, cmd: Cmd, signal_at: Option<Signal>) -> Ran {
        let (mode, image) = match cmd {
            Cmd::Up => (Mode::Up, "shop:3"),
            Cmd::Cutover => (Mode::Cutover, "shop:3"),
            Cmd::Rollback => (Mode::Rollback { to: None }, "shop:2"),
        };
        self.run_on(engine, mode, image, false, "run", signal_at)
            .await
    }

    async fn run_on(
        &self,
        engine: &FakeEngine,
        mode: Mode,
        image: &str,
        no_cutover: bool,
        suffix: &str,
        signal_at: Option<Signal>,
    ) -> Ran {
        let deploy = &self.deploy;
        let opts = PlanOptions {
            image: image.to_string(),
            suffix: suffix.to_string(),
            no_cutover,
            lock_wait: Duration::ZERO,
            pull: Pull::Missing,
            mode,
        };
        let (signal, rx) = watch::channel(false);
        if let Some(Signal::During(k)) = signal_at {
            let during = signal.clone();
            engine.during_step(k, move || {
                let _ = during.send(true);
            });
        }
        let mut rec = Recorder {
            engine,
            signal_at,
            signal,
            notes: Vec::new(),
        };
        let first = match crate::observe::observe(engine, deploy, image).await {
            Ok(observed) => plan(deploy, &observed, &opts).expect("a plan"),
            Err(e) => {
                return Ran {
                    code: crate::error::exit::ENGINE,
                    error: Some(e.to_string()),
                    plan: None,
                    notes: Vec::new(),
                };
            }
        };
        let job = Job {
            command: opts.mode.command(),
            image: first.image.clone(),
            cutover: !no_cutover,
            host: None,
            run: suffix.to_string(),
        };
        let mut exec = Executor::new(
            engine,
            deploy,
            &[],
            &mut rec,
            Cancel::from_receiver(rx),
            job,
        );
        let result =
            crate::commands::deploy::run_plan(&mut exec, engine, deploy, &opts, &first).await;
        let (code, error) = match result {
            Ok(()) => {
                exec.finish();
                (0, None)
            }
            Err(e) => {
                let e = exec.fail(e).await;
                (e.code(), Some(e.to_string()))
            }
        };
        drop(exec);
        Ran {
            code,
            error,
            plan: Some(first),
            notes: rec.notes,
        }
    }
}

fn spec_yaml(driver: Driver, log: Option<String>, extra: &str) -> String {
    let proxy = match driver {
        Driver::Nginx => format!(
            "{{driver: nginx, container: {PROXY}, virtual_host: shop.test, config_path: /etc/nginx/conf.d/shop.conf}}"
        ),
        Driver::NginxProxy => {
            format!("{{driver: nginx-proxy, container: {PROXY}, virtual_host: shop.test}}")
        }
        Driver::Command => format!(
            "{{driver: command, command: [sh, -c, 'echo \"$BGDEPLOY_PHASE $BGDEPLOY_BACKENDS\" >> {}']}}",
            log.unwrap_or_default()
        ),
        Driver::None => "{driver: none}".to_string(),
    };
    format!(
        "apps:\n  {APP}:\n    image: shop:1\n    port: {PORT}\n    health: {{http: /up}}\n    drain: 1s\n    keep: 1\n{extra}    proxy: {proxy}\n    stages:\n      {STAGE}: {{}}\n"
    )
}
