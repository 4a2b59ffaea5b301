//! The engine's rules for which endpoint provides a container's IPv4 and IPv6 default routes.
//!
//! libnetwork keeps a sandbox's endpoints sorted and takes the gateway from the first that
//! has one. The order and the pick depend on the engine (read in moby's source, and measured
//! on Engine 20.10.24 and 28.5.2 — `tests/it/route.rs` checks every case against the kernel):
//!
//! **Below API 1.48 (Engine 20.10)** — libnetwork's `Endpoint.Less` of that time
//! (`vendor/github.com/docker/libnetwork/sandbox.go`): endpoints on `docker_gwbridge` last, then
//! internal networks last, then by gateways (`joinInfo.gw` counts 1, `gw6` counts 2: dual-stack
//! first, then IPv6-only, then IPv4-only), then byte-wise network name. The sandbox's own
//! `epPriority` comes first there too, but the API cannot set it (`GwPriority` is accepted and
//! ignored). The gateway endpoint is the first with an IPv4 gateway, and *both* default routes
//! come from it (`updateGateway` sets `gw` and `gw6` of that one endpoint): the IPv6 route
//! follows the IPv4 one, and there is none when that endpoint has no IPv6. Internal networks
//! still have a gateway there: measured, a container whose only network is internal has a
//! default route through it.
//!
//! **From API 1.48 (Engine 28)** — `Endpoint.Less` in `libnetwork/sandbox.go` (moby v28):
//! `GwPriority` highest first, then endpoints not on `docker_gwbridge`, then non-internal
//! before internal, then endpoints with IPv4 and IPv6 gateways before one family before none,
//! then byte-wise network name. Internal networks have no gateway at all (an internal-only
//! container has no default route, measured). The pick is `selectGatewayEndpoint`
//! (`libnetwork/default_gateway.go`, v28): walking that order, the first *dual-stack*
//! endpoint takes both families at once — even when an IPv4-only endpoint with a higher
//! `GwPriority` came before it (moby's own FIXME there; measured on 28.5.2) — otherwise the
//! first endpoint with an IPv4 gateway holds IPv4 and the first with an IPv6 gateway holds
//! IPv6, separately. (moby PR #52328, merged 2026-04, makes later engines choose each family
//! strictly in order; bgdeploy keeps the 28.x rule, which predicts a move in the case where the
//! two differ, and the route check after every attach decides.)
//!
//! `F` (0x46) sorts before `b` (0x62), which is why attaching `FRONT_x` to a container on
//! `bridge` moves its route when neither priorities nor the internal flag say otherwise.

use std::cmp::Ordering;

use serde::Serialize;

use crate::observe::ApiVersion;

/// Swarm's gateway network: libnetwork sorts endpoints on it after all others.
const GW_BRIDGE: &str = "docker_gwbridge";

/// One network a container is (or will be) attached to, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub network: String,
    pub internal: bool,
    pub gw_priority: i64,
    /// The network has IPv6 (`EnableIPv6`): the endpoint gets an IPv6 gateway.
    pub ipv6: bool,
}

impl Endpoint {
    pub fn new(network: impl Into<String>, internal: bool) -> Endpoint {
        Endpoint {
            network: network.into(),
            internal,
            gw_priority: 0,
            ipv6: false,
        }
    }

    pub fn priority(mut self, gw_priority: i64) -> Endpoint {
        self.gw_priority = gw_priority;
        self
    }

    pub fn ipv6(mut self, ipv6: bool) -> Endpoint {
        self.ipv6 = ipv6;
        self
    }
}

/// The rule that decided, in words an operator can act on. Serialized names are part of the
/// JSON contract (`only`, `internal`, `priority`, `name_order` since the first version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteReason {
    /// The container's only network.
    Only,
    /// The networks that would sort before it are internal, and internal networks sort last.
    Internal,
    /// It has the highest `GwPriority` (API >= 1.48).
    Priority,
    /// Among the non-internal networks it sorts first by name.
    NameOrder,
    /// Its gateways decided: networks with IPv4 and IPv6 gateways sort before single-family
    /// ones, only a network with a gateway of a family can hold that family's route, and on
    /// Engine 28 the first dual-stack network takes both routes even over a higher
    /// `GwPriority`.
    DualStack,
    /// The others are on `docker_gwbridge`, which sorts last.
    GwBridge,
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
            RouteReason::DualStack => {
                "it is dual-stack (IPv4 and IPv6 gateways): dual-stack networks sort before \
                 single-family ones, a network without a gateway of a family cannot hold that \
                 family's route, and on Engine 28 the first dual-stack network takes both \
                 default routes even over a higher GwPriority"
            }
            RouteReason::GwBridge => "the other networks are `docker_gwbridge`, which sorts last",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub network: String,
    pub reason: RouteReason,
}

/// Where a container's two default routes go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    pub v4: Option<Holder>,
    pub v6: Option<Holder>,
}

/// Which of libnetwork's two generations of rules the engine follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// API < 1.48: no GwPriority; the IPv6 route follows the IPv4 gateway endpoint.
    Legacy,
    /// API >= 1.48: GwPriority, per-family gateways, internal networks without a gateway.
    Modern,
}

impl Rules {
    fn of(api: ApiVersion) -> Rules {
        if api.has_gw_priority() {
            Rules::Modern
        } else {
            Rules::Legacy
        }
    }

    /// (has an IPv4 gateway, has an IPv6 gateway).
    fn gateways(self, e: &Endpoint) -> (bool, bool) {
        match self {
            Rules::Modern if e.internal => (false, false),
            _ => (true, e.ipv6),
        }
    }

    /// The rank of an endpoint's gateways, higher first: on 20.10 `gw` counts 1 and `gw6`
    /// counts 2; from 28 two gateways beat one beat none.
    fn gateway_rank(self, e: &Endpoint) -> u8 {
        let (v4, v6) = self.gateways(e);
        match self {
            Rules::Legacy => u8::from(v4) + 2 * u8::from(v6),
            Rules::Modern => u8::from(v4) + u8::from(v6),
        }
    }

    /// libnetwork's `Endpoint.Less`, as an ordering, with the level that decided.
    fn compare(self, a: &Endpoint, b: &Endpoint) -> (Ordering, RouteReason) {
        let levels = [
            (
                match self {
                    Rules::Modern => b.gw_priority.cmp(&a.gw_priority),
                    Rules::Legacy => Ordering::Equal,
                },
                RouteReason::Priority,
            ),
            (
                (a.network == GW_BRIDGE).cmp(&(b.network == GW_BRIDGE)),
                RouteReason::GwBridge,
            ),
            (a.internal.cmp(&b.internal), RouteReason::Internal),
            (
                self.gateway_rank(b).cmp(&self.gateway_rank(a)),
                RouteReason::DualStack,
            ),
            (
                a.network.as_bytes().cmp(b.network.as_bytes()),
                RouteReason::NameOrder,
            ),
        ];
        levels
            .into_iter()
            .find(|(o, _)| o.is_ne())
            .unwrap_or((Ordering::Equal, RouteReason::NameOrder))
    }

    /// Indexes (into the sorted endpoints) of the IPv4 and IPv6 gateway endpoints.
    fn select(self, sorted: &[&Endpoint]) -> (Option<usize>, Option<usize>) {
        match self {
            Rules::Legacy => {
                let Some(i) = sorted.iter().position(|e| self.gateways(e).0) else {
                    return (None, None);
                };
                (Some(i), self.gateways(sorted[i]).1.then_some(i))
            }
            Rules::Modern => {
                let (mut v4, mut v6) = (None, None);
                for (i, e) in sorted.iter().enumerate() {
                    match self.gateways(e) {
                        (true, true) => return (Some(i), Some(i)),
                        (true, false) => v4 = v4.or(Some(i)),
                        (false, true) => v6 = v6.or(Some(i)),
                        (false, false) => {}
                    }
                }
                (v4, v6)
            }
        }
    }
}

/// Which networks hold the container's IPv4 and IPv6 default routes, and why.
pub fn default_routes(endpoints: &[Endpoint], api: ApiVersion) -> Routes {
    let rules = Rules::of(api);
    let mut sorted: Vec<&Endpoint> = endpoints.iter().collect();
    sorted.sort_by(|a, b| rules.compare(a, b).0);
    let (v4, v6) = rules.select(&sorted);
    let holder = |i: usize| Holder {
        network: sorted[i].network.clone(),
        reason: reason(rules, &sorted, i),
    };
    Routes {
        v4: v4.map(holder),
        v6: v6.map(holder),
    }
}

/// Why `sorted[i]` holds a route: the level at which it beats the endpoint that sorts first
/// among the others. When some sort before it, they could not hold the route: internal ones
/// have no gateway on Engine 28 (even with a higher priority); otherwise it won by its
/// gateways (it was the first dual-stack one, or those before it had no gateway of the
/// family).
fn reason(rules: Rules, sorted: &[&Endpoint], i: usize) -> RouteReason {
    let rival = if i == 0 {
        sorted.get(1)
    } else {
        sorted.first()
    };
    match rival {
        None => RouteReason::Only,
        Some(_) if i > 0 && sorted[..i].iter().all(|e| e.internal) => RouteReason::Internal,
        Some(_) if i > 0 => RouteReason::DualStack,
        Some(rival) => rules.compare(sorted[i], rival).1,
    }
}

/// The network that holds the IPv4 default route for a container with these endpoints, or
/// `None` when it has none.
pub fn default_route_holder(endpoints: &[Endpoint], api: ApiVersion) -> Option<Holder> {
    default_routes(endpoints, api).v4
}

#[cfg(test)]
mod tests;
