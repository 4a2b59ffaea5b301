//! The one place where the spec's container settings (DESIGN.md §11) become the engine's
//! create request. Every container bgdeploy creates for a release goes through here —
//! the release itself and one-off containers of its image — so that they all run alike.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HostConfig, HostConfigLogConfig, Mount, MountType,
    ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};

use crate::spec::ContainerSettings;
use crate::spec::settings::{MountSource, Restart};

/// The settings as the engine's `HostConfig`; everything else of a HostConfig (network
/// mode, …) is left unset for the caller.
pub fn host_config(s: &ContainerSettings) -> HostConfig {
    let some_vec = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let some_map = |m: &std::collections::BTreeMap<String, String>| {
        (!m.is_empty()).then(|| m.clone().into_iter().collect::<HashMap<_, _>>())
    };
    let bytes =
        |b: Option<crate::spec::settings::Bytes>| b.map(|b| i64::try_from(b.0).unwrap_or(i64::MAX));
    HostConfig {
        mounts: (!s.volumes.is_empty()).then(|| s.volumes.iter().map(mount).collect()),
        tmpfs: some_map(&s.tmpfs),
        memory: bytes(s.memory),
        memory_reservation: bytes(s.memory_reservation),
        nano_cpus: s.cpus.map(|c| c.0),
        pids_limit: s.pids_limit,
        ulimits: (!s.ulimits.is_empty()).then(|| {
            s.ulimits
                .iter()
                .map(|(name, limit)| ResourcesUlimits {
                    name: Some(name.clone()),
                    soft: Some(limit.soft),
                    hard: Some(limit.hard),
                })
                .collect()
        }),
        shm_size: bytes(s.shm_size),
        log_config: s.logging.as_ref().map(|l| HostConfigLogConfig {
            typ: Some(l.driver.clone()),
            config: (!l.options.is_empty())
                .then(|| l.options.clone().into_iter().collect::<HashMap<_, _>>()),
        }),
        extra_hosts: some_vec(&s.extra_hosts),
        dns: some_vec(&s.dns),
        cap_add: some_vec(&s.cap_add),
        cap_drop: some_vec(&s.cap_drop),
        readonly_rootfs: s.read_only.then_some(true),
        init: s.init.then_some(true),
        restart_policy: Some(restart_policy(s.restart)),
        sysctls: some_map(&s.sysctls),
        security_opt: some_vec(&s.security_opt),
        devices: (!s.devices.is_empty()).then(|| {
            s.devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: Some(d.host.clone()),
                    path_in_container: Some(d.container.clone()),
                    cgroup_permissions: Some(d.permissions.clone()),
                })
                .collect()
        }),
        ..Default::default()
    }
}

/// A mount as `--mount` sends it rather than `-v`: the engine then refuses a bind whose host
/// path is missing instead of creating an empty directory there, and still creates a named
/// volume on first use.
fn mount(m: &crate::spec::settings::Mount) -> Mount {
    let (typ, source) = match &m.source {
        MountSource::Volume(name) => (MountType::VOLUME, name),
        MountSource::Bind(path) => (MountType::BIND, path),
    };
    Mount {
        target: Some(m.target.clone()),
        source: Some(source.clone()),
        typ: Some(typ),
        read_only: m.read_only.then_some(true),
        ..Default::default()
    }
}

fn restart_policy(restart: Restart) -> RestartPolicy {
    let (name, count) = match restart {
        Restart::No => (RestartPolicyNameEnum::NO, None),
        Restart::Always => (RestartPolicyNameEnum::ALWAYS, None),
        Restart::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        Restart::OnFailure(n) => (RestartPolicyNameEnum::ON_FAILURE, n.map(i64::from)),
    };
    RestartPolicy {
        name: Some(name),
        maximum_retry_count: count,
    }
}

/// Puts the settings on a create request: the HostConfig fields (keeping the body's own,
/// such as its network mode), the user's labels next to bgdeploy's, and the process
/// settings (user, working directory, entrypoint, stop signal).
pub fn apply_settings(s: &ContainerSettings, body: &mut ContainerCreateBody) {
    let mut host = host_config(s);
    if let Some(own) = body.host_config.take() {
        host.network_mode = own.network_mode;
        host.binds = own.binds;
    }
    body.host_config = Some(host);
    if !s.labels.is_empty() {
        let labels = body.labels.get_or_insert_with(HashMap::new);
        for (key, value) in &s.labels {
            // The validator refuses `bgdeploy.*`; bgdeploy's own labels win regardless.
            labels.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    if s.user.is_some() {
        body.user.clone_from(&s.user);
    }
    if s.working_dir.is_some() {
        body.working_dir.clone_from(&s.working_dir);
    }
    if s.entrypoint.is_some() {
        body.entrypoint.clone_from(&s.entrypoint);
    }
    if s.stop_signal.is_some() {
        body.stop_signal.clone_from(&s.stop_signal);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::spec::settings::{Bytes, Cpus, Logging, Mount, MountSource, Ulimit};

    fn settings() -> ContainerSettings {
        ContainerSettings {
            volumes: vec![
                Mount {
                    source: MountSource::Volume("uploads".into()),
                    target: "/data".into(),
                    read_only: false,
                },
                Mount {
                    source: MountSource::Bind("/etc/shop".into()),
                    target: "/config".into(),
                    read_only: true,
                },
            ],
            tmpfs: BTreeMap::from([("/run".into(), "size=64m".into())]),
            labels: BTreeMap::from([("team".into(), "shop".into())]),
            user: Some("1000:1000".into()),
            working_dir: Some("/app".into()),
            memory: Some(Bytes(512 << 20)),
            cpus: Some(Cpus(1_500_000_000)),
            pids_limit: Some(100),
            ulimits: BTreeMap::from([(
                "nofile".into(),
                Ulimit {
                    soft: 1024,
                    hard: 4096,
                },
            )]),
            logging: Some(Logging {
                driver: "json-file".into(),
                options: BTreeMap::from([("max-size".into(), "10m".into())]),
            }),
            cap_drop: vec!["CAP_NET_RAW".into()],
            init: true,
            stop_signal: Some("SIGQUIT".into()),
            ..ContainerSettings::default()
        }
    }

    #[test]
    fn the_request_carries_every_setting() {
        let mut body = ContainerCreateBody {
            labels: Some(HashMap::from([("bgdeploy.app".into(), "shop".into())])),
            host_config: Some(HostConfig {
                network_mode: Some("BACK_shop_stage".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        apply_settings(&settings(), &mut body);
        let json = serde_json::to_value(&body).expect("serializable");
        let host = &json["HostConfig"];
        assert_eq!(host["NetworkMode"], "BACK_shop_stage");
        assert_eq!(
            host["Mounts"],
            serde_json::json!([
                {"Target": "/data", "Source": "uploads", "Type": "volume"},
                {"Target": "/config", "Source": "/etc/shop", "Type": "bind", "ReadOnly": true},
            ])
        );
        assert_eq!(host["Tmpfs"]["/run"], "size=64m");
        assert_eq!(host["Memory"], 512 << 20);
        assert_eq!(host["NanoCpus"], 1_500_000_000_i64);
        assert_eq!(host["PidsLimit"], 100);
        assert_eq!(
            host["Ulimits"],
            serde_json::json!([{"Name": "nofile", "Soft": 1024, "Hard": 4096}])
        );
        assert_eq!(host["LogConfig"]["Type"], "json-file");
        assert_eq!(host["LogConfig"]["Config"]["max-size"], "10m");
        assert_eq!(host["CapDrop"], serde_json::json!(["CAP_NET_RAW"]));
        assert_eq!(host["Init"], true);
        assert_eq!(host["RestartPolicy"]["Name"], "unless-stopped");
        assert_eq!(json["Labels"]["team"], "shop");
        assert_eq!(json["Labels"]["bgdeploy.app"], "shop");
        assert_eq!(json["User"], "1000:1000");
        assert_eq!(json["WorkingDir"], "/app");
        assert_eq!(json["StopSignal"], "SIGQUIT");
    }

    #[test]
    fn no_settings_means_only_the_default_restart_policy() {
        let json =
            serde_json::to_value(host_config(&ContainerSettings::default())).expect("serializable");
        assert_eq!(
            json,
            serde_json::json!({"RestartPolicy": {"Name": "unless-stopped"}})
        );
    }
}
