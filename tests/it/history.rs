//! `bgdeploy history` against the real engine: the records `up` wrote into the state volume,
//! read back through a short-lived reader container that is removed afterwards.

use crate::harness::{DEMO_V1, DEMO_V2, TestEnv, docker, require_engine, require_images};
use crate::up::{spec, up};

#[tokio::test]
async fn history_lists_the_deploys_newest_first() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");

    // No state volume yet: an empty history, not an error.
    let before = env
        .bgdeploy()
        .args(["history", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    before
        .assert_success()
        .stdout_contains("No deploys recorded");
    let none = env
        .bgdeploy()
        .args(["--output", "json", "history", app.as_str(), "stage"])
        .run();
    assert_eq!(none.json(), serde_json::json!([]));

    up(&env, &yaml, &app, &[]).assert_success();
    up(&env, &yaml, &app, &["--image", DEMO_V2]).assert_success();

    let run = env
        .bgdeploy()
        .args(["--output", "json", "history", app.as_str(), "stage"])
        .run();
    run.assert_success();
    let doc = run.json();
    let records = doc.as_array().expect("a JSON list");
    assert_eq!(records.len(), 2, "{doc}");
    let images: Vec<&str> = records.iter().filter_map(|r| r["image"].as_str()).collect();
    assert_eq!(images, [DEMO_V2, DEMO_V1], "newest first: {doc}");
    for r in records {
        assert_eq!(r["command"], "up", "{r}");
        assert_eq!(r["result"], "ok", "{r}");
        assert_eq!(r["exit_code"], 0, "{r}");
        assert!(r["by"].as_str().is_some_and(|b| b.contains(" pid ")), "{r}");
        assert!(r["duration_secs"].as_f64().is_some_and(|d| d > 0.0), "{r}");
        let time = r["time"].as_str().expect("time");
        assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
    }
    assert!(records[0]["started"].as_i64() >= records[1]["started"].as_i64());

    let human = env
        .bgdeploy()
        .args(["history", app.as_str(), "stage"])
        .run();
    human.assert_success().stdout_contains("TIME");
    let rows: Vec<&str> = human.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{human}");
    assert!(
        rows[0].contains(DEMO_V2) && rows[1].contains(DEMO_V1),
        "{human}"
    );

    // The reader container is gone again.
    let readers = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=bgdeploy.app={app}"),
        "--filter",
        "label=bgdeploy.kind=history-reader",
        "--format",
        "{{.Names}}",
    ]);
    assert!(readers.is_empty(), "left behind: {readers}");
}
