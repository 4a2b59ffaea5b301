//! A fleet for tests (DESIGN.md §9, issue 12): three test hosts, each with the demo images and
//! its own nginx proxy published on the host's address, and a real nginx load balancer in the
//! test's namespace spreading requests over the hosts' proxies — the seed's topology.
//!
//! The hosts (`it<pid>-f1` … `-f3`, Engine 20) are started concurrently on first use and shared
//! by the fleet tests of one process, removed at exit like every test host (`.ci/run` removes
//! them after a crash: its `TEST_HOST_RE` matches the names). Each `Fleet` is one test's: one
//! prefix on every host (one spec names the app and the proxy container for all of them), its
//! proxies and its load balancer, all removed when it is dropped, also after a panic.
//!
//! The load balancer has `proxy_next_upstream off` and `max_fails=0`: a request a host's proxy
//! refuses, resets or answers with a 5xx reaches the client as a failure instead of being
//! retried on another host or hidden by taking the host out of rotation — the tests must prove
//! zero failed requests, not a balancer that papers over them. (A production balancer would
//! retry; `fleet_load_balancer_does_not_hide_a_failing_host` shows this one does not.)

use std::net::{SocketAddr, TcpListener};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::cli::BgDeploy;
use super::load::{Load, get, request};
use super::testhost::{EngineVersion, Slot, TestHost, Transport, pid_base36, start_named};
use super::{DEMO_HC, DEMO_V1, DEMO_V2, NGINX, TestEnv, require_images};

/// How many test hosts a fleet has.
pub const FLEET_SIZE: usize = 3;

/// How the fleet's hosts are reached by default: one of each remote transport.
pub const TRANSPORTS: [Transport; FLEET_SIZE] = [Transport::Tcp, Transport::Tls, Transport::Ssh];

/// The fleet's test hosts with the demo images, started on first use (concurrently); `None`
/// where no test host can run and `CI` is unset.
pub fn fleet_hosts() -> Option<Vec<&'static TestHost>> {
    static HOSTS: OnceLock<Vec<Slot>> = OnceLock::new();
    let slots = HOSTS.get_or_init(|| {
        let pid = pid_base36(std::process::id());
        std::thread::scope(|s| {
            let started: Vec<_> = (1..=FLEET_SIZE)
                .map(|i| {
                    let name = format!("it{pid}-f{i}");
                    s.spawn(move || start_named(name, EngineVersion::E20))
                })
                .collect();
            started
                .into_iter()
                .map(|h| h.join().expect("starting a fleet test host"))
                .collect()
        })
    });
    let hosts = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| slot.ready(&format!("fleet test host f{}", i + 1)))
        .collect::<Option<Vec<&TestHost>>>()?;
    require_images();
    // `load_images` copies once per host and process; concurrently, the three copies overlap.
    std::thread::scope(|s| {
        for host in &hosts {
            s.spawn(|| host.load_images(&[DEMO_V1, DEMO_V2, DEMO_HC, NGINX]));
        }
    });
    Some(hosts)
}

/// One host of a `Fleet`.
pub struct FleetHost {
    /// Its name in the spec's `hosts:` (`h1`, `h2`, …), in rollout order.
    pub name: String,
    pub host: &'static TestHost,
    /// How bgdeploy reaches it.
    pub transport: Transport,
    /// This test's objects on it; bgdeploy run from here reaches only this host (DOCKER_HOST).
    pub env: TestEnv,
    /// Its nginx proxy's port 80, published on the host's address (reachable from here).
    pub addr: SocketAddr,
}

impl FleetHost {
    /// `GET /version` through this host's own proxy: the body when it answered 200.
    pub fn version(&self) -> Option<String> {
        get(self.addr, "/version")
    }

    /// The spec's value for this host in `hosts:`.
    pub fn engine_yaml(&self) -> String {
        let host = self.host;
        match self.transport {
            Transport::Unix => host.unix_url(),
            Transport::Tcp => host.tcp_url(),
            Transport::Ssh => host.ssh_url(),
            Transport::SshNoForwarding => format!("ssh://root@{}:2222", host.ip()),
            Transport::Tls => format!(
                "{{url: \"{}\", cert_path: \"{}\"}}",
                host.tls_url(),
                host.cert_dir().display()
            ),
        }
    }
}

/// One test's fleet: its proxies on every host, its load balancer, its app's name.
pub struct Fleet {
    /// The machine's engine, with the prefix shared by every host: the load balancer, and the
    /// working directory of fleet-wide bgdeploy runs.
    pub local: TestEnv,
    pub hosts: Vec<FleetHost>,
    /// The proxy container's name (the same on every host).
    pub proxy: String,
    /// The app's name (`<prefix>shop`); its stage is `stage`.
    pub app: String,
    /// The load balancer: 127.0.0.1:PORT, `Host: shop.test` routes to the app.
    pub lb: SocketAddr,
}

impl Fleet {
    /// A fleet over tcp, TLS and ssh (`TRANSPORTS`); `None` where test hosts cannot run.
    pub fn start() -> Option<Fleet> {
        Fleet::start_over(&TRANSPORTS)
    }

    /// A fleet whose host N is reached over `transports[N]`.
    pub fn start_over(transports: &[Transport; FLEET_SIZE]) -> Option<Fleet> {
        let test_hosts = fleet_hosts()?;
        let local = TestEnv::new();
        let proxy = local.name("proxy");
        let app = local.name("shop");
        let hosts: Vec<FleetHost> = test_hosts
            .into_iter()
            .zip(transports)
            .enumerate()
            .map(|(i, (host, &transport))| FleetHost {
                name: format!("h{}", i + 1),
                host,
                transport,
                env: local.sibling(Some((host, transport))),
                addr: SocketAddr::new(host.ip().into(), 0),
            })
            .collect();
        // Built before anything starts: if a proxy or the balancer fails, dropping the fleet
        // removes what did start.
        let mut fleet = Fleet {
            local,
            hosts,
            proxy,
            app,
            lb: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let addrs: Vec<SocketAddr> = std::thread::scope(|s| {
            let started: Vec<_> = fleet
                .hosts
                .iter()
                .map(|h| s.spawn(|| start_proxy(h, &fleet.proxy)))
                .collect();
            started
                .into_iter()
                .map(|t| t.join().expect("starting a host's proxy"))
                .collect()
        });
        for (h, addr) in fleet.hosts.iter_mut().zip(addrs) {
            h.addr = addr;
        }
        fleet.lb = start_balancer(&fleet.local, &fleet.hosts);
        Some(fleet)
    }

    /// The spec's `hosts:` block, indented for an app (4 spaces).
    pub fn hosts_yaml(&self) -> String {
        self.hosts_yaml_of(&self.hosts.iter().collect::<Vec<_>>())
    }

    /// `hosts:` naming only `hosts`.
    pub fn hosts_yaml_of(&self, hosts: &[&FleetHost]) -> String {
        let mut yaml = String::from("    hosts:\n");
        for h in hosts {
            yaml.push_str(&format!("      {}: {}\n", h.name, h.engine_yaml()));
        }
        yaml
    }

    /// The quickstart's spec for the fleet (nginx driver, the shared proxy container, health on
    /// `/up`), with `hosts:` and `extra` (lines at the app's level, e.g. `rollout:`).
    pub fn spec(&self, extra: &str) -> String {
        self.spec_with_hosts(&self.hosts_yaml(), extra)
    }

    /// The same spec without `hosts:`: what bgdeploy deploys to one host (DOCKER_HOST).
    pub fn single_host_spec(&self, extra: &str) -> String {
        self.spec_with_hosts("", extra)
    }

    /// The spec with `hosts` (a `hosts:` block as `hosts_yaml` makes, or anything else).
    pub fn spec_with_hosts(&self, hosts: &str, extra: &str) -> String {
        let (app, proxy) = (&self.app, &self.proxy);
        format!(
            "apps:\n  {app}:\n    image: {DEMO_V1}\n    port: 8080\n    health: {{http: /up, interval: 100ms, deadline: 30s}}\n    proxy:\n      driver: nginx\n      container: {proxy}\n      virtual_host: shop.test\n      config_path: /etc/nginx/conf.d/{app}.conf\n    drain: 5s\n    stop_timeout: 2s\n    keep: 2\n{hosts}{extra}    stages:\n      stage: {{}}\n"
        )
    }

    /// bgdeploy for the whole fleet: run in the fleet's directory, with no DOCKER_HOST or
    /// context of the developer's — the spec's `hosts:` names the engines.
    pub fn bgdeploy(&self) -> BgDeploy<'_> {
        TestHost::INHERITED
            .iter()
            .fold(self.local.bgdeploy(), |run, key| run.env_remove(key))
            .timeout(Duration::from_secs(240))
    }

    /// Requests through the load balancer until `finish` (at most 5 minutes).
    pub fn load(&self) -> Load {
        Load::start_for(self.lb, Duration::from_secs(300))
    }

    /// What each host's own proxy answers on `/version`, by host name.
    pub fn versions(&self) -> Vec<(String, Option<String>)> {
        self.hosts
            .iter()
            .map(|h| (h.name.clone(), h.version()))
            .collect()
    }

    /// Every host's proxy answers `version` (and so does the load balancer).
    pub fn assert_serving(&self, version: &str) {
        let want: Vec<(String, Option<String>)> = self
            .hosts
            .iter()
            .map(|h| (h.name.clone(), Some(version.to_string())))
            .collect();
        assert_eq!(self.versions(), want, "what each host's proxy serves");
        assert_eq!(
            get(self.lb, "/version").as_deref(),
            Some(version),
            "what the load balancer serves"
        );
    }
}

/// The nginx proxy on `h`'s `bridge`, port 80 published on the host's address; waits until it
/// answers there.
fn start_proxy(h: &FleetHost, name: &str) -> SocketAddr {
    h.env.container(name).image(NGINX).arg("-p").arg("80").run();
    let published = h.env.docker(&["port", name, "80/tcp"]);
    let port: u16 = published
        .lines()
        .find_map(|l| l.rsplit_once(':')?.1.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no published port in `docker port` on {}: {published}",
                h.name
            )
        });
    let addr = SocketAddr::new(h.host.ip().into(), port);
    wait_for(
        addr,
        "/__bgdeploy_proxy_health",
        &format!("{}'s proxy", h.name),
    );
    addr
}

/// The load balancer: a `bgdeploy-nginx` on the machine's engine in the host's network
/// namespace (this test's), on a free 127.0.0.1 port, round-robin over the hosts' proxies.
/// A port taken between choosing and binding (another test) makes nginx exit: tried again.
fn start_balancer(local: &TestEnv, hosts: &[FleetHost]) -> SocketAddr {
    let conf = local.dir().join("lb.conf");
    for attempt in 1..=3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        std::fs::write(&conf, balancer_conf(port, hosts)).expect("writing lb.conf");
        let name = local.name(&format!("lb{attempt}"));
        local
            .container(&name)
            .image(NGINX)
            .arg("--network")
            .arg("host")
            .arg("-v")
            .arg(&format!("{}:/etc/nginx/nginx.conf:ro", conf.display()))
            .run();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if get(addr, "/__lb_health").as_deref() == Some("lb") {
                return addr;
            }
            let running = local.docker(&["inspect", "-f", "{{.State.Running}}", &name]);
            if running != "true" {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let logs = local.docker(&["logs", "--tail", "5", &name]);
        eprintln!("the load balancer on port {port} did not come up (attempt {attempt}): {logs}");
        local.docker(&["rm", "-f", &name]);
    }
    panic!("the fleet's load balancer did not start (see the logs above)")
}

/// nginx.conf of the load balancer. `X-Upstream` names the host's proxy that answered, so a
/// test can see that every host took traffic.
fn balancer_conf(port: u16, hosts: &[FleetHost]) -> String {
    let servers: String = hosts
        .iter()
        .map(|h| format!("        server {} max_fails=0;\n", h.addr))
        .collect();
    format!(
        "user www-data www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    upstream fleet {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location = /__lb_health {{ default_type text/plain; return 200 \"lb\"; }}
        location / {{
            proxy_pass http://fleet;
            proxy_set_header Host $host;
            # A failure on one host must reach the client: no retry elsewhere.
            proxy_next_upstream off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 15s;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"
    )
}

/// Waits (10 s at most) until `addr` answers 200 on `path`.
fn wait_for(addr: SocketAddr, path: &str, what: &str) {
    let t = Instant::now();
    loop {
        match request(addr, path) {
            Ok(a) if a.status == 200 => return,
            other if t.elapsed() > Duration::from_secs(10) => {
                panic!("{what} at {addr} never answered {path}: {other:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
