//! `bgdeploy up` against the real engine: the blue-green deploy, its failure paths and
//! its default-route safety (DESIGN.md §2, issue 3).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::engines::{OnEngine, kernel_routes};
use crate::harness::{DEMO_V1, DEMO_V2, TestEnv, docker, require_engine, require_images, snapshot};
use crate::on_engines;

/// App `<prefix>shop`, stage `stage`, proxy driver none.
pub fn spec(env: &TestEnv, image: &str, extra: &str) -> (String, String) {
    let app = env.name("shop");
    let yaml = format!(
        "apps:\n  {app}:\n    image: {image}\n    port: 8080\n    health: {{http: /up, interval: 100ms, deadline: 20s}}\n    drain: 1s\n    stop_timeout: 2s\n    keep: 1\n{extra}    stages:\n      stage: {{}}\n"
    );
    (app, yaml)
}

/// Names of the app's release containers (not the lock), by state, on the machine's engine.
pub fn containers(app: &str, running_only: bool) -> Vec<String> {
    list_releases(&docker, app, running_only)
}

/// `containers` on `env`'s engine (the machine's or a test host's).
pub fn containers_on(env: &TestEnv, app: &str, running_only: bool) -> Vec<String> {
    list_releases(&|args: &[&str]| env.docker(args), app, running_only)
}

fn list_releases(docker: &dyn Fn(&[&str]) -> String, app: &str, running_only: bool) -> Vec<String> {
    let mut args = vec![
        "ps".to_string(),
        "-a".into(),
        "--filter".into(),
        format!("label=bgdeploy.app={app}"),
        "--filter".into(),
        "label=bgdeploy.kind=app".into(),
        "--format".into(),
        "{{.Names}}".into(),
    ];
    if running_only {
        args.extend(["--filter".into(), "status=running".into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut names: Vec<String> = docker(&args).lines().map(str::to_string).collect();
    names.sort();
    names
}

/// The running containers attached to FRONT_<app>_stage.
pub fn live(app: &str) -> Vec<String> {
    live_releases(&docker, app)
}

/// `live` on `env`'s engine.
pub fn live_on(env: &TestEnv, app: &str) -> Vec<String> {
    live_releases(&|args: &[&str]| env.docker(args), app)
}

fn live_releases(docker: &dyn Fn(&[&str]) -> String, app: &str) -> Vec<String> {
    let front = format!("FRONT_{app}_stage");
    list_releases(docker, app, true)
        .into_iter()
        .filter(|c| {
            docker(&["inspect", "-f", "{{json .NetworkSettings.Networks}}", c]).contains(&front)
        })
        .collect()
}

/// Whether `container` answers `/version` with `version`, asked from inside it (busybox
/// `wget` in the demo image): works on every engine, also where nothing routes from here
/// to its networks (a test host).
pub fn serves_on(env: &TestEnv, container: &str, version: &str) -> bool {
    env.quiet_docker(&[
        "exec",
        container,
        "wget",
        "-qO-",
        "http://127.0.0.1:8080/version",
    ])
    .is_ok_and(|body| body.trim() == version)
}

pub fn back_ip(app: &str, container: &str) -> String {
    let template =
        format!("{{{{(index .NetworkSettings.Networks \"BACK_{app}_stage\").IPAddress}}}}");
    docker(&["inspect", "-f", &template, container])
        .trim()
        .to_string()
}

/// GET over plain TCP from the host (busybox wget segfaults on the host; no curl needed).
pub fn http_get(ip: &str, path: &str) -> Option<String> {
    let mut s =
        TcpStream::connect_timeout(&format!("{ip}:8080").parse().ok()?, Duration::from_secs(2))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let status = body.split_whitespace().nth(1)?;
    (status == "200").then(|| body.rsplit("\r\n\r\n").next().unwrap_or("").to_string())
}

pub fn serves(app: &str, container: &str, version: &str) -> bool {
    http_get(&back_ip(app, container), "/version").is_some_and(|b| b.trim() == version)
}

pub fn up(env: &TestEnv, yaml: &str, app: &str, extra: &[&str]) -> crate::harness::cli::Run {
    let mut args = vec!["up", app, "stage"];
    args.extend_from_slice(extra);
    env.bgdeploy()
        .args(args)
        .spec(yaml)
        .timeout(Duration::from_secs(90))
        .run()
}

on_engines!(
    deploys_replace_each_other_and_keep_is_honoured,
    replace_and_keep
);

async fn replace_and_keep(engine: OnEngine) {
    let Some(env) = engine.env().await else {
        return;
    };
    let (app, yaml) = spec(&env, DEMO_V1, "");
    let containers = |app: &str, running| containers_on(&env, app, running);
    let live = |app: &str| live_on(&env, app);
    let serves = |_: &str, c: &str, version| serves_on(&env, c, version);

    let first = up(&env, &yaml, &app, &[]);
    first
        .assert_success()
        .stdout_contains("is live")
        .stdout_contains(&format!("BACK_{app}_stage"));
    let blue = live(&app);
    assert_eq!(blue.len(), 1, "{blue:?}");
    assert!(serves(&app, &blue[0], "v1"));

    let second = up(&env, &yaml, &app, &["--image", DEMO_V2]);
    second.assert_success();
    let green = live(&app);
    assert_eq!(green.len(), 1, "{green:?}");
    assert_ne!(green, blue);
    assert!(serves(&app, &green[0], "v2"));
    assert_eq!(containers(&app, true), green, "only the new release runs");
    assert!(
        containers(&app, false).contains(&blue[0]),
        "the old release is kept, stopped"
    );

    // keep: 1 — the third deploy removes the first release and keeps the second.
    let third = up(&env, &yaml, &app, &["--output", "json"]);
    third.assert_success();
    let lines = third.json_lines();
    let result = lines.last().expect("a result line");
    assert_eq!(result["event"], "result");
    assert_eq!(result["ok"], true);
    assert!(
        lines.iter().any(|l| l["event"] == "step_finished"),
        "{lines:?}"
    );
    // DESIGN.md §3: every event names its host ("default" for the one engine) and the run,
    // one id for the whole run, as a fleet's events do.
    let run_id = &result["run"];
    assert!(run_id.is_string(), "{result}");
    for l in &lines {
        assert_eq!(l["host"], "default", "{l}");
        assert_eq!(&l["run"], run_id, "{l}");
    }
    let now = containers(&app, false);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        !now.contains(&blue[0]),
        "retired beyond keep must go: {now:?}"
    );
    assert!(now.contains(&green[0]));
}

on_engines!(
    a_release_that_never_gets_healthy_leaves_the_live_one_serving,
    never_healthy
);

async fn never_healthy(engine: OnEngine) {
    let Some(env) = engine.env().await else {
        return;
    };
    let (app, yaml) = spec(&env, DEMO_V1, "");
    let containers = |app: &str, running| containers_on(&env, app, running);
    let live = |app: &str| live_on(&env, app);
    let serves = |_: &str, c: &str, version| serves_on(&env, c, version);
    up(&env, &yaml, &app, &[]).assert_success();
    let before = live(&app);

    let broken = yaml
        .replace("deadline: 20s", "deadline: 2s")
        .replace("    drain:", "    env: {NEVER_HEALTHY: \"1\"}\n    drain:");
    let run = up(&env, &broken, &app, &["--image", DEMO_V2]);
    run.assert_code(1)
        .stderr_contains("/up")
        .stderr_contains("404");
    assert_eq!(live(&app), before);
    assert!(serves(&app, &before[0], "v1"));
    assert_eq!(
        containers(&app, false),
        before,
        "nothing of the failed release is left"
    );
}

on_engines!(an_extra_network_sorting_before_back, extra_network_first);

/// `networks: [AAA_…]` sorts before `BACK_`. Engine 20.10: `plan` warns (reason: name
/// order), `up` stops with exit 5 naming the network and the rule, and the live release is
/// untouched. Engine 28: bgdeploy's GwPriority keeps the route on `BACK_` — `plan` says so
/// (reason: priority), `up` succeeds, and the kernel agrees.
async fn extra_network_first(engine: OnEngine) {
    let Some(env) = engine.env().await else {
        return;
    };
    let (app, yaml) = spec(&env, DEMO_V1, "");
    up(&env, &yaml, &app, &[]).assert_success();
    let before = live_on(&env, &app);
    let back = format!("BACK_{app}_stage");

    let early = format!("AAA_{}", env.name("redis"));
    env.network(&early).create();
    let with_extra = yaml.replace(
        "    drain:",
        &format!("    networks: [{early}]\n    drain:"),
    );
    let plan = env
        .bgdeploy()
        .args(["plan", app.as_str(), "stage", "--output", "json"])
        .spec(&with_extra)
        .run();
    plan.assert_success();
    let plan = plan.json();
    let attach = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["action"] == "connect_network" && s["network"] == early.as_str())
        .expect("the extra network's attach")
        .clone();
    let run = up(&env, &with_extra, &app, &["--image", DEMO_V2]);
    match engine {
        OnEngine::Machine20 => {
            assert_eq!(attach["route"]["after"], early.as_str(), "{attach}");
            assert_eq!(attach["route"]["reason"], "name_order", "{attach}");
            assert_eq!(plan["warnings"][0]["code"], "route_moves", "{plan}");
            run.assert_code(5)
                .stderr_contains(&early)
                .stderr_contains("sorts first (byte-wise)");
            assert_eq!(live_on(&env, &app), before);
            assert!(serves_on(&env, &before[0], "v1"));
            assert_eq!(
                containers_on(&env, &app, false),
                before,
                "nothing of the refused release is left"
            );
        }
        OnEngine::Host28 => {
            assert_eq!(attach["route"]["after"], back.as_str(), "{attach}");
            assert_eq!(attach["route"]["reason"], "priority", "{attach}");
            assert_eq!(attach["gw_priority"], 0, "{attach}");
            assert!(
                plan["warnings"].as_array().is_none_or(Vec::is_empty),
                "{plan}"
            );
            run.assert_success();
            let now = live_on(&env, &app);
            assert_eq!(now.len(), 1, "{now:?}");
            assert!(serves_on(&env, &now[0], "v2"));
            assert_eq!(
                kernel_routes(&env, &now[0])[0].as_deref(),
                Some(back.as_str())
            );
            // A one-off of the release joins the same networks with the same priorities: its
            // route is on BACK_ too (its own table, read inside it).
            let table = env
                .bgdeploy()
                .args([
                    "exec",
                    app.as_str(),
                    "stage",
                    "--one-off",
                    "--",
                    "cat",
                    "/proc/net/route",
                ])
                .spec(&with_extra)
                .timeout(Duration::from_secs(60))
                .run();
            table.assert_success();
            let gateway = bgdeploy::route::parse_ipv4_route_table(&table.stdout)
                .map(|r| r.gateway.to_string());
            let back_gateway = env.docker(&[
                "network",
                "inspect",
                "-f",
                "{{(index .IPAM.Config 0).Gateway}}",
                &back,
            ]);
            assert_eq!(
                gateway.as_deref(),
                Some(back_gateway.as_str()),
                "{}",
                table.stdout
            );
        }
    }
}

/// Waits until a second release container is running (the deploy is in its health wait).
fn wait_for_second_release(app: &str) {
    let t = Instant::now();
    while containers(app, true).len() < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the new release never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// Deploys v1, then starts deploying v2 with a release that needs 60 s to get ready, and
/// returns (the live release, the running deploy) once that deploy is in its health wait.
fn deploy_then_start_a_slow_one(
    env: &TestEnv,
    app: &str,
    yaml: &str,
) -> (Vec<String>, crate::harness::cli::Running) {
    up(env, yaml, app, &[]).assert_success();
    let before = live(app);
    let slow = yaml
        .replace("    drain:", "    env: {READY_DELAY: \"60\"}\n    drain:")
        .replace("deadline: 20s", "deadline: 90s");
    let running = env
        .bgdeploy()
        .args(["up", app, "stage", "--image", DEMO_V2])
        .spec(&slow)
        .timeout(Duration::from_secs(60))
        .spawn();
    wait_for_second_release(app);
    (before, running)
}

#[tokio::test]
async fn sigint_during_the_health_wait_cleans_up_and_exits_1() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    let (before, running) = deploy_then_start_a_slow_one(&env, &app, &yaml);
    running.signal("INT");
    let run = running.wait();
    run.assert_code(1).stderr_contains("interrupted");
    assert_eq!(live(&app), before);
    assert!(serves(&app, &before[0], "v1"));
    assert_eq!(
        containers(&app, false),
        before,
        "the interrupted release is removed"
    );
    let lock = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={app}_stage_lock"),
        "--format",
        "{{.Names}}",
    ]);
    assert!(lock.trim().is_empty(), "the lock is released: {lock}");
}

#[tokio::test]
async fn after_kill_9_the_next_up_converges() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    let (before, running) = deploy_then_start_a_slow_one(&env, &app, &yaml);
    running.signal("KILL");
    let _ = running.wait();
    assert_eq!(
        live(&app),
        before,
        "kill -9 must not touch the live release"
    );
    assert!(serves(&app, &before[0], "v1"));

    let next = up(&env, &yaml, &app, &["--image", DEMO_V2]);
    next.assert_success().stdout_contains("stale");
    let running = containers(&app, true);
    assert_eq!(running.len(), 1, "exactly one release runs: {running:?}");
    assert!(serves(&app, &running[0], "v2"));
}

#[tokio::test]
async fn a_missing_image_fails_with_exit_1_and_changes_nothing() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    up(&env, &yaml, &app, &[]).assert_success();
    let before = snapshot(env.prefix());
    let missing = format!("{}-nope:1", env.prefix().trim_end_matches('_'));
    let run = up(&env, &yaml, &app, &["--image", &missing]);
    run.assert_code(1).stderr_contains(&missing);
    assert_eq!(before, snapshot(env.prefix()), "the engine changed");
    let never = up(&env, &yaml, &app, &["--image", &missing, "--pull", "never"]);
    never.assert_code(1).stderr_contains("--pull never");
    assert_eq!(before, snapshot(env.prefix()), "the engine changed");
}

#[tokio::test]
async fn secrets_reach_the_container_and_no_output() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "    secrets: [BGT_DB_PASSWORD]\n");
    let secret = "hunter2-bgt-very-secret";
    for output in ["human", "json"] {
        let run = env
            .bgdeploy()
            .args(["-vv", "--output", output, "up", app.as_str(), "stage"])
            .spec(&yaml)
            .env("BGT_DB_PASSWORD", secret)
            .timeout(Duration::from_secs(90))
            .run();
        run.assert_success().output_lacks(secret);
    }
    // Even a log filter that asks for everything must not print it.
    env.bgdeploy()
        .args(["up", app.as_str(), "stage"])
        .spec(&yaml)
        .env("BGT_DB_PASSWORD", secret)
        .env("BGDEPLOY_LOG", "trace")
        .timeout(Duration::from_secs(90))
        .run()
        .assert_success()
        .output_lacks(secret);
    let container = &live(&app)[0];
    let env_list = docker(&["inspect", "-f", "{{json .Config.Env}}", container]);
    assert!(
        env_list.contains(&format!("BGT_DB_PASSWORD={secret}")),
        "{env_list}"
    );
}

#[tokio::test]
async fn a_lock_held_elsewhere_is_exit_4_naming_the_holder() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    let image = engine.ensure_lock_image().await.expect("the lock image");
    let since = (bgdeploy::time::now_epoch() - 90).to_string();
    // Held by a deploy on another machine: not stale, whatever its pid.
    docker(&[
        "create",
        "--name",
        &format!("{app}_stage_lock"),
        "--label",
        &format!("bgdeploy.app={app}"),
        "--label",
        "bgdeploy.stage=stage",
        "--label",
        "bgdeploy.managed=true",
        "--label",
        "bgdeploy.kind=lock",
        "--label",
        "bgdeploy.lock.owner=ci@elsewhere pid 1",
        "--label",
        &format!("bgdeploy.lock.since={since}"),
        &image,
    ]);
    let before = snapshot(env.prefix());
    let run = up(&env, &yaml, &app, &["--lock-wait", "1s"]);
    run.assert_code(4)
        .stderr_contains("ci@elsewhere")
        .stderr_contains(&format!("bgdeploy lock release {app} stage"));
    assert_eq!(
        before,
        snapshot(env.prefix()),
        "a locked deploy must change nothing"
    );
}
