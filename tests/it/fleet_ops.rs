//! Every command knows the fleet (issue 12, DESIGN.md §3, §9): `status`, `history`, `lock`,
//! `prune`, `down`, `exec`, `logs`, `doctor --hosts` and `--hosts`, against three test hosts
//! (`harness::fleet`), reached over tcp, TLS and ssh.

use bgdeploy::names;
use serde_json::Value;

use crate::harness::fleet::{Fleet, FleetHost};
use crate::harness::{DEMO_V1, DEMO_V2};

const STAGE: &str = "stage";

fn up(fleet: &Fleet, yaml: &str, image: &str, hosts: Option<&str>) -> crate::harness::cli::Run {
    let mut run = fleet
        .bgdeploy()
        .args(["up", &fleet.app, STAGE, "--image", image]);
    if let Some(hosts) = hosts {
        run = run.args(["--hosts", hosts]);
    }
    run.spec(yaml).run()
}

/// `bgdeploy --output json ARGS… APP stage [more]`: the document, after checking the exit.
fn json(fleet: &Fleet, yaml: &str, args: &[&str], more: &[&str], code: i32) -> Value {
    let run = fleet
        .bgdeploy()
        .args(["--output", "json"])
        .args(args.iter().copied())
        .args([fleet.app.as_str(), STAGE])
        .args(more.iter().copied())
        .spec(yaml)
        .run();
    run.assert_code(code);
    run.json()
}

fn host_names(doc: &Value, key: &str) -> Vec<String> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` list in {doc}"))
        .iter()
        .map(|h| h["host"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// A fleet deploy, then `status` (every host, `host` on every object), `history` (one run id
/// on every host), a `--hosts` subset deploy and the drift `status` flags, `--hosts` with a
/// name the stage does not have.
#[test]
fn fleet_status_history_and_drift() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let yaml = fleet.spec("    rollout: {canary: 1, parallel: 2}\n");
    up(&fleet, &yaml, DEMO_V1, None).assert_success();
    fleet.assert_serving("v1");

    let status = json(&fleet, &yaml, &["status"], &[], 0);
    assert_eq!(host_names(&status, "apps"), ["h1", "h2", "h3"], "{status}");
    assert_eq!(status["fleet"]["drift"], false, "{status}");
    for stage in status["apps"].as_array().expect("apps") {
        for c in stage["containers"].as_array().expect("containers") {
            assert_eq!(
                c["host"], stage["host"],
                "a container without its host: {c}"
            );
        }
    }

    let history = json(&fleet, &yaml, &["history"], &[], 0);
    let records = history.as_array().expect("a list of records");
    assert_eq!(records.len(), 3, "{history}");
    let runs: Vec<&Value> = records.iter().map(|r| &r["run"]).collect();
    assert!(runs[0].is_string(), "no run id: {history}");
    assert!(
        runs.iter().all(|r| *r == runs[0]),
        "one run, one id: {history}"
    );
    let hosts: Vec<&str> = records.iter().filter_map(|r| r["host"].as_str()).collect();
    assert_eq!(hosts, ["h1", "h2", "h3"], "{history}");

    // A subset: h2 only. The others stay on v1, and `status` says so.
    up(&fleet, &yaml, DEMO_V2, Some("h2")).assert_success();
    let versions = fleet.versions();
    assert_eq!(
        versions,
        [("h1", "v1"), ("h2", "v2"), ("h3", "v1")]
            .map(|(h, v)| (h.to_string(), Some(v.to_string())))
    );
    let status = json(&fleet, &yaml, &["status"], &[], 0);
    assert_eq!(status["fleet"]["drift"], true, "{status}");
    let drifting: Vec<&str> = status["fleet"]["hosts"]
        .as_array()
        .expect("fleet hosts")
        .iter()
        .filter(|h| h["drift"] == true)
        .filter_map(|h| h["host"].as_str())
        .collect();
    assert_eq!(drifting, ["h2"], "{status}");
    let human = fleet
        .bgdeploy()
        .args(["status", &fleet.app, STAGE])
        .spec(&yaml)
        .run();
    human.assert_success();
    eprintln!("status after `up --hosts h2`:\n{}", human.stdout);
    for needle in ["DRIFT", "on host h1", "on host h3", DEMO_V2] {
        assert!(human.stdout.contains(needle), "{needle}:\n{}", human.stdout);
    }
    // Status of a subset: only those hosts.
    let only = json(&fleet, &yaml, &["status"], &["--hosts", "h3,h1"], 0);
    assert_eq!(host_names(&only, "apps"), ["h1", "h3"], "{only}");

    let unknown = fleet
        .bgdeploy()
        .args(["status", &fleet.app, STAGE, "--hosts", "h1,nope"])
        .spec(&yaml)
        .run();
    unknown.assert_code(2);
    for needle in ["nope", "h1, h2, h3"] {
        assert!(
            unknown.stderr.contains(needle),
            "{needle}: {}",
            unknown.stderr
        );
    }
}

/// One host that cannot be reached: `status` shows the others, names it, and exits 3.
#[test]
fn fleet_status_shows_the_reachable_hosts_and_names_the_unreachable_one() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    up(&fleet, &fleet.spec(""), DEMO_V1, None).assert_success();
    // Nothing listens on port 1 of the first host: refused at once.
    let dead = format!("      h4: tcp://{}:1\n", fleet.hosts[0].host.ip());
    let yaml = fleet.spec_with_hosts(&format!("{}{dead}", fleet.hosts_yaml()), "");
    let status = json(&fleet, &yaml, &["status"], &[], 3);
    assert_eq!(host_names(&status, "apps"), ["h1", "h2", "h3"], "{status}");
    let h4 = &status["fleet"]["hosts"][3];
    assert_eq!(h4["host"], "h4", "{status}");
    assert_eq!(h4["reachable"], false, "{status}");
    let human = fleet
        .bgdeploy()
        .args(["status", &fleet.app, STAGE])
        .spec(&yaml)
        .run();
    eprintln!(
        "status with h4 unreachable:\n{}{}",
        human.stdout, human.stderr
    );
    human.assert_code(3);
    assert!(human.stdout.contains("unreachable"), "{}", human.stdout);
    assert!(human.stderr.contains("h4"), "{}", human.stderr);
}

/// A lock left on one host: `lock status` shows it there only; `lock release --hosts` frees
/// it there.
#[test]
fn fleet_lock_status_and_release_per_host() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let yaml = fleet.spec("");
    let h2: &FleetHost = &fleet.hosts[1];
    h2.env
        .container(&names::lock_name(&fleet.app, STAGE))
        .image(DEMO_V1)
        .arg("--network=none")
        .labels(&names::labels(&fleet.app, STAGE, names::KIND_LOCK))
        .label(names::LABEL_LOCK_OWNER, "ci@elsewhere pid 1")
        .create();
    let status = json(&fleet, &yaml, &["lock", "status"], &[], 0);
    assert_eq!(host_names(&status, "hosts"), ["h1", "h2", "h3"], "{status}");
    let locked: Vec<bool> = status["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| h["locked"] == true)
        .collect();
    assert_eq!(locked, [false, true, false], "{status}");
    // A deploy of the fleet refuses: h2 is locked.
    let refused = up(&fleet, &yaml, DEMO_V1, None);
    refused.assert_code(4);

    let released = json(
        &fleet,
        &yaml,
        &["lock", "release"],
        &["--yes", "--hosts", "h2"],
        0,
    );
    assert_eq!(host_names(&released, "hosts"), ["h2"], "{released}");
    assert_eq!(released["hosts"][0]["released"], true, "{released}");
    let status = json(&fleet, &yaml, &["lock", "status"], &[], 0);
    assert!(
        status["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .all(|h| h["locked"] == false),
        "{status}"
    );
}

/// `exec` and `logs` on every host with a prefix per host, `prune` and `down` on every host.
#[test]
fn fleet_exec_logs_prune_and_down_on_every_host() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let yaml = fleet.spec("    rollout: {canary: 0, parallel: 3}\n");
    up(&fleet, &yaml, DEMO_V1, None).assert_success();
    up(&fleet, &yaml, DEMO_V2, None).assert_success();
    fleet.assert_serving("v2");

    let exec = fleet
        .bgdeploy()
        .args(["exec", &fleet.app, STAGE, "--", "cat", "/www/version"])
        .spec(&yaml)
        .run();
    exec.assert_success();
    eprintln!("exec on the fleet:\n{}", exec.stdout);
    let lines: Vec<&str> = exec.stdout.lines().collect();
    assert_eq!(lines, ["h1 | v2", "h2 | v2", "h3 | v2"], "{}", exec.stdout);
    // A command failing on the hosts: its exit code, each host named.
    let failing = fleet
        .bgdeploy()
        .args([
            "exec", &fleet.app, STAGE, "--hosts", "h3", "--", "sh", "-c", "exit 3",
        ])
        .spec(&yaml)
        .run();
    failing.assert_code(3);
    let tty = fleet
        .bgdeploy()
        .args(["exec", &fleet.app, STAGE, "-t", "--", "true"])
        .spec(&yaml)
        .run();
    tty.assert_code(2);

    let logs = fleet
        .bgdeploy()
        .args(["logs", &fleet.app, STAGE, "--tail", "50"])
        .spec(&yaml)
        .run();
    logs.assert_success();
    let all = format!("{}{}", logs.stdout, logs.stderr);
    for h in ["h1 | ", "h2 | ", "h3 | "] {
        assert!(all.contains(h), "no line of {h}:\n{all}");
    }
    let logs_json = fleet
        .bgdeploy()
        .args([
            "--output", "json", "logs", &fleet.app, STAGE, "--hosts", "h2",
        ])
        .args(["--tail", "5"])
        .spec(&yaml)
        .run();
    logs_json.assert_success();
    for line in logs_json.stdout.lines() {
        let v: Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(v["host"], "h2", "{line}");
    }

    // keep: 2 in the spec; with keep 0 every retired release goes, on every host.
    let keep0 = yaml.replace("    keep: 2\n", "    keep: 0\n");
    let pruned = json(&fleet, &keep0, &["prune"], &[], 0);
    assert_eq!(host_names(&pruned, "hosts"), ["h1", "h2", "h3"], "{pruned}");
    for h in pruned["hosts"].as_array().expect("hosts") {
        assert_eq!(h["removed"].as_array().map(Vec::len), Some(1), "{pruned}");
    }
    for h in &fleet.hosts {
        let left = h.env.app_containers(&fleet.app);
        assert_eq!(left.len(), 1, "{}: {left:?}", h.name);
    }

    let down = json(&fleet, &yaml, &["down"], &["--yes", "--networks"], 0);
    assert_eq!(host_names(&down, "hosts"), ["h1", "h2", "h3"], "{down}");
    for h in &fleet.hosts {
        assert!(
            h.env.app_containers(&fleet.app).is_empty(),
            "{} still has containers",
            h.name
        );
        let nets = h.env.docker(&["network", "ls", "--format", "{{.Name}}"]);
        assert!(
            !nets.contains(&names::back_network(&fleet.app, STAGE)),
            "{}: {nets}",
            h.name
        );
    }
}

/// `doctor --hosts`: every fleet host of the spec audited, by name; an unknown name is bad
/// usage naming the hosts.
#[test]
fn fleet_doctor_audits_each_host() {
    let Some(fleet) = Fleet::start() else {
        return;
    };
    let yaml = fleet.spec("");
    up(&fleet, &yaml, DEMO_V1, None).assert_success();
    let run = fleet
        .bgdeploy()
        .args([
            "--output", "json", "doctor", "--hosts", "--name", &fleet.app,
        ])
        .spec(&yaml)
        .run();
    run.assert_success();
    let doc = run.json();
    assert_eq!(host_names(&doc, "hosts"), ["h1", "h2", "h3"], "{doc}");
    for h in doc["hosts"].as_array().expect("hosts") {
        assert_eq!(h["checked"], 1, "the live release on each host: {doc}");
    }
    let one = fleet
        .bgdeploy()
        .args(["--output", "json", "doctor", "--hosts", "h3"])
        .spec(&yaml)
        .run();
    assert_eq!(host_names(&one.json(), "hosts"), ["h3"]);
    let unknown = fleet
        .bgdeploy()
        .args(["doctor", "--hosts", "h9"])
        .spec(&yaml)
        .run();
    unknown.assert_code(2);
    assert!(unknown.stderr.contains("h1, h2, h3"), "{}", unknown.stderr);
}
