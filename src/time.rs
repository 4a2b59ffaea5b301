//! Wall-clock helpers. Kept apart so that pure code (the planner) takes times as input.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-26T03:15:00Z` for seconds since the epoch; negative or absurd values print as-is.
pub fn since_epoch_rfc3339(secs: i64) -> String {
    match u64::try_from(secs) {
        Ok(s) => humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(s)).to_string(),
        Err(_) => secs.to_string(),
    }
}

pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A unique, sortable, Docker-name-safe suffix for a release container:
/// `20261126-031500-4f2a` (UTC time, then 16 bits from the clock's nanoseconds and the pid,
/// so that two deploys started in the same second still differ).
pub fn release_suffix() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stamp: String =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(now.as_secs()))
            .to_string()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
    let (date, time) = stamp.split_at(stamp.len().min(8));
    let salt = (now.subsec_nanos() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{date}-{time}-{salt:04x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_seconds() {
        assert_eq!(since_epoch_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(since_epoch_rfc3339(-5), "-5");
    }

    #[test]
    fn suffix_is_a_valid_name_part() {
        let s = release_suffix();
        assert_eq!(s.len(), 20, "{s}");
        assert!(
            s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{s}"
        );
    }
}
