//! Readings and verdicts from tables captured on Engine 20.10 (host side, `/proc/<pid>/net`).

use super::*;
use crate::engine::EndpointDetails;
use crate::observe::ApiVersion;
use crate::route::Endpoint;

const OLD: ApiVersion = ApiVersion {
    major: 1,
    minor: 41,
};

/// A demo container started on `app_stage_internal` (172.19/16, eth0), then connected to
/// `app_stage` (172.20/16, eth1): the route moved to eth1.
const MOVED: &str =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t010014AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000013AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t000014AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
";

/// A demo container on a network created with `--ipv6 --subnet fd00:b9d::/64`.
const V6_ROUTE: &str =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010015AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000015AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
";
const V6_IPV6_ROUTE: &str = "\
fd000b9d000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000b9d000000000000000000000001 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

fn ep(network: &str, ip: &str, gateway: &str) -> EndpointDetails {
    EndpointDetails {
        network: network.into(),
        network_id: format!("id-{network}"),
        gw_priority: 0,
        ip: Some(ip.into()),
        gateway: Some(gateway.into()),
    }
}

fn container(endpoints: Vec<EndpointDetails>) -> ContainerDetails {
    ContainerDetails {
        id: "c0ffee".into(),
        name: "shop_stage_1".into(),
        image: "bgdeploy-demo:v1".into(),
        image_id: "sha256:00".into(),
        state: "running".into(),
        running: true,
        pid: Some(4242),
        health: None,
        created: None,
        labels: Default::default(),
        endpoints,
        resources: Default::default(),
    }
}

fn moved_case() -> RouteReading {
    let c = container(vec![
        ep("app_stage", "172.20.0.2", "172.20.0.1"),
        ep("app_stage_internal", "172.19.0.2", "172.19.0.1"),
    ]);
    RouteReading::from_tables(&c, MOVED, None, ReadSource::HostProc)
}

#[test]
fn names_the_network_by_its_endpoint_gateway() {
    let r = moved_case();
    assert_eq!(r.network.as_deref(), Some("app_stage"));
    assert_eq!(r.v4.as_ref().map(|r| r.iface.as_str()), Some("eth1"));
    assert_eq!(r.v6, None);
}

#[test]
fn check_reports_the_move_with_interface_and_gateway() {
    let r = moved_case();
    assert_eq!(check(&r, Some("app_stage")), Ok(()));
    let moved = check(&r, Some("app_stage_internal")).expect_err("moved");
    assert_eq!(moved.actual.as_deref(), Some("app_stage"));
    assert_eq!(moved.family, Family::V4);
    assert_eq!(
        moved.to_string(),
        "the IPv4 default route of container `shop_stage_1` is on `app_stage` (eth1 via \
         172.20.0.1), not on `app_stage_internal`"
    );
}

#[test]
fn explains_name_order_with_the_fix() {
    let moved = check(&moved_case(), Some("app_stage_internal")).expect_err("moved");
    let eps = [
        Endpoint::new("app_stage_internal", false),
        Endpoint::new("app_stage", false),
    ];
    let text = explain_move(&moved, &eps, OLD);
    for needle in [
        "`app_stage` took the route because its name sorts first",
        "`app_stage` < `app_stage_internal`",
        "BACK_<app>_<stage>",
        "--internal",
        "Engine 28+",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}

#[test]
fn a_prediction_the_kernel_contradicts_is_not_blamed_on_naming() {
    let moved = check(&moved_case(), Some("app_stage_internal")).expect_err("moved");
    let eps = [
        Endpoint::new("app_stage_internal", false),
        Endpoint::new("app_stage", true),
    ];
    let text = explain_move(&moved, &eps, OLD);
    assert!(text.contains("something other than the engine"), "{text}");
}

#[test]
fn a_route_where_none_was_expected_is_a_move() {
    let r = moved_case();
    let moved = check(&r, None).expect_err("an unexpected route");
    assert!(moved.to_string().contains("should have none"), "{moved}");
    let eps = [
        Endpoint::new("app_stage_internal", true),
        Endpoint::new("app_stage", false),
    ];
    let text = explain_move(&moved, &eps, OLD);
    assert!(text.contains("internal networks sort last"), "{text}");
    assert!(text.contains("do not attach `app_stage`"), "{text}");
}

#[test]
fn an_internal_back_network_loses_to_any_other() {
    let moved = check(&moved_case(), Some("app_stage_internal")).expect_err("moved");
    let eps = [
        Endpoint::new("app_stage_internal", true),
        Endpoint::new("app_stage", false),
    ];
    let text = explain_move(&moved, &eps, OLD);
    assert!(text.contains("(it is internal,"), "{text}");
}

#[test]
fn no_route_without_a_gateway() {
    let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                 eth0\t000013AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n";
    let c = container(vec![ep("macvlan_x", "172.19.0.2", "172.19.0.1")]);
    let r = RouteReading::from_tables(&c, table, None, ReadSource::Exec);
    assert_eq!((r.v4.as_ref(), r.network.as_deref()), (None, None));
    assert_eq!(check(&r, None), Ok(()));
    let moved = check(&r, Some("BACK_x")).expect_err("no route");
    assert!(
        moved.to_string().contains("has no IPv4 default route"),
        "{moved}"
    );
    // Measured on 20.10: even an internal network alone gives a route, so a missing one
    // is not the engine's doing.
    let text = explain_move(&moved, &[Endpoint::new("macvlan_x", true)], OLD);
    assert!(text.contains("something other than the engine"), "{text}");
}

#[test]
fn an_unknown_gateway_is_never_a_match() {
    let c = container(vec![ep("app_stage_internal", "172.19.0.2", "172.19.0.1")]);
    let r = RouteReading::from_tables(&c, MOVED, None, ReadSource::HostProc);
    assert_eq!(r.network, None);
    let moved = check(&r, Some("app_stage_internal")).expect_err("foreign gateway");
    assert!(
        moved
            .to_string()
            .contains("the gateway of none of its networks"),
        "{moved}"
    );
}

#[test]
fn ipv6_route_is_mapped_through_its_interface() {
    let c = container(vec![ep("v6net", "172.21.0.2", "172.21.0.1")]);
    let r = RouteReading::from_tables(&c, V6_ROUTE, Some(V6_IPV6_ROUTE), ReadSource::HostProc);
    assert_eq!(r.network.as_deref(), Some("v6net"));
    assert_eq!(r.v6_network.as_deref(), Some("v6net"));
    assert_eq!(
        r.v6.as_ref().map(|r| r.gateway.to_string()).as_deref(),
        Some("fd00:b9d::1")
    );
    assert_eq!(check(&r, Some("v6net")), Ok(()));
}

#[test]
fn an_ipv6_route_elsewhere_is_a_move() {
    let c = container(vec![ep("v6net", "172.21.0.2", "172.21.0.1")]);
    let mut r = RouteReading::from_tables(&c, V6_ROUTE, Some(V6_IPV6_ROUTE), ReadSource::Exec);
    r.v6_network = Some("other".into());
    let moved = check(&r, Some("v6net")).expect_err("v6 moved");
    assert_eq!(moved.family, Family::V6);
    assert!(moved.to_string().contains("IPv6"), "{moved}");
}

#[test]
fn check_both_wants_the_ipv6_route_where_the_plan_put_it() {
    let dual = container(vec![ep("BACK_x", "172.21.0.2", "172.21.0.1")]);
    let with_v6 =
        RouteReading::from_tables(&dual, V6_ROUTE, Some(V6_IPV6_ROUTE), ReadSource::HostProc);
    assert_eq!(check_both(&with_v6, Some("BACK_x"), Some("BACK_x")), Ok(()));
    // The same container without an IPv6 default route: lenient `check` accepts it, the
    // dual-stack check does not.
    let no_v6 = RouteReading::from_tables(&dual, V6_ROUTE, None, ReadSource::HostProc);
    assert_eq!(check(&no_v6, Some("BACK_x")), Ok(()));
    let missing = check_both(&no_v6, Some("BACK_x"), Some("BACK_x")).expect_err("no IPv6");
    assert_eq!(missing.family, Family::V6);
    assert_eq!(
        missing.to_string(),
        "container `shop_stage_1` has no IPv6 default route, but it should go through `BACK_x`"
    );
}

#[test]
fn explains_a_move_by_priority_on_engine_28() {
    let moved = RouteMoved {
        container: "c".into(),
        family: Family::V4,
        expected: Some("a_net".into()),
        actual: Some("z_net".into()),
        iface: Some("eth1".into()),
        gateway: Some("172.21.0.1".parse().expect("literal")),
    };
    let eps = [
        Endpoint::new("a_net", false),
        Endpoint::new("z_net", false).priority(10),
    ];
    let new = ApiVersion {
        major: 1,
        minor: 51,
    };
    let text = explain_move(&moved, &eps, new);
    assert!(text.contains("it has the highest GwPriority"), "{text}");
    assert!(text.contains("give `a_net` a higher GwPriority"), "{text}");
}
