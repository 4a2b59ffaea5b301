//! Running the `bgdeploy` binary and asserting on what it did.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::TestEnv;
use super::testhost::TestHost;

/// A `bgdeploy` invocation: arguments, environment, a spec file, stdin.
pub struct BgDeploy<'a> {
    env: &'a TestEnv,
    args: Vec<String>,
    vars: Vec<(String, String)>,
    removed: Vec<String>,
    spec: Option<String>,
    stdin: Option<String>,
    timeout: Duration,
}

impl<'a> BgDeploy<'a> {
    pub(super) fn new(env: &'a TestEnv) -> BgDeploy<'a> {
        let mut run = BgDeploy {
            env,
            args: Vec::new(),
            vars: Vec::new(),
            // A developer's own spec must not leak into a test.
            removed: vec!["BGDEPLOY_FILE".to_string()],
            spec: None,
            stdin: None,
            timeout: Duration::from_secs(60),
        };
        // On a test host: that engine, over the env's transport, and nothing of the developer's.
        if let Some((host, transport)) = env.target() {
            run.removed
                .extend(TestHost::INHERITED.iter().map(|k| k.to_string()));
            run.vars.extend(
                host.client_env(transport)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v)),
            );
        }
        run
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.to_string(), value.to_string()));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.removed.push(key.to_string());
        self
    }

    /// Written to `deploy.yaml` in the working directory, where bgdeploy looks by default.
    pub fn spec(mut self, yaml: &str) -> Self {
        self.spec = Some(yaml.to_string());
        self
    }

    pub fn stdin(mut self, input: &str) -> Self {
        self.stdin = Some(input.to_string());
        self
    }

    /// Killed and failed after this long (default 60s): a hung deploy must not hang the suite.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn spec_path(&self) -> PathBuf {
        self.env.dir().join("deploy.yaml")
    }

    pub fn run(self) -> Run {
        self.spawn().wait()
    }

    /// Starts bgdeploy without waiting, so a test can signal it mid-deploy.
    pub fn spawn(self) -> Running {
        if let Some(spec) = &self.spec {
            std::fs::write(self.spec_path(), spec).expect("writing deploy.yaml");
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bgdeploy"));
        cmd.args(&self.args)
            .current_dir(self.env.dir())
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for key in &self.removed {
            cmd.env_remove(key);
        }
        cmd.envs(self.vars.iter().map(|(k, v)| (k, v)));
        let command = format!("bgdeploy {}", self.args.join(" "));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        if let (Some(input), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes())
                .expect("writing bgdeploy's stdin");
        }
        let stdout = reader(child.stdout.take());
        let stderr = reader(child.stderr.take());
        Running {
            command,
            child,
            stdout,
            stderr,
            started: Instant::now(),
            timeout: self.timeout,
        }
    }
}

/// A bgdeploy process still running.
pub struct Running {
    command: String,
    child: std::process::Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
    started: Instant,
    timeout: Duration,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`INT`, `TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    pub fn wait(mut self) -> Run {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for bgdeploy") {
                break status;
            }
            if self.started.elapsed() > self.timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish within {:?}", self.command, self.timeout);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Run {
            command: self.command,
            status,
            stdout: self.stdout.join().expect("stdout reader"),
            stderr: self.stderr.join().expect("stderr reader"),
        }
    }
}

fn reader(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// What a `bgdeploy` run did; the assertion helpers print the whole run when they fail.
pub struct Run {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }

    #[track_caller]
    pub fn stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    /// Neither stream contains `needle` (e.g. a secret's value).
    #[track_caller]
    pub fn output_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "output contains {needle:?}\n{self}"
        );
        self
    }

    /// stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{self}"))
    }

    /// stdout as JSON lines (one object per line).
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("line is not JSON: {e}: {l}\n{self}"))
            })
            .collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- {} exited with {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}
