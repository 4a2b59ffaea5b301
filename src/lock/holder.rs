//! Who holds a lock: written into the lock container's labels by the taker, read back by
//! whoever finds it taken.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::names;

/// The CI systems' job identifiers, first set wins: GitLab, GitHub Actions, Jenkins.
const CI_JOB_VARS: [&str; 3] = ["CI_JOB_ID", "GITHUB_RUN_ID", "BUILD_ID"];

/// A deploy lock as found in the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The lock container's name, `<app>_<stage>_lock`.
    pub lock: String,
    /// The lock container's ID: removing by ID cannot hit a lock someone took since.
    pub id: String,
    /// `user@host pid N[ ci job X]`, or `unknown` when the label is missing.
    pub owner: String,
    /// When it was taken, seconds since the epoch.
    pub since: Option<i64>,
    pub age: Option<Duration>,
    /// The owner ran on this host and its process no longer exists.
    pub stale: bool,
}

impl Holder {
    /// From the lock container's labels, at `now` (seconds since the epoch).
    pub(crate) fn from_labels(
        lock: &str,
        id: &str,
        labels: &BTreeMap<String, String>,
        now: i64,
    ) -> Holder {
        let owner = labels
            .get(names::LABEL_LOCK_OWNER)
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .unwrap_or("unknown")
            .to_string();
        let since = labels
            .get(names::LABEL_LOCK_SINCE)
            .and_then(|s| s.trim().parse::<i64>().ok());
        let age = since
            .and_then(|s| u64::try_from(now.saturating_sub(s)).ok())
            .map(Duration::from_secs);
        let stale = looks_stale(&owner, &hostname(), process_exists);
        Holder {
            lock: lock.to_string(),
            id: id.to_string(),
            owner,
            since,
            age,
            stale,
        }
    }
}

/// `user@host pid N`, plus ` ci job X` in CI: enough for a person to find the deploy.
pub fn owner() -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let user = var("USER")
        .or_else(|| var("LOGNAME"))
        .or_else(user_from_uid)
        .unwrap_or_else(|| "unknown".to_string());
    let mut owner = format!("{user}@{} pid {}", hostname(), std::process::id());
    if let Some(job) = CI_JOB_VARS.iter().find_map(|name| var(name)) {
        owner.push_str(&format!(" ci job {job}"));
    }
    owner
}

/// Services, containers and CI runners often run without USER: name the uid instead, through
/// /etc/passwd when it knows it.
fn user_from_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

/// This machine's name, as the kernel has it (no extra crate for one syscall).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Without a readable /proc nothing can be known, so every process counts as alive: a false
/// "stale" would invite releasing a lock that a live deploy holds.
fn process_exists(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether `owner` (as [`owner`] writes it) names a process of this machine that has ended.
pub fn owner_is_gone(owner: &str) -> bool {
    looks_stale(owner, &hostname(), process_exists)
}

/// Whether `owner` names a process on `this_host` that no longer runs. Only this host's
/// processes can be checked; a lock from elsewhere is never called stale.
pub(crate) fn looks_stale(owner: &str, this_host: &str, alive: impl Fn(u32) -> bool) -> bool {
    match parse_owner(owner) {
        Some((host, pid)) => host == this_host && !alive(pid),
        None => false,
    }
}

/// `(host, pid)` from `user@host pid N[ ...]`.
fn parse_owner(owner: &str) -> Option<(&str, u32)> {
    let (who, rest) = owner.split_once(" pid ")?;
    let (_, host) = who.rsplit_once('@')?;
    let pid = rest.split_whitespace().next()?.parse().ok()?;
    Some((host, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_user_host_and_pid() {
        let owner = owner();
        let (host, pid) = parse_owner(&owner).expect("parsable");
        assert_eq!(host, hostname());
        assert_eq!(pid, std::process::id());
        assert!(!looks_stale(&owner, &hostname(), process_exists));
    }

    #[test]
    fn stale_only_for_a_dead_process_on_this_host() {
        let dead = |_| false;
        let alive = |_| true;
        assert!(looks_stale("ann@box pid 42", "box", dead));
        assert!(looks_stale("ann@box pid 42 ci job 7", "box", dead));
        assert!(!looks_stale("ann@box pid 42", "box", alive));
        assert!(!looks_stale("ann@other pid 42", "box", dead));
        assert!(!looks_stale("unknown", "box", dead));
        assert!(!looks_stale("ann@box pid x", "box", dead));
        assert_eq!(parse_owner("a@b@box pid 9"), Some(("box", 9)));
    }

    #[test]
    fn holder_from_labels() {
        let labels = BTreeMap::from([
            (
                names::LABEL_LOCK_OWNER.to_string(),
                "ann@elsewhere pid 1".to_string(),
            ),
            (names::LABEL_LOCK_SINCE.to_string(), "1000".to_string()),
        ]);
        let h = Holder::from_labels("shop_stage_lock", "abc", &labels, 1090);
        assert_eq!(h.owner, "ann@elsewhere pid 1");
        assert_eq!(
            (h.since, h.age),
            (Some(1000), Some(Duration::from_secs(90)))
        );
        assert!(!h.stale);
        let bare = Holder::from_labels("l", "i", &BTreeMap::new(), 5);
        assert_eq!(
            (bare.owner.as_str(), bare.since, bare.age),
            ("unknown", None, None)
        );
    }
}
