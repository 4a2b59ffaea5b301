use super::*;

fn container(name: &str, role: Role, state: &str, age_secs: u64) -> ContainerStatus {
    let running = state == "running";
    ContainerStatus {
        host: "default".into(),
        name: name.into(),
        id: "0123456789ab".into(),
        role,
        image: "shop:1.4.2".into(),
        state: state.into(),
        health: None,
        created: "2026-11-26T03:15:00Z".into(),
        age_secs,
        networks: vec!["BACK_shop_stage".into(), "FRONT_shop_stage".into()],
        default_route: running.then(|| "BACK_shop_stage".into()),
        default_route_v6: None,
        route_ok: running.then_some(true),
        route_note: None,
        resources: if role == Role::Live {
            Resources {
                memory: Some(crate::spec::settings::Bytes(512 << 20)),
                cpus: Some(crate::spec::settings::Cpus(1_500_000_000)),
                ..Resources::default()
            }
        } else {
            Resources::default()
        },
    }
}

fn networks() -> StageNetworks {
    StageNetworks {
        back: NetworkStatus {
            name: "BACK_shop_stage".into(),
            state: "found",
            internal: Some(false),
        },
        front: NetworkStatus {
            name: "FRONT_shop_stage".into(),
            state: "found",
            internal: Some(true),
        },
    }
}

/// Two app/stages: a healthy one with live, standby and retired releases behind a proxy,
/// and one in trouble (a moved route, a duplicated network, a stale lock).
fn fixture() -> StatusReport {
    let mut standby = container(
        "shop_stage_20261126-031500-4f2a",
        Role::Standby,
        "running",
        90,
    );
    standby.networks = vec!["BACK_shop_stage".into()];
    standby.health = Some("healthy".into());
    let healthy = StageStatus {
        host: "default".into(),
        app: "shop".into(),
        stage: "stage".into(),
        networks: networks(),
        proxy: Some(ProxyStatus {
            container: "nginx-proxy".into(),
            state: "attached",
            running: true,
            default_route: Some("bridge".into()),
        }),
        maintenance: None,
        lock: None,
        containers: vec![
            standby,
            container(
                "shop_stage_20261126-021500-1b2c",
                Role::Live,
                "running",
                3_700,
            ),
            container(
                "shop_stage_20261125-021500-9d8e",
                Role::Retired,
                "exited",
                90_000,
            ),
        ],
        problems: vec![],
    };
    let mut moved = container("blog_prod_20261126-031500-4f2a", Role::Live, "running", 30);
    moved.networks = vec![
        "AAA_redis".into(),
        "BACK_blog_prod".into(),
        "FRONT_blog_prod".into(),
    ];
    moved.default_route = Some("AAA_redis".into());
    moved.route_ok = Some(false);
    moved.route_note = Some("the IPv4 default route … is on `AAA_redis`".into());
    let troubled = StageStatus {
        host: "default".into(),
        app: "blog".into(),
        stage: "prod".into(),
        networks: StageNetworks {
            back: NetworkStatus {
                name: "BACK_blog_prod".into(),
                state: "found",
                internal: Some(false),
            },
            front: NetworkStatus {
                name: "FRONT_blog_prod".into(),
                state: "ambiguous",
                internal: None,
            },
        },
        proxy: None,
        maintenance: None,
        lock: Some(LockStatus {
            owner: "ann@box pid 42".into(),
            since: Some("2026-11-26T03:00:00Z".into()),
            age_secs: Some(900),
            stale: true,
        }),
        containers: vec![moved],
        problems: vec![
            "2 networks are named FRONT_blog_prod …".into(),
            "the IPv4 default route of container `blog_prod_20261126-031500-4f2a` is on \
             `AAA_redis` …"
                .into(),
            "the deploy lock is stale …".into(),
        ],
    };
    let empty = StageStatus {
        host: "default".into(),
        app: "docs".into(),
        stage: "stage".into(),
        networks: StageNetworks {
            back: NetworkStatus {
                name: "BACK_docs_stage".into(),
                state: "missing",
                internal: None,
            },
            front: NetworkStatus {
                name: "FRONT_docs_stage".into(),
                state: "missing",
                internal: None,
            },
        },
        proxy: Some(ProxyStatus {
            container: "nginx".into(),
            state: "missing",
            running: false,
            default_route: None,
        }),
        maintenance: None,
        lock: None,
        containers: vec![],
        problems: vec![],
    };
    StatusReport {
        apps: vec![healthy, troubled, empty],
        fleet: None,
    }
}

/// Three hosts: one on the new image, one left on the old (drift), one unreachable.
#[test]
fn fleet_snapshot() {
    let host = |name: &str, image: Option<&str>, drift: bool, error: Option<&str>| HostStatus {
        host: name.into(),
        reachable: error.is_none(),
        error: error.map(str::to_string),
        live_image: image.map(str::to_string),
        live_container: image.map(|_| format!("shop_stage_{name}")),
        drift,
    };
    let report = StatusReport {
        apps: vec![],
        fleet: Some(FleetStatus {
            app: "shop".into(),
            stage: "stage".into(),
            drift: true,
            hosts: vec![
                host("web1", Some("shop:v2"), false, None),
                host("web2", Some("shop:v1"), true, None),
                host(
                    "web3",
                    None,
                    false,
                    Some("cannot connect to tcp://10.0.0.3:2376\nmore"),
                ),
            ],
        }),
    };
    insta::assert_snapshot!(human(&report));
}

#[test]
fn human_snapshot() {
    insta::assert_snapshot!(human(&fixture()));
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!(json(&fixture()));
}

#[test]
fn no_app_stage_at_all() {
    let empty = StatusReport {
        apps: vec![],
        fleet: None,
    };
    assert_eq!(human(&empty), "No bgdeploy app/stage on this engine.\n");
    assert_eq!(json(&empty), "{\n  \"apps\": []\n}");
}
