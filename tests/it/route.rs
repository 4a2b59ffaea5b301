//! DESIGN §1's measurements, reproduced: attach a second network to a running container,
//! read the kernel's default route from the host, and check that `route::default_route_holder`
//! predicted exactly the network that holds it.

use bgdeploy::engine::Engine;
use bgdeploy::route::{Endpoint, default_route_holder, parse_ipv4_route_table};

use crate::harness::{TestEnv, require_engine, require_images};

/// The network whose gateway the container's default route points at, read from
/// `/proc/<pid>/net/route` on the engine's host. Matched against each endpoint's gateway, not
/// the network's IPAM config: the default `bridge` network lists no gateway there.
async fn observed_holder(engine: &Engine, container: &str) -> String {
    let c = engine
        .inspect_container(container)
        .await
        .expect("inspect")
        .expect("the container");
    let pid = c.pid.expect("a running container");
    let path = format!("/proc/{pid}/net/route");
    let table = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (is the engine really on this host?)"));
    let route =
        parse_ipv4_route_table(&table).unwrap_or_else(|| panic!("no default route in:\n{table}"));
    let gateway = route.gateway.to_string();
    let holder = c
        .endpoints
        .iter()
        .find(|e| e.gateway.as_deref() == Some(gateway.as_str()));
    match holder {
        Some(e) => e.network.clone(),
        None => panic!(
            "gateway {gateway} of {container} belongs to none of its networks: {:?}",
            c.endpoints
        ),
    }
}

/// What bgdeploy predicts from the engine's own description of the container.
async fn predicted_holder(engine: &Engine, container: &str) -> Option<String> {
    let c = engine
        .inspect_container(container)
        .await
        .expect("inspect")
        .expect("the container");
    let mut endpoints = Vec::new();
    for e in &c.endpoints {
        let n = engine
            .inspect_network(&e.network_id)
            .await
            .expect("inspect")
            .expect("the network");
        endpoints.push(Endpoint {
            network: e.network.clone(),
            internal: n.info.internal,
            gw_priority: e.gw_priority,
        });
    }
    default_route_holder(&endpoints, engine.info().api).map(|h| h.network)
}

struct Case<'a> {
    /// The network the container starts on (created unless it is `bridge`).
    first: &'a str,
    /// The network attached later.
    second: &'a str,
    second_internal: bool,
    /// Who holds the default route afterwards, per DESIGN §1.
    expected: &'a str,
}

async fn check(engine: &Engine, env: &TestEnv, case: Case<'_>) {
    if case.first != "bridge" {
        env.network(case.first).create();
    }
    let second = env.network(case.second);
    if case.second_internal {
        second.internal()
    } else {
        second
    }
    .create();
    let container = env.name("c");
    env.container(&container).network(case.first).run();
    assert_eq!(
        observed_holder(engine, &container).await,
        case.first,
        "before the attach"
    );

    env.connect(case.second, &container);
    let observed = observed_holder(engine, &container).await;
    let predicted = predicted_holder(engine, &container).await;
    assert_eq!(
        predicted.as_deref(),
        Some(observed.as_str()),
        "prediction vs the kernel"
    );
    assert_eq!(observed, case.expected);
}

/// `None` (after saying why) where the route cannot be read from this host.
async fn local_engine() -> Option<Engine> {
    let engine = require_engine().await?;
    if !engine.info().local {
        eprintln!(
            "SKIPPED: reading /proc/<pid>/net/route needs the engine on this host (unix socket)"
        );
        return None;
    }
    require_images();
    Some(engine)
}

mod route_prediction_matches_engine {
    use super::*;

    #[tokio::test]
    async fn shorter_name_takes_the_route_from_app_stage_internal() {
        let Some(engine) = local_engine().await else {
            return;
        };
        let env = TestEnv::new();
        // The shared prefix keeps the order: `<p>app_stage` < `<p>app_stage_internal`.
        let (long, short) = (env.name("app_stage_internal"), env.name("app_stage"));
        check(
            &engine,
            &env,
            Case {
                first: &long,
                second: &short,
                second_internal: false,
                expected: &short,
            },
        )
        .await;
    }

    #[tokio::test]
    async fn back_keeps_the_route_when_front_is_attached() {
        let Some(engine) = local_engine().await else {
            return;
        };
        let env = TestEnv::new();
        let (back, front) = (
            format!("BACK_{}x", env.prefix()),
            format!("FRONT_{}x", env.prefix()),
        );
        check(
            &engine,
            &env,
            Case {
                first: &back,
                second: &front,
                second_internal: false,
                expected: &back,
            },
        )
        .await;
    }

    #[tokio::test]
    async fn front_takes_the_route_of_a_container_on_bridge() {
        let Some(engine) = local_engine().await else {
            return;
        };
        let env = TestEnv::new();
        let front = format!("FRONT_{}x", env.prefix());
        check(
            &engine,
            &env,
            Case {
                first: "bridge",
                second: &front,
                second_internal: false,
                expected: &front,
            },
        )
        .await;
    }

    #[tokio::test]
    async fn internal_front_leaves_the_route_on_bridge() {
        let Some(engine) = local_engine().await else {
            return;
        };
        let env = TestEnv::new();
        let front = format!("FRONT_{}x", env.prefix());
        check(
            &engine,
            &env,
            Case {
                first: "bridge",
                second: &front,
                second_internal: true,
                expected: "bridge",
            },
        )
        .await;
    }
}
