//! bgdeploy against a remote engine (issue 10): a test host reached only over its veth, over
//! ssh (with and without forwarding), TLS and its unix socket, where nothing routes from here
//! to its containers' bridges; and bgdeploy inside a container with the machine's socket
//! mounted. Health probes, route checks and drains must work from the engine's side.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::harness::load::{Load, get};
use crate::harness::testhost::{EngineVersion, TestHost, Transport, test_host};
use crate::harness::{DEMO_HC, DEMO_V1, DEMO_V2, NGINX, TestEnv, require_images};

/// The test host with the demo images, or `None` where no test host can run (and CI is unset).
fn host() -> Option<&'static TestHost> {
    host_with(EngineVersion::E20)
}

fn host_with(engine: EngineVersion) -> Option<&'static TestHost> {
    let host = test_host(engine)?;
    require_images();
    host.load_images(&[DEMO_V1, DEMO_V2, DEMO_HC, NGINX]);
    Some(host)
}

/// An nginx proxy on the test host's `bridge`, its port 80 published on the host's address:
/// (container name, the published address reachable from here).
fn proxy(env: &TestEnv, host: &TestHost) -> (String, SocketAddr) {
    let name = env.name("proxy");
    env.container(&name).image(NGINX).arg("-p").arg("80").run();
    let published = env.docker(&["port", &name, "80/tcp"]);
    let port: u16 = published
        .lines()
        .find_map(|l| l.rsplit_once(':')?.1.parse().ok())
        .unwrap_or_else(|| panic!("no published port in `docker port`: {published}"));
    let addr = SocketAddr::new(host.ip().into(), port);
    let t = Instant::now();
    while get(addr, "/__bgdeploy_proxy_health").is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the proxy never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (name, addr)
}

/// The shared setup of these tests: a test host with the images, a `TestEnv` on it reaching
/// it over `transport`, its nginx proxy, and the name of the app `shop`.
struct OnHost {
    host: &'static TestHost,
    env: TestEnv,
    proxy: String,
    /// The proxy's published address, reachable from here.
    addr: SocketAddr,
    app: String,
}

impl OnHost {
    fn start(engine: EngineVersion, transport: Transport) -> Option<OnHost> {
        let host = host_with(engine)?;
        let env = TestEnv::on_host(host, transport);
        let (proxy, addr) = proxy(&env, host);
        let app = env.name("shop");
        Some(OnHost {
            host,
            env,
            proxy,
            addr,
            app,
        })
    }
}

/// The quickstart's spec on the test host: nginx driver, `health` as given.
fn spec(app: &str, proxy: &str, verify: Option<SocketAddr>, health: &str, extra: &str) -> String {
    let verify = verify
        .map(|a| format!("      verify: {{url: \"http://{a}/version\", host: shop.test}}\n"))
        .unwrap_or_default();
    format!(
        "apps:\n  {app}:\n    image: {DEMO_V1}\n    port: 8080\n    health: {health}\n    proxy:\n      driver: nginx\n      container: {proxy}\n      virtual_host: shop.test\n      config_path: /etc/nginx/conf.d/{app}.conf\n{verify}    drain: 5s\n    stop_timeout: 2s\n    keep: 2\n{extra}    stages:\n      stage: {{}}\n"
    )
}

fn up(env: &TestEnv, yaml: &str, app: &str, image: &str) -> crate::harness::cli::Run {
    env.bgdeploy()
        .args(["up", app, "stage", "--image", image])
        .spec(yaml)
        .timeout(Duration::from_secs(120))
        .run()
}

/// No probe, no ssh process of bgdeploy's, once its commands have ended.
fn assert_nothing_left_running(env: &TestEnv) {
    let probes = env.docker(&[
        "ps",
        "-a",
        "--filter",
        "label=bgdeploy.kind=probe",
        "--format",
        "{{.Names}}",
    ]);
    let mine: Vec<&str> = probes
        .lines()
        .filter(|n| n.contains(env.prefix()))
        .collect();
    assert!(mine.is_empty(), "probe containers left behind: {mine:?}");
    // Every ssh of bgdeploy's names its control directory `bgdeploy-ssh-<bgdeploy's pid>-…`:
    // one whose bgdeploy has ended is left behind (others belong to commands still running,
    // e.g. of tests running alongside).
    let ssh = std::process::Command::new("pgrep")
        .args(["-af", "bgdeploy-ssh-"])
        .output()
        .expect("pgrep");
    let listing = String::from_utf8_lossy(&ssh.stdout);
    let orphans: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains(" ssh ") || l.split_whitespace().nth(1) == Some("ssh"))
        .filter(|l| {
            let owner = l
                .split("bgdeploy-ssh-")
                .nth(1)
                .and_then(|rest| rest.split('-').next())
                .unwrap_or_default();
            !owner.is_empty() && !std::path::Path::new(&format!("/proc/{owner}")).exists()
        })
        .collect();
    assert!(
        orphans.is_empty(),
        "ssh processes outlived their bgdeploy: {orphans:?}"
    );
}

/// The quickstart's two deploys through the test host's nginx under load, then status,
/// history, doctor and rollback, all over `transport`.
fn quickstart_over(transport: Transport) {
    quickstart_on(EngineVersion::E20, transport);
}

fn quickstart_on(engine: EngineVersion, transport: Transport) {
    let Some(OnHost {
        env,
        proxy,
        addr,
        app,
        ..
    }) = OnHost::start(engine, transport)
    else {
        return;
    };
    let yaml = spec(
        &app,
        &proxy,
        Some(addr),
        "{http: /up, interval: 100ms, deadline: 30s}",
        "",
    );
    up(&env, &yaml, &app, DEMO_V1).assert_success();
    assert_eq!(get(addr, "/version").as_deref(), Some("v1"));

    let load = Load::start(addr);
    std::thread::sleep(Duration::from_millis(300));
    let run = up(&env, &yaml, &app, DEMO_V2);
    run.assert_success();
    let crate::harness::load::Report { sent, failed, .. } = load.finish();
    eprintln!("{transport:?}: {sent} requests through the test host's nginx, {failed} failed");
    assert!(sent > 20, "too little load to mean anything: {sent}");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed over {transport:?}"
    );
    assert_eq!(get(addr, "/version").as_deref(), Some("v2"));

    let status = env
        .bgdeploy()
        .args(["--output", "json", "status", &app, "stage"])
        .spec(&yaml)
        .run();
    status.assert_success();
    let doc = status.json().to_string();
    assert!(
        doc.contains(&format!("\"BACK_{app}_stage\"")),
        "status does not show the route on BACK_: {doc}"
    );
    env.bgdeploy()
        .args(["history", &app, "stage"])
        .spec(&yaml)
        .run()
        .assert_success()
        .stdout_contains(DEMO_V2);
    env.bgdeploy()
        .args(["doctor"])
        .spec(&yaml)
        .run()
        .assert_success();
    env.bgdeploy()
        .args(["rollback", &app, "stage"])
        .spec(&yaml)
        .timeout(Duration::from_secs(120))
        .run()
        .assert_success();
    assert_eq!(get(addr, "/version").as_deref(), Some("v1"));
    assert_nothing_left_running(&env);
}

#[test]
fn the_quickstart_deploys_over_ssh_with_no_failed_request() {
    quickstart_over(Transport::Ssh);
}

#[test]
fn the_quickstart_deploys_over_tls_with_no_failed_request() {
    quickstart_over(Transport::Tls);
}

#[test]
fn the_quickstart_deploys_on_engine_28_over_ssh() {
    quickstart_on(EngineVersion::E28, Transport::Ssh);
}

#[test]
fn the_quickstart_deploys_over_ssh_without_forwarding_on_a_port_of_its_own() {
    quickstart_over(Transport::SshNoForwarding);
}

/// Each health mode, from the engine's side (the engine's own unix socket: same filesystem,
/// another network namespace): healthy deploys; never healthy fails safely, names the last
/// answer, leaves the live release and nothing of the new one.
#[test]
fn every_health_mode_works_from_the_engines_side() {
    let Some(host) = host() else {
        return;
    };
    let env = TestEnv::on_host(host, Transport::Unix);
    let (proxy, _) = proxy(&env, host);
    let cases = [
        (
            "http",
            "{http: /up, interval: 100ms, deadline: 20s}",
            DEMO_V1,
            "GET /up → 404",
        ),
        (
            "tcp",
            "{tcp: 8080, interval: 100ms, deadline: 20s}",
            DEMO_V1,
            "connection refused",
        ),
        (
            "cmd",
            "{cmd: [sh, -c, 'test -f /www/up'], interval: 100ms, deadline: 20s}",
            DEMO_V1,
            "exit 1",
        ),
        (
            "docker",
            "{docker: true, deadline: 20s}",
            DEMO_HC,
            "unhealthy",
        ),
    ];
    for (mode, health, image, last) in cases {
        let app = env.name(&format!("h{mode}"));
        let yaml = spec(&app, &proxy, None, health, "");
        up(&env, &yaml, &app, image).assert_success();
        let before = env.app_containers(&app);
        // Never healthy: /up stays 404 (http, cmd, docker); the port stays closed (tcp).
        let broken = match mode {
            "tcp" => spec(
                &app,
                &proxy,
                None,
                "{tcp: 9999, interval: 100ms, deadline: 3s}",
                "",
            ),
            _ => spec(
                &app,
                &proxy,
                None,
                &health.replace("deadline: 20s", "deadline: 4s"),
                "    env: {NEVER_HEALTHY: \"1\"}\n",
            ),
        };
        let run = up(&env, &broken, &app, image);
        run.assert_code(1);
        assert!(
            run.stderr.contains(last),
            "{mode}: the error does not name the last answer ({last}):\n{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("0.0.0.0") || mode == "tcp",
            "{mode}: misleading advice:\n{}",
            run.stderr
        );
        assert_eq!(
            env.app_containers(&app),
            before,
            "{mode}: the failed deploy changed the app's containers"
        );
    }
    assert_nothing_left_running(&env);
}

/// `--context NAME` with a context made by `docker context create`.
#[test]
fn a_docker_context_names_the_engine() {
    let Some(host) = host() else {
        return;
    };
    let env = TestEnv::on_host(host, Transport::Tls);
    let config = env.dir().join("docker-config");
    let context = env.name("ctx");
    let certs = host.cert_dir();
    let out = std::process::Command::new("docker")
        .env("DOCKER_CONFIG", &config)
        .args(["context", "create", &context, "--docker"])
        .arg(format!(
            "host={},ca={},cert={},key={}",
            host.tls_url(),
            certs.join("ca.pem").display(),
            certs.join("cert.pem").display(),
            certs.join("key.pem").display()
        ))
        .output()
        .expect("docker context create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (proxy, _) = proxy(&env, host);
    let app = env.name("shop");
    let yaml = spec(
        &app,
        &proxy,
        None,
        "{http: /up, interval: 100ms, deadline: 20s}",
        "",
    );
    let with_context = |args: &[&str]| {
        let mut run = env.bgdeploy();
        for key in TestHost::INHERITED {
            run = run.env_remove(key);
        }
        run.env("DOCKER_CONFIG", &config.display().to_string())
            .args(args.iter().copied())
            .spec(&yaml)
            .timeout(Duration::from_secs(120))
            .run()
    };
    with_context(&["--context", &context, "up", &app, "stage"]).assert_success();
    assert_eq!(
        env.app_containers(&app).len(),
        1,
        "the release is not on the test host"
    );
    let unknown = with_context(&["--context", "nosuch", "status", &app, "stage"]);
    unknown.assert_code(3);
    assert!(
        unknown.stderr.contains("nosuch") && unknown.stderr.contains(&context),
        "the error does not list the contexts:\n{}",
        unknown.stderr
    );
}

/// Twenty commands in a row over ssh, against sshd's default MaxStartups: none fails, and no
/// ssh process of bgdeploy's is left.
#[test]
fn twenty_commands_over_ssh_leave_no_ssh_process() {
    let Some(OnHost {
        env, proxy, app, ..
    }) = OnHost::start(EngineVersion::E20, Transport::Ssh)
    else {
        return;
    };
    let yaml = spec(
        &app,
        &proxy,
        None,
        "{http: /up, interval: 100ms, deadline: 20s}",
        "",
    );
    up(&env, &yaml, &app, DEMO_V1).assert_success();
    let commands: [&[&str]; 5] = [
        &["status"],
        &["status", &app, "stage"],
        &["plan", &app, "stage"],
        &["history", &app, "stage"],
        &["lock", "status", &app, "stage"],
    ];
    for i in 0..20 {
        let args = commands[i % commands.len()];
        let run = env.bgdeploy().args(args.iter().copied()).spec(&yaml).run();
        assert_eq!(
            run.code(),
            Some(0),
            "command {i} ({args:?}) failed:\n{}",
            run.stderr
        );
    }
    assert_nothing_left_running(&env);
}

/// bgdeploy in a CI job container with the machine's engine socket mounted: the socket is
/// local, the engine's bridges and `/proc` are not (another network and PID namespace), so the
/// http health check, the route checks and the drain must all go through probes.
#[tokio::test]
async fn bgdeploy_in_a_container_with_the_socket_mounted_deploys_with_http_health() {
    let Some(_engine) = crate::harness::require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let image = SelfImage::build(&env);
    let proxy = env.name("proxy");
    env.container(&proxy).image(NGINX).run();
    let app = env.name("shop");
    let yaml = spec(
        &app,
        &proxy,
        None,
        "{http: /up, interval: 100ms, deadline: 30s}",
        "",
    );
    let spec_path = env.dir().join("deploy.yaml");
    std::fs::write(&spec_path, &yaml).expect("writing the spec");
    let mount = format!("{}:/deploy.yaml:ro", spec_path.display());
    for version in [DEMO_V1, DEMO_V2] {
        let runner = env.name("runner");
        let out = crate::harness::docker_output(&[
            "run",
            "--rm",
            "--name",
            &runner,
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "-v",
            &mount,
            "-e",
            "CI=true",
            &image.0,
            "-f",
            "/deploy.yaml",
            "up",
            &app,
            "stage",
            "--image",
            version,
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "up {version} from a container failed ({}):\n{stdout}\n{stderr}",
            out.status
        );
        assert!(
            stdout.contains(&format!("its default route is on BACK_{app}_stage")),
            "{stdout}"
        );
    }
    let live = crate::harness::docker(&[
        "ps",
        "--filter",
        &format!("label=bgdeploy.app={app}"),
        "--filter",
        "status=running",
        "--format",
        "{{.Image}}",
    ]);
    assert_eq!(live.trim(), DEMO_V2);
    let probes = crate::harness::docker(&[
        "ps",
        "-a",
        "--filter",
        "label=bgdeploy.kind=probe",
        "--format",
        "{{.Names}}",
    ]);
    assert!(
        !probes.contains(env.prefix()),
        "probe containers left behind: {probes}"
    );
}

/// An image FROM scratch holding the bgdeploy binary under test and the libraries `ldd`
/// lists; removed when dropped.
struct SelfImage(String);

impl SelfImage {
    fn build(env: &TestEnv) -> SelfImage {
        let binary = env!("CARGO_BIN_EXE_bgdeploy");
        let context = env.dir().join("self-image");
        let root = context.join("root");
        std::fs::create_dir_all(&root).expect("a build context");
        std::fs::copy(binary, root.join("bgdeploy")).expect("copying the binary");
        let ldd = std::process::Command::new("ldd")
            .arg(binary)
            .output()
            .expect("ldd");
        for lib in String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            let target = root.join(lib.trim_start_matches('/'));
            std::fs::create_dir_all(target.parent().expect("a directory")).expect("lib dir");
            std::fs::copy(lib, &target).unwrap_or_else(|e| panic!("copying {lib}: {e}"));
        }
        std::fs::create_dir_all(root.join("tmp")).expect("/tmp");
        std::fs::write(
            context.join("Dockerfile"),
            "FROM scratch\nCOPY root/ /\nENTRYPOINT [\"/bgdeploy\"]\n",
        )
        .expect("a Dockerfile");
        let tag = format!("{}_self:latest", env.prefix());
        crate::harness::docker(&["build", "-q", "-t", &tag, &context.display().to_string()]);
        SelfImage(tag)
    }
}

impl Drop for SelfImage {
    fn drop(&mut self) {
        let _ = crate::harness::docker_output(&["rmi", "-f", &self.0]);
    }
}

/// ssh failures are exit 3 naming the host and what to check; an `up` interrupted over ssh
/// (Ctrl-C, and kill -9) leaves no ssh process and no probe behind.
#[test]
fn ssh_failures_and_interruptions_leave_nothing_behind() {
    let Some(OnHost {
        host,
        env,
        proxy,
        app,
        ..
    }) = OnHost::start(EngineVersion::E20, Transport::Ssh)
    else {
        return;
    };
    let yaml = spec(
        &app,
        &proxy,
        None,
        "{http: /up, interval: 100ms, deadline: 60s}",
        "",
    );
    let with_host = |url: &str| {
        env.bgdeploy()
            .env("DOCKER_HOST", url)
            .args(["status", &app, "stage"])
            .spec(&yaml)
            .run()
    };
    let ip = host.ip();
    let denied = with_host(&format!("ssh://nosuchuser@{ip}"));
    denied.assert_code(3);
    assert!(
        denied.stderr.contains("could not log in") && denied.stderr.contains(&ip.to_string()),
        "{}",
        denied.stderr
    );
    let refused = with_host(&format!("ssh://root@{ip}:2223"));
    refused.assert_code(3);
    assert!(
        refused.stderr.contains("nothing accepts ssh"),
        "{}",
        refused.stderr
    );

    up(&env, &yaml, &app, DEMO_V1).assert_success();
    let before = env.app_containers(&app);
    let slow = spec(
        &app,
        &proxy,
        None,
        "{http: /up, interval: 100ms, deadline: 60s}",
        "    env: {READY_DELAY: \"30\"}\n",
    );
    for signal in ["INT", "KILL"] {
        let running = env
            .bgdeploy()
            .args(["up", &app, "stage", "--image", DEMO_V2])
            .spec(&slow)
            .timeout(Duration::from_secs(90))
            .spawn();
        // Well into the health wait: the probe runs and the ssh master holds its stream.
        let t = Instant::now();
        while env
            .docker(&["ps", "-q", "--filter", "label=bgdeploy.kind=probe"])
            .is_empty()
        {
            assert!(t.elapsed() < Duration::from_secs(30), "no probe started");
            std::thread::sleep(Duration::from_millis(100));
        }
        running.signal(signal);
        let run = running.wait();
        assert_ne!(run.code(), Some(0), "{signal}: {}", run.stderr);
        if signal == "KILL" {
            // Nothing ran bgdeploy's cleanup: the kernel ends its ssh processes, the probe
            // ends when its stream closes; the next `up` converges.
            let t = Instant::now();
            while !env
                .docker(&["ps", "-aq", "--filter", "label=bgdeploy.kind=probe"])
                .is_empty()
            {
                assert!(
                    t.elapsed() < Duration::from_secs(20),
                    "the probe outlived bgdeploy"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        assert_nothing_left_running(&env);
    }
    up(&env, &yaml, &app, DEMO_V2).assert_success();
    assert_ne!(env.app_containers(&app), before);
}
