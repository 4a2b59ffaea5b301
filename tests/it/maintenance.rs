//! `bgdeploy maintenance on|off` through a real nginx (issue 14): 503 with the message and
//! Retry-After while on (HTML or plain text by Accept), the release keeps running, an `up`
//! during maintenance deploys behind the page, `off` routes to the live release again.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::cutover::{get, nginx_spec, proxy, up};
use crate::harness::{DEMO_V1, DEMO_V2, TestEnv, require_engine, require_images};
use crate::up::{containers, live};

/// The whole answer (status line, headers, body) to a GET through the proxy.
fn answer(ip: &str, accept: &str) -> String {
    let mut s = TcpStream::connect_timeout(
        &format!("{ip}:80").parse().expect("an address"),
        Duration::from_secs(2),
    )
    .expect("connect to nginx");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        s,
        "GET /version HTTP/1.0\r\nHost: shop.test\r\nAccept: {accept}\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text
}

#[tokio::test]
async fn maintenance_page_through_nginx_survives_a_deploy_and_goes() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let (proxy, ip) = proxy(&env);
    let (app, yaml) = nginx_spec(&env, &proxy, &ip, "");
    up(&env, &yaml, &app, DEMO_V1).assert_success();
    let run = |args: &[&str]| {
        env.bgdeploy()
            .args(args.iter().map(|a| a.to_string()))
            .spec(&yaml)
            .timeout(Duration::from_secs(60))
            .run()
    };

    run(&[
        "maintenance",
        "on",
        &app,
        "stage",
        "--message",
        "Back at 10:00 <UTC>",
    ])
    .assert_success()
    .stdout_contains("maintenance is on");
    let plain = answer(&ip, "*/*");
    assert!(plain.starts_with("HTTP/1.1 503"), "{plain}");
    assert!(plain.contains("Retry-After: 300"), "{plain}");
    assert!(plain.contains("Content-Type: text/plain"), "{plain}");
    assert!(plain.ends_with("Back at 10:00 <UTC>\n"), "{plain}");
    let html = answer(&ip, "text/html,application/xhtml+xml");
    assert!(html.starts_with("HTTP/1.1 503"), "{html}");
    assert!(html.contains("Content-Type: text/html"), "{html}");
    assert!(html.contains("<p>Back at 10:00 &lt;UTC&gt;</p>"), "{html}");
    assert_eq!(live(&app).len(), 1, "the release keeps running");

    let status = run(&["--output", "json", "status", &app, "stage"]);
    let doc = status.json();
    let stage = &doc["apps"][0];
    assert_eq!(stage["maintenance"]["on"], true, "{status}");
    assert_eq!(
        stage["maintenance"]["message"], "Back at 10:00 <UTC>",
        "{status}"
    );
    run(&["status", &app, "stage"])
        .assert_success()
        .stdout_contains("maintenance: ON");

    // A deploy during maintenance goes ahead behind the page.
    let before = live(&app);
    up(&env, &yaml, &app, DEMO_V2)
        .assert_success()
        .stdout_contains("maintenance is on");
    let now = live(&app);
    assert_ne!(now, before, "v2 is live");
    assert!(
        answer(&ip, "*/*").starts_with("HTTP/1.1 503"),
        "the page stays on"
    );

    run(&["maintenance", "off", &app, "stage"])
        .assert_success()
        .stdout_contains(now[0].as_str());
    assert_eq!(get(&ip, "shop.test", "/version").as_deref(), Some("v2"));
    let status = run(&["--output", "json", "status", &app, "stage"]);
    assert_eq!(
        status.json()["apps"][0]["maintenance"]["on"],
        false,
        "{status}"
    );
    assert_eq!(containers(&app, true), now);
}

#[tokio::test]
async fn drivers_without_maintenance_mode_are_usage_errors() {
    let env = TestEnv::new();
    let (app, yaml) = crate::up::spec(&env, DEMO_V1, "");
    env.bgdeploy()
        .args(["maintenance", "on", app.as_str(), "stage"])
        .spec(&yaml)
        .run()
        .assert_code(2)
        .stderr_contains("`nginx` and `command`");
}

#[tokio::test]
async fn the_command_driver_gets_the_maintenance_phases() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let log = env.dir().join("phases");
    let proxy = format!(
        "    proxy: {{driver: command, command: [sh, -c, \"echo $BGDEPLOY_PHASE $BGDEPLOY_MESSAGE >> {}\"]}}\n",
        log.display()
    );
    let (app, yaml) = crate::up::spec(&env, DEMO_V1, &proxy);
    for args in [
        vec![
            "maintenance",
            "on",
            app.as_str(),
            "stage",
            "--message",
            "brb",
        ],
        vec!["maintenance", "off", app.as_str(), "stage"],
    ] {
        env.bgdeploy().args(args).spec(&yaml).run().assert_success();
    }
    let phases = std::fs::read_to_string(&log).expect("the command ran");
    assert_eq!(phases, "maintenance_on brb\nmaintenance_off\n");
}
