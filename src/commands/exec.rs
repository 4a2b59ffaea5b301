//! `bgdeploy exec APP STAGE [-i] [-t] [--one-off] -- CMD...`: a command in the live release's
//! container, or in a one-off container of the live release (removed afterwards). The
//! command's exit code becomes bgdeploy's.

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::Globals;
use super::hosts;
use super::{deploy, load};
use crate::cli::Target;
use crate::engine::{self, Engine, EngineError, Frame, Session};
use crate::error::Error;
use crate::execute::release::oneoff_spec;
use crate::observe::{self, ContainerInfo};
use crate::secret::Secret;
use crate::spec::Deploy;
use crate::{names, terminal, time};

pub struct ExecArgs<'a> {
    pub target: &'a Target,
    pub one_off: bool,
    pub interactive: bool,
    pub tty: bool,
    pub command: &'a [String],
}

pub async fn run(globals: &Globals, args: ExecArgs<'_>) -> Result<(), Error> {
    let spec = load(globals)?;
    let deploy = deploy(&spec, args.target)?;
    let hosts = hosts::connect(globals, deploy, args.target.hosts.as_deref()).await?;
    if hosts.len() > 1 && (args.interactive || args.tty) {
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "exec -i/-t attaches to one command: pick one host with --hosts NAME ({}/{} has \
             hosts {})",
            deploy.app,
            deploy.stage,
            names.join(", ")
        )));
    }
    // One host after another, in rollout order: a command run on every host (a cache flush, a
    // check) reads best host by host, each line prefixed with its host.
    let fleet = deploy.is_fleet();
    let mut failure: Option<Error> = None;
    for h in &hosts {
        let prefix = fleet.then_some(h.name.as_str());
        let result = on_host(&h.engine, deploy, &args, prefix).await;
        let error = match result {
            Ok(0) => continue,
            Ok(code) => Error::Exit {
                // The engine says -1 when it could not tell; bgdeploy then fails as a deploy does.
                code: i32::try_from(code).ok().filter(|c| *c > 0).unwrap_or(1),
            },
            Err(e) => e,
        };
        if !fleet {
            return Err(error);
        }
        eprintln!("bgdeploy: host {}: {}", h.name, describe(&error));
        failure.get_or_insert(error);
    }
    failure.map_or(Ok(()), Err)
}

fn describe(error: &Error) -> String {
    match error {
        Error::Exit { code } => format!("the command exited {code}"),
        e => e.to_string(),
    }
}

async fn on_host(
    engine: &Engine,
    deploy: &Deploy,
    args: &ExecArgs<'_>,
    prefix: Option<&str>,
) -> Result<i64, Error> {
    let live = live_release(engine, deploy).await?;
    if args.one_off {
        one_off(engine, deploy, &live, args, prefix).await
    } else {
        in_live(engine, &live.name, args, prefix).await
    }
}

/// The live release of the app/stage (the newest one when, unusually, there are several).
pub(super) async fn live_release(engine: &Engine, deploy: &Deploy) -> Result<ContainerInfo, Error> {
    let observed = observe::observe(engine, deploy, &deploy.image).await?;
    observed
        .live()
        .next()
        .cloned()
        .ok_or_else(|| Error::NoLive {
            app: deploy.app.clone(),
            stage: deploy.stage.clone(),
        })
}

/// The secret values the live release was given: the spec's secret names, their values
/// read from the container (bgdeploy's own environment need not have them at `exec` time).
pub(super) async fn release_secrets(
    engine: &Engine,
    deploy: &Deploy,
    container: &str,
) -> Result<Vec<(String, Secret)>, EngineError> {
    let env = engine.container_env(container).await?;
    Ok(deploy
        .secrets
        .iter()
        .filter_map(|name| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| (name.clone(), Secret::new(v.clone())))
        })
        .collect())
}

async fn in_live(
    engine: &Engine,
    container: &str,
    args: &ExecArgs<'_>,
    prefix: Option<&str>,
) -> Result<i64, Error> {
    let (exec_id, session) = engine
        .exec_session(container, args.command, args.tty, args.interactive)
        .await?;
    // Signalling the exec's process by its host pid needs the engine's PID namespace, which
    // sharing its network namespace does not prove: `signal` checks the process's cgroup too.
    let container_id = match engine.inspect_container(container).await {
        Ok(Some(details)) => details.id,
        _ => String::new(),
    };
    let target = Attached::Exec {
        id: exec_id.clone(),
        local: engine.info().local && !container_id.is_empty(),
        container_id,
    };
    pump(engine, session, &target, args, prefix).await?;
    Ok(engine.exec_exit(&exec_id).await?)
}

async fn one_off(
    engine: &Engine,
    deploy: &Deploy,
    live: &ContainerInfo,
    args: &ExecArgs<'_>,
    prefix: Option<&str>,
) -> Result<i64, Error> {
    let secrets = release_secrets(engine, deploy, &live.name).await?;
    let name = names::oneoff_name(&deploy.app, &deploy.stage, &time::release_suffix());
    let mut spec = oneoff_spec(deploy, &secrets, &name, &live.image, args.command);
    spec.tty = args.tty;
    spec.open_stdin = args.interactive;
    engine.create_container(&spec).await?;
    // Removed on every path from here on, as `docker run --rm` does.
    let result = run_one_off(engine, deploy, &name, args, prefix).await;
    let removed = engine.remove_container(&name, true).await;
    let code = result?;
    removed?;
    Ok(code)
}

async fn run_one_off(
    engine: &Engine,
    deploy: &Deploy,
    name: &str,
    args: &ExecArgs<'_>,
    prefix: Option<&str>,
) -> Result<i64, Error> {
    for network in &deploy.networks {
        // As the release's own extra networks: below BACK_'s priority (ignored before 1.48).
        let priority = Some(crate::plan::priority::EXTRA);
        engine.connect_network(name, network, priority).await?;
    }
    let session = engine.attach(name, args.interactive).await?;
    engine.start_container(name).await?;
    let target = Attached::Container {
        name: name.to_string(),
    };
    pump(engine, session, &target, args, prefix).await?;
    Ok(engine.wait_container(name).await?)
}

/// What a session is attached to, for resizing its TTY and passing signals on.
enum Attached {
    Exec {
        id: String,
        local: bool,
        /// The full ID of the container the exec runs in.
        container_id: String,
    },
    Container {
        name: String,
    },
}

impl Attached {
    async fn resize(&self, engine: &Engine) {
        let Some((width, height)) = terminal::size() else {
            return;
        };
        match self {
            Attached::Exec { id, .. } => engine.resize_exec(id, width, height).await,
            Attached::Container { name } => engine.resize_container(name, width, height).await,
        }
    }

    /// Passes SIGINT/SIGTERM on. The engine cannot signal an exec; on a local engine its
    /// process is signalled by its host pid.
    async fn signal(&self, engine: &Engine, name: &str, number: i32) {
        match self {
            Attached::Container { name: container } => {
                if let Err(e) = engine.signal_container(container, name).await {
                    eprintln!("bgdeploy: could not pass SIG{name} on: {e}");
                }
            }
            Attached::Exec {
                id,
                local: true,
                container_id,
            } => {
                if let Ok((_, Some(pid))) = engine.exec_state(id).await
                    && let Ok(pid) = i32::try_from(pid)
                    // The pid is the engine's: only a process of that container is signalled
                    // (in another PID namespace the number names someone else).
                    && std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                        .is_ok_and(|c| c.contains(container_id.as_str()))
                {
                    // SAFETY: kill has no memory effects.
                    unsafe {
                        libc::kill(pid, number);
                    }
                }
            }
            Attached::Exec { local: false, .. } => eprintln!(
                "bgdeploy: SIG{name} cannot be passed to a command in a container of a remote \
                 engine; the command runs on (use -t, where Ctrl-C is a key)"
            ),
        }
    }
}

/// Copies the session's output to ours (each line after `prefix | ` when given), and our
/// stdin to it when asked, until its output ends; passes signals and terminal resizes on.
async fn pump(
    engine: &Engine,
    session: Session,
    target: &Attached,
    args: &ExecArgs<'_>,
    prefix: Option<&str>,
) -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let Session { mut output, input } = session;
    let _raw = (args.tty && args.interactive).then(terminal::RawMode::enable);
    if args.tty {
        target.resize(engine).await;
    }
    let stdin = args.interactive.then(|| tokio::spawn(copy_stdin(input)));
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut winch = signal(SignalKind::window_change()).ok();
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut lines = prefix.map(|p| (Prefixed::new(p), Prefixed::new(p)));
    loop {
        tokio::select! {
            frame = output.next() => match frame {
                Some(Ok(Frame::Stdout(bytes))) => {
                    let bytes = match &mut lines {
                        Some((out, _)) => out.push(&bytes),
                        None => bytes.to_vec(),
                    };
                    let _ = stdout.write_all(&bytes).await;
                    let _ = stdout.flush().await;
                }
                Some(Ok(Frame::Stderr(bytes))) => {
                    let bytes = match &mut lines {
                        Some((_, err)) => err.push(&bytes),
                        None => bytes.to_vec(),
                    };
                    let _ = stderr.write_all(&bytes).await;
                    let _ = stderr.flush().await;
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(()) = recv(&mut int) => target.signal(engine, "INT", libc::SIGINT).await,
            Some(()) = recv(&mut term) => target.signal(engine, "TERM", libc::SIGTERM).await,
            Some(()) = recv(&mut winch) => target.resize(engine).await,
        }
    }
    if let Some(task) = stdin {
        task.abort();
    }
    if let Some((mut out, mut err)) = lines {
        let _ = stdout.write_all(&out.finish()).await;
        let _ = stdout.flush().await;
        let _ = stderr.write_all(&err.finish()).await;
        let _ = stderr.flush().await;
    }
    Ok(())
}

/// Output cut into whole lines, each written after `host | `; the rest waits for its newline.
struct Prefixed {
    prefix: String,
    pending: Vec<u8>,
}

impl Prefixed {
    fn new(host: &str) -> Prefixed {
        Prefixed {
            prefix: format!("{host} | "),
            pending: Vec::new(),
        }
    }

    /// The complete lines among what came so far, prefixed.
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(bytes);
        let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let done: Vec<u8> = self.pending.drain(..=end).collect();
        let mut out = Vec::with_capacity(done.len() + self.prefix.len());
        for line in done.split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(self.prefix.as_bytes());
            out.extend_from_slice(line);
        }
        out
    }

    /// A last line without its newline, ended.
    fn finish(&mut self) -> Vec<u8> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        self.pending.push(b'\n');
        let rest = std::mem::take(&mut self.pending);
        self.push(&rest)
    }
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Our stdin to the session's, then closes it (so `echo x | bgdeploy exec -i -- cat` ends).
async fn copy_stdin(mut input: engine::Input) {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 4096];
    loop {
        match stdin.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if input.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
                let _ = input.flush().await;
            }
        }
    }
    let _ = input.shutdown().await;
}
