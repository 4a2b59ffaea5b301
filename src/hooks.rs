//! The hooks that run on bgdeploy's machine around a deploy (DESIGN.md §10):
//! `pre_deploy` before anything changes, `post_deploy` after success, `on_failure` after a
//! failure. Each runs once per run with bgdeploy's environment plus `BGDEPLOY_*` variables;
//! its output is shown line by line with secret values redacted. (`before_switch` runs in a
//! container of the new release and is a step of the plan: `execute::oneoff`.)

use std::time::{Duration, Instant};

use crate::execute::Cancel;
use crate::hostcmd::{self, Failure};
use crate::progress::Reporter;
use crate::secret::{self, Secret};
use crate::spec::Hook;

/// The host name of the one engine of the environment (DESIGN.md §3: `"default"`), until a
/// stage names its hosts.
pub const SINGLE_HOST: &str = "default";

/// What every hook is told about the run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub app: String,
    pub stage: String,
    /// `up`, `cutover` or `rollback`.
    pub command: String,
    pub image: String,
    /// The run id, also in the history record.
    pub run: String,
    /// The engines deployed to: `default` for the one engine of the environment.
    pub hosts: Vec<String>,
    /// Who runs it, as the lock and history say (`user@host pid N`).
    pub performer: String,
}

/// How a run ended, for `post_deploy` and `on_failure`.
#[derive(Debug, Clone, Copy)]
pub struct RunResult<'a> {
    /// As the history records it: `ok`, `standby`, `failed`, `interrupted`, ...
    pub result: &'a str,
    pub exit_code: i32,
}

/// The variables a hook gets on top of bgdeploy's environment.
pub fn environment(info: &RunInfo, result: Option<RunResult<'_>>) -> Vec<(String, String)> {
    let mut env = vec![
        ("BGDEPLOY_APP", info.app.clone()),
        ("BGDEPLOY_STAGE", info.stage.clone()),
        ("BGDEPLOY_COMMAND", info.command.clone()),
        ("BGDEPLOY_IMAGE", info.image.clone()),
        ("BGDEPLOY_RUN", info.run.clone()),
        ("BGDEPLOY_HOSTS", info.hosts.join(" ")),
        ("BGDEPLOY_PERFORMER", info.performer.clone()),
    ];
    if let Some(r) = result {
        env.push(("BGDEPLOY_RESULT", r.result.to_string()));
        env.push(("BGDEPLOY_EXIT_CODE", r.exit_code.to_string()));
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Why a hook failed. The output is its last lines, secrets redacted.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(
        "hook {hook} (`{command}`) could not be started: {source}; check the path (relative paths are from where bgdeploy runs) and that it is executable"
    )]
    Start {
        hook: &'static str,
        command: String,
        source: std::io::Error,
    },
    #[error("hook {hook} (`{command}`) failed ({status}); its last lines:\n{output}")]
    Failed {
        hook: &'static str,
        command: String,
        status: String,
        output: String,
    },
    #[error("hook {hook} (`{command}`) did not finish within {} and was killed, with every process it started (raise hooks.{hook}.timeout if it needs longer); its last lines:\n{output}", humantime::format_duration(*.timeout))]
    Timeout {
        hook: &'static str,
        command: String,
        timeout: Duration,
        output: String,
    },
    #[error(
        "hook {hook} (`{command}`) was interrupted by a signal and killed, with every process it started"
    )]
    Interrupted { hook: &'static str, command: String },
}

/// Runs one hook to its end, its lines (redacted) to `reporter`. A signal kills it.
pub async fn run(
    name: &'static str,
    hook: &Hook,
    env: &[(String, String)],
    secrets: &[(String, Secret)],
    reporter: &mut dyn Reporter,
    cancel: &mut Cancel,
) -> Result<(), HookError> {
    let command = hook.command.join(" ");
    reporter.hook_started(name, &command);
    let started = Instant::now();
    let result = {
        let mut on_line = |line: &str| reporter.hook_output(name, &secret::redact(line, secrets));
        tokio::select! {
            r = hostcmd::run(&hook.command, env, hook.timeout, &mut on_line) => Some(r),
            // Dropping the run kills the hook's process group.
            () = cancel.cancelled() => None,
        }
    };
    let redact = |text: String| secret::redact(&text, secrets);
    let error = match result {
        Some(Ok(())) => None,
        None => Some(HookError::Interrupted {
            hook: name,
            command: command.clone(),
        }),
        Some(Err(Failure::Start(source))) => Some(HookError::Start {
            hook: name,
            command: command.clone(),
            source,
        }),
        Some(Err(Failure::Timeout { output })) => Some(HookError::Timeout {
            hook: name,
            command: command.clone(),
            timeout: hook.timeout,
            output: redact(output),
        }),
        Some(Err(Failure::Exit { status, output, .. })) => Some(HookError::Failed {
            hook: name,
            command: command.clone(),
            status,
            output: redact(output),
        }),
    };
    let shown = error.as_ref().map(ToString::to_string);
    reporter.hook_finished(name, started.elapsed(), shown.as_deref());
    error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            app: "shop".into(),
            stage: "stage".into(),
            command: "up".into(),
            image: "shop:1".into(),
            run: "20261203-091500-ab12".into(),
            hosts: vec!["default".into()],
            performer: "ci@host pid 1".into(),
        }
    }

    #[test]
    fn the_environment_names_the_run_and_its_result() {
        let env = environment(
            &info(),
            Some(RunResult {
                result: "ok",
                exit_code: 0,
            }),
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("BGDEPLOY_APP"), Some("shop"));
        assert_eq!(get("BGDEPLOY_COMMAND"), Some("up"));
        assert_eq!(get("BGDEPLOY_HOSTS"), Some("default"));
        assert_eq!(get("BGDEPLOY_RUN"), Some("20261203-091500-ab12"));
        assert_eq!(get("BGDEPLOY_RESULT"), Some("ok"));
        assert_eq!(get("BGDEPLOY_EXIT_CODE"), Some("0"));
        let before = environment(&info(), None);
        assert!(before.iter().all(|(k, _)| k != "BGDEPLOY_RESULT"));
    }

    struct Lines(Vec<String>);
    impl Reporter for Lines {
        fn step_started(&mut self, _: usize, _: usize, _: &crate::plan::Step) {}
        fn step_progress(&mut self, _: &str) {}
        fn step_finished(
            &mut self,
            _: usize,
            _: &crate::plan::Step,
            _: crate::progress::StepStatus,
            _: Duration,
        ) {
        }
        fn note(&mut self, m: &str) {
            self.0.push(m.to_string());
        }
        fn result(&mut self, _: &serde_json::Value, _: &str) {}
    }

    #[tokio::test]
    async fn output_and_errors_never_show_secrets() {
        let secrets = vec![("TOKEN".to_string(), Secret::new("s3cr3t-v4lue".into()))];
        let hook = Hook {
            command: vec!["sh".into(), "-c".into(), "echo token=$TOKEN; exit 4".into()],
            timeout: Duration::from_secs(10),
        };
        let env = vec![("TOKEN".to_string(), "s3cr3t-v4lue".to_string())];
        let mut lines = Lines(Vec::new());
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let mut cancel = Cancel::from_receiver(rx);
        let err = run("pre_deploy", &hook, &env, &secrets, &mut lines, &mut cancel)
            .await
            .expect_err("exit 4");
        let text = format!("{err} {:?}", lines.0);
        assert!(!text.contains("s3cr3t-v4lue"), "{text}");
        assert!(text.contains("token=<redacted>"), "{text}");
        assert!(err.to_string().contains("exit code 4"), "{err}");
    }
}
