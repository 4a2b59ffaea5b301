//! Probes from the engine's side. When bgdeploy does not share the engine's network namespace
//! (a remote engine, or bgdeploy in a container of its own), a container's bridge address is
//! not reachable from here and its `/proc` is not readable. bgdeploy then starts, next to the
//! container, a *probe*: a small container of its own sharing the container's network namespace
//! (`network_mode: container:<id>`), running bgdeploy's static probe agent (`probe/agent.rs`),
//! and asks it to connect, to GET, or to print a `/proc/net` table. The questions go over one
//! stream attached to the probe's stdin and stdout for its whole life: a question is a round
//! trip on a connection that is already open, not an exec (two calls and a new connection
//! each, which over ssh means a new session).
//!
//! Why this design (README, "Deploying to a remote host"): it works the same over every
//! transport (ssh, TLS, a socket in another namespace), needs nothing in the app's image (no
//! `curl`, `cat` or shell), no registry (the image is built on the engine, `FROM scratch`,
//! from the agent bgdeploy carries, like the lock image), and no port forwarding on the ssh
//! server. A probe costs one container start per looked-at container and run (~0.3 s), then
//! one exec a probe.
//!
//! Probes are labelled as bgdeploy's (`bgdeploy.kind=probe`), are removed when the command
//! ends ([`close_all`]), and end (and so remove themselves) when their stream closes — also
//! when bgdeploy is killed — or after an hour at the latest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{AttachContainerOptionsBuilder, CreateContainerOptionsBuilder};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Mutex, OnceCell};

use super::{Engine, EngineError, ExecOutput};
use crate::names;

/// The agent, built by `build.rs` for the target bgdeploy was built for; empty where it could
/// not be built.
static AGENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/probe-agent"));
/// Rust's name for the agent's architecture (`x86_64`, `aarch64`, …).
const AGENT_ARCH: &str = env!("BGDEPLOY_AGENT_ARCH");

pub const PROBE_IMAGE_REPO: &str = "bgdeploy-probe";
pub const KIND_PROBE: &str = "probe";
/// The container it looks at, by ID.
pub const LABEL_PROBE_TARGET: &str = "bgdeploy.probe.target";
/// Who started it (`user@host pid N`, as the lock's owner): a later run on the same machine
/// removes the probes of a bgdeploy that was killed before it could.
pub const LABEL_PROBE_OWNER: &str = "bgdeploy.probe.owner";
/// Where the agent is in the probe image.
pub const AGENT_PATH: &str = "/bgdeploy-probe";
/// A probe left behind by a killed bgdeploy ends itself after this long.
const LIFETIME_SECS: u32 = 3600;

const DOCKERFILE: &str = "FROM scratch\nLABEL bgdeploy.kind=probe\nCOPY bgdeploy-probe /bgdeploy-probe\nUSER 65534:65534\nENTRYPOINT [\"/bgdeploy-probe\"]\n";

/// `bgdeploy-probe:<version>-<hash of the agent>`: a new agent gets a new image.
pub fn probe_image() -> String {
    format!(
        "{PROBE_IMAGE_REPO}:{}-{:012x}",
        env!("CARGO_PKG_VERSION"),
        fnv1a(AGENT) & 0xffff_ffff_ffff
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Docker's architecture names for Rust's.
fn docker_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The probes this engine connection started: looked-at container ID → probe container ID.
#[derive(Debug, Default)]
pub(super) struct ProbeSites {
    /// Each looked-at container's probe, started at most once (concurrently for different
    /// containers).
    sites: StdMutex<HashMap<String, Arc<OnceCell<Arc<Site>>>>>,
    /// This connection is in [`OPEN`] (from its first probe on).
    registered: AtomicBool,
    /// [`close_all`] ran: a probe that finishes starting after it is removed at once.
    closed: AtomicBool,
    /// Probes being started ahead of need ([`Engine::warm_probes`]), awaited before closing.
    warming: StdMutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Every engine connection of this process, so that [`close_all`] finds their probes.
static OPEN: StdMutex<Vec<Engine>> = StdMutex::new(Vec::new());

fn register(engine: &Engine) {
    if engine.probes.registered.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Ok(mut open) = OPEN.lock() {
        open.push(engine.clone());
    }
}

/// Removes every probe this process started, on every engine. Called once before exit.
pub async fn close_all() {
    let engines: Vec<Engine> = match OPEN.lock() {
        Ok(mut open) => open.drain(..).collect(),
        Err(_) => return,
    };
    // Every engine at once: a fleet's engines are independent, and each removal waits until
    // its engine has removed the probe (one after the other, a fleet of three paid three
    // such waits after its result was printed).
    futures_util::future::join_all(engines.iter().map(|engine| engine.close_probes())).await;
}

/// Why no probe can run on this engine; said in the errors of what needed one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProbeUnavailable(pub String);

impl Engine {
    /// Whether a probe can run on this engine (an agent was built into bgdeploy, for the
    /// engine's architecture).
    pub fn probe_support(&self) -> Result<(), ProbeUnavailable> {
        if AGENT.is_empty() {
            return Err(ProbeUnavailable(
                "this build of bgdeploy carries no probe agent (it could not be built for its \
                 platform)"
                    .to_string(),
            ));
        }
        let ours = docker_arch(AGENT_ARCH);
        if !self.arch.is_empty() && self.arch != ours {
            return Err(ProbeUnavailable(format!(
                "the engine runs on {} and this bgdeploy's probe agent is built for {ours}: \
                 use a bgdeploy built for {}, or health `cmd`/`docker`",
                self.arch, self.arch
            )));
        }
        Ok(())
    }

    /// Asks the agent next to `target` (a container ID) to run `args`, starting the probe
    /// first if this connection has none there yet.
    pub async fn probe_exec(&self, target: &str, args: &[&str]) -> Result<ExecOutput, EngineError> {
        let site = self.probe_site(target).await?;
        match site.ask(args).await {
            Ok(out) => Ok(out),
            // A probe that ended (removed by someone, or its stream broke) is started once more.
            Err(reason) => {
                tracing::debug!(%target, "probe lost ({reason}); starting it again");
                self.forget_probe(target).await;
                let site = self.probe_site(target).await?;
                site.ask(args).await.map_err(|reason| EngineError::Probe {
                    container: target.to_string(),
                    reason,
                })
            }
        }
    }

    /// Starts the probes next to `targets` in the background, so that the steps that read
    /// them later (the route check, the drain) find them ready. Failures are left for those
    /// steps to report.
    pub fn warm_probes(&self, targets: Vec<String>) {
        if self.info.local || self.probe_support().is_err() {
            return;
        }
        register(self);
        for target in targets {
            let engine = self.clone();
            let task = tokio::spawn(async move {
                if let Err(e) = engine.probe_site(&target).await {
                    tracing::debug!(%target, "could not start a probe ahead of need: {e}");
                }
            });
            if let Ok(mut warming) = self.probes.warming.lock() {
                warming.push(task);
            }
        }
    }

    /// The probe next to `target`, started if needed.
    async fn probe_site(&self, target: &str) -> Result<Arc<Site>, EngineError> {
        let cell = match self.probes.sites.lock() {
            Ok(mut sites) => Arc::clone(sites.entry(target.to_string()).or_default()),
            Err(_) => Arc::new(OnceCell::new()),
        };
        let site = cell
            .get_or_try_init(|| async {
                self.probe_support().map_err(|why| EngineError::Probe {
                    container: target.to_string(),
                    reason: why.0,
                })?;
                register(self);
                let image = self.ensure_probe_image().await?;
                self.start_probe(target, &image).await
            })
            .await?
            .clone();
        if self.probes.closed.load(Ordering::SeqCst) {
            self.remove_probe(&site.id).await;
        }
        Ok(site)
    }

    /// Removes the app/stage's probes whose bgdeploy was killed on this machine: one killed
    /// between creating and starting a probe leaves it created, and a created container is
    /// never auto-removed. Called under the deploy lock; failures are only logged.
    pub async fn remove_stale_probes(&self, app: &str, stage: &str) {
        let listed = match self.list_app_containers(app, stage).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::debug!("cannot list probes to remove: {e}");
                return;
            }
        };
        let stale = listed.iter().filter(|c| {
            c.labels.get(names::LABEL_KIND).map(String::as_str) == Some(KIND_PROBE)
                && c.labels
                    .get(LABEL_PROBE_OWNER)
                    .is_some_and(|owner| crate::lock::owner_is_gone(owner))
        });
        for probe in stale {
            tracing::debug!(probe = %probe.name, "removing the probe of a bgdeploy that ended");
            if let Err(e) = self.remove_container(&probe.id, true).await {
                tracing::debug!(probe = %probe.name, "could not remove it: {e}");
            }
        }
    }

    /// Removes the probe next to `target`, if any (before `target` itself goes away).
    pub async fn forget_probe(&self, target: &str) {
        let cell = self
            .probes
            .sites
            .lock()
            .ok()
            .and_then(|mut s| s.remove(target));
        if let Some(site) = cell.and_then(|c| c.get().cloned())
            && let Err(e) = self.remove_container(&site.id, true).await
        {
            tracing::debug!(probe = %site.id, "could not remove probe: {e}");
        }
    }

    async fn close_probes(&self) {
        let warming: Vec<_> = match self.probes.warming.lock() {
            Ok(mut w) => w.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            futures_util::future::join_all(warming),
        )
        .await;
        self.probes.closed.store(true, Ordering::SeqCst);
        let sites: Vec<String> = match self.probes.sites.lock() {
            Ok(mut sites) => sites
                .drain()
                .filter_map(|(_, c)| c.get().map(|s| s.id.clone()))
                .collect(),
            Err(_) => return,
        };
        let removals = sites.iter().map(|site| self.remove_probe(site));
        futures_util::future::join_all(removals).await;
    }

    /// Removes a probe and waits until the engine has: a probe is auto-removed as well, and
    /// while the engine's own removal runs, ours is answered "already in progress" before
    /// the container is gone.
    async fn remove_probe(&self, site: &str) {
        if let Err(e) = self.remove_container(site, true).await {
            tracing::debug!(probe = %site, "removing the probe: {e}");
        }
        // A loaded engine (a test host sharing two cores with others) has taken over 5 s to
        // finish a removal; no probe may outlive bgdeploy, so it waits up to 30 s.
        for _ in 0..300 {
            match self.inspect_container(site).await {
                Ok(None) => return,
                Ok(Some(_)) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                Err(e) => {
                    tracing::warn!(probe = %site, "could not check that the probe is gone: {e}");
                    return;
                }
            }
        }
        tracing::warn!(probe = %site, "bgdeploy's probe container is still there after 30 s");
    }

    async fn ensure_probe_image(&self) -> Result<String, EngineError> {
        let image = probe_image();
        let context = super::archive::pack_files(&[
            ("Dockerfile", DOCKERFILE.as_bytes(), 0o644),
            ("bgdeploy-probe", AGENT, 0o755),
        ])
        .map_err(|reason| EngineError::BuildImage {
            image: image.clone(),
            source: bollard::errors::Error::DockerStreamError { error: reason },
        })?;
        self.ensure_built_image(&image, context).await?;
        Ok(image)
    }

    async fn start_probe(&self, target: &str, image: &str) -> Result<Arc<Site>, EngineError> {
        let details = self
            .inspect_container(target)
            .await?
            .ok_or_else(|| EngineError::Probe {
                container: target.to_string(),
                reason: "the container is gone".to_string(),
            })?;
        let mut labels: HashMap<String, String> = details
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() == names::LABEL_APP || k.as_str() == names::LABEL_STAGE)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.insert(names::LABEL_MANAGED.to_string(), "true".to_string());
        labels.insert(names::LABEL_KIND.to_string(), KIND_PROBE.to_string());
        labels.insert(LABEL_PROBE_TARGET.to_string(), details.id.clone());
        labels.insert(LABEL_PROBE_OWNER.to_string(), crate::lock::owner());
        let name = format!(
            "{}_probe_{:08x}",
            details.name.trim_start_matches('/'),
            fnv1a(format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes())
                & 0xffff_ffff
        );
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["serve".to_string(), LIFETIME_SECS.to_string()]),
            labels: Some(labels),
            // Questions come on stdin; the probe ends when that stream closes.
            open_stdin: Some(true),
            // The engine closes the probe's stdin when bgdeploy's stream goes (also when
            // bgdeploy is killed), which ends the agent; without it stdin stays open forever.
            stdin_once: Some(true),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            host_config: Some(HostConfig {
                network_mode: Some(format!("container:{}", details.id)),
                auto_remove: Some(true),
                readonly_rootfs: Some(true),
                cap_drop: Some(vec!["ALL".to_string()]),
                security_opt: Some(vec!["no-new-privileges".to_string()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        tracing::debug!(probe = %name, target = %details.name, "starting a probe on the engine");
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|source| EngineError::CreateContainer {
                name: name.clone(),
                image: image.to_string(),
                source,
            })?;
        let attached = self.attach_and_start(&created.id).await;
        match attached {
            Ok(site) => Ok(site),
            Err(e) => {
                let _ = self.remove_container(&created.id, true).await;
                Err(e)
            }
        }
    }

    /// Attaches before starting, so that nothing the agent says is missed.
    async fn attach_and_start(&self, id: &str) -> Result<Arc<Site>, EngineError> {
        let options = AttachContainerOptionsBuilder::new()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(options))
            .await
            .map_err(|e| EngineError::Probe {
                container: id.to_string(),
                reason: format!(
                    "cannot attach to the probe: {}",
                    crate::error::chain::one_line(&e)
                ),
            })?;
        self.start_container(id).await?;
        Ok(Arc::new(Site {
            id: id.to_string(),
            conn: Mutex::new(Conn {
                input: attached.input,
                output: attached.output,
                buf: Vec::new(),
                pending: 0,
            }),
        }))
    }
}

/// A running probe and the stream its agent answers on.
#[derive(Debug)]
pub(super) struct Site {
    id: String,
    conn: Mutex<Conn>,
}

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

struct Conn {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    /// What the agent said that is not consumed yet.
    buf: Vec<u8>,
    /// Questions sent whose answers were not read (a caller gave up waiting): read and
    /// dropped before the next question, so that answers stay in step.
    pending: usize,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("pending", &self.pending)
            .finish()
    }
}

impl Site {
    /// One question, one answer. `Err` means the stream is unusable.
    async fn ask(&self, args: &[&str]) -> Result<ExecOutput, String> {
        if args.iter().any(|a| a.contains(['\t', '\n'])) {
            return Err("a probe argument may not contain a tab or a newline".to_string());
        }
        let mut conn = self.conn.lock().await;
        while conn.pending > 0 {
            conn.answer().await?;
            conn.pending -= 1;
        }
        let line = format!("{}\n", args.join("\t"));
        conn.pending += 1;
        conn.input
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("cannot write to the probe: {e}"))?;
        conn.input
            .flush()
            .await
            .map_err(|e| format!("cannot write to the probe: {e}"))?;
        let answer = conn.answer().await?;
        conn.pending -= 1;
        Ok(answer)
    }
}

impl Conn {
    /// Reads one answer: `CODE STDOUT_LEN STDERR_LEN\n`, then both outputs.
    async fn answer(&mut self) -> Result<ExecOutput, String> {
        loop {
            if let Some(parsed) = parse_answer(&self.buf)? {
                let (answer, used) = parsed;
                self.buf.drain(..used);
                return Ok(answer);
            }
            match self.output.next().await {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    self.buf.extend_from_slice(&message);
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    tracing::debug!("probe: {}", String::from_utf8_lossy(&message).trim_end());
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => {
                    return Err(format!(
                        "the probe's stream broke: {}",
                        crate::error::chain::one_line(&e)
                    ));
                }
                None => return Err("the probe ended".to_string()),
            }
        }
    }
}

/// One complete answer at the start of `buf` and the bytes it took, or `None` while more
/// must be read.
fn parse_answer(buf: &[u8]) -> Result<Option<(ExecOutput, usize)>, String> {
    let Some(end) = buf.iter().position(|b| *b == b'\n') else {
        return if buf.len() > 64 {
            Err("the probe answered something that is not an answer".to_string())
        } else {
            Ok(None)
        };
    };
    let header = String::from_utf8_lossy(&buf[..end]);
    let numbers: Vec<usize> = header
        .split(' ')
        .map(|n| n.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("the probe answered {header:?}, not an answer header"))?;
    let [code, out_len, err_len] = numbers[..] else {
        return Err(format!(
            "the probe answered {header:?}, not an answer header"
        ));
    };
    let total = end + 1 + out_len + err_len;
    if buf.len() < total {
        return Ok(None);
    }
    let stdout = &buf[end + 1..end + 1 + out_len];
    let stderr = &buf[end + 1 + out_len..total];
    Ok(Some((
        ExecOutput {
            exit_code: i64::try_from(code).unwrap_or(-1),
            stdout: String::from_utf8_lossy(stdout).into_owned(),
            stderr: String::from_utf8_lossy(stderr).into_owned(),
        },
        total,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_whole_and_in_step() {
        let buf = b"0 3 0\nabc3 0 5\nnone!";
        let (first, used) = parse_answer(buf).expect("valid").expect("complete");
        assert_eq!((first.exit_code, first.stdout.as_str()), (0, "abc"));
        let (second, rest) = parse_answer(&buf[used..])
            .expect("valid")
            .expect("complete");
        assert_eq!(
            (second.exit_code, second.stderr.as_str(), rest),
            (3, "none!", buf.len() - used)
        );
        assert!(parse_answer(b"0 10 0\nshort").expect("valid").is_none());
        assert!(parse_answer(b"0 1").expect("valid").is_none());
        assert!(parse_answer(b"hello world\n").is_err());
    }

    #[test]
    fn the_probe_image_is_content_addressed() {
        let image = probe_image();
        assert!(image.starts_with("bgdeploy-probe:"), "{image}");
        assert!(
            !AGENT.is_empty(),
            "build.rs built no agent on this platform"
        );
    }
}
