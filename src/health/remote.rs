//! The `http` and `tcp` checks from the engine's side: when bgdeploy does not share the
//! engine's network namespace, the container's address is not reachable from here, so the
//! probe agent runs next to the container (`engine::probe`) and connects from there. Same
//! checks, same wording as the direct probes; only the vantage point differs.

use std::net::IpAddr;
use std::time::Duration;

use super::describe::last_line;
use super::probe::Probe;
use crate::engine::Engine;
use crate::spec::StatusRange;

/// What the agent is asked to do.
pub(super) enum Check {
    Http { path: String, expect: StatusRange },
    Tcp,
}

pub(super) struct RemoteProbe<'a> {
    engine: &'a Engine,
    container: &'a str,
    ip: IpAddr,
    port: u16,
    check: Check,
    timeout: Duration,
    /// How long the agent keeps retrying a refused connection before it answers (one
    /// `interval`), so that a port that opens is seen at once without an exec per retry.
    window: Duration,
}

impl<'a> RemoteProbe<'a> {
    pub(super) fn new(
        engine: &'a Engine,
        container: &'a str,
        ip: IpAddr,
        port: u16,
        check: Check,
        timeout: Duration,
        interval: Duration,
    ) -> RemoteProbe<'a> {
        let check = match check {
            Check::Http { path, expect } if !path.starts_with('/') => Check::Http {
                path: format!("/{path}"),
                expect,
            },
            other => other,
        };
        RemoteProbe {
            engine,
            container,
            ip,
            port,
            check,
            timeout,
            window: interval,
        }
    }

    pub(super) fn describe(&self) -> String {
        let addr = std::net::SocketAddr::new(self.ip, self.port);
        match &self.check {
            Check::Http { path, expect } => format!(
                "GET http://{addr}{path} from the engine's side (bgdeploy's probe in the \
                 container's network namespace), healthy on {expect}"
            ),
            Check::Tcp => format!(
                "TCP connect to {addr} from the engine's side (bgdeploy's probe in the \
                 container's network namespace)"
            ),
        }
    }

    pub(super) async fn check(&self) -> Probe {
        let ip = self.ip.to_string();
        let port = self.port.to_string();
        let timeout = millis(self.timeout);
        let quick = millis(super::poll::QUICK_RETRY);
        let window = millis(self.window);
        let (what, argv): (String, Vec<&str>) = match &self.check {
            Check::Http { path, .. } => (
                format!("GET {path}"),
                vec!["http", &ip, &port, path, &timeout, &quick, &window],
            ),
            Check::Tcp => (
                format!("TCP {}", std::net::SocketAddr::new(self.ip, self.port)),
                vec!["tcp", &ip, &port, &timeout, &quick, &window],
            ),
        };
        // The exec itself may take a while on a loaded engine; the agent has its own timeout.
        let limit = self.timeout + self.window + Duration::from_secs(10);
        match tokio::time::timeout(limit, self.engine.probe_exec(self.container, &argv)).await {
            Ok(Ok(out)) if out.exit_code == 0 => {
                judge_answer(&self.check, self.timeout, &what, out.stdout.trim())
            }
            Ok(Ok(out)) => Probe::Fail(format!(
                "{what} → bgdeploy's probe failed (exit {}): {}",
                out.exit_code,
                last_line(&out.stderr, 200).unwrap_or_default()
            )),
            Ok(Err(e)) => Probe::Fail(format!("{what} → bgdeploy's probe could not run: {e}")),
            Err(_) => Probe::Fail(format!(
                "{what} → bgdeploy's probe did not answer within {}",
                humantime::format_duration(limit)
            )),
        }
    }
}

/// The agent's one-line answer as a probe result, worded like the direct probes'.
fn judge_answer(check: &Check, timeout: Duration, what: &str, answer: &str) -> Probe {
    let (word, rest) = answer.split_once(' ').unwrap_or((answer, ""));
    match (word, check) {
        ("connected", Check::Tcp) => Probe::Pass(format!("{what} → connected")),
        ("status", Check::Http { expect, .. }) => {
            let code = rest.split(' ').next().and_then(|c| c.parse::<u16>().ok());
            let text = format!("{what} → {}", rest.trim());
            match code {
                Some(code) if expect.contains(code) => Probe::Pass(text),
                _ => Probe::Fail(text),
            }
        }
        ("refused", _) => Probe::Refused(format!("{what} → connection refused")),
        ("timeout", _) => Probe::Fail(format!(
            "{what} → no answer within {}",
            humantime::format_duration(timeout)
        )),
        ("error", _) => Probe::Fail(format!("{what} → {rest}")),
        _ => Probe::Fail(format!(
            "{what} → bgdeploy's probe answered something unexpected: {answer:?}"
        )),
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(check: Check, answer: &str) -> Probe {
        let what = match &check {
            Check::Http { path, .. } => format!("GET {path}"),
            Check::Tcp => "TCP 10.0.0.2:80".to_string(),
        };
        judge_answer(&check, Duration::from_secs(2), &what, answer)
    }

    fn http() -> Check {
        Check::Http {
            path: "/up".into(),
            expect: StatusRange {
                low: 200,
                high: 399,
            },
        }
    }

    #[test]
    fn reads_the_agents_answers_like_direct_probes() {
        assert_eq!(
            judge(http(), "status 200 OK"),
            Probe::Pass("GET /up → 200 OK".into())
        );
        assert_eq!(
            judge(http(), "status 404 Not Found"),
            Probe::Fail("GET /up → 404 Not Found".into())
        );
        assert!(judge(http(), "refused connection refused").refused());
        assert_eq!(
            judge(http(), "timeout"),
            Probe::Fail("GET /up → no answer within 2s".into())
        );
        assert!(judge(Check::Tcp, "connected").passed());
        assert!(!judge(Check::Tcp, "garbage").passed());
        assert!(!judge(http(), "connected").passed());
    }
}
