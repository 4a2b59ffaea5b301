//! The `command` driver: the operator's own script switches traffic (a cloud load balancer, a
//! hardware one, a service registry). It runs on the host, is told what changed through
//! `BGDEPLOY_*` variables added to bgdeploy's environment, and its output is streamed line by
//! line as it comes.

use std::time::Duration;

use super::driver::{Driver, DriverFuture, Switched};
use super::{Backend, Phase, ProxyError};
use crate::engine::EngineApi;
use crate::hostcmd::{self, Failure};
use crate::spec::Deploy;

/// The `command` driver as the spec configures it.
pub(super) struct Command<'a> {
    pub argv: &'a [String],
}

impl Driver for Command<'_> {
    fn name(&self) -> &'static str {
        "command"
    }

    /// An operator's script may have switched part of the pool before it failed.
    fn may_half_apply(&self) -> bool {
        true
    }

    fn switch<'a>(
        &'a self,
        _engine: &'a dyn EngineApi,
        deploy: &'a Deploy,
        phase: Phase,
        changed: &'a Backend,
        backends: &'a [Backend],
        on_line: &'a mut dyn FnMut(&str),
    ) -> DriverFuture<'a, Switched> {
        let env = environment(deploy, phase, changed, backends);
        Box::pin(async move {
            run(self.argv, &env, timeout(deploy), on_line).await?;
            Ok(Switched::default())
        })
    }

    fn has_maintenance(&self) -> bool {
        true
    }

    fn set_maintenance<'a>(
        &'a self,
        _engine: &'a dyn EngineApi,
        deploy: &'a Deploy,
        message: Option<&'a str>,
        backends: &'a [Backend],
        on_line: &'a mut dyn FnMut(&str),
    ) -> DriverFuture<'a, ()> {
        let env = maintenance_environment(deploy, message, backends);
        Box::pin(async move { run(self.argv, &env, timeout(deploy), on_line).await })
    }
}

/// At least this long, or the health deadline when that is longer: a load balancer's API can
/// take a while to confirm a target, and a hung script must still not hang the deploy.
pub(super) const MIN_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) fn timeout(deploy: &Deploy) -> Duration {
    deploy.health.deadline.max(MIN_TIMEOUT)
}

/// The variables the command sees, in addition to bgdeploy's own environment.
pub(super) fn environment(
    deploy: &Deploy,
    phase: Phase,
    changed: &Backend,
    backends: &[Backend],
) -> Vec<(String, String)> {
    let backends: Vec<String> = backends.iter().map(|b| b.addr.to_string()).collect();
    [
        ("BGDEPLOY_APP", deploy.app.clone()),
        ("BGDEPLOY_STAGE", deploy.stage.clone()),
        ("BGDEPLOY_PHASE", phase.as_str().to_string()),
        ("BGDEPLOY_CONTAINER", changed.container.clone()),
        ("BGDEPLOY_ADDR", changed.addr.to_string()),
        // Everything that should be live after this switch, for scripts that set a whole
        // pool rather than add and remove one target.
        ("BGDEPLOY_BACKENDS", backends.join(" ")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The variables of a maintenance switch: `BGDEPLOY_PHASE` is `maintenance_on` (with
/// `BGDEPLOY_MESSAGE`) or `maintenance_off`; `BGDEPLOY_BACKENDS` what is live.
pub(super) fn maintenance_environment(
    deploy: &Deploy,
    message: Option<&str>,
    backends: &[Backend],
) -> Vec<(String, String)> {
    let backends: Vec<String> = backends.iter().map(|b| b.addr.to_string()).collect();
    let phase = if message.is_some() {
        "maintenance_on"
    } else {
        "maintenance_off"
    };
    let mut env = vec![
        ("BGDEPLOY_APP".to_string(), deploy.app.clone()),
        ("BGDEPLOY_STAGE".to_string(), deploy.stage.clone()),
        ("BGDEPLOY_PHASE".to_string(), phase.to_string()),
        ("BGDEPLOY_BACKENDS".to_string(), backends.join(" ")),
    ];
    if let Some(message) = message {
        env.push(("BGDEPLOY_MESSAGE".to_string(), message.to_string()));
    }
    env
}

/// Runs `argv` with `env` added, streaming its stdout and stderr lines to `on_line`; fails on
/// a non-zero exit, or after `limit` (killing its process group).
pub(super) async fn run(
    argv: &[String],
    env: &[(String, String)],
    limit: Duration,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    let shown = argv.join(" ");
    hostcmd::run(argv, env, limit, on_line)
        .await
        .map_err(|failure| match failure {
            Failure::Start(source) => ProxyError::CommandStart {
                argv: shown,
                source,
            },
            Failure::Timeout { output } => ProxyError::CommandTimeout {
                argv: shown,
                waited: limit,
                output,
            },
            Failure::Exit {
                status,
                exit_code,
                output,
            } => ProxyError::Command {
                argv: shown,
                status,
                exit_code,
                output,
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn a_failure_carries_the_exit_code_and_last_lines() {
        let script = "for i in $(seq 1 30); do echo line $i; done; exit 3";
        let err = run(&argv(script), &[], Duration::from_secs(10), &mut |_| {})
            .await
            .expect_err("exit 3");
        let ProxyError::Command {
            exit_code, output, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*exit_code, Some(3));
        assert_eq!(output.lines().count(), hostcmd::LAST_LINES);
        assert!(err.to_string().contains("exit code 3"), "{err}");
    }

    #[tokio::test]
    async fn a_hung_command_is_killed_at_the_limit() {
        let err = run(
            &argv("echo started; exec sleep 30"),
            &[],
            Duration::from_millis(300),
            &mut |_| {},
        )
        .await
        .expect_err("a timeout");
        let ProxyError::CommandTimeout { output, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(output.contains("started"), "{output}");
    }

    #[tokio::test]
    async fn a_missing_program_says_so() {
        let err = run(
            &["./no-such-switch-script".to_string()],
            &[],
            Duration::from_secs(5),
            &mut |_| {},
        )
        .await
        .expect_err("not found");
        assert!(matches!(err, ProxyError::CommandStart { .. }), "{err:?}");
    }
}
