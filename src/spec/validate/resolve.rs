//! One stage's merged settings → the `Deploy` the planner uses: defaults applied, required
//! keys present, and the checks that need the whole picture (which driver reads which key,
//! `expect` without an http check, a secret also in `env`).
//!
//! A missing required key is returned as `Missing` rather than reported, because where to
//! report it depends on the other stages: once on the app when no stage has it, otherwise on
//! each stage that lacks it (`validate::app`).

use std::collections::BTreeMap;

use super::check::Issue;
use super::layer::{At, Driver, HealthLayer, Layer, Mode, ProxyLayer, Val};
use crate::spec::model::{
    Deploy, DockerGen, Health, HealthCheck, Proxy, ProxyDriver, Verify, defaults,
};
use crate::spec::path::KeyPath;
use crate::spec::text::list;

/// Which block a missing key belongs in, to point at the block when it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Block {
    App,
    Health,
    Proxy,
    Verify,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Missing {
    pub block: Block,
    pub message: String,
}

#[derive(Default)]
pub(super) struct Resolved {
    pub deploy: Option<Deploy>,
    pub issues: Vec<Issue>,
    pub missing: Vec<Missing>,
}

pub(super) fn resolve(layer: &Layer, app: &str, stage: &str) -> Resolved {
    let mut r = Resolver::default();
    let image = r.required(
        &layer.image,
        Block::App,
        "`image` is not set: the Docker image to run, e.g. `image: shop:1.4.2`",
    );
    let port = r.required(
        &layer.port,
        Block::App,
        "`port` is not set: the port the app listens on inside its container, e.g. `port: 8080`",
    );
    let health = r.health(&layer.health, port.copied());
    let proxy = r.proxy(&layer.proxy);
    let env: BTreeMap<String, String> = layer
        .env
        .iter()
        .map(|(name, value)| (name.clone(), value.value.clone()))
        .collect();
    let secrets = layer.secrets.set().cloned().unwrap_or_default();
    for secret in &secrets {
        if env.contains_key(&secret.value) {
            r.issue(
                &secret.at,
                format!(
                    "`{}` is both a secret and in `env`; keep it in one place \
                     (a secret's value is read from bgdeploy's environment)",
                    secret.value
                ),
            );
        }
    }
    let container = super::settings_resolve::resolve(&layer.settings, &mut |at, message| {
        r.issues.push(Issue {
            at: at.clone(),
            message,
        })
    });
    let deploy = match (image, port, health, proxy) {
        (Some(image), Some(port), Some(health), Some(proxy)) if r.issues.is_empty() => {
            Some(Deploy {
                app: app.to_owned(),
                stage: stage.to_owned(),
                image: image.clone(),
                port: *port,
                command: layer.command.set().cloned(),
                env,
                secrets: secrets.into_iter().map(|s| s.value).collect(),
                networks: layer.networks.set().cloned().unwrap_or_default(),
                health,
                proxy,
                front_internal: value_or(&layer.front_internal, defaults::FRONT_INTERNAL),
                ipv6: layer.ipv6.set().cloned().flatten(),
                drain: value_or(&layer.drain, defaults::DRAIN),
                stop_timeout: value_or(&layer.stop_timeout, defaults::STOP_TIMEOUT),
                keep: value_or(&layer.keep, defaults::KEEP),
                container,
                hooks: super::hooks::resolve(layer.hooks.set()),
            })
        }
        _ => None,
    };
    Resolved {
        deploy,
        issues: r.issues,
        missing: r.missing,
    }
}

fn value_or<T: Copy>(val: &Val<T>, default: T) -> T {
    val.set().copied().unwrap_or(default)
}

#[derive(Default)]
struct Resolver {
    issues: Vec<Issue>,
    missing: Vec<Missing>,
}

impl Resolver {
    fn issue(&mut self, at: &KeyPath, message: String) {
        self.issues.push(Issue {
            at: at.clone(),
            message,
        });
    }

    fn required<'v, T>(&mut self, val: &'v Val<T>, block: Block, message: &str) -> Option<&'v T> {
        if let Val::Absent = val {
            self.missing.push(Missing {
                block,
                message: message.to_owned(),
            });
        }
        val.set()
    }

    /// No `health` block means `tcp: true`: a container that does not even accept
    /// connections on its port must not get traffic, and every app has a port.
    fn health(&mut self, health: &Val<HealthLayer>, port: Option<u16>) -> Option<Health> {
        let h = match health {
            Val::Absent => {
                return port.map(|port| Health {
                    check: HealthCheck::Tcp { port },
                    interval: defaults::INTERVAL,
                    timeout: defaults::TIMEOUT,
                    healthy: defaults::HEALTHY,
                    deadline: defaults::DEADLINE,
                });
            }
            Val::Bad => return None,
            Val::Set(h) => h,
        };
        let mode = self.required(
            &h.mode,
            Block::Health,
            "`health` does not say what to check: set exactly one of `http: /up`, \
             `tcp: true`, `cmd: [...]` or `docker: true`",
        )?;
        if let (Val::Set(expect), false) = (&h.expect, matches!(mode.value, Mode::Http(_))) {
            self.issue(
                &expect.at,
                format!(
                    "`expect` applies only to `http` checks, and this check is `{}`",
                    mode.value.name()
                ),
            );
        }
        let check = match &mode.value {
            Mode::Http(path) => HealthCheck::Http {
                path: path.clone(),
                expect: h.expect.set().map_or(defaults::EXPECT, |e| e.value),
            },
            Mode::Tcp(Some(port)) => HealthCheck::Tcp { port: *port },
            Mode::Tcp(None) => HealthCheck::Tcp { port: port? },
            Mode::Cmd(argv) => HealthCheck::Cmd { argv: argv.clone() },
            Mode::Docker => HealthCheck::Docker,
        };
        Some(Health {
            check,
            interval: value_or(&h.interval, defaults::INTERVAL),
            timeout: value_or(&h.timeout, defaults::TIMEOUT),
            healthy: value_or(&h.healthy, defaults::HEALTHY),
            deadline: value_or(&h.deadline, defaults::DEADLINE),
        })
    }

    /// No `proxy` block means driver `none`; a written block must name its driver.
    fn proxy(&mut self, proxy: &Val<ProxyLayer>) -> Option<Proxy> {
        let p = match proxy {
            Val::Absent => {
                return Some(Proxy {
                    driver: ProxyDriver::None,
                    verify: None,
                });
            }
            Val::Bad => return None,
            Val::Set(p) => p,
        };
        let verify = self.verify(p);
        let driver = self
            .required(
                &p.driver,
                Block::Proxy,
                &format!(
                    "`proxy` has no `driver`: set one of {}",
                    list(super::layer::DRIVERS)
                ),
            )?
            .value;
        self.foreign_keys(p, driver);
        let container = self.needs(driver, &p.container, "container");
        let virtual_host = self.needs(driver, &p.virtual_host, "virtual_host");
        let config_path = self.needs(driver, &p.config_path, "config_path");
        let command = self.needs(driver, &p.command, "command");
        let reload = p.reload.set().map(|r| r.value.clone());
        let docker_gen = self.docker_gen(p, driver);
        let driver = match driver {
            Driver::NginxProxy => ProxyDriver::NginxProxy {
                container: container?,
                virtual_host: virtual_host?,
                reload,
                docker_gen: docker_gen?,
            },
            Driver::Nginx => ProxyDriver::Nginx {
                container: container?,
                virtual_host: virtual_host?,
                config_path: config_path?,
                reload,
            },
            Driver::Command => ProxyDriver::Command { command: command? },
            Driver::None => ProxyDriver::None,
        };
        Some(Proxy {
            driver,
            verify: verify?,
        })
    }

    /// Keys written for another driver are errors: they would be silently ignored.
    fn foreign_keys(&mut self, p: &ProxyLayer, driver: Driver) {
        let written = [
            ("container", p.container.set().map(|v| &v.at)),
            ("virtual_host", p.virtual_host.set().map(|v| &v.at)),
            ("reload", p.reload.set().map(|v| &v.at)),
            ("config_path", p.config_path.set().map(|v| &v.at)),
            ("command", p.command.set().map(|v| &v.at)),
            (
                "docker_gen_container",
                p.docker_gen_container.set().map(|v| &v.at),
            ),
            ("signal", p.signal.set().map(|v| &v.at)),
        ];
        for (key, at) in written {
            if let Some(at) = at.filter(|_| !driver.uses(key)) {
                self.issue(
                    at,
                    format!(
                        "`{key}` is read only by {}, but this proxy's driver is `{}`",
                        Driver::users(key),
                        driver.name()
                    ),
                );
            }
        }
    }

    /// nginx-proxy's separate docker-gen: `Some(None)` when there is none (or the driver is
    /// another one); `None` when the keys contradict each other.
    fn docker_gen(&mut self, p: &ProxyLayer, driver: Driver) -> Option<Option<DockerGen>> {
        if driver != Driver::NginxProxy {
            return Some(None);
        }
        if matches!(p.docker_gen_container, Val::Bad) || matches!(p.signal, Val::Bad) {
            return None;
        }
        let container = p.docker_gen_container.set();
        if let (Some(reload), Some(_)) = (p.reload.set(), container) {
            self.issue(
                &reload.at,
                "`reload` runs in the proxy container and `docker_gen_container` signals a \
                 separate docker-gen; set one of the two"
                    .to_owned(),
            );
            return None;
        }
        match (container, p.signal.set()) {
            (None, Some(signal)) => {
                self.issue(
                    &signal.at,
                    "`signal` is sent to `docker_gen_container`, which is not set; name the \
                     docker-gen container, or drop `signal`"
                        .to_owned(),
                );
                None
            }
            (None, None) => Some(None),
            (Some(container), signal) => Some(Some(DockerGen {
                container: container.value.clone(),
                signal: signal.map_or_else(
                    || defaults::DOCKER_GEN_SIGNAL.to_owned(),
                    |s| s.value.clone(),
                ),
            })),
        }
    }

    /// The value of `key` when `driver` reads it, reporting it missing when it is absent.
    fn needs<T: Clone>(&mut self, driver: Driver, val: &Val<At<T>>, key: &str) -> Option<T> {
        if !driver.uses(key) {
            return None;
        }
        let purpose = match key {
            "container" => "the proxy container's name, e.g. `container: nginx-proxy`",
            "virtual_host" => {
                "the host name the proxy serves the app under, \
                               e.g. `virtual_host: shop.example.com`"
            }
            "config_path" => {
                "the file in the proxy container that bgdeploy writes the \
                              upstream to, e.g. `config_path: /etc/nginx/conf.d/bgdeploy_shop.conf`"
            }
            _ => {
                "the command that switches traffic, run on the host, \
                  e.g. `command: [./switch-lb.sh]`"
            }
        };
        let message = format!("driver `{}` needs `{key}`: {purpose}", driver.name());
        self.required(val, Block::Proxy, &message)
            .map(|v| v.value.clone())
    }

    /// `Some(None)` when there is no `verify`; `None` when it is incomplete or wrong.
    fn verify(&mut self, p: &ProxyLayer) -> Option<Option<Verify>> {
        let v = match &p.verify {
            Val::Absent => return Some(None),
            Val::Bad => return None,
            Val::Set(v) => v,
        };
        let url = self.required(
            &v.url,
            Block::Verify,
            "`verify` needs `url`: the address to GET through the proxy, \
             e.g. `url: http://127.0.0.1/up`",
        )?;
        if let Val::Bad = v.host {
            return None;
        }
        Some(Some(Verify {
            url: url.clone(),
            host: v.host.set().cloned(),
        }))
    }
}
