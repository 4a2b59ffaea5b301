//! One stage's merged layer → the `Deploy` the planner uses: defaults first, then every value
//! set, through its key's `into` (`keys`), then the checks that need several keys.
//!
//! A missing required key is returned as `Missing` rather than reported, because where to
//! report it depends on the other stages: once on the app when no stage has it, otherwise on
//! each stage that lacks it (`validate::app`). The `Deploy` is only used when nothing at all
//! was reported, so a wrong value may leave a default in it.

use std::collections::BTreeMap;

use super::check::Issue;
use super::keys::Layer;
use super::table::{At, Val};
use crate::spec::model::{Deploy, Health, HealthCheck, Hooks, Proxy, ProxyDriver, defaults};
use crate::spec::path::KeyPath;
use crate::spec::settings::Bytes;

/// Which block a missing key belongs in, to point at the block when it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Block {
    App,
    Health,
    Proxy,
    Verify,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Missing {
    pub block: Block,
    pub message: String,
}

/// The deploy being built, and what was found wrong on the way.
pub(super) struct Resolve {
    pub deploy: Deploy,
    pub issues: Vec<Issue>,
    pub missing: Vec<Missing>,
}

impl Resolve {
    pub fn issue(&mut self, at: &KeyPath, message: impl Into<String>) {
        self.issues.push(Issue {
            at: at.clone(),
            message: message.into(),
        });
    }

    /// The value, or `None`; an absent one is noted as missing from `block`.
    pub fn required<'v, T>(
        &mut self,
        val: &'v Val<At<T>>,
        block: Block,
        message: &str,
    ) -> Option<&'v T> {
        if let Val::Absent = val {
            self.missing.push(Missing {
                block,
                message: message.to_owned(),
            });
        }
        val.value()
    }
}

pub(super) fn resolve(layer: &Layer, app: &str, stage: &str) -> Resolve {
    let mut r = Resolve {
        deploy: defaults(app, stage),
        issues: Vec::new(),
        missing: Vec::new(),
    };
    for message in layer.missing() {
        r.missing.push(Missing {
            block: Block::App,
            message: message.to_owned(),
        });
    }
    layer.apply(&mut r);
    // No `health` block means `tcp: true`: a container that does not even accept connections
    // on its port must not get traffic, and every app has a port.
    if let Val::Absent = layer.health {
        r.deploy.health.check = HealthCheck::Tcp {
            port: r.deploy.port,
        };
    }
    if let (Some(limit), Some(reservation)) = (layer.memory.set(), layer.memory_reservation.set()) {
        if reservation.value > limit.value {
            r.issue(
                &reservation.at,
                format!(
                    "{} is above `memory` ({}, at {}); a reservation is a soft limit below the hard one",
                    Bytes(reservation.value),
                    Bytes(limit.value),
                    limit.at
                ),
            );
        }
    }
    r
}

/// A deploy with every default, before the keys that are set.
fn defaults(app: &str, stage: &str) -> Deploy {
    Deploy {
        app: app.to_owned(),
        stage: stage.to_owned(),
        image: String::new(),
        port: 0,
        command: None,
        env: BTreeMap::new(),
        secrets: Vec::new(),
        networks: Vec::new(),
        health: Health {
            check: HealthCheck::Tcp { port: 0 },
            interval: defaults::INTERVAL,
            timeout: defaults::TIMEOUT,
            healthy: defaults::HEALTHY,
            deadline: defaults::DEADLINE,
        },
        proxy: Proxy {
            driver: ProxyDriver::None,
            verify: None,
        },
        front_internal: defaults::FRONT_INTERNAL,
        drain: defaults::DRAIN,
        stop_timeout: defaults::STOP_TIMEOUT,
        keep: defaults::KEEP,
        container: Default::default(),
        hooks: Hooks::default(),
        hosts: Default::default(),
        rollout: Default::default(),
    }
}
