//! `hooks.before_switch`: a one-off container of the new release runs the hook's command to
//! completion once the release is healthy and before any traffic moves (DESIGN.md §10).

use std::time::Duration;

use super::{DeployError, Executor, Undo};
use crate::engine::{EngineApi, EngineError, Frame};
use crate::plan::Step;
use crate::secret;

/// Lines of the one-off's output shown in the error of a failing hook.
const LAST_LINES: u32 = 20;

/// How the one-off ended, when it did not succeed.
enum Ended {
    Exit(i64),
    Timeout,
}

impl Executor<'_> {
    pub(super) async fn before_switch(
        &mut self,
        step: &Step,
        container: &str,
        image: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<(), DeployError> {
        let engine = self.engine;
        let on_step = |source: EngineError| DeployError::Step {
            step: step.description.clone(),
            source: Box::new(source),
        };
        // Registered first: a signal or failure at any point below removes it.
        self.undo.push(Undo::RemoveContainer {
            container: container.to_string(),
        });
        let spec =
            super::release::oneoff_spec(self.deploy, self.secrets, container, image, command);
        engine.create_container(&spec).await.map_err(on_step)?;
        // The back side as the release has it: BACK_ and the spec's extra networks.
        for network in &self.deploy.networks {
            engine
                .connect_network(container, network, Some(crate::plan::priority::EXTRA))
                .await
                .map_err(on_step)?;
        }
        engine.start_container(container).await.map_err(on_step)?;
        self.reporter.step_progress(&format!("{container} started"));
        let ended = {
            let secrets = self.secrets;
            let reporter = &mut *self.reporter;
            let mut show = |line: &str| reporter.step_progress(&secret::redact(line, secrets));
            let run = watch(engine, container, &mut show);
            match tokio::time::timeout(timeout, run).await {
                Ok(Ok(0)) => None,
                Ok(Ok(code)) => Some(Ended::Exit(code)),
                Ok(Err(e)) => return Err(on_step(e)),
                Err(_) => Some(Ended::Timeout),
            }
        };
        let logs = last_lines(engine, container).await;
        let logs = secret::redact(&logs, self.secrets);
        // Removed whatever happened; the undo entry stays for a removal that failed.
        if engine.remove_container(container, true).await.is_ok() {
            self.undo
                .retain(|u| !matches!(u, Undo::RemoveContainer { container: c } if c == container));
        }
        let Some(ended) = ended else {
            return Ok(());
        };
        let why = match ended {
            Ended::Exit(code) => format!("exited with code {code}"),
            Ended::Timeout => format!(
                "did not finish within {} and was removed (raise hooks.before_switch.timeout if it \
                 needs longer)",
                humantime::format_duration(timeout)
            ),
        };
        let shown = if logs.trim().is_empty() {
            "  (no output)".to_string()
        } else {
            logs.lines()
                .map(|l| format!("  | {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let (app, stage) = (&self.deploy.app, &self.deploy.stage);
        Err(DeployError::BeforeSwitch {
            message: format!(
                "hooks.before_switch `{}` in a one-off container of {image} {why}; no traffic \
                 moved, the live release was not touched and the new one is removed. Its last \
                 lines:\n{shown}\nFix the command (try it with `bgdeploy exec {app} {stage} \
                 --one-off -- ...` against the live release), then deploy again",
                command.join(" "),
            ),
        })
    }
}

/// Shows the one-off's output line by line as it comes, until it exits; returns its exit code.
async fn watch(
    engine: &dyn EngineApi,
    container: &str,
    show: &mut dyn FnMut(&str),
) -> Result<i64, EngineError> {
    use futures_util::StreamExt;
    let mut output = engine.log_stream(container, "all", 0, true);
    let wait = engine.wait_container(container);
    tokio::pin!(wait);
    let mut pending = Vec::new();
    let mut streaming = true;
    let mut show_frame = |frame: Option<Result<Frame, EngineError>>, pending: &mut Vec<u8>| {
        match frame {
            Some(Ok(Frame::Stdout(bytes) | Frame::Stderr(bytes))) => {
                pending.extend_from_slice(&bytes);
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    show(String::from_utf8_lossy(&line[..end]).trim_end_matches('\r'));
                }
                true
            }
            // Showing the output is a courtesy: its end or an error does not stop the wait.
            Some(Err(_)) | None => false,
        }
    };
    let code = loop {
        tokio::select! {
            code = &mut wait => break code,
            frame = output.next(), if streaming => streaming = show_frame(frame, &mut pending),
        }
    };
    // The engine may still be delivering the last lines: its stream ends soon after the exit.
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while streaming {
        match tokio::time::timeout_at(give_up, output.next()).await {
            Ok(frame) => streaming = show_frame(frame, &mut pending),
            Err(_) => break,
        }
    }
    if !pending.is_empty() {
        show(&String::from_utf8_lossy(&pending));
    }
    code
}

/// The one-off's last lines; a failure to read them is said in their place.
async fn last_lines(engine: &dyn EngineApi, container: &str) -> String {
    match engine.logs_tail(container, LAST_LINES).await {
        Ok(text) => text,
        Err(e) => format!("(its output could not be read: {e})"),
    }
}
