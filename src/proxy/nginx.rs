//! The `nginx` driver: write the rendered server block into the proxy container, have nginx
//! test the whole configuration, and only then reload. Whatever fails after the write puts the
//! previous file back (or removes the new one), so nginx's files keep describing the routing
//! it runs, and traffic never moved.

use crate::drain;
use crate::engine::{EXEC_OUTPUT_LIMIT, EngineApi, EngineError};
use crate::spec::Deploy;

use super::driver::{Driver, DriverFuture, Switched};
use super::exec::{output_text, run, strs};
use super::reloaded::{self, RELOAD_WAIT, Seen};
use super::{Backend, Phase, ProxyError, maintenance, render};

/// Tests the configuration and prints it (`-T`), so the output also tells whether nginx
/// includes `config_path` at all.
const TEST: [&str; 2] = ["nginx", "-T"];
pub(super) const RELOAD: [&str; 3] = ["nginx", "-s", "reload"];

/// The `nginx` driver as the spec configures it.
pub(super) struct Nginx<'a> {
    pub container: &'a str,
    pub virtual_host: &'a str,
    pub config_path: &'a str,
    pub reload: Option<&'a [String]>,
}

impl Nginx<'_> {
    fn target(&self) -> Target<'_> {
        Target {
            container: self.container,
            config_path: self.config_path,
            reload: self.reload,
        }
    }
}

impl Driver for Nginx<'_> {
    fn name(&self) -> &'static str {
        "nginx"
    }

    /// The old release drains while still on FRONT_, and nginx's connections to it count too
    /// (see `drain::drain_watching`).
    fn drain_watch(&self, front: &str, port: u16) -> Option<drain::Watch> {
        Some(drain::Watch {
            proxy: self.container.to_string(),
            network: front.to_string(),
            port,
        })
    }

    fn switch<'a>(
        &'a self,
        engine: &'a dyn EngineApi,
        deploy: &'a Deploy,
        _phase: Phase,
        _changed: &'a Backend,
        backends: &'a [Backend],
        on_line: &'a mut dyn FnMut(&str),
    ) -> DriverFuture<'a, Switched> {
        Box::pin(async move {
            // Read once: the previous file to restore on failure, and whether maintenance is on.
            let previous = engine.get_file(self.container, self.config_path).await?;
            let in_maintenance = previous
                .as_deref()
                .and_then(|bytes| maintenance::message_of(&String::from_utf8_lossy(bytes)));
            // A deploy during maintenance keeps the page on: the new release waits behind it.
            let maintenance = Some(in_maintenance.is_some());
            let config = match in_maintenance {
                Some(message) => {
                    on_line(
                        "maintenance is on: the page stays up, and nginx will route to the new release at `maintenance off`",
                    );
                    maintenance::render(&deploy.app, &deploy.stage, self.virtual_host, &message)
                }
                None => render(&deploy.app, &deploy.stage, self.virtual_host, backends),
            };
            apply_over(engine, &self.target(), &config, previous, on_line).await?;
            Ok(Switched { maintenance })
        })
    }

    fn has_maintenance(&self) -> bool {
        true
    }

    fn check_maintenance_message(&self, message: &str) -> Result<(), String> {
        maintenance::check_message(message)
    }

    fn set_maintenance<'a>(
        &'a self,
        engine: &'a dyn EngineApi,
        deploy: &'a Deploy,
        message: Option<&'a str>,
        backends: &'a [Backend],
        on_line: &'a mut dyn FnMut(&str),
    ) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            let config = match message {
                Some(message) => {
                    maintenance::render(&deploy.app, &deploy.stage, self.virtual_host, message)
                }
                None => render(&deploy.app, &deploy.stage, self.virtual_host, backends),
            };
            apply(engine, &self.target(), &config, on_line).await
        })
    }

    /// The state is the file in the proxy: its maintenance message, if it holds the page.
    fn maintenance_state<'a>(
        &'a self,
        engine: &'a dyn EngineApi,
    ) -> Option<DriverFuture<'a, Option<String>>> {
        Some(Box::pin(async move {
            let file = engine.get_file(self.container, self.config_path).await?;
            Ok(file.and_then(|bytes| maintenance::message_of(&String::from_utf8_lossy(&bytes))))
        }))
    }
}

pub(super) struct Target<'a> {
    pub container: &'a str,
    pub config_path: &'a str,
    /// The spec's `reload`, when it replaces `nginx -s reload`.
    pub reload: Option<&'a [String]>,
}

/// Writes `config` to the target's `config_path`, tests, reloads, and waits for nginx's new
/// workers.
pub(super) async fn apply(
    engine: &dyn EngineApi,
    target: &Target<'_>,
    config: &str,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    // Read before anything changes: an error here leaves everything as it was.
    let previous = engine
        .get_file(target.container, target.config_path)
        .await?;
    apply_over(engine, target, config, previous, on_line).await
}

/// As `apply`, with the file's current content (`None`: no file) already read.
pub(super) async fn apply_over(
    engine: &dyn EngineApi,
    target: &Target<'_>,
    config: &str,
    previous: Option<Vec<u8>>,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    let container = target.container;
    let path = target.config_path;
    let file = File {
        engine,
        container,
        path,
        previous,
    };
    match test_and_reload(&file, target, config, on_line).await {
        Ok(()) => Ok(()),
        Err(failure) => {
            // A reload whose answer was lost (the engine failed mid-call, or it hung) may have
            // applied the new file: the previous one is then reloaded too.
            let reload = target
                .reload
                .map_or_else(|| RELOAD.join(" "), |argv| argv.join(" "));
            let unknown = match &failure {
                ProxyError::Engine(e) => {
                    matches!(&**e, EngineError::Exec { command, .. } if *command == reload)
                }
                ProxyError::Hung { argv, .. } => *argv == reload,
                _ => false,
            };
            let failure = file.restore(failure, on_line).await;
            if !unknown || failure.needs_person() {
                return Err(failure);
            }
            Err(reload_back(&file, target, failure, on_line).await)
        }
    }
}

/// Reloads nginx with the file just put back; returns `failure`, or `ReloadBack` when that
/// reload fails too.
async fn reload_back(
    file: &File<'_>,
    target: &Target<'_>,
    failure: ProxyError,
    on_line: &mut dyn FnMut(&str),
) -> ProxyError {
    let argv: Vec<&str> = target.reload.map_or_else(|| RELOAD.to_vec(), strs);
    let reason = match run(file.engine, file.container, &argv).await {
        Ok(out) if out.exit_code == 0 => {
            on_line(&format!(
                "reloaded {} with the previous {}",
                file.container, file.path
            ));
            return failure;
        }
        Ok(out) => format!("`{}` exited with {}", argv.join(" "), out.exit_code),
        Err(e) => e.to_string(),
    };
    ProxyError::ReloadBack {
        container: file.container.to_string(),
        path: file.path.to_string(),
        failure: Box::new(failure),
        reason,
    }
}

async fn test_and_reload(
    file: &File<'_>,
    target: &Target<'_>,
    config: &str,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), ProxyError> {
    let File {
        engine,
        container,
        path,
        ..
    } = *file;
    let (dir, name) = split(path);
    engine
        .put_file(container, dir, name, config.as_bytes())
        .await
        .map_err(|source| ProxyError::Write {
            container: container.to_string(),
            path: path.to_string(),
            source: Box::new(source),
        })?;
    on_line(&format!(
        "wrote {path} in {container} ({} bytes)",
        config.len()
    ));

    let tested = run(engine, container, &TEST).await?;
    if tested.exit_code != 0 {
        return Err(ProxyError::NginxTest {
            container: container.to_string(),
            path: path.to_string(),
            output: output_text(&tested),
        });
    }
    // `nginx -T` prints "# configuration file PATH:" before each file it loaded. A dump cut
    // at the output limit proves nothing either way.
    let header = format!("# configuration file {path}:");
    if !tested.stdout.contains(&header) && tested.stdout.len() < EXEC_OUTPUT_LIMIT {
        return Err(ProxyError::NotIncluded {
            container: container.to_string(),
            path: path.to_string(),
        });
    }
    on_line("nginx -t: the configuration is valid");

    let before = reloaded::before(engine, container, on_line).await;
    let argv: Vec<&str> = target.reload.map_or_else(|| RELOAD.to_vec(), strs);
    let out = run(engine, container, &argv).await?;
    if out.exit_code != 0 {
        return Err(ProxyError::Reload {
            container: container.to_string(),
            argv: argv.join(" "),
            exit_code: out.exit_code,
            output: output_text(&out),
        });
    }
    match reloaded::wait(engine, container, &before, RELOAD_WAIT).await {
        Seen::NewWorkers(after) => on_line(&format!(
            "reloaded: new nginx workers after {}ms",
            after.as_millis()
        )),
        Seen::Unknown => on_line(&format!("reloaded (`{}` exited 0)", argv.join(" "))),
        Seen::Nothing => {
            return Err(ProxyError::NotReloaded {
                container: container.to_string(),
                waited: RELOAD_WAIT,
            });
        }
    }
    Ok(())
}

/// The config file and what it held before this switch.
struct File<'a> {
    engine: &'a dyn EngineApi,
    container: &'a str,
    path: &'a str,
    previous: Option<Vec<u8>>,
}

impl File<'_> {
    /// Puts the previous content back (or removes the file when there was none) and returns
    /// `failure`, or `Restore` when that fails too.
    async fn restore(&self, failure: ProxyError, on_line: &mut dyn FnMut(&str)) -> ProxyError {
        let (dir, name) = split(self.path);
        let result = match &self.previous {
            Some(bytes) => self.engine.put_file(self.container, dir, name, bytes).await,
            None => self.remove().await,
        };
        match result {
            Ok(()) => {
                let what = if self.previous.is_some() {
                    "put the previous"
                } else {
                    "removed the new"
                };
                on_line(&format!("{what} {} back in {}", self.path, self.container));
                failure
            }
            Err(source) => ProxyError::Restore {
                container: self.container.to_string(),
                path: self.path.to_string(),
                failure: Box::new(failure),
                source: Box::new(source),
            },
        }
    }

    /// The archive API can write files but not delete them: `rm` in the container does, and
    /// where there is none an empty file (valid nginx config that routes nothing) stands in.
    async fn remove(&self) -> Result<(), crate::engine::EngineError> {
        let removed = self
            .engine
            .exec(self.container, &["rm", "-f", self.path])
            .await;
        if matches!(&removed, Ok(out) if out.exit_code == 0) {
            return Ok(());
        }
        let (dir, name) = split(self.path);
        self.engine.put_file(self.container, dir, name, b"").await
    }
}

/// `/etc/nginx/conf.d/shop.conf` → (`/etc/nginx/conf.d`, `shop.conf`). The spec only lets
/// absolute file paths through, so there is always a `/` and a name after it.
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((dir, name)) => (dir, name),
        None => (".", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_directory_and_name() {
        assert_eq!(
            split("/etc/nginx/conf.d/shop.conf"),
            ("/etc/nginx/conf.d", "shop.conf")
        );
        assert_eq!(split("/shop.conf"), ("/", "shop.conf"));
    }
}
