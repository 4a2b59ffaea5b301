//! The container settings of a stage merged over its app's, then resolved with their
//! defaults into the model, with the checks that need both layers.
//!
//! Merging follows the rest of the spec: scalars and lists are replaced; the maps `labels`,
//! `sysctls`, `ulimits` and `logging.options` are merged key by key; `logging.options` of the
//! app are dropped when the stage names another logging driver (they belong to the driver).

use indexmap::IndexMap;

use super::layer::Val;
use super::settings::{LoggingLayer, SettingsLayer};
use crate::spec::path::KeyPath;
use crate::spec::settings::{Bytes, ContainerSettings, Cpus, Logging};

/// A stage's settings over its app's.
pub(super) fn merge(app: &SettingsLayer, stage: &SettingsLayer) -> SettingsLayer {
    let (app, stage) = (app.clone(), stage.clone());
    let map = |mut app: IndexMap<String, String>, stage: IndexMap<String, String>| {
        app.extend(stage);
        app
    };
    let mut ulimits = app.ulimits;
    ulimits.extend(stage.ulimits);
    let logging = match (app.logging, stage.logging) {
        (Val::Set(app), Val::Set(stage)) => {
            let switched =
                matches!((app.driver.set(), stage.driver.set()), (Some(a), Some(s)) if a != s);
            let options = if switched {
                stage.options
            } else {
                map(app.options, stage.options)
            };
            Val::Set(LoggingLayer {
                at: stage.at,
                driver: stage.driver.or(app.driver),
                options,
            })
        }
        (Val::Bad, _) | (_, Val::Bad) => Val::Bad,
        (app, stage) => stage.or(app),
    };
    SettingsLayer {
        volumes: stage.volumes.or(app.volumes),
        tmpfs: stage.tmpfs.or(app.tmpfs),
        labels: map(app.labels, stage.labels),
        user: stage.user.or(app.user),
        working_dir: stage.working_dir.or(app.working_dir),
        entrypoint: stage.entrypoint.or(app.entrypoint),
        memory: stage.memory.or(app.memory),
        memory_reservation: stage.memory_reservation.or(app.memory_reservation),
        cpus: stage.cpus.or(app.cpus),
        pids_limit: stage.pids_limit.or(app.pids_limit),
        ulimits,
        shm_size: stage.shm_size.or(app.shm_size),
        logging,
        extra_hosts: stage.extra_hosts.or(app.extra_hosts),
        dns: stage.dns.or(app.dns),
        cap_add: stage.cap_add.or(app.cap_add),
        cap_drop: stage.cap_drop.or(app.cap_drop),
        read_only: stage.read_only.or(app.read_only),
        init: stage.init.or(app.init),
        stop_signal: stage.stop_signal.or(app.stop_signal),
        restart: stage.restart.or(app.restart),
        sysctls: map(app.sysctls, stage.sysctls),
        security_opt: stage.security_opt.or(app.security_opt),
        devices: stage.devices.or(app.devices),
    }
}

/// The merged settings with defaults, and the problems only the whole picture shows.
pub(super) fn resolve(
    l: &SettingsLayer,
    report: &mut dyn FnMut(&KeyPath, String),
) -> ContainerSettings {
    if let (Some(limit), Some(reservation)) = (l.memory.set(), l.memory_reservation.set()) {
        if reservation.value > limit.value {
            report(
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
    if let Val::Set(logging) = &l.logging {
        if logging.driver.set().is_none() && !logging.options.is_empty() {
            // Options without a driver would go to whatever driver the daemon defaults to.
            report(
                &logging.at,
                "`logging.options` is set without `logging.driver`; name the driver the options are for".to_owned(),
            );
        }
    }
    let strings =
        |m: &IndexMap<String, String>| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    ContainerSettings {
        volumes: l.volumes.set().cloned().unwrap_or_default(),
        tmpfs: l
            .tmpfs
            .set()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        labels: strings(&l.labels),
        user: l.user.set().cloned(),
        working_dir: l.working_dir.set().cloned(),
        entrypoint: l.entrypoint.set().cloned(),
        memory: l.memory.set().map(|m| Bytes(m.value)),
        memory_reservation: l.memory_reservation.set().map(|m| Bytes(m.value)),
        cpus: l.cpus.set().map(|c| Cpus(*c)),
        pids_limit: l.pids_limit.set().copied(),
        ulimits: l.ulimits.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        shm_size: l.shm_size.set().map(|s| Bytes(*s)),
        logging: l.logging.set().and_then(|lg| {
            lg.driver.set().map(|driver| Logging {
                driver: driver.clone(),
                options: strings(&lg.options),
            })
        }),
        extra_hosts: l.extra_hosts.set().cloned().unwrap_or_default(),
        dns: l.dns.set().cloned().unwrap_or_default(),
        cap_add: l.cap_add.set().cloned().unwrap_or_default(),
        cap_drop: l.cap_drop.set().cloned().unwrap_or_default(),
        read_only: l.read_only.set().copied().unwrap_or(false),
        init: l.init.set().copied().unwrap_or(false),
        stop_signal: l.stop_signal.set().cloned(),
        restart: l.restart.set().copied().unwrap_or_default(),
        sysctls: strings(&l.sysctls),
        security_opt: l.security_opt.set().cloned().unwrap_or_default(),
        devices: l.devices.set().cloned().unwrap_or_default(),
    }
}
