//! (r): (a), (b) and `status` against a remote engine, next to the local figures.
//!
//! The remote engine is a test host (`tests/testhost.sh`; bench/run.sh starts one and names it
//! in `BENCH_TESTHOST`): a dockerd in its own network namespace, reached only over a veth, with
//! no route from here to its bridges. It is reached three ways, as an operator would:
//! - `ssh://root@IP` (sshd on :22 allows forwarding: bgdeploy forwards the engine's socket over
//!   its one ssh master);
//! - `ssh://root@IP:2222` (sshd without forwarding: bgdeploy runs `docker system dial-stdio`
//!   sessions over its master, as the docker CLI does);
//! - `tcp://IP:2376` with TLS and a client certificate.
//!
//! "By hand" against a remote engine is the docker CLI with `DOCKER_HOST` (and the TLS
//! variables) set, the same commands as locally, except the health check: the container's
//! address cannot be reached from the operator's machine, and publishing a port only to check
//! health would expose the app, so it runs on the engine's side — `docker exec NAME wget -q -O
//! /dev/null http://127.0.0.1:8080/up` every 50 ms. Over ssh, each docker CLI command opens its
//! own ssh connection (the CLI's default; no `ControlMaster` in the ssh config).
//!
//! Every command the benchmark runs (docker, bgdeploy) gets the current engine's environment
//! ([`engine_env`]); the benchmark switches engines one after the other, never concurrently.

use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use crate::{Bench, Report, V1, median, ms, run, spread, step_table};

/// An engine the benchmark runs against.
#[derive(Clone)]
pub struct Engine {
    /// The column's title.
    label: String,
    /// `DOCKER_HOST`; `None`: the environment bgdeploy was started with (the local engine).
    host: Option<String>,
    /// `DOCKER_CERT_PATH` for TLS (with `DOCKER_TLS_VERIFY=1`).
    certs: Option<String>,
}

impl Engine {
    fn at(label: &str, host: Option<String>, certs: Option<String>) -> Engine {
        Engine {
            label: label.to_string(),
            host,
            certs,
        }
    }
}

/// The engine every command goes to now; `None`: the local one, environment untouched.
static CURRENT: Mutex<Option<Engine>> = Mutex::new(None);

fn current() -> Option<Engine> {
    CURRENT.lock().map(|c| c.clone()).unwrap_or_default()
}

/// Is the current engine a remote one (its containers' addresses unreachable from here)?
pub fn is_remote() -> bool {
    current().is_some_and(|e| e.host.is_some())
}

/// Points `cmd` (docker or bgdeploy) at the current engine.
pub fn engine_env(cmd: &mut Command) {
    let Some(Engine {
        host: Some(host),
        certs,
        ..
    }) = current()
    else {
        return;
    };
    cmd.env_remove("DOCKER_CONTEXT");
    // An empty host: none at all (a fleet spec names its engines itself).
    if host.is_empty() {
        cmd.env_remove("DOCKER_HOST");
    } else {
        cmd.env("DOCKER_HOST", host);
    }
    match certs {
        Some(path) => cmd
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", path),
        None => cmd
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH"),
    };
}

/// Sets the current engine back to the local one when dropped (also when a run panics).
pub struct Using;

impl Using {
    /// Commands go to `url` (no TLS) until dropped.
    pub fn host(url: &str) -> Using {
        Using::engine(&Engine::at(url, Some(url.to_string()), None))
    }

    /// Commands get no `DOCKER_HOST` (nor TLS variables, nor context) until dropped.
    pub fn no_host() -> Using {
        Using::engine(&Engine::at("hosts:", Some(String::new()), None))
    }

    fn engine(engine: &Engine) -> Using {
        if let Ok(mut c) = CURRENT.lock() {
            *c = Some(engine.clone());
        }
        Using
    }
}

impl Drop for Using {
    fn drop(&mut self) {
        if let Ok(mut c) = CURRENT.lock() {
            *c = None;
        }
    }
}

/// What (r) measured on one engine.
struct Figures {
    up: Vec<f64>,
    by_hand: Vec<f64>,
    listen: Vec<f64>,
    ready: Vec<f64>,
    status: Vec<f64>,
}

/// Runs of `status APP s` timed per engine.
const STATUS_RUNS: usize = 5;

impl Bench {
    /// (r): `runs` runs of (a) per engine, half as many of (b), `status` 5 times.
    pub fn remote(&self, runs: usize, report: &mut Report) {
        let name = std::env::var("BENCH_TESTHOST").unwrap_or_else(|_| {
            panic!(
                "(r) needs a test host: run bench/run.sh, which starts one and sets BENCH_TESTHOST"
            )
        });
        let info = std::fs::read_to_string(format!("/run/bgth-{name}/info"))
            .unwrap_or_else(|e| panic!("test host {name}: cannot read /run/bgth-{name}/info: {e}"));
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or("?")
                .to_string()
        };
        let ip = field("ip");
        let ssh_version = run("ssh", &["-V"], None).stderr.trim().to_string();
        report.machine.push((
            "test host (r)".into(),
            format!(
                "Docker Engine {} (API {}) in a network namespace on the same machine, reached over a veth (no route to its bridges); sshd :22 (forwarding) and :2222 (none); client {ssh_version}",
                field("version"),
                field("api")
            ),
        ));
        let local = Engine {
            label: "local socket".into(),
            host: None,
            certs: None,
        };
        let remotes = [
            Engine {
                label: "ssh :22 (socket forwarded)".into(),
                host: Some(format!("ssh://root@{ip}")),
                certs: None,
            },
            Engine {
                label: "ssh :2222 (no forwarding)".into(),
                host: Some(format!("ssh://root@{ip}:2222")),
                certs: None,
            },
            Engine {
                label: "TLS :2376".into(),
                host: Some(format!("tcp://{ip}:2376")),
                certs: Some(field("cert_dir")),
            },
        ];
        let b_runs = runs.div_ceil(2).max(2);
        let mut columns = Vec::new();
        // Local: (a) and (b) as measured above when they ran, else the same runs as remotely.
        columns.push((local.clone(), self.figures(&local, runs, b_runs, report)));
        for engine in &remotes {
            let figures = self.figures(engine, runs, b_runs, report);
            columns.push((engine.clone(), figures));
        }

        let tls = columns
            .iter()
            .find(|(e, _)| e.certs.is_some())
            .map(|(_, f)| median(&f.up))
            .unwrap_or(f64::NAN);
        let cell = |f: &dyn Fn(&Figures) -> String| -> Vec<String> {
            columns.iter().map(|(_, figures)| f(figures)).collect()
        };
        let mut rows = Vec::new();
        let mut row = |label: &str, cells: Vec<String>| {
            let mut r = vec![label.to_string()];
            r.extend(cells);
            rows.push(r);
        };
        row(
            "(a) `up`, one release replacing another",
            cell(&|f| spread(&f.up)),
        );
        row(
            "(a) the same by hand with the docker CLI",
            cell(&|f| spread(&f.by_hand)),
        );
        row(
            "(a) ratio bgdeploy / by hand (medians)",
            cell(&|f| format!("{:.2}×", median(&f.up) / median(&f.by_hand))),
        );
        row(
            "`up` / the same `up` over TLS (medians)",
            cell(&|f| format!("{:.2}×", median(&f.up) / tls)),
        );
        row(
            "(b) detection latency, app starts listening late",
            cell(&|f| spread(&f.listen)),
        );
        row(
            "(b) … `/up` 404 → 200 (interval 500ms)",
            cell(&|f| spread(&f.ready)),
        );
        row("`status APP s`, wall time", cell(&|f| spread(&f.status)));
        let mut header = vec!["figure".to_string()];
        header.extend(columns.iter().map(|(e, _)| e.label.clone()));
        report.tables.push((
            "(r) local vs a remote engine (test host): medians (min, max, n)".into(),
            header,
            rows,
        ));
        for (engine, figures) in columns.iter().skip(1) {
            if engine.certs.is_some() {
                continue;
            }
            let ratio = median(&figures.up) / tls;
            report.row(
                &format!("(r) `up` over {} / the same over TLS", engine.label),
                format!("{ratio:.2}× ({} vs {})", ms(median(&figures.up)), ms(tls)),
                "≤ 1.3×",
                Some(ratio <= 1.3),
            );
        }
    }

    /// (a), `status` and (b) on `engine`; the engine's objects of the benchmark are removed
    /// afterwards.
    fn figures(&self, engine: &Engine, runs: usize, b_runs: usize, report: &mut Report) -> Figures {
        let _using = Using::engine(engine);
        let local = engine.host.is_none();
        let ((up, by_hand), status) = match report.local_a.clone().filter(|_| local) {
            Some(a) => (a, self.status_times()),
            None => {
                let (up, by_hand, traces) = self.measure_a(runs);
                if !local {
                    step_table(
                        &format!(
                            "(r) one `up` over {}, step by step (medians of {} runs)",
                            engine.label,
                            traces.len()
                        ),
                        &traces,
                        report,
                    );
                }
                ((up, by_hand), self.status_times())
            }
        };
        let (listen, ready) = match report.local_b.clone().filter(|_| local) {
            Some(b) => b,
            None => self.measure_b(b_runs),
        };
        // Each engine's objects go before the next: both ssh columns are the same engine.
        if !local {
            self.cleanup_engine();
        }
        Figures {
            up,
            by_hand,
            listen,
            ready,
            status,
        }
    }

    /// Wall times of `bgdeploy status APP s` for the app (a) deployed (deployed here if (a)
    /// did not run on this engine).
    fn status_times(&self) -> Vec<f64> {
        let app = format!("{}a", self.prefix);
        let dir = self.dir.join("a");
        if !dir.join("deploy.yaml").exists() {
            let (app, dir) = self.spec("a", "");
            self.up(&dir, &app, V1);
        }
        let mut times = Vec::new();
        for _ in 0..STATUS_RUNS {
            let started = Instant::now();
            let out = run(crate::BIN, &["status", &app, "s"], Some(&dir));
            assert!(out.ok, "bgdeploy status {app} s failed: {}", out.stderr);
            times.push(started.elapsed().as_secs_f64());
        }
        times
    }
}
