//! `proxy:` — which driver switches traffic and what it needs. A driver reads only some keys
//! (`Driver::uses`): a key written for another driver is an error, and a stage that switches
//! driver drops the app's keys the new driver does not read.

use super::check::Check;
use super::leaf;
use super::resolve::{Block, Resolve};
use super::table::{At, Level, Val, blocks, keys, replace};
use crate::spec::model::{DockerGen, Proxy, ProxyDriver, Verify, defaults};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::text::{closest, list, quoted};

keys! {
    /// `proxy:` as written in one layer.
    pub(super) struct ProxyLayer => () {
        driver: Driver, Both, replace, driver;
        container: String, Both, replace,
            |c, n, a| leaf::docker_name(c, n, a, "the proxy container's name");
        virtual_host: String, Both, replace, leaf::host_name;
        reload: Vec<String>, Both, replace, leaf::argv;
        config_path: String, Both, replace, leaf::config_path;
        command: Vec<String>, Both, replace, leaf::argv;
        docker_gen_container: String, Both, replace,
            |c, n, a| leaf::docker_name(c, n, a, "the docker-gen container's name");
        signal: String, Both, replace, leaf::signal;
        verify: VerifyLayer, Both, |a, s| blocks(a, s, VerifyLayer::merged), verify;
    }
}

keys! {
    /// `proxy.verify:` as written in one layer.
    pub(super) struct VerifyLayer => () {
        url: String, Both, replace, leaf::http_url;
        host: String, Both, replace, leaf::host_name;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Driver {
    NginxProxy,
    Nginx,
    Command,
    None,
}

const DRIVERS: &[&str] = &["nginx-proxy", "nginx", "command", "none"];

impl Driver {
    fn name(self) -> &'static str {
        match self {
            Driver::NginxProxy => "nginx-proxy",
            Driver::Nginx => "nginx",
            Driver::Command => "command",
            Driver::None => "none",
        }
    }

    /// Whether this driver reads the proxy key `key` (`driver` and `verify` apply to all).
    fn uses(self, key: &str) -> bool {
        match key {
            "container" | "virtual_host" | "reload" => {
                matches!(self, Driver::NginxProxy | Driver::Nginx)
            }
            "config_path" => self == Driver::Nginx,
            "docker_gen_container" | "signal" => self == Driver::NginxProxy,
            "command" => self == Driver::Command,
            _ => true,
        }
    }

    /// The drivers that read `key`, for "belongs to" messages.
    fn users(key: &str) -> String {
        let users: Vec<String> = [Driver::NginxProxy, Driver::Nginx, Driver::Command]
            .into_iter()
            .filter(|d| d.uses(key))
            .map(|d| format!("`{}`", d.name()))
            .collect();
        match users.as_slice() {
            [one] => format!("driver {one}"),
            many => format!("drivers {}", many.join(" and ")),
        }
    }
}

pub(super) fn read(check: &mut Check, node: &Node, at: &KeyPath) -> Option<ProxyLayer> {
    let entries = check.map(node, at, "a map such as {driver: nginx-proxy, ...}")?;
    Some(ProxyLayer::read(check, entries, at, Level::Both, &[]))
}

fn verify(check: &mut Check, node: &Node, at: &KeyPath) -> Option<VerifyLayer> {
    let entries = check.map(node, at, "a map such as {url: \"http://127.0.0.1/up\"}")?;
    Some(VerifyLayer::read(check, entries, at, Level::Both, &[]))
}

fn driver(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Driver> {
    let name = leaf::text(check, node, at, "a proxy driver")?;
    let driver = match name.as_str() {
        "nginx-proxy" => Driver::NginxProxy,
        "nginx" => Driver::Nginx,
        "command" => Driver::Command,
        "none" => Driver::None,
        _ => {
            let hint = closest(&name, DRIVERS)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            check.report(
                at,
                format!(
                    "unknown proxy driver {}; {hint}(drivers: {})",
                    quoted(&name),
                    list(DRIVERS)
                ),
            );
            return None;
        }
    };
    Some(driver)
}

/// When a stage names a different driver, the app's keys that it does not read are dropped
/// (e.g. `config_path` when switching to nginx-proxy).
pub(super) fn merge(mut app: ProxyLayer, stage: ProxyLayer) -> ProxyLayer {
    if let (Some(from), Some(to)) = (app.driver.value(), stage.driver.value()) {
        if from != to {
            let to = *to;
            app.retain(|key| to.uses(key));
        }
    }
    ProxyLayer::merged(app, stage)
}

/// The merged block into the model. (No block at all means driver `none`.)
pub(super) fn apply(r: &mut Resolve, proxy: &At<ProxyLayer>) {
    let p = &proxy.value;
    let verify = verify_into(r, p);
    let message = format!("`proxy` has no `driver`: set one of {}", list(DRIVERS));
    let Some(&driver) = r.required(&p.driver, Block::Proxy, &message) else {
        return;
    };
    // Keys written for another driver are errors: they would be silently ignored.
    for (key, at) in p.written() {
        if !driver.uses(key) {
            r.issue(
                at,
                format!(
                    "`{key}` is read only by {}, but this proxy's driver is `{}`",
                    Driver::users(key),
                    driver.name()
                ),
            );
        }
    }
    let container = needs(r, driver, &p.container, "container");
    let virtual_host = needs(r, driver, &p.virtual_host, "virtual_host");
    let config_path = needs(r, driver, &p.config_path, "config_path");
    let command = needs(r, driver, &p.command, "command");
    let reload = p.reload.value().cloned();
    let docker_gen = docker_gen(r, p, driver);
    let driver = match driver {
        Driver::NginxProxy => ProxyDriver::NginxProxy {
            container: container.unwrap_or_default(),
            virtual_host: virtual_host.unwrap_or_default(),
            reload,
            docker_gen,
        },
        Driver::Nginx => ProxyDriver::Nginx {
            container: container.unwrap_or_default(),
            virtual_host: virtual_host.unwrap_or_default(),
            config_path: config_path.unwrap_or_default(),
            reload,
        },
        Driver::Command => ProxyDriver::Command {
            command: command.unwrap_or_default(),
        },
        Driver::None => ProxyDriver::None,
    };
    r.deploy.proxy = Proxy { driver, verify };
}

/// The value of `key` when `driver` reads it, reporting it missing when it is absent.
fn needs<T: Clone>(r: &mut Resolve, driver: Driver, val: &Val<At<T>>, key: &str) -> Option<T> {
    if !driver.uses(key) {
        return None;
    }
    let purpose = match key {
        "container" => "the proxy container's name, e.g. `container: nginx-proxy`",
        "virtual_host" => {
            "the host name the proxy serves the app under, e.g. `virtual_host: shop.example.com`"
        }
        "config_path" => {
            "the file in the proxy container that bgdeploy writes the upstream to, \
             e.g. `config_path: /etc/nginx/conf.d/bgdeploy_shop.conf`"
        }
        _ => "the command that switches traffic, run on the host, e.g. `command: [./switch-lb.sh]`",
    };
    let message = format!("driver `{}` needs `{key}`: {purpose}", driver.name());
    r.required(val, Block::Proxy, &message).cloned()
}

/// nginx-proxy's separate docker-gen, when `docker_gen_container` names one.
fn docker_gen(r: &mut Resolve, p: &ProxyLayer, driver: Driver) -> Option<DockerGen> {
    // A wrong value is reported already; what it meant is unknown.
    let bad = |v: &Val<At<String>>| matches!(v, Val::Bad);
    if driver != Driver::NginxProxy || bad(&p.docker_gen_container) || bad(&p.signal) {
        return None;
    }
    let container = p.docker_gen_container.value();
    if let (Some(reload), Some(_)) = (p.reload.set(), container) {
        r.issue(
            &reload.at,
            "`reload` runs in the proxy container and `docker_gen_container` signals a \
             separate docker-gen; set one of the two",
        );
        return None;
    }
    match (container, p.signal.set()) {
        (None, Some(signal)) => {
            r.issue(
                &signal.at,
                "`signal` is sent to `docker_gen_container`, which is not set; name the \
                 docker-gen container, or drop `signal`",
            );
            None
        }
        (None, None) => None,
        (Some(container), signal) => Some(DockerGen {
            container: container.clone(),
            signal: signal.map_or_else(
                || defaults::DOCKER_GEN_SIGNAL.to_owned(),
                |s| s.value.clone(),
            ),
        }),
    }
}

fn verify_into(r: &mut Resolve, p: &ProxyLayer) -> Option<Verify> {
    let v = &p.verify.set()?.value;
    let url = r.required(
        &v.url,
        Block::Verify,
        "`verify` needs `url`: the address to GET through the proxy, \
         e.g. `url: http://127.0.0.1/up`",
    )?;
    Some(Verify {
        url: url.clone(),
        host: v.host.value().cloned(),
    })
}
