//! A release's container settings in words, one `key: value` per setting that differs from
//! what a spec without it means (`restart` is always shown: its default is bgdeploy's own).

use crate::spec::ContainerSettings;
use crate::spec::settings::MountSource;

/// The settings as `key: value` lines; `volumes_created` marks the named volumes the engine
/// will create.
pub fn lines(s: &ContainerSettings, volumes_created: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |key: &str, value: String| out.push(format!("{key}: {value}"));
    if !s.volumes.is_empty() {
        let mounts: Vec<String> = s
            .volumes
            .iter()
            .map(|m| match &m.source {
                MountSource::Volume(name) if volumes_created.contains(name) => {
                    format!("{m} (new volume, created by the engine)")
                }
                _ => m.to_string(),
            })
            .collect();
        add("volumes", mounts.join(", "));
    }
    if !s.tmpfs.is_empty() {
        let tmpfs: Vec<String> = s
            .tmpfs
            .iter()
            .map(|(path, opts)| {
                if opts.is_empty() {
                    path.clone()
                } else {
                    format!("{path}:{opts}")
                }
            })
            .collect();
        add("tmpfs", tmpfs.join(", "));
    }
    let pairs = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !s.labels.is_empty() {
        add("labels", pairs(&s.labels));
    }
    if let Some(user) = &s.user {
        add("user", user.clone());
    }
    if let Some(dir) = &s.working_dir {
        add("working_dir", dir.clone());
    }
    if let Some(entrypoint) = &s.entrypoint {
        add("entrypoint", entrypoint.join(" "));
    }
    if let Some(memory) = s.memory {
        add("memory", memory.to_string());
    }
    if let Some(reservation) = s.memory_reservation {
        add("memory_reservation", reservation.to_string());
    }
    if let Some(cpus) = s.cpus {
        add("cpus", cpus.to_string());
    }
    if let Some(pids) = s.pids_limit {
        add("pids_limit", pids.to_string());
    }
    if !s.ulimits.is_empty() {
        let limits: Vec<String> = s
            .ulimits
            .iter()
            .map(|(name, l)| format!("{name}={}:{}", l.soft, l.hard))
            .collect();
        add("ulimits", limits.join(", "));
    }
    if let Some(shm) = s.shm_size {
        add("shm_size", shm.to_string());
    }
    if let Some(logging) = &s.logging {
        let options = if logging.options.is_empty() {
            String::new()
        } else {
            format!(" ({})", pairs(&logging.options))
        };
        add("logging", format!("{}{options}", logging.driver));
    }
    for (key, list) in [
        ("extra_hosts", &s.extra_hosts),
        ("dns", &s.dns),
        ("cap_add", &s.cap_add),
        ("cap_drop", &s.cap_drop),
        ("security_opt", &s.security_opt),
    ] {
        if !list.is_empty() {
            add(key, list.join(", "));
        }
    }
    if s.read_only {
        add("read_only", "true".into());
    }
    if s.init {
        add("init", "true".into());
    }
    if let Some(signal) = &s.stop_signal {
        add("stop_signal", signal.clone());
    }
    add("restart", s.restart.to_string());
    if !s.sysctls.is_empty() {
        add("sysctls", pairs(&s.sysctls));
    }
    if !s.devices.is_empty() {
        let devices: Vec<String> = s.devices.iter().map(ToString::to_string).collect();
        add("devices", devices.join(", "));
    }
    out
}
