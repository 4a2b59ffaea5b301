//! What the matrix checks after a run: where the point of no return is (from what the steps
//! do), what the proxy routes to (from the proxy's own state, per driver), and whether the
//! engine is in the state the fault's side of the point of no return demands.

use std::collections::{BTreeMap, BTreeSet};

use super::{Driver, Fixture, PORT, PROXY, Ran};
use crate::engine::fake::World;
use crate::plan::{Action, ProxyPhase, Step};

/// Which of the two allowed end states a run must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Before the point of no return: everything undone.
    Undone,
    /// From it on: the new release live.
    Committed,
}

fn front() -> String {
    crate::names::front_network(super::APP, super::STAGE)
}

/// The number (1-based) of the first step that takes one of `old` out of traffic: the proxy
/// switch that removes it, its leaving `FRONT_`, or its stop (DESIGN.md §2 step 7).
pub fn point_of_no_return(steps: &[Step], old: &[String]) -> Option<usize> {
    let is_old = |c: &String| old.contains(c);
    steps
        .iter()
        .position(|s| match &s.action {
            Action::ProxySwitch {
                phase: ProxyPhase::Remove,
                container,
                ..
            }
            | Action::DisconnectNetwork { container, .. }
            | Action::StopContainer { container, .. } => is_old(container),
            _ => false,
        })
        .map(|i| i + 1)
}

/// Running release containers attached to `FRONT_`.
pub fn live(w: &World) -> Vec<String> {
    w.containers
        .values()
        .filter(|c| c.proxy.is_none() && c.running() && c.ip_on(&front()).is_some())
        .map(|c| c.name.clone())
        .collect()
}

/// `ip:port` of `container` on `FRONT_`.
pub fn front_addr(w: &World, container: &str) -> Option<String> {
    let ip = w.containers.get(container)?.ip_on(&front())?;
    Some(format!("{ip}:{PORT}"))
}

/// The addresses the proxy sends traffic to: nginx's running configuration, the last set the
/// command driver's script was given, or (driver `none`) what runs on `FRONT_`.
pub fn routed(f: &Fixture, w: &World) -> BTreeSet<String> {
    match f.driver {
        Driver::Nginx | Driver::NginxProxy => {
            let loaded = w
                .containers
                .get(PROXY)
                .and_then(|c| c.proxy.as_ref())
                .map(|p| p.loaded.clone())
                .unwrap_or_default();
            loaded
                .lines()
                .filter_map(|l| l.trim().strip_prefix("server "))
                .filter_map(|rest| {
                    rest.split_once(';')
                        .map(|(addr, _)| addr.trim().to_string())
                })
                .collect()
        }
        Driver::Command => f
            .read_log()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.split_whitespace().skip(1).map(str::to_string).collect())
            .unwrap_or_default(),
        Driver::None => live(w).iter().filter_map(|c| front_addr(w, c)).collect(),
    }
}

/// Every container by name: its state and networks (addresses aside).
fn summary(w: &World) -> BTreeMap<String, (String, Vec<String>)> {
    w.containers
        .values()
        .map(|c| {
            let mut nets: Vec<String> = c.endpoints.iter().map(|e| e.network.clone()).collect();
            nets.sort();
            (c.name.clone(), (c.state.clone(), nets))
        })
        .collect()
}

fn lock_held(w: &World) -> bool {
    w.containers
        .contains_key(&crate::names::lock_name(super::APP, super::STAGE))
}

/// What one run of the matrix is checked against.
pub struct Expect<'a> {
    pub side: Side,
    /// Exit codes allowed.
    pub codes: &'a [i32],
    /// The release the run makes live.
    pub target: &'a str,
    /// The lock may be left held: the fault hit its removal, or its creation succeeded and
    /// the answer was lost (then it is stale, and the next `up` on this host takes it over).
    pub lock_may_stay: bool,
}

/// Checks the state after a run; `Err` says what is wrong.
pub fn check(
    f: &Fixture,
    before: &World,
    after: &World,
    ran: &Ran,
    e: &Expect<'_>,
) -> Result<(), String> {
    let mut wrong = Vec::new();
    if !e.codes.contains(&ran.code) {
        wrong.push(format!(
            "exit code {} (expected one of {:?})",
            ran.code, e.codes
        ));
    }
    if lock_held(after) && !e.lock_may_stay {
        wrong.push("the lock is still held".to_string());
    }
    let routes = routed(f, after);
    match e.side {
        Side::Undone => {
            let mut was = summary(before);
            let mut now = summary(after);
            if e.lock_may_stay {
                let lock = crate::names::lock_name(super::APP, super::STAGE);
                was.remove(&lock);
                now.remove(&lock);
            }
            if was != now {
                wrong.push(format!(
                    "the containers are not as they were:\n  before {was:?}\n  after  {now:?}"
                ));
            }
            let routed_before = routed(f, before);
            if routes != routed_before {
                wrong.push(format!(
                    "the proxy routes to {routes:?}, not to {routed_before:?} as before"
                ));
            }
        }
        Side::Committed => {
            let addr = front_addr(after, e.target);
            let running = after.containers.get(e.target).is_some_and(|c| c.running());
            match &addr {
                Some(a) if running && routes.contains(a) => {}
                _ => wrong.push(format!(
                    "{} is not live and routed (running {running}, front {addr:?}, routed {routes:?})",
                    e.target
                )),
            }
            if ran.code == 0 {
                let expected: BTreeSet<String> = addr.into_iter().collect();
                if routes != expected || live(after) != [e.target.to_string()] {
                    wrong.push(format!(
                        "after a success only {} is live and routed: live {:?}, routed {routes:?}",
                        e.target,
                        live(after)
                    ));
                }
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("\n"))
    }
}
