//! The engine wrapper's read operations against the real engine.

use bgdeploy::observe::NetworkLookup;

use crate::harness::{DEMO_V1, TestEnv, inspect_json, require_engine, require_images};

#[tokio::test]
async fn engine_reads_objects_by_exact_name() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let shared = env.name("shared");
    let shared_id = env.network(&shared).label("team", "a").create();
    // The engine's `name` filter would return this one for "<p>shared" too.
    env.network(&env.name("shared_more")).create();
    let dup = env.name("dup");
    let mut dup_ids = vec![
        env.network(&dup).create(),
        env.duplicate_network(&dup).await,
    ];
    dup_ids.sort();

    let NetworkLookup::Found(found) = engine.find_network(&shared).await.expect("find") else {
        panic!("{shared} not found by exact name");
    };
    assert_eq!(
        (
            found.id.as_str(),
            found.name.as_str(),
            found.driver.as_str()
        ),
        (shared_id.as_str(), shared.as_str(), "bridge")
    );
    assert_eq!((found.internal, found.managed), (false, false));
    assert_eq!(found.labels.get("team").map(String::as_str), Some("a"));
    let partial = env.name("shar");
    assert_eq!(
        engine.find_network(&partial).await.expect("find"),
        NetworkLookup::Missing { name: partial }
    );
    match engine.find_network(&dup).await.expect("find") {
        NetworkLookup::Ambiguous { name, matches } => {
            assert_eq!(name, dup);
            assert_eq!(
                matches.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
                dup_ids
            );
        }
        other => panic!("duplicates must be ambiguous, got {other:?}"),
    }

    // By name, the engine refuses a duplicated network; the error says what to do.
    let err = engine
        .inspect_network(&dup)
        .await
        .expect_err("ambiguous by name");
    assert!(!err.is_unreachable(), "{err:?}");
    assert!(
        err.explain()
            .is_some_and(|h| h.contains("docker network rm")),
        "{err:?}"
    );

    let details = engine
        .inspect_network(&shared_id)
        .await
        .expect("inspect")
        .expect("exists");
    assert_eq!(details.info, found);
    let ipam = &inspect_json(&shared_id)["IPAM"]["Config"][0];
    assert_eq!(details.subnets.len(), 1);
    assert_eq!(
        Some(details.subnets[0].subnet.as_str()),
        ipam["Subnet"].as_str()
    );
    assert_eq!(
        details.subnets[0].gateway.as_deref(),
        ipam["Gateway"].as_str()
    );
    assert_eq!(
        engine
            .inspect_network(&env.name("nothing"))
            .await
            .expect("inspect"),
        None
    );

    let name = env.name("c");
    let id = env
        .container(&name)
        .network(&shared)
        .label("bgdeploy.app", "x")
        .run();
    let c = engine
        .inspect_container(&name)
        .await
        .expect("inspect")
        .expect("exists");
    let cli = inspect_json(&id);
    assert_eq!(
        (c.id.as_str(), c.name.as_str(), c.image.as_str()),
        (id.as_str(), name.as_str(), DEMO_V1)
    );
    assert_eq!(Some(c.image_id.as_str()), cli["Image"].as_str());
    assert_eq!(
        (c.state.as_str(), c.running, c.health.as_deref()),
        ("running", true, None)
    );
    assert_eq!(c.pid.map(i64::from), cli["State"]["Pid"].as_i64());
    assert_eq!(c.labels.get("bgdeploy.app").map(String::as_str), Some("x"));
    assert_eq!(c.endpoints.len(), 1);
    let (e, cli_e) = (
        &c.endpoints[0],
        &cli["NetworkSettings"]["Networks"][&shared],
    );
    assert_eq!(
        (e.network.as_str(), e.network_id.as_str(), e.gw_priority),
        (shared.as_str(), shared_id.as_str(), 0)
    );
    assert_eq!(e.ip.as_deref(), cli_e["IPAddress"].as_str());
    assert_eq!(e.gateway.as_deref(), cli_e["Gateway"].as_str());
    let created =
        humantime::parse_rfc3339(cli["Created"].as_str().expect("Created")).expect("RFC 3339");
    assert_eq!(c.created, Some(created));
    assert_eq!(
        engine
            .inspect_container(&env.name("nobody"))
            .await
            .expect("inspect"),
        None
    );

    assert!(engine.image_exists(DEMO_V1).await.expect("image"));
    let absent = format!("bgdeploy-demo:{}absent", env.prefix());
    assert!(!engine.image_exists(&absent).await.expect("image"));
}
