//! Why a proxy switch or its verification failed: one variant per failure, each saying what
//! failed, what state the proxy is left in, and what to do.

use std::time::Duration;

use crate::engine::EngineError;

fn dur(d: &Duration) -> humantime::FormattedDuration {
    humantime::format_duration(*d)
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "maintenance mode needs proxy driver `nginx` or `command`; this app/stage uses `{driver}`"
    )]
    NoMaintenance { driver: &'static str },

    #[error(
        "cannot write the nginx config `{path}` into the proxy container `{container}`: check \
         that its directory exists there and that nginx includes it (e.g. \
         `include /etc/nginx/conf.d/*.conf;` in the http block)"
    )]
    Write {
        container: String,
        path: String,
        source: Box<EngineError>,
    },

    #[error(
        "nginx in `{container}` rejected its configuration with the new `{path}` (`nginx -t`), \
         so traffic was not moved and the previous file is back in place:\n{output}"
    )]
    NginxTest {
        container: String,
        path: String,
        output: String,
    },

    #[error(
        "nginx in `{container}` does not load `{path}`: no include in its configuration matches \
         it, so the server block would never route anything. Point config_path at a file nginx \
         includes (e.g. /etc/nginx/conf.d/NAME.conf when nginx.conf has \
         `include /etc/nginx/conf.d/*.conf;`); the previous file is back in place"
    )]
    NotIncluded { container: String, path: String },

    #[error(
        "the reload command `{argv}` in `{container}` exited with code {exit_code}; nginx keeps \
         its previous configuration:\n{output}"
    )]
    Reload {
        container: String,
        argv: String,
        exit_code: i64,
        output: String,
    },

    #[error(
        "nginx in `{container}` started no new worker processes within {} of the reload: its \
         master process did not apply the new configuration (a port it cannot bind, a file it \
         cannot read, ...); see `docker logs {container}`",
        dur(waited)
    )]
    NotReloaded { container: String, waited: Duration },

    #[error(
        "docker-gen could not render nginx-proxy's template in `{container}` (`{argv}` exited \
         with code {exit_code}). If `{container}` is not nginx-proxy's own image, set \
         proxy.reload (a command run in it) or proxy.docker_gen_container (a separate docker-gen \
         container to signal):\n{output}"
    )]
    DockerGen {
        container: String,
        argv: String,
        exit_code: i64,
        output: String,
    },

    #[error(
        "`{argv}` in `{container}` did not finish within {}; it may still be running there \
         (the engine cannot stop a command it runs in a container)",
        dur(waited)
    )]
    Hung {
        container: String,
        argv: String,
        waited: Duration,
    },

    #[error(
        "cannot run the proxy command `{argv}`: {source}. Check the path (a relative one starts \
         from the directory bgdeploy runs in) and that the file is executable"
    )]
    CommandStart {
        argv: String,
        source: std::io::Error,
    },

    #[error("the proxy command `{argv}` failed ({status}); its last lines:\n{output}")]
    Command {
        argv: String,
        /// "exit code 3" or "killed by signal 9".
        status: String,
        /// `None` when a signal ended it.
        exit_code: Option<i32>,
        output: String,
    },

    #[error(
        "the proxy command `{argv}` did not finish within {} and was killed, with every \
         process it started; its last lines:\n{output}",
        dur(waited)
    )]
    CommandTimeout {
        argv: String,
        waited: Duration,
        output: String,
    },

    #[error(
        "verifying through the proxy failed: GET {url}{} did not answer {expect} {needed} time(s) \
         in a row within {}; {attempts} attempt(s), the last: {last}",
        host.as_deref().map(|h| format!(" with Host: {h}")).unwrap_or_default(),
        dur(deadline)
    )]
    Verify {
        url: String,
        host: Option<String>,
        expect: String,
        needed: u32,
        last: String,
        attempts: u32,
        deadline: Duration,
    },

    #[error("cannot verify through the proxy: `{url}` is not usable: {reason}")]
    VerifyUrl { url: String, reason: String },

    #[error(
        "could not put the previous `{path}` back in `{container}` after this failure: \
         {failure}\nnginx still runs its previous configuration, but the file on disk is the \
         rejected one and the next reload would load it or fail: restore or remove \
         `{path}` by hand"
    )]
    Restore {
        container: String,
        path: String,
        failure: Box<ProxyError>,
        source: Box<EngineError>,
    },

    /// A reload whose answer was lost may have applied the new file: after the previous one
    /// was put back, reloading again failed too, so what nginx runs is unknown.
    #[error(
        "{failure}\nthe reload's answer was lost, so nginx in `{container}` may run the new \
         `{path}`; the previous one is back, but reloading it failed too ({reason}): check \
         `{path}` and reload nginx by hand"
    )]
    ReloadBack {
        container: String,
        path: String,
        failure: Box<ProxyError>,
        reason: String,
    },

    /// Boxed, like every engine error kept in another error: bollard's errors are large.
    #[error(transparent)]
    Engine(Box<EngineError>),
}

impl From<EngineError> for ProxyError {
    fn from(e: EngineError) -> Self {
        ProxyError::Engine(Box::new(e))
    }
}

impl ProxyError {
    /// The proxy's files may be left in a state nobody chose: a person must look (exit 10).
    /// After any other failure nginx runs the configuration it ran before the switch.
    pub fn needs_person(&self) -> bool {
        matches!(
            self,
            ProxyError::Restore { .. } | ProxyError::ReloadBack { .. }
        )
    }
}
