//! `observe` against a hand-built app/stage: every field of `Observed` checked against what
//! the docker CLI reports, and proof that observing changed nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use bgdeploy::names;
use bgdeploy::observe::{
    Attachment, ContainerInfo, LockInfo, NetworkInfo, NetworkLookup, Observed, ProxyInfo,
    ProxyLookup, Role, observe,
};
use bgdeploy::spec::{Deploy, Health, HealthCheck, Proxy, ProxyDriver, StatusRange};

use crate::harness::{
    DEMO_HC, DEMO_V1, TestEnv, inspect_json, require_engine, require_images, snapshot,
};

fn deploy(app: &str, stage: &str, driver: ProxyDriver, networks: Vec<String>) -> Deploy {
    Deploy {
        app: app.into(),
        stage: stage.into(),
        image: DEMO_V1.into(),
        port: 8080,
        command: None,
        env: BTreeMap::new(),
        secrets: Vec::new(),
        networks,
        health: Health {
            check: HealthCheck::Http {
                path: "/up".into(),
                expect: StatusRange {
                    low: 200,
                    high: 399,
                },
            },
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(2),
            healthy: 1,
            deadline: Duration::from_secs(60),
        },
        proxy: Proxy {
            driver,
            verify: None,
        },
        front_internal: true,
        drain: Duration::from_secs(5),
        stop_timeout: Duration::from_secs(10),
        keep: 2,
        container: Default::default(),
        hooks: Default::default(),
        hosts: Default::default(),
        rollout: Default::default(),
    }
}

fn nginx_proxy(container: &str) -> ProxyDriver {
    ProxyDriver::NginxProxy {
        container: container.into(),
        virtual_host: "shop.test".into(),
        reload: None,
        docker_gen: None,
    }
}

fn labels(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs.iter().cloned().collect()
}

fn network(id: &str, name: &str, internal: bool, labels: BTreeMap<String, String>) -> NetworkInfo {
    NetworkInfo {
        id: id.into(),
        name: name.into(),
        driver: "bridge".into(),
        internal,
        managed: labels
            .get(names::LABEL_MANAGED)
            .is_some_and(|v| v == "true"),
        labels,
    }
}

/// A container's attachments as the docker CLI reports them, in network name order.
fn cli_attachments(container: &str, internal: &[&str]) -> Vec<Attachment> {
    let networks = inspect_json(container)["NetworkSettings"]["Networks"].clone();
    let mut all: Vec<Attachment> = networks
        .as_object()
        .expect("a map of networks")
        .iter()
        .map(|(name, e)| Attachment {
            network: name.clone(),
            network_id: e["NetworkID"].as_str().expect("NetworkID").into(),
            internal: internal.contains(&name.as_str()),
            gw_priority: e["GwPriority"].as_i64().unwrap_or(0),
            ip: e["IPAddress"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(Into::into),
            gateway: e["Gateway"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(Into::into),
        })
        .collect();
    all.sort_by(|a, b| a.network.as_bytes().cmp(b.network.as_bytes()));
    all
}

fn cli_container(id: &str, role: Role, internal: &[&str]) -> ContainerInfo {
    let c = inspect_json(id);
    let created =
        humantime::parse_rfc3339(c["Created"].as_str().expect("Created")).expect("RFC 3339");
    ContainerInfo {
        id: id.into(),
        name: c["Name"]
            .as_str()
            .expect("Name")
            .trim_start_matches('/')
            .into(),
        image: c["Config"]["Image"].as_str().expect("image").into(),
        state: c["State"]["Status"].as_str().expect("status").into(),
        health: c["State"]["Health"]["Status"].as_str().map(Into::into),
        created: created
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64,
        role,
        attachments: cli_attachments(id, internal),
        resources: Default::default(),
    }
}

#[tokio::test]
async fn observe_reads_networks_containers_and_proxy() {
    let Some(engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (app, stage) = (env.name("shop"), "stage".to_string());
    let (back, front) = (
        names::back_network(&app, &stage),
        names::front_network(&app, &stage),
    );
    let net_labels = names::labels(&app, &stage, "network");
    let app_labels = names::labels(&app, &stage, names::KIND_APP);

    let back_id = env.network(&back).labels(&net_labels).create();
    let front_id = env.network(&front).internal().labels(&net_labels).create();
    let (shared, missing, dup) = (env.name("shared"), env.name("missing"), env.name("dup"));
    let shared_id = env.network(&shared).create();
    let mut dup_ids = [
        env.network(&dup).create(),
        env.duplicate_network(&dup).await,
    ];
    dup_ids.sort();

    // Oldest first: retired, then live, then standby.
    let retired = env
        .container(&names::container_name(&app, &stage, "r"))
        .network(&back)
        .labels(&app_labels)
        .run();
    env.kill(&retired);
    let live = env
        .container(&names::container_name(&app, &stage, "l"))
        .image(DEMO_HC)
        .network(&back)
        .labels(&app_labels)
        .run();
    env.connect(&front, &live);
    let standby = env
        .container(&names::container_name(&app, &stage, "s"))
        .network(&back)
        .labels(&app_labels)
        .run();
    let proxy_name = env.name("proxy");
    let proxy = env.container(&proxy_name).network("bridge").run();
    env.connect(&front, &proxy);
    let lock_labels = [
        names::labels(&app, &stage, names::KIND_LOCK),
        vec![
            (names::LABEL_LOCK_OWNER.into(), "ana@ci (pid 7)".into()),
            (names::LABEL_LOCK_SINCE.into(), "1700000000".into()),
        ],
    ]
    .concat();
    env.container(&names::lock_name(&app, &stage))
        .labels(&lock_labels)
        .create();
    // Not this app/stage's: another stage, and an unlabelled container on the back network.
    env.container(&names::container_name(&app, "other", "x"))
        .labels(&names::labels(&app, "other", names::KIND_APP))
        .create();
    env.container(&env.name("stranger")).network(&back).run();

    let spec = deploy(
        &app,
        &stage,
        nginx_proxy(&proxy_name),
        vec![shared.clone(), missing.clone(), dup.clone()],
    );
    let before = snapshot(env.prefix());
    let observed = observe(&engine, &spec, DEMO_V1).await.expect("observe");

    let internal = [front.as_str()];
    let mut containers = vec![
        cli_container(&standby, Role::Standby, &internal),
        cli_container(&live, Role::Live, &internal),
        cli_container(&retired, Role::Retired, &internal),
    ];
    // The HEALTHCHECK may turn "starting" into "healthy" between the two reads.
    let health = observed.containers.get(1).and_then(|c| c.health.clone());
    assert!(
        matches!(health.as_deref(), Some("starting" | "healthy")),
        "live health: {health:?}"
    );
    containers[1].health = health;
    let expected = Observed {
        engine: engine.info().clone(),
        back: NetworkLookup::Found(network(&back_id, &back, false, labels(&net_labels))),
        front: NetworkLookup::Found(network(&front_id, &front, true, labels(&net_labels))),
        extras: vec![
            NetworkLookup::Found(network(&shared_id, &shared, false, BTreeMap::new())),
            NetworkLookup::Missing { name: missing },
            NetworkLookup::Ambiguous {
                name: dup.clone(),
                matches: dup_ids
                    .iter()
                    .map(|id| network(id, &dup, false, BTreeMap::new()))
                    .collect(),
            },
        ],
        containers,
        proxy: ProxyLookup::Found(ProxyInfo {
            id: proxy.clone(),
            name: proxy_name.clone(),
            running: true,
            attachments: cli_attachments(&proxy, &internal),
        }),
        image_present: true,
        lock: Some(LockInfo {
            owner: "ana@ci (pid 7)".into(),
            since: 1_700_000_000,
        }),
        volumes: Vec::new(),
        missing_binds: Vec::new(),
    };
    assert_eq!(observed, expected);
    // Spelled out, in case the CLI-derived expectation shares a mistake with the code.
    assert_eq!(
        observed
            .containers
            .iter()
            .map(|c| (c.role, c.state.as_str()))
            .collect::<Vec<_>>(),
        [
            (Role::Standby, "running"),
            (Role::Live, "running"),
            (Role::Retired, "exited")
        ]
    );
    let ProxyLookup::Found(p) = &observed.proxy else {
        unreachable!()
    };
    assert_eq!(
        p.attachments
            .iter()
            .map(|a| (a.network.as_str(), a.internal))
            .collect::<Vec<_>>(),
        [(front.as_str(), true), ("bridge", false)]
    );

    // Drivers without a container, a proxy that is not there, an image that is not there.
    let none = observe(
        &engine,
        &deploy(&app, &stage, ProxyDriver::None, vec![]),
        "bgdeploy-demo:absent-tag",
    )
    .await
    .expect("observe");
    assert_eq!(none.proxy, ProxyLookup::NotNeeded);
    assert!(!none.image_present);
    let gone = env.name("no_proxy");
    let missing_proxy = observe(
        &engine,
        &deploy(&app, &stage, nginx_proxy(&gone), vec![]),
        DEMO_V1,
    )
    .await
    .expect("observe");
    assert_eq!(missing_proxy.proxy, ProxyLookup::Missing { name: gone });

    assert_eq!(
        snapshot(env.prefix()),
        before,
        "observe must change nothing"
    );
    assert_eq!(
        before.len(),
        5 + 7,
        "the snapshot sees every network and container: {before:#?}"
    );
}

#[tokio::test]
async fn observe_of_an_app_that_was_never_deployed() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let app = env.name("new");
    let observed: Observed = observe(
        &engine,
        &deploy(&app, "prod", ProxyDriver::None, vec![]),
        DEMO_V1,
    )
    .await
    .expect("observe");
    assert_eq!(
        observed.back,
        NetworkLookup::Missing {
            name: names::back_network(&app, "prod")
        }
    );
    assert_eq!(
        observed.front,
        NetworkLookup::Missing {
            name: names::front_network(&app, "prod")
        }
    );
    assert!(
        observed.extras.is_empty() && observed.containers.is_empty() && observed.lock.is_none()
    );
}
