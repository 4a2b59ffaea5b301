//! Comparing a reading with the network that should hold the route, and saying what went
//! wrong in words an operator can act on (DESIGN §2 step 5: exit 5 names the network that took
//! the route, why, and the fix).

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use super::RouteReading;
use crate::observe::ApiVersion;
use crate::route::{Endpoint, RouteReason, default_routes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Family {
    #[serde(rename = "ipv4")]
    V4,
    #[serde(rename = "ipv6")]
    V6,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// The default route is not where it should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", self.describe())]
pub struct RouteMoved {
    pub container: String,
    pub family: Family,
    /// `None`: the container should have no default route at all (`--network none`, or
    /// drivers that set no gateway). Internal bridge networks do give one on Engine 20.10 when
    /// they are all a container has.
    pub expected: Option<String>,
    /// The network whose gateway the route goes through; `None` when there is no route or
    /// its gateway belongs to none of the container's networks.
    pub actual: Option<String>,
    pub iface: Option<String>,
    pub gateway: Option<IpAddr>,
}

/// `Ok` when the route is on `expect` (IPv4, and IPv6 when the container has an IPv6
/// default route), or absent when `expect` is `None`.
pub fn check(reading: &RouteReading, expect: Option<&str>) -> Result<(), RouteMoved> {
    let moved = |family, actual: &Option<String>, iface: Option<&str>, gateway| RouteMoved {
        container: reading.container.clone(),
        family,
        expected: expect.map(str::to_string),
        actual: actual.clone(),
        iface: iface.map(str::to_string),
        gateway,
    };
    let v4 = reading.v4.as_ref();
    if reading.network.as_deref() != expect || v4.is_some() != expect.is_some() {
        return Err(moved(
            Family::V4,
            &reading.network,
            v4.map(|r| r.iface.as_str()),
            v4.map(|r| IpAddr::V4(r.gateway)),
        ));
    }
    // No IPv6 route is no evidence: most networks have no IPv6 at all.
    if let Some(v6) = &reading.v6
        && reading.v6_network.as_deref() != expect
    {
        return Err(moved(
            Family::V6,
            &reading.v6_network,
            Some(&v6.iface),
            Some(IpAddr::V6(v6.gateway)),
        ));
    }
    Ok(())
}

/// `check`, and then the IPv6 default route strictly where `expect_v6` says: a dual-stack
/// `BACK_` must hold it too (`None` leaves `check`'s rule: an IPv6 route, if any, on `expect`).
pub fn check_both(
    reading: &RouteReading,
    expect: Option<&str>,
    expect_v6: Option<&str>,
) -> Result<(), RouteMoved> {
    let Some(expect_v6) = expect_v6 else {
        return check(reading, expect);
    };
    let v6 = reading.v6.as_ref();
    let v4_only = RouteReading {
        v6: None,
        ..reading.clone()
    };
    check(&v4_only, expect)?;
    if reading.v6_network.as_deref() == Some(expect_v6) && v6.is_some() {
        return Ok(());
    }
    Err(RouteMoved {
        container: reading.container.clone(),
        family: Family::V6,
        expected: Some(expect_v6.to_string()),
        actual: reading.v6_network.clone(),
        iface: v6.map(|r| r.iface.clone()),
        gateway: v6.map(|r| IpAddr::V6(r.gateway)),
    })
}

impl RouteMoved {
    fn describe(&self) -> String {
        let (c, family) = (&self.container, self.family);
        let Some(gateway) = self.gateway else {
            let expected = self.expected.as_deref().unwrap_or("?");
            return format!(
                "container `{c}` has no {family} default route, but it should go through `{expected}`"
            );
        };
        let iface = self.iface.as_deref().unwrap_or("?");
        let place = match &self.actual {
            Some(network) => format!("on `{network}` ({iface} via {gateway})"),
            None => format!("via {gateway} ({iface}), the gateway of none of its networks"),
        };
        match &self.expected {
            Some(expected) => format!(
                "the {family} default route of container `{c}` is {place}, not on `{expected}`"
            ),
            None => format!(
                "container `{c}` has an {family} default route {place}, but should have none"
            ),
        }
    }
}

/// Why the route went where it did and how to fix it, from the container's endpoints as the
/// engine describes them (with each network's internal flag).
pub fn explain_move(moved: &RouteMoved, endpoints: &[Endpoint], api: ApiVersion) -> String {
    let routes = default_routes(endpoints, api);
    let predicted = match moved.family {
        Family::V4 => routes.v4,
        Family::V6 => routes.v6,
    };
    let Some(actual) = moved.actual.as_deref() else {
        return explain_missing(moved, predicted.map(|h| h.network), endpoints);
    };
    match predicted {
        Some(h) if h.network == actual => {
            let fix = fix(h.reason, moved.expected.as_deref(), actual, endpoints, api);
            format!(
                "`{actual}` took the route because {}. {fix}",
                h.reason.explain()
            )
        }
        other => format!(
            "The engine's ordering rules give the route to {}, yet the kernel has it on \
             `{actual}`: something other than the engine moved it (a process in the container \
             with NET_ADMIN, a network plugin). bgdeploy cannot prevent that by naming; check \
             `ip route` in the container.",
            other.map_or("no network".to_string(), |h| format!("`{}`", h.network))
        ),
    }
}

fn explain_missing(
    moved: &RouteMoved,
    predicted: Option<String>,
    endpoints: &[Endpoint],
) -> String {
    let expected = moved.expected.as_deref().unwrap_or("?");
    match (moved.gateway, predicted) {
        (Some(gateway), _) => format!(
            "The gateway {gateway} belongs to none of the container's networks: the route was \
             set by something other than the engine (a process with NET_ADMIN, a network \
             plugin). Check `ip route` in the container."
        ),
        (None, None) => format!(
            "None of the container's networks gives it a gateway. Fix: attach `{expected}`{}.",
            attachment_note(expected, endpoints)
        ),
        (None, Some(holder)) => format!(
            "The engine's ordering rules give the route to `{holder}`, yet the kernel has none: \
             something other than the engine removed it. Check `ip route` in the container."
        ),
    }
}

fn fix(
    reason: RouteReason,
    expected: Option<&str>,
    actual: &str,
    endpoints: &[Endpoint],
    api: ApiVersion,
) -> String {
    let Some(expected) = expected else {
        return format!("Fix: do not attach `{actual}`, or expect the route on it.");
    };
    let priority = if api.has_gw_priority() {
        format!("or give `{expected}` the highest GwPriority")
    } else {
        format!(
            "or move to Engine 28+ (API 1.48; this engine speaks {api}), where bgdeploy gives \
             `{expected}` the highest GwPriority"
        )
    };
    match reason {
        RouteReason::NameOrder => format!(
            "Byte-wise, the non-internal networks sort {}. Fix: name the networks so that \
             `{expected}` sorts first (bgdeploy's `BACK_<app>_<stage>` sorts before \
             `FRONT_<app>_<stage>`; uppercase sorts before lowercase, so `FRONT_…` also beats \
             `bridge`), or make `{actual}` internal (`front_internal: true` for a front \
             network, `docker network create --internal` for others), {priority}.",
            sorted_candidates(endpoints)
        ),
        RouteReason::Priority => format!(
            "Fix: give `{expected}` a higher GwPriority than `{actual}`, or make `{actual}` \
             internal."
        ),
        RouteReason::DualStack => format!(
            "Fix: give `{expected}` IPv6 as well (bgdeploy: `ipv6: true`), so that it is \
             dual-stack too and its GwPriority decides, or attach `{actual}` without IPv6, or \
             make `{actual}` internal."
        ),
        RouteReason::GwBridge => format!(
            "Fix: attach `{expected}` as a non-internal network with a gateway, or make \
             `{actual}` internal."
        ),
        RouteReason::Only | RouteReason::Internal => format!(
            "`{expected}` was not in the running{}. Fix: attach `{expected}` as a non-internal \
             network, or make `{actual}` internal.",
            attachment_note(expected, endpoints)
        ),
    }
}

fn attachment_note(network: &str, endpoints: &[Endpoint]) -> &'static str {
    match endpoints.iter().find(|e| e.network == network) {
        Some(e) if e.internal => {
            " (it is internal, and internal networks hold the route only when no other can)"
        }
        Some(_) => "",
        None => " (the container is not attached to it)",
    }
}

fn sorted_candidates(endpoints: &[Endpoint]) -> String {
    let mut names: Vec<&str> = endpoints
        .iter()
        .filter(|e| !e.internal)
        .map(|e| e.network.as_str())
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" < ")
}
