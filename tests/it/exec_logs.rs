//! `bgdeploy exec` and `bgdeploy logs` against the live release (issue 14).

use std::time::Duration;

use crate::harness::{DEMO_V1, TestEnv, docker, require_engine, require_images};
use crate::up::spec;

/// A live release of the demo app with a secret `APP_TOKEN`.
fn live_app(env: &TestEnv) -> (String, String) {
    let (app, yaml) = spec(env, DEMO_V1, "    secrets: [APP_TOKEN]\n");
    env.bgdeploy()
        .args(["up", app.as_str(), "stage"])
        .env("APP_TOKEN", "hunter2-t0ken")
        .spec(&yaml)
        .timeout(Duration::from_secs(90))
        .run()
        .assert_success();
    (app, yaml)
}

#[tokio::test]
async fn exec_passes_exit_codes_stdin_and_runs_one_offs() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();

    let (app, yaml) = live_app(&env);
    let exec = |args: &[&str]| {
        let mut all = vec!["exec", app.as_str(), "stage"];
        all.extend_from_slice(args);
        env.bgdeploy()
            .args(all)
            .spec(&yaml)
            .timeout(Duration::from_secs(60))
    };
    exec(&["--", "sh", "-c", "exit 7"]).run().assert_code(7);
    exec(&["--", "cat", "/www/version"])
        .run()
        .assert_success()
        .stdout_contains("v1");
    exec(&["--", "sh", "-c", "echo to stderr >&2"])
        .run()
        .assert_success()
        .stderr_contains("to stderr");
    exec(&["-i", "--", "sh", "-c", "read line; echo got $line"])
        .stdin("hello\n")
        .run()
        .assert_success()
        .stdout_contains("got hello");

    // A one-off container of the live release: its image, its secrets; removed afterwards.
    exec(&[
        "--one-off",
        "--",
        "sh",
        "-c",
        "echo $(cat /www/version) $APP_TOKEN $(hostname); exit 3",
    ])
    .run()
    .assert_code(3)
    .stdout_contains("v1 hunter2-t0ken");
    exec(&[
        "--one-off",
        "-i",
        "--",
        "sh",
        "-c",
        "read line; echo one-off got $line",
    ])
    .stdin("hi\n")
    .run()
    .assert_success()
    .stdout_contains("one-off got hi");
    let oneoffs = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=bgdeploy.app={app}"),
        "--filter",
        "label=bgdeploy.kind=oneoff",
        "-q",
    ]);
    assert_eq!(oneoffs.trim(), "", "one-offs are removed");

    env.bgdeploy()
        .args(["down", app.as_str(), "stage", "--yes"])
        .spec(&yaml)
        .run()
        .assert_success();
    exec(&["--", "true"])
        .run()
        .assert_code(1)
        .stderr_contains("has no live release");
}

#[tokio::test]
async fn logs_show_the_app_lines_with_secrets_redacted() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = live_app(&env);
    let logs = |args: &[&str]| {
        let mut all = vec!["logs", app.as_str(), "stage"];
        all.extend_from_slice(args);
        env.bgdeploy()
            .args(all)
            .spec(&yaml)
            .timeout(Duration::from_secs(60))
    };
    // The app prints its secret; `logs` must not.
    env.bgdeploy()
        .args([
            "exec",
            app.as_str(),
            "stage",
            "--",
            "sh",
            "-c",
            "echo token is $APP_TOKEN > /proc/1/fd/1",
        ])
        .spec(&yaml)
        .run()
        .assert_success();
    let shown = logs(&[]).run();
    shown
        .assert_success()
        .stderr_contains("demo-app v1 listening on :8080")
        .stdout_contains("token is <redacted>")
        .output_lacks("hunter2-t0ken");
    let json = logs(&["--output", "json", "--tail", "1"]).run();
    let lines = json.json_lines();
    assert_eq!(lines.len(), 1, "{json}");
    assert_eq!(lines[0]["line"], "token is <redacted>", "{json}");
    assert_eq!(lines[0]["stream"], "stdout", "{json}");
    logs(&["--since", "1h"])
        .run()
        .assert_success()
        .stderr_contains("listening");

    // -f follows until stopped.
    let follow = logs(&["-f"]).spawn();
    std::thread::sleep(Duration::from_millis(800));
    env.bgdeploy()
        .args([
            "exec",
            app.as_str(),
            "stage",
            "--",
            "sh",
            "-c",
            "echo later line > /proc/1/fd/1",
        ])
        .spec(&yaml)
        .run()
        .assert_success();
    std::thread::sleep(Duration::from_millis(800));
    follow.signal("INT");
    let followed = follow.wait();
    assert!(followed.stdout.contains("later line"), "{followed}");

    logs(&["--release", "nope"])
        .run()
        .assert_code(2)
        .stderr_contains("not a release");
}
