//! The engine's rule for which endpoint provides a container's default route.
//!
//! libnetwork sorts a sandbox's endpoints and takes the first that has a gateway:
//! from API 1.48 (Engine 28) the highest `GwPriority` first; then endpoints on internal
//! networks last; then byte-wise network name order. `F` (0x46) sorts before `b` (0x62),
//! which is why attaching `FRONT_x` to a container on `bridge` moves its route.
//!
//! Measured on Engine 20.10: an internal network still has a gateway address, so a container
//! whose only networks are internal *does* get a default route through one of them; it loses
//! it as soon as a non-internal network is attached. Internal sorts last, it is not excluded.

use std::cmp::Ordering;

use serde::Serialize;

use crate::observe::ApiVersion;

/// One network a container is (or will be) attached to, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub network: String,
    pub internal: bool,
    pub gw_priority: i64,
}

impl Endpoint {
    pub fn new(network: impl Into<String>, internal: bool) -> Endpoint {
        Endpoint {
            network: network.into(),
            internal,
            gw_priority: 0,
        }
    }
}

/// Why the holder won, in words an operator can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteReason {
    /// The container's only network.
    Only,
    /// The other networks are internal, and internal networks sort last.
    Internal,
    /// It has the highest `GwPriority` (API >= 1.48).
    Priority,
    /// Among non-internal networks it sorts first by name.
    NameOrder,
}

impl RouteReason {
    pub fn explain(self) -> &'static str {
        match self {
            RouteReason::Only => "it is the container's only network",
            RouteReason::Internal => {
                "the other networks are internal, and internal networks sort last"
            }
            RouteReason::Priority => "it has the highest GwPriority",
            RouteReason::NameOrder => {
                "its name sorts first (byte-wise) among the non-internal networks"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub network: String,
    pub reason: RouteReason,
}

fn order(a: &Endpoint, b: &Endpoint, priorities: bool) -> Ordering {
    let by_priority = if priorities {
        b.gw_priority.cmp(&a.gw_priority)
    } else {
        Ordering::Equal
    };
    by_priority
        .then_with(|| a.internal.cmp(&b.internal))
        .then_with(|| a.network.as_bytes().cmp(b.network.as_bytes()))
}

/// The network that holds the default route for a container with these endpoints, or
/// `None` when it has no endpoints.
pub fn default_route_holder(endpoints: &[Endpoint], api: ApiVersion) -> Option<Holder> {
    let priorities = api.has_gw_priority();
    let first = endpoints.iter().min_by(|a, b| order(a, b, priorities))?;
    let rivals: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| !std::ptr::eq(*e, first))
        .collect();
    let reason = if rivals.is_empty() {
        RouteReason::Only
    } else if priorities && rivals.iter().all(|e| e.gw_priority < first.gw_priority) {
        RouteReason::Priority
    } else if rivals.iter().all(|e| e.internal && !first.internal) {
        RouteReason::Internal
    } else {
        RouteReason::NameOrder
    };
    Some(Holder {
        network: first.network.clone(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: ApiVersion = ApiVersion {
        major: 1,
        minor: 41,
    };
    const NEW: ApiVersion = ApiVersion {
        major: 1,
        minor: 48,
    };

    fn holder(eps: &[Endpoint], api: ApiVersion) -> Option<String> {
        default_route_holder(eps, api).map(|h| h.network)
    }

    #[test]
    fn the_write_ups_case_moves_the_route() {
        let eps = [
            Endpoint::new("app_stage_internal", false),
            Endpoint::new("app_stage", false),
        ];
        assert_eq!(holder(&eps, OLD).as_deref(), Some("app_stage"));
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
        let h = default_route_holder(&eps, OLD).expect("a holder");
        assert_eq!(h.network, "bridge");
        assert_eq!(h.reason, RouteReason::Internal);
        // Measured on 20.10: alone, an internal network still gives the default route.
        assert_eq!(
            holder(&[Endpoint::new("FRONT_x", true)], OLD).as_deref(),
            Some("FRONT_x")
        );
        assert_eq!(holder(&[], OLD), None);
    }

    #[test]
    fn priority_wins_only_from_api_1_48() {
        let eps = [
            Endpoint {
                network: "BACK_x".into(),
                internal: false,
                gw_priority: 100,
            },
            Endpoint {
                network: "AAA_extra".into(),
                internal: false,
                gw_priority: 0,
            },
        ];
        assert_eq!(holder(&eps, OLD).as_deref(), Some("AAA_extra"));
        let h = default_route_holder(&eps, NEW).expect("a holder");
        assert_eq!(h.network, "BACK_x");
        assert_eq!(h.reason, RouteReason::Priority);
    }
}
