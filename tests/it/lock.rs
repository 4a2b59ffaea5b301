//! The deploy lock against the real engine: a created-never-started container.

use std::time::{Duration, Instant};

use bgdeploy::engine::{Engine, lock_image};
use bgdeploy::lock::{self, Holder, LockError, STATE_DIR};
use bgdeploy::names;

use crate::harness::{
    DEMO_V1, TestEnv, docker_output, inspect_json, require_engine, require_images,
};

const STAGE: &str = "stage";

fn exists(object: &str) -> bool {
    docker_output(&["inspect", object]).status.success()
}

async fn take(engine: &Engine, app: &str, wait: Duration) -> Result<lock::LockGuard, LockError> {
    lock::acquire(engine, app, STAGE, wait, &mut |_, _| {}).await
}

#[tokio::test]
async fn acquire_hold_and_release() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let app = env.name("shop");
    let guard = take(&engine, &app, Duration::ZERO)
        .await
        .expect("free lock");
    assert_eq!(guard.name, names::lock_name(&app, STAGE));

    let c = inspect_json(&guard.id);
    assert_eq!(c["State"]["Status"], "created");
    assert_eq!(c["Config"]["Image"], lock_image().as_str());
    let labels = &c["Config"]["Labels"];
    assert_eq!(labels[names::LABEL_KIND], names::KIND_LOCK);
    assert_eq!(labels[names::LABEL_APP], app.as_str());
    assert_eq!(labels[names::LABEL_MANAGED], "true");
    assert_eq!(labels[names::LABEL_LOCK_OWNER], lock::owner().as_str());
    let since: i64 = labels[names::LABEL_LOCK_SINCE]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("since");
    assert!((bgdeploy::time::now_epoch() - since).abs() < 60);
    let volume = lock::state_volume(&app, STAGE);
    let mounts = c["Mounts"].as_array().expect("Mounts");
    assert!(
        mounts
            .iter()
            .any(|m| m["Name"] == volume.as_str() && m["Destination"] == STATE_DIR),
        "{mounts:?}"
    );
    assert_eq!(
        inspect_json(&volume)["Labels"][names::LABEL_KIND],
        lock::KIND_STATE
    );

    let holder = lock::status(&engine, &app, STAGE)
        .await
        .expect("status")
        .expect("held");
    assert_eq!(
        (holder.id.as_str(), holder.owner.clone()),
        (guard.id.as_str(), lock::owner())
    );
    assert!(!holder.stale);

    let err = take(&engine, &app, Duration::ZERO).await.expect_err("held");
    let text = err.to_string();
    assert!(
        matches!(&err, LockError::Held { stale: false, .. }),
        "{err:?}"
    );
    for needle in [
        &guard.name,
        &lock::owner(),
        &format!("bgdeploy lock release {app} {STAGE}"),
    ] {
        assert!(
            text.contains(needle.as_str()),
            "{needle} missing from: {text}"
        );
    }

    // The history's home: written through the held lock, kept when it is released.
    engine
        .put_file(&guard.id, STATE_DIR, "history.jsonl", b"one\n")
        .await
        .expect("put");
    let id = guard.id.clone();
    guard.release(&engine).await.expect("release");
    assert!(!exists(&id), "released lock container still there");
    assert!(exists(&volume), "the state volume must survive release");
    assert_eq!(
        lock::status(&engine, &app, STAGE).await.expect("status"),
        None
    );

    let again = take(&engine, &app, Duration::ZERO)
        .await
        .expect("free again");
    assert_eq!(
        engine
            .get_file(&again.id, &format!("{STATE_DIR}/history.jsonl"))
            .await
            .expect("get"),
        Some(b"one\n".to_vec())
    );
    again.release(&engine).await.expect("release");
}

#[tokio::test]
async fn a_waiting_deploy_gets_the_lock_once_it_is_released() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let app = env.name("shop");
    let first = take(&engine, &app, Duration::ZERO)
        .await
        .expect("free lock");
    // Released from the same task, one second into the wait: the engine interface's futures
    // stay on their thread.
    let releaser = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        first.release(&engine).await
    };
    let started = Instant::now();
    let mut heard: Vec<(Holder, Duration)> = Vec::new();
    let waiter = async {
        let second = lock::acquire(
            &engine,
            &app,
            STAGE,
            Duration::from_secs(3),
            &mut |h, waited| {
                heard.push((h.clone(), waited));
            },
        )
        .await;
        (second, started.elapsed())
    };
    let (released, (second, waited)) = tokio::join!(releaser, waiter);
    released.expect("released");
    let second = second.expect("taken after the release");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(!heard.is_empty());
    assert!(
        heard.iter().all(|(h, _)| h.owner == lock::owner()),
        "{heard:?}"
    );
    assert!(heard.windows(2).all(|w| w[0].1 <= w[1].1), "{heard:?}");
    second.release(&engine).await.expect("release");
}

#[tokio::test]
async fn force_release_removes_only_bgdeploy_locks() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let app = env.name("shop");
    assert!(
        lock::force_release(&engine, &app, STAGE)
            .await
            .expect("nothing to release")
            .is_none()
    );

    let guard = take(&engine, &app, Duration::ZERO)
        .await
        .expect("free lock");
    let released = lock::force_release(&engine, &app, STAGE)
        .await
        .expect("force")
        .expect("it was held");
    assert_eq!(released.id, guard.id);
    assert!(!exists(&guard.id));
    // The deploy whose lock was broken still releases cleanly.
    guard.release(&engine).await.expect("release after force");

    // Someone else's container that happens to carry the lock's name.
    let name = names::lock_name(&app, STAGE);
    let foreign = env
        .container(&name)
        .image(DEMO_V1)
        .arg("--network=none")
        .create();
    let err = lock::force_release(&engine, &app, STAGE)
        .await
        .expect_err("not ours");
    assert!(matches!(err, LockError::NotALock { .. }), "{err:?}");
    assert!(err.to_string().contains(&name), "{err}");
    assert!(exists(&foreign));
    let holder = lock::status(&engine, &app, STAGE)
        .await
        .expect("status")
        .expect("held");
    assert_eq!(holder.owner, "unknown");
    assert!(matches!(
        take(&engine, &app, Duration::ZERO).await,
        Err(LockError::Held { .. })
    ));
}

#[tokio::test]
async fn a_lock_whose_process_died_on_this_host_looks_stale() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let app = env.name("shop");
    let dead_pid = {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        child.wait().expect("wait");
        child.id()
    };
    assert!(!std::path::Path::new(&format!("/proc/{dead_pid}")).exists());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let owner = format!("ghost@{} pid {dead_pid}", host.trim());
    let since = bgdeploy::time::now_epoch() - 3600;
    env.container(&names::lock_name(&app, STAGE))
        .image(DEMO_V1)
        .arg("--network=none")
        .labels(&names::labels(&app, STAGE, names::KIND_LOCK))
        .label(names::LABEL_LOCK_OWNER, &owner)
        .label(names::LABEL_LOCK_SINCE, &since.to_string())
        .create();

    let holder = lock::status(&engine, &app, STAGE)
        .await
        .expect("status")
        .expect("held");
    assert!(holder.stale, "{holder:?}");
    assert!(
        holder.age.is_some_and(|a| a >= Duration::from_secs(3600)),
        "{holder:?}"
    );

    let err = take(&engine, &app, Duration::ZERO).await.expect_err("held");
    let text = err.to_string();
    assert!(
        matches!(&err, LockError::Held { stale: true, .. }),
        "{err:?}"
    );
    for needle in [owner.as_str(), "1h", "looks stale", "bgdeploy lock release"] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }

    lock::force_release(&engine, &app, STAGE)
        .await
        .expect("force")
        .expect("was held");
    take(&engine, &app, Duration::ZERO)
        .await
        .expect("free after force")
        .release(&engine)
        .await
        .expect("release");
}
