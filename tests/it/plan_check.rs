//! `plan --for` and `plan --check` against the real engine: the exit code the command would end
//! with (DESIGN.md §3), each phase shown, and nothing changed on the engine, lock included.

use std::time::Duration;

use bgdeploy::lock;

use crate::harness::cli::Run;
use crate::harness::{DEMO_V1, DEMO_V2, NGINX, TestEnv, require_engine, require_images, snapshot};
use crate::up::{containers, spec, up};

/// `bgdeploy plan APP stage ARGS...`, asserting that it changed nothing the test can see.
fn plan(env: &TestEnv, yaml: &str, app: &str, args: &[&str]) -> Run {
    let before = snapshot(env.prefix());
    let run = env
        .bgdeploy()
        .args(["plan", app, "stage"])
        .args(args.iter().copied())
        .spec(yaml)
        .run();
    assert_eq!(
        before,
        snapshot(env.prefix()),
        "plan {args:?} changed the engine\n{run}"
    );
    run
}

/// A spec whose proxy is the nginx container `proxy` (which may not exist).
fn nginx_spec(env: &TestEnv, proxy: &str, extra: &str) -> (String, String) {
    spec(
        env,
        DEMO_V1,
        &format!(
            "    proxy: {{driver: nginx, container: {proxy}, virtual_host: shop.test, config_path: /etc/nginx/conf.d/{proxy}.conf}}\n{extra}"
        ),
    )
}

#[tokio::test]
async fn check_predicts_success_a_moving_route_and_a_missing_proxy() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let proxy = env.name("proxy");
    env.container(&proxy).image(NGINX).run();

    // Would succeed: 0, and the plan shows its phases.
    let (app, yaml) = nginx_spec(&env, &proxy, "");
    plan(&env, &yaml, &app, &["--check"])
        .assert_success()
        .stdout_contains("Prepare (")
        .stdout_contains("Switch (")
        .stdout_contains("No point of no return")
        .stdout_contains(&format!("run `bgdeploy up {app} stage` to apply"));

    // An extra network sorting before BACK_ would take the release's default route: 5.
    let early = format!("AAA_{}", env.name("redis"));
    env.network(&early).create();
    let (moving, yaml) = nginx_spec(&env, &proxy, &format!("    networks: [{early}]\n"));
    plan(&env, &yaml, &moving, &["--check"])
        .assert_code(5)
        .stdout_contains("DEFAULT ROUTE MOVES")
        .stderr_contains(&format!(
            "`bgdeploy up {moving} stage` would stop with exit 5"
        ))
        .stderr_contains(&early);
    // Without --check: exit 0, the warning, and what `up` would do.
    plan(&env, &yaml, &moving, &[])
        .assert_success()
        .stdout_contains("[route_moves]")
        .stdout_contains("would stop with exit 5: see [route_moves] above");
    let json = plan(&env, &yaml, &moving, &["--output", "json"]);
    json.assert_success();
    let doc = json.json();
    assert_eq!(doc["predicted"]["exit_code"], 5, "{doc:#}");
    assert_eq!(doc["for"], "up", "{doc:#}");
    for step in doc["steps"].as_array().expect("steps") {
        assert!(step["run_phase"].is_string(), "{step}");
    }

    // The proxy container named in the spec does not exist: 1.
    let (orphan, yaml) = nginx_spec(&env, &env.name("noproxy"), "");
    plan(&env, &yaml, &orphan, &["--check"])
        .assert_code(1)
        .stdout_contains("[proxy_missing]")
        .stderr_contains("would stop with exit 1");
}

#[tokio::test]
async fn check_predicts_4_while_another_deploy_holds_the_lock() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    // Held by this test process: a live owner. `plan` must look at it, not take it over.
    let guard = lock::acquire(&engine, &app, "stage", Duration::ZERO, &mut |_, _| {})
        .await
        .expect("a free lock");
    let locked = plan(&env, &yaml, &app, &["--check"]);
    let still = lock::status(&engine, &app, "stage").await;
    guard.release(&engine).await.expect("releasing the lock");
    locked
        .assert_code(4)
        .stdout_contains("[locked]")
        .stderr_contains("would stop with exit 4")
        .stderr_contains(&lock::owner());
    let holder = still.expect("lock status").expect("still held after plan");
    assert_eq!(holder.owner, lock::owner());
    // Released, the same plan would succeed.
    plan(&env, &yaml, &app, &["--check"]).assert_success();
}

#[tokio::test]
async fn plan_for_cutover_and_rollback_shows_what_they_would_do() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");

    // Nothing to cut over to: --check exits 1; without it, plan says so and exits 0.
    plan(&env, &yaml, &app, &["--for", "cutover", "--check"])
        .assert_code(1)
        .stdout_contains("has no standby")
        .stderr_contains(&format!(
            "`bgdeploy cutover {app} stage` would stop with exit 1"
        ));
    plan(&env, &yaml, &app, &["--for", "cutover"])
        .assert_success()
        .stdout_contains("No plan for")
        .stdout_contains("would stop with exit 1");
    plan(&env, &yaml, &app, &["--for", "rollback", "--check"]).assert_code(1);

    // v1, then v2: v1 is retired and `rollback` would start it again.
    up(&env, &yaml, &app, &[]).assert_success();
    let blue = containers(&app, false);
    assert_eq!(blue.len(), 1, "{blue:?}");
    up(&env, &yaml, &app, &["--image", DEMO_V2]).assert_success();
    let retired = &blue[0];
    let rollback = plan(&env, &yaml, &app, &["--for", "rollback", "--check"]);
    rollback
        .assert_success()
        .stdout_contains(&format!(
            "make the retired release {retired} ({DEMO_V1}) live again"
        ))
        .stdout_contains(&format!("start {retired}"))
        .stdout_contains("Point of no return: step")
        .stdout_contains(&format!("run `bgdeploy rollback {app} stage` to apply"));
    let start = rollback
        .stdout
        .find(&format!("start {retired}"))
        .expect("the start step");
    let switch = rollback.stdout.find("Switch (").expect("the switch phase");
    assert!(start < switch, "started before the switch\n{rollback}");

    // A rollback to a name that is not retired: 1, naming the retired ones.
    plan(
        &env,
        &yaml,
        &app,
        &["--for", "rollback", "--to", "nope", "--check"],
    )
    .assert_code(1)
    .stderr_contains(retired);

    // A standby (up --no-cutover) is what cutover would make live.
    up(&env, &yaml, &app, &["--no-cutover"]).assert_success();
    let json = plan(
        &env,
        &yaml,
        &app,
        &["--output", "json", "--for", "cutover", "--check"],
    );
    json.assert_success();
    let doc = json.json();
    assert_eq!(doc["for"], "cutover", "{doc:#}");
    assert!(doc["point_of_no_return"].is_u64(), "{doc:#}");
    assert_eq!(doc["retiring"].as_array().map(Vec::len), Some(1), "{doc:#}");
}

#[test]
fn flags_of_another_command_are_a_usage_error_and_help_explains_check() {
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    env.bgdeploy()
        .args([
            "plan",
            app.as_str(),
            "stage",
            "--for",
            "cutover",
            "--image",
            DEMO_V2,
        ])
        .spec(&yaml)
        .run()
        .assert_code(2)
        .stderr_contains("--image");
    env.bgdeploy()
        .args(["plan", app.as_str(), "stage", "--to", "x"])
        .spec(&yaml)
        .run()
        .assert_code(2)
        .stderr_contains("--to is `rollback`'s");
    env.bgdeploy()
        .args(["plan", app.as_str(), "stage", "--check"])
        .spec(&yaml)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .run()
        .assert_code(3);
    env.bgdeploy()
        .args(["plan", "--help"])
        .run()
        .assert_success()
        .stdout_contains("--check")
        .stdout_contains("4 another live deploy holds the lock")
        .stdout_contains("point of no return");
}
