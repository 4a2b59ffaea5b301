//! Interactive sessions: a command run in a container with its output streamed (and stdin
//! and a TTY when asked), for `bgdeploy exec`; and a container's output as it comes, for
//! `bgdeploy logs`.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, LogsOptions, ResizeContainerTTYOptionsBuilder,
};
use futures_util::Stream;
use tokio::io::AsyncWrite;

use super::{Engine, EngineError};

/// One frame of a session's output.
pub enum Frame {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

pub type Output = Pin<Box<dyn Stream<Item = Result<Frame, EngineError>> + Send>>;
pub type Input = Pin<Box<dyn AsyncWrite + Send>>;

/// An attached command: what it prints, and where its stdin goes.
pub struct Session {
    pub output: Output,
    pub input: Input,
}

fn frames(
    stream: impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send + 'static,
    failed: impl Fn(bollard::errors::Error) -> EngineError + Send + 'static,
) -> Output {
    use futures_util::StreamExt;
    Box::pin(stream.filter_map(move |frame| {
        let out = match frame {
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                Some(Ok(Frame::Stdout(message.to_vec())))
            }
            Ok(LogOutput::StdErr { message }) => Some(Ok(Frame::Stderr(message.to_vec()))),
            Ok(LogOutput::StdIn { .. }) => None,
            Err(e) => Some(Err(failed(e))),
        };
        std::future::ready(out)
    }))
}

impl Engine {
    /// Starts `argv` in the running `container`, attached; returns the exec's id (for its exit
    /// code and TTY size) and the session.
    pub async fn exec_session(
        &self,
        container: &str,
        argv: &[String],
        tty: bool,
        stdin: bool,
    ) -> Result<(String, Session), EngineError> {
        let failed = {
            let (container, command) = (container.to_string(), argv.join(" "));
            move |source| EngineError::Exec {
                container: container.clone(),
                command: command.clone(),
                source,
            }
        };
        let options = CreateExecOptions {
            cmd: Some(argv.to_vec()),
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(container, options)
            .await
            .map_err(&failed)?;
        let start = StartExecOptions {
            detach: false,
            tty,
            output_capacity: None,
        };
        match self
            .docker
            .start_exec(&created.id, Some(start))
            .await
            .map_err(&failed)?
        {
            StartExecResults::Attached { output, input } => Ok((
                created.id,
                Session {
                    output: frames(output, failed),
                    input,
                },
            )),
            StartExecResults::Detached => Err(failed(bollard::errors::Error::DockerStreamError {
                error: "the engine started the command detached".to_string(),
            })),
        }
    }

    /// The exit code of a finished exec, and the host pid of one still running (for
    /// forwarding a signal on a local engine).
    pub async fn exec_state(
        &self,
        exec_id: &str,
    ) -> Result<(Option<i64>, Option<i64>), EngineError> {
        let inspected =
            self.docker
                .inspect_exec(exec_id)
                .await
                .map_err(|source| EngineError::Exec {
                    container: String::new(),
                    command: format!("inspect exec {exec_id}"),
                    source,
                })?;
        let running = inspected.running == Some(true);
        Ok((
            inspected.exit_code.filter(|_| !running),
            inspected.pid.filter(|p| running && *p > 0),
        ))
    }

    /// The exit code once the exec's output ended (the engine records it a moment later).
    pub async fn exec_exit(&self, exec_id: &str) -> Result<i64, EngineError> {
        self.exec_exit_code(exec_id)
            .await
            .map_err(|source| EngineError::Exec {
                container: String::new(),
                command: format!("inspect exec {exec_id}"),
                source,
            })
    }

    pub async fn resize_exec(&self, exec_id: &str, width: u16, height: u16) {
        let options = ResizeExecOptions { height, width };
        // Best effort: a session that ended already cannot be resized, and that is fine.
        let _ = self.docker.resize_exec(exec_id, options).await;
    }

    /// Attaches to a created (not yet started) container: its output from its start on, and
    /// its stdin when `stdin`.
    pub async fn attach(&self, container: &str, stdin: bool) -> Result<Session, EngineError> {
        let failed = {
            let container = container.to_string();
            move |source| EngineError::Attach {
                container: container.clone(),
                source,
            }
        };
        let options = AttachContainerOptionsBuilder::new()
            .stream(true)
            .stdin(stdin)
            .stdout(true)
            .stderr(true)
            .build();
        let attached = self
            .docker
            .attach_container(container, Some(options))
            .await
            .map_err(&failed)?;
        Ok(Session {
            output: frames(attached.output, failed),
            input: attached.input,
        })
    }

    pub async fn resize_container(&self, container: &str, width: u16, height: u16) {
        let options = ResizeContainerTTYOptionsBuilder::new()
            .w(i32::from(width))
            .h(i32::from(height))
            .build();
        // Best effort, as for an exec.
        let _ = self.docker.resize_container_tty(container, options).await;
    }

    /// The container's output: the last `tail` lines (`all` for everything), since `since`
    /// (seconds since the epoch, 0 for the beginning), and with `follow` what comes after.
    pub fn log_stream(&self, container: &str, tail: &str, since: i64, follow: bool) -> Output {
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            since: i32::try_from(since).unwrap_or(i32::MAX),
            tail: tail.to_string(),
            ..Default::default()
        };
        let container_name = container.to_string();
        frames(self.docker.logs(container, Some(options)), move |source| {
            EngineError::Logs {
                container: container_name.clone(),
                source,
            }
        })
    }

    /// The container's environment as created (`NAME=value`), to redact its secret values.
    pub async fn container_env(
        &self,
        container: &str,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let inspected = self
            .docker
            .inspect_container(
                container,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(|source| EngineError::InspectContainer {
                name: container.to_string(),
                source,
            })?;
        Ok(inspected
            .config
            .and_then(|c| c.env)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect())
    }
}
