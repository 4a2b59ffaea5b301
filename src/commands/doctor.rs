//! `bgdeploy doctor`: audit the whole engine. Every running container with more than one
//! network: is its default route (read from the kernel) on the network it belongs on — the
//! one it was created on, or `BACK_<app>_<stage>` for a bgdeploy release? And every proxy on
//! `bridge`: which non-internal `FRONT_…` network would take its route if attached? Changes
//! nothing; exits 1 when anything is flagged.

use std::collections::{BTreeSet, HashMap};

use futures_util::future::join_all;

use crate::spec::{HostEngine, Spec};

use super::Globals;
use super::hosts;
use super::status::optional_spec;
use crate::engine::{self, ContainerSummary, Engine};
use crate::error::Error;
use crate::observe::{ApiVersion, NetworkInfo};
use crate::output::Output;
use crate::render::doctor::{Audited, DoctorReport, Finding, Skipped};
use crate::route::{self, Endpoint, default_route_holder};
use crate::{names, render};

/// The engine's default network, where most proxies sit.
const BRIDGE: &str = "bridge";
const FRONT_PREFIX: &str = "FRONT_";

type Networks<'a> = HashMap<&'a str, &'a NetworkInfo>;

pub async fn run(
    globals: &Globals,
    out: &Output,
    name: Option<&str>,
    hosts: Option<&[String]>,
) -> Result<(), Error> {
    let Some(only) = hosts else {
        // The spec only adds proxy names; doctor audits the engine, with or without one.
        let spec = optional_spec(globals);
        let engine = engine::connect(globals.context.as_deref()).await?;
        let report = audit_engine(&engine, hosts::SINGLE, name, &proxies(spec.as_ref())).await?;
        out.text_or_json(
            &render::doctor::human(&report),
            &render::doctor::json(&report),
        )?;
        return flagged(report.findings.len());
    };
    // `--hosts`: doctor has no APP STAGE, so the hosts are those of every fleet stage of the
    // spec, by name; the spec is needed.
    let spec = super::load(globals)?;
    let picked = fleet_hosts(&spec, only)?;
    let spec_proxies = proxies(Some(&spec));
    let reports = join_all(picked.iter().map(|(host, where_)| {
        let spec_proxies = &spec_proxies;
        async move {
            let engine = match crate::fleet::docker_host(where_) {
                Ok(h) => engine::connect_to(&h).await.map_err(Error::from),
                Err(e) => Err(Error::from(e)),
            };
            let report = match engine {
                Ok(engine) => audit_engine(&engine, host, name, spec_proxies).await,
                Err(e) => Err(e),
            };
            report.map_err(|e| Error::Host {
                host: host.clone(),
                source: Box::new(e),
            })
        }
    }))
    .await;
    let mut human = String::new();
    let mut docs = Vec::new();
    let mut findings = 0;
    let mut failure = None;
    for (report, (host, _)) in reports.into_iter().zip(&picked) {
        match report {
            Ok(report) => {
                findings += report.findings.len();
                human.push_str(&hosts::section(host, &render::doctor::human(&report)));
                docs.push(serde_json::to_value(&report).unwrap_or_default());
            }
            Err(e) => {
                human.push_str(&hosts::section(host, &format!("error: {e}")));
                docs.push(serde_json::json!({"host": host, "error": e.to_string()}));
                failure.get_or_insert(e);
            }
        }
    }
    out.document(&human, &serde_json::json!({ "hosts": docs }))?;
    match failure {
        Some(e) => Err(e),
        None => flagged(findings),
    }
}

fn flagged(count: usize) -> Result<(), Error> {
    match count {
        0 => Ok(()),
        count => Err(Error::Flagged { count }),
    }
}

/// The proxy containers the spec names.
fn proxies(spec: Option<&Spec>) -> BTreeSet<String> {
    spec.iter()
        .flat_map(|s| s.apps.values())
        .flat_map(|a| a.stages.values())
        .filter_map(|d| d.proxy.driver.container().map(str::to_string))
        .collect()
}

/// The fleet hosts of every stage of the spec, by name, in the order first met; `only` picks
/// some (none named: all). A name given two different engines by two stages is ambiguous,
/// and a name no stage has is a usage error listing the hosts.
fn fleet_hosts(spec: &Spec, only: &[String]) -> Result<Vec<(String, HostEngine)>, Error> {
    let mut all: Vec<(String, HostEngine)> = Vec::new();
    for d in spec.apps.values().flat_map(|a| a.stages.values()) {
        for (name, engine) in &d.hosts {
            match all.iter().find(|(n, _)| n == name) {
                Some((_, seen)) if seen != engine => {
                    return Err(Error::Usage(format!(
                        "doctor --hosts: host {name} is {seen} in one stage and {engine} in \
                         another ({}/{}); give the hosts distinct names",
                        d.app, d.stage
                    )));
                }
                Some(_) => {}
                None => all.push((name.clone(), engine.clone())),
            }
        }
    }
    let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
    if all.is_empty() {
        return Err(Error::Usage(format!(
            "doctor --hosts: no stage of {} has `hosts:`; run `bgdeploy doctor` without \
             --hosts to audit the one engine",
            spec.path
        )));
    }
    let unknown: Vec<&String> = only.iter().filter(|n| !names.contains(n)).collect();
    if !unknown.is_empty() {
        let unknown: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        return Err(Error::Usage(format!(
            "doctor --hosts: no host {} in the spec; its hosts are: {}",
            unknown.join(", "),
            names.join(", ")
        )));
    }
    Ok(all
        .into_iter()
        .filter(|(n, _)| only.is_empty() || only.contains(n))
        .collect())
}

/// The audit of one engine (see the module's comment).
async fn audit_engine(
    engine: &Engine,
    host: &str,
    name: Option<&str>,
    spec_proxies: &BTreeSet<String>,
) -> Result<DoctorReport, Error> {
    let api = engine.info().api;
    let (containers, networks) =
        tokio::try_join!(engine.list_containers(false, None), engine.list_networks())?;
    let wanted = |n: &str| name.is_none_or(|f| n.contains(f));
    let by_id: Networks = networks.iter().map(|n| (n.id.as_str(), n)).collect();

    let mut audits = join_all(
        containers
            .iter()
            .filter(|c| c.networks.len() > 1 && wanted(&c.name))
            .map(|c| audit(engine, c, &by_id, api)),
    )
    .await;
    // The engine lists newest first; by name reads better and is stable between runs.
    audits.sort_by(|a, b| audited_name(a).cmp(audited_name(b)));
    let mut report = DoctorReport {
        host: host.to_string(),
        checked: 0,
        containers: Vec::new(),
        findings: Vec::new(),
        skipped: Vec::new(),
    };
    for outcome in audits {
        match outcome {
            Ok((audited, finding)) => {
                report.containers.push(audited);
                report.findings.extend(finding);
            }
            Err(skipped) => report.skipped.push(skipped),
        }
    }
    report.checked = report.containers.len();

    let fronts: Vec<&str> = networks
        .iter()
        .filter(|n| n.name.starts_with(FRONT_PREFIX) && !n.internal)
        .map(|n| n.name.as_str())
        .collect();
    for proxy in containers.iter().filter(|c| is_proxy(c, spec_proxies)) {
        let Some(details) = engine.inspect_container(&proxy.id).await? else {
            continue;
        };
        let endpoints = endpoints(&details.endpoints, &by_id);
        report.findings.extend(
            would_move(&proxy.name, &endpoints, &fronts, api)
                .into_iter()
                .filter(|f| match f {
                    Finding::RouteWouldMove {
                        network, container, ..
                    } => wanted(network) || wanted(container),
                    Finding::RouteMoved { .. } => true,
                }),
        );
    }

    Ok(report)
}

fn audited_name(outcome: &Result<(Audited, Option<Finding>), Skipped>) -> &str {
    match outcome {
        Ok((a, _)) => &a.container,
        Err(s) => &s.container,
    }
}

/// A container on `bridge` that is (or, per the spec, will be) attached to front networks.
fn is_proxy(c: &ContainerSummary, spec_proxies: &BTreeSet<String>) -> bool {
    c.networks.iter().any(|n| n == BRIDGE)
        && (spec_proxies.contains(&c.name)
            || c.networks.iter().any(|n| n.starts_with(FRONT_PREFIX)))
}

async fn audit(
    engine: &Engine,
    c: &ContainerSummary,
    by_id: &Networks<'_>,
    api: ApiVersion,
) -> Result<(Audited, Option<Finding>), Skipped> {
    let skipped = |reason: String| Skipped {
        container: c.name.clone(),
        reason,
    };
    let (expected, because) = expected_network(c, by_id).map_err(skipped)?;
    if !c.networks.contains(&expected) {
        return Err(skipped(format!(
            "it is no longer attached to `{expected}`, where its route belongs"
        )));
    }
    let reading = route::read_default_route(engine, &c.id)
        .await
        .map_err(|e| skipped(e.to_string()))?;
    let details = engine
        .inspect_container(&c.id)
        .await
        .map_err(|e| skipped(e.to_string()))?
        .ok_or_else(|| skipped("it was removed during the audit".to_string()))?;
    let finding = route::check(&reading, Some(&expected)).err().map(|moved| {
        let explanation = route::explain_move(&moved, &endpoints(&details.endpoints, by_id), api);
        Finding::RouteMoved {
            container: c.name.clone(),
            family: moved.family,
            expected: expected.clone(),
            actual: moved.actual.clone(),
            message: moved.to_string(),
            explanation,
        }
    });
    let audited = Audited {
        container: c.name.clone(),
        networks: c.networks.clone(),
        expected,
        expected_because: because,
        default_route: reading.network.clone(),
        default_route_v6: reading.v6_network.clone(),
        ok: finding.is_none(),
    };
    Ok((audited, finding))
}

/// Where `c`'s default route belongs, and why: `BACK_<app>_<stage>` for a bgdeploy release,
/// else the network it was created on. `Err` says why it cannot be audited.
fn expected_network(
    c: &ContainerSummary,
    by_id: &Networks<'_>,
) -> Result<(String, &'static str), String> {
    let label = |k: &str| c.labels.get(k).map(String::as_str);
    if label(names::LABEL_MANAGED) == Some("true")
        && label(names::LABEL_KIND) == Some(names::KIND_APP)
        && let (Some(app), Some(stage)) = (label(names::LABEL_APP), label(names::LABEL_STAGE))
    {
        return Ok((names::back_network(app, stage), "bgdeploy_back"));
    }
    match c.network_mode.as_str() {
        "" | "default" => Ok((BRIDGE.to_string(), "created_on")),
        "host" | "none" => Err(format!("its network mode is `{}`", c.network_mode)),
        mode if mode.starts_with("container:") => {
            Err("it shares the network namespace of another container".to_string())
        }
        // The API accepts a network ID as NetworkMode.
        mode => Ok((
            by_id.get(mode).map_or(mode.to_string(), |n| n.name.clone()),
            "created_on",
        )),
    }
}

fn endpoints(details: &[engine::EndpointDetails], by_id: &Networks<'_>) -> Vec<Endpoint> {
    details
        .iter()
        .map(|e| {
            let network = by_id.get(e.network_id.as_str());
            Endpoint::new(e.network.clone(), network.is_some_and(|n| n.internal))
                .priority(e.gw_priority)
                .ipv6(network.is_some_and(|n| n.ipv6))
        })
        .collect()
}

/// The non-internal front networks that would take `proxy`'s default route if attached.
fn would_move(
    proxy: &str,
    endpoints: &[Endpoint],
    fronts: &[&str],
    api: ApiVersion,
) -> Vec<Finding> {
    let current = default_route_holder(endpoints, api).map(|h| h.network);
    fronts
        .iter()
        .filter(|f| !endpoints.iter().any(|e| e.network == **f))
        .filter_map(|front| {
            let mut after = endpoints.to_vec();
            // As bgdeploy attaches a proxy: with the lowest GwPriority (ignored below API 1.48).
            after.push(Endpoint::new(*front, false).priority(crate::plan::priority::FRONT));
            let holder = default_route_holder(&after, api)?;
            if holder.network != *front || current.as_deref() == Some(*front) {
                return None;
            }
            let from = current
                .as_deref()
                .map_or("none".to_string(), |c| format!("`{c}`"));
            Some(Finding::RouteWouldMove {
                network: front.to_string(),
                container: proxy.to_string(),
                current: current.clone(),
                reason: holder.reason,
                message: format!(
                    "attaching the non-internal network `{front}` to the proxy `{proxy}` would \
                     move its default route from {from} to `{front}`"
                ),
                explanation: format!(
                    "`{front}` would take the route because {} (uppercase `F` sorts before \
                     lowercase `b` of `bridge`). Fix: make `{front}` internal — bgdeploy \
                     creates front networks internal by default (`front_internal: true`); \
                     detach its containers, `docker network rm {front}` and let `bgdeploy up` \
                     recreate it — or, on Engine 28+ (API 1.48), give the proxy's own network \
                     the highest GwPriority.",
                    holder.reason.explain()
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const API: ApiVersion = ApiVersion {
        major: 1,
        minor: 41,
    };

    fn summary(name: &str, mode: &str, labels: &[(&str, &str)]) -> ContainerSummary {
        ContainerSummary {
            id: format!("id-{name}"),
            name: name.into(),
            state: "running".into(),
            created: 0,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            network_mode: mode.into(),
            networks: vec![],
        }
    }

    #[test]
    fn where_routes_belong() {
        let none = Networks::new();
        let release = summary(
            "shop_stage_1",
            "BACK_shop_stage",
            &[
                ("bgdeploy.managed", "true"),
                ("bgdeploy.kind", "app"),
                ("bgdeploy.app", "shop"),
                ("bgdeploy.stage", "stage"),
            ],
        );
        assert_eq!(
            expected_network(&release, &none),
            Ok(("BACK_shop_stage".into(), "bgdeploy_back"))
        );
        assert_eq!(
            expected_network(&summary("a", "default", &[]), &none),
            Ok(("bridge".into(), "created_on"))
        );
        assert_eq!(
            expected_network(&summary("a", "app_stage_internal", &[]), &none),
            Ok(("app_stage_internal".into(), "created_on"))
        );
        assert!(expected_network(&summary("a", "container:abc", &[]), &none).is_err());
        assert!(expected_network(&summary("a", "host", &[]), &none).is_err());
    }

    #[test]
    fn a_proxy_on_bridge_would_lose_its_route_to_an_open_front_network() {
        let proxy = [
            Endpoint::new("bridge", false),
            Endpoint::new("FRONT_shop_stage", true),
        ];
        let found = would_move(
            "nginx",
            &proxy,
            &["FRONT_blog_prod", "FRONT_shop_stage"],
            API,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let Finding::RouteWouldMove {
            network,
            current,
            message,
            explanation,
            ..
        } = &found[0]
        else {
            panic!("{found:?}");
        };
        assert_eq!(network, "FRONT_blog_prod");
        assert_eq!(current.as_deref(), Some("bridge"));
        assert!(message.contains("from `bridge`"), "{message}");
        assert!(explanation.contains("internal"), "{explanation}");
        // On a network that sorts before any front network, nothing moves.
        let early = [Endpoint::new("AAA", false), Endpoint::new("bridge", false)];
        assert!(would_move("p", &early, &["FRONT_x"], API).is_empty());
    }
}
