//! Health waits (deploy step 4) against real containers of the demo image: each mode healthy,
//! failing with a useful message, and a dying container ending the wait at once. Also the
//! engine calls they rest on: exec, logs, health events.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime};

use bgdeploy::engine::{EXEC_OUTPUT_LIMIT, Engine, EngineError, HealthEvent};
use bgdeploy::health::{HealthError, ProbeReport, failure_report, wait_healthy};
use bgdeploy::spec::{Health, HealthCheck, StatusRange};
use futures_util::StreamExt;

use crate::harness::{
    DEMO_HC, DEMO_V1, TestEnv, docker, docker_output, inspect_json, require_engine, require_images,
};

const INTERVAL: Duration = Duration::from_millis(200);

/// One demo container on its own user network, reachable from the host at `ip`
/// (unspecified when it exited at once).
struct App {
    env: TestEnv,
    engine: Engine,
    id: String,
    name: String,
    ip: IpAddr,
}

impl App {
    /// `None` when there is no engine (and `CI` is unset).
    async fn start(image: &str, args: &[&str]) -> Option<App> {
        let engine = require_engine().await?;
        require_images();
        let env = TestEnv::new();
        let net = env.name("net");
        env.network(&net).create();
        let name = env.name("app");
        let id = args
            .iter()
            .fold(env.container(&name).image(image).network(&net), |c, a| {
                c.arg(a)
            })
            .run();
        // A container that already exited has no address; the wait must not need one then.
        let ip = inspect_json(&id)["NetworkSettings"]["Networks"][&net]["IPAddress"]
            .as_str()
            .and_then(|ip| ip.parse().ok())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Some(App {
            env,
            engine,
            id,
            name,
            ip,
        })
    }

    /// Waits with `check`, returning the outcome, every probe report and the time it took.
    async fn wait(
        &self,
        check: HealthCheck,
        deadline: Duration,
    ) -> (Result<(), HealthError>, Vec<ProbeReport>, Duration) {
        let health = Health {
            check,
            interval: INTERVAL,
            timeout: Duration::from_secs(1),
            healthy: 1,
            deadline,
        };
        let mut reports = Vec::new();
        let started = Instant::now();
        let outcome = wait_healthy(&self.engine, &self.id, self.ip, 8080, &health, &mut |r| {
            reports.push(r.clone())
        })
        .await;
        (outcome, reports, started.elapsed())
    }
}

fn http(path: &str, low: u16, high: u16) -> HealthCheck {
    HealthCheck::Http {
        path: path.into(),
        expect: StatusRange { low, high },
    }
}

fn cmd(argv: &[&str]) -> HealthCheck {
    HealthCheck::Cmd {
        argv: argv.iter().map(|a| a.to_string()).collect(),
    }
}

/// When the demo app wrote "ready after", on the engine's clock (its log timestamps).
fn ready_at(container: &str) -> SystemTime {
    // The demo app writes it to stderr, which `docker logs` passes on as its own.
    let out = docker_output(&["logs", "--timestamps", container]);
    let all = String::from_utf8_lossy(&out.stderr);
    let line = all
        .lines()
        .find(|l| l.contains("ready after"))
        .unwrap_or_else(|| panic!("no readiness line in the logs of {container}:\n{all}"));
    let stamp = line.split_whitespace().next().unwrap_or_default();
    humantime::parse_rfc3339_weak(stamp).unwrap_or_else(|e| panic!("{stamp}: {e}"))
}

#[tokio::test]
async fn http_waits_for_a_slow_start() {
    let Some(app) = App::start(DEMO_V1, &["-e", "READY_DELAY=2"]).await else {
        return;
    };
    let (outcome, reports, took) = app
        .wait(http("/up", 200, 399), Duration::from_secs(20))
        .await;
    let returned = SystemTime::now();
    outcome.expect("healthy");
    assert!(
        took > Duration::from_millis(1500) && took < Duration::from_secs(10),
        "took {took:?}"
    );
    assert!(reports.len() > 1, "{reports:?}");
    assert_eq!(reports[0].attempt, 1);
    assert!(!reports[0].probe.passed(), "{reports:?}");
    // The very first probes may find httpd not listening yet ("connection refused").
    assert!(
        reports
            .iter()
            .any(|r| r.probe.text() == "GET /up → 404 Not Found"),
        "{reports:?}"
    );
    let last = reports.last().expect("a report");
    assert!(last.probe.passed(), "{last:?}");
    assert!(last.probe.text().contains("GET /up → 200"), "{last:?}");

    let latency = returned
        .duration_since(ready_at(&app.id))
        .unwrap_or_default();
    eprintln!(
        "http health detection latency: {latency:?} (interval {INTERVAL:?}, {} probes)",
        reports.len()
    );
    assert!(latency < INTERVAL + Duration::from_secs(1), "{latency:?}");
}

#[tokio::test]
async fn http_times_out_with_the_last_answer_and_expect_can_accept_it() {
    let Some(app) = App::start(DEMO_V1, &["-e", "NEVER_HEALTHY=1"]).await else {
        return;
    };
    let (outcome, reports, took) = app
        .wait(http("/up", 200, 399), Duration::from_secs(2))
        .await;
    let err = outcome.expect_err("never healthy");
    let HealthError::Timeout {
        attempts, ref last, ..
    } = err
    else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!(attempts as usize, reports.len());
    assert!(attempts >= 5, "{attempts} attempts in 2s at {INTERVAL:?}");
    assert_eq!(last, "GET /up → 404 Not Found");
    let text = err.to_string();
    for needle in [
        app.name.as_str(),
        "404",
        "/up",
        "within 2s",
        "health.deadline",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(took < Duration::from_secs(3), "took {took:?}");

    let (outcome, _, _) = app
        .wait(http("/up", 404, 404), Duration::from_secs(5))
        .await;
    outcome.expect("404 is what `expect: 404` asks for");
}

#[tokio::test]
async fn tcp_connects_or_names_the_refusal() {
    let Some(app) = App::start(DEMO_V1, &[]).await else {
        return;
    };
    let (outcome, reports, _) = app
        .wait(HealthCheck::Tcp { port: 8080 }, Duration::from_secs(10))
        .await;
    outcome.expect("port 8080 accepts connections");
    assert!(
        reports.last().is_some_and(|r| r.probe.passed()),
        "{reports:?}"
    );

    let (outcome, _, took) = app
        .wait(HealthCheck::Tcp { port: 9 }, Duration::from_secs(1))
        .await;
    let err = outcome.expect_err("nothing listens on port 9");
    assert!(matches!(err, HealthError::Timeout { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("connection refused"), "{text}");
    assert!(text.contains(&format!("{}:9", app.ip)), "{text}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn cmd_runs_in_the_container() {
    let Some(app) = App::start(DEMO_V1, &["-e", "READY_DELAY=1"]).await else {
        return;
    };
    let (outcome, reports, _) = app
        .wait(
            cmd(&["sh", "-c", "test -f /www/up"]),
            Duration::from_secs(10),
        )
        .await;
    outcome.expect("/www/up appears after a second");
    assert!(reports.len() > 1, "{reports:?}");
    assert!(
        reports[0].probe.text().contains("exit 1"),
        "{:?}",
        reports[0]
    );

    let (outcome, _, _) = app
        .wait(
            cmd(&[
                "sh",
                "-c",
                "echo checking; echo 'db: connection refused' >&2; exit 4",
            ]),
            Duration::from_secs(1),
        )
        .await;
    let err = outcome.expect_err("exit 4");
    let HealthError::Timeout { ref last, .. } = err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert!(last.ends_with("→ exit 4: db: connection refused"), "{last}");
    assert!(err.to_string().contains("docker exec"), "{err}");
}

#[tokio::test]
async fn docker_mode_follows_the_images_healthcheck() {
    let Some(app) = App::start(DEMO_HC, &["-e", "READY_DELAY=1"]).await else {
        return;
    };
    let (outcome, reports, took) = app.wait(HealthCheck::Docker, Duration::from_secs(20)).await;
    let returned = SystemTime::now();
    outcome.expect("the HEALTHCHECK turns healthy");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // The engine emits the event as it records the first passing check.
    let first_pass = inspect_json(&app.id)["State"]["Health"]["Log"]
        .as_array()
        .and_then(|log| log.iter().find(|entry| entry["ExitCode"] == 0))
        .and_then(|entry| entry["End"].as_str())
        .and_then(|end| humantime::parse_rfc3339_weak(end).ok())
        .expect("a passing check in the engine's health log");
    let latency = returned.duration_since(first_pass).unwrap_or_default();
    eprintln!("docker health detection latency: {latency:?} (from the passing check's end)");
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    assert!(
        reports.last().is_some_and(|r| r.probe.passed()),
        "{reports:?}"
    );

    // Already healthy: answered from the inspect, without waiting for a change that won't come.
    let (outcome, reports, took) = app.wait(HealthCheck::Docker, Duration::from_secs(20)).await;
    outcome.expect("still healthy");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn docker_mode_reports_an_unhealthy_image_and_a_missing_healthcheck() {
    let Some(app) = App::start(DEMO_HC, &["-e", "NEVER_HEALTHY=1"]).await else {
        return;
    };
    let (outcome, reports, took) = app.wait(HealthCheck::Docker, Duration::from_secs(6)).await;
    let err = outcome.expect_err("never healthy");
    let HealthError::Timeout {
        mode,
        ref last,
        attempts,
        ..
    } = err
    else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!(mode, "docker");
    // interval 1s, retries 3: unhealthy after ~3s, reported by an event before the deadline.
    assert!(
        reports.iter().any(|r| r.probe.text().contains("unhealthy")),
        "{reports:?}"
    );
    assert!(last.starts_with("unhealthy"), "{last}");
    assert!(last.contains("404"), "the check's own output: {last}");
    assert!(attempts >= 3, "{attempts}");
    assert!(took < Duration::from_secs(8), "took {took:?}");

    // The same app without a HEALTHCHECK: nothing to wait for, said at once.
    let plain = app.env.name("plain");
    let net = app.env.name("net");
    let id = app.env.container(&plain).network(&net).run();
    let started = Instant::now();
    let err = wait_healthy(
        &app.engine,
        &id,
        app.ip,
        8080,
        &Health {
            check: HealthCheck::Docker,
            interval: INTERVAL,
            timeout: Duration::from_secs(1),
            healthy: 1,
            deadline: Duration::from_secs(30),
        },
        &mut |_| {},
    )
    .await
    .expect_err("no HEALTHCHECK");
    assert!(started.elapsed() < Duration::from_secs(2));
    let HealthError::NoHealthcheck { ref image, .. } = err else {
        panic!("expected NoHealthcheck, got {err:?}");
    };
    assert_eq!(image, DEMO_V1);
    assert!(err.to_string().contains("health.http"), "{err}");
}

#[tokio::test]
async fn a_death_ends_the_wait_at_once() {
    let Some(app) = App::start(DEMO_V1, &["-e", "NEVER_HEALTHY=1"]).await else {
        return;
    };
    let victim = app.id.clone();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        docker(&["kill", &victim]);
    });
    let (outcome, reports, took) = app
        .wait(http("/up", 200, 399), Duration::from_secs(60))
        .await;
    killer.join().expect("the killer thread");
    let err = outcome.expect_err("killed");
    assert!(
        matches!(
            err,
            HealthError::Died {
                exit_code: Some(137),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(!reports.is_empty());

    // The report carries the container's last words.
    let report = failure_report(&app.engine, &app.id, &err).await;
    assert!(report.contains("exit code 137"), "{report}");
    assert!(report.contains("NEVER_HEALTHY=1"), "{report}");
    assert!(
        report.contains("  | demo-app v1 listening on :8080"),
        "{report}"
    );

    // Dead before the wait began: known from the inspect (in every mode).
    for check in [HealthCheck::Docker, HealthCheck::Tcp { port: 8080 }] {
        let (outcome, _, took) = app.wait(check, Duration::from_secs(60)).await;
        let err = outcome.expect_err("dead");
        assert!(
            matches!(
                err,
                HealthError::Died {
                    exit_code: Some(137),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }
}

#[tokio::test]
async fn docker_mode_notices_a_death_and_exit_codes_come_through() {
    // `/bin/false` as the entrypoint gets the image's CMD as arguments and exits 1 at once.
    let Some(app) = App::start(DEMO_HC, &["--entrypoint", "/bin/false"]).await else {
        return;
    };
    let (outcome, _, _) = app.wait(HealthCheck::Docker, Duration::from_secs(30)).await;
    let err = outcome.expect_err("exited");
    assert!(
        matches!(
            err,
            HealthError::Died {
                exit_code: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    let report = failure_report(&app.engine, &app.id, &err).await;
    assert!(report.contains("wrote nothing to its log"), "{report}");

    // While waiting on the HEALTHCHECK: the `die` event ends it.
    let net = app.env.name("net");
    let name = app.env.name("hc");
    let id = app
        .env
        .container(&name)
        .image(DEMO_HC)
        .network(&net)
        .arg("-e")
        .arg("NEVER_HEALTHY=1")
        .run();
    let victim = id.clone();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        docker(&["kill", &victim]);
    });
    let started = Instant::now();
    let err = wait_healthy(
        &app.engine,
        &id,
        app.ip,
        8080,
        &Health {
            check: HealthCheck::Docker,
            interval: INTERVAL,
            timeout: Duration::from_secs(1),
            healthy: 1,
            deadline: Duration::from_secs(60),
        },
        &mut |_| {},
    )
    .await
    .expect_err("killed");
    killer.join().expect("the killer thread");
    assert!(
        matches!(
            err,
            HealthError::Died {
                exit_code: Some(137),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn missing_containers_are_gone() {
    let Some(app) = App::start(DEMO_V1, &[]).await else {
        return;
    };
    let ghost = app.env.name("ghost");
    let err = wait_healthy(
        &app.engine,
        &ghost,
        app.ip,
        8080,
        &Health {
            check: HealthCheck::Tcp { port: 8080 },
            interval: INTERVAL,
            timeout: Duration::from_secs(1),
            healthy: 1,
            deadline: Duration::from_secs(5),
        },
        &mut |_| {},
    )
    .await
    .expect_err("no such container");
    assert!(matches!(err, HealthError::Gone { .. }), "{err:?}");
}

#[tokio::test]
async fn exec_logs_and_events_round_trip() {
    let Some(app) = App::start(DEMO_V1, &[]).await else {
        return;
    };
    let engine = &app.engine;

    let out = engine
        .exec(&app.id, &["sh", "-c", "echo out; echo err >&2; exit 7"])
        .await
        .expect("exec");
    assert_eq!(
        (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
        (7, "out\n", "err\n")
    );
    let big = engine
        .exec(
            &app.id,
            &["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a"],
        )
        .await
        .expect("exec");
    assert_eq!(big.exit_code, 0);
    assert_eq!(big.stdout.len(), EXEC_OUTPUT_LIMIT);
    let missing = engine
        .exec(&app.id, &["/no/such/binary"])
        .await
        .expect("the engine runs it and reports the failure");
    assert_ne!(missing.exit_code, 0, "{missing:?}");
    assert!(missing.stdout.contains("no such file"), "{missing:?}");

    // Lines written to PID 1's stdout and stderr land in the container's log.
    engine
        .exec(
            &app.id,
            &[
                "sh",
                "-c",
                // Apart in time: the engine copies stdout and stderr separately.
                "echo first >/proc/1/fd/1; sleep 0.2; echo second >/proc/1/fd/2; sleep 0.2; \
                 echo third >/proc/1/fd/1",
            ],
        )
        .await
        .expect("exec");
    let mut tail = String::new();
    // The engine writes the log a moment after the process does.
    for _ in 0..50 {
        tail = engine.logs_tail(&app.id, 2).await.expect("logs");
        if tail.ends_with("third\n") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tail, "second\nthird\n");
    let all = engine.logs_tail(&app.id, 100).await.expect("logs");
    assert!(
        all.contains("listening on :8080") && all.ends_with("third\n"),
        "{all}"
    );

    // A death before the subscription is replayed from `since`.
    let started_at = engine
        .container_state(&app.id)
        .await
        .expect("inspect")
        .and_then(|s| s.started_at)
        .expect("a start time");
    docker(&["kill", &app.id]);
    let mut events = engine.health_events(&app.id, Some(started_at));
    let first = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10s");
    assert!(
        matches!(
            first,
            Some(Ok(HealthEvent::Died {
                exit_code: Some(137)
            }))
        ),
        "{first:?}"
    );

    let err = engine
        .exec(&app.id, &["true"])
        .await
        .expect_err("not running");
    assert!(matches!(err, EngineError::Exec { .. }), "{err:?}");
    assert!(err.to_string().contains(&app.id), "{err}");
    let ghost = app.env.name("ghost");
    let err = engine
        .logs_tail(&ghost, 5)
        .await
        .expect_err("no such container");
    assert!(matches!(err, EngineError::Logs { .. }), "{err:?}");
}

#[tokio::test]
async fn cancelling_a_wait_leaves_no_task_behind() {
    let Some(app) = App::start(DEMO_HC, &["-e", "NEVER_HEALTHY=1"]).await else {
        return;
    };
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    for check in [
        cmd(&["sleep", "5"]),
        http("/cgi-bin/slow?5", 200, 399),
        HealthCheck::Docker,
    ] {
        let health = Health {
            check,
            interval: INTERVAL,
            timeout: Duration::from_secs(10),
            healthy: 1,
            deadline: Duration::from_secs(60),
        };
        let started = Instant::now();
        // As the executor does with Ctrl-C: the wait is dropped in the middle of a probe.
        let mut on_probe = |_: &ProbeReport| {};
        let wait = wait_healthy(&app.engine, &app.id, app.ip, 8080, &health, &mut on_probe);
        let cancelled = tokio::time::timeout(Duration::from_millis(500), wait).await;
        assert!(cancelled.is_err(), "{cancelled:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    // Connections the dropped requests used wind down; nothing else may be left running.
    let mut alive = metrics.num_alive_tasks();
    for _ in 0..50 {
        if alive <= before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        alive = metrics.num_alive_tasks();
    }
    assert!(
        alive <= before,
        "{alive} tasks alive, {before} before the waits"
    );
}
