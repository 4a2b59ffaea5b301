//! The proxy container of the in-memory engine: the commands bgdeploy runs in it (`nginx -T`,
//! `nginx -t`, the reload, docker-gen's render, `rm -f`) answered from its files, and which
//! releases its nginx routes to. nginx-proxy's docker-gen also regenerates by itself on a
//! container's start, stop and removal (its `-watch`), not on network changes.

use super::model::{Ctr, World};
use crate::engine::{ExecOutput, Process};
use crate::proxy::NGINX_PROXY_CONFIG;

const NGINX_DIR: &str = "/etc/nginx/";

fn out(exit_code: i64, stdout: String) -> ExecOutput {
    ExecOutput {
        exit_code,
        stdout,
        stderr: String::new(),
    }
}

/// What `argv` does in the proxy container `name` (running).
pub(super) fn exec(world: &mut World, name: &str, argv: &[&str]) -> ExecOutput {
    match argv {
        ["nginx", "-T"] => {
            let Some(c) = world.containers.get(name) else {
                return out(1, String::new());
            };
            out(0, dump(c))
        }
        ["nginx", "-t"] => out(0, String::new()),
        ["nginx", "-s", "reload"] => {
            reload(world, name);
            out(0, String::new())
        }
        ["docker-gen", _, path] => {
            let text = render(world, name);
            if let Some(c) = world.containers.get_mut(name) {
                c.files.insert((*path).to_string(), text.into_bytes());
            }
            out(0, String::new())
        }
        ["rm", "-f", path] => {
            if let Some(c) = world.containers.get_mut(name) {
                c.files.remove(*path);
            }
            out(0, String::new())
        }
        _ => out(127, String::new()),
    }
}

/// `nginx -T`: every configuration file, each after its header.
fn dump(c: &Ctr) -> String {
    c.files
        .iter()
        .filter(|(path, _)| path.starts_with(NGINX_DIR))
        .map(|(path, text)| {
            format!(
                "# configuration file {path}:\n{}\n",
                String::from_utf8_lossy(text)
            )
        })
        .collect()
}

/// nginx loads its files and starts a new generation of workers.
fn reload(world: &mut World, name: &str) {
    if let Some(c) = world.containers.get_mut(name) {
        let loaded = dump(c);
        if let Some(p) = &mut c.proxy {
            p.loaded = loaded;
            p.generation += 1;
        }
    }
}

/// docker-gen's view: every running container with `VIRTUAL_HOST`, at its address on each
/// network it shares with the proxy.
fn render(world: &World, proxy: &str) -> String {
    let Some(p) = world.containers.get(proxy) else {
        return String::new();
    };
    let mut text = String::from("# rendered by the fake docker-gen\n");
    for c in world.containers.values().filter(|c| c.running()) {
        let (Some(_), port) = (c.env("VIRTUAL_HOST"), c.env("VIRTUAL_PORT").unwrap_or("80")) else {
            continue;
        };
        for e in &c.endpoints {
            if p.ip_on(&e.network).is_some() {
                text.push_str(&format!("server {}:{port}; # {}\n", e.ip, c.name));
            }
        }
    }
    text
}

/// docker-gen's `-watch`: after a container started, stopped or went, a running nginx-proxy
/// renders and reloads.
pub(super) fn container_event(world: &mut World) {
    let proxies: Vec<String> = world
        .containers
        .values()
        .filter(|c| c.running() && c.proxy.as_ref().is_some_and(|p| p.kind == "nginx-proxy"))
        .map(|c| c.name.clone())
        .collect();
    for name in proxies {
        let text = render(world, &name);
        if let Some(c) = world.containers.get_mut(&name) {
            c.files
                .insert(NGINX_PROXY_CONFIG.to_string(), text.into_bytes());
        }
        reload(world, &name);
    }
}

/// The processes `ps` shows: nginx's master and one worker of the current generation.
pub(super) fn processes(c: &Ctr) -> Vec<Process> {
    match &c.proxy {
        Some(p) => vec![
            Process {
                pid: 1,
                command: "nginx: master process nginx -g daemon off;".into(),
            },
            Process {
                pid: 1000 + p.generation,
                command: "nginx: worker process".into(),
            },
        ],
        None => vec![Process {
            pid: 1,
            command: c.image.clone(),
        }],
    }
}

/// Whether the proxy's running nginx sends traffic to `addr` (`ip:port`).
pub fn routes_to(proxy: &Ctr, addr: &str) -> bool {
    proxy.proxy.as_ref().is_some_and(|p| {
        p.loaded.contains(&format!("{addr};")) || p.loaded.contains(&format!("{addr} "))
    })
}
