//! The CLI end to end: spec errors, usage errors and `plan` against the real engine.

use crate::harness::{DEMO_V1, NGINX, TestEnv, require_engine, require_images, snapshot};

/// A spec for app `<prefix>shop` with stages `stage` and `production`.
fn spec(env: &TestEnv, extra: &str) -> (String, String) {
    let app = env.name("shop");
    let yaml = format!(
        "apps:\n  {app}:\n    image: {DEMO_V1}\n    port: 8080\n    health: {{http: /up}}\n{extra}    stages:\n      stage: {{}}\n      production: {{}}\n"
    );
    (app, yaml)
}

#[test]
fn help_lists_every_command_of_the_contract() {
    let env = TestEnv::new();
    let run = env.bgdeploy().arg("--help").run();
    run.assert_success();
    for command in [
        "validate",
        "plan",
        "up",
        "cutover",
        "rollback",
        "status",
        "doctor",
        "history",
        "lock",
        "prune",
        "down",
        "completions",
    ] {
        run.stdout_contains(&format!("\n  {command} "));
    }
    run.stdout_contains("Exit codes");
}

#[test]
fn validate_help_lists_every_container_setting() {
    let env = TestEnv::new();
    let run = env.bgdeploy().args(["validate", "--help"]).run();
    run.assert_success();
    for key in [
        "volumes",
        "tmpfs",
        "labels",
        "user",
        "working_dir",
        "entrypoint",
        "memory",
        "memory_reservation",
        "cpus",
        "pids_limit",
        "ulimits",
        "shm_size",
        "logging",
        "extra_hosts",
        "dns",
        "cap_add",
        "cap_drop",
        "read_only",
        "init",
        "stop_signal",
        "restart unless-stopped",
        "sysctls",
        "security_opt",
        "devices",
    ] {
        run.stdout_contains(key);
    }
}

#[test]
fn validate_reports_every_problem_at_once_with_paths_and_lines() {
    let env = TestEnv::new();
    let yaml = "apps:\n  shop:\n    port: 8080\n    colour: blue\n    health:\n      http: /up\n      interval: 5 parsecs\n    stages:\n      stage: {}\n";
    let run = env.bgdeploy().arg("validate").spec(yaml).run();
    run.assert_code(2)
        .stderr_contains("apps.shop.colour")
        .stderr_contains("apps.shop.health.interval (line 7)")
        .stderr_contains("5 parsecs")
        .stderr_contains("image");
}

#[test]
fn a_valid_spec_validates_without_an_engine() {
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, "");
    env.bgdeploy()
        .arg("validate")
        .spec(&yaml)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .run()
        .assert_success()
        .stdout_contains(&format!("{app}: stages stage, production"));
}

#[test]
fn an_unknown_stage_is_a_usage_error_naming_the_stages() {
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, "");
    for command in ["up", "plan", "cutover"] {
        env.bgdeploy()
            .args([command, app.as_str(), "nosuchstage"])
            .spec(&yaml)
            .run()
            .assert_code(2)
            .stderr_contains("nosuchstage")
            .stderr_contains("stage, production");
    }
}

#[test]
fn a_missing_spec_file_says_where_it_looked() {
    let env = TestEnv::new();
    env.bgdeploy()
        .args(["-f", "nope.yaml", "validate"])
        .run()
        .assert_code(2)
        .stderr_contains("nope.yaml");
}

#[test]
fn a_missing_secret_is_named_before_the_engine_is_asked() {
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, "    secrets: [BGT_DATABASE_URL]\n");
    env.bgdeploy()
        .args(["plan", app.as_str(), "stage"])
        .spec(&yaml)
        .env_remove("BGT_DATABASE_URL")
        .run()
        .assert_code(2)
        .stderr_contains("BGT_DATABASE_URL");
}

#[test]
fn an_unreachable_engine_is_exit_3_naming_the_address() {
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, "");
    env.bgdeploy()
        .args(["plan", app.as_str(), "stage"])
        .spec(&yaml)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .run()
        .assert_code(3)
        .stderr_contains("/nonexistent/docker.sock")
        .stderr_contains("DOCKER_HOST");
}

#[tokio::test]
async fn plan_is_read_only_and_prints_the_json_contract() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, "    secrets: [BGT_SECRET]\n");
    let secret = "s3cr3t-value-never-printed";
    // Something of the app exists already, so the plan has real state to read.
    env.network(&format!("BACK_{app}_stage"))
        .label("bgdeploy.managed", "true")
        .create();
    let before = snapshot(env.prefix());

    let json = env
        .bgdeploy()
        .args(["--output", "json", "plan", app.as_str(), "stage"])
        .spec(&yaml)
        .env("BGT_SECRET", secret)
        .run();
    json.assert_success().output_lacks(secret);
    let doc = json.json();
    assert_eq!(doc["app"], app.as_str());
    assert_eq!(doc["stage"], "stage");
    let steps = doc["steps"].as_array().expect("steps is an array");
    assert!(steps.len() >= 5, "{doc:#}");
    for step in steps {
        assert!(
            step["action"].is_string() && step["target"].is_string(),
            "{step}"
        );
    }
    assert!(doc["warnings"].is_array(), "{doc:#}");
    assert_eq!(steps[1]["action"], "reuse_network", "{doc:#}");
    assert_eq!(steps[2]["action"], "create_network", "{doc:#}");

    let human = env
        .bgdeploy()
        .args(["plan", app.as_str(), "stage"])
        .spec(&yaml)
        .env("BGT_SECRET", secret)
        .run();
    human
        .assert_success()
        .stdout_contains(&format!("BACK_{app}_stage"))
        .output_lacks(secret);

    assert_eq!(before, snapshot(env.prefix()), "plan changed the engine");
}

#[tokio::test]
async fn plan_warns_about_an_extra_network_that_sorts_before_back() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let extra = env.name("redis");
    // `AAA_` sorts before `BACK_`: attaching it would take the release's default route.
    let early = format!("AAA_{extra}");
    env.network(&early).create();
    let (app, yaml) = spec(&env, &format!("    networks: [{early}]\n"));
    let run = env
        .bgdeploy()
        .args(["--output", "json", "plan", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    run.assert_success();
    let doc = run.json();
    let warnings = doc["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w["code"] == "route_moves"
            && w["message"].as_str().is_some_and(|m| m.contains(&early))),
        "{doc:#}"
    );
    let human = env
        .bgdeploy()
        .args(["plan", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    human
        .assert_success()
        .stdout_contains("DEFAULT ROUTE MOVES")
        .stdout_contains(&early);
}

#[tokio::test]
async fn plan_predicts_that_a_non_internal_front_would_move_the_proxys_route() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let proxy = env.name("proxy");
    env.container(&proxy).image(NGINX).run();
    let (app, yaml) = spec(
        &env,
        &format!(
            "    proxy: {{driver: nginx, container: {proxy}, virtual_host: shop.test, config_path: /etc/nginx/conf.d/shop.conf}}\n"
        ),
    );
    // A front network made by hand without --internal: `F` sorts before `b`ridge.
    env.network(&format!("FRONT_{app}_stage")).create();
    let before = snapshot(env.prefix());
    let run = env
        .bgdeploy()
        .args(["plan", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    run.assert_success()
        .stdout_contains("[front_not_internal]")
        .stdout_contains(&format!("from bridge to FRONT_{app}_stage"));
    assert_eq!(before, snapshot(env.prefix()), "plan changed the engine");

    // Without the hand-made network the front is created internal and nothing moves.
    let fresh = yaml.replace(&app, &env.name("other"));
    env.bgdeploy()
        .args(["plan", env.name("other").as_str(), "stage"])
        .spec(&fresh)
        .run()
        .assert_success()
        .stdout_contains("No warnings")
        .stdout_contains("default route stays on bridge");
}
