//! The proxy drivers against the real engine, driven directly through `proxy::switch` with
//! hand-made containers: a network `<prefix>front`, the nginx image on it with port 80
//! published on 127.0.0.1, and the demo app v1 and v2 on it. Requests go from this host to
//! that loopback port only.

mod command;
mod nginx;
mod nginx_proxy;
mod verify;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bgdeploy::engine::Engine;
use bgdeploy::proxy::Backend;
use bgdeploy::spec::{Deploy, Health, HealthCheck, Proxy, ProxyDriver, StatusRange};

use crate::harness::{DEMO_V1, DEMO_V2, NGINX, TestEnv, docker, require_engine, require_images};

/// The host name the proxy routes to the app in these tests.
pub const HOST: &str = "shop.test";

/// `None` (after saying why) unless the engine runs here: the tests reach the proxy through a
/// port published on this host's loopback.
pub async fn local_engine() -> Option<Engine> {
    let engine = require_engine().await?;
    if !engine.info().local {
        eprintln!("SKIPPED: these tests reach the proxy through a port published on 127.0.0.1");
        return None;
    }
    require_images();
    Some(engine)
}

/// A proxy and two releases of the demo app on one front network.
pub struct Fixture {
    pub env: TestEnv,
    pub proxy: String,
    /// The proxy's port 80, published on 127.0.0.1.
    pub port: u16,
    pub v1: Backend,
    pub v2: Backend,
}

impl Fixture {
    pub async fn new(engine: &Engine) -> Fixture {
        let env = TestEnv::new();
        let front = env.name("front");
        env.network(&front).create();
        let proxy = env.name("proxy");
        env.container(&proxy)
            .image(NGINX)
            .network(&front)
            .arg("-p")
            .arg("127.0.0.1::80")
            .run();
        let mut backends = Vec::new();
        for (suffix, image) in [("v1", DEMO_V1), ("v2", DEMO_V2)] {
            let name = env.name(suffix);
            env.container(&name).image(image).network(&front).run();
            let addr = SocketAddr::new(address(engine, &name, &front).await, 8080);
            backends.push(Backend {
                container: name,
                addr,
            });
        }
        let published = docker(&["port", &proxy, "80/tcp"]);
        let port = published
            .lines()
            .find_map(|l| l.strip_prefix("127.0.0.1:")?.parse().ok())
            .unwrap_or_else(|| panic!("no 127.0.0.1 port in `docker port`: {published}"));
        let v2 = backends.pop().expect("v2");
        let v1 = backends.pop().expect("v1");
        wait_for(|| matches!(get(port, "any", "/__bgdeploy_proxy_health"), Ok((200, _))));
        Fixture {
            env,
            proxy,
            port,
            v1,
            v2,
        }
    }

    /// GET `path` through the proxy with `Host: HOST`.
    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        get(self.port, HOST, path)
    }

    /// The file's content in the proxy, `None` when it does not exist.
    pub fn read(&self, path: &str) -> Option<String> {
        let out = crate::harness::docker_output(&["exec", &self.proxy, "cat", path]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

async fn address(engine: &Engine, container: &str, network: &str) -> IpAddr {
    let details = engine
        .inspect_container(container)
        .await
        .expect("inspect")
        .expect("the container");
    details
        .endpoints
        .iter()
        .find(|e| e.network == network)
        .and_then(|e| e.ip.as_deref()?.parse().ok())
        .unwrap_or_else(|| panic!("{container} has no address on {network}"))
}

fn wait_for(mut ready: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < give_up, "not ready within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.0 request (so no chunked answer to decode) on a fresh connection to
/// 127.0.0.1:`port`: the status and the body.
pub fn get(port: u16, host: &str, path: &str) -> Result<(u16, String), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")
        .map_err(|e| format!("sending: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("reading: {e} after {answer:?}"))?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {answer:?}"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

/// A deploy of app `shop`, stage `production`, through `driver`.
pub fn deploy(driver: ProxyDriver) -> Deploy {
    Deploy {
        app: "shop".into(),
        stage: "production".into(),
        image: DEMO_V1.into(),
        port: 8080,
        command: None,
        env: BTreeMap::new(),
        secrets: Vec::new(),
        networks: Vec::new(),
        health: Health {
            check: HealthCheck::Http {
                path: "/up".into(),
                expect: StatusRange {
                    low: 200,
                    high: 399,
                },
            },
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            healthy: 2,
            deadline: Duration::from_secs(5),
        },
        proxy: Proxy {
            driver,
            verify: None,
        },
        front_internal: true,
        drain: Duration::from_secs(5),
        stop_timeout: Duration::from_secs(10),
        keep: 2,
        container: Default::default(),
        hooks: Default::default(),
        hosts: Default::default(),
        rollout: Default::default(),
    }
}

/// Progress lines of a switch, for assertions and for the test's output.
pub fn collect(lines: &mut Vec<String>) -> impl FnMut(&str) + '_ {
    |line| {
        eprintln!("  proxy: {line}");
        lines.push(line.to_string());
    }
}
