//! `bgdeploy doctor` output: every multi-network container's default route, and what is
//! flagged, with why and the fix.

use std::fmt::Write;

use serde::Serialize;

use super::table::{Table, or_dash};
use crate::route::{Family, RouteReason};

/// The JSON document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    /// The engine audited: the fleet host's name (`doctor --hosts`), `default` for the one
    /// engine.
    pub host: String,
    /// How many running containers with more than one network were audited.
    pub checked: usize,
    pub containers: Vec<Audited>,
    /// Everything flagged; `doctor` exits 1 when this is not empty.
    pub findings: Vec<Finding>,
    /// Containers that could not be audited, and why (not flagged).
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audited {
    pub container: String,
    /// Byte-wise name order.
    pub networks: Vec<String>,
    /// Where the default route belongs.
    pub expected: String,
    /// `created_on` (its `HostConfig.NetworkMode`) or `bgdeploy_back` (a bgdeploy release).
    pub expected_because: &'static str,
    /// The network holding the IPv4 default route, read from the kernel.
    pub default_route: Option<String>,
    pub default_route_v6: Option<String>,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A container's default route is not on the network it belongs on.
    RouteMoved {
        container: String,
        family: Family,
        expected: String,
        actual: Option<String>,
        message: String,
        /// Why (name order, internal flag, priority) and the fix.
        explanation: String,
    },
    /// Attaching `network` to the proxy `container` would move its default route.
    RouteWouldMove {
        network: String,
        container: String,
        /// The network holding the proxy's route now (predicted from the engine's rules).
        current: Option<String>,
        reason: RouteReason,
        message: String,
        explanation: String,
    },
}

impl Finding {
    fn message(&self) -> &str {
        match self {
            Finding::RouteMoved { message, .. } | Finding::RouteWouldMove { message, .. } => {
                message
            }
        }
    }

    fn explanation(&self) -> &str {
        match self {
            Finding::RouteMoved { explanation, .. }
            | Finding::RouteWouldMove { explanation, .. } => explanation,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub container: String,
    pub reason: String,
}

pub fn json(report: &DoctorReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub fn human(report: &DoctorReport) -> String {
    let mut out = String::new();
    let n = report.checked;
    let _ = writeln!(
        out,
        "Checked {n} running container{} with more than one network.",
        plural(n)
    );
    if !report.containers.is_empty() {
        let mut t = Table::new(&["CONTAINER", "NETWORKS", "BELONGS ON", "DEFAULT ROUTE"]);
        for c in &report.containers {
            let because = match c.expected_because {
                "bgdeploy_back" => "bgdeploy release",
                _ => "created on",
            };
            let mut route = or_dash(c.default_route.as_deref());
            if let Some(v6) = &c.default_route_v6
                && c.default_route.as_deref() != Some(v6.as_str())
            {
                let _ = write!(route, " (IPv6: {v6})");
            }
            if !c.ok {
                route.push_str("  ! moved");
            }
            t.row(vec![
                c.container.clone(),
                c.networks.join(","),
                format!("{} ({because})", c.expected),
                route,
            ]);
        }
        let _ = writeln!(out);
        out.push_str(&t.render(""));
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Not audited:");
        for s in &report.skipped {
            let _ = writeln!(out, "  {}: {}", s.container, s.reason);
        }
    }
    let _ = writeln!(out);
    if report.findings.is_empty() {
        let _ = writeln!(out, "No findings: every default route is where it belongs.");
        return out;
    }
    let n = report.findings.len();
    let _ = writeln!(out, "{n} finding{}:", plural(n));
    for f in &report.findings {
        let _ = writeln!(out, "  ! {}", f.message());
        let _ = writeln!(out, "    {}", f.explanation());
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> DoctorReport {
        DoctorReport {
            host: "default".into(),
            checked: 2,
            containers: vec![
                Audited {
                    container: "x_app".into(),
                    networks: vec!["app_stage".into(), "app_stage_internal".into()],
                    expected: "app_stage_internal".into(),
                    expected_because: "created_on",
                    default_route: Some("app_stage".into()),
                    default_route_v6: None,
                    ok: false,
                },
                Audited {
                    container: "shop_stage_20261126-031500-4f2a".into(),
                    networks: vec!["BACK_shop_stage".into(), "FRONT_shop_stage".into()],
                    expected: "BACK_shop_stage".into(),
                    expected_because: "bgdeploy_back",
                    default_route: Some("BACK_shop_stage".into()),
                    default_route_v6: None,
                    ok: true,
                },
            ],
            findings: vec![
                Finding::RouteMoved {
                    container: "x_app".into(),
                    family: Family::V4,
                    expected: "app_stage_internal".into(),
                    actual: Some("app_stage".into()),
                    message: "the IPv4 default route of container `x_app` is on `app_stage` \
                              (eth1 via 172.24.35.1), not on `app_stage_internal`"
                        .into(),
                    explanation: "`app_stage` took the route because its name sorts first. \
                                  Fix: …"
                        .into(),
                },
                Finding::RouteWouldMove {
                    network: "FRONT_blog_prod".into(),
                    container: "nginx-proxy".into(),
                    current: Some("bridge".into()),
                    reason: RouteReason::NameOrder,
                    message: "attaching `FRONT_blog_prod` to `nginx-proxy` would move its \
                              default route from `bridge` to `FRONT_blog_prod`"
                        .into(),
                    explanation: "Fix: make `FRONT_blog_prod` internal.".into(),
                },
            ],
            skipped: vec![Skipped {
                container: "sidecar".into(),
                reason: "it shares the network namespace of another container".into(),
            }],
        }
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
    fn nothing_flagged_says_so() {
        let report = DoctorReport {
            host: "default".into(),
            checked: 0,
            containers: vec![],
            findings: vec![],
            skipped: vec![],
        };
        assert_eq!(
            human(&report),
            "Checked 0 running containers with more than one network.\n\nNo findings: every default route is where it belongs.\n"
        );
    }
}
