use std::net::Ipv4Addr;

use super::*;
use crate::observe::{ApiVersion, Attachment, ContainerInfo, EngineInfo, NetworkInfo, ProxyInfo};
use crate::route::{DefaultRoute, ReadSource};

fn attachment(network: &str, internal: bool) -> Attachment {
    Attachment {
        network: network.into(),
        network_id: format!("id-{network}"),
        internal,
        ipv6: false,
        gw_priority: 0,
        ip: None,
        gateway: None,
    }
}

fn network(name: &str, internal: bool) -> NetworkLookup {
    NetworkLookup::Found(NetworkInfo {
        id: format!("id-{name}"),
        name: name.into(),
        driver: "bridge".into(),
        internal,
        ipv6: false,
        managed: true,
        labels: Default::default(),
    })
}

fn container(id: &str, role: Role, state: &str, networks: &[(&str, bool)]) -> ContainerInfo {
    ContainerInfo {
        id: id.into(),
        name: format!("shop_stage_{id}"),
        image: "shop:1".into(),
        state: state.into(),
        health: None,
        created: 1_000,
        role,
        attachments: networks.iter().map(|(n, i)| attachment(n, *i)).collect(),
        resources: Default::default(),
    }
}

fn reading(id: &str, network: &str) -> (String, Result<RouteReading, String>) {
    let r = RouteReading {
        container: format!("shop_stage_{id}"),
        v4: Some(DefaultRoute {
            iface: "eth0".into(),
            gateway: Ipv4Addr::new(172, 20, 0, 1),
        }),
        v6: None,
        network: Some(network.into()),
        v6_network: None,
        source: ReadSource::HostProc,
    };
    (id.to_string(), Ok(r))
}

fn observed(containers: Vec<ContainerInfo>, proxy: ProxyLookup) -> Observed {
    Observed {
        engine: EngineInfo {
            host: "unix:///var/run/docker.sock".into(),
            version: "20.10.24".into(),
            api: ApiVersion {
                major: 1,
                minor: 41,
            },
            local: true,
        },
        back: network("BACK_shop_stage", false),
        front: network("FRONT_shop_stage", true),
        extras: vec![],
        containers,
        proxy,
        image_present: false,
        lock: None,
        volumes: Vec::new(),
        missing_binds: Vec::new(),
    }
}

#[test]
fn routes_on_back_are_fine_and_others_are_flagged_with_why() {
    let obs = observed(
        vec![
            container(
                "new",
                Role::Live,
                "running",
                &[
                    ("AAA_extra", false),
                    ("BACK_shop_stage", false),
                    ("FRONT_shop_stage", true),
                ],
            ),
            container(
                "old",
                Role::Retired,
                "exited",
                &[("BACK_shop_stage", false)],
            ),
            container(
                "sb",
                Role::Standby,
                "running",
                &[("BACK_shop_stage", false)],
            ),
        ],
        ProxyLookup::NotNeeded,
    );
    let routes: Routes = [
        reading("new", "AAA_extra"),
        reading("sb", "BACK_shop_stage"),
    ]
    .into_iter()
    .collect();
    let s = build(&obs, "shop", "stage", None, &routes, 1_090);
    let by_name = |n: &str| {
        s.containers
            .iter()
            .find(|c| c.name == format!("shop_stage_{n}"))
            .expect("listed")
    };
    let live = by_name("new");
    assert_eq!(live.route_ok, Some(false));
    assert_eq!(live.default_route.as_deref(), Some("AAA_extra"));
    let note = live.route_note.as_deref().unwrap_or_default();
    assert!(note.contains("sorts first"), "{note}");
    assert_eq!(by_name("sb").route_ok, Some(true));
    assert_eq!(
        (by_name("old").route_ok, by_name("old").age_secs),
        (None, 90)
    );
    assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
    assert_eq!(s.networks.front.internal, Some(true));
}

#[test]
fn a_proxy_off_the_front_network_is_flagged_while_something_is_live() {
    let proxy = ProxyLookup::Found(ProxyInfo {
        id: "p".into(),
        name: "nginx".into(),
        running: true,
        attachments: vec![attachment("bridge", false)],
    });
    let obs = observed(
        vec![container(
            "new",
            Role::Live,
            "running",
            &[("BACK_shop_stage", false), ("FRONT_shop_stage", true)],
        )],
        proxy,
    );
    let routes: Routes = [reading("new", "BACK_shop_stage"), reading("p", "bridge")]
        .into_iter()
        .collect();
    let s = build(&obs, "shop", "stage", None, &routes, 1_000);
    let p = s.proxy.as_ref().expect("a proxy");
    assert_eq!(
        (p.state, p.default_route.as_deref()),
        ("detached", Some("bridge"))
    );
    assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
    assert!(s.problems[0].contains("not attached"), "{:?}", s.problems);
}

fn host(name: &str, image: Option<&str>, reachable: bool) -> crate::render::status::HostStatus {
    crate::render::status::HostStatus {
        host: name.into(),
        reachable,
        error: (!reachable).then(|| "refused".to_string()),
        live_image: image.map(str::to_string),
        live_container: None,
        drift: false,
    }
}

#[test]
fn drift_is_the_hosts_off_the_most_common_live_image() {
    let mut hosts = vec![
        host("a", Some("v1"), true),
        host("b", Some("v2"), true),
        host("c", Some("v1"), true),
        host("d", None, false),
    ];
    assert!(super::flag_drift(&mut hosts));
    let drifting: Vec<&str> = hosts
        .iter()
        .filter(|h| h.drift)
        .map(|h| h.host.as_str())
        .collect();
    assert_eq!(drifting, ["b"], "an unreachable host is not drift");

    // A tie: the earliest host's image is the reference; nothing live counts as different.
    let mut hosts = vec![host("a", Some("v2"), true), host("b", None, true)];
    assert!(super::flag_drift(&mut hosts));
    assert!(!hosts[0].drift && hosts[1].drift);

    let mut same = vec![host("a", Some("v1"), true), host("b", Some("v1"), true)];
    assert!(!super::flag_drift(&mut same));
}
