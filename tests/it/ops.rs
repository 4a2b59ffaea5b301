//! `lock status|release`, `prune` and `down` against the real engine.

use std::time::Duration;

use bgdeploy::engine::Engine;

use crate::harness::{
    DEMO_V1, DEMO_V2, TestEnv, docker, docker_output, require_engine, require_images, snapshot,
};
use crate::up::{containers, live, spec, up};

/// A lock container made by hand, as a deploy elsewhere (or a dead one here) leaves it.
async fn hand_made_lock(engine: &Engine, app: &str, owner: &str, age_secs: i64) {
    let image = engine.ensure_lock_image().await.expect("the lock image");
    let since = (bgdeploy::time::now_epoch() - age_secs).to_string();
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
        &format!("bgdeploy.lock.owner={owner}"),
        "--label",
        &format!("bgdeploy.lock.since={since}"),
        &image,
    ]);
}

fn exists(object: &str) -> bool {
    docker_output(&["inspect", object]).status.success()
}

#[tokio::test]
async fn lock_status_and_release() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    let lock = format!("{app}_stage_lock");
    let bg = |args: &[&str]| env.bgdeploy().args(args.to_vec()).spec(&yaml).run();

    bg(&["lock", "status", &app, "stage"])
        .assert_success()
        .stdout_contains("is not locked");
    let doc = bg(&["--output", "json", "lock", "status", &app, "stage"]).json();
    assert_eq!(doc["locked"], false, "{doc}");

    hand_made_lock(&engine, &app, "ci@elsewhere pid 1", 90).await;
    bg(&["lock", "status", &app, "stage"])
        .assert_success()
        .stdout_contains("held by ci@elsewhere pid 1")
        .stdout_contains("1m ago");
    let doc = bg(&["--output", "json", "lock", "status", &app, "stage"]).json();
    assert_eq!(
        (&doc["locked"], &doc["owner"], &doc["stale"], &doc["lock"]),
        (
            &serde_json::json!(true),
            &serde_json::json!("ci@elsewhere pid 1"),
            &serde_json::json!(false),
            &serde_json::json!(lock)
        ),
        "{doc}"
    );
    assert!(doc["age_secs"].as_u64().is_some_and(|a| a >= 90), "{doc}");

    // No terminal and no --yes: refused, the lock stays.
    bg(&["lock", "release", &app, "stage"])
        .assert_code(2)
        .stderr_contains("--yes");
    assert!(exists(&lock));
    bg(&["lock", "release", &app, "stage", "--yes"])
        .assert_success()
        .stdout_contains("Released");
    assert!(!exists(&lock), "released means removed");

    // A holder on this host whose process is gone is stale, and said to be.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("the hostname");
    let dead = format!("root@{} pid 4000000", host.trim());
    hand_made_lock(&engine, &app, &dead, 5).await;
    bg(&["lock", "status", &app, "stage"])
        .assert_success()
        .stdout_contains("stale")
        .stdout_contains(&format!("bgdeploy lock release {app} stage"));
    let doc = bg(&[
        "--output", "json", "lock", "release", &app, "stage", "--yes",
    ])
    .json();
    assert_eq!(
        (&doc["released"], &doc["stale"]),
        (&serde_json::json!(true), &serde_json::json!(true))
    );
    assert!(!exists(&lock));
}

#[tokio::test]
async fn prune_honours_keep_and_leaves_the_live_release() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    let keep2 = yaml.replace("keep: 1", "keep: 2");
    up(&env, &keep2, &app, &[]).assert_success();
    up(&env, &keep2, &app, &["--image", DEMO_V2]).assert_success();
    up(&env, &keep2, &app, &[]).assert_success();
    let current = live(&app);
    assert_eq!(containers(&app, false).len(), 3, "live and two retired");

    // Nothing beyond keep 2.
    env.bgdeploy()
        .args(["prune", app.as_str(), "stage"])
        .spec(&keep2)
        .run()
        .assert_success()
        .stdout_contains("nothing to prune (2 retired, keep 2)");

    // Held elsewhere: exit 4, nothing removed.
    hand_made_lock(&engine, &app, "ci@elsewhere pid 1", 10).await;
    let keep0 = yaml.replace("keep: 1", "keep: 0");
    env.bgdeploy()
        .args(["prune", app.as_str(), "stage"])
        .spec(&keep0)
        .run()
        .assert_code(4)
        .stderr_contains("ci@elsewhere");
    assert_eq!(containers(&app, false).len(), 3);
    docker(&["rm", &format!("{app}_stage_lock")]);

    let run = env
        .bgdeploy()
        .args(["--output", "json", "prune", app.as_str(), "stage"])
        .spec(&keep0)
        .run();
    run.assert_success();
    let doc = run.json();
    assert_eq!(doc["removed"].as_array().map(Vec::len), Some(2), "{doc}");
    assert_eq!(doc["kept"], serde_json::json!([]), "{doc}");
    assert_eq!(
        containers(&app, false),
        current,
        "only the live release is left"
    );
    assert_eq!(live(&app), current);
    assert!(
        !exists(&format!("{app}_stage_lock")),
        "the lock is released"
    );
}

#[tokio::test]
async fn down_removes_the_app_stage_and_nothing_else() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, yaml) = spec(&env, DEMO_V1, "");
    up(&env, &yaml, &app, &[]).assert_success();
    up(&env, &yaml, &app, &["--image", DEMO_V2]).assert_success();
    let (back, front) = (format!("BACK_{app}_stage"), format!("FRONT_{app}_stage"));

    // A proxy on `bridge` attached to the front network, and bystanders with the test's
    // prefix but without bgdeploy's labels.
    let proxy = env.name("proxy");
    env.container(&proxy).run();
    env.connect(&front, &proxy);
    let bystander = env.name("bystander");
    env.container(&bystander).run();
    let bystander_net = env.name("bystander_net");
    env.network(&bystander_net).create();
    let with_proxy = yaml.replace(
        "    drain:",
        &format!(
            "    proxy: {{driver: nginx-proxy, container: {proxy}, virtual_host: shop.test}}\n    drain:"
        ),
    );

    let before = snapshot(env.prefix());
    env.bgdeploy()
        .args(["down", app.as_str(), "stage", "--networks"])
        .spec(&with_proxy)
        .run()
        .assert_code(2)
        .stderr_contains("--yes");
    assert_eq!(before, snapshot(env.prefix()), "refused means unchanged");

    let run = env
        .bgdeploy()
        .args(["down", app.as_str(), "stage", "--networks", "--yes"])
        .spec(&with_proxy)
        .timeout(Duration::from_secs(60))
        .run();
    run.assert_success()
        .stdout_contains(&format!("detached proxy {proxy} from {front}"))
        .stdout_contains("(live)")
        .stdout_contains("(retired)")
        .stdout_contains("kept the deploy history");

    let left = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=bgdeploy.app={app}"),
        "--format",
        "{{.Names}}",
    ]);
    assert!(left.is_empty(), "left behind: {left}");
    assert!(!exists(&back) && !exists(&front), "the networks are gone");
    for survivor in [&proxy, &bystander, &bystander_net] {
        assert!(exists(survivor), "{survivor} must survive");
    }
    let proxy_networks = docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        &proxy,
    ]);
    assert!(!proxy_networks.contains(&front), "{proxy_networks}");
    assert!(proxy_networks.contains("bridge"), "{proxy_networks}");
    let running = docker(&["inspect", "-f", "{{.State.Running}}", &proxy]);
    assert_eq!(running, "true", "the proxy keeps running");

    // The history is kept unless asked; `--history` removes it.
    let volume = format!("bgdeploy_{app}_stage_state");
    assert!(exists(&volume));
    env.bgdeploy()
        .args(["down", app.as_str(), "stage", "--history", "--yes"])
        .spec(&with_proxy)
        .run()
        .assert_success()
        .stdout_contains("removed the deploy history");
    assert!(!exists(&volume), "the history volume is gone");
}

#[test]
fn the_man_page_and_completions_come_from_the_cli_definition() {
    let env = TestEnv::new();
    let man = env.bgdeploy().arg("man").run();
    man.assert_success()
        .stdout_contains(".TH bgdeploy 1")
        .stdout_contains("doctor")
        .stdout_contains("DOCKER_HOST");
    let help = env.bgdeploy().arg("--help").run();
    assert!(
        !help.stdout.contains("\n  man "),
        "`man` stays hidden\n{help}"
    );
    env.bgdeploy()
        .args(["completions", "bash"])
        .run()
        .assert_success()
        .stdout_contains("bgdeploy");
}
