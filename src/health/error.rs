//! Why a release did not become healthy, worded for the operator: what was checked, what it
//! last answered, and what to do about it.

use std::time::Duration;

use crate::engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error(
        "container `{container}` was not healthy within {}\n  checked: {check} ({})\n  \
         last result: {last}\n  what to do: {}",
        humantime::format_duration(*.deadline),
        attempts_text(.mode, *.attempts),
        advice(.mode, .last)
    )]
    Timeout {
        container: String,
        /// "http", "tcp", "cmd" or "docker".
        mode: &'static str,
        /// What was checked, e.g. "GET http://172.18.0.3:8080/up, healthy on 200-399".
        check: String,
        last: String,
        /// Probes run (`docker` mode: the engine's failed HEALTHCHECK runs in a row).
        attempts: u32,
        deadline: Duration,
    },

    #[error(
        "container `{container}` stopped while waiting to become healthy ({}): the app \
         crashed or exited on its own; its last log lines usually say why",
        exit_text(*.exit_code)
    )]
    Died {
        container: String,
        exit_code: Option<i64>,
    },

    #[error(
        "container `{container}` disappeared while waiting to become healthy: something \
         else removed it"
    )]
    Gone { container: String },

    #[error(
        "`health.docker` waits for the image's HEALTHCHECK, but image `{image}` (container \
         `{container}`) has none, or it is disabled: use `health.http`, `health.tcp` or \
         `health.cmd` instead, or add a HEALTHCHECK to the image"
    )]
    NoHealthcheck { container: String, image: String },

    #[error("cannot set up the HTTP client for the health check")]
    HttpClient(#[source] reqwest::Error),

    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl HealthError {
    /// The container's name as the wait knew it, for errors about a container.
    pub fn container(&self) -> Option<&str> {
        match self {
            HealthError::Timeout { container, .. }
            | HealthError::Died { container, .. }
            | HealthError::Gone { container }
            | HealthError::NoHealthcheck { container, .. } => Some(container),
            HealthError::HttpClient(_) | HealthError::Engine(_) => None,
        }
    }
}

fn attempts_text(mode: &str, attempts: u32) -> String {
    let plural = if attempts == 1 { "" } else { "s" };
    match mode {
        "docker" => format!("failed {attempts} time{plural} in a row"),
        _ => format!("{attempts} attempt{plural}"),
    }
}

fn advice(mode: &str, last: &str) -> &'static str {
    let refused = last.ends_with("connection refused");
    let silent = last.contains("no answer within");
    match mode {
        "http" if answered(last) => {
            "the app answers, but not with a status in `health.expect`: check the path in \
             `health.http` and the range in `health.expect`; if the app only needs longer to \
             become ready, raise `health.deadline`"
        }
        "http" | "tcp" if refused => {
            "the connection reached the container and nothing listened on that port: make \
             the app listen on all interfaces (0.0.0.0, not 127.0.0.1) on that port; if it \
             only needs longer to start, raise `health.deadline`"
        }
        "http" | "tcp" if silent => {
            "nothing answered in time: the app may still be starting or be overloaded (raise \
             `health.timeout` or `health.deadline`), or a firewall in the container drops \
             the connection"
        }
        "http" | "tcp" => {
            "the probe could not reach the app (see the last result); `health.cmd` or \
             `health.docker` check from inside the container instead"
        }
        "cmd" => {
            "run the command yourself with `docker exec <container> ...` on a release to see \
             why it fails; if the app only needs longer to start, raise `health.deadline`"
        }
        _ => {
            "`docker inspect --format '{{json .State.Health}}' <container>` shows the \
             engine's last checks; if the app only needs longer to start, raise \
             `health.deadline` or the HEALTHCHECK's --start-period"
        }
    }
}

/// "GET /up → 404 Not Found" (an answer), as opposed to "GET /up → connection refused".
fn answered(last: &str) -> bool {
    last.split_once(" → ")
        .is_some_and(|(_, outcome)| outcome.starts_with(|c: char| c.is_ascii_digit()))
}

fn exit_text(exit_code: Option<i64>) -> String {
    match exit_code {
        None => "exit code unknown".to_string(),
        Some(137) => "exit code 137: killed (SIGKILL: `docker kill`, or out of memory)".into(),
        Some(143) => "exit code 143: terminated (SIGTERM: `docker stop`)".into(),
        Some(code) => format!("exit code {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_says_what_was_checked_what_it_said_and_what_to_do() {
        let e = HealthError::Timeout {
            container: "shop_stage_1".into(),
            mode: "http",
            check: "GET http://172.18.0.3:8080/up, healthy on 200-399".into(),
            last: "GET /up → 404 Not Found".into(),
            attempts: 4,
            deadline: Duration::from_secs(2),
        };
        let text = e.to_string();
        for needle in [
            "shop_stage_1",
            "within 2s",
            "http://172.18.0.3:8080/up",
            "4 attempts",
            "404 Not Found",
            "health.expect",
            "health.deadline",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }

    #[test]
    fn http_advice_depends_on_whether_the_app_answered() {
        assert!(advice("http", "GET /up → 404 Not Found").contains("health.expect"));
        assert!(advice("http", "GET /up → connection refused").contains("0.0.0.0"));
        assert!(advice("tcp", "TCP 10.0.0.2:80 → connection refused").contains("0.0.0.0"));
        // An unanswered probe is not evidence of a wrong listen address.
        assert!(!advice("http", "GET /up → no answer within 2s").contains("0.0.0.0"));
        assert!(!advice("http", "GET /up → bgdeploy's probe could not run: x").contains("0.0.0.0"));
    }

    #[test]
    fn died_names_the_exit_code() {
        let e = HealthError::Died {
            container: "x".into(),
            exit_code: Some(3),
        };
        assert!(e.to_string().contains("exit code 3"), "{e}");
        let e = HealthError::Died {
            container: "x".into(),
            exit_code: Some(137),
        };
        assert!(e.to_string().contains("out of memory"), "{e}");
    }

    #[test]
    fn no_healthcheck_points_to_the_other_modes() {
        let e = HealthError::NoHealthcheck {
            container: "x".into(),
            image: "shop:1".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("shop:1") && text.contains("health.http"),
            "{text}"
        );
    }
}
