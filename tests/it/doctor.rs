//! `bgdeploy doctor` against the real engine: the write-up's route move is flagged with why
//! and the fix, a healthy BACK_/FRONT_ container is not, and an open FRONT_ network next to a
//! proxy on `bridge` is. Doctor audits the whole engine, where other tests run concurrently,
//! so assertions are about this test's own containers, and exit 0 is checked with `--name`.

use crate::harness::{TestEnv, require_engine, require_images};

#[tokio::test]
async fn doctor_flags_the_write_ups_move_and_not_a_healthy_container() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();

    // DESIGN §1: created on `x_internal` (which is not internal at all), then `x` attached.
    // Both names carry the same prefix, so `<prefix>x` still sorts first.
    let (x_internal, x) = (env.name("x_internal"), env.name("x"));
    env.network(&x_internal).create();
    env.network(&x).create();
    let bad = env.name("bad");
    env.container(&bad).network(&x_internal).run();
    env.connect(&x, &bad);

    // Healthy: BACK_ first, then a non-internal FRONT_; `B` sorts before `F`.
    let (back, front) = (
        format!("BACK_{}", env.name("h")),
        format!("FRONT_{}", env.name("h")),
    );
    env.network(&back).create();
    env.network(&front).create();
    let good = env.name("good");
    env.container(&good).network(&back).run();
    env.connect(&front, &good);

    // The spec's proxy sits on `bridge`; the open FRONT_ network would take its route.
    let proxy = env.name("proxy");
    env.container(&proxy).run();
    let yaml = format!(
        "apps:\n  {app}:\n    image: bgdeploy-demo:v1\n    port: 8080\n    proxy: {{driver: nginx-proxy, container: {proxy}, virtual_host: shop.test}}\n    stages:\n      stage: {{}}\n",
        app = env.name("shop")
    );

    let run = env
        .bgdeploy()
        .args(["--output", "json", "doctor", "--name", env.prefix()])
        .spec(&yaml)
        .run();
    run.assert_code(1).stderr_contains("flagged");
    let doc = run.json();
    let findings = doc["findings"].as_array().expect("findings");
    let moved = findings
        .iter()
        .find(|f| f["kind"] == "route_moved" && f["container"] == bad.as_str())
        .unwrap_or_else(|| panic!("{bad} is not flagged\n{run}"));
    assert_eq!(moved["expected"], x_internal.as_str());
    assert_eq!(moved["actual"], x.as_str());
    assert_eq!(moved["family"], "ipv4");
    let why = moved["explanation"].as_str().expect("an explanation");
    assert!(why.contains("sorts first") && why.contains("Fix:"), "{why}");
    assert!(
        !findings.iter().any(|f| f["container"] == good.as_str()),
        "{good} is healthy\n{run}"
    );
    let audited = doc["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["container"] == good.as_str())
        .unwrap_or_else(|| panic!("{good} was not audited\n{run}"));
    assert_eq!(
        (&audited["default_route"], &audited["ok"]),
        (&serde_json::json!(back), &serde_json::json!(true))
    );
    let would = findings
        .iter()
        .find(|f| f["kind"] == "route_would_move" && f["network"] == front.as_str())
        .unwrap_or_else(|| panic!("{front} next to {proxy} is not flagged\n{run}"));
    assert_eq!(would["container"], proxy.as_str());
    assert_eq!(would["current"], "bridge");
    assert!(
        would["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("internal"))
    );

    // The human form names the container, why and the fix; the healthy one passes.
    let human = env
        .bgdeploy()
        .args(["doctor", "--name", env.prefix()])
        .run();
    human
        .assert_code(1)
        .stdout_contains(&format!("! the IPv4 default route of container `{bad}`"))
        .stdout_contains("Fix:");
    let good_row = human
        .stdout
        .lines()
        .find(|l| l.starts_with(&good))
        .unwrap_or_else(|| panic!("no row for {good}\n{human}"));
    assert!(!good_row.contains('!'), "{good_row}");

    // Only the healthy container: nothing flagged, exit 0.
    env.bgdeploy()
        .args(["doctor", "--name", &good])
        .run()
        .assert_success()
        .stdout_contains("No findings");
}
