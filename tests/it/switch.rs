//! `up --no-cutover`, `cutover`, `rollback`, and concurrent deploys of one app/stage.

use std::time::Duration;

use crate::harness::engines::OnEngine;
use crate::harness::{DEMO_V1, DEMO_V2, TestEnv, require_engine, require_images};
use crate::on_engines;
use crate::up::{containers, containers_on, live, live_on, serves, serves_on, spec, up};

on_engines!(standby_then_cutover_then_rollback, standby_cutover_rollback);

async fn standby_cutover_rollback(engine: OnEngine) {
    let Some(env) = engine.env().await else {
        return;
    };
    let (app, yaml) = spec(&env, DEMO_V1, "");
    let containers = |app: &str, running| containers_on(&env, app, running);
    let live = |app: &str| live_on(&env, app);
    let serves = |_: &str, c: &str, version| serves_on(&env, c, version);
    up(&env, &yaml, &app, &[]).assert_success();
    let blue = live(&app);

    // A standby: healthy on BACK_ only, the live release untouched.
    up(&env, &yaml, &app, &["--image", DEMO_V2, "--no-cutover"])
        .assert_success()
        .stdout_contains("is standby");
    assert_eq!(live(&app), blue);
    assert!(serves(&app, &blue[0], "v1"));
    let running = containers(&app, true);
    assert_eq!(running.len(), 2, "{running:?}");
    let standby: Vec<String> = running.into_iter().filter(|c| !blue.contains(c)).collect();
    let status = env
        .bgdeploy()
        .args(["--output", "json", "status", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    status.assert_success();
    let text = status.stdout.clone();
    for (role, name) in [("live", &blue[0]), ("standby", &standby[0])] {
        assert!(
            text.contains(&format!("\"role\": \"{role}\"")) && text.contains(name.as_str()),
            "{role} {name}: {text}"
        );
    }

    let cut = env
        .bgdeploy()
        .args(["cutover", app.as_str(), "stage"])
        .spec(&yaml)
        .timeout(Duration::from_secs(60))
        .run();
    cut.assert_success().stdout_contains("is live");
    assert_eq!(live(&app), standby);
    assert!(serves(&app, &standby[0], "v2"));
    assert_eq!(containers(&app, true), standby, "the old live is stopped");

    // Nothing left to cut over to.
    env.bgdeploy()
        .args(["cutover", app.as_str(), "stage"])
        .spec(&yaml)
        .run()
        .assert_code(1)
        .stderr_contains("no standby");

    let back = env
        .bgdeploy()
        .args(["--output", "json", "rollback", app.as_str(), "stage"])
        .spec(&yaml)
        .timeout(Duration::from_secs(60))
        .run();
    back.assert_success();
    let result = back.json_lines().pop().expect("a result line");
    assert_eq!(result["image"], DEMO_V1, "{result}");
    assert_eq!(live(&app), blue, "the previous release is live again");
    assert!(serves(&app, &blue[0], "v1"));
    assert_eq!(containers(&app, true), blue);

    // The history holds the up, the standby, the cutover and the rollback, newest first.
    let history = env
        .bgdeploy()
        .args(["--output", "json", "history", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    history.assert_success();
    let records = history.json();
    let commands: Vec<&str> = records
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|r| r["command"].as_str())
        .collect();
    assert_eq!(commands, ["rollback", "cutover", "up", "up"], "{records:#}");

    env.bgdeploy()
        .args(["rollback", app.as_str(), "stage", "--to", "nope"])
        .spec(&yaml)
        .run()
        .assert_code(1)
        .stderr_contains("not a retired release");
}

#[tokio::test]
async fn up_while_a_standby_exists_replaces_it_and_says_so() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    up(&env, &yaml, &app, &["--no-cutover"]).assert_success();
    let standby = containers(&app, true);
    up(&env, &yaml, &app, &["--image", DEMO_V2])
        .assert_success()
        .stdout_contains("standby replaced");
    let now = containers(&app, false);
    assert!(!now.contains(&standby[0]), "{now:?}");
    assert_eq!(live(&app).len(), 1);
}

#[tokio::test]
async fn concurrent_deploys_of_one_app_stage_take_turns() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    up(&env, &yaml, &app, &[]).assert_success();
    // The first holds the lock for ~2 s while its release gets ready.
    let slow = yaml.replace("    drain:", "    env: {READY_DELAY: \"2\"}\n    drain:");
    let first = env
        .bgdeploy()
        .args(["up", app.as_str(), "stage", "--image", DEMO_V2])
        .spec(&slow)
        .timeout(Duration::from_secs(60))
        .spawn();
    let t = std::time::Instant::now();
    while crate::harness::docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("name={app}_stage_lock"),
    ])
    .trim()
    .is_empty()
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the first deploy never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused = env
        .bgdeploy()
        .args(["up", app.as_str(), "stage", "--lock-wait", "0s"])
        .spec(&yaml)
        .run();
    refused
        .assert_code(4)
        .stderr_contains("bgdeploy lock release");
    let waiting = env
        .bgdeploy()
        .args(["up", app.as_str(), "stage", "--lock-wait", "30s"])
        .spec(&yaml)
        .timeout(Duration::from_secs(60))
        .spawn();
    first.wait().assert_success();
    waiting.wait().assert_success();
    assert_eq!(live(&app).len(), 1);
    assert_eq!(containers(&app, true).len(), 1, "one release runs");
}

/// A retired release still attached to FRONT_ (a run killed between stopping it and
/// detaching it) leaves FRONT_ before `rollback` starts it, and joins again once healthy.
#[tokio::test]
async fn rollback_detaches_a_retired_release_left_on_front_before_starting_it() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    up(&env, &yaml, &app, &[]).assert_success();
    let blue = live(&app);
    up(&env, &yaml, &app, &["--image", DEMO_V2]).assert_success();
    let green = live(&app);
    let front = format!("FRONT_{app}_stage");
    crate::harness::docker(&["network", "connect", &front, &blue[0]]);

    let back = env
        .bgdeploy()
        .args(["--output", "json", "rollback", app.as_str(), "stage"])
        .spec(&yaml)
        .timeout(Duration::from_secs(60))
        .run();
    back.assert_success();
    let started: Vec<String> = back
        .json_lines()
        .iter()
        .filter(|v| v["event"] == "step_started" && v["step"]["target"] == blue[0].as_str())
        .filter_map(|v| v["step"]["action"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        started[..3],
        ["disconnect_network", "start_container", "wait_healthy"],
        "{started:?}\n{back}"
    );
    assert!(
        started.contains(&"connect_network".to_string()),
        "{started:?}"
    );
    assert_eq!(live(&app), blue, "{back}");
    assert!(serves(&app, &blue[0], "v1"));
    assert_eq!(containers(&app, true), blue, "{green:?} is retired");
}
