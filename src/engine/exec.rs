//! Running a command inside a container and collecting what it printed and how it exited
//! (the `cmd` health check, and reading files where the host cannot).

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;

use super::{Engine, EngineError};

/// What a command run by `Engine::exec` printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// -1 when the engine still counted the command as running a few seconds after its
    /// output closed (it closed stdout and stderr but lives on).
    pub exit_code: i64,
    /// At most `EXEC_OUTPUT_LIMIT` bytes, decoded lossily.
    pub stdout: String,
    /// At most `EXEC_OUTPUT_LIMIT` bytes, decoded lossily.
    pub stderr: String,
}

/// A chatty check command must not grow bgdeploy's memory without bound; the start of the
/// output is what explains a failure often enough.
pub const EXEC_OUTPUT_LIMIT: usize = 64 * 1024;

/// The engine records the exit code a moment after the output stream closes.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(5);
const EXIT_CODE_PAUSE: Duration = Duration::from_millis(20);

impl Engine {
    /// Runs `argv` in the running container `container` (no TTY, no stdin) and waits for it
    /// to end. Dropping the future stops reading, but the process may keep running in the
    /// container: the engine has no call to kill an exec.
    pub async fn exec(&self, container: &str, argv: &[&str]) -> Result<ExecOutput, EngineError> {
        let failed = |source| EngineError::Exec {
            container: container.to_string(),
            command: argv.join(" "),
            source,
        };
        let options = CreateExecOptions {
            cmd: Some(argv.to_vec()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(container, options)
            .await
            .map_err(failed)?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(failed)?
        {
            while let Some(frame) = output.next().await {
                match frame.map_err(failed)? {
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        append_bounded(&mut stdout, &message)
                    }
                    LogOutput::StdErr { message } => append_bounded(&mut stderr, &message),
                    LogOutput::StdIn { .. } => {}
                }
            }
        }
        let exit_code = self.exec_exit_code(&created.id).await.map_err(failed)?;
        Ok(ExecOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    pub(super) async fn exec_exit_code(
        &self,
        exec_id: &str,
    ) -> Result<i64, bollard::errors::Error> {
        let give_up = tokio::time::Instant::now() + EXIT_CODE_WAIT;
        loop {
            let inspected = self.docker.inspect_exec(exec_id).await?;
            if let (false, Some(code)) = (inspected.running == Some(true), inspected.exit_code) {
                return Ok(code);
            }
            if tokio::time::Instant::now() >= give_up {
                return Ok(-1);
            }
            tokio::time::sleep(EXIT_CODE_PAUSE).await;
        }
    }
}

/// Keeps the first `EXEC_OUTPUT_LIMIT` bytes; the rest is read (so the command can finish) and dropped.
fn append_bounded(buffer: &mut Vec<u8>, chunk: &[u8]) {
    let room = EXEC_OUTPUT_LIMIT.saturating_sub(buffer.len());
    buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_bounded() {
        let mut buffer = Vec::new();
        append_bounded(&mut buffer, &vec![b'a'; EXEC_OUTPUT_LIMIT - 1]);
        append_bounded(&mut buffer, b"bcd");
        append_bounded(&mut buffer, b"e");
        assert_eq!(buffer.len(), EXEC_OUTPUT_LIMIT);
        assert_eq!(buffer.last(), Some(&b'b'));
    }
}
