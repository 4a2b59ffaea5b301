//! Traffic through a real nginx while bgdeploy deploys (issue 4): zero failed requests,
//! in-flight requests finish during the drain, a rejected config is put back, the proxy's
//! own default route never moves, and the nginx-proxy and command drivers switch and roll back.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::harness::engines::{OnEngine, kernel_routes};
use crate::harness::load::{Load, Report};
use crate::harness::{DEMO_V1, DEMO_V2, NGINX, TestEnv, docker, require_engine, require_images};
use crate::on_engines;
use crate::up::{containers, containers_on, live, serves};

/// A proxy container on `bridge`, as operators run it; returns (name, its bridge IP).
pub fn proxy(env: &TestEnv) -> (String, String) {
    let name = env.name("proxy");
    env.container(&name).image(NGINX).run();
    let ip = docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &name])
        .trim()
        .to_string();
    let t = Instant::now();
    while get(&ip, "localhost", "/__bgdeploy_proxy_health").is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the proxy never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (name, ip)
}

/// GET through the proxy with a Host header; the body when the status is 200.
pub fn get(ip: &str, host: &str, path: &str) -> Option<String> {
    let mut s =
        TcpStream::connect_timeout(&format!("{ip}:80").parse().ok()?, Duration::from_secs(2))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?;
    (status == "200").then(|| {
        text.rsplit("\r\n\r\n")
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

pub fn nginx_spec(env: &TestEnv, proxy: &str, ip: &str, extra: &str) -> (String, String) {
    let app = env.name("shop");
    let yaml = format!(
        "apps:\n  {app}:\n    image: {DEMO_V1}\n    port: 8080\n    health: {{http: /up, interval: 100ms, deadline: 20s}}\n    proxy:\n      driver: nginx\n      container: {proxy}\n      virtual_host: shop.test\n      config_path: /etc/nginx/conf.d/{app}.conf\n      verify: {{url: \"http://{ip}/version\", host: shop.test}}\n    drain: 10s\n    stop_timeout: 2s\n    keep: 1\n{extra}    stages:\n      stage: {{}}\n"
    );
    (app, yaml)
}

pub fn up(env: &TestEnv, yaml: &str, app: &str, image: &str) -> crate::harness::cli::Run {
    env.bgdeploy()
        .args(["up", app, "stage", "--image", image])
        .spec(yaml)
        .timeout(Duration::from_secs(90))
        .run()
}

/// Requests through the proxy at `ip` (port 80) in a loop until finished: the harness's
/// [`Load`](crate::harness::load::Load), one fresh connection a request.
pub fn load(ip: &str, max: Duration) -> Load {
    Load::start_for(proxy_addr(ip), max)
}

fn proxy_addr(ip: &str) -> std::net::SocketAddr {
    format!("{ip}:80").parse().expect("a proxy address")
}

fn proxy_route(proxy: &str) -> String {
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", proxy])
        .trim()
        .to_string();
    let table =
        std::fs::read_to_string(format!("/proc/{pid}/net/route")).expect("the proxy's route table");
    bgdeploy::route::parse_ipv4_route_table(&table)
        .map(|r| r.gateway.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn no_request_fails_through_nginx_during_two_deploys() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (proxy, ip) = proxy(&env);
    let route = proxy_route(&proxy);
    let (app, yaml) = nginx_spec(&env, &proxy, &ip, "");
    up(&env, &yaml, &app, DEMO_V1).assert_success();
    assert_eq!(get(&ip, "shop.test", "/version").as_deref(), Some("v1"));
    assert_eq!(
        proxy_route(&proxy),
        route,
        "attaching FRONT_ moved the proxy's default route"
    );

    let load = load(&ip, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    up(&env, &yaml, &app, DEMO_V2).assert_success();
    assert_eq!(get(&ip, "shop.test", "/version").as_deref(), Some("v2"));
    up(&env, &yaml, &app, DEMO_V1).assert_success();
    let Report {
        sent,
        failed,
        failures,
        ..
    } = load.finish();
    eprintln!("requests through nginx during two deploys: {sent} sent, {failed} failed");
    assert!(sent > 50, "too little load to mean anything: {sent}");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed: {failures:?}"
    );
    assert_eq!(get(&ip, "shop.test", "/version").as_deref(), Some("v1"));
    assert_eq!(
        proxy_route(&proxy),
        route,
        "the proxy's default route moved"
    );
}

#[tokio::test]
async fn a_long_request_to_the_old_release_completes_during_the_drain() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (proxy, ip) = proxy(&env);
    let (app, yaml) = nginx_spec(&env, &proxy, &ip, "");
    up(&env, &yaml, &app, DEMO_V1).assert_success();
    let slow_ip = ip.clone();
    let slow = std::thread::spawn(move || get(&slow_ip, "shop.test", "/cgi-bin/slow?3"));
    std::thread::sleep(Duration::from_millis(500));
    let run = up(&env, &yaml, &app, DEMO_V2);
    run.assert_success();
    let body = slow.join().expect("the slow request");
    assert!(
        body.as_deref().is_some_and(|b| b.contains("v1")),
        "the in-flight request failed: {body:?}\n{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_config_nginx_rejects_is_put_back_and_the_live_release_keeps_serving() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (proxy, ip) = proxy(&env);
    let (app, yaml) = nginx_spec(&env, &proxy, &ip, "");
    up(&env, &yaml, &app, DEMO_V1).assert_success();
    let before = live(&app);
    let path = format!("/etc/nginx/conf.d/{app}.conf");
    let config = docker(&["exec", &proxy, "cat", &path]);
    // Another file in conf.d that nginx rejects: bgdeploy's test of the whole config fails.
    docker(&[
        "exec",
        &proxy,
        "sh",
        "-c",
        "echo 'this is not nginx;' > /etc/nginx/conf.d/zz_broken.conf",
    ]);
    let run = up(&env, &yaml, &app, DEMO_V2);
    run.assert_code(1);
    assert_eq!(
        docker(&["exec", &proxy, "cat", &path]),
        config,
        "the previous config was not restored"
    );
    assert_eq!(live(&app), before);
    assert_eq!(
        containers(&app, true),
        before,
        "the rejected release is removed"
    );
    assert_eq!(get(&ip, "shop.test", "/version").as_deref(), Some("v1"));
}

on_engines!(
    a_non_internal_front_next_to_a_proxy_on_bridge,
    non_internal_front
);

/// A proxy on `bridge` and a `FRONT_` made by hand without `--internal` (`F` sorts before
/// `b`). Engine 20.10: `plan` warns, `up` stops with exit 5 before the proxy is attached, the
/// proxy's route and service are unharmed. Engine 28: bgdeploy attaches the proxy with the
/// lowest GwPriority, so its route stays on `bridge` (the kernel says so) and the deploy
/// goes through.
async fn non_internal_front(engine: OnEngine) {
    let Some(env) = engine.env().await else {
        return;
    };
    let proxy = env.name("proxy");
    env.container(&proxy).image(NGINX).run();
    let health = [
        "exec",
        proxy.as_str(),
        "wget",
        "-qO-",
        "http://127.0.0.1/__bgdeploy_proxy_health",
    ];
    let t = Instant::now();
    while env.quiet_docker(&health).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the proxy never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ip = env.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &proxy]);
    let (app, yaml) = nginx_spec(&env, &proxy, &ip, "");
    // `verify` is sent from here: a test host's bridge is not reachable from here.
    let yaml = match engine {
        OnEngine::Machine20 => yaml,
        OnEngine::Host28 => yaml
            .lines()
            .filter(|l| !l.contains("verify:"))
            .map(|l| format!("{l}\n"))
            .collect(),
    };
    let front = format!("FRONT_{app}_stage");
    env.network(&front).create();
    let route = kernel_routes(&env, &proxy);
    assert_eq!(route[0].as_deref(), Some("bridge"));
    let plan = env
        .bgdeploy()
        .args(["plan", app.as_str(), "stage"])
        .spec(&yaml)
        .run();
    plan.assert_success();
    let run = up(&env, &yaml, &app, DEMO_V1);
    let nets = env.docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        &proxy,
    ]);
    match engine {
        OnEngine::Machine20 => {
            plan.stdout_contains("[route_moves]");
            run.assert_code(5).stderr_contains(&front);
            assert!(!nets.contains("FRONT_"), "the proxy was attached: {nets}");
            assert!(containers_on(&env, &app, false).is_empty());
        }
        OnEngine::Host28 => {
            plan.output_lacks("[route_moves]").stdout_contains(&format!(
                "connect {proxy} to {front}; default route stays on bridge (GwPriority)"
            ));
            run.assert_success();
            assert!(nets.contains(&front), "the proxy is on {front}: {nets}");
            let served = env.docker(&[
                "exec",
                &proxy,
                "wget",
                "-qO-",
                "--header",
                "Host: shop.test",
                "http://127.0.0.1/version",
            ]);
            assert_eq!(served.trim(), "v1");
        }
    }
    assert_eq!(
        kernel_routes(&env, &proxy),
        route,
        "the proxy's default route moved"
    );
    assert!(
        env.quiet_docker(&health).is_ok(),
        "the proxy stopped answering"
    );
}

#[tokio::test]
async fn nginx_proxy_driver_sets_virtual_host_and_regenerates_on_each_switch() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (proxy, _) = proxy(&env);
    let app = env.name("shop");
    let spec = |reload: &str| {
        format!(
            "apps:\n  {app}:\n    image: {DEMO_V1}\n    port: 8080\n    health: {{http: /up, interval: 100ms}}\n    proxy: {{driver: nginx-proxy, container: {proxy}, virtual_host: shop.test, reload: {reload}}}\n    drain: 1s\n    stop_timeout: 2s\n    stages:\n      stage: {{}}\n"
        )
    };
    let counting = spec("[sh, -c, \"echo reloaded >> /tmp/reloads\"]");
    up(&env, &counting, &app, DEMO_V1).assert_success();
    let first = &live(&app)[0];
    let env_list = docker(&["inspect", "-f", "{{json .Config.Env}}", first]);
    assert!(
        env_list.contains("VIRTUAL_HOST=shop.test") && env_list.contains("VIRTUAL_PORT=8080"),
        "{env_list}"
    );
    up(&env, &counting, &app, DEMO_V2).assert_success();
    let reloads = docker(&["exec", &proxy, "cat", "/tmp/reloads"]);
    assert_eq!(
        reloads.lines().count(),
        3,
        "one regeneration per switch (add; add, remove): {reloads}"
    );

    let before = live(&app);
    let failing = spec("[sh, -c, \"exit 3\"]");
    up(&env, &failing, &app, DEMO_V1)
        .assert_code(1)
        .stderr_contains("3");
    assert_eq!(
        live(&app),
        before,
        "a failed regeneration must leave the live release"
    );
    assert_eq!(containers(&app, true), before);
    assert!(serves(&app, &before[0], "v2"));
}

#[tokio::test]
async fn command_driver_sees_phases_and_a_failing_script_rolls_back() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let app = env.name("shop");
    let log = env.dir().join("switches.log");
    let script = env.dir().join("switch.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$BGDEPLOY_PHASE $BGDEPLOY_APP $BGDEPLOY_STAGE $BGDEPLOY_CONTAINER $BGDEPLOY_ADDR\" >> {}\n[ \"$BGDEPLOY_PHASE\" = add ] && [ -n \"$FAIL\" ] && exit 4; exit 0\n",
            log.display()
        ),
    )
    .expect("the script");
    let spec = format!(
        "apps:\n  {app}:\n    image: {DEMO_V1}\n    port: 8080\n    health: {{http: /up, interval: 100ms}}\n    proxy: {{driver: command, command: [sh, {}]}}\n    drain: 1s\n    stop_timeout: 2s\n    stages:\n      stage: {{}}\n",
        script.display()
    );
    up(&env, &spec, &app, DEMO_V1).assert_success();
    let blue = live(&app);
    up(&env, &spec, &app, DEMO_V2).assert_success();
    let green = live(&app);
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .expect("the log")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("add {app} stage {} ", blue[0])),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(&format!("add {app} stage {} ", green[0])),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with(&format!("remove {app} stage {} ", blue[0])),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(":8080"), "{lines:?}");

    let run = env
        .bgdeploy()
        .args(["up", app.as_str(), "stage"])
        .spec(&spec)
        .env("FAIL", "1")
        .timeout(Duration::from_secs(60))
        .run();
    run.assert_code(1);
    assert_eq!(
        live(&app),
        green,
        "a failing script must leave the live release"
    );
    assert_eq!(containers(&app, true), green);
    let count = AtomicUsize::new(0);
    count.store(
        std::fs::read_to_string(&log)
            .expect("the log")
            .lines()
            .count(),
        Ordering::Relaxed,
    );
    // add (failed), then the undo routes back to the live release.
    assert_eq!(
        count.load(Ordering::Relaxed),
        5,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

#[tokio::test]
async fn a_stopped_proxy_is_refused_before_anything_changes() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (proxy, ip) = proxy(&env);
    let (app, yaml) = nginx_spec(&env, &proxy, &ip, "");
    docker(&["stop", "-t", "0", &proxy]);
    let before = crate::harness::snapshot(env.prefix());
    up(&env, &yaml, &app, DEMO_V1)
        .assert_code(1)
        .stderr_contains(&format!("docker start {proxy}"));
    assert_eq!(
        before,
        crate::harness::snapshot(env.prefix()),
        "the engine changed"
    );
}

/// Issue 6's soak: 50 deploys in a row under traffic through nginx — no failed request, and
/// nothing grows beyond `keep` (containers), the two networks and the one state volume.
#[tokio::test]
async fn soak_fifty_deploys_under_traffic() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (proxy, ip) = proxy(&env);
    let (app, yaml) = nginx_spec(&env, &proxy, &ip, "");
    up(&env, &yaml, &app, DEMO_V1).assert_success();
    // 50 requests a second (flat out ~250 here, each a fork in the demo app and a connection
    // through nginx, which took most of a core from the rest of the suite): over 50 deploys,
    // 100 reloads, that is still thousands of requests. The zero-drop proofs at full speed are
    // `no_request_fails_through_nginx_during_two_deploys`'s and the proxy tests'; this one is
    // about 50 deploys in a row: nothing fails, nothing is left behind.
    let load = Load::paced(
        proxy_addr(&ip),
        Duration::from_secs(300),
        Duration::from_millis(20),
    );
    let started = Instant::now();
    for n in 0..50 {
        let image = if n % 2 == 0 { DEMO_V2 } else { DEMO_V1 };
        up(&env, &yaml, &app, image).assert_success();
    }
    let took = started.elapsed();
    let Report {
        sent,
        failed,
        failures,
        ..
    } = load.finish();
    eprintln!("soak: 50 deploys in {took:.1?}; {sent} requests through nginx, {failed} failed");
    assert!(sent > 3_000, "too little load to mean anything: {sent}");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed: {failures:?}"
    );
    assert_eq!(get(&ip, "shop.test", "/version").as_deref(), Some("v1"));
    // keep: 1 — the live release and one retired.
    assert_eq!(
        containers(&app, false).len(),
        2,
        "{:?}",
        containers(&app, false)
    );
    let nets = docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(
        nets.lines().filter(|n| n.contains(app.as_str())).count(),
        2,
        "{nets}"
    );
    let vols = docker(&["volume", "ls", "-q"]);
    assert_eq!(
        vols.lines().filter(|v| v.contains(app.as_str())).count(),
        1,
        "{vols}"
    );
}
