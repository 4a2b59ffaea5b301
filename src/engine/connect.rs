//! Finding and connecting to the engine the way the docker CLI does: `DOCKER_HOST`
//! (unix, tcp, tcp + TLS with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, ssh).

use std::path::PathBuf;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};

use super::error::EngineError;
use super::reach;
use super::ssh::{SshTarget, SshTransport};
use super::{Engine, context};
use crate::error::chain::one_line as chain;
use crate::observe::{ApiVersion, EngineInfo};

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A missing or wedged engine must fail in seconds, not after bollard's two-minute default.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// ssh starts a master connection (DNS, key exchange, auth) before the first request.
const SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Once connected, calls may legitimately take long (stopping a container waits for it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the engine is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerHost {
    /// The address as the operator wrote it (or the default), for messages.
    pub url: String,
    pub transport: Transport,
    /// How long the first calls may take before the engine counts as unreachable.
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Unix {
        path: String,
    },
    /// Plain HTTP to `host:port`.
    Tcp {
        addr: String,
    },
    /// HTTPS to `host:port` with `key.pem`, `cert.pem`, `ca.pem` from `cert_dir`.
    Tls {
        addr: String,
        cert_dir: PathBuf,
    },
    /// `docker system dial-stdio` over ssh, in sessions over one master connection.
    Ssh {
        target: SshTarget,
    },
}

impl DockerHost {
    /// The engine the docker CLI would talk to (`context::resolve`): `--context NAME`,
    /// `DOCKER_HOST`, `DOCKER_CONTEXT`, `currentContext`, the local socket.
    pub fn resolve(context_flag: Option<&str>) -> Result<DockerHost, EngineError> {
        let env = |name: &str| std::env::var(name).ok();
        let resolved =
            context::resolve(context_flag, &env).map_err(|e| EngineError::Context(Box::new(e)))?;
        if resolved.tls_from_env {
            return DockerHost::from_env_url(resolved.host);
        }
        let name = resolved.context.clone().unwrap_or_default();
        let tls_dir = match &resolved.tls_dir {
            Some(dir) if resolved.host.starts_with("tcp://") => {
                if resolved.skip_tls_verify || !dir.join("ca.pem").exists() {
                    return Err(EngineError::UnsupportedHost {
                        host: resolved.host.clone(),
                        reason: format!(
                            "docker context `{name}` does not verify the engine's certificate \
                             (SkipTLSVerify, or no ca.pem): bgdeploy always does; recreate the \
                             context with ca=…,cert=…,key=…"
                        ),
                    });
                }
                if !dir.join("cert.pem").exists() || !dir.join("key.pem").exists() {
                    return Err(EngineError::UnsupportedHost {
                        host: resolved.host.clone(),
                        reason: format!(
                            "docker context `{name}` has no client certificate (cert.pem, \
                             key.pem in {}): bgdeploy authenticates to a TLS engine with one",
                            dir.display()
                        ),
                    });
                }
                Some(dir.clone())
            }
            _ => None,
        };
        DockerHost::parse(&resolved.host, tls_dir)
    }

    /// `url` (DOCKER_HOST's value, or the default), with TLS from `DOCKER_TLS_VERIFY` and
    /// `DOCKER_CERT_PATH` as the docker CLI takes them (empty values count as unset).
    fn from_env_url(url: String) -> Result<DockerHost, EngineError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let tls = var("DOCKER_TLS_VERIFY").is_some() && url.starts_with("tcp://");
        let cert_dir = if tls {
            let dir = var("DOCKER_CERT_PATH")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".docker")));
            let Some(dir) = dir else {
                return Err(EngineError::Unreachable {
                    host: url,
                    reason: "DOCKER_TLS_VERIFY is set, but neither DOCKER_CERT_PATH nor HOME \
                             says where the certificates are"
                        .to_string(),
                });
            };
            Some(dir)
        } else {
            None
        };
        DockerHost::parse(&url, cert_dir)
    }

    /// `url` as in `DOCKER_HOST`; `tls_cert_dir` switches tcp:// to verified TLS.
    pub fn parse(url: &str, tls_cert_dir: Option<PathBuf>) -> Result<DockerHost, EngineError> {
        let unsupported = || EngineError::UnsupportedHost {
            host: url.to_string(),
            reason: "use unix:///path/docker.sock, tcp://host:port (with DOCKER_TLS_VERIFY=1 \
                     for TLS) or ssh://user@host"
                .to_string(),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(unsupported)?;
        if rest.is_empty() {
            return Err(unsupported());
        }
        let mut connect_timeout = CONNECT_TIMEOUT;
        let transport = match (scheme, tls_cert_dir) {
            ("unix", _) => Transport::Unix {
                path: rest.to_string(),
            },
            ("tcp", None) => Transport::Tcp {
                addr: with_default_port(rest, 2375),
            },
            ("tcp", Some(cert_dir)) => Transport::Tls {
                addr: with_default_port(rest, 2376),
                cert_dir,
            },
            ("ssh", _) => {
                let target =
                    SshTarget::parse(rest).map_err(|reason| EngineError::UnsupportedHost {
                        host: url.to_string(),
                        reason: format!("{reason}; write ssh://user@host or ssh://user@host:port"),
                    })?;
                connect_timeout = SSH_CONNECT_TIMEOUT;
                Transport::Ssh { target }
            }
            _ => return Err(unsupported()),
        };
        Ok(DockerHost {
            url: url.to_string(),
            transport,
            connect_timeout,
        })
    }
}

/// `host` or `host:port` (also `[v6]:port`), trailing slashes ignored.
fn with_default_port(authority: &str, port: u16) -> String {
    let authority = authority.trim_end_matches('/');
    if has_port(authority) {
        authority.to_string()
    } else {
        format!("{authority}:{port}")
    }
}

fn has_port(authority: &str) -> bool {
    match authority.trim_end_matches('/').rsplit_once(':') {
        // "[::1]" alone has colons only inside the brackets.
        Some((host, p)) => {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (!host.starts_with('[') || host.ends_with(']'))
        }
        None => false,
    }
}

/// The engine the docker CLI would pick (`--context` is `context_flag`; then `DOCKER_HOST`,
/// `DOCKER_CONTEXT`, `currentContext`, the local socket).
pub async fn connect(context_flag: Option<&str>) -> Result<Engine, EngineError> {
    connect_to(&DockerHost::resolve(context_flag)?).await
}

/// Connects, settles the API version with the engine and reads its version; fails within
/// `host.connect_timeout` when nothing answers.
pub async fn connect_to(host: &DockerHost) -> Result<Engine, EngineError> {
    let secs = host.connect_timeout.as_secs().max(1);
    let unreachable = |e: bollard::errors::Error| EngineError::Unreachable {
        host: host.url.clone(),
        reason: describe(&e, secs),
    };
    let mut ssh = None;
    let docker = match &host.transport {
        Transport::Unix { .. } => Docker::connect_with_unix(&host.url, secs, API_DEFAULT_VERSION),
        Transport::Tcp { addr } => Docker::connect_with_http(addr, secs, API_DEFAULT_VERSION),
        Transport::Tls { addr, cert_dir } => Docker::connect_with_ssl(
            addr,
            &cert_dir.join("key.pem"),
            &cert_dir.join("cert.pem"),
            &cert_dir.join("ca.pem"),
            secs,
            API_DEFAULT_VERSION,
        ),
        Transport::Ssh { target } => {
            let transport = SshTransport::start(target.clone(), host.connect_timeout)
                .await
                .map_err(|failure| EngineError::Unreachable {
                    host: host.url.clone(),
                    reason: failure.reason,
                })?;
            let docker = transport.docker(secs);
            ssh = Some(transport);
            docker
        }
    }
    .map_err(unreachable)?;
    // `/version` answers at any API version; it is slow on some engines (dockerd asks runc and
    // containerd for theirs), so the second call runs alongside the negotiation.
    // Whether bgdeploy shares the engine's network namespace is read from the default
    // bridge network at the same time.
    let (negotiated, version, bridge) = tokio::join!(
        docker.clone().negotiate_version(),
        docker.version(),
        reach::default_bridge(&docker)
    );
    // Over ssh, what the remote side said (e.g. `docker: command not found`) tells more than
    // hyper's "connection closed before message completed".
    let remote_said = |e: bollard::errors::Error| {
        let mut err = unreachable(e);
        if let (EngineError::Unreachable { reason, .. }, Some(ssh)) = (&mut err, &ssh) {
            let said = ssh.last_stderr();
            if !said.is_empty() {
                reason.push_str(&format!("; the remote host said: {said}"));
            }
        }
        err
    };
    let docker = negotiated.map_err(remote_said)?;
    let version = version.map_err(|source| EngineError::Version {
        host: host.url.clone(),
        source,
    })?;
    let negotiated = docker.client_version();
    let api = ApiVersion {
        major: u32::try_from(negotiated.major_version).unwrap_or(u32::MAX),
        minor: u32::try_from(negotiated.minor_version).unwrap_or(u32::MAX),
    };
    let info = EngineInfo {
        host: host.url.clone(),
        version: version.version.unwrap_or_else(|| "unknown".to_string()),
        api,
        // BGDEPLOY_PROBE=always: probe from the engine's side even when the engine is local
        // (to test that path on the machine's engine, or to rule out a local network path).
        local: bridge.is_some_and(|b| b.shared())
            && std::env::var("BGDEPLOY_PROBE").as_deref() != Ok("always"),
    };
    tracing::debug!(host = %host.url, local = info.local, arch = ?version.arch, "connected");
    let engine = Engine::new(
        docker.with_timeout(REQUEST_TIMEOUT),
        info,
        version.arch.unwrap_or_default(),
    );
    Ok(engine)
}

fn describe(e: &bollard::errors::Error, secs: u64) -> String {
    use bollard::errors::Error as B;
    match e {
        B::SocketNotFoundError(path) => format!("there is no socket at {path}"),
        B::RequestTimeoutError => format!("no answer within {secs}s"),
        B::APIVersionParseError {} => {
            "something answered, but not with a Docker engine's API version".to_string()
        }
        B::DockerResponseServerError {
            status_code,
            message,
        } => {
            format!("it answered {status_code} {message}; is this a Docker engine?")
        }
        other => chain(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Transport {
        DockerHost::parse(url, None).expect("supported").transport
    }

    #[test]
    fn schemes_like_the_docker_cli() {
        assert_eq!(
            parse(DEFAULT_HOST),
            Transport::Unix {
                path: "/var/run/docker.sock".into()
            }
        );
        assert_eq!(
            parse("tcp://10.0.0.5"),
            Transport::Tcp {
                addr: "10.0.0.5:2375".into()
            }
        );
        assert_eq!(
            parse("tcp://h:1234/"),
            Transport::Tcp {
                addr: "h:1234".into()
            }
        );
        assert_eq!(
            parse("tcp://[::1]"),
            Transport::Tcp {
                addr: "[::1]:2375".into()
            }
        );
        assert_eq!(
            parse("tcp://[::1]:99"),
            Transport::Tcp {
                addr: "[::1]:99".into()
            }
        );
        assert_eq!(
            parse("ssh://deploy@box:2222"),
            Transport::Ssh {
                target: SshTarget {
                    user: Some("deploy".into()),
                    host: "box".into(),
                    port: Some(2222)
                }
            }
        );
        let tls = DockerHost::parse("tcp://h", Some("/certs".into())).expect("supported");
        assert_eq!(
            tls.transport,
            Transport::Tls {
                addr: "h:2376".into(),
                cert_dir: "/certs".into()
            }
        );
    }

    #[test]
    fn rejects_what_it_cannot_speak() {
        for url in [
            "fd://",
            "npipe:////./pipe/docker_engine",
            "/var/run/docker.sock",
            "unix://",
            "ssh://me@box:x",
            "ssh://me@box/var/run/docker.sock",
        ] {
            let err = DockerHost::parse(url, None).expect_err(url);
            assert!(
                matches!(err, EngineError::UnsupportedHost { .. }),
                "{url}: {err:?}"
            );
            assert!(err.is_unreachable());
            assert!(err.to_string().contains(url));
        }
    }
}
