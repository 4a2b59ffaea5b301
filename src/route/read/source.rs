//! A container's `/proc/net`, read without trusting tools in the image first: the engine
//! host's `/proc/<pid>/net` when the engine is local, else bgdeploy's probe sharing the
//! container's network namespace (`engine::probe`: its own static agent, in an image bgdeploy
//! builds on the engine, so nothing is needed from the app's image), else `cat` in the
//! container, else the shell's `read` builtin (images without `cat`).

use std::fmt;

use serde::Serialize;

use super::ifaces;
use crate::engine::{ContainerDetails, EXEC_OUTPUT_LIMIT, Engine, EngineError};

/// Where a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadSource {
    /// `/proc/<State.Pid>/net/…` on the engine's host (bgdeploy runs there).
    HostProc,
    /// bgdeploy's probe agent in a container sharing the container's network namespace.
    Probe,
    /// `cat /proc/net/…` exec'd in the container.
    Exec,
    /// `sh -c 'while read …'` exec'd in the container: only shell builtins.
    ExecShellRead,
}

impl ReadSource {
    /// In the order they are tried: the first needs nothing from the image.
    const ALL: [ReadSource; 4] = [
        ReadSource::HostProc,
        ReadSource::Probe,
        ReadSource::Exec,
        ReadSource::ExecShellRead,
    ];
}

impl fmt::Display for ReadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadSource::HostProc => "the engine host's /proc/<pid>/net",
            ReadSource::Probe => "bgdeploy's probe in the container's network namespace",
            ReadSource::Exec => "`cat /proc/net/…` in the container",
            ReadSource::ExecShellRead => "the shell's `read` builtin in the container",
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Use only this source (tests, and operators who distrust one of them).
    pub force: Option<ReadSource>,
}

/// One source that did not work, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub source: ReadSource,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcNetError {
    #[error(transparent)]
    Engine(#[from] EngineError),

    #[error("there is no container `{container}`")]
    NoSuchContainer { container: String },

    #[error("container `{container}` is {state}, not running: it has no network namespace to read")]
    NotRunning { container: String, state: String },

    #[error(
        "cannot read the network tables of container `{container}`; tried {}",
        attempts.iter().map(|a| format!("{} ({})", a.source, a.reason)).collect::<Vec<_>>().join("; ")
    )]
    Unreadable {
        container: String,
        attempts: Vec<Attempt>,
    },

    #[error("cannot read /proc/net/{file} of container `{container}` through {via}: {reason}")]
    Read {
        container: String,
        file: String,
        via: ReadSource,
        reason: String,
    },
}

/// Name of the route table file; reading it is also how a source proves it works.
const ROUTE: &str = "route";
/// Enough of a failing command's output to say what went wrong.
const REASON_CHARS: usize = 200;

/// One container's `/proc/net`, through the first source that worked.
#[derive(Debug)]
pub struct ProcNet<'e> {
    engine: &'e Engine,
    container: ContainerDetails,
    source: ReadSource,
    route: String,
}

/// One `/proc/net` file as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcFile {
    pub text: String,
    /// The engine cut an exec's output short (`EXEC_OUTPUT_LIMIT`): lines are missing at the
    /// end. A busy server's `tcp` table can be that long.
    pub truncated: bool,
}

/// A file a source could not read: absent (the kernel has no IPv6, say), or a failure.
enum Fetch {
    Read(ProcFile),
    Absent,
    Failed(String),
}

impl<'e> ProcNet<'e> {
    /// Inspects `container` and tries each source in turn (only `options.force` if set),
    /// keeping the first that reads a route table. A table from the host's `/proc` must pair
    /// up with the container's endpoints: with the engine in a VM or bgdeploy in a container of
    /// its own, the PID means some other process, and its routes would be silently wrong.
    pub async fn open(
        engine: &'e Engine,
        container: &str,
        options: &ReadOptions,
    ) -> Result<ProcNet<'e>, ProcNetError> {
        let details = engine.inspect_container(container).await?.ok_or_else(|| {
            ProcNetError::NoSuchContainer {
                container: container.to_string(),
            }
        })?;
        if !details.running {
            return Err(ProcNetError::NotRunning {
                container: container.to_string(),
                state: details.state,
            });
        }
        let sources = match options.force {
            Some(source) => vec![source],
            None => ReadSource::ALL.to_vec(),
        };
        let mut attempts = Vec::new();
        for source in sources {
            let mut net = ProcNet {
                engine,
                container: details.clone(),
                source,
                route: String::new(),
            };
            let reason = match net.fetch(ROUTE).await? {
                // The default route may be in the part that was cut off.
                Fetch::Read(ProcFile {
                    truncated: true, ..
                }) => format!("more than {EXEC_OUTPUT_LIMIT} bytes of routes, cut off"),
                Fetch::Read(ProcFile { text, .. }) => match net.vouch_for(&text) {
                    Ok(()) => {
                        net.route = text;
                        return Ok(net);
                    }
                    Err(why) => format!("the table read there is not this container's: {why}"),
                },
                Fetch::Absent => "there is no route table".to_string(),
                Fetch::Failed(reason) => reason,
            };
            tracing::debug!(container, %source, reason, "cannot read the container's routes");
            attempts.push(Attempt { source, reason });
        }
        Err(ProcNetError::Unreadable {
            container: container.to_string(),
            attempts,
        })
    }

    pub fn source(&self) -> ReadSource {
        self.source
    }

    /// The container as inspected when this was opened.
    pub fn container(&self) -> &ContainerDetails {
        &self.container
    }

    /// `/proc/net/route` as read when this was opened.
    pub fn route_table(&self) -> &str {
        &self.route
    }

    /// `/proc/net/<file>` now; `None` when the kernel has no such file (`ipv6_route` and
    /// `tcp6` without IPv6).
    pub async fn read(&self, file: &str) -> Result<Option<ProcFile>, ProcNetError> {
        match self.fetch(file).await? {
            Fetch::Read(read) => Ok(Some(read)),
            Fetch::Absent => Ok(None),
            Fetch::Failed(reason) => Err(ProcNetError::Read {
                container: self.container.name.clone(),
                file: file.to_string(),
                via: self.source,
                reason,
            }),
        }
    }

    /// Only the host's `/proc` can show another process's table; what an exec reads is the
    /// container's by construction, even when it has interfaces the engine does not know of.
    /// Every source must at least produce a route table: a `cat` that prints nothing would
    /// otherwise read as "no default route".
    fn vouch_for(&self, table: &str) -> Result<(), String> {
        if !table.starts_with("Iface") {
            return Err(format!(
                "it does not start like a route table: {:?}",
                shorten(table.lines().next().unwrap_or_default())
            ));
        }
        match self.source {
            ReadSource::HostProc => ifaces::matches_endpoints(table, &self.container.endpoints),
            ReadSource::Probe | ReadSource::Exec | ReadSource::ExecShellRead => Ok(()),
        }
    }

    /// Engine errors that mean the engine is gone end the whole read; any other failure only
    /// rules out this source.
    async fn fetch(&self, file: &str) -> Result<Fetch, ProcNetError> {
        let path = format!("/proc/net/{file}");
        let argv: Vec<&str> = match self.source {
            ReadSource::HostProc => return Ok(self.fetch_host(file).await),
            ReadSource::Probe => return self.fetch_probe(&path).await,
            ReadSource::Exec => vec!["cat", &path],
            // `$1`, not the path spliced into the script: nothing to quote.
            ReadSource::ExecShellRead => vec![
                "sh",
                "-c",
                r#"while read -r l; do echo "$l"; done < "$1""#,
                "sh",
                &path,
            ],
        };
        match self.engine.exec(&self.container.id, &argv).await {
            Ok(out) if out.exit_code == 0 => Ok(Fetch::Read(ProcFile {
                truncated: out.stdout.len() >= EXEC_OUTPUT_LIMIT,
                text: out.stdout,
            })),
            Ok(out) => {
                let said = if out.stderr.trim().is_empty() {
                    out.stdout
                } else {
                    out.stderr
                };
                // Only a complaint naming the file itself: crun says "No such file" about a
                // missing `cat` too.
                if said.contains(&path) && said.to_ascii_lowercase().contains("no such file") {
                    return Ok(Fetch::Absent);
                }
                Ok(Fetch::Failed(format!(
                    "exit {}: {}",
                    out.exit_code,
                    shorten(said.trim())
                )))
            }
            Err(e) if e.is_unreachable() => Err(e.into()),
            Err(e) => Ok(Fetch::Failed(crate::error::chain::one_line(&e))),
        }
    }

    /// The agent prints the file, or exits 3 when there is none.
    async fn fetch_probe(&self, path: &str) -> Result<Fetch, ProcNetError> {
        match self
            .engine
            .probe_exec(&self.container.id, &["cat", path])
            .await
        {
            Ok(out) if out.exit_code == 0 => Ok(Fetch::Read(ProcFile {
                truncated: out.stdout.len() >= EXEC_OUTPUT_LIMIT,
                text: out.stdout,
            })),
            Ok(out) if out.exit_code == 3 => Ok(Fetch::Absent),
            Ok(out) => Ok(Fetch::Failed(format!(
                "exit {}: {}",
                out.exit_code,
                shorten(out.stderr.trim())
            ))),
            Err(e) if e.is_unreachable() => Err(e.into()),
            Err(e) => Ok(Fetch::Failed(crate::error::chain::one_line(&e))),
        }
    }

    async fn fetch_host(&self, file: &str) -> Fetch {
        let info = self.engine.info();
        if !info.local {
            return Fetch::Failed(format!("the engine at {} is not on this host", info.host));
        }
        let Some(pid) = self.container.pid else {
            return Fetch::Failed("the engine reported no PID".to_string());
        };
        let dir = format!("/proc/{pid}/net");
        match read_proc_file(format!("{dir}/{file}")).await {
            Ok(text) => Fetch::Read(ProcFile {
                text,
                truncated: false,
            }),
            // The process still being there tells "no such table" from "process gone".
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && tokio::fs::try_exists(format!("{dir}/{ROUTE}"))
                        .await
                        .unwrap_or(false) =>
            {
                Fetch::Absent
            }
            Err(e) => Fetch::Failed(format!("{dir}/{file}: {e}")),
        }
    }
}

/// Reads a `/proc` file in as few `read` calls as possible. The kernel renders
/// `/proc/net/tcp` anew for every call, walking the whole connection hash table each time
/// (milliseconds on a large host), and `tokio::fs` reads a file that claims size 0 in
/// small, growing chunks: a 1 KiB table took six calls and 15 ms.
async fn read_proc_file(path: String) -> std::io::Result<String> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut bytes = Vec::with_capacity(PROC_READ_CHUNK);
        std::fs::File::open(&path)?.read_to_end(&mut bytes)?;
        String::from_utf8(bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// What one `read` of a `/proc/net` table asks for: a busy server's table in one call.
const PROC_READ_CHUNK: usize = 256 * 1024;

fn shorten(text: &str) -> String {
    match text.char_indices().nth(REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
