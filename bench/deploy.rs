//! bgdeploy's benchmarks against the real engine (issue 6). Not a test: run `bench/run.sh`
//! (or `cargo bench --bench deploy -- [--runs N] [--only a,b,c,d,e,f,r,g]`). Prints a table.
//!
//! (a) `up` vs the same blue-green by hand with the docker CLI, alternating, medians, ratio;
//! (b) health detection latency: from the app answering to bgdeploy noticing;
//! (c) overhead of `up` for an app that takes 3 s to get ready: total − 3 s;
//! (d) bgdeploy's own cost: peak RSS and CPU time of `up`, binary size, start-up time;
//! (e) where the time of one `up` goes, step by step;
//! (f) requests through a real nginx (driver `nginx`) during cutovers, at the highest rate the
//!     load generator (`load.rs`) reaches here and at a light load: failed requests, p99
//!     during the cutover vs steady state;
//! (r) (a), (b) and `status` against a remote engine — a test host (`tests/testhost.sh`, started
//!     by run.sh, named in `BENCH_TESTHOST`) over ssh (port 22, the engine socket forwarded),
//!     ssh without forwarding (port 2222: `docker system dial-stdio` sessions) and TLS — next
//!     to the local figures (module `remote`);
//! (g) a fleet of three test hosts (started by run.sh, named in `BENCH_FLEET`) against one of
//!     them alone: `up` with `parallel: 3` and `parallel: 1`, and `status` (module `fleet`).
//!
//! Everything it creates is named `bgbench<random>_…` and removed at the end (run.sh also
//! removes leftovers of an interrupted run). Traffic goes only to the benchmark's own
//! containers on the host's bridges, and (f) to nginx published on 127.0.0.1.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

mod fleet;
mod load;
mod remote;

const BIN: &str = env!("CARGO_BIN_EXE_bgdeploy");
const V1: &str = "bgdeploy-demo:v1";
const V2: &str = "bgdeploy-demo:v2";
/// Bounds every command the benchmark runs: nothing here may hang.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --all-targets` runs bench targets without `--bench`: do nothing then.
    if !args.iter().any(|a| a == "--bench") {
        println!("bench/deploy.rs: a benchmark, not a test; run bench/run.sh");
        return;
    }
    let runs = flag(&args, "--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10usize);
    // (r) and (g) need test hosts: by default only when bench/run.sh started them (or was
    // given them).
    let mut all = "a,b,c,d,e,f".to_string();
    if std::env::var_os("BENCH_TESTHOST").is_some() {
        all.push_str(",r");
    }
    if std::env::var_os("BENCH_FLEET").is_some() {
        all.push_str(",g");
    }
    let only = flag(&args, "--only").unwrap_or(all);
    let wants = |part: &str| only.split(',').any(|p| p.trim() == part);

    let bench = Bench::new();
    let mut report = Report {
        machine: machine(),
        ..Report::default()
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if wants("a") || wants("e") {
            bench.up_vs_manual(runs, &mut report);
        }
        if wants("b") {
            bench.detection_latency(runs, &mut report);
        }
        if wants("c") {
            bench.overhead_3s(runs.div_ceil(2), &mut report);
        }
        if wants("d") {
            bench.own_cost(runs, &mut report);
        }
        if wants("f") {
            bench.nginx_cutover(runs.div_ceil(2), &mut report);
        }
        if wants("r") {
            bench.remote(runs.div_ceil(2), &mut report);
        }
        if wants("g") {
            bench.fleet(runs.div_ceil(2), &mut report);
        }
    }));
    bench.cleanup();
    report.print();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

// ---------------------------------------------------------------------------------------
// Running things

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs a command to its end (bounded by `COMMAND_TIMEOUT`).
fn run(program: &str, args: &[&str], dir: Option<&Path>) -> Out {
    let mut cmd = Command::new(program);
    remote::engine_env(&mut cmd);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            panic!(
                "{program} {} took longer than {COMMAND_TIMEOUT:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let output = child.wait_with_output().expect("output");
    Out {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn docker(args: &[&str]) -> String {
    let out = run("docker", args, None);
    assert!(out.ok, "docker {} failed: {}", args.join(" "), out.stderr);
    out.stdout.trim().to_string()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// A bgdeploy `up`/`plan` run with `--output json`, its lines stamped as they arrive.
struct Traced {
    ok: bool,
    wall: Duration,
    /// (seconds since the run started, unix time, the line)
    lines: Vec<(f64, f64, Value)>,
    stderr: String,
}

impl Traced {
    fn result(&self) -> Option<&Value> {
        self.lines
            .iter()
            .map(|(_, _, v)| v)
            .rfind(|v| v["event"] == "result")
    }

    /// Unix time at which the first step with `action` finished.
    fn finished_at(&self, action: &str) -> Option<f64> {
        self.lines
            .iter()
            .find(|(_, _, v)| v["event"] == "step_finished" && v["action"] == action)
            .map(|(_, unix, _)| *unix)
    }

    /// (action, seconds, starts with the previous step) of every finished step, in step order.
    fn steps(&self) -> Vec<(String, f64, bool)> {
        let mut steps: BTreeMap<u64, (String, f64, bool)> = BTreeMap::new();
        for (_, _, v) in &self.lines {
            let Some(n) = v["n"].as_u64() else { continue };
            if v["event"] == "step_started" {
                let e = steps.entry(n).or_default();
                e.0 = v["step"]["action"].as_str().unwrap_or("?").to_string();
                e.2 = v["step"]["with_previous"] == true;
            } else if v["event"] == "step_finished" {
                steps.entry(n).or_default().1 = v["elapsed_secs"].as_f64().unwrap_or(0.0);
            }
        }
        steps.into_values().collect()
    }

    /// Seconds from the start of the process to the first `step_started`.
    fn startup(&self) -> f64 {
        self.lines
            .iter()
            .find(|(_, _, v)| v["event"] == "step_started")
            .map_or(0.0, |(t, _, _)| *t)
    }
}

fn traced(dir: &Path, args: &[&str]) -> Traced {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let started = Instant::now();
    let mut cmd = Command::new(BIN);
    remote::engine_env(&mut cmd);
    let mut child = cmd
        .args(&all)
        .current_dir(dir)
        .env_remove("BGDEPLOY_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting bgdeploy");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut s);
        s
    });
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let stamp = (started.elapsed().as_secs_f64(), unix_now());
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            lines.push((stamp.0, stamp.1, v));
        }
        if started.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            panic!("bgdeploy {} hung", args.join(" "));
        }
    }
    let status = child.wait().expect("wait");
    Traced {
        ok: status.success(),
        wall: started.elapsed(),
        lines,
        stderr: stderr.join().unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------
// Statistics and the report

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn ms(secs: f64) -> String {
    format!("{:.0} ms", secs * 1000.0)
}

fn spread(values: &[f64]) -> String {
    let (lo, hi) = min_max(values);
    format!(
        "{} (min {}, max {}, n={})",
        ms(median(values)),
        ms(lo),
        ms(hi),
        values.len()
    )
}

#[derive(Default)]
struct Report {
    machine: Vec<(String, String)>,
    /// (figure, value, target, verdict)
    rows: Vec<(String, String, String, String)>,
    /// Extra tables: (title, header, rows)
    tables: Vec<(String, Vec<String>, Vec<Vec<String>>)>,
    /// (a) on the local engine, when it ran: bgdeploy's and the manual wall times; (r) reuses
    /// them instead of measuring again.
    local_a: Option<(Vec<f64>, Vec<f64>)>,
    /// (b) on the local engine, when it ran: port late, `/up` late.
    local_b: Option<(Vec<f64>, Vec<f64>)>,
}

impl Report {
    fn row(&mut self, figure: &str, value: String, target: &str, met: Option<bool>) {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        self.rows.push((
            figure.to_string(),
            value,
            target.to_string(),
            verdict.to_string(),
        ));
    }

    fn print(&self) {
        println!("\n## bgdeploy benchmarks\n");
        for (k, v) in &self.machine {
            println!("- {k}: {v}");
        }
        println!();
        print_table(
            &["figure", "value", "target", ""],
            &self
                .rows
                .iter()
                .map(|(a, b, c, d)| vec![a.clone(), b.clone(), c.clone(), d.clone()])
                .collect::<Vec<_>>(),
        );
        for (title, header, rows) in &self.tables {
            println!("\n### {title}\n");
            let header: Vec<&str> = header.iter().map(String::as_str).collect();
            print_table(&header, rows);
        }
    }
}

/// A Markdown table, columns padded.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = width[i]))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.iter().map(|s| s.to_string()).collect());
    println!(
        "|{}|",
        width
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        line(row.clone());
    }
}

fn machine() -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or("?".into(), |kb| format!("{:.1} GiB", kb as f64 / 1048576.0));
    let kernel = run("uname", &["-r"], None).stdout.trim().to_string();
    let engine = docker(&[
        "version",
        "--format",
        "{{.Server.Version}} (API {{.Server.APIVersion}})",
    ]);
    let rev = run(
        "git",
        &["rev-parse", "--short", "HEAD"],
        Some(Path::new(env!("CARGO_MANIFEST_DIR"))),
    );
    let dirty = run(
        "git",
        &["status", "--porcelain", "--untracked-files=no"],
        Some(Path::new(env!("CARGO_MANIFEST_DIR"))),
    );
    vec![
        (
            "machine".into(),
            format!("{cpu}, {cores} cores, {mem} RAM, Linux {kernel}"),
        ),
        (
            "engine".into(),
            format!("Docker Engine {engine}, local socket"),
        ),
        (
            "bgdeploy".into(),
            format!(
                "{} ({}{}, release profile)",
                env!("CARGO_PKG_VERSION"),
                rev.stdout.trim(),
                if dirty.stdout.trim().is_empty() {
                    ""
                } else {
                    " + local changes"
                }
            ),
        ),
        (
            "load average at the start (1, 5, 15 min)".into(),
            std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
                .unwrap_or_else(|_| "?".into()),
        ),
        (
            "date".into(),
            run("date", &["-u", "+%Y-%m-%d %H:%M UTC"], None)
                .stdout
                .trim()
                .to_string(),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// The benchmarks

struct Bench {
    prefix: String,
    dir: PathBuf,
}

impl Bench {
    fn new() -> Bench {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        let prefix = format!(
            "bgbench{:06x}{:04x}_",
            nanos & 0xff_ffff,
            std::process::id() & 0xffff
        );
        let dir = std::env::temp_dir().join(prefix.trim_end_matches('_'));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Bench { prefix, dir }
    }

    /// Writes a deploy.yaml for app `<prefix><name>` (stage `s`) and returns the app's name.
    fn spec(&self, name: &str, extra: &str) -> (String, PathBuf) {
        let app = format!("{}{name}", self.prefix);
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).expect("a spec directory");
        let yaml = format!(
            "apps:\n  {app}:\n    image: {V1}\n    port: 8080\n    health: {{http: /up}}\n    keep: 1\n{extra}    stages:\n      s: {{}}\n"
        );
        std::fs::write(dir.join("deploy.yaml"), yaml).expect("deploy.yaml");
        (app, dir)
    }

    fn up(&self, dir: &Path, app: &str, image: &str) -> Traced {
        let t = traced(dir, &["up", app, "s", "--image", image]);
        assert!(t.ok, "bgdeploy up {app} failed:\n{}", t.stderr);
        t
    }

    /// (a) and (e).
    fn up_vs_manual(&self, runs: usize, report: &mut Report) {
        let (bg, by_hand, traces) = self.measure_a(runs);
        let ratio = median(&bg) / median(&by_hand);
        report.row(
            "(a) `up`, one release replacing another",
            spread(&bg),
            "",
            None,
        );
        report.row(
            "(a) the same by hand with the docker CLI",
            spread(&by_hand),
            "",
            None,
        );
        report.row(
            "(a) ratio bgdeploy / by hand (medians)",
            format!("{ratio:.2}×"),
            "≤ 0.8×",
            Some(ratio <= 0.8),
        );
        step_table(
            &format!(
                "(e) one `up`, step by step (medians of {} runs)",
                traces.len()
            ),
            &traces,
            report,
        );
        report.local_a = Some((bg, by_hand));
    }

    /// The runs of (a) on the current engine (app `<prefix>a`, left deployed): bgdeploy's
    /// wall times, those by hand, and bgdeploy's traces.
    fn measure_a(&self, runs: usize) -> (Vec<f64>, Vec<f64>, Vec<Traced>) {
        let (app, dir) = self.spec("a", "");
        let manual = Manual::new(&self.prefix);
        // Warm-up: networks exist, images and the lock image are in the page cache.
        self.up(&dir, &app, V1);
        manual.deploy(V1, &[]);
        let (mut bg, mut by_hand, mut traces) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..runs {
            let image = if i % 2 == 0 { V2 } else { V1 };
            let t = self.up(&dir, &app, image);
            bg.push(t.wall.as_secs_f64());
            traces.push(t);
            by_hand.push(manual.deploy(image, &[]));
        }
        (bg, by_hand, traces)
    }

    /// (b): the release's port opens `delay` after it starts (the app answers at once when
    /// it listens), or `/up` turns from 404 to 200 (READY_DELAY): from that moment, taken
    /// from the engine's timestamp of the app's log line, to the arrival of the
    /// `step_finished` of `wait_healthy`.
    fn detection_latency(&self, runs: usize, report: &mut Report) {
        let (listen, ready) = self.measure_b(runs);
        let m = median(&listen);
        report.row(
            "(b) health detection latency, app starts listening late",
            spread(&listen),
            "median ≤ 25 ms",
            Some(m <= 0.025),
        );
        report.row(
            "(b) … app listens at once, `/up` 404 → 200 (interval 500ms)",
            spread(&ready),
            "(bounded by `interval`)",
            None,
        );
        report.local_b = Some((listen, ready));
    }

    /// The runs of (b) on the current engine: latencies (seconds) for the app that opens its
    /// port late, and for the one whose `/up` turns from 404 to 200.
    fn measure_b(&self, runs: usize) -> (Vec<f64>, Vec<f64>) {
        let (app, dir) = self.spec("b", "");
        self.up(&dir, &app, V1);
        let mut listen = Vec::new();
        let mut ready = Vec::new();
        for i in 0..runs {
            // Spread over the probe cadence, so the phase of the probes does not decide.
            let delay = format!("{:.3}", 1.0 + (i as f64) * 0.0617);
            let image = if i % 2 == 0 { V2 } else { V1 };
            // The port opens late: the app is not listening before `delay`.
            let late =
                format!("    command: [sh, -c, \"sleep {delay}; exec /usr/local/bin/demo-app\"]\n");
            std::fs::write(dir.join("deploy.yaml"), self.spec_text(&app, &late)).expect("spec");
            let t = self.up(&dir, &app, image);
            let c = t
                .result()
                .and_then(|r| r["container"].as_str())
                .expect("container")
                .to_string();
            let at = log_time(&c, "listening on").expect("the listening line");
            listen.push(t.finished_at("wait_healthy").expect("wait_healthy") - at);
            // Listening at once, `/up` 404 until `delay`.
            let slow = format!("    env: {{READY_DELAY: \"{delay}\"}}\n");
            std::fs::write(dir.join("deploy.yaml"), self.spec_text(&app, &slow)).expect("spec");
            let t = self.up(&dir, &app, image);
            let c = t
                .result()
                .and_then(|r| r["container"].as_str())
                .expect("container")
                .to_string();
            let at = log_time(&c, "ready after").expect("the ready line");
            ready.push(t.finished_at("wait_healthy").expect("wait_healthy") - at);
        }
        (listen, ready)
    }

    fn spec_text(&self, app: &str, extra: &str) -> String {
        format!(
            "apps:\n  {app}:\n    image: {V1}\n    port: 8080\n    health: {{http: /up}}\n    keep: 1\n{extra}    stages:\n      s: {{}}\n"
        )
    }

    /// (c): total − 3 s for an app ready 3 s after it starts, where that time goes, and the
    /// same for the manual path of (a).
    fn overhead_3s(&self, runs: usize, report: &mut Report) {
        let (app, dir) = self.spec("c", "");
        self.up(&dir, &app, V1);
        let manual = Manual::new(&format!("{}c", self.prefix));
        let late_cmd = ["sh", "-c", "sleep 3; exec /usr/local/bin/demo-app"];
        manual.deploy(V1, &late_cmd);
        let mut late_port = Vec::new();
        let mut before_app = Vec::new();
        let mut after_ready = Vec::new();
        let mut by_hand = Vec::new();
        let mut late_up = Vec::new();
        for i in 0..runs {
            let image = if i % 2 == 0 { V2 } else { V1 };
            let late = "    command: [sh, -c, \"sleep 3; exec /usr/local/bin/demo-app\"]\n";
            std::fs::write(dir.join("deploy.yaml"), self.spec_text(&app, late)).expect("spec");
            let launched = unix_now();
            let t = self.up(&dir, &app, image);
            let ended = launched + t.wall.as_secs_f64();
            late_port.push(t.wall.as_secs_f64() - 3.0);
            let c = t
                .result()
                .and_then(|r| r["container"].as_str())
                .expect("container")
                .to_string();
            let started = rfc3339_to_unix(&docker(&["inspect", "-f", "{{.State.StartedAt}}", &c]))
                .expect("the release's start time");
            let ready = log_time(&c, "listening on").expect("the listening line");
            before_app.push(started - launched);
            after_ready.push(ended - ready);
            by_hand.push(manual.deploy(image, &late_cmd) - 3.0);
            let slow = "    env: {READY_DELAY: \"3\"}\n";
            std::fs::write(dir.join("deploy.yaml"), self.spec_text(&app, slow)).expect("spec");
            let t = self.up(&dir, &app, image);
            late_up.push(t.wall.as_secs_f64() - 3.0);
        }
        let m = median(&late_port);
        report.row(
            "(c) `up` of an app ready 3 s after start: total − 3 s",
            spread(&late_port),
            "≤ 300 ms",
            Some(m <= 0.3),
        );
        report.row(
            "(c) … from launch to the app's process starting (lock, create, start)",
            spread(&before_app),
            "",
            None,
        );
        report.row(
            "(c) … from the app answering to `up` exiting (notice, FRONT_, drain, stop old)",
            spread(&after_ready),
            "",
            None,
        );
        report.row(
            "(c) the same 3 s app by hand (the docker CLI path of (a)): total − 3 s",
            spread(&by_hand),
            "",
            None,
        );
        report.row(
            "(c) … `/up` 404 for 3 s instead (READY_DELAY=3), `up`: total − 3 s",
            spread(&late_up),
            "(bounded by `interval`)",
            None,
        );
    }

    /// (d): peak RSS and CPU of `up` (GNU time), binary size, start-up of `--help`/`plan`.
    fn own_cost(&self, runs: usize, report: &mut Report) {
        let (app, dir) = self.spec("d", "");
        self.up(&dir, &app, V1);
        let mut rss = Vec::new();
        let mut cpu = Vec::new();
        for i in 0..runs {
            let image = if i % 2 == 0 { V2 } else { V1 };
            let out = run(
                "/usr/bin/time",
                &[
                    "-f", "%M %U %S", BIN, "-q", "up", &app, "s", "--image", image,
                ],
                Some(&dir),
            );
            assert!(out.ok, "up under /usr/bin/time failed: {}", out.stderr);
            let last = out.stderr.lines().last().unwrap_or_default().to_string();
            let f: Vec<f64> = last
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            assert_eq!(f.len(), 3, "GNU time printed {last:?}");
            rss.push(f[0] / 1024.0);
            cpu.push(f[1] + f[2]);
        }
        let peak = rss.iter().copied().fold(0.0, f64::max);
        report.row(
            "(d) peak RSS of `up` (max over runs)",
            format!("{peak:.1} MiB"),
            "< 20 MB",
            Some(peak * 1.048_576 < 20.0),
        );
        // GNU time counts in 10 ms ticks: the mean over the runs says more than a median.
        let mean = cpu.iter().sum::<f64>() / cpu.len().max(1) as f64;
        report.row(
            "(d) CPU time of `up` (user + sys, mean; 10 ms ticks)",
            format!("{} (n={})", ms(mean), cpu.len()),
            "",
            None,
        );
        let size = std::fs::metadata(BIN).map(|m| m.len()).unwrap_or(0);
        report.row(
            "(d) binary size (release, stripped)",
            format!("{:.1} MiB", size as f64 / 1048576.0),
            "",
            None,
        );
        let mut help = Vec::new();
        let mut plan = Vec::new();
        for _ in 0..runs.max(10) {
            let t = Instant::now();
            assert!(run(BIN, &["--help"], None).ok);
            help.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let out = run(BIN, &["plan", &app, "s"], Some(&dir));
            assert!(out.ok, "plan failed: {}", out.stderr);
            plan.push(t.elapsed().as_secs_f64());
        }
        report.row(
            "(d) start-up: `bgdeploy --help` (page cache warm)",
            spread(&help),
            "",
            None,
        );
        report.row(
            "(d) start-up: `bgdeploy plan` (reads the engine)",
            spread(&plan),
            "",
            None,
        );
    }

    fn cleanup(&self) {
        self.cleanup_engine();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Removes the benchmark's containers, volumes and networks from the current engine.
    fn cleanup_engine(&self) {
        let listing = run("docker", &["ps", "-a", "--format", "{{.Names}}"], None).stdout;
        let ours: Vec<&str> = listing
            .lines()
            .filter(|n| n.contains(&self.prefix))
            .collect();
        if !ours.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ours);
            let _ = run("docker", &args, None);
        }
        let volumes = run("docker", &["volume", "ls", "--format", "{{.Name}}"], None).stdout;
        for v in volumes.lines().filter(|n| n.contains(&self.prefix)) {
            let _ = run("docker", &["volume", "rm", v], None);
        }
        let networks = run("docker", &["network", "ls", "--format", "{{.Name}}"], None).stdout;
        for n in networks.lines().filter(|n| n.contains(&self.prefix)) {
            let _ = run("docker", &["network", "rm", n], None);
        }
    }
}

/// The engine's timestamp (unix seconds) of the first log line of `container` containing
/// `needle`.
fn log_time(container: &str, needle: &str) -> Option<f64> {
    let out = run("docker", &["logs", "--timestamps", container], None);
    let text = format!("{}{}", out.stdout, out.stderr);
    let line = text.lines().find(|l| l.contains(needle))?;
    let stamp = line.split_whitespace().next()?;
    rfc3339_to_unix(stamp)
}

/// `2026-11-26T04:10:48.123456789Z` → unix seconds (UTC only, as the engine writes them).
fn rfc3339_to_unix(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (h, mi, sec) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec) as f64 + frac)
}

/// (e): median time of each step over the runs of (a), plus what happens between them.
fn step_table(title: &str, traces: &[Traced], report: &mut Report) {
    // Steps keyed by (action, occurrence): runs may differ by a step (nothing to prune yet).
    let keyed = |t: &Traced| -> Vec<((String, usize), f64, bool)> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        t.steps()
            .into_iter()
            .map(|(action, secs, with_previous)| {
                let k = seen.entry(action.clone()).or_default();
                *k += 1;
                ((action, *k), secs, with_previous)
            })
            .collect()
    };
    let template = traces
        .iter()
        .map(keyed)
        .max_by_key(Vec::len)
        .unwrap_or_default();
    let mut per_step: Vec<((String, usize), bool, Vec<f64>)> = template
        .into_iter()
        .map(|(k, _, with)| (k, with, Vec::new()))
        .collect();
    let mut startup = Vec::new();
    let mut tail = Vec::new();
    let mut gaps = Vec::new();
    for t in traces {
        startup.push(t.startup());
        let steps = keyed(t);
        // Steps that run together count once, for the longest of them.
        let mut critical = 0.0;
        let mut group = 0.0f64;
        for (_, secs, with_previous) in &steps {
            if !with_previous {
                critical += group;
                group = 0.0;
            }
            group = group.max(*secs);
        }
        critical += group;
        for (key, secs, _) in steps {
            if let Some((_, _, v)) = per_step.iter_mut().find(|(k, _, _)| *k == key) {
                v.push(secs);
            }
        }
        let last = t
            .lines
            .iter()
            .rfind(|(_, _, v)| v["event"] == "step_finished")
            .map_or(0.0, |(at, _, _)| *at);
        tail.push(t.wall.as_secs_f64() - last);
        gaps.push(last - t.startup() - critical);
    }
    let total = median(
        &traces
            .iter()
            .map(|t| t.wall.as_secs_f64())
            .collect::<Vec<_>>(),
    );
    let mut rows = vec![vec![
        "-".to_string(),
        "start-up: parse, connect, observe, plan".to_string(),
        ms(median(&startup)),
        format!("{:.0}%", 100.0 * median(&startup) / total),
    ]];
    let mut group_start = 1;
    for (n, ((action, _), with_previous, secs)) in per_step.iter().enumerate() {
        let m = median(secs);
        let action = if *with_previous {
            format!("(with {group_start}) {action}")
        } else {
            group_start = n + 1;
            action.clone()
        };
        rows.push(vec![
            (n + 1).to_string(),
            action,
            ms(m),
            format!("{:.0}%", 100.0 * m / total),
        ]);
    }
    rows.push(vec![
        "-".into(),
        "between steps (re-observe under the lock, …)".into(),
        ms(median(&gaps)),
        format!("{:.0}%", 100.0 * median(&gaps) / total),
    ]);
    rows.push(vec![
        "-".into(),
        "after the last step: result, exit".into(),
        ms(median(&tail)),
        format!("{:.0}%", 100.0 * median(&tail) / total),
    ]);
    rows.push(vec![
        "".into(),
        "total (median wall time)".into(),
        ms(total),
        "100%".into(),
    ]);
    report.tables.push((
        title.to_string(),
        vec![
            "step".into(),
            "action".into(),
            "time".into(),
            "share".into(),
        ],
        rows,
    ));
}

/// The blue-green of (a) by hand: what an operator's script does with the docker CLI.
struct Manual {
    back: String,
    front: String,
    name: String,
    counter: std::cell::Cell<u32>,
    live: std::cell::RefCell<Option<String>>,
}

impl Manual {
    fn new(prefix: &str) -> Manual {
        let back = format!("BACK_{prefix}manual_s");
        let front = format!("FRONT_{prefix}manual_s");
        docker(&["network", "create", &back]);
        docker(&["network", "create", "--internal", &front]);
        Manual {
            back,
            front,
            name: format!("{prefix}manual_s"),
            counter: Default::default(),
            live: Default::default(),
        }
    }

    /// One deploy of `image` (running `command` if not empty); returns its wall time in
    /// seconds.
    fn deploy(&self, image: &str, command: &[&str]) -> f64 {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let name = format!("{}_{n}", self.name);
        let started = Instant::now();
        let mut args = vec!["run", "-d", "--name", &name, "--network", &self.back, image];
        args.extend_from_slice(command);
        docker(&args);
        if remote::is_remote() {
            // The container's address is not reachable from here: from the engine's side, as
            // an operator would with only the docker CLI (see `remote`). No `-T`: the demo
            // image's busybox wget crashes on it (exit 139).
            let mut tries = 0;
            while !run(
                "docker",
                &[
                    "exec",
                    &name,
                    "wget",
                    "-q",
                    "-O",
                    "/dev/null",
                    "http://127.0.0.1:8080/up",
                ],
                None,
            )
            .ok
            {
                tries += 1;
                assert!(
                    tries < 600,
                    "{name} never answered /up (docker exec … wget)"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        } else {
            let template = format!(
                "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
                self.back
            );
            let ip = docker(&["inspect", "-f", &template, &name]);
            let url = format!("http://{ip}:8080/up");
            // `until curl -fs $url; do sleep 0.05; done`, bounded.
            let mut tries = 0;
            while !run(
                "curl",
                &["-fs", "-o", "/dev/null", "--max-time", "2", &url],
                None,
            )
            .ok
            {
                tries += 1;
                assert!(tries < 1200, "{name} never answered {url}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        docker(&["network", "connect", &self.front, &name]);
        let routes = docker(&["exec", &name, "cat", "/proc/net/route"]);
        let default_on_eth0 = routes
            .lines()
            .any(|l| l.starts_with("eth0") && l.split_whitespace().nth(1) == Some("00000000"));
        assert!(default_on_eth0, "{name}'s default route moved:\n{routes}");
        if let Some(old) = self.live.replace(Some(name)) {
            docker(&["stop", &old]);
            docker(&["rm", &old]);
        }
        started.elapsed().as_secs_f64()
    }
}

/// (f): nginx from `bgdeploy-nginx:latest`, published on loopback as operators publish their
/// proxy, routes `bench.test` to the app (driver `nginx`). The load generator finds the number
/// of keep-alive connections that gives the highest rate, measures a steady state, then keeps
/// the same load through `cutovers` deploys (each from 0.5 s before `up` starts to 0.5 s after
/// it ends). Latency quantiles are of the requests sent while `up` ran.
impl Bench {
    fn nginx_cutover(&self, cutovers: usize, report: &mut Report) {
        let proxy = format!("{}nginx", self.prefix);
        // No access log: at thousands of requests a second the engine's log copying would
        // take the CPU the deploy needs, and it measures the engine, not the switch.
        // BENCH_NGINX_LOG=1 keeps nginx's log and prints its error lines at the end.
        let keep_log = std::env::var_os("BENCH_NGINX_LOG").is_some();
        let log_driver = if keep_log { "json-file" } else { "none" };
        docker(&[
            "run",
            "-d",
            "--name",
            &proxy,
            "--log-driver",
            log_driver,
            "-p",
            "127.0.0.1::80",
            NGINX,
        ]);
        let published = docker(&["port", &proxy, "80/tcp"]);
        let addr: std::net::SocketAddr = published
            .lines()
            .find_map(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("nginx published no loopback port: {published:?}"));
        let started = Instant::now();
        while !proxy_answers(addr) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nginx never answered on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The demo app: busybox httpd, which forks per connection and listens with a
        // backlog of 9 (hard-coded in busybox).
        let extra = format!(
            "    proxy:\n      driver: nginx\n      container: {proxy}\n      virtual_host: {HOST}\n      config_path: /etc/nginx/conf.d/bgdeploy_bench.conf\n    drain: 5s\n    stop_timeout: 2s\n"
        );
        let (app, dir) = self.spec("f", &extra);
        self.up(&dir, &app, V1);
        let demo = Target {
            addr,
            host: HOST,
            path: "/version",
            dir,
            app,
            images: [V2, V1],
        };
        // An app server as production runs them: nginx itself (event-driven, backlog 511),
        // answering its health location, deployed as the app behind the proxy nginx.
        let app = format!("{}g", self.prefix);
        let dir = self.dir.join("g");
        std::fs::create_dir_all(&dir).expect("a spec directory");
        std::fs::write(
            dir.join("deploy.yaml"),
            format!(
                "apps:\n  {app}:\n    image: {NGINX}\n    port: 80\n    health: {{http: {PROXY_HEALTH}}}\n    keep: 1\n    proxy:\n      driver: nginx\n      container: {proxy}\n      virtual_host: {HOST_G}\n      config_path: /etc/nginx/conf.d/bgdeploy_bench_g.conf\n    drain: 5s\n    stop_timeout: 2s\n    stages:\n      s: {{}}\n"
            ),
        )
        .expect("deploy.yaml");
        self.up(&dir, &app, NGINX);
        let server = Target {
            addr,
            host: HOST_G,
            path: PROXY_HEALTH,
            dir,
            app,
            images: [NGINX, NGINX],
        };

        for (target, label) in [(&server, "nginx as the app"), (&demo, "busybox demo app")] {
            let connections = fastest(target);
            let top = self.under_load(target, connections, cutovers, &proxy);
            top.report(report, &format!("{label}, highest rate"), true);
            if target.app == server.app {
                self.control(target, connections, cutovers, top.steady_p99, report);
            }
        }
        // The demo app again with the CPU not saturated, to tell the switch's own effect
        // from that of the engine's work on a machine with no core to spare.
        let light = self.under_load(&demo, 2, cutovers, &proxy);
        light.report(report, "busybox demo app, 2 connections", false);
    }

    /// The same load while the engine only starts and removes an unrelated container (what
    /// every deploy makes it do), nothing switched: the latency any tool's deploy costs on
    /// this machine, with no core to spare.
    fn control(
        &self,
        t: &Target,
        connections: usize,
        rounds: usize,
        steady_p99: f64,
        report: &mut Report,
    ) {
        let mut during = Vec::new();
        for i in 0..rounds {
            let name = format!("{}control{i}", self.prefix);
            let run =
                load::Load::start(t.addr, t.host, t.path, connections, Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(500));
            let from = run.started.elapsed();
            docker(&["run", "-d", "--name", &name, V1]);
            docker(&["rm", "-f", &name]);
            let to = run.started.elapsed();
            std::thread::sleep(Duration::from_millis(500));
            let seen = run.finish();
            during.extend(
                seen.samples
                    .into_iter()
                    .filter(|s| s.at >= from && s.at <= to),
            );
        }
        let refs: Vec<&load::Sample> = during.iter().collect();
        let p99 = load::quantile(&refs, 0.99);
        report.row(
            "(f) nginx as the app, control: p99 while the engine starts and removes a container, nothing switched",
            format!(
                "{} ({:.2}× steady; n={})",
                ms(p99),
                p99 / steady_p99,
                during.len()
            ),
            "",
            None,
        );
    }

    /// A steady state of `connections` for 3 s, then `cutovers` deploys under the same load.
    fn under_load(
        &self,
        target: &Target,
        connections: usize,
        cutovers: usize,
        proxy: &str,
    ) -> UnderLoad {
        let Target {
            addr,
            host,
            path,
            dir,
            app,
            images,
        } = target;
        let (addr, host, path, dir, app) = (*addr, *host, *path, dir.as_path(), app.as_str());
        let keep_log = std::env::var_os("BENCH_NGINX_LOG").is_some();
        let steady = load::Load::start(addr, host, path, connections, Duration::from_secs(4))
            .wait_and_finish(Duration::from_secs(3));
        let steady_refs: Vec<&load::Sample> = steady.samples.iter().collect();
        let mut out = UnderLoad {
            connections,
            cutovers,
            steady_rate: steady.samples.len() as f64 / steady.elapsed.as_secs_f64(),
            steady_p50: load::quantile(&steady_refs, 0.5),
            steady_p99: load::quantile(&steady_refs, 0.99),
            sent: steady.samples.len(),
            retried: steady.retried,
            ..UnderLoad::default()
        };
        for s in steady.samples.iter().filter_map(|s| s.failure) {
            *out.failures.entry(s).or_default() += 1;
        }
        let mut during: Vec<load::Sample> = Vec::new();
        let mut up_secs = Vec::new();
        for i in 0..cutovers {
            let image = images[i % 2];
            let run = load::Load::start(addr, host, path, connections, Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(500));
            let from = run.started.elapsed();
            let t = self.up(dir, app, image);
            let to = run.started.elapsed();
            up_secs.push(t.wall.as_secs_f64());
            std::thread::sleep(Duration::from_millis(500));
            let seen = run.finish();
            out.sent += seen.samples.len();
            out.retried += seen.retried;
            for s in seen.samples.iter().filter_map(|s| s.failure) {
                *out.failures.entry(s).or_default() += 1;
            }
            if keep_log {
                // When each failure happened, against the steps of `up` (ms from its start).
                let base = t.lines.first().map_or(0.0, |(at, _, _)| *at);
                for (at, _, v) in &t.lines {
                    if v["event"] == "step_started" || v["event"] == "step_finished" {
                        eprintln!(
                            "  {:>6.0} ms {} {} {}",
                            (at - base) * 1000.0,
                            v["event"].as_str().unwrap_or(""),
                            v["n"],
                            v["step"]["description"].as_str().unwrap_or("")
                        );
                    }
                }
                for f in seen.samples.iter().filter(|s| !s.ok) {
                    let at = (f.at.as_secs_f64() - from.as_secs_f64() - base) * 1000.0;
                    eprintln!(
                        "  {at:>6.0} ms FAILED {:?} after {:.0} ms",
                        f.failure,
                        f.latency.as_secs_f64() * 1000.0
                    );
                }
            }
            during.extend(seen.samples.iter().filter(|s| s.at >= from && s.at <= to));
            let serving = load::Load::start(addr, host, path, 1, Duration::from_secs(1))
                .wait_and_finish(Duration::from_millis(100));
            assert!(
                serving.samples.iter().all(|s| s.ok),
                "nginx does not serve {image} after the cutover"
            );
        }
        if keep_log {
            // The access log is large: filtered before it reaches a pipe.
            let script = format!("docker logs {proxy} 2>&1 | grep -E '\\[(error|warn|crit)\\]'");
            for line in run("sh", &["-c", &script], None).stdout.lines() {
                eprintln!("nginx: {line}");
            }
        }
        let during_refs: Vec<&load::Sample> = during.iter().collect();
        out.during = during.len();
        out.cut_p50 = load::quantile(&during_refs, 0.5);
        out.cut_p99 = load::quantile(&during_refs, 0.99);
        out.up = median(&up_secs);
        out
    }
}

/// An app behind the proxy, as (f) loads it.
struct Target {
    addr: std::net::SocketAddr,
    host: &'static str,
    path: &'static str,
    dir: PathBuf,
    app: String,
    /// Deployed in turn.
    images: [&'static str; 2],
}

/// The number of keep-alive connections (of 2, 4, 8, 16, 32; 1 s each) with the highest
/// rate; `BENCH_CONNECTIONS=N` skips the search.
fn fastest(t: &Target) -> usize {
    if let Some(n) = std::env::var("BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    let mut best = (2, 0.0);
    for connections in [2, 4, 8, 16, 32] {
        let seen = load::Load::start(t.addr, t.host, t.path, connections, Duration::from_secs(1))
            .wait_and_finish(Duration::from_secs(1));
        let rate = seen.samples.iter().filter(|s| s.ok).count() as f64 / seen.elapsed.as_secs_f64();
        if rate > best.1 {
            best = (connections, rate);
        }
    }
    best.0
}

/// What (f) saw at one load.
#[derive(Default)]
struct UnderLoad {
    connections: usize,
    cutovers: usize,
    steady_rate: f64,
    steady_p50: f64,
    steady_p99: f64,
    cut_p50: f64,
    cut_p99: f64,
    /// Requests sent while `up` ran.
    during: usize,
    up: f64,
    sent: usize,
    retried: usize,
    failures: BTreeMap<&'static str, usize>,
}

impl UnderLoad {
    fn report(&self, report: &mut Report, label: &str, judged: bool) {
        let failed: usize = self.failures.values().sum();
        let why: Vec<String> = self
            .failures
            .iter()
            .map(|(w, n)| format!("{n} × {w}"))
            .collect();
        let ratio = self.cut_p99 / self.steady_p99;
        let verdict = |ok: bool| judged.then_some(ok);
        report.row(
            &format!("(f) {label}: keep-alive connections, steady rate"),
            format!(
                "{} connections, {:.0} req/s",
                self.connections, self.steady_rate
            ),
            "",
            None,
        );
        report.row(
            &format!(
                "(f) {label}: failed requests, steady + {} cutovers",
                self.cutovers
            ),
            format!(
                "{failed} of {}{}; {} resent on a new connection after nginx closed an idle one",
                self.sent,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join(", "))
                },
                self.retried
            ),
            "0",
            verdict(failed == 0),
        );
        report.row(
            &format!("(f) {label}: latency p50 / p99, steady → while `up` runs"),
            format!(
                "{} / {} → {} / {} (n={}, `up` {})",
                ms(self.steady_p50),
                ms(self.steady_p99),
                ms(self.cut_p50),
                ms(self.cut_p99),
                self.during,
                ms(self.up)
            ),
            "",
            None,
        );
        report.row(
            &format!("(f) {label}: p99 during cutover / p99 steady"),
            format!("{ratio:.2}×"),
            "≤ 2×",
            verdict(ratio <= 2.0),
        );
    }
}

/// The host names nginx routes to the apps in (f).
const HOST: &str = "bench.test";
const HOST_G: &str = "bench-nginx.test";
/// What the nginx image answers 200 to, without an access log line.
const PROXY_HEALTH: &str = "/__bgdeploy_proxy_health";
const NGINX: &str = "bgdeploy-nginx:latest";

/// nginx's own health location answers on `addr`.
fn proxy_answers(addr: std::net::SocketAddr) -> bool {
    let seen = load::Load::start(
        addr,
        "localhost",
        "/__bgdeploy_proxy_health",
        1,
        Duration::from_secs(1),
    )
    .wait_and_finish(Duration::from_millis(50));
    !seen.samples.is_empty() && seen.samples.iter().all(|s| s.ok)
}
