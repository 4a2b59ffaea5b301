//! What one health probe found, and the progress report handed to the caller after each.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// What a passing probe saw, e.g. "GET /up → 200 OK".
    Pass(String),
    /// Why a probe failed, e.g. "GET /up → 404 Not Found" or "GET /up → no answer within 2s".
    Fail(String),
    /// A failure that cost the app nothing: nothing listens on the port yet, and the
    /// container's kernel refused the connection ("GET /up → connection refused"). The
    /// poller tries again after [`QUICK_RETRY`](super::poll::QUICK_RETRY), not `interval`.
    Refused(String),
}

impl Probe {
    pub fn passed(&self) -> bool {
        matches!(self, Probe::Pass(_))
    }

    /// Refused at the door: worth repeating soon (see [`Probe::Refused`]).
    pub fn refused(&self) -> bool {
        matches!(self, Probe::Refused(_))
    }

    pub fn text(&self) -> &str {
        match self {
            Probe::Pass(text) | Probe::Fail(text) | Probe::Refused(text) => text,
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// Progress after one probe (in `docker` mode: after one health status the engine reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// 1 for the first probe.
    pub attempt: u32,
    pub probe: Probe,
    /// Passes in a row, this one included.
    pub streak: u32,
    /// Passes in a row needed (`health.healthy`).
    pub needed: u32,
    /// Since the wait began.
    pub elapsed: Duration,
}

/// One progress line: "GET /up → 404 Not Found (attempt 3, 1.0s)".
impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (attempt {}, {:.1}s",
            self.probe,
            self.attempt,
            self.elapsed.as_secs_f64()
        )?;
        if self.needed > 1 {
            write!(f, ", {}/{} passes in a row", self.streak, self.needed)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_as_one_progress_line() {
        let mut report = ProbeReport {
            attempt: 3,
            probe: Probe::Fail("GET /up → 404 Not Found".into()),
            streak: 0,
            needed: 1,
            elapsed: Duration::from_millis(1040),
        };
        assert_eq!(
            report.to_string(),
            "GET /up → 404 Not Found (attempt 3, 1.0s)"
        );
        report.needed = 2;
        report.streak = 1;
        report.probe = Probe::Pass("GET /up → 200 OK".into());
        assert_eq!(
            report.to_string(),
            "GET /up → 200 OK (attempt 3, 1.0s, 1/2 passes in a row)"
        );
    }
}
