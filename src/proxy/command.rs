//! The `command` driver: the operator's own script switches traffic (a cloud load balancer, a
//! hardware one, a service registry). It runs on the host, is told what changed through
//! `BGDEPLOY_*` variables added to bgdeploy's environment, and its output is streamed line by
//! line as it comes.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::Command;

use super::{Backend, Phase, ProxyError};
use crate::spec::Deploy;

/// At least this long, or the health deadline when that is longer: a load balancer's API can
/// take a while to confirm a target, and a hung script must still not hang the deploy.
pub(super) const MIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines kept for the error of a failing command.
const LAST_LINES: usize = 20;
/// A line longer than this is cut: output is for people, and memory stays bounded.
const MAX_LINE: usize = 4096;

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

/// Runs `argv` with `env` added, streaming its stdout and stderr lines to `on_line`; fails on
/// a non-zero exit, or after `limit` (killing it).
pub(super) async fn run(
    argv: &[String],
    env: &[(String, String)],
    limit: Duration,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    let shown = argv.join(" ");
    let Some((program, args)) = argv.split_first() else {
        // The spec refuses an empty list; this only keeps the index safe.
        return Err(ProxyError::CommandStart {
            argv: shown,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
        });
    };
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Ctrl-C ends the deploy by dropping this future: the script must not outlive it.
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ProxyError::CommandStart {
            argv: shown.clone(),
            source,
        })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ProxyError::CommandStart {
            argv: shown,
            source: std::io::Error::other("its output could not be captured"),
        });
    };
    let mut last = VecDeque::with_capacity(LAST_LINES);
    let mut keep = |line: &str| {
        on_line(line);
        if last.len() == LAST_LINES {
            last.pop_front();
        }
        last.push_back(line.to_string());
    };
    let finished = tokio::time::timeout(limit, async {
        stream_lines(stdout, stderr, &mut keep).await;
        child.wait().await
    })
    .await;
    let output = |last: &VecDeque<String>| -> String {
        if last.is_empty() {
            return "  (no output)".to_string();
        }
        last.iter()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    match finished {
        Err(_) => {
            // A background process it started may hold the pipes open; do not wait for it.
            let _ = child.start_kill();
            Err(ProxyError::CommandTimeout {
                argv: shown,
                waited: limit,
                output: output(&last),
            })
        }
        Ok(Err(source)) => Err(ProxyError::CommandStart {
            argv: shown,
            source,
        }),
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(ProxyError::Command {
            argv: shown,
            status: describe(status),
            exit_code: status.code(),
            output: output(&last),
        }),
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Both streams, line by line, until both are closed.
async fn stream_lines(
    stdout: impl AsyncRead + Unpin,
    stderr: impl AsyncRead + Unpin,
    on_line: &mut dyn FnMut(&str),
) {
    let mut out = Lines::new(stdout);
    let mut err = Lines::new(stderr);
    loop {
        let line = tokio::select! {
            line = out.next(), if !out.done => line,
            line = err.next(), if !err.done => line,
            else => break,
        };
        if let Some(line) = line {
            on_line(&line);
        }
    }
}

/// Lines from a pipe, each at most `MAX_LINE` bytes (a longer one is cut and the rest of it
/// dropped), decoded lossily.
struct Lines<R> {
    reader: R,
    pending: Vec<u8>,
    /// The current line was cut: drop bytes until its newline.
    skipping: bool,
    done: bool,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    fn new(reader: R) -> Self {
        Lines {
            reader,
            pending: Vec::new(),
            skipping: false,
            done: false,
        }
    }

    /// The next line, or `None` once the pipe is closed (then `done` is set). Cancel-safe:
    /// everything read is kept in `self` between reads.
    async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(line) = self.take_line() {
                return Some(line);
            }
            let mut chunk = [0u8; 4096];
            match self.reader.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    self.done = true;
                    if self.pending.is_empty() {
                        return None;
                    }
                    let rest = std::mem::take(&mut self.pending);
                    return Some(String::from_utf8_lossy(&rest).into_owned());
                }
                Ok(n) => self.push(&chunk[..n]),
            }
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        if self.skipping {
            match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.skipping = false;
                    bytes = &bytes[i + 1..];
                }
                None => return,
            }
        }
        self.pending.extend_from_slice(bytes);
    }

    fn take_line(&mut self) -> Option<String> {
        if let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            return Some(text.trim_end_matches('\r').to_string());
        }
        if self.pending.len() >= MAX_LINE {
            let line: Vec<u8> = self.pending.drain(..).collect();
            self.skipping = true;
            let mut text = String::from_utf8_lossy(&line[..MAX_LINE]).into_owned();
            text.push('…');
            return Some(text);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn streams_lines_and_passes_the_environment() {
        let env = vec![("BGDEPLOY_PHASE".to_string(), "add".to_string())];
        let mut lines = Vec::new();
        run(
            &argv("echo out $BGDEPLOY_PHASE; echo err >&2; printf 'no newline'"),
            &env,
            Duration::from_secs(10),
            &mut |l| lines.push(l.to_string()),
        )
        .await
        .expect("the command succeeds");
        lines.sort();
        assert_eq!(lines, ["err", "no newline", "out add"]);
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
        assert_eq!(output.lines().count(), LAST_LINES);
        assert!(output.ends_with("  | line 30"), "{output}");
        assert!(err.to_string().contains("exit code 3"), "{err}");
    }

    #[tokio::test]
    async fn a_hung_command_is_killed_at_the_limit() {
        let started = std::time::Instant::now();
        let err = run(
            &argv("echo started; exec sleep 30"),
            &[],
            Duration::from_millis(300),
            &mut |_| {},
        )
        .await
        .expect_err("a timeout");
        assert!(started.elapsed() < Duration::from_secs(5));
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

    #[tokio::test]
    async fn long_lines_are_cut() {
        let mut lines = Vec::new();
        run(
            &argv("head -c 10000 /dev/zero | tr '\\0' x; echo; echo after"),
            &[],
            Duration::from_secs(10),
            &mut |l| lines.push(l.to_string()),
        )
        .await
        .expect("succeeds");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].chars().count(), MAX_LINE + 1);
        assert_eq!(lines[1], "after");
    }
}
