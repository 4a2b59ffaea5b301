//! The fleet fixture itself (`harness::fleet`): three test hosts behind a real nginx load
//! balancer. Proved with the single-host bgdeploy, one host at a time (DOCKER_HOST per host):
//! what a fleet run must at least match, and what the load balancer must not hide.

use std::time::Duration;

use crate::harness::fleet::Fleet;
use crate::harness::load::Report;
use crate::harness::{DEMO_V1, DEMO_V2};

fn up_each(fleet: &Fleet, yaml: &str, image: &str) {
    for h in &fleet.hosts {
        let run = h
            .env
            .bgdeploy()
            .args(["up", &fleet.app, "stage", "--image", image])
            .spec(yaml)
            .timeout(Duration::from_secs(120))
            .run();
        run.assert_success();
    }
}

/// v1 then v2 on every host, one after another, under load through the load balancer: no
/// request fails, every host took traffic, every host ends on v2.
#[test]
fn host_by_host_deploys_through_the_load_balancer_drop_nothing() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let yaml = fleet.single_host_spec("");
    up_each(&fleet, &yaml, DEMO_V1);
    fleet.assert_serving("v1");

    let load = fleet.load();
    std::thread::sleep(Duration::from_millis(300));
    up_each(&fleet, &yaml, DEMO_V2);
    std::thread::sleep(Duration::from_millis(300));
    let report = load.finish();
    eprintln!("fleet of {} host by host: {report:?}", fleet.hosts.len());
    assert!(
        report.sent > 50,
        "too little load to mean anything: {report:?}"
    );
    assert_eq!(report.failed, 0, "requests failed: {report:?}");
    assert_eq!(
        report.upstreams.len(),
        fleet.hosts.len(),
        "not every host's proxy took traffic: {report:?}"
    );
    assert!(
        report.bodies.keys().all(|b| b == "v1" || b == "v2"),
        "{report:?}"
    );
    fleet.assert_serving("v2");
    for h in &fleet.hosts {
        let live: Vec<_> = h
            .env
            .app_containers(&fleet.app)
            .into_iter()
            .filter(|(_, _, state)| state == "running")
            .collect();
        assert!(
            live.iter().any(|(_, image, _)| image == DEMO_V2),
            "{}: no running v2 container: {live:?}",
            h.name
        );
    }
}

/// The load balancer passes a host's failure on (no retry on another host, no host taken out):
/// with one host's proxy gone, about a third of the requests fail. Otherwise "0 failed" above
/// would prove nothing.
#[test]
fn fleet_load_balancer_does_not_hide_a_failing_host() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    up_each(&fleet, &fleet.single_host_spec(""), DEMO_V1);
    let last = fleet.hosts.last().expect("a fleet has hosts");
    last.env.kill(&fleet.proxy);
    let load = fleet.load();
    std::thread::sleep(Duration::from_secs(2));
    let Report { sent, failed, .. } = load.finish();
    eprintln!("one host's proxy down: {failed} of {sent} failed");
    assert!(sent >= 30, "too little load: {sent}");
    // Round robin over 3: a third fail; allow for the ends of the run.
    assert!(
        failed * 4 >= sent && failed * 2 <= sent,
        "expected about a third to fail: {failed} of {sent}"
    );
}
