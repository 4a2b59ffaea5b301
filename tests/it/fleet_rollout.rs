//! Fleet runs (issue 12, DESIGN.md §9) against three real test hosts, each with its own nginx
//! proxy, behind a real nginx load balancer (`harness::fleet`): the canary and batches under
//! load, a release broken on one host rolled back (or halted) across the fleet, a host
//! unreachable before any change, `--hosts`, and a run killed with -9.

use std::time::Duration;

use crate::harness::fleet::{Fleet, FleetHost};
use crate::harness::{DEMO_V1, DEMO_V2, NGINX};

/// `up` of the whole fleet with `image`.
fn up(fleet: &Fleet, yaml: &str, image: &str) -> crate::harness::cli::Run {
    fleet
        .bgdeploy()
        .args([
            "--output", "json", "up", &fleet.app, "stage", "--image", image,
        ])
        .spec(yaml)
        .run()
}

/// The final `result` line of a JSON run.
fn result(run: &crate::harness::cli::Run) -> serde_json::Value {
    run.json_lines()
        .into_iter()
        .rev()
        .find(|l| l["event"] == "result")
        .unwrap_or_else(|| panic!("no result line:\n{}\n{}", run.stdout, run.stderr))
}

/// `(host, result, image live)` of every host in the result, in rollout order.
fn table(result: &serde_json::Value) -> Vec<(String, String, String)> {
    result["hosts"]
        .as_array()
        .expect("hosts[] in the result")
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap_or_default().to_string(),
                h["result"].as_str().unwrap_or_default().to_string(),
                h["image"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The app/stage's history on one host, as its own JSON document.
fn history(fleet: &Fleet, h: &FleetHost) -> String {
    let run = h
        .env
        .bgdeploy()
        .args(["--output", "json", "history", &fleet.app, "stage"])
        .spec(&fleet.single_host_spec(""))
        .run();
    run.assert_success();
    run.stdout
}

/// An image tag that means a different build on each host, removed again on drop.
struct Tags<'f> {
    fleet: &'f Fleet,
    tag: String,
}

impl<'f> Tags<'f> {
    /// `tag` is `good` on every host but the last, where it is `broken`.
    fn broken_on_last(fleet: &'f Fleet, tag: &str, good: &str, broken: &str) -> Tags<'f> {
        let last = fleet.hosts.len() - 1;
        for (i, h) in fleet.hosts.iter().enumerate() {
            h.env
                .docker(&["tag", if i == last { broken } else { good }, tag]);
        }
        Tags {
            fleet,
            tag: tag.to_string(),
        }
    }
}

impl Drop for Tags<'_> {
    fn drop(&mut self) {
        for h in &self.fleet.hosts {
            // Untags only: the image keeps its other tag, for the other tests.
            h.env.docker(&["rmi", "--no-prune", &self.tag]);
        }
    }
}

/// The fixture's spec with a short health deadline (a broken release fails in seconds) and
/// `rollout`.
fn spec(fleet: &Fleet, rollout: &str) -> String {
    fleet
        .spec(&format!("    rollout: {rollout}\n"))
        .replace("deadline: 30s", "deadline: 6s")
}

/// v1 → v2 with `canary: 1, parallel: 2` under load through the load balancer: no request
/// fails, every host serves v2, and every host's history has the same run id. Then a v3 that
/// is a broken build on the third host only: the canary and host 2 switch, host 3 fails, and
/// `on_failure: rollback` brings hosts 1–2 back to v2 (exit 1, still nothing dropped); with
/// `halt`, exit 6 and the table shows the mix.
#[test]
fn fleet_up_canary_batches_and_rollback_across_hosts_under_load() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let yaml = spec(&fleet, "{canary: 1, parallel: 2}");
    up(&fleet, &yaml, DEMO_V1).assert_success();
    fleet.assert_serving("v1");

    let load = fleet.load();
    std::thread::sleep(Duration::from_millis(300));
    let run = up(&fleet, &yaml, DEMO_V2);
    std::thread::sleep(Duration::from_millis(300));
    let report = load.finish();
    eprintln!("fleet up v1 -> v2: {report:?}");
    run.assert_success();
    assert!(report.sent > 50, "too little load: {report:?}");
    assert_eq!(report.failed, 0, "requests failed: {report:?}");
    fleet.assert_serving("v2");
    let doc = result(&run);
    let run_id = doc["run"].as_str().expect("the run id").to_string();
    // Every event of a fleet run names its run; the hosts' events name their host.
    let lines = run.json_lines();
    assert!(
        lines.iter().all(|l| l["run"] == run_id.as_str()),
        "{}",
        run.stdout
    );
    for h in &fleet.hosts {
        assert!(
            lines
                .iter()
                .any(|l| l["host"] == h.name.as_str() && l["event"] == "step_started"),
            "no step of {} in:\n{}",
            h.name,
            run.stdout
        );
        // The run id names the release on every host (its suffix), and each host's history
        // records that release: one run, the same id everywhere.
        let text = history(&fleet, h);
        let release = format!("{}_stage_{run_id}", fleet.app);
        assert!(
            text.contains(&format!("\"container\": \"{release}\"")),
            "{}: no record of run {run_id}:\n{text}",
            h.name
        );
    }
    assert_eq!(
        table(&doc),
        fleet
            .hosts
            .iter()
            .map(|h| (h.name.clone(), "ok".to_string(), DEMO_V2.to_string()))
            .collect::<Vec<_>>()
    );

    // v3: a good build on h1 and h2, a broken one (no app on the port) on h3.
    let v3 = format!("{}:v3", fleet.app);
    let _tags = Tags::broken_on_last(&fleet, &v3, DEMO_V2, NGINX);
    let load = fleet.load();
    std::thread::sleep(Duration::from_millis(300));
    let run = up(&fleet, &yaml, &v3);
    std::thread::sleep(Duration::from_millis(300));
    let report = load.finish();
    eprintln!("fleet up v3 broken on h3, on_failure rollback: {report:?}");
    run.assert_code(1);
    assert_eq!(report.failed, 0, "requests failed: {report:?}");
    fleet.assert_serving("v2");
    let doc = result(&run);
    let rows = table(&doc);
    assert_eq!(
        rows,
        vec![
            (
                "h1".to_string(),
                "rolled back".to_string(),
                DEMO_V2.to_string()
            ),
            (
                "h2".to_string(),
                "rolled back".to_string(),
                DEMO_V2.to_string()
            ),
            ("h3".to_string(), "failed".to_string(), DEMO_V2.to_string()),
        ],
        "{}",
        run.stdout
    );
    assert!(
        doc["hosts"][2]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{doc}"
    );

    // The same with `halt`: h1 and h2 stay on v3, h3 on v2, exit 6; the human table says so.
    let halt = spec(&fleet, "{canary: 1, parallel: 2, on_failure: halt}");
    let run = fleet
        .bgdeploy()
        .args(["up", &fleet.app, "stage", "--image", &v3])
        .env("CI", "1")
        .spec(&halt)
        .run();
    run.assert_code(6);
    run.stdout_contains("HOST")
        .stdout_contains("halted on the new release");
    run.stdout_contains("[h3]");
    let versions = fleet.versions();
    assert_eq!(
        versions,
        vec![
            ("h1".to_string(), Some("v2".to_string())),
            ("h2".to_string(), Some("v2".to_string())),
            ("h3".to_string(), Some("v2".to_string())),
        ],
        "v3 is the v2 build on h1/h2, so all answer v2; the containers tell the mix"
    );
    let live_image = |h: &FleetHost| -> Vec<String> {
        h.env
            .app_containers(&fleet.app)
            .into_iter()
            .filter(|(_, _, state)| state == "running")
            .map(|(_, image, _)| image)
            .collect()
    };
    assert_eq!(live_image(&fleet.hosts[0]), vec![v3.clone()]);
    assert_eq!(live_image(&fleet.hosts[1]), vec![v3.clone()]);
    assert_eq!(live_image(&fleet.hosts[2]), vec![DEMO_V2.to_string()]);
}

/// A host that cannot be reached stops the run before anything changes anywhere (exit 3,
/// naming it); `--hosts` deploys a subset, and an unknown name is a usage error listing the
/// hosts.
#[test]
fn fleet_unreachable_host_changes_nothing_and_hosts_picks_a_subset() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let yaml = spec(&fleet, "{canary: 0, parallel: 3}");
    up(&fleet, &yaml, DEMO_V1).assert_success();
    let before: Vec<_> = fleet
        .hosts
        .iter()
        .map(|h| h.env.app_containers(&fleet.app))
        .collect();

    // A fourth host where nothing listens.
    let hosts = fleet.hosts_yaml();
    let unreachable = yaml.replace(&hosts, &format!("{hosts}      h4: tcp://127.0.0.1:1\n"));
    let run = fleet
        .bgdeploy()
        .args(["up", &fleet.app, "stage", "--image", DEMO_V2])
        .spec(&unreachable)
        .run();
    run.assert_code(3);
    run.stderr_contains("h4");
    let after: Vec<_> = fleet
        .hosts
        .iter()
        .map(|h| h.env.app_containers(&fleet.app))
        .collect();
    assert_eq!(before, after, "nothing changed on the reachable hosts");
    fleet.assert_serving("v1");

    let run = fleet
        .bgdeploy()
        .args([
            "up", &fleet.app, "stage", "--image", DEMO_V2, "--hosts", "h9,h1",
        ])
        .spec(&yaml)
        .run();
    run.assert_code(2);
    run.stderr_contains("h9").stderr_contains("h1, h2, h3");

    let run = fleet
        .bgdeploy()
        .args([
            "--output", "json", "up", &fleet.app, "stage", "--image", DEMO_V2, "--hosts", "h2",
        ])
        .spec(&yaml)
        .run();
    run.assert_success();
    assert_eq!(
        table(&result(&run)),
        vec![("h2".to_string(), "ok".to_string(), DEMO_V2.to_string())]
    );
    assert_eq!(
        fleet.versions(),
        vec![
            ("h1".to_string(), Some("v1".to_string())),
            ("h2".to_string(), Some("v2".to_string())),
            ("h3".to_string(), Some("v1".to_string())),
        ]
    );
    // The plan of the fleet shows its batches and each host, and --check passes.
    let run = fleet
        .bgdeploy()
        .args(["plan", &fleet.app, "stage", "--image", DEMO_V2, "--check"])
        .spec(&yaml)
        .run();
    run.assert_success();
    run.stdout_contains("batch 1: h1, h2, h3")
        .stdout_contains("== host h3 ==");
}

/// bgdeploy killed with -9 in the middle of a fleet run: every host keeps a live release that
/// serves, and the next `up` takes over the stale locks, cleans up and converges the fleet.
#[test]
fn fleet_run_killed_mid_way_keeps_every_host_serving_and_the_next_up_converges() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let yaml = spec(&fleet, "{canary: 1, parallel: 1}");
    up(&fleet, &yaml, DEMO_V1).assert_success();
    let load = fleet.load();
    let mut running = crate::faults::spawn_streamed_with(
        &fleet.local,
        &yaml,
        &[
            "--output", "json", "up", &fleet.app, "stage", "--image", DEMO_V2,
        ],
        &[],
    );
    // Killed while the canary drains its old release: past the canary's point of no return,
    // before the next batch, every host's lock held. Waiting for the event, not a fixed time,
    // lands there however loaded the machine is.
    let draining = running.until(|v| {
        v["event"] == "step_started" && v["host"] == "h1" && v["step"]["action"] == "drain"
    });
    assert!(
        draining.is_some(),
        "the run ended before the canary drained"
    );
    running.signal(crate::faults::Sig::Kill);
    let killed = running.finish();
    eprintln!("killed run printed:\n{}", killed.lines.join("\n"));
    assert_eq!(killed.code, None, "the run had ended before the kill");
    std::thread::sleep(Duration::from_millis(500));
    for (name, version) in fleet.versions() {
        assert!(
            matches!(version.as_deref(), Some("v1") | Some("v2")),
            "{name} does not serve after the kill: {version:?}"
        );
    }
    let run = up(&fleet, &yaml, DEMO_V2);
    let report = load.finish();
    eprintln!("kill -9 mid-fleet, then up: {report:?}");
    run.assert_success();
    // The killed run held every host's lock: the next one takes them over.
    run.stdout_contains("taking over the stale lock");
    assert_eq!(report.failed, 0, "requests failed: {report:?}");
    fleet.assert_serving("v2");
}

/// `up --no-cutover` leaves a standby on every host and moves no traffic; `cutover` makes it
/// live on every host under load with nothing dropped; `rollback` brings the retired v1 back
/// on every host. The hooks run once per fleet run (not per host) with every host named, and
/// `before_switch` once, on the first host.
#[test]
fn fleet_standby_cutover_rollback_and_hooks_once_per_run() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let dir = fleet.local.dir().display().to_string();
    let hooks = format!(
        "    hooks:\n      pre_deploy: [sh, -c, \"echo $BGDEPLOY_COMMAND $BGDEPLOY_HOSTS >> {dir}/pre.log\"]\n      post_deploy: [sh, -c, \"echo $BGDEPLOY_COMMAND $BGDEPLOY_RESULT >> {dir}/post.log\"]\n      before_switch: {{command: [sh, -c, \"echo migrated\"], timeout: 30s}}\n"
    );
    let yaml = spec(&fleet, "{canary: 1, parallel: 2}") + &hooks;
    let run = up(&fleet, &yaml, DEMO_V1);
    run.assert_success();
    let before_switch: Vec<String> = run
        .json_lines()
        .into_iter()
        .filter(|l| l["event"] == "step_started" && l["step"]["action"] == "before_switch")
        .map(|l| l["host"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        before_switch,
        vec!["h1".to_string()],
        "before_switch once, on the first host"
    );

    let standby = fleet
        .bgdeploy()
        .args([
            "--output",
            "json",
            "up",
            &fleet.app,
            "stage",
            "--image",
            DEMO_V2,
            "--no-cutover",
        ])
        .spec(&yaml)
        .run();
    standby.assert_success();
    fleet.assert_serving("v1");

    let load = fleet.load();
    std::thread::sleep(Duration::from_millis(300));
    let cutover = fleet
        .bgdeploy()
        .args(["--output", "json", "cutover", &fleet.app, "stage"])
        .spec(&yaml)
        .run();
    std::thread::sleep(Duration::from_millis(300));
    let report = load.finish();
    eprintln!("fleet cutover: {report:?}");
    cutover.assert_success();
    assert_eq!(report.failed, 0, "requests failed: {report:?}");
    fleet.assert_serving("v2");
    let hosts: Vec<String> = table(&result(&cutover))
        .into_iter()
        .map(|(host, _, image)| format!("{host} {image}"))
        .collect();
    assert_eq!(
        hosts,
        ["h1", "h2", "h3"].map(|h| format!("{h} {DEMO_V2}")),
        "every host live on v2 after the cutover"
    );

    let rollback = fleet
        .bgdeploy()
        .args(["--output", "json", "rollback", &fleet.app, "stage"])
        .spec(&yaml)
        .run();
    rollback.assert_success();
    fleet.assert_serving("v1");

    let read = |file: &str| std::fs::read_to_string(format!("{dir}/{file}")).unwrap_or_default();
    let pre: Vec<String> = read("pre.log").lines().map(str::to_string).collect();
    assert_eq!(
        pre,
        ["up", "up", "cutover", "rollback"].map(|c| format!("{c} h1 h2 h3")),
        "pre_deploy once per run, naming every host"
    );
    let post: Vec<String> = read("post.log").lines().map(str::to_string).collect();
    assert_eq!(
        post,
        ["up ok", "up standby", "cutover ok", "rollback ok"],
        "post_deploy once per run, with the run's result (a --no-cutover run leaves a standby)"
    );
}
