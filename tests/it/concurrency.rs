//! Deploys that run at the same time (issue 6): different app/stages do not disturb each
//! other; deploys of one app/stage queue on its lock (or, without `--lock-wait`, all but one
//! exit 4), and what they leave — networks, containers, history — is consistent.

use std::time::Duration;

use serde_json::Value;

use crate::faults::{all_ours, assert_converged, lock_held, version_of};
use crate::harness::cli::Run;
use crate::harness::{DEMO_V1, DEMO_V2, TestEnv, docker, require_engine, require_images};
use crate::up::{containers, live, serves, spec};

const TIMEOUT: Duration = Duration::from_secs(120);

/// Starts `bgdeploy --output json up APP stage ARGS` in `env` (whose deploy.yaml is written
/// already: rewriting it while another run reads it would race).
fn start_up(env: &TestEnv, app: &str, args: &[&str]) -> crate::harness::cli::Running {
    env.bgdeploy()
        .args(["--output", "json", "up", app, "stage"])
        .args(args.iter().copied())
        .timeout(TIMEOUT)
        .spawn()
}

fn result_of(run: &Run) -> Value {
    run.json_lines()
        .into_iter()
        .rev()
        .find(|v| v["event"] == "result")
        .unwrap_or_else(|| panic!("no result line\n{run}"))
}

/// The networks named exactly `name` (the engine accepts duplicates, DESIGN §7).
fn networks_named(name: &str) -> usize {
    docker(&[
        "network",
        "ls",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Name}}",
    ])
    .lines()
    .filter(|n| *n == name)
    .count()
}

fn history(env: &TestEnv, app: &str) -> Vec<Value> {
    let run = env
        .bgdeploy()
        .args(["--output", "json", "history", app, "stage"])
        .run();
    run.assert_success();
    run.json().as_array().cloned().expect("a JSON list")
}

#[tokio::test(flavor = "multi_thread")]
async fn different_app_stages_deploy_in_parallel() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    tokio::task::spawn_blocking(|| {
        // Three app/stages: six networks, created concurrently by the first round.
        let envs: Vec<TestEnv> = (0..3).map(|_| TestEnv::new()).collect();
        let apps: Vec<(String, String)> = envs.iter().map(|e| spec(e, DEMO_V1, "")).collect();
        for (env, (_, yaml)) in envs.iter().zip(&apps) {
            std::fs::write(env.dir().join("deploy.yaml"), yaml).expect("deploy.yaml");
        }
        for image in [DEMO_V1, DEMO_V2] {
            let running: Vec<_> = envs
                .iter()
                .zip(&apps)
                .map(|(env, (app, _))| start_up(env, app, &["--image", image]))
                .collect();
            let runs: Vec<Run> = running.into_iter().map(|r| r.wait()).collect();
            for ((app, _), run) in apps.iter().zip(&runs) {
                run.assert_success();
                assert_converged(app, image, run);
                assert_eq!(networks_named(&format!("BACK_{app}_stage")), 1, "{run}");
                assert_eq!(networks_named(&format!("FRONT_{app}_stage")), 1, "{run}");
            }
        }
    })
    .await
    .expect("the test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_of_one_app_stage_queue_on_the_lock() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    tokio::task::spawn_blocking(|| {
        let env = TestEnv::new();
        let (app, yaml) = spec(&env, DEMO_V1, "");
        std::fs::write(env.dir().join("deploy.yaml"), &yaml).expect("deploy.yaml");
        // Four first deploys at once: the networks do not exist yet, so whoever holds the lock
        // creates them and the others must reuse them, never create duplicates.
        let images = [DEMO_V1, DEMO_V2, DEMO_V1, DEMO_V2];
        let running: Vec<_> = images
            .iter()
            .map(|image| start_up(&env, &app, &["--image", image, "--lock-wait", "60s"]))
            .collect();
        let runs: Vec<Run> = running.into_iter().map(|r| r.wait()).collect();
        let all = runs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        for run in &runs {
            run.assert_success();
        }
        assert_eq!(networks_named(&format!("BACK_{app}_stage")), 1, "{all}");
        assert_eq!(networks_named(&format!("FRONT_{app}_stage")), 1, "{all}");
        let waited = runs
            .iter()
            .filter(|r| r.stdout.contains("waiting for the lock held by"))
            .count();
        assert!(waited >= 1, "the deploys overlapped and queued\n{all}");

        // Exactly one live: the release of whichever deploy took the lock last.
        let now = live(&app);
        assert_eq!(now.len(), 1, "{now:?}\n{all}");
        assert_eq!(containers(&app, true), now, "{all}");
        let last = runs
            .iter()
            .map(result_of)
            .find(|r| r["container"] == now[0].as_str())
            .unwrap_or_else(|| panic!("the live release is one of the runs'\n{all}"));
        let image = last["image"].as_str().expect("image");
        assert!(serves(&app, &now[0], version_of(image)), "{all}");
        assert_converged(&app, image, &all);

        // The history has every deploy, each once, all ok: none was lost to a race.
        let records = history(&env, &app);
        assert_eq!(records.len(), runs.len(), "{records:?}\n{all}");
        for run in &runs {
            let container = result_of(run)["container"].clone();
            let matching: Vec<&Value> = records
                .iter()
                .filter(|r| r["container"] == container)
                .collect();
            assert_eq!(matching.len(), 1, "{container} in {records:?}");
            assert_eq!(matching[0]["result"], "ok", "{records:?}");
        }
        assert!(!lock_held(&app));
    })
    .await
    .expect("the test body");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_lock_wait_one_deploy_wins_and_the_others_exit_4() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    tokio::task::spawn_blocking(|| {
        let env = TestEnv::new();
        let (app, yaml) = spec(&env, DEMO_V1, "");
        crate::up::up(&env, &yaml, &app, &[]).assert_success();
        let running: Vec<_> = (0..3)
            .map(|_| start_up(&env, &app, &["--image", DEMO_V2]))
            .collect();
        let runs: Vec<Run> = running.into_iter().map(|r| r.wait()).collect();
        let all = runs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        let won = runs.iter().filter(|r| r.code() == Some(0)).count();
        assert!(won >= 1, "one deploy wins\n{all}");
        for run in runs.iter().filter(|r| r.code() != Some(0)) {
            run.assert_code(4)
                .stderr_contains(&format!("bgdeploy lock release {app} stage"));
            let result = result_of(run);
            assert_eq!(result["exit_code"], 4, "{run}");
        }
        assert_converged(&app, DEMO_V2, &all);
        // Losers change nothing and record nothing: the history is the first deploy and the
        // winners.
        let records = history(&env, &app);
        assert_eq!(records.len(), 1 + won, "{records:?}\n{all}");
        assert!(records.iter().all(|r| r["result"] == "ok"), "{records:?}");
        assert_eq!(
            all_ours(&app),
            containers(&app, false),
            "no lock or reader is left\n{all}"
        );
    })
    .await
    .expect("the test body");
}
