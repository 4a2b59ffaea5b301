use super::*;

const OLD: ApiVersion = ApiVersion {
    major: 1,
    minor: 41,
};
const NEW: ApiVersion = ApiVersion {
    major: 1,
    minor: 51,
};

fn holder(eps: &[Endpoint], api: ApiVersion) -> Option<String> {
    default_route_holder(eps, api).map(|h| h.network)
}

/// (IPv4 holder, IPv6 holder) with their reasons.
fn routes(eps: &[Endpoint], api: ApiVersion) -> [Option<(String, RouteReason)>; 2] {
    let r = default_routes(eps, api);
    [r.v4, r.v6].map(|h| h.map(|h| (h.network, h.reason)))
}

fn on(network: &str, reason: RouteReason) -> Option<(String, RouteReason)> {
    Some((network.to_string(), reason))
}

#[test]
fn the_write_ups_case_moves_the_route() {
    let eps = [
        Endpoint::new("app_stage_internal", false),
        Endpoint::new("app_stage", false),
    ];
    assert_eq!(holder(&eps, OLD).as_deref(), Some("app_stage"));
    assert_eq!(holder(&eps, NEW).as_deref(), Some("app_stage"));
}

#[test]
fn back_sorts_before_front() {
    let eps = [
        Endpoint::new("BACK_x", false),
        Endpoint::new("FRONT_x", false),
    ];
    assert_eq!(holder(&eps, OLD).as_deref(), Some("BACK_x"));
}

#[test]
fn uppercase_front_beats_lowercase_bridge() {
    let eps = [
        Endpoint::new("bridge", false),
        Endpoint::new("FRONT_x", false),
    ];
    let h = default_route_holder(&eps, OLD).expect("a holder");
    assert_eq!(h.network, "FRONT_x");
    assert_eq!(h.reason, RouteReason::NameOrder);
}

#[test]
fn internal_networks_sort_last() {
    let eps = [
        Endpoint::new("bridge", false),
        Endpoint::new("FRONT_x", true),
    ];
    for api in [OLD, NEW] {
        let h = default_route_holder(&eps, api).expect("a holder");
        assert_eq!(h.network, "bridge");
        assert_eq!(h.reason, RouteReason::Internal);
    }
    assert_eq!(holder(&[], OLD), None);
}

#[test]
fn an_internal_only_container_has_a_route_on_20_10_and_none_on_28() {
    let eps = [Endpoint::new("FRONT_x", true).ipv6(true)];
    assert_eq!(
        routes(&eps, OLD),
        [
            on("FRONT_x", RouteReason::Only),
            on("FRONT_x", RouteReason::Only)
        ]
    );
    assert_eq!(routes(&eps, NEW), [None, None]);
}

#[test]
fn priority_wins_only_from_api_1_48() {
    let eps = [
        Endpoint::new("BACK_x", false).priority(100),
        Endpoint::new("AAA_extra", false),
    ];
    assert_eq!(holder(&eps, OLD).as_deref(), Some("AAA_extra"));
    let h = default_route_holder(&eps, NEW).expect("a holder");
    assert_eq!(h.network, "BACK_x");
    assert_eq!(h.reason, RouteReason::Priority);
}

#[test]
fn a_front_with_the_lowest_priority_leaves_the_proxys_route_on_bridge() {
    let eps = [
        Endpoint::new("bridge", false),
        Endpoint::new("FRONT_x", false).priority(-100),
    ];
    assert_eq!(routes(&eps, NEW)[0], on("bridge", RouteReason::Priority));
    assert_eq!(routes(&eps, OLD)[0], on("FRONT_x", RouteReason::NameOrder));
}

#[test]
fn dual_stack_sorts_before_ipv4_only_on_both_engines() {
    let eps = [
        Endpoint::new("a_v4", false),
        Endpoint::new("z_dual", false).ipv6(true),
    ];
    for api in [OLD, NEW] {
        assert_eq!(
            routes(&eps, api),
            [
                on("z_dual", RouteReason::DualStack),
                on("z_dual", RouteReason::DualStack)
            ],
            "API {api}"
        );
    }
}

#[test]
fn on_20_10_the_ipv6_route_follows_the_ipv4_gateway_endpoint() {
    // The non-internal IPv4-only network holds IPv4, and it has no IPv6: no IPv6 route,
    // although the internal network has an IPv6 gateway (measured on 20.10.24).
    let eps = [
        Endpoint::new("a_v4", false),
        Endpoint::new("b_internal_dual", true).ipv6(true),
    ];
    assert_eq!(routes(&eps, OLD), [on("a_v4", RouteReason::Internal), None]);
    assert_eq!(routes(&eps, NEW), [on("a_v4", RouteReason::Internal), None]);
}

#[test]
fn on_28_a_dual_stack_network_takes_both_routes_over_a_higher_priority() {
    // moby v28 `selectGatewayEndpoint`: the first dual-stack endpoint in `Less` order holds
    // both families, although the IPv4-only one sorts first (measured on 28.5.2).
    let eps = [
        Endpoint::new("BACK_x", false).priority(100),
        Endpoint::new("AAA_shared", false).ipv6(true),
    ];
    assert_eq!(
        routes(&eps, NEW),
        [
            on("AAA_shared", RouteReason::DualStack),
            on("AAA_shared", RouteReason::DualStack)
        ]
    );
    // With BACK_ dual-stack too, the priority decides both.
    let eps = [
        Endpoint::new("BACK_x", false).priority(100).ipv6(true),
        Endpoint::new("AAA_shared", false).ipv6(true),
    ];
    assert_eq!(
        routes(&eps, NEW),
        [
            on("BACK_x", RouteReason::Priority),
            on("BACK_x", RouteReason::Priority)
        ]
    );
}

#[test]
fn docker_gwbridge_sorts_after_the_others() {
    let eps = [
        Endpoint::new("docker_gwbridge", false),
        Endpoint::new("overlay_x", false),
    ];
    for api in [OLD, NEW] {
        assert_eq!(routes(&eps, api)[0], on("overlay_x", RouteReason::GwBridge));
    }
}

#[test]
fn reasons_keep_their_json_names() {
    let names: Vec<String> = [
        RouteReason::Only,
        RouteReason::Internal,
        RouteReason::Priority,
        RouteReason::NameOrder,
        RouteReason::DualStack,
        RouteReason::GwBridge,
    ]
    .iter()
    .map(|r| serde_json::to_string(r).expect("serializes"))
    .collect();
    assert_eq!(
        names,
        [
            "\"only\"",
            "\"internal\"",
            "\"priority\"",
            "\"name_order\"",
            "\"dual_stack\"",
            "\"gw_bridge\""
        ]
    );
}

#[test]
fn on_28_an_internal_network_never_holds_a_route_whatever_its_priority() {
    let eps = [
        Endpoint::new("bridge", false),
        Endpoint::new("FRONT_x", true).priority(500),
    ];
    assert_eq!(routes(&eps, NEW)[0], on("bridge", RouteReason::Internal));
}
