//! Hooks around a deploy (issue 14, DESIGN.md §10): `pre_deploy`, `post_deploy` and
//! `on_failure` on this machine with their `BGDEPLOY_*` variables, and `before_switch` in a
//! one-off container of the new image, which stops a deploy safely when it fails.

use std::path::Path;
use std::time::Duration;

use crate::cutover::{get, load, nginx_spec, proxy, up};
use crate::harness::load::Report;
use crate::harness::{DEMO_V1, DEMO_V2, TestEnv, docker, require_engine, require_images};
use crate::up::{containers, live};

/// The `BGDEPLOY_*` variables a hook wrote to `file`, as `NAME=value` lines.
fn vars(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A host hook that records its `BGDEPLOY_*` variables in `dir/<name>.env`.
fn recording(dir: &Path, name: &str) -> String {
    format!(
        "      {name}: [sh, -c, \"env | grep ^BGDEPLOY_ | sort > {}/{name}.env; echo {name} ran\"]\n",
        dir.display()
    )
}

/// One-off containers of the app (kind `oneoff`), in any state.
fn oneoffs(app: &str) -> String {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=bgdeploy.app={app}"),
        "--filter",
        "label=bgdeploy.kind=oneoff",
        "--format",
        "{{.Names}}",
    ])
}

#[tokio::test]
async fn hooks_run_around_a_deploy_with_their_variables() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let dir = env.dir();
    let hooks = format!(
        "    secrets: [HOOK_SECRET]\n    hooks:\n{}{}{}      before_switch: {{command: [sh, -c, \"echo migrated to $(cat /www/version) with secret $HOOK_SECRET\"], timeout: 30s}}\n",
        recording(dir, "pre_deploy"),
        recording(dir, "post_deploy"),
        recording(dir, "on_failure"),
    );
    let (app, yaml) = crate::up::spec(&env, DEMO_V1, &hooks);
    let run = env
        .bgdeploy()
        .args([
            "--output",
            "json",
            "up",
            app.as_str(),
            "stage",
            "--image",
            DEMO_V2,
        ])
        .env("HOOK_SECRET", "hunter2-h00k")
        .spec(&yaml)
        .timeout(Duration::from_secs(90))
        .run();
    run.assert_success().output_lacks("hunter2-h00k");
    let lines = run.json_lines();
    let migrated: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("migrated to"))
        })
        .collect();
    assert_eq!(migrated.len(), 1, "before_switch ran once: {run}");
    assert_eq!(
        migrated[0]["message"], "migrated to v2 with secret <redacted>",
        "in the new image, secrets redacted: {run}"
    );
    assert!(
        lines.iter().any(|l| l["event"] == "hook_output"
            && l["hook"] == "pre_deploy"
            && l["line"] == "pre_deploy ran"),
        "hook output comes as events: {run}"
    );
    let step = lines
        .iter()
        .find(|l| l["event"] == "step_started" && l["step"]["action"] == "before_switch")
        .unwrap_or_else(|| panic!("before_switch is a step: {run}"));
    assert_eq!(step["step"]["image"], DEMO_V2);
    let result = lines.last().expect("a result");
    assert_eq!(result["exit_code"], 0, "{run}");

    for hook in ["pre_deploy", "post_deploy"] {
        let got = vars(&dir.join(format!("{hook}.env")));
        for want in [
            format!("BGDEPLOY_APP={app}"),
            "BGDEPLOY_STAGE=stage".to_string(),
            "BGDEPLOY_COMMAND=up".to_string(),
            format!("BGDEPLOY_IMAGE={DEMO_V2}"),
            "BGDEPLOY_HOSTS=default".to_string(),
        ] {
            assert!(got.contains(&want), "{hook} lacks {want}: {got:?}");
        }
        assert!(
            got.iter().any(|v| v.starts_with("BGDEPLOY_RUN=2")),
            "{got:?}"
        );
        assert!(
            got.iter().any(|v| v.starts_with("BGDEPLOY_PERFORMER=")),
            "{got:?}"
        );
    }
    let post = vars(&dir.join("post_deploy.env"));
    assert!(post.contains(&"BGDEPLOY_RESULT=ok".to_string()), "{post:?}");
    assert!(
        post.contains(&"BGDEPLOY_EXIT_CODE=0".to_string()),
        "{post:?}"
    );
    let pre = vars(&dir.join("pre_deploy.env"));
    assert!(
        !pre.iter().any(|v| v.starts_with("BGDEPLOY_RESULT")),
        "{pre:?}"
    );
    assert!(
        !dir.join("on_failure.env").exists(),
        "on_failure ran after a success"
    );
    assert_eq!(oneoffs(&app).trim(), "", "the one-off is removed");

    // The run id is in the history record too.
    let history = env
        .bgdeploy()
        .args(["--output", "json", "history", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    let run_id = post
        .iter()
        .find_map(|v| v.strip_prefix("BGDEPLOY_RUN="))
        .expect("a run id");
    history.assert_success().stdout_contains(run_id);
}

#[tokio::test]
async fn a_failing_pre_deploy_changes_nothing() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let hooks = format!(
        "    hooks:\n      pre_deploy: [sh, -c, \"echo checks failed; exit 3\"]\n{}",
        recording(env.dir(), "on_failure")
    );
    let (app, yaml) = crate::up::spec(&env, DEMO_V1, &hooks);
    let before = crate::harness::snapshot(env.prefix());
    crate::up::up(&env, &yaml, &app, &[])
        .assert_code(1)
        .stderr_contains("pre_deploy")
        .stderr_contains("checks failed");
    assert_eq!(
        before,
        crate::harness::snapshot(env.prefix()),
        "the engine changed"
    );
    assert!(containers(&app, false).is_empty());
    let failed = vars(&env.dir().join("on_failure.env"));
    assert!(
        failed.contains(&"BGDEPLOY_EXIT_CODE=1".to_string()),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_failing_before_switch_leaves_the_live_release_serving_through_nginx() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (proxy, ip) = proxy(&env);
    let (app, plain) = nginx_spec(&env, &proxy, &ip, "");
    up(&env, &plain, &app, DEMO_V1).assert_success();
    let before = containers(&app, false);
    let v1 = live(&app);

    let hooks = format!(
        "    secrets: [HOOK_SECRET]\n    hooks:\n{}{}      before_switch: {{command: [sh, -c, \"echo migrating $(cat /www/version) $HOOK_SECRET; echo relation users does not exist >&2; exit 4\"]}}\n",
        recording(env.dir(), "post_deploy"),
        recording(env.dir(), "on_failure"),
    );
    let (_, yaml) = {
        let (_, y) = nginx_spec(&env, &proxy, &ip, &hooks);
        // The same app name: nginx_spec names it from the prefix.
        (app.clone(), y)
    };
    let load = load(&ip, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    let run = env
        .bgdeploy()
        .args(["up", app.as_str(), "stage", "--image", DEMO_V2])
        .env("HOOK_SECRET", "hunter2-h00k")
        .spec(&yaml)
        .timeout(Duration::from_secs(90))
        .run();
    std::thread::sleep(Duration::from_millis(300));
    let Report { sent, failed, .. } = load.finish();
    run.assert_code(1)
        .stderr_contains("exited with code 4")
        .stderr_contains("relation users does not exist")
        .stderr_contains("migrating v2 <redacted>")
        .output_lacks("hunter2-h00k");
    eprintln!("requests through nginx during the failed deploy: {sent} sent, {failed} failed");
    assert!(sent > 20, "too little load to mean anything: {sent}");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed\n{run}");
    assert_eq!(live(&app), v1, "v1 is still live\n{run}");
    assert_eq!(get(&ip, "shop.test", "/version").as_deref(), Some("v1"));
    assert_eq!(
        containers(&app, false),
        before,
        "the new release is removed\n{run}"
    );
    assert_eq!(oneoffs(&app).trim(), "", "the one-off is removed\n{run}");
    let failure = vars(&env.dir().join("on_failure.env"));
    assert!(
        failure.contains(&"BGDEPLOY_EXIT_CODE=1".to_string()),
        "{failure:?}"
    );
    assert!(
        failure.contains(&"BGDEPLOY_RESULT=failed".to_string()),
        "{failure:?}"
    );
    assert!(
        !env.dir().join("post_deploy.env").exists(),
        "post_deploy ran after a failure"
    );
}

#[tokio::test]
async fn before_switch_runs_at_cutover_and_times_out_safely() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let hook = "    hooks:\n      before_switch: {command: [sh, -c, \"echo migrating $(cat /www/version)\"]}\n";
    let (app, yaml) = crate::up::spec(&env, DEMO_V1, hook);
    crate::up::up(&env, &yaml, &app, &[]).assert_success();
    let standby = crate::up::up(&env, &yaml, &app, &["--image", DEMO_V2, "--no-cutover"]);
    standby.assert_success();
    assert!(
        !standby.stdout.contains("migrating"),
        "not before a standby: {standby}"
    );
    let cut = env
        .bgdeploy()
        .args(["cutover", app.as_str(), "stage"])
        .spec(&yaml)
        .timeout(Duration::from_secs(60))
        .run();
    cut.assert_success().stdout_contains("migrating v2");
    let back = env
        .bgdeploy()
        .args(["rollback", app.as_str(), "stage"])
        .spec(&yaml)
        .timeout(Duration::from_secs(60))
        .run();
    back.assert_success();
    assert!(
        !back.stdout.contains("migrating"),
        "not at a rollback: {back}"
    );

    let hung = "    hooks:\n      before_switch: {command: [sh, -c, \"echo started; sleep 30\"], timeout: 1s}\n";
    let (_, slow) = crate::up::spec(&env, DEMO_V1, hung);
    let before = live(&app);
    let run = crate::up::up(&env, &slow, &app, &["--image", DEMO_V2]);
    run.assert_code(1)
        .stderr_contains("did not finish within 1s")
        .stderr_contains("started");
    assert_eq!(live(&app), before, "the live release stays\n{run}");
    assert_eq!(oneoffs(&app).trim(), "", "the one-off is removed\n{run}");
}
