//! Fault injection at every step boundary of `up` against the real engine (issue 6), one walk
//! per driver that has a real proxy here, plus SIGKILL through probes (issue 11 moved every
//! other walk — `cutover`, `rollback`, each driver, a failure at every engine call — to the
//! unit matrix over the in-memory engine, `execute::matrix`).
//!
//! bgdeploy runs with `--output json`; the test reads its lines as they come and, at the
//! `step_started` of step N, sends SIGKILL or SIGINT. Afterwards the live release must still
//! serve (`GET /version` on its BACK_ address, from the host), and the engine must be left
//! converged — by the next `up` after SIGKILL, by the run itself after a SIGINT past the
//! switch: exactly one running release, which is the live one, nothing else of ours left
//! besides retired releases within `keep`, and the lock free.
//!
//! SIGINT before the switch (the step that takes the old release off FRONT_) must end in
//! exit 1 with everything this run did undone; SIGINT from the switch on must let the run
//! finish (exit 0). So that "before the switch" is not a race with a step of a few
//! milliseconds, the test holds a TCP connection open to the old release during the run: the
//! drain step just before the switch then lasts the spec's `drain` (1 s).
//!
//! Each test walks the steps of `up` on its own app/stage (two networks); state carries over
//! from one step to the next. After SIGKILL the next `up` converges; a SIGINT run needs none
//! after it, being checked as undone (before the switch) or as converged itself (after). Behind a real nginx (the `nginx`
//! driver), where the proxy switch that takes the old release out is the point of no return,
//! two walks on apps of their own share the boundaries (SIGINT at odd steps, SIGKILL at even
//! ones) and run side by side: each fault costs a faulted run and a converging one, and one
//! walk over every boundary was the suite's longest test.
//!
//! The second half injects faults on the engine's side while the new release is in its
//! health wait: the release killed, cut off its back network, the front network removed, the
//! engine itself unreachable, the proxy stopped.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{DEMO_V1, DEMO_V2, TestEnv, docker, require_engine, require_images};
use crate::up::{back_ip, containers, live, serves, spec};

/// How long any one bgdeploy run may take before the test calls it hung.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The signal sent at a step boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Kill,
    Int,
}

/// A bgdeploy run whose stdout is read line by line while it runs.
pub struct Streamed {
    command: String,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    started: Instant,
}

/// A finished streamed run.
pub struct Finished {
    pub command: String,
    pub code: Option<i32>,
    pub lines: Vec<String>,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Starts `bgdeploy ARGS` in the test's directory with `yaml` as its `deploy.yaml`, and
/// `vars` in its environment.
pub fn spawn_streamed_with(
    env: &TestEnv,
    yaml: &str,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Streamed {
    std::fs::write(env.dir().join("deploy.yaml"), yaml).expect("writing deploy.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bgdeploy"))
        .args(args)
        .current_dir(env.dir())
        .env_remove("BGDEPLOY_FILE")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting bgdeploy");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    Streamed {
        command: format!("bgdeploy {}", args.join(" ")),
        child,
        lines,
        seen: Vec::new(),
        stderr: Some(stderr),
        started: Instant::now(),
    }
}

impl Streamed {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads lines until one satisfies `pred` (returned), or stdout ends (`None`).
    pub fn until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Option<Value> {
        loop {
            let left = RUN_TIMEOUT.saturating_sub(self.started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if pred(&v) {
                            return Some(v);
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "{} printed nothing for too long; so far:\n{}",
                        self.command,
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Reads until the `step_started` of step `n`.
    pub fn until_step_started(&mut self, n: u64) -> Option<Value> {
        self.until(|v| v["event"] == "step_started" && v["n"] == n)
    }

    /// Reads until the `step_started` of the first step with `action`.
    pub fn until_action_started(&mut self, action: &str) -> Option<Value> {
        self.until(|v| v["event"] == "step_started" && v["step"]["action"] == action)
    }

    pub fn signal(&mut self, sig: Sig) {
        match sig {
            // Child::kill is SIGKILL, sent at once (no process to spawn).
            Sig::Kill => {
                let _ = self.child.kill();
            }
            Sig::Int => {
                let status = Command::new("kill")
                    .args(["-INT", &self.pid().to_string()])
                    .status()
                    .expect("running kill");
                assert!(status.success(), "kill -INT {} failed", self.pid());
            }
        }
    }

    pub fn finish(mut self) -> Finished {
        while self.until(|_| false).is_some() {}
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for bgdeploy") {
                break status;
            }
            if self.started.elapsed() > RUN_TIMEOUT {
                let _ = self.child.kill();
                panic!("{} did not exit within {RUN_TIMEOUT:?}", self.command);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().expect("stderr reader"))
            .unwrap_or_default();
        Finished {
            command: self.command,
            code: status.code(),
            lines: self.seen,
            stderr,
            elapsed: self.started.elapsed(),
        }
    }
}

impl Finished {
    pub fn json_lines(&self) -> Vec<Value> {
        self.lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn result(&self) -> Option<Value> {
        self.json_lines()
            .into_iter()
            .rev()
            .find(|v| v["event"] == "result")
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- {} exited with {:?} after {:.2}s\n--- stdout:\n{}\n--- stderr:\n{}",
            self.command,
            self.code,
            self.elapsed.as_secs_f64(),
            self.lines.join("\n"),
            self.stderr
        )
    }
}

pub fn version_of(image: &str) -> &'static str {
    if image == DEMO_V1 { "v1" } else { "v2" }
}

pub fn other(image: &str) -> &'static str {
    if image == DEMO_V1 { DEMO_V2 } else { DEMO_V1 }
}

/// Every container of the app (releases, the lock, history readers), by name.
pub fn all_ours(app: &str) -> Vec<String> {
    let mut names: Vec<String> = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=bgdeploy.app={app}"),
        "--format",
        "{{.Names}}",
    ])
    .lines()
    .map(str::to_string)
    .collect();
    names.sort();
    names
}

pub fn lock_held(app: &str) -> bool {
    all_ours(app).contains(&format!("{app}_stage_lock"))
}

/// A connection held open to `container`'s app port, so that its drain lasts `drain`.
fn hold_connection(app: &str, container: &str) -> TcpStream {
    let ip = back_ip(app, container);
    TcpStream::connect_timeout(
        &format!("{ip}:8080").parse().expect("an address"),
        Duration::from_secs(2),
    )
    .unwrap_or_else(|e| panic!("connecting to {container} at {ip}:8080: {e}"))
}

/// After the next `up` of `image`: exactly one release runs, it is live and serves
/// `image`'s version, the rest are stopped retired releases within `keep` (1), no other
/// container of ours (lock, history reader, never-started leftover) is left.
#[track_caller]
pub fn assert_converged(app: &str, image: &str, context: &dyn std::fmt::Display) {
    let running = containers(app, true);
    assert_eq!(running.len(), 1, "one release runs: {running:?}\n{context}");
    assert_eq!(live(app), running, "the running release is live\n{context}");
    assert!(
        serves(app, &running[0], version_of(image)),
        "{} serves {}\n{context}",
        running[0],
        version_of(image)
    );
    let all = containers(app, false);
    assert!(
        all.len() <= 2,
        "at most 1 + keep releases: {all:?}\n{context}"
    );
    for c in &all {
        let state = docker(&["inspect", "-f", "{{.State.Status}}", c]);
        assert!(
            state == "running" || state == "exited",
            "{c} is {state}: a leftover\n{context}"
        );
    }
    assert_eq!(
        all_ours(app),
        all,
        "nothing but releases is left\n{context}"
    );
}

/// Each release attached to FRONT_ and running answers `GET /version`.
#[track_caller]
/// Every live release answers. A run killed while steps ran together (the old release's stop
/// alongside the history) leaves the engine finishing a call it was sent: the old release may
/// still be stopping for a moment, so the live set is read until it settles (at most 10 s).
fn assert_live_serves(app: &str, context: &dyn std::fmt::Display) -> Vec<String> {
    let t = Instant::now();
    loop {
        let now = live(app);
        let silent: Vec<&String> = now
            .iter()
            .filter(|c| !(serves(app, c, "v1") || serves(app, c, "v2")))
            .collect();
        if !now.is_empty() && silent.is_empty() {
            return now;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "live {now:?}: {silent:?} do not serve /version\n{context}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Walk {
    env: TestEnv,
    app: String,
    yaml: String,
    /// The image the live release runs.
    current: &'static str,
    /// With the `nginx` driver: the proxy's bridge address, through which the app is checked.
    proxy: Option<String>,
    /// Environment of the faulted runs and the runs after them.
    vars: Vec<(&'static str, &'static str)>,
    /// How many steps the faulted runs had (`total` of their step events).
    steps: u64,
}

impl Walk {
    /// A live release and one retired one: the state every faulted run starts from.
    fn new() -> Walk {
        let env = TestEnv::new();
        let (app, yaml) = spec(&env, DEMO_V1, "");
        crate::up::up(&env, &yaml, &app, &[]).assert_success();
        crate::up::up(&env, &yaml, &app, &["--image", DEMO_V2]).assert_success();
        Walk {
            env,
            app,
            yaml,
            current: DEMO_V2,
            proxy: None,
            vars: Vec::new(),
            steps: 0,
        }
    }

    /// The same behind a real nginx (the `nginx` driver, with `verify`): the switch is then
    /// the proxy's, and the app is checked through it too.
    fn with_nginx() -> Walk {
        let env = TestEnv::new();
        let (proxy, ip) = start_nginx(&env);
        let app = env.name("shop");
        let yaml = format!(
            "apps:\n  {app}:\n    image: {DEMO_V1}\n    port: 8080\n    health: {{http: /up, interval: 100ms, deadline: 20s}}\n    proxy:\n      driver: nginx\n      container: {proxy}\n      virtual_host: {HOST}\n      config_path: /etc/nginx/conf.d/{app}.conf\n      verify: {{url: \"http://{ip}/version\", host: {HOST}}}\n    drain: 1s\n    stop_timeout: 2s\n    keep: 1\n    stages:\n      stage: {{}}\n"
        );
        crate::up::up(&env, &yaml, &app, &[]).assert_success();
        crate::up::up(&env, &yaml, &app, &["--image", DEMO_V2]).assert_success();
        assert_eq!(through(&ip).as_deref(), Some("v2"));
        Walk {
            env,
            app,
            yaml,
            current: DEMO_V2,
            proxy: Some(ip),
            vars: Vec::new(),
            steps: 0,
        }
    }

    /// Through the proxy, when there is one, the app answers `version`.
    #[track_caller]
    fn assert_proxy_serves(&self, version: &str, context: &dyn std::fmt::Display) {
        if let Some(ip) = &self.proxy {
            assert_eq!(
                through(ip).as_deref(),
                Some(version),
                "through the proxy\n{context}"
            );
        }
    }

    fn bg(&self, args: &[&str]) -> crate::harness::cli::Run {
        let mut all = args.to_vec();
        all.splice(1..1, [self.app.as_str(), "stage"]);
        let run = self
            .vars
            .iter()
            .fold(self.env.bgdeploy(), |r, (k, v)| r.env(k, v));
        run.args(all).spec(&self.yaml).timeout(RUN_TIMEOUT).run()
    }

    /// Faults `up` at the start of step `n` with `sig`, checks what it left, converges.
    /// Returns false once `n` is past the last step.
    fn fault(&mut self, n: u64, sig: Sig) -> bool {
        let app = self.app.clone();
        let next = other(self.current);
        let args: Vec<&str> = vec!["up", &app, "stage", "--image", next];
        let before_live = live(&app);
        assert_eq!(before_live.len(), 1, "{before_live:?}");
        let before_all = containers(&app, false);
        let before_running = containers(&app, true);

        // Without a proxy the switch is the disconnect right after the drain: a connection
        // held open makes that drain last, so a signal sent before it cannot race past it.
        let hold = self
            .proxy
            .is_none()
            .then(|| hold_connection(&app, &before_live[0]));
        let mut json_args = vec!["--output", "json"];
        json_args.extend_from_slice(&args);
        let mut run = spawn_streamed_with(&self.env, &self.yaml, &json_args, &self.vars);
        let at = run.until_step_started(n);
        if at.is_some() {
            run.signal(sig);
        }
        let done = run.finish();
        drop(hold);
        let Some(at) = at else {
            // Past the last step: the run was not disturbed and must simply have worked.
            assert_eq!(done.code, Some(0), "an undisturbed run fails\n{done}");
            self.current = next;
            return false;
        };
        let total = at["total"].as_u64().expect("total");
        self.steps = self.steps.max(total);
        let action = at["step"]["action"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let context = format!("{sig:?} at step {n}/{total} ({action}) of up\n{done}");
        let switch = switch_step(&done);

        assert_live_serves(&app, &context);
        if let Some(ip) = &self.proxy {
            let answer = through(ip);
            assert!(
                matches!(answer.as_deref(), Some("v1" | "v2")),
                "the proxy routes to a release that answers: {answer:?}\n{context}"
            );
        }
        if sig == Sig::Int {
            match switch {
                Some(s) if n >= s => {
                    assert_eq!(
                        done.code,
                        Some(0),
                        "after the switch the run finishes\n{context}"
                    );
                    let now = live(&app);
                    assert_eq!(now.len(), 1, "{now:?}\n{context}");
                    assert_ne!(now, before_live, "{context}");
                    assert!(serves(&app, &now[0], version_of(next)), "{context}");
                    assert_eq!(containers(&app, true), now, "{context}");
                    self.assert_proxy_serves(version_of(next), &context);
                    // The interrupted run finished: it is itself the convergence to check.
                    assert_converged(&app, next, &context);
                    assert!(!lock_held(&app), "the lock is released\n{context}");
                    self.current = next;
                }
                _ => {
                    assert_eq!(done.code, Some(1), "before the switch: exit 1\n{context}");
                    assert!(
                        done.stderr.contains("interrupted"),
                        "the error says it was interrupted\n{context}"
                    );
                    let result = done.result().expect("a result line");
                    assert_eq!(result["ok"], false, "{context}");
                    assert_eq!(result["exit_code"], 1, "{context}");
                    assert_eq!(live(&app), before_live, "the live release stays\n{context}");
                    assert_eq!(
                        containers(&app, false),
                        before_all,
                        "everything this run did is undone\n{context}"
                    );
                    assert_eq!(containers(&app, true), before_running, "{context}");
                    assert!(!lock_held(&app), "the lock is released\n{context}");
                    self.assert_proxy_serves(version_of(self.current), &context);
                }
            }
        }

        // A SIGINT run either finished (checked as converged above) or undid everything it
        // did (the state is the one before it, checked above): another `up` would only repeat
        // the deploy the next boundary's run makes. After SIGKILL the next `up` must converge
        // from whatever the kill left.
        if sig == Sig::Int {
            return true;
        }
        let image = next;
        let converge = self.bg(&["up", "--image", image]);
        let context = format!("{context}\n{converge}");
        converge.assert_success();
        assert_converged(&app, image, &context);
        self.assert_proxy_serves(version_of(image), &context);
        self.current = image;
        true
    }
}

/// The step number of the switch — the first `disconnect_network`, the proxy switch that
/// takes the old release out, or (driver `none`) the old release's stop — from the run's
/// stream when it got that far; `None` when the run stopped before it.
fn switch_step(done: &Finished) -> Option<u64> {
    done.json_lines()
        .iter()
        .find(|v| {
            v["event"] == "step_started"
                && (v["step"]["action"] == "disconnect_network"
                    || v["step"]["action"] == "stop_container"
                    || (v["step"]["action"] == "proxy_switch" && v["step"]["phase"] == "remove"))
        })
        .and_then(|v| v["n"].as_u64())
}

/// The host name nginx routes to the app.
const HOST: &str = "shop.test";

/// A real nginx on `bridge`, as operators run it; returns (name, its bridge address).
fn start_nginx(env: &TestEnv) -> (String, String) {
    let name = env.name("proxy");
    env.container(&name).image(crate::harness::NGINX).run();
    let ip = docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &name]);
    let t = Instant::now();
    while crate::cutover::get(&ip, "localhost", "/__bgdeploy_proxy_health").is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nginx never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (name, ip)
}

/// `GET /version` through the proxy at `ip` for the app's host name.
fn through(ip: &str) -> Option<String> {
    crate::cutover::get(ip, HOST, "/version")
}

/// Faults `up` at step boundaries `first`, `first + every`, … of `w` until past the last
/// step, with `sig(n)` at boundary `n`; returns how many steps `up` had.
fn walk(mut w: Walk, first: u64, every: u64, sig: impl Fn(u64) -> Sig) -> u64 {
    let mut n = first;
    while w.fault(n, sig(n)) {
        n += every;
    }
    w.steps
}

/// Walks every step boundary of `up` with `sig`; returns how many steps `up` had.
fn walk_with(sig: Sig) -> u64 {
    let steps = walk(Walk::new(), 1, 1, |_| sig);
    assert!(steps >= 8, "up had only {steps} steps");
    steps
}

// The walks against the real engine, one per driver that has a real proxy here (`none`, and
// `nginx` below), plus SIGKILL through probes. Every step boundary of `up`, `cutover` and
// `rollback`, for every driver, with a failure or a signal, is the unit matrix's
// (`execute::matrix`, over the in-memory engine); what only a real engine shows is here: a
// real signal handled by the process, a process killed at any point, and the next `up`
// converging from what the engine was left with.

/// Driver `none`: SIGINT at each step of `up`, undone before the switch, finished after it.
#[tokio::test(flavor = "multi_thread")]
async fn up_survives_sigint_at_every_step() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let steps = tokio::task::spawn_blocking(|| walk_with(Sig::Int))
        .await
        .expect("the walk");
    eprintln!("up faulted with SIGINT at each of {steps} steps");
}

/// SIGKILL at every odd step of `up` with every probe made from the engine's side
/// (`BGDEPLOY_PROBE=always`), as against a remote engine: the next `up` converges, and a run
/// killed while it starts a probe leaves none behind after the next run (it once left a
/// never-started probe). The odd steps include the release's start (where its probes are
/// warmed), the attach while they start, and the drain through a probe; with the SIGKILLs of
/// the nginx walk at even steps, real kills land on both. Every boundary of every driver is the
/// unit matrix's; a kill here costs a killed run, a converging one and their probe containers.
#[tokio::test(flavor = "multi_thread")]
async fn up_survives_sigkill_at_odd_steps_through_probes() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let steps = tokio::task::spawn_blocking(|| {
        let mut w = Walk::new();
        w.vars = vec![("BGDEPLOY_PROBE", "always")];
        walk(w, 1, 2, |_| Sig::Kill)
    })
    .await
    .expect("the walk");
    assert!(steps >= 8, "up had only {steps} steps");
    eprintln!("up through probes faulted with SIGKILL at the odd ones of {steps} steps");
}

// ---------------------------------------------------------------------------------------
// Engine-side faults mid-deploy: something happens to the engine's objects (or to the
// engine) while the new release is in its health wait. The deploy must end promptly with
// exit 1 (rolled back) or 10 (a person is needed, told what to do), never hang or panic;
// the next `up` converges.
//
// The proxy container stopped before the switch is the last test of this file, behind nginx.

/// The spec of `up::spec` with a release that answers `/up` only after `ready_delay`, and a
/// health deadline of `deadline`.
fn slow_spec(yaml: &str, ready_delay: &str, deadline: &str) -> String {
    yaml.replace(
        "    drain:",
        &format!("    env: {{READY_DELAY: \"{ready_delay}\"}}\n    drain:"),
    )
    .replace("deadline: 20s", &format!("deadline: {deadline}"))
}

/// A live v1 release; returns (env, app, yaml).
fn live_v1() -> (TestEnv, String, String) {
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    crate::up::up(&env, &yaml, &app, &[]).assert_success();
    (env, app, yaml)
}

/// Starts `up --image v2` of `slow` and returns it once the health wait has probed once,
/// with the new release's name.
fn in_health_wait(
    env: &TestEnv,
    app: &str,
    slow: &str,
    vars: &[(&str, &str)],
) -> (Streamed, String) {
    let mut run = spawn_streamed_with(
        env,
        slow,
        &["--output", "json", "up", app, "stage", "--image", DEMO_V2],
        vars,
    );
    let step = run
        .until_action_started("wait_healthy")
        .expect("the deploy reaches its health wait");
    let container = step["step"]["container"]
        .as_str()
        .expect("the release's name")
        .to_string();
    run.until(|v| v["event"] == "step_progress")
        .expect("a first probe");
    (run, container)
}

#[track_caller]
fn assert_rolled_back(app: &str, before: &[String], context: &dyn std::fmt::Display) {
    assert_eq!(live(app), before, "the live release stays\n{context}");
    assert!(serves(app, &before[0], "v1"), "{context}");
    assert_eq!(
        containers(app, false),
        before,
        "nothing of the failed release is left\n{context}"
    );
    assert!(!lock_held(app), "the lock is released\n{context}");
}

fn blocking<F: FnOnce() + Send + 'static>(f: F) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(f)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_killed_during_its_health_wait_fails_at_once() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    blocking(|| {
        let (env, app, yaml) = live_v1();
        let before = live(&app);
        let slow = slow_spec(&yaml, "60", "90s");
        let (run, container) = in_health_wait(&env, &app, &slow, &[]);
        let killed = Instant::now();
        docker(&["kill", &container]);
        let done = run.finish();
        let took = killed.elapsed();
        eprintln!("{}", done.stderr);
        assert_eq!(done.code, Some(1), "{done}");
        assert!(
            took < Duration::from_secs(5),
            "the death ends the wait at once, not at the deadline: {took:?}\n{done}"
        );
        assert!(
            done.stderr.contains(&container)
                && done
                    .stderr
                    .contains("stopped while waiting to become healthy"),
            "the error names the release and what happened\n{done}"
        );
        assert_rolled_back(&app, &before, &done);
        crate::up::up(&env, &yaml, &app, &["--image", DEMO_V2]).assert_success();
        assert_converged(&app, DEMO_V2, &done);
    })
    .await
    .expect("the test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_cut_off_its_back_network_fails_within_the_deadline() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    blocking(|| {
        let (env, app, yaml) = live_v1();
        let before = live(&app);
        // Ready after 1 s, if bgdeploy could still reach it.
        let slow =
            slow_spec(&yaml, "1", "4s").replace("interval: 100ms", "interval: 100ms, timeout: 1s");
        let (run, container) = in_health_wait(&env, &app, &slow, &[]);
        docker(&[
            "network",
            "disconnect",
            &format!("BACK_{app}_stage"),
            &container,
        ]);
        let done = run.finish();
        assert_eq!(done.code, Some(1), "{done}");
        assert!(
            done.elapsed < Duration::from_secs(15),
            "the deadline (4s) bounds the wait\n{done}"
        );
        assert!(
            done.stderr.contains(&container)
                && done.stderr.contains("not healthy within 4s")
                && done.stderr.contains("what to do"),
            "the error names the release, the deadline and what to do\n{done}"
        );
        assert_rolled_back(&app, &before, &done);
        crate::up::up(&env, &yaml, &app, &["--image", DEMO_V2]).assert_success();
        assert_converged(&app, DEMO_V2, &done);
    })
    .await
    .expect("the test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_front_network_removed_mid_deploy_fails_cleanly_and_up_recreates_it() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    blocking(|| {
        let (env, app, yaml) = live_v1();
        let before = live(&app);
        let front = format!("FRONT_{app}_stage");
        let slow = slow_spec(&yaml, "1", "30s");
        let (run, _container) = in_health_wait(&env, &app, &slow, &[]);
        // Someone tears the front side down by hand while the release warms up.
        docker(&["network", "disconnect", &front, &before[0]]);
        docker(&["network", "rm", &front]);
        let done = run.finish();
        eprintln!("{}", done.stderr);
        assert_eq!(done.code, Some(1), "{done}");
        assert!(
            done.stderr.contains(&front),
            "the error names the missing network\n{done}"
        );
        assert!(live(&app).is_empty(), "{done}");
        assert_eq!(
            containers(&app, false),
            before,
            "the new release is removed\n{done}"
        );
        assert!(!lock_held(&app), "{done}");
        let next = crate::up::up(&env, &yaml, &app, &["--image", DEMO_V2]);
        let context = format!("{done}\n{next}");
        next.assert_success();
        assert_converged(&app, DEMO_V2, &context);
    })
    .await
    .expect("the test body");
}

/// A Unix-socket relay to the engine that can be cut: the engine "becomes unreachable".
struct EngineRelay {
    path: std::path::PathBuf,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::os::unix::net::UnixStream>>>,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl EngineRelay {
    /// Relays `dir/engine.sock` to the engine's socket; `None` when the engine is not on a
    /// local socket.
    fn start(dir: &std::path::Path) -> Option<EngineRelay> {
        use std::os::unix::net::{UnixListener, UnixStream};
        use std::sync::atomic::Ordering;
        let upstream = match std::env::var("DOCKER_HOST") {
            Err(_) => "/var/run/docker.sock".to_string(),
            Ok(h) => h.strip_prefix("unix://")?.to_string(),
        };
        let path = dir.join("engine.sock");
        let listener = UnixListener::bind(&path).expect("binding the relay socket");
        let relay = EngineRelay {
            path,
            conns: Default::default(),
            cut: Default::default(),
        };
        let (conns, cut) = (relay.conns.clone(), relay.cut.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if cut.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(engine) = UnixStream::connect(&upstream) else {
                    continue;
                };
                let pairs = [
                    (client.try_clone(), engine.try_clone()),
                    (engine.try_clone(), client.try_clone()),
                ];
                conns
                    .lock()
                    .expect("relay connections")
                    .extend([client, engine]);
                for pair in pairs {
                    if let (Ok(mut from), Ok(mut to)) = pair {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(std::net::Shutdown::Write);
                        });
                    }
                }
            }
        });
        Some(relay)
    }

    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// From now on the engine is unreachable: open connections are cut, new ones refused.
    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.path);
        for c in self.conns.lock().expect("relay connections").iter() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for EngineRelay {
    fn drop(&mut self) {
        self.cut();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_engine_lost_mid_deploy_is_exit_10_naming_what_to_remove() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    blocking(|| {
        let (env, app, yaml) = live_v1();
        let before = live(&app);
        let Some(relay) = EngineRelay::start(env.dir()) else {
            eprintln!("SKIPPED: the engine is not on a local socket");
            return;
        };
        let slow = slow_spec(&yaml, "60", "90s");
        let host = relay.host();
        let (run, container) = in_health_wait(&env, &app, &slow, &[("DOCKER_HOST", &host)]);
        let cut = Instant::now();
        relay.cut();
        let done = run.finish();
        let took = cut.elapsed();
        eprintln!("{}", done.stderr);
        assert_eq!(done.code, Some(10), "{done}");
        assert!(took < Duration::from_secs(15), "no hang: {took:?}\n{done}");
        assert!(
            done.stderr.contains(&container) && done.stderr.contains("docker rm -f"),
            "the error lists what a person must remove, and how\n{done}"
        );
        // The engine itself never saw the switch: the old release is still the live one.
        assert_eq!(live(&app), before, "{done}");
        assert!(serves(&app, &before[0], "v1"), "{done}");
        // Back on the engine, the next `up` takes the dead run's lock over and converges.
        let next = crate::up::up(&env, &yaml, &app, &["--image", DEMO_V2]);
        let context = format!("{done}\n{next}");
        next.assert_success();
        assert_converged(&app, DEMO_V2, &context);
    })
    .await
    .expect("the test body");
}

/// `up` behind nginx, where the proxy switch is the point of no return: SIGINT at every odd
/// step, SIGKILL at every even one — two walks on apps of their own that run side by side,
/// together every boundary with one of the two signals through a real nginx.
fn walk_behind_nginx(first: u64, sig: Sig) {
    let steps = walk(Walk::with_nginx(), first, 2, |_| sig);
    assert!(steps >= 12, "only {steps} steps");
}

#[tokio::test(flavor = "multi_thread")]
async fn up_behind_nginx_survives_sigint_at_odd_steps() {
    if behind_nginx_possible().await {
        tokio::task::spawn_blocking(|| walk_behind_nginx(1, Sig::Int))
            .await
            .expect("the walk");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_behind_nginx_survives_sigkill_at_even_steps() {
    if behind_nginx_possible().await {
        tokio::task::spawn_blocking(|| walk_behind_nginx(2, Sig::Kill))
            .await
            .expect("the walk");
    }
}

/// A reachable local engine with the images (the walk reaches nginx on this host's bridge).
async fn behind_nginx_possible() -> bool {
    let Some(engine) = require_engine().await else {
        return false;
    };
    if !engine.info().local {
        eprintln!("SKIPPED: the test reaches nginx on this host's bridge");
        return false;
    }
    require_images();
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_stopped_before_the_switch_stops_the_deploy() {
    let Some(engine) = require_engine().await else {
        return;
    };
    if !engine.info().local {
        eprintln!("SKIPPED: the test reaches nginx on this host's bridge");
        return;
    }
    require_images();
    blocking(|| {
        let mut w = Walk::with_nginx();
        let app = w.app.clone();
        let (env, app) = (&w.env, app.as_str());
        let before = live(app);
        let proxy = env.name("proxy");
        let slow = slow_spec(&w.yaml, "1", "30s");
        let (run, container) = in_health_wait(env, app, &slow, &[]);
        docker(&["stop", "-t", "1", &proxy]);
        let done = run.finish();
        // Nothing moved yet (the switch stops at `nginx -T`): rolled back, exit 1.
        assert_eq!(done.code, Some(1), "{done}");
        assert!(
            done.stderr.contains(&proxy) && done.stderr.contains("not running"),
            "the error names the proxy and what is wrong with it\n{done}"
        );
        assert_eq!(live(app), before, "the old release stays live\n{done}");
        assert!(
            !containers(app, false).contains(&container),
            "the new release is removed\n{done}"
        );
        assert!(!lock_held(app), "{done}");
        // Once the proxy runs again, the next `up` converges and traffic flows. A restarted
        // container may get another address on `bridge` (and its old one may go to another
        // test's nginx meanwhile): read it again.
        docker(&["start", &proxy]);
        let ip = docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &proxy]);
        let t = Instant::now();
        while crate::cutover::get(&ip, "localhost", "/__bgdeploy_proxy_health").is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "nginx never came back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let next = crate::up::up(env, &w.yaml, app, &["--image", DEMO_V1]);
        let context = format!("{done}\n{next}");
        next.assert_success();
        assert_converged(app, DEMO_V1, &context);
        w.proxy = Some(ip);
        w.assert_proxy_serves("v1", &context);
    })
    .await
    .expect("the test body");
}
