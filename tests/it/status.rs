//! `bgdeploy status` against the real engine: roles, images, and the default route read from
//! the kernel, for one app/stage and for every app/stage on the engine.

use crate::harness::{DEMO_V1, DEMO_V2, TestEnv, require_engine, require_images};
use crate::up::{live, spec, up};

#[tokio::test]
async fn status_shows_live_and_retired_with_the_route_on_back() {
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
    let back = format!("BACK_{app}_stage");

    // Human: one aligned table, a row per release with its role word.
    let run = env
        .bgdeploy()
        .args(["status", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    run.assert_success()
        .stdout_contains(&format!("{app}/stage\n"))
        .stdout_contains("ROLE")
        .stdout_contains("DEFAULT ROUTE")
        .stdout_contains(&format!("FRONT_{app}_stage (internal)"));
    let row = |role: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(role))
            .unwrap_or_else(|| panic!("no {role} row\n{run}"))
            .to_string()
    };
    let live_row = row("live ");
    assert!(
        live_row.contains(&green[0]) && live_row.contains(DEMO_V2),
        "{live_row}"
    );
    assert!(live_row.trim_end().ends_with(&back), "{live_row}");
    let retired_row = row("retired ");
    assert!(
        retired_row.contains(&blue[0]) && retired_row.contains(DEMO_V1),
        "{retired_row}"
    );
    assert!(!run.stdout.contains(" ! "), "nothing is flagged\n{run}");

    // JSON: one document; roles are the contract's words.
    let doc = env
        .bgdeploy()
        .args(["--output", "json", "status", app.as_str(), "stage"])
        .spec(&yaml)
        .run()
        .json();
    let stages = doc["apps"].as_array().expect("apps");
    assert_eq!(stages.len(), 1, "{doc}");
    let s = &stages[0];
    assert_eq!(
        (s["app"].as_str(), s["stage"].as_str()),
        (Some(app.as_str()), Some("stage"))
    );
    let roles: Vec<&str> = s["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["role"].as_str())
        .collect();
    assert_eq!(roles, ["live", "retired"], "{doc}");
    let live_doc = &s["containers"][0];
    assert_eq!(live_doc["name"], green[0].as_str());
    assert_eq!(live_doc["image"], DEMO_V2);
    assert_eq!(live_doc["default_route"], back.as_str());
    assert_eq!(live_doc["route_ok"], true);
    assert_eq!(s["containers"][1]["default_route"], serde_json::Value::Null);
    assert_eq!(s["networks"]["front"]["internal"], true);
    assert_eq!(s["lock"], serde_json::Value::Null);
    assert_eq!(s["problems"], serde_json::json!([]));

    // Without arguments every app/stage on the engine is listed, also without a spec file.
    let all = env
        .bgdeploy()
        .args(["-f", "no-such-spec.yaml", "--output", "json", "status"])
        .run();
    all.assert_success();
    let doc = all.json();
    let ours = doc["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|s| s["app"] == app.as_str() && s["stage"] == "stage")
        .unwrap_or_else(|| panic!("{app}/stage missing\n{all}"));
    assert_eq!(ours["containers"].as_array().map(Vec::len), Some(2));
    assert_eq!(ours["proxy"], serde_json::Value::Null, "no spec, no proxy");
    env.bgdeploy()
        .args(["-f", "no-such-spec.yaml", "status"])
        .run()
        .assert_success()
        .stdout_contains(&format!("{app}/stage\n"));
}

#[test]
fn status_of_an_unknown_stage_is_a_usage_error() {
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    env.bgdeploy()
        .args(["status", app.as_str(), "nosuchstage"])
        .spec(&yaml)
        .run()
        .assert_code(2)
        .stderr_contains("nosuchstage")
        .stderr_contains("stage");
}
