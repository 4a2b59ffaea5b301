//! Plans from fixed observed states, snapshotted in both output forms.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::observe::*;
use crate::render;
use crate::spec::{Deploy, Health, HealthCheck, Proxy, ProxyDriver, StatusRange};

fn deploy() -> Deploy {
    Deploy {
        app: "shop".into(),
        stage: "stage".into(),
        image: "shop:1.4.2".into(),
        port: 8080,
        command: None,
        env: BTreeMap::from([("RAILS_ENV".to_string(), "production".to_string())]),
        secrets: vec!["DATABASE_URL".into()],
        networks: vec![],
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
            driver: ProxyDriver::Nginx {
                container: "proxy".into(),
                virtual_host: "shop.example.com".into(),
                config_path: "/etc/nginx/conf.d/bgdeploy_shop_stage.conf".into(),
                reload: None,
            },
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

fn net(name: &str, internal: bool, managed: bool) -> NetworkInfo {
    NetworkInfo {
        id: format!("{:0<64}", name.len()),
        name: name.into(),
        driver: "bridge".into(),
        internal,
        managed,
        labels: BTreeMap::new(),
    }
}

fn att(network: &str, internal: bool) -> Attachment {
    Attachment {
        network: network.into(),
        network_id: format!("id-{network}"),
        internal,
        gw_priority: 0,
        ip: None,
        gateway: None,
    }
}

fn container(name: &str, role: Role, created: i64, attachments: Vec<Attachment>) -> ContainerInfo {
    ContainerInfo {
        id: format!("id-{name}"),
        name: name.into(),
        image: "shop:1.4.1".into(),
        state: if role == Role::Retired {
            "exited"
        } else {
            "running"
        }
        .into(),
        health: None,
        created,
        role,
        attachments,
        resources: Default::default(),
    }
}

fn proxy_on(attachments: Vec<Attachment>) -> ProxyLookup {
    ProxyLookup::Found(ProxyInfo {
        id: "id-proxy".into(),
        name: "proxy".into(),
        running: true,
        attachments,
    })
}

/// A fresh engine: nothing of the app exists yet; the proxy sits on `bridge` only.
fn empty(api_minor: u32) -> Observed {
    Observed {
        engine: EngineInfo {
            host: "unix:///var/run/docker.sock".into(),
            version: "20.10.24".into(),
            api: ApiVersion {
                major: 1,
                minor: api_minor,
            },
            local: true,
        },
        back: NetworkLookup::Missing {
            name: "BACK_shop_stage".into(),
        },
        front: NetworkLookup::Missing {
            name: "FRONT_shop_stage".into(),
        },
        extras: vec![],
        containers: vec![],
        proxy: proxy_on(vec![att("bridge", false)]),
        image_present: true,
        lock: None,
        volumes: Vec::new(),
        missing_binds: Vec::new(),
    }
}

fn opts() -> PlanOptions {
    PlanOptions {
        image: "shop:1.4.2".into(),
        suffix: "20261126-031500-4f2a".into(),
        no_cutover: false,
        lock_wait: Duration::ZERO,
        pull: Pull::Missing,
        mode: Mode::Up,
    }
}

fn plan_ok(d: &Deploy, obs: &Observed, o: &PlanOptions) -> Plan {
    plan(d, obs, o).expect("a plan")
}

/// Both forms of `plan`'s output, with the exit code predicted from the same state.
fn snap(name: &str, plan: &Plan, d: &Deploy, obs: &Observed) {
    let predicted = predict(plan, d, obs);
    insta::assert_snapshot!(
        format!("{name}_human"),
        render::plan::human(plan, &predicted)
    );
    insta::assert_snapshot!(format!("{name}_json"), render::plan::json(plan, &predicted));
}

#[test]
fn first_deploy_creates_networks_and_attaches_the_proxy() {
    let obs = empty(41);
    let plan = plan_ok(&deploy(), &obs, &opts());
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    snap("first_deploy", &plan, &deploy(), &obs);
}

#[test]
fn second_deploy_retires_the_live_container_and_honours_keep() {
    let obs = live_and_two_retired();
    let plan = plan_ok(&deploy(), &obs, &opts());
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let removed: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::RemoveContainer { container, .. } => Some(container.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(removed, ["shop_stage_a"]);
    snap("second_deploy", &plan, &deploy(), &obs);
}

#[test]
fn an_extra_network_sorting_before_back_is_a_route_warning() {
    let mut d = deploy();
    d.networks = vec!["AAA_redis".into(), "shared_cache".into()];
    let mut obs = empty(41);
    obs.extras = vec![
        NetworkLookup::Found(net("AAA_redis", false, false)),
        NetworkLookup::Found(net("shared_cache", false, false)),
    ];
    let plan = plan_ok(&d, &obs, &opts());
    let codes: Vec<_> = plan.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [WarningCode::RouteMoves]);
    assert!(
        plan.warnings[0].message.contains("AAA_redis"),
        "{}",
        plan.warnings[0].message
    );
    snap("extra_network_moves_route", &plan, &d, &obs);
}

#[test]
fn gw_priority_keeps_the_route_on_engine_28() {
    let mut d = deploy();
    d.networks = vec!["AAA_redis".into()];
    let mut obs = empty(48);
    obs.extras = vec![NetworkLookup::Found(net("AAA_redis", false, false))];
    let plan = plan_ok(&d, &obs, &opts());
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let priorities: Vec<Option<i64>> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::CreateContainer { gw_priority, .. }
            | Action::ConnectNetwork { gw_priority, .. } => Some(*gw_priority),
            _ => None,
        })
        .collect();
    // The proxy's FRONT attach, the release's BACK (at create), the extra, then FRONT.
    assert_eq!(
        priorities,
        [
            Some(priority::FRONT),
            Some(priority::BACK),
            Some(priority::EXTRA),
            Some(priority::FRONT)
        ]
    );
}

#[test]
fn a_non_internal_front_next_to_a_proxy_on_bridge_is_predicted() {
    let mut obs = empty(41);
    obs.front = NetworkLookup::Found(net("FRONT_shop_stage", false, true));
    let plan = plan_ok(&deploy(), &obs, &opts());
    let codes: Vec<_> = plan.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        [WarningCode::FrontNotInternal, WarningCode::RouteMoves]
    );
    assert!(
        plan.warnings[1]
            .message
            .contains("from bridge to FRONT_shop_stage"),
        "{}",
        plan.warnings[1].message
    );
    snap("front_not_internal", &plan, &deploy(), &obs);
}

#[test]
fn trouble_on_the_engine_is_reported_not_hidden() {
    let mut obs = empty(41);
    obs.back = NetworkLookup::Ambiguous {
        name: "BACK_shop_stage".into(),
        matches: vec![
            NetworkInfo {
                id: "a1".repeat(32),
                ..net("BACK_shop_stage", false, true)
            },
            NetworkInfo {
                id: "b2".repeat(32),
                ..net("BACK_shop_stage", false, true)
            },
        ],
    };
    obs.proxy = ProxyLookup::Missing {
        name: "proxy".into(),
    };
    obs.image_present = false;
    obs.lock = Some(LockInfo {
        owner: "ci@runner-7 pid 4242".into(),
        since: 1_795_000_000,
    });
    obs.containers = vec![container(
        "shop_stage_s",
        Role::Standby,
        50,
        vec![att("BACK_shop_stage", false)],
    )];
    let mut o = opts();
    o.no_cutover = true;
    let plan = plan_ok(&deploy(), &obs, &o);
    let codes: Vec<_> = plan.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        [
            WarningCode::Locked,
            WarningCode::DuplicateNetwork,
            WarningCode::ProxyMissing
        ]
    );
    snap("trouble", &plan, &deploy(), &obs);
}

#[test]
fn plan_has_no_secret_values() {
    let plan = plan_ok(&deploy(), &empty(41), &opts());
    let ok = Prediction::success();
    let text = render::plan::human(&plan, &ok) + &render::plan::json(&plan, &ok);
    assert!(text.contains("DATABASE_URL"));
    assert!(
        !text.contains("production\""),
        "env values must not be rendered: {text}"
    );
}

/// One live release and two retired ones, networks and proxy in place.
fn live_and_two_retired() -> Observed {
    let mut obs = empty(41);
    obs.back = NetworkLookup::Found(net("BACK_shop_stage", false, true));
    obs.front = NetworkLookup::Found(net("FRONT_shop_stage", true, true));
    obs.proxy = proxy_on(vec![att("bridge", false), att("FRONT_shop_stage", true)]);
    obs.containers = vec![
        container(
            "shop_stage_c",
            Role::Live,
            300,
            vec![att("BACK_shop_stage", false), att("FRONT_shop_stage", true)],
        ),
        container(
            "shop_stage_b",
            Role::Retired,
            200,
            vec![att("BACK_shop_stage", false)],
        ),
        container(
            "shop_stage_a",
            Role::Retired,
            100,
            vec![att("BACK_shop_stage", false)],
        ),
    ];
    obs
}

/// `action target` of each step from `from` on, `+` marking one that starts with the previous.
fn tail(plan: &Plan, from: &str) -> Vec<String> {
    let start = plan
        .steps
        .iter()
        .position(|s| s.action_name() == from)
        .expect("the step");
    plan.steps[start..]
        .iter()
        .map(|s| {
            let mark = if s.with_previous { "+" } else { "" };
            format!("{mark}{} {}", s.action_name(), s.target)
        })
        .collect()
}

#[test]
fn the_old_release_stops_while_the_history_is_written_and_leaves_front_once_stopped() {
    let plan = plan_ok(&deploy(), &live_and_two_retired(), &opts());
    assert_eq!(
        tail(&plan, "drain"),
        [
            "drain shop_stage_c",
            "stop_container shop_stage_c",
            "+remove_container shop_stage_a",
            "+record_history shop/stage",
            "disconnect_network shop_stage_c",
            "release_lock shop/stage",
        ]
    );
}

#[test]
fn with_nginx_proxy_the_old_release_leaves_front_before_the_switch() {
    let mut d = deploy();
    d.proxy.driver = ProxyDriver::NginxProxy {
        container: "proxy".into(),
        virtual_host: "shop.example.com".into(),
        reload: None,
        docker_gen: None,
    };
    let plan = plan_ok(&d, &live_and_two_retired(), &opts());
    assert_eq!(
        tail(&plan, "check_route"),
        [
            "check_route shop_stage_20261126-031500-4f2a",
            "proxy_switch proxy",
            "disconnect_network shop_stage_c",
            "proxy_switch proxy",
            "drain shop_stage_c",
            "stop_container shop_stage_c",
            "+remove_container shop_stage_a",
            "+record_history shop/stage",
            "release_lock shop/stage",
        ]
    );
}

#[test]
fn a_first_deploy_records_its_history_alone() {
    let plan = plan_ok(&deploy(), &empty(41), &opts());
    assert!(plan.steps.iter().all(|s| !s.with_previous));
}

#[test]
fn rollback_detaches_a_stopped_release_still_on_front_before_starting_it() {
    let mut obs = live_and_two_retired();
    // A run killed between stopping shop_stage_b and detaching it.
    obs.containers[1].attachments =
        vec![att("BACK_shop_stage", false), att("FRONT_shop_stage", true)];
    let o = PlanOptions {
        mode: Mode::Rollback { to: None },
        ..opts()
    };
    let plan = plan_ok(&deploy(), &obs, &o);
    let steps: Vec<String> = plan
        .steps
        .iter()
        .map(|s| format!("{} {}", s.action_name(), s.target))
        .collect();
    let at = |step: &str| {
        steps
            .iter()
            .position(|s| s == step)
            .unwrap_or_else(|| panic!("no step `{step}` in {steps:#?}"))
    };
    let detach = at("disconnect_network shop_stage_b");
    let start = at("start_container shop_stage_b");
    let healthy = at("wait_healthy shop_stage_b");
    // Joins FRONT_ again only once healthy.
    let connect = at("connect_network shop_stage_b");
    assert!(
        detach < start && start < healthy && healthy < connect,
        "{steps:#?}"
    );

    // A retired release that left FRONT_ as it should is simply started.
    let plan = plan_ok(&deploy(), &live_and_two_retired(), &o);
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| s.action_name() == "disconnect_network" && s.target == "shop_stage_b"),
    );
}

#[test]
fn an_old_release_beyond_keep_is_stopped_then_removed_not_raced() {
    let mut obs = live_and_two_retired();
    // Two live (a run killed mid-switch); with keep 1 the older one goes for good.
    obs.containers[1].role = Role::Live;
    obs.containers[1].state = "running".into();
    obs.containers[1].attachments =
        vec![att("BACK_shop_stage", false), att("FRONT_shop_stage", true)];
    let mut d = deploy();
    d.keep = 1;
    let plan = plan_ok(&d, &obs, &opts());
    assert_eq!(
        tail(&plan, "stop_container"),
        [
            "stop_container shop_stage_c",
            "+stop_container shop_stage_b",
            "+remove_container shop_stage_a",
            "+record_history shop/stage",
            "disconnect_network shop_stage_c",
            "remove_container shop_stage_b",
            "release_lock shop/stage",
        ]
    );
}

#[test]
fn container_settings_are_shown_and_a_missing_bind_path_is_a_warning() {
    let mut d = deploy();
    let spec = crate::spec::parse(
        "apps:
  shop:
    image: shop:1
    port: 8080
    volumes: [uploads:/app/uploads, sessions:/app/sessions, /srv/shop:/app/config:ro]
    memory: 512m
    cpus: 1.5
    logging: {driver: json-file, options: {max-size: 10m, max-file: 3}}
    user: \"1000:1000\"
    labels: {team: shop}
    stages: {stage: }
",
        "deploy.yaml",
    )
    .expect("valid");
    d.container = spec
        .deploy("shop", "stage")
        .expect("stage")
        .container
        .clone();
    let mut obs = empty(41);
    obs.volumes = vec![
        VolumeLookup {
            name: "uploads".into(),
            exists: true,
        },
        VolumeLookup {
            name: "sessions".into(),
            exists: false,
        },
    ];
    obs.missing_binds = vec!["/srv/shop".into()];
    let plan = plan_ok(&d, &obs, &opts());
    let codes: Vec<_> = plan.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [WarningCode::BindPathMissing]);
    snap("container_settings", &plan, &d, &obs);
}

/// `hooks.before_switch` runs once the release is healthy and before traffic moves, for `up`
/// and `cutover`; never for `rollback` (that release already served) or `--no-cutover`.
#[test]
fn before_switch_comes_between_healthy_and_the_switch() {
    let mut d = deploy();
    d.hooks.before_switch = Some(crate::spec::Hook {
        command: vec!["bin/migrate".into()],
        timeout: Duration::from_secs(600),
    });
    let actions = |p: &Plan| -> Vec<String> { p.steps.iter().map(Step::action_name).collect() };
    let up = plan_ok(&d, &empty(41), &opts());
    let names = actions(&up);
    let at = names
        .iter()
        .position(|a| a == "before_switch")
        .expect("a before_switch step");
    assert_eq!(names[at - 1], "wait_healthy", "{names:?}");
    assert!(
        names[at + 1..].iter().any(|a| a == "connect_network"),
        "{names:?}"
    );
    let step = &up.steps[at];
    assert_eq!(step.target, "shop_stage_oneoff-20261126-031500-4f2a");
    let json = serde_json::to_value(step).expect("json");
    assert_eq!(json["image"], "shop:1.4.2");
    assert_eq!(json["command"], serde_json::json!(["bin/migrate"]));
    assert_eq!(json["timeout_secs"], 600.0);
    assert!(
        step.description.contains("bin/migrate"),
        "{}",
        step.description
    );

    let standby = PlanOptions {
        no_cutover: true,
        ..opts()
    };
    assert!(!actions(&plan_ok(&d, &empty(41), &standby)).contains(&"before_switch".into()));

    let mut obs = empty(41);
    obs.containers = vec![
        container(
            "shop_stage_new",
            Role::Standby,
            2,
            vec![att("BACK_shop_stage", false)],
        ),
        container(
            "shop_stage_old",
            Role::Retired,
            1,
            vec![att("BACK_shop_stage", false)],
        ),
    ];
    let cutover = PlanOptions {
        mode: Mode::Cutover,
        ..opts()
    };
    assert!(actions(&plan_ok(&d, &obs, &cutover)).contains(&"before_switch".into()));
    let rollback = PlanOptions {
        mode: Mode::Rollback { to: None },
        ..opts()
    };
    assert!(!actions(&plan_ok(&d, &obs, &rollback)).contains(&"before_switch".into()));
}

mod phases;
