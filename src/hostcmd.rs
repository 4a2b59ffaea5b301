//! Commands run on bgdeploy's own machine (the `command` proxy driver, the hooks): output
//! streamed line by line as it comes, a time limit, and a process group of their own so
//! that a timeout, Ctrl-C or bgdeploy ending kills everything they started, not just the
//! first process (a shell script's `sleep`, a `curl` it runs, ...).

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::Command;

/// Lines kept for the error of a failing command.
pub const LAST_LINES: usize = 20;
/// A line longer than this is cut: output is for people, and memory stays bounded.
pub const MAX_LINE: usize = 4096;

/// Why a command did not succeed. `output` is its last lines, each prefixed `  | `.
#[derive(Debug)]
pub enum Failure {
    /// It could not be started (not found, not executable).
    Start(std::io::Error),
    /// It ran longer than the limit; its whole process group was killed.
    Timeout { output: String },
    /// It exited non-zero or was killed by a signal.
    Exit {
        status: String,
        exit_code: Option<i32>,
        output: String,
    },
}

/// Kills the process group when dropped (Ctrl-C drops the future that runs a command), unless
/// the command ended on its own.
struct Group {
    pgid: Option<i32>,
}

impl Group {
    fn disarm(&mut self) {
        self.pgid = None;
    }

    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: killpg has no memory effects; a group that is gone answers ESRCH.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `argv` with `env` added to bgdeploy's environment, streaming its stdout and stderr
/// lines to `on_line`; fails on a non-zero exit, or after `limit` (killing its process group).
pub async fn run(
    argv: &[String],
    env: &[(String, String)],
    limit: Duration,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), Failure> {
    let Some((program, args)) = argv.split_first() else {
        // The spec refuses an empty list; this only keeps the index safe.
        return Err(Failure::Start(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty command",
        )));
    };
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that the whole tree can be killed at once.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(Failure::Start)?;
    let mut group = Group {
        pgid: child.id().and_then(|id| i32::try_from(id).ok()),
    };
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Failure::Start(std::io::Error::other(
            "its output could not be captured",
        )));
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
    match finished {
        Err(_) => {
            // A background process it started may hold the pipes open: the group goes.
            group.kill();
            let _ = child.start_kill();
            Err(Failure::Timeout {
                output: last_lines(&last),
            })
        }
        Ok(Err(source)) => Err(Failure::Start(source)),
        Ok(Ok(status)) => {
            // It ended and closed its output: what it deliberately left running in the
            // background (a notifier sent off with `&` and its output redirected) is its own.
            group.disarm();
            if status.success() {
                Ok(())
            } else {
                Err(Failure::Exit {
                    status: describe(status),
                    exit_code: status.code(),
                    output: last_lines(&last),
                })
            }
        }
    }
}

fn last_lines(last: &VecDeque<String>) -> String {
    if last.is_empty() {
        return "  (no output)".to_string();
    }
    last.iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
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
pub(crate) struct Lines<R> {
    reader: R,
    pending: Vec<u8>,
    /// The current line was cut: drop bytes until its newline.
    skipping: bool,
    pub(crate) done: bool,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    pub(crate) fn new(reader: R) -> Self {
        Lines {
            reader,
            pending: Vec::new(),
            skipping: false,
            done: false,
        }
    }

    /// The next line, or `None` once the pipe is closed (then `done` is set). Cancel-safe:
    /// everything read is kept in `self` between reads.
    pub(crate) async fn next(&mut self) -> Option<String> {
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
        let Failure::Exit {
            exit_code,
            output,
            status,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*exit_code, Some(3));
        assert_eq!(status, "exit code 3");
        assert_eq!(output.lines().count(), LAST_LINES);
        assert!(output.ends_with("  | line 30"), "{output}");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let marker = dir.path().join("survived");
        // The background child would write the marker after 1 s if it outlived the timeout.
        let script = format!(
            "(sleep 1; touch {}) & echo started; sleep 30",
            marker.display()
        );
        let started = std::time::Instant::now();
        let err = run(&argv(&script), &[], Duration::from_millis(300), &mut |_| {})
            .await
            .expect_err("a timeout");
        assert!(started.elapsed() < Duration::from_secs(5));
        let Failure::Timeout { output } = &err else {
            panic!("{err:?}");
        };
        assert!(output.contains("started"), "{output}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !marker.exists(),
            "a process of the group outlived the timeout"
        );
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
        assert!(matches!(err, Failure::Start(_)), "{err:?}");
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
