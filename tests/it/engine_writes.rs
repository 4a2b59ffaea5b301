//! The engine wrapper's write operations against the real engine, checked with the docker CLI.

use std::time::{Duration, Instant};

use bgdeploy::engine::{ContainerSpec, EngineError, lock_image};
use bgdeploy::names;

use crate::harness::{
    DEMO_V1, TestEnv, docker, docker_output, inspect_json, require_engine, require_images,
};

fn exists(object: &str) -> bool {
    docker_output(&["inspect", object]).status.success()
}

fn label<'a>(json: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    json["Config"]["Labels"][key]
        .as_str()
        .or_else(|| json["Labels"][key].as_str())
}

/// Every cause of an error, for checking what an operator would read.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    bgdeploy::error::report(e)
}

#[tokio::test]
async fn containers_and_networks_round_trip() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let labels = names::labels(&env.name("app"), "stage", names::KIND_APP);

    let back = env.name("BACK");
    let front = env.name("FRONT");
    let back_id = engine
        .create_network(&back, false, &labels)
        .await
        .expect("back");
    let front_id = engine
        .create_network(&front, true, &labels)
        .await
        .expect("front");
    let net = inspect_json(&front_id);
    assert_eq!(net["Name"], front.as_str());
    assert_eq!(
        (net["Driver"].as_str(), net["Internal"].as_bool()),
        (Some("bridge"), Some(true))
    );
    assert_eq!(label(&net, names::LABEL_MANAGED), Some("true"));
    assert_eq!(inspect_json(&back_id)["Internal"], false);

    let secret = format!("s3cr3t-{}", env.prefix());
    let mut spec = ContainerSpec {
        name: env.name("app_1"),
        image: DEMO_V1.to_string(),
        env: vec![
            ("API_TOKEN".to_string(), secret.clone()),
            ("MODE".to_string(), "blue".to_string()),
        ],
        command: None,
        labels: labels.clone(),
        network: back.clone(),
        gw_priority: Some(10),
        restart_unless_stopped: true,
        binds: Vec::new(),
        ..Default::default()
    };
    let debug = format!("{spec:?}");
    assert!(
        !debug.contains(&secret) && debug.contains("API_TOKEN"),
        "{debug}"
    );

    let id = engine.create_container(&spec).await.expect("create");
    let c = inspect_json(&id);
    assert_eq!(c["State"]["Status"], "created");
    assert_eq!(c["Name"], format!("/{}", spec.name));
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(c["HostConfig"]["NetworkMode"], back.as_str());
    assert_eq!(label(&c, names::LABEL_KIND), Some(names::KIND_APP));
    let container_env: Vec<&str> = c["Config"]["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        container_env.contains(&format!("API_TOKEN={secret}").as_str()),
        "{container_env:?}"
    );
    assert!(container_env.contains(&"MODE=blue"), "{container_env:?}");
    let networks = c["NetworkSettings"]["Networks"]
        .as_object()
        .expect("Networks");
    assert_eq!(networks.keys().collect::<Vec<_>>(), [&back]);

    // The name is the lock's test-and-set.
    let again = engine.create_container(&spec).await.expect_err("same name");
    assert!(
        matches!(&again, EngineError::NameInUse { name } if *name == spec.name),
        "{again:?}"
    );

    engine.start_container(&id).await.expect("start");
    assert_eq!(inspect_json(&id)["State"]["Running"], true);

    engine
        .connect_network(&id, &front, Some(1))
        .await
        .expect("connect");
    let networks = inspect_json(&id)["NetworkSettings"]["Networks"].clone();
    assert!(
        networks[&back].is_object() && networks[&front].is_object(),
        "{networks}"
    );
    let twice = engine
        .connect_network(&id, &front, None)
        .await
        .expect_err("already connected");
    assert!(
        matches!(twice, EngineError::ConnectNetwork { .. }),
        "{twice:?}"
    );
    assert!(twice.to_string().contains(&front), "{twice}");

    engine
        .disconnect_network(&id, &front, false)
        .await
        .expect("disconnect");
    let networks = inspect_json(&id)["NetworkSettings"]["Networks"].clone();
    assert!(
        networks.get(&front).is_none() && networks[&back].is_object(),
        "{networks}"
    );
    engine
        .disconnect_network(&id, &front, false)
        .await
        .expect("not connected is fine");

    engine
        .stop_container(&id, Duration::from_secs(2))
        .await
        .expect("stop");
    assert_eq!(inspect_json(&id)["State"]["Running"], false);
    engine
        .stop_container(&id, Duration::from_secs(2))
        .await
        .expect("stopping a stopped container is fine");

    engine.remove_container(&id, false).await.expect("remove");
    assert!(!exists(&id));
    engine
        .remove_container(&id, false)
        .await
        .expect("absent is fine");

    engine
        .remove_network(&front_id)
        .await
        .expect("remove front");
    engine.remove_network(&back_id).await.expect("remove back");
    assert!(!exists(&front_id) && !exists(&back_id));
    engine
        .remove_network(&back_id)
        .await
        .expect("absent is fine");

    // A failed create names the container and the image, and shows no env value.
    spec.image = format!("{}absent:v0", env.prefix());
    spec.network = "none".to_string();
    let failed = engine
        .create_container(&spec)
        .await
        .expect_err("no such image");
    let text = chain(&failed);
    assert!(
        matches!(failed, EngineError::CreateContainer { .. }),
        "{failed:?}"
    );
    assert!(
        text.contains(&spec.name) && text.contains(&spec.image),
        "{text}"
    );
    assert!(
        !text.contains(&secret) && !format!("{failed:?}").contains(&secret),
        "{text}"
    );
}

#[tokio::test]
async fn pulling_an_image_that_is_nowhere_fails_fast_naming_it() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let image = format!("{}nowhere:v0", env.prefix());
    let started = Instant::now();
    let lines = std::cell::RefCell::new(Vec::new());
    let err = engine
        .pull_image(&image, &|line| lines.borrow_mut().push(line.to_string()))
        .await
        .expect_err("there is no registry");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, EngineError::PullImage { .. }), "{err:?}");
    let text = chain(&err);
    assert!(text.contains(&image), "{text}");
    assert!(text.contains("registry"), "{text}");
    // The engine's own words are in the chain, not only bgdeploy's.
    assert!(text.contains("caused by: Docker responded"), "{text}");
    assert!(!exists(&image));
}

#[tokio::test]
async fn files_round_trip_through_a_created_container_with_a_volume() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let volume = env.name("state");
    let labels = names::labels(&env.name("app"), "stage", "state");
    engine
        .create_volume(&volume, &labels)
        .await
        .expect("volume");
    engine
        .create_volume(&volume, &[])
        .await
        .expect("creating it again is fine");
    let v = inspect_json(&volume);
    assert_eq!(label(&v, names::LABEL_APP), Some(env.name("app").as_str()));

    let spec = ContainerSpec {
        name: env.name("holder"),
        image: DEMO_V1.to_string(),
        network: "none".to_string(),
        binds: vec![format!("{volume}:/data")],
        settings: None,
        ..Default::default()
    };
    let id = engine.create_container(&spec).await.expect("create");

    assert_eq!(
        engine
            .get_file(&id, "/data/history.jsonl")
            .await
            .expect("get"),
        None
    );
    let first = b"{\"n\":1}\n".to_vec();
    engine
        .put_file(&id, "/data", "history.jsonl", &first)
        .await
        .expect("put");
    assert_eq!(
        engine
            .get_file(&id, "/data/history.jsonl")
            .await
            .expect("get"),
        Some(first)
    );
    let second: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    engine
        .put_file(&id, "/data/", "history.jsonl", &second)
        .await
        .expect("overwrite");
    assert_eq!(
        engine
            .get_file(&id, "/data/history.jsonl")
            .await
            .expect("get"),
        Some(second.clone())
    );
    assert_eq!(inspect_json(&id)["State"]["Status"], "created");

    // Independent of bollard: the bytes are in the volume.
    let copy = env.dir().join("copy");
    docker(&[
        "cp",
        &format!("{id}:/data/history.jsonl"),
        copy.to_str().expect("utf-8"),
    ]);
    assert_eq!(std::fs::read(&copy).expect("copied"), second);

    let dir = engine
        .get_file(&id, "/data")
        .await
        .expect_err("a directory");
    assert!(matches!(dir, EngineError::Archive { .. }), "{dir:?}");
    let gone = engine
        .get_file(&env.name("nobody"), "/data/history.jsonl")
        .await
        .expect_err("no such container");
    assert!(matches!(gone, EngineError::GetFile { .. }), "{gone:?}");
    let no_dir = engine
        .put_file(&id, "/nowhere", "x", b"x")
        .await
        .expect_err("no such directory");
    assert!(matches!(no_dir, EngineError::PutFile { .. }), "{no_dir:?}");

    engine.remove_container(&id, true).await.expect("remove");
    assert!(exists(&volume), "removing the container keeps the volume");
    engine.remove_volume(&volume).await.expect("remove volume");
    assert!(!exists(&volume));
    engine.remove_volume(&volume).await.expect("absent is fine");
}

#[tokio::test]
async fn the_lock_image_is_built_on_the_engine() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let image = engine.ensure_lock_image().await.expect("lock image");
    assert_eq!(image, lock_image());
    let json = inspect_json(&image);
    assert_eq!(label(&json, names::LABEL_KIND), Some(names::KIND_LOCK));
    assert_eq!(json["Config"]["Cmd"], serde_json::json!(["/bgdeploy-lock"]));
    assert_eq!(engine.ensure_lock_image().await.expect("present"), image);
}
