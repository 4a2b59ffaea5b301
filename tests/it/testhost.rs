//! The test-host fixture itself (harness/testhost.rs): each transport reaches the host's engine,
//! its containers are out of reach from here as on a remote machine, and its published ports
//! are not.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::testhost::{EngineVersion, Transport, test_host};
use crate::harness::{DEMO_V1, TestEnv, require_images};

#[test]
fn the_docker_cli_reaches_the_test_host_over_every_transport() {
    let Some(host) = test_host(EngineVersion::E20) else {
        return;
    };
    for transport in [
        Transport::Unix,
        Transport::Tcp,
        Transport::Tls,
        Transport::Ssh,
    ] {
        let out = host
            .docker_cli(transport)
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
            .expect("running docker version");
        assert!(
            out.status.success(),
            "docker version over {transport:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            host.engine_version(),
            "over {transport:?}"
        );
    }
    // The TLS port wants a client certificate: without one the engine does not answer.
    let out = host
        .docker_cli(Transport::Unix)
        .args(["-H", &host.tls_url(), "version"])
        .output()
        .expect("running docker version");
    assert!(
        !out.status.success(),
        "the TLS port answered without a client certificate"
    );
}

#[test]
fn a_network_made_over_tls_lives_on_the_test_host() {
    let Some(host) = test_host(EngineVersion::E20) else {
        return;
    };
    let env = TestEnv::on_host(host, Transport::Tls);
    let net = env.name("net");
    let tls = |args: &[&str]| {
        let out = host
            .docker_cli(Transport::Tls)
            .args(args)
            .output()
            .expect("running docker");
        assert!(
            out.status.success(),
            "docker {} over TLS failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    tls(&["network", "create", &net]);
    // Seen through the host's unix socket, and not on the machine's engine.
    assert_eq!(
        env.docker(&["network", "inspect", "--format", "{{.Name}}", &net]),
        net
    );
    let here = crate::harness::docker_output(&["network", "inspect", &net]);
    assert!(
        !here.status.success(),
        "{net} exists on the machine's engine too"
    );
    tls(&["network", "rm", &net]);
    let gone = host.docker_output(&["network", "inspect", &net]);
    assert!(!gone.status.success(), "{net} is still on the test host");
}

#[test]
fn containers_on_a_test_host_are_out_of_reach_but_its_published_ports_are_not() {
    let Some(host) = test_host(EngineVersion::E20) else {
        return;
    };
    require_images();
    host.load_images(&[DEMO_V1]);
    let env = TestEnv::on_host(host, Transport::Unix);
    let app = env.name("app");
    env.container(&app).arg("-p").arg("8080").run();
    let bridge_ip = env.docker(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &app,
    ]);
    let published = env.docker(&["port", &app, "8080/tcp"]);
    let port: u16 = published
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("docker port {app}: {published:?}"));

    // The app answers inside the test host (so what follows is about the route, not the app).
    let inside = wait_for(|| {
        let out = host.exec_in_netns(&[
            "curl",
            "-fsS",
            "--max-time",
            "1",
            &format!("http://{bridge_ip}:8080/up"),
        ]);
        out.status.success()
    });
    assert!(
        inside,
        "the app at {bridge_ip}:8080 never answered inside the test host"
    );

    // From here, as from a CI runner: the bridge address does not route.
    let addr: SocketAddr = format!("{bridge_ip}:8080").parse().expect("an address");
    let started = Instant::now();
    let direct = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert!(
        direct.is_err(),
        "{addr} is reachable from the test's namespace"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // The published port on the test host's address does.
    let answer = http_get(SocketAddr::from((host.ip(), port)), "/up")
        .unwrap_or_else(|e| panic!("GET http://{}:{port}/up: {e}", host.ip()));
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 200 "),
        "{answer}"
    );
}

#[test]
fn a_test_env_on_a_test_host_makes_and_removes_its_objects_there() {
    let Some(host) = test_host(EngineVersion::E20) else {
        return;
    };
    require_images();
    host.load_images(&[DEMO_V1]);
    let ours = |prefix: &str| {
        let names = [
            host.docker(&["ps", "-a", "--format", "{{.Names}}"]),
            host.docker(&["network", "ls", "--format", "{{.Name}}"]),
        ];
        names
            .iter()
            .flat_map(|text| text.lines())
            .filter(|name| name.contains(prefix))
            .count()
    };
    let prefix = {
        let env = TestEnv::on_host(host, Transport::Ssh);
        let net = env.name("net");
        env.network(&net).create();
        env.container(&env.name("app")).network(&net).create();
        assert_eq!(ours(env.prefix()), 2, "on the test host");
        let here = crate::harness::docker_output(&["network", "inspect", &net]);
        assert!(
            !here.status.success(),
            "{net} was made on the machine's engine"
        );
        env.prefix().to_string()
    };
    assert_eq!(
        ours(&prefix),
        0,
        "the dropped TestEnv left objects on the test host"
    );
}

#[test]
fn an_engine_28_test_host_speaks_api_1_48_or_newer() {
    let Some(host) = test_host(EngineVersion::E28) else {
        return;
    };
    assert!(
        host.engine_version().starts_with("28."),
        "{}",
        host.engine_version()
    );
    assert!(host.api() >= (1, 48), "API {}", host.api_version());
    let out = host
        .docker_cli(Transport::Ssh)
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .expect("running docker version");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        host.api_version()
    );
}

#[test]
fn bgdeploy_runs_against_a_test_host_over_tls() {
    let Some(host) = test_host(EngineVersion::E20) else {
        return;
    };
    let env = TestEnv::on_host(host, Transport::Tls);
    let app = env.name("shop");
    let yaml = format!(
        "apps:\n  {app}:\n    image: {DEMO_V1}\n    port: 8080\n    stages:\n      stage: {{}}\n"
    );
    let run = env
        .bgdeploy()
        .args(["--output", "json", "status", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    run.assert_success();
    let doc = run.json();
    assert!(doc["apps"].is_array(), "{doc}");
}

fn wait_for(mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}
