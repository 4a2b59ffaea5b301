//! The written forms of the container settings (Compose's and `docker run`'s): sizes,
//! CPU counts, mounts, restart policies, capabilities, signals. Pure text → value or the
//! reason it is wrong, so each form is unit-tested alone.

use std::net::IpAddr;

use crate::spec::settings::{Device, Mount, MountSource, Restart};
use crate::spec::text::{closest, quoted};

/// The engine refuses a memory limit below 6 MiB ("Minimum memory limit allowed is 6MB").
pub(super) const MIN_MEMORY: u64 = 6 << 20;

const SIZE_EXAMPLES: &str = "examples: 512m, 1g, 64k, 1048576";

/// `512m`, `1.5g`, `64k`, `100b`, `1048576` (bytes), units binary as `docker run`'s.
pub(super) fn bytes(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let without_b = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (number, unit) = match without_b.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&without_b[..i], Some(c)),
        _ => (without_b, None),
    };
    let factor: u64 = match unit {
        None => 1,
        Some('k') => 1 << 10,
        Some('m') => 1 << 20,
        Some('g') => 1 << 30,
        Some('t') => 1 << 40,
        Some(_) => return Err(not_a_size(text)),
    };
    let value: f64 = number
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && !number.trim().starts_with(['+', '-']))
        .ok_or_else(|| not_a_size(text))?;
    let total = (value * factor as f64).round();
    if total > i64::MAX as f64 {
        return Err(format!("{} is too large", quoted(text)));
    }
    Ok(total as u64)
}

fn not_a_size(text: &str) -> String {
    format!(
        "{} is not a size: a number with an optional unit b, k, m or g ({SIZE_EXAMPLES})",
        quoted(text)
    )
}

/// `1.5`, `0.25`, `2`: CPUs as a number, into billionths (the engine's `NanoCpus`).
pub(super) fn cpus(text: &str) -> Result<i64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            format!(
                "{} is not a number of CPUs: write a number such as 0.5, 1.5 or 2",
                quoted(text)
            )
        })?;
    let nanos = (value * 1e9).round();
    if nanos < 1e7 {
        return Err(format!(
            "{} is too small: the engine takes at least 0.01 CPUs",
            quoted(text)
        ));
    }
    if nanos > 1e12 {
        return Err(format!("{} CPUs is more than any host has", quoted(text)));
    }
    Ok(nanos as i64)
}

/// `uploads:/app/uploads`, `/srv/shop:/app/data:ro`.
pub(super) fn mount(text: &str) -> Result<Mount, String> {
    const FORMS: &str = "write `VOLUME:/container/path` or `/host/path:/container/path`, \
                         optionally ending in `:ro` or `:rw`";
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [source, target] => (*source, *target, None),
        [source, target, mode] => (*source, *target, Some(*mode)),
        [_] => {
            return Err(format!(
                "{} has no source: bgdeploy mounts named volumes or host paths, never \
                 anonymous volumes (they would stay behind with every release); {FORMS}",
                quoted(text)
            ));
        }
        _ => return Err(format!("{} has too many `:`; {FORMS}", quoted(text))),
    };
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(other) => {
            return Err(format!(
                "{}: unknown mode {}; the mode is `ro` (read-only) or `rw`",
                quoted(text),
                quoted(other)
            ));
        }
    };
    let source = if source.starts_with('/') {
        MountSource::Bind(absolute(source, "the host path")?)
    } else if source.starts_with('.') || source.starts_with('~') || source.contains('/') {
        return Err(format!(
            "{}: the host path {} is relative; give an absolute path (it is read on the \
             engine's host, where the spec's directory means nothing)",
            quoted(text),
            quoted(source)
        ));
    } else if source.starts_with("bgdeploy_") {
        return Err(format!(
            "{}: volume names starting with `bgdeploy_` are reserved for bgdeploy's own state \
             (the deploy lock and history); choose another name",
            quoted(text)
        ));
    } else if is_volume_name(source) {
        MountSource::Volume(source.to_owned())
    } else {
        return Err(format!(
            "{}: {} is not a volume name (letters, digits, `_`, `.` and `-`, starting with a \
             letter or digit, at least two characters) nor an absolute host path",
            quoted(text),
            quoted(source)
        ));
    };
    let target = absolute(target, "the container path")?;
    if target == "/" {
        return Err(format!(
            "{}: a volume cannot be mounted over `/`",
            quoted(text)
        ));
    }
    Ok(Mount {
        source,
        target,
        read_only,
    })
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn is_volume_name(name: &str) -> bool {
    name.len() >= 2
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// An absolute path with no `:`, no `..` and no `,` (which the engine's mount syntax
/// would split on); a trailing `/` is dropped.
pub(super) fn absolute(path: &str, what: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "{what} {} must be absolute (start with `/`)",
            quoted(path)
        ));
    }
    if path.contains([':', ',', '\0']) || path.chars().any(char::is_control) {
        return Err(format!(
            "{what} {} must not contain `:`, `,` or control characters",
            quoted(path)
        ));
    }
    if path.split('/').any(|seg| seg == "..") {
        return Err(format!("{what} {} must not contain `..`", quoted(path)));
    }
    let trimmed = path.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/" } else { trimmed }.to_owned())
}

/// `/run` or `/run:size=64m,mode=1777`: the path and the mount options.
pub(super) fn tmpfs(text: &str) -> Result<(String, String), String> {
    let (path, options) = text.split_once(':').unwrap_or((text, ""));
    let path = absolute(path, "the tmpfs path")?;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let (key, value) = option.split_once('=').unwrap_or((option, ""));
        match key {
            "size" => {
                bytes(value).map_err(|e| format!("tmpfs {}: {e}", quoted(text)))?;
            }
            "mode" if u32::from_str_radix(value, 8).is_ok_and(|m| m <= 0o7777) => {}
            "mode" => {
                return Err(format!(
                    "tmpfs {}: mode {} is not an octal file mode such as 1777",
                    quoted(text),
                    quoted(value)
                ));
            }
            "uid" | "gid" | "nr_inodes" if value.parse::<u64>().is_ok() => {}
            "ro" | "rw" | "noexec" | "exec" | "nosuid" | "suid" | "nodev" | "dev" => {}
            _ => {
                return Err(format!(
                    "tmpfs {}: unknown option {} (options: size, mode, uid, gid, nr_inodes, \
                     ro, noexec, nosuid, nodev)",
                    quoted(text),
                    quoted(option)
                ));
            }
        }
    }
    Ok((path, options.to_owned()))
}

pub(super) const RESTARTS: &[&str] = &["no", "always", "unless-stopped", "on-failure[:N]"];

pub(super) fn restart(text: &str) -> Result<Restart, String> {
    match text {
        "no" => Ok(Restart::No),
        "always" => Ok(Restart::Always),
        "unless-stopped" => Ok(Restart::UnlessStopped),
        "on-failure" => Ok(Restart::OnFailure(None)),
        _ => match text.strip_prefix("on-failure:").map(str::parse::<u32>) {
            Some(Ok(n)) => Ok(Restart::OnFailure(Some(n))),
            Some(Err(_)) => Err(format!(
                "{}: the retry count after `on-failure:` must be a whole number",
                quoted(text)
            )),
            None => {
                let names = ["no", "always", "unless-stopped", "on-failure"];
                let hint = closest(text, &names)
                    .map(|near| format!("; did you mean `{near}`?"))
                    .unwrap_or_default();
                Err(format!(
                    "{} is not a restart policy{hint} (policies: {})",
                    quoted(text),
                    crate::spec::text::list(RESTARTS)
                ))
            }
        },
    }
}

/// The capabilities Linux has (capabilities(7)); `ALL` also.
const CAPABILITIES: &[&str] = &[
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// `net_raw`, `NET_RAW` or `CAP_NET_RAW` → `CAP_NET_RAW`, as the engine stores it.
pub(super) fn capability(text: &str) -> Result<String, String> {
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if name == "ALL" {
        return Ok("ALL".to_owned());
    }
    if CAPABILITIES.contains(&name) {
        return Ok(format!("CAP_{name}"));
    }
    let hint = closest(name, CAPABILITIES)
        .map(|near| format!("; did you mean `{near}`?"))
        .unwrap_or_default();
    Err(format!(
        "{} is not a Linux capability (see capabilities(7), e.g. NET_RAW, SYS_ADMIN){hint}",
        quoted(text)
    ))
}

const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// `SIGQUIT`, `QUIT` or `quit` → `SIGQUIT`.
pub(super) fn signal(text: &str) -> Result<String, String> {
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return Ok(format!("SIG{name}"));
    }
    Err(format!(
        "{} is not a signal name; write e.g. SIGTERM, SIGQUIT or SIGINT",
        quoted(text)
    ))
}

/// `db.internal:10.0.0.5` (or `host-gateway`) → the engine's `host:ip`.
pub(super) fn extra_host(host: &str, ip: &str) -> Result<String, String> {
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if !host_ok {
        return Err(format!("{} is not a host name", quoted(host)));
    }
    if ip != "host-gateway" && ip.parse::<IpAddr>().is_err() {
        return Err(format!(
            "{} is not an IP address (or `host-gateway`) for {}",
            quoted(ip),
            quoted(host)
        ));
    }
    Ok(format!("{host}:{ip}"))
}

pub(super) fn ip(text: &str) -> Result<String, String> {
    text.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| format!("{} is not an IP address", quoted(text)))
}

/// `/dev/fuse`, `/dev/sda:/dev/xvda`, `/dev/sda:/dev/xvda:r`.
pub(super) fn device(text: &str) -> Result<Device, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, container] => (*host, *container, "rwm"),
        [host, container, perms] => (*host, *container, *perms),
        _ => {
            return Err(format!(
                "{} has too many `:`; write /dev/HOST[:/dev/CONTAINER[:rwm]]",
                quoted(text)
            ));
        }
    };
    let perms_ok = !permissions.is_empty()
        && permissions.chars().all(|c| "rwm".contains(c))
        && permissions.len() <= 3;
    if !perms_ok {
        return Err(format!(
            "{}: the permissions {} must be some of r, w and m",
            quoted(text),
            quoted(permissions)
        ));
    }
    Ok(Device {
        host: absolute(host, "the device path")?,
        container: absolute(container, "the container device path")?,
        permissions: permissions.to_owned(),
    })
}

pub(super) const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("512m"), Ok(512 << 20));
        assert_eq!(bytes("512M"), Ok(512 << 20));
        assert_eq!(bytes("1.5g"), Ok(1536 << 20));
        assert_eq!(bytes("64kb"), Ok(64 << 10));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(bytes("100"), Ok(100));
        for bad in ["lots", "12x", "", "-1m", "m", "1e400"] {
            assert!(bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpu_counts() {
        assert_eq!(cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(cpus("2"), Ok(2_000_000_000));
        assert_eq!(cpus("0.01"), Ok(10_000_000));
        for bad in ["0", "0.001", "-1", "two", "NaN", "inf"] {
            assert!(cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mounts() {
        let m = mount("uploads:/app/uploads").expect("named");
        assert_eq!(m.source, MountSource::Volume("uploads".into()));
        assert!(!m.read_only);
        let m = mount("/etc/shop/:/app/config:ro").expect("bind");
        assert_eq!(m.source, MountSource::Bind("/etc/shop".into()));
        assert_eq!(m.target, "/app/config");
        assert!(m.read_only);
        for bad in [
            "/data",
            "./data:/data",
            "data:relative",
            "data:/data:rx",
            "a:/b:ro:x",
            "x:/data",
            "/h:/",
            "/h/../etc:/x",
            "bgdeploy_shop_stage_state:/x",
        ] {
            assert!(mount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tmpfs_restart_capabilities_signals() {
        assert_eq!(
            tmpfs("/run:size=64m,mode=1777"),
            Ok(("/run".into(), "size=64m,mode=1777".into()))
        );
        assert_eq!(tmpfs("/tmp"), Ok(("/tmp".into(), String::new())));
        assert!(tmpfs("/run:size=big").is_err());
        assert!(tmpfs("run").is_err());
        assert_eq!(restart("on-failure:3"), Ok(Restart::OnFailure(Some(3))));
        assert_eq!(restart("no"), Ok(Restart::No));
        assert!(restart("sometimes").is_err());
        assert!(restart("on-failure:x").is_err());
        assert_eq!(capability("net_raw"), Ok("CAP_NET_RAW".into()));
        assert_eq!(capability("CAP_SYS_ADMIN"), Ok("CAP_SYS_ADMIN".into()));
        assert_eq!(capability("all"), Ok("ALL".into()));
        assert!(capability("NET_RAWW").is_err());
        assert_eq!(signal("quit"), Ok("SIGQUIT".into()));
        assert_eq!(signal("SIGTERM"), Ok("SIGTERM".into()));
        assert!(signal("SIGNOPE").is_err());
    }

    #[test]
    fn hosts_and_devices() {
        assert_eq!(extra_host("db", "10.0.0.5"), Ok("db:10.0.0.5".into()));
        assert_eq!(
            extra_host("gw", "host-gateway"),
            Ok("gw:host-gateway".into())
        );
        assert!(extra_host("db", "ten").is_err());
        assert!(extra_host("d b", "10.0.0.5").is_err());
        assert_eq!(
            device("/dev/fuse").map(|d| d.to_string()),
            Ok("/dev/fuse:/dev/fuse:rwm".into())
        );
        assert!(device("/dev/sda:/dev/xvda:rx").is_err());
    }
}
