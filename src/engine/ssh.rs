//! The `ssh://` transport: one ssh master connection per engine. Over it, each HTTP connection
//! to the engine is either
//! - a channel to the remote engine's unix socket, forwarded by the master (`-O forward -L`):
//!   opening one is a round trip inside the existing connection, nothing is started on either
//!   side. Used when the remote docker CLI names a unix socket and sshd allows forwarding;
//! - else a session running `docker system dial-stdio` on the remote host, as the docker CLI
//!   does: a process on each side per connection (~0.1 s), so a couple are kept ready.
//!
//! Why not bollard's own ssh connector: it starts a new `ssh -M` master (with
//! `ControlPersist=yes`) for every HTTP connection and never stops them, so a busy command
//! opened dozens of ssh connections at once — sshd's default `MaxStartups 10:30:100` resets
//! some — and left every master running after bgdeploy exited. Here:
//! - one master per engine, started in the foreground (`ControlPersist=no`), a child of
//!   bgdeploy that dies with it (`PR_SET_PDEATHSIG`) and is stopped by [`close_all`];
//! - at most [`MAX_SESSIONS`] sessions at once over it (sshd's `MaxSessions` is 10), handed out
//!   by a hyper client that reuses idle connections, so there is a single TCP connection and a
//!   single key exchange per engine and run;
//! - `BatchMode=yes`: never a prompt (CI has no terminal); a host key or login problem is an
//!   error that names the host and what to check.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::BollardRequest;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Sessions open at once over the master. sshd refuses the 11th by default (`MaxSessions 10`).
pub const MAX_SESSIONS: usize = 8;
/// An idle connection to the engine is closed after this, ending its ssh session.
const IDLE: Duration = Duration::from_secs(15);
/// Sessions started ahead of need. Starting one costs a process here and `docker system
/// dial-stdio` there (~0.1 s); calls that cannot reuse a connection (an exec's attach, an
/// event stream) then take a ready one instead of waiting.
const SPARE_SESSIONS: usize = 2;

/// `ssh://[user@]host[:port]`, as the docker CLI takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshTarget {
    /// `rest` is what follows `ssh://`. A path is refused (the docker CLI ignores it, which
    /// hides mistakes such as `ssh://host/var/run/docker.sock`).
    pub fn parse(rest: &str) -> Result<SshTarget, String> {
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(
                "an ssh:// address takes no path: the remote `docker system \
                        dial-stdio` finds the engine as the docker CLI does there"
                    .to_string(),
            );
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) if !user.is_empty() => (Some(user.to_string()), hostport),
            Some(_) => return Err("the user name before `@` is empty".to_string()),
            None => (None, rest),
        };
        let (host, port) = split_port(hostport)?;
        if host.is_empty() {
            return Err("the host name is empty".to_string());
        }
        if host.starts_with('-') {
            return Err("a host name cannot start with `-`".to_string());
        }
        Ok(SshTarget {
            user,
            host: host.to_string(),
            port,
        })
    }

    /// How the host is named in messages: `user@host:port` as written.
    pub fn display(&self) -> String {
        let mut s = String::new();
        if let Some(user) = &self.user {
            s.push_str(user);
            s.push('@');
        }
        s.push_str(&self.host);
        if let Some(port) = self.port {
            s.push_str(&format!(":{port}"));
        }
        s
    }

    /// `-p PORT -l USER` and `--` before the host, so that no part of the URL reads as an option.
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        if let Some(user) = &self.user {
            args.extend(["-l".to_string(), user.clone()]);
        }
        args
    }
}

fn split_port(hostport: &str) -> Result<(&str, Option<u16>), String> {
    // [v6]:port or [v6]
    if let Some(inner) = hostport.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| "an IPv6 address needs its closing `]`".to_string())?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, Some(parse_port(p)?))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected `{after}` after the address")),
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, p)) => Ok((host, Some(parse_port(p)?))),
        None => Ok((hostport, None)),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("`{p}` is not a port number")),
    }
}

/// Why the ssh connection could not be made, in the operator's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshFailure {
    pub reason: String,
}

/// A running master connection and the client that opens sessions over it.
pub struct SshTransport {
    inner: Arc<Inner>,
}

struct Inner {
    target: SshTarget,
    dir: PathBuf,
    control: PathBuf,
    master: StdMutex<Option<Child>>,
    permits: Arc<Semaphore>,
    /// The last thing a session's ssh or `docker system dial-stdio` said on stderr, for errors.
    last_stderr: Arc<StdMutex<String>>,
    /// Sessions started ahead of need (see [`SPARE_SESSIONS`]).
    spares: StdMutex<Vec<Session>>,
    /// The local end of the forwarded engine socket, once forwarding is known to work. Until
    /// then (and when it does not) connections are `dial-stdio` sessions.
    forwarded: std::sync::OnceLock<PathBuf>,
}

/// Every transport opened by this process, for [`close_all`].
static OPEN: StdMutex<Vec<Arc<Inner>>> = StdMutex::new(Vec::new());

impl SshTransport {
    /// Starts the master connection and waits until it is ready (authenticated), or fails
    /// within `timeout` with the reason ssh gave.
    pub async fn start(target: SshTarget, timeout: Duration) -> Result<SshTransport, SshFailure> {
        let dir = private_dir().map_err(|e| SshFailure {
            reason: format!("cannot make a private directory for the ssh control socket: {e}"),
        })?;
        let control = dir.join("ctl");
        let secs = timeout.as_secs().max(1);
        let mut cmd = Command::new("ssh");
        cmd.arg("-M")
            .arg("-S")
            .arg(&control)
            .arg("-N")
            .args(["-o", "ControlPersist=no", "-o", "BatchMode=yes"])
            .args(["-o", &format!("ConnectTimeout={secs}")])
            .args([
                "-o",
                "ServerAliveInterval=10",
                "-o",
                "ServerAliveCountMax=3",
            ])
            .args(target.args())
            .arg("--")
            .arg(&target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            SshFailure {
                reason: if e.kind() == io::ErrorKind::NotFound {
                    "the `ssh` client is not installed on this machine (Debian: apt-get install \
                     openssh-client)"
                        .to_string()
                } else {
                    format!("cannot start ssh: {e}")
                },
            }
        })?;
        let ready = wait_ready(&mut child, &control, timeout).await;
        if let Err(reason) = ready {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let _ = std::fs::remove_dir_all(&dir);
            return Err(SshFailure {
                reason: explain(&target, &reason),
            });
        }
        // Keep draining the master's stderr so that it never blocks on a full pipe.
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(drain_lines(stderr, None));
        }
        let inner = Arc::new(Inner {
            target,
            dir,
            control,
            master: StdMutex::new(Some(child)),
            permits: Arc::new(Semaphore::new(MAX_SESSIONS)),
            last_stderr: Arc::new(StdMutex::new(String::new())),
            spares: StdMutex::new(Vec::new()),
            forwarded: std::sync::OnceLock::new(),
        });
        // The first calls go over sessions started now; meanwhile the master learns to forward
        // the engine's socket, which later connections use.
        Arc::clone(&inner).refill();
        let forwarding = Arc::clone(&inner);
        tokio::spawn(async move {
            if let Some(local) = forwarding.forward_engine_socket().await {
                let _ = forwarding.forwarded.set(local);
                if let Ok(mut spares) = forwarding.spares.lock() {
                    spares.clear();
                }
            }
        });
        if let Ok(mut open) = OPEN.lock() {
            open.push(Arc::clone(&inner));
        }
        Ok(SshTransport { inner })
    }

    /// A bollard client whose requests go through this transport.
    pub fn docker(&self, timeout_secs: u64) -> Result<bollard::Docker, bollard::errors::Error> {
        let connector = SessionConnector {
            inner: Arc::clone(&self.inner),
        };
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(IDLE)
            .pool_max_idle_per_host(MAX_SESSIONS);
        let client = Arc::new(builder.build(connector));
        bollard::Docker::connect_with_custom_transport(
            move |req: BollardRequest| {
                let client = Arc::clone(&client);
                async move {
                    client
                        .request(req)
                        .await
                        .map_err(bollard::errors::Error::from)
                }
            },
            // Any host: the connector ignores it and opens a session over the master.
            Some("http://docker.ssh"),
            timeout_secs,
            bollard::API_DEFAULT_VERSION,
        )
    }

    /// What the remote side last said on stderr (e.g. "docker: command not found").
    pub fn last_stderr(&self) -> String {
        self.inner
            .last_stderr
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

/// Stops every master this process started (and so every session over it), and removes
/// their control directories. Called once before bgdeploy exits, whatever the outcome.
pub async fn close_all() {
    let open: Vec<Arc<Inner>> = match OPEN.lock() {
        Ok(mut open) => open.drain(..).collect(),
        Err(_) => return,
    };
    for inner in open {
        inner.close().await;
    }
}

impl Inner {
    async fn close(&self) {
        if let Ok(mut spares) = self.spares.lock() {
            spares.clear();
        }
        let child = self.master.lock().ok().and_then(|mut m| m.take());
        if let Some(mut child) = child {
            // SIGTERM lets ssh close its sessions and the TCP connection cleanly.
            if let Some(pid) = child.id() {
                terminate(pid);
            }
            if tokio::time::timeout(Duration::from_secs(2), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Opens one ssh session running `docker system dial-stdio` per HTTP connection.
#[derive(Clone)]
struct SessionConnector {
    inner: Arc<Inner>,
}

impl tower_service::Service<hyper::Uri> for SessionConnector {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            if let Some(local) = inner.forwarded.get() {
                let stream = tokio::net::UnixStream::connect(local).await?;
                return Ok(TokioIo::new(Stream::Forwarded(stream)));
            }
            let spare = inner.take_spare();
            let session = match spare {
                Some(session) => Ok(session),
                None => {
                    let permit = Arc::clone(&inner.permits)
                        .acquire_owned()
                        .await
                        .map_err(|_| io::Error::other("the ssh transport was closed"))?;
                    inner.open_session(permit)
                }
            };
            Arc::clone(&inner).refill();
            session.map(|s| TokioIo::new(Stream::Session(Box::new(s))))
        })
    }
}

impl Inner {
    /// `ssh` over the master (never a connection of its own, never a prompt) with `args`
    /// after the host.
    fn over_master(&self, remote: &[&str]) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-S")
            .arg(&self.control)
            .args(["-o", "ControlMaster=no", "-o", "BatchMode=yes"])
            .args(self.target.args())
            .arg("--")
            .arg(&self.target.host)
            .args(remote)
            .kill_on_drop(true);
        die_with_parent(&mut cmd);
        cmd
    }

    /// Asks the remote docker CLI where its engine is; if that is a unix socket, has the
    /// master forward a local socket to it and checks that the engine answers through it.
    /// `None` (sessions running `dial-stdio` then) when any of that does not work: an engine
    /// behind tcp:// there, a CLI without contexts, or an sshd that forbids forwarding.
    async fn forward_engine_socket(&self) -> Option<PathBuf> {
        let asked = self
            .over_master(&[
                "docker",
                "context",
                "inspect",
                "--format",
                "{{.Endpoints.docker.Host}}",
            ])
            .stdin(Stdio::null())
            .output();
        let out = match tokio::time::timeout(Duration::from_secs(15), asked).await {
            Ok(Ok(out)) if out.status.success() => out,
            other => {
                tracing::debug!(?other, "the remote docker CLI did not name its engine");
                return None;
            }
        };
        let host = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let remote = host.strip_prefix("unix://")?;
        if remote.is_empty() || remote.contains(['\n', ':']) {
            return None;
        }
        let local = self.dir.join("docker.sock");
        let spec = format!("{}:{remote}", local.display());
        let mut forward = Command::new("ssh");
        forward
            .arg("-S")
            .arg(&self.control)
            .args(["-O", "forward", "-L", &spec])
            .args(self.target.args())
            .arg("--")
            .arg(&self.target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let added = tokio::time::timeout(Duration::from_secs(10), forward.status()).await;
        if !matches!(added, Ok(Ok(status)) if status.success()) {
            tracing::debug!(?added, "the ssh master did not take the forwarding");
            return None;
        }
        // The master accepts the local socket whatever sshd allows; only a request shows
        // whether the server forwards it.
        if ping(&local).await {
            tracing::debug!(remote, "engine socket forwarded over the ssh master");
            Some(local)
        } else {
            tracing::debug!(
                remote,
                "sshd refused to forward the engine socket; using dial-stdio sessions"
            );
            let _ = std::fs::remove_file(&local);
            None
        }
    }

    /// A spare session whose ssh still runs.
    fn take_spare(&self) -> Option<Session> {
        let mut spares = self.spares.lock().ok()?;
        while let Some(mut session) = spares.pop() {
            if matches!(session.child.try_wait(), Ok(None)) {
                return Some(session);
            }
        }
        None
    }

    /// Starts spare sessions up to [`SPARE_SESSIONS`], with places that are free right now
    /// (never waiting for one: spares must not crowd out real calls).
    fn refill(self: Arc<Self>) {
        if self.forwarded.get().is_some() {
            return;
        }
        loop {
            let missing = self
                .spares
                .lock()
                .map(|s| SPARE_SESSIONS.saturating_sub(s.len()))
                .unwrap_or(0);
            if missing == 0 {
                return;
            }
            let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                return;
            };
            match self.open_session(permit) {
                Ok(session) => {
                    if let Ok(mut spares) = self.spares.lock() {
                        spares.push(session);
                    }
                }
                Err(e) => {
                    tracing::debug!("could not start a spare ssh session: {e}");
                    return;
                }
            }
        }
    }

    fn open_session(&self, permit: OwnedSemaphorePermit) -> io::Result<Session> {
        let master_alive = self
            .master
            .lock()
            .map(|mut m| m.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None))))
            .unwrap_or(false);
        if !master_alive {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!("the ssh connection to {} has ended", self.target.display()),
            ));
        }
        let mut child = self
            .over_master(&["docker", "system", "dial-stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("ssh started without its pipes"));
        };
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(drain_lines(stderr, Some(Arc::clone(&self.last_stderr))));
        }
        Ok(Session {
            child,
            stdin,
            stdout,
            _permit: permit,
        })
    }
}

/// One connection to the engine: a forwarded channel to its socket, or a `dial-stdio` session.
pub enum Stream {
    Forwarded(tokio::net::UnixStream),
    Session(Box<Session>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Forwarded(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Session(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Forwarded(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Session(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Forwarded(s) => Pin::new(s).poll_flush(cx),
            Stream::Session(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Forwarded(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Session(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One ssh session: what hyper writes goes to `dial-stdio`'s stdin, its stdout is the answer.
/// Dropping it kills the session's ssh process and frees its place.
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl AsyncRead for Session {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for Session {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

/// `GET /_ping` through a unix socket: true when an engine answers 200.
async fn ping(socket: &Path) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut stream = tokio::net::UnixStream::connect(socket).await.ok()?;
        stream
            .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(10), attempt).await,
        Ok(Some(true))
    )
}

/// Waits for the control socket (ssh creates it once logged in), or for ssh to give up.
async fn wait_ready(child: &mut Child, control: &Path, timeout: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(1);
    loop {
        if control.exists() {
            return Ok(());
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                let said = match child.stderr.take() {
                    Some(mut stderr) => {
                        let mut text = String::new();
                        let _ =
                            tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
                        text
                    }
                    None => String::new(),
                };
                let said = said.trim();
                return Err(if said.is_empty() {
                    format!("ssh exited ({status}) without saying why")
                } else {
                    said.to_string()
                });
            }
            Ok(None) => {}
            Err(e) => return Err(format!("cannot watch ssh: {e}")),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "no ssh connection within {}s",
                timeout.as_secs().max(1)
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// ssh's own words, with what to check next.
fn explain(target: &SshTarget, said: &str) -> String {
    let host = target.display();
    let port = target.port.map(|p| format!("-p {p} ")).unwrap_or_default();
    let lower = said.to_ascii_lowercase();
    let hint = if lower.contains("host key verification failed")
        || lower.contains("remote host identification has changed")
        || lower.contains("no matching host key")
    {
        format!(
            "the host key of {host} is unknown or has changed: check it, then add it to \
             ~/.ssh/known_hosts (e.g. `ssh-keyscan {port}{} >> ~/.ssh/known_hosts`) — \
             bgdeploy never asks interactively",
            target.host
        )
    } else if lower.contains("permission denied") || lower.contains("too many authentication") {
        format!(
            "ssh could not log in to {host}: check the key (`ssh-add -l`, IdentityFile in \
             ~/.ssh/config) and the user; `ssh {port}{host} docker version` must work without \
             a prompt"
        )
    } else if lower.contains("could not resolve") {
        format!(
            "the name `{}` does not resolve on this machine",
            target.host
        )
    } else if lower.contains("connection refused") {
        format!("nothing accepts ssh connections at {host} (is sshd running on that port?)")
    } else if lower.contains("timed out") || lower.contains("no ssh connection within") {
        format!("{host} did not answer in time (network, firewall, or a wrong address?)")
    } else if lower.contains("no route to host") || lower.contains("network is unreachable") {
        format!("there is no route from this machine to {host}")
    } else {
        format!("check that `ssh {port}{host} docker version` works from this machine")
    };
    format!("ssh: {}; {hint}", one_line(said))
}

fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    let joined = lines.join(" / ");
    match joined.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

/// Reads a child's stderr line by line until it closes; keeps the last non-empty line.
async fn drain_lines(stderr: tokio::process::ChildStderr, last: Option<Arc<StdMutex<String>>>) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        tracing::debug!("ssh: {line}");
        if let Some(last) = &last
            && let Ok(mut last) = last.lock()
        {
            *last = line.to_string();
        }
    }
}

/// A directory only this user can enter, for the control socket: `$XDG_RUNTIME_DIR` when set
/// (short paths matter: a unix socket path has at most 107 bytes), else the temp directory.
fn private_dir() -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = base.join(format!("bgdeploy-ssh-{}-{n}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

/// The ssh processes end with bgdeploy even when it is killed outright (SIGKILL leaves no
/// chance to run [`close_all`]): the kernel sends them SIGTERM when their parent dies.
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl is async-signal-safe and touches only the child being set up.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

fn terminate(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: sending a signal to our own child, whose PID we still hold (not yet reaped).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SshTarget {
        SshTarget::parse(s).expect(s)
    }

    #[test]
    fn parses_user_host_and_port_like_the_docker_cli() {
        assert_eq!(
            t("deploy@web1"),
            SshTarget {
                user: Some("deploy".into()),
                host: "web1".into(),
                port: None
            }
        );
        assert_eq!(
            t("deploy@web1:2222"),
            SshTarget {
                user: Some("deploy".into()),
                host: "web1".into(),
                port: Some(2222)
            }
        );
        assert_eq!(t("web1").user, None);
        assert_eq!(t("me@[fd00::1]:22").host, "fd00::1");
        assert_eq!(t("me@[fd00::1]").port, None);
        assert_eq!(t("me@web1/").host, "web1");
        assert_eq!(t("me@web1:2222").display(), "me@web1:2222");
    }

    #[test]
    fn refuses_what_ssh_would_misread() {
        for bad in [
            "",
            "@web1",
            "me@",
            "me@web1:x",
            "me@web1:0",
            "me@web1/var/run/docker.sock",
            "-oProxyCommand=evil",
            "me@[fd00::1",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn explains_ssh_failures_with_what_to_check() {
        let target = t("deploy@web1:2222");
        let key = explain(&target, "Host key verification failed.\n");
        assert!(key.contains("known_hosts"), "{key}");
        assert!(key.contains("ssh-keyscan -p 2222 web1"), "{key}");
        let auth = explain(&target, "deploy@web1: Permission denied (publickey).");
        assert!(auth.contains("could not log in"), "{auth}");
        let refused = explain(
            &target,
            "ssh: connect to host web1 port 2222: Connection refused",
        );
        assert!(refused.contains("nothing accepts ssh"), "{refused}");
    }
}
