//! Turning what the engine reports into the planner's model: roles, attachments, the lock.
//! Pure, so the rules are unit-tested without an engine.

use std::collections::{BTreeMap, HashMap};

use super::model::{Attachment, ContainerInfo, LockInfo, ProxyInfo, Role};
use crate::engine::{ContainerDetails, EndpointDetails};
use crate::names;

/// Network ID → the network's `Internal` and `EnableIPv6` flags.
pub(super) type InternalFlags = HashMap<String, NetFlags>;

/// What routing needs to know of a network besides its name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct NetFlags {
    pub internal: bool,
    pub ipv6: bool,
}

pub(super) fn attachments(
    endpoints: &[EndpointDetails],
    internal: &InternalFlags,
) -> Vec<Attachment> {
    endpoints
        .iter()
        .map(|e| {
            let flags = internal.get(&e.network_id).copied().unwrap_or_default();
            Attachment {
                network: e.network.clone(),
                network_id: e.network_id.clone(),
                internal: flags.internal,
                ipv6: flags.ipv6,
                gw_priority: e.gw_priority,
                ip: e.ip.clone(),
                gateway: e.gateway.clone(),
            }
        })
        .collect()
}

/// Live means running and on the front network, matched by name so that a duplicated
/// (ambiguous) front network still counts. A container that was created but never started
/// can only be what a deploy killed mid-way left behind: it was never healthy, so it must
/// not be offered to `rollback`.
pub(super) fn role(running: bool, state: &str, attachments: &[Attachment], front: &str) -> Role {
    match (running, attachments.iter().any(|a| a.network == front)) {
        (true, true) => Role::Live,
        (true, false) => Role::Standby,
        (false, _) if state == "created" => Role::Leftover,
        (false, _) => Role::Retired,
    }
}

pub(super) fn container(
    c: &ContainerDetails,
    internal: &InternalFlags,
    front: &str,
) -> ContainerInfo {
    let attachments = attachments(&c.endpoints, internal);
    // A one-off that is no longer running is what a killed run left: never a release.
    let oneoff = c.labels.get(names::LABEL_KIND).map(String::as_str) == Some(names::KIND_ONEOFF);
    ContainerInfo {
        id: c.id.clone(),
        name: c.name.clone(),
        image: c.image.clone(),
        state: c.state.clone(),
        health: c.health.clone(),
        created: c.created_unix(),
        role: if oneoff {
            Role::Leftover
        } else {
            role(c.running, &c.state, &attachments, front)
        },
        attachments,
        resources: c.resources,
    }
}

pub(super) fn proxy(c: &ContainerDetails, internal: &InternalFlags) -> ProxyInfo {
    ProxyInfo {
        id: c.id.clone(),
        name: c.name.clone(),
        running: c.running,
        attachments: attachments(&c.endpoints, internal),
    }
}

/// The lock container exists, so the lock is held, even when its labels are unreadable
/// (then the owner is unknown and `since` is 0).
pub(super) fn lock(labels: &BTreeMap<String, String>) -> LockInfo {
    LockInfo {
        owner: labels
            .get(names::LABEL_LOCK_OWNER)
            .filter(|o| !o.is_empty())
            .cloned()
            .unwrap_or_else(|| "unknown".to_string()),
        since: labels
            .get(names::LABEL_LOCK_SINCE)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
    }
}

/// Newest first; by ID when two were created at the same instant, so the order is stable.
pub(super) fn newest_first(containers: &mut [ContainerDetails]) {
    containers.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn endpoint(network: &str, id: &str) -> EndpointDetails {
        EndpointDetails {
            network: network.into(),
            network_id: id.into(),
            gw_priority: 0,
            ip: Some("172.20.0.2".into()),
            gateway: Some("172.20.0.1".into()),
        }
    }

    fn details(id: &str, running: bool, created_ms: u64, networks: &[&str]) -> ContainerDetails {
        ContainerDetails {
            id: id.into(),
            name: format!("shop_stage_{id}"),
            image: "shop:1".into(),
            image_id: "sha256:1".into(),
            state: if running { "running" } else { "exited" }.into(),
            running,
            pid: running.then_some(42),
            health: None,
            created: Some(UNIX_EPOCH + Duration::from_millis(created_ms)),
            labels: BTreeMap::new(),
            endpoints: networks
                .iter()
                .map(|n| endpoint(n, &format!("id-{n}")))
                .collect(),
            resources: Default::default(),
        }
    }

    #[test]
    fn roles_follow_running_and_the_front_network() {
        let internal = NetFlags {
            internal: true,
            ipv6: false,
        };
        let flags = InternalFlags::from([("id-FRONT_shop_stage".to_string(), internal)]);
        let front = "FRONT_shop_stage";
        let live = container(
            &details("a", true, 3_000, &["BACK_shop_stage", front]),
            &flags,
            front,
        );
        let standby = container(
            &details("b", true, 2_000, &["BACK_shop_stage"]),
            &flags,
            front,
        );
        let retired = container(
            &details("c", false, 1_000, &["BACK_shop_stage", front]),
            &flags,
            front,
        );
        assert_eq!(
            (live.role, standby.role, retired.role),
            (Role::Live, Role::Standby, Role::Retired)
        );
        assert_eq!(live.created, 3);
        assert_eq!(
            live.attachments
                .iter()
                .map(|a| (a.network.as_str(), a.internal))
                .collect::<Vec<_>>(),
            [("BACK_shop_stage", false), (front, true)]
        );
    }

    #[test]
    fn newest_first_even_within_one_second() {
        let mut cs = vec![
            details("old", false, 1_000, &[]),
            details("new", true, 1_900, &[]),
            details("mid", true, 1_500, &[]),
        ];
        newest_first(&mut cs);
        assert_eq!(
            cs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["new", "mid", "old"]
        );
    }

    #[test]
    fn lock_reads_owner_and_since() {
        let labels = BTreeMap::from([
            (
                names::LABEL_LOCK_OWNER.to_string(),
                "ana@ci (pid 7)".to_string(),
            ),
            (
                names::LABEL_LOCK_SINCE.to_string(),
                "1700000000".to_string(),
            ),
        ]);
        assert_eq!(
            lock(&labels),
            LockInfo {
                owner: "ana@ci (pid 7)".into(),
                since: 1_700_000_000
            }
        );
        assert_eq!(
            lock(&BTreeMap::new()),
            LockInfo {
                owner: "unknown".into(),
                since: 0
            }
        );
    }
}
