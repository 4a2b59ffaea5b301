//! `bgdeploy status` output: the report as plain data (built by `commands::status` from what
//! the engine says), an aligned table per app/stage, and the JSON document.

use std::fmt::Write;

use serde::Serialize;

use super::table::{Table, age, or_dash};
use crate::observe::{Resources, Role};

/// The JSON document: `{"apps": [...]}`, also for one app/stage; a fleet stage has one entry
/// per reachable host, and `fleet` says which hosts were reached and whether they drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub apps: Vec<StageStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetStatus>,
}

/// A fleet stage across its hosts (DESIGN.md §9).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetStatus {
    pub app: String,
    pub stage: String,
    /// Some reachable hosts run a different live image (or none) than the others.
    pub drift: bool,
    /// In the spec's host order.
    pub hosts: Vec<HostStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostStatus {
    pub host: String,
    pub reachable: bool,
    /// Why it could not be read.
    pub error: Option<String>,
    /// The live release's image (the newest live one), `None` when nothing is live.
    pub live_image: Option<String>,
    pub live_container: Option<String>,
    /// Its live image differs from the fleet's most common one.
    pub drift: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageStatus {
    pub app: String,
    pub stage: String,
    /// The fleet host's name; `default` for the one engine.
    pub host: String,
    pub networks: StageNetworks,
    /// `None` when there is no spec for this app/stage, or its proxy driver has no container.
    pub proxy: Option<ProxyStatus>,
    pub lock: Option<LockStatus>,
    /// Maintenance mode (`nginx` driver); `None` when unknown: no spec, another driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<MaintenanceStatus>,
    /// Newest first.
    pub containers: Vec<ContainerStatus>,
    /// Everything flagged, one sentence each (also shown under the table).
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaintenanceStatus {
    pub on: bool,
    /// The page's message while on.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageNetworks {
    pub back: NetworkStatus,
    pub front: NetworkStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkStatus {
    pub name: String,
    /// `found`, `missing`, or `ambiguous` (several networks carry the name).
    pub state: &'static str,
    /// `None` unless found.
    pub internal: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyStatus {
    pub container: String,
    /// `attached` (to FRONT_), `detached`, or `missing` (no such container).
    pub state: &'static str,
    pub running: bool,
    /// The network holding its IPv4 default route, read from the kernel.
    pub default_route: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockStatus {
    pub owner: String,
    /// RFC 3339.
    pub since: Option<String>,
    pub age_secs: Option<u64>,
    /// Its owner ran on this host and is gone.
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerStatus {
    /// The fleet host's name; `default` for the one engine.
    pub host: String,
    pub name: String,
    /// The short (12-character) ID.
    pub id: String,
    pub role: Role,
    pub image: String,
    /// The engine's state: `running`, `exited`, `created`, ...
    pub state: String,
    /// The image's HEALTHCHECK status, when it has one.
    pub health: Option<String>,
    /// RFC 3339.
    pub created: String,
    pub age_secs: u64,
    /// Byte-wise name order.
    pub networks: Vec<String>,
    /// The network holding the IPv4 default route, read from the kernel (running containers).
    pub default_route: Option<String>,
    /// The network holding the IPv6 default route, when there is one.
    pub default_route_v6: Option<String>,
    /// `true`: on BACK_; `false`: flagged; `None`: not running, or the route could not be read.
    pub route_ok: Option<bool>,
    /// Why it is flagged, or why the route could not be read.
    pub route_note: Option<String>,
    /// Its limits (`memory`, `cpus`, ...); left out when it has none.
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
}

pub fn json(report: &StatusReport) -> String {
    // Plain data with string keys: serializing cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub fn human(report: &StatusReport) -> String {
    if report.apps.is_empty() && report.fleet.is_none() {
        return "No bgdeploy app/stage on this engine.\n".to_string();
    }
    let mut sections: Vec<String> = report.fleet.iter().map(fleet).collect();
    sections.extend(report.apps.iter().map(stage));
    sections.join("\n")
}

/// One line per host: its live image, and what is wrong with it (drift, unreachable).
fn fleet(f: &FleetStatus) -> String {
    let mut out = String::new();
    let verdict = if f.drift {
        "DRIFT: the hosts' live images differ"
    } else {
        "every host reached runs the same live image"
    };
    let _ = writeln!(
        out,
        "{}/{} on {} hosts: {verdict}",
        f.app,
        f.stage,
        f.hosts.len()
    );
    let mut t = Table::new(&["HOST", "LIVE IMAGE", "LIVE CONTAINER", "STATE"]);
    for h in &f.hosts {
        let state = match (&h.error, h.drift) {
            (Some(e), _) => format!("unreachable: {}", e.lines().next().unwrap_or("")),
            (None, true) => "drift".to_string(),
            (None, false) => "ok".to_string(),
        };
        t.row(vec![
            h.host.clone(),
            or_dash(h.live_image.as_deref()),
            or_dash(h.live_container.as_deref()),
            state,
        ]);
    }
    out.push_str(&t.render("  "));
    out
}

fn stage(s: &StageStatus) -> String {
    let mut out = String::new();
    if s.host == crate::hooks::SINGLE_HOST {
        let _ = writeln!(out, "{}/{}", s.app, s.stage);
    } else {
        let _ = writeln!(out, "{}/{} on host {}", s.app, s.stage, s.host);
    }
    let _ = writeln!(
        out,
        "  networks: {}, {}",
        network(&s.networks.back),
        network(&s.networks.front)
    );
    let _ = writeln!(out, "  proxy:    {}", proxy(s.proxy.as_ref(), &s.networks));
    let _ = writeln!(out, "  lock:     {}", lock(s.lock.as_ref()));
    if let Some(m) = &s.maintenance {
        let state = match (&m.on, &m.message) {
            (true, Some(message)) => format!("ON, the proxy answers 503 \"{message}\""),
            (true, None) => "ON".to_string(),
            (false, _) => "off".to_string(),
        };
        let _ = writeln!(out, "  maintenance: {state}");
    }
    let _ = writeln!(out);
    if s.containers.is_empty() {
        let _ = writeln!(out, "  no containers");
    } else {
        let mut t = Table::new(&[
            "ROLE",
            "NAME",
            "IMAGE",
            "STATE",
            "HEALTH",
            "AGE",
            "NETWORKS",
            "DEFAULT ROUTE",
        ]);
        for c in &s.containers {
            t.row(vec![
                c.role.to_string(),
                c.name.clone(),
                c.image.clone(),
                c.state.clone(),
                or_dash(c.health.as_deref()),
                age(c.age_secs),
                if c.networks.is_empty() {
                    "-".to_string()
                } else {
                    c.networks.join(",")
                },
                route(c),
            ]);
        }
        out.push_str(&t.render("  "));
        for c in s.containers.iter().filter(|c| c.role == Role::Live) {
            let _ = writeln!(out, "  resources of {}: {}", c.name, c.resources);
        }
    }
    if !s.problems.is_empty() {
        let _ = writeln!(out);
    }
    for p in &s.problems {
        let _ = writeln!(out, "  ! {p}");
    }
    out
}

fn network(n: &NetworkStatus) -> String {
    match (n.state, n.internal) {
        ("found", Some(true)) => format!("{} (internal)", n.name),
        ("found", _) => n.name.clone(),
        (state, _) => format!("{} ({state})", n.name),
    }
}

fn proxy(p: Option<&ProxyStatus>, networks: &StageNetworks) -> String {
    let Some(p) = p else {
        return "none".to_string();
    };
    if p.state == "missing" {
        return format!("{} (no such container)", p.container);
    }
    let running = if p.running { "running" } else { "not running" };
    let attached = match p.state {
        "attached" => format!("attached to {}", networks.front.name),
        _ => format!("not attached to {}", networks.front.name),
    };
    let route = p
        .default_route
        .as_deref()
        .map(|r| format!(", default route on {r}"))
        .unwrap_or_default();
    format!("{} ({running}, {attached}{route})", p.container)
}

fn lock(l: Option<&LockStatus>) -> String {
    let Some(l) = l else {
        return "free".to_string();
    };
    let mut text = format!("held by {}", l.owner);
    if let Some(since) = &l.since {
        let _ = write!(text, " since {since}");
    }
    if let Some(secs) = l.age_secs {
        let _ = write!(text, " ({} ago)", age(secs));
    }
    if l.stale {
        text.push_str(", stale: its process is gone");
    }
    text
}

fn route(c: &ContainerStatus) -> String {
    let mut text = or_dash(c.default_route.as_deref());
    if let Some(v6) = &c.default_route_v6
        && c.default_route.as_deref() != Some(v6.as_str())
    {
        let _ = write!(text, " (IPv6: {v6})");
    }
    match c.route_ok {
        Some(false) => text.push_str("  ! moved"),
        None if c.route_note.is_some() => text.push_str("  ?"),
        _ => {}
    }
    text
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
