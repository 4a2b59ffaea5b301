//! The keys of an app and of its stages: THE table (see `table` for the columns).
//!
//! Adding a key is one row here (plus its field in the model, `model::Deploy` or
//! `settings::ContainerSettings`): say where it may be written, how a stage's value merges over
//! the app's, which reader checks it (`leaf`, `units` through `settings`, or a block's module)
//! and how it goes into the model. Messages list the keys in row order. A key that needs a
//! block of its own (`hosts`, `rollout`) gets a `keys!` table in its module, as `health` has,
//! and one row here with `blocks(.., Block::merged)`.

use std::time::Duration;

use indexmap::IndexMap;

use super::resolve::Resolve;
use super::table::{At, blocks, entries, keys, replace};
use super::{fleet, health, hooks, leaf, proxy, read, settings};
use crate::spec::model::HostEngine;
use crate::spec::settings::{Bytes, Cpus, Device, Mount, Restart, Ulimit};

keys! {
    /// An app's keys, or one stage's overrides.
    pub(super) struct Layer => Resolve {
        image: String, Both, replace, leaf::image,
            into |r, v| r.deploy.image = v.value.clone(),
            need "`image` is not set: the Docker image to run, e.g. `image: shop:1.4.2`";
        port: u16, Both, replace, leaf::port,
            into |r, v| r.deploy.port = v.value,
            need "`port` is not set: the port the app listens on inside its container, \
                  e.g. `port: 8080`";
        command: Vec<String>, Both, replace, leaf::argv,
            into |r, v| r.deploy.command = Some(v.value.clone());
        env: IndexMap<String, At<String>>, Both, entries, |c, n, a| Some(read::env(c, n, a)),
            into |r, v| r.deploy.env = v.value.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect();
        secrets: Vec<At<String>>, Both, replace, read::secrets, into read::apply_secrets;
        networks: Vec<String>, Both, replace, read::networks,
            into |r, v| r.deploy.networks = v.value.clone();
        health: health::HealthLayer, Both, |a, s| blocks(a, s, health::merge), health::read,
            into health::apply;
        proxy: proxy::ProxyLayer, Both, |a, s| blocks(a, s, proxy::merge), proxy::read,
            into proxy::apply;
        front_internal: bool, Both, replace, leaf::boolean,
            into |r, v| r.deploy.front_internal = v.value;
        drain: Duration, Both, replace, |c, n, a| leaf::duration(c, n, a, false),
            into |r, v| r.deploy.drain = v.value;
        stop_timeout: Duration, Both, replace, |c, n, a| leaf::duration(c, n, a, false),
            into |r, v| r.deploy.stop_timeout = v.value;
        keep: u32, Both, replace, |c, n, a| leaf::count(c, n, a, 0),
            into |r, v| r.deploy.keep = v.value;
        hooks: hooks::HooksLayer, Both, |a, s| blocks(a, s, hooks::HooksLayer::merged),
            hooks::read, into hooks::apply;
        // A fleet (DESIGN.md §9): a stage's `hosts` is one fleet, so it replaces the app's
        // whole; `rollout` after `hosts`, whose count it is checked against.
        hosts: IndexMap<String, HostEngine>, Both, replace, fleet::hosts,
            into |r, v| r.deploy.hosts = v.value.clone();
        rollout: fleet::RolloutLayer, Both, |a, s| blocks(a, s, fleet::RolloutLayer::merged),
            fleet::read_rollout, into fleet::apply_rollout;
        // Read by `validate::stages`; here for the list of known keys.
        stages: (), App, replace, |_, _, _| Some(());
        // A stage's shorthand for `proxy: {virtual_host: ..}`, folded into `proxy` when read.
        virtual_host: String, Stage, replace, leaf::host_name;

        // The container settings of DESIGN.md §11, with Compose's names and meanings.
        volumes: Vec<Mount>, Both, replace, settings::volumes,
            into |r, v| r.deploy.container.volumes = v.value.clone();
        tmpfs: Vec<(String, String)>, Both, replace, settings::tmpfs,
            into |r, v| r.deploy.container.tmpfs = v.value.iter().cloned().collect();
        labels: IndexMap<String, String>, Both, entries, settings::labels,
            into |r, v| r.deploy.container.labels = settings::sorted(&v.value);
        user: String, Both, replace, settings::user,
            into |r, v| r.deploy.container.user = Some(v.value.clone());
        working_dir: String, Both, replace, settings::working_dir,
            into |r, v| r.deploy.container.working_dir = Some(v.value.clone());
        entrypoint: Vec<String>, Both, replace, leaf::argv,
            into |r, v| r.deploy.container.entrypoint = Some(v.value.clone());
        memory: u64, Both, replace, settings::memory,
            into |r, v| r.deploy.container.memory = Some(Bytes(v.value));
        memory_reservation: u64, Both, replace, settings::memory_reservation,
            into |r, v| r.deploy.container.memory_reservation = Some(Bytes(v.value));
        cpus: i64, Both, replace, settings::cpus,
            into |r, v| r.deploy.container.cpus = Some(Cpus(v.value));
        pids_limit: i64, Both, replace, settings::pids_limit,
            into |r, v| r.deploy.container.pids_limit = Some(v.value);
        ulimits: IndexMap<String, Ulimit>, Both, entries, settings::ulimits,
            into |r, v| r.deploy.container.ulimits = settings::sorted(&v.value);
        shm_size: u64, Both, replace, |c, n, a| settings::size(c, n, a, 0),
            into |r, v| r.deploy.container.shm_size = Some(Bytes(v.value));
        logging: settings::LoggingLayer, Both, |a, s| blocks(a, s, settings::merge_logging),
            settings::logging, into settings::apply_logging;
        extra_hosts: Vec<String>, Both, replace, settings::extra_hosts,
            into |r, v| r.deploy.container.extra_hosts = v.value.clone();
        dns: Vec<String>, Both, replace, settings::dns,
            into |r, v| r.deploy.container.dns = v.value.clone();
        cap_add: Vec<String>, Both, replace, |c, n, a| settings::capabilities(c, n, a, "[NET_ADMIN]"),
            into |r, v| r.deploy.container.cap_add = v.value.clone();
        cap_drop: Vec<String>, Both, replace, |c, n, a| settings::capabilities(c, n, a, "[NET_RAW]"),
            into |r, v| r.deploy.container.cap_drop = v.value.clone();
        read_only: bool, Both, replace, leaf::boolean,
            into |r, v| r.deploy.container.read_only = v.value;
        init: bool, Both, replace, leaf::boolean,
            into |r, v| r.deploy.container.init = v.value;
        stop_signal: String, Both, replace, settings::stop_signal,
            into |r, v| r.deploy.container.stop_signal = Some(v.value.clone());
        restart: Restart, Both, replace, settings::restart,
            into |r, v| r.deploy.container.restart = v.value;
        sysctls: IndexMap<String, String>, Both, entries, settings::sysctls,
            into |r, v| r.deploy.container.sysctls = settings::sorted(&v.value);
        security_opt: Vec<String>, Both, replace, settings::security_opt,
            into |r, v| r.deploy.container.security_opt = v.value.clone();
        devices: Vec<Device>, Both, replace, settings::devices,
            into |r, v| r.deploy.container.devices = v.value.clone();
    }
}

/// Keys people put at the wrong level, with what to do instead.
pub(super) const APP_WRONG_PLACE: &[(&str, &str)] = &[(
    "virtual_host",
    "`virtual_host` belongs under `proxy:` here; the `virtual_host:` shorthand is only for \
     stages",
)];
pub(super) const STAGE_WRONG_PLACE: &[(&str, &str)] = &[(
    "stages",
    "stages cannot be nested; a stage overrides the app's keys",
)];
