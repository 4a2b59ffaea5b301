//! The container settings of DESIGN.md §11 against the real engine (issue 15): what the spec
//! says is what `docker inspect` shows on the live release; a named volume outlives a release;
//! a missing bind-mount host path stops `up` before any change; wrong settings are all
//! reported by `validate`.

use std::time::Duration;

use crate::harness::{
    DEMO_V1, DEMO_V2, TestEnv, docker, docker_output, require_engine, require_images,
};
use crate::up::{containers, live, serves};

/// The settings under test, as app keys; `volume` and `config` are the named volume and the
/// host directory bind-mounted read-only.
fn settings(volume: &str, config: &str) -> String {
    format!(
        "    volumes: [\"{volume}:/data\", \"{config}:/config:ro\"]
    tmpfs: [\"/run/app:size=8m\"]
    memory: 64m
    cpus: 0.5
    pids_limit: 100
    logging: {{driver: json-file, options: {{max-size: 1m, max-file: 2}}}}
    labels: {{com.example.team: shop}}
    working_dir: /data
    extra_hosts: [db.internal:10.1.2.3]
    cap_drop: [net_raw]
    init: true
    stop_signal: SIGINT
"
    )
}

fn spec(app: &str, image: &str, settings: &str) -> String {
    format!(
        "apps:\n  {app}:\n    image: {image}\n    port: 8080\n    health: {{http: /up, interval: 100ms, deadline: 20s}}\n    drain: 0s\n    stop_timeout: 5s\n    keep: 1\n{settings}    stages:\n      stage: {{}}\n"
    )
}

fn inspect(container: &str, template: &str) -> String {
    docker(&["inspect", "-f", template, container])
}

fn up(env: &TestEnv, yaml: &str, app: &str, image: &str) -> crate::harness::cli::Run {
    env.bgdeploy()
        .args(["up", app, "stage", "--image", image])
        .spec(yaml)
        .timeout(Duration::from_secs(90))
        .run()
}

#[tokio::test]
async fn the_live_release_runs_with_every_setting_and_the_volume_outlives_it() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let app = env.name("shop");
    // Named with the test's prefix, so that the harness removes it (and CI's cleanup would).
    let volume = env.name("data");
    let config = env.dir().join("config");
    std::fs::create_dir(&config).expect("config dir");
    std::fs::write(config.join("app.conf"), "from-the-host\n").expect("config file");
    let config = config.to_str().expect("UTF-8 temp path").to_string();
    let yaml = spec(&app, DEMO_V1, &settings(&volume, &config));

    // plan says the engine will create the volume, and shows the settings.
    env.bgdeploy()
        .args(["plan", &app, "stage"])
        .spec(&yaml)
        .run()
        .assert_success()
        .stdout_contains(&format!(
            "{volume}:/data (new volume, created by the engine)"
        ))
        .stdout_contains(&format!("{config}:/config:ro"))
        .stdout_contains("memory: 64m")
        .stdout_contains("cpus: 0.5")
        .stdout_contains("restart: unless-stopped");

    up(&env, &yaml, &app, DEMO_V1).assert_success();
    let blue = live(&app);
    assert_eq!(blue.len(), 1, "{blue:?}");
    let c = &blue[0];
    assert!(serves(&app, c, "v1"));

    // Each setting as written, as the engine reports it.
    let mounts = inspect(
        c,
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Source}} {{.Destination}} {{.RW}};{{end}}",
    );
    assert!(
        mounts.contains(&format!("volume {volume} ")) && mounts.contains(" /data true;"),
        "{mounts}"
    );
    assert!(
        mounts.contains(&format!("bind  {config} /config false;")),
        "{mounts}"
    );
    assert_eq!(
        inspect(c, "{{json .HostConfig.Tmpfs}}"),
        r#"{"/run/app":"size=8m"}"#
    );
    assert_eq!(inspect(c, "{{.HostConfig.Memory}}"), (64 << 20).to_string());
    assert_eq!(inspect(c, "{{.HostConfig.NanoCpus}}"), "500000000");
    assert_eq!(inspect(c, "{{.HostConfig.PidsLimit}}"), "100");
    assert_eq!(
        inspect(c, "{{json .HostConfig.LogConfig}}"),
        r#"{"Type":"json-file","Config":{"max-file":"2","max-size":"1m"}}"#
    );
    assert_eq!(
        inspect(c, r#"{{index .Config.Labels "com.example.team"}}"#),
        "shop"
    );
    assert_eq!(
        inspect(c, r#"{{index .Config.Labels "bgdeploy.app"}}"#),
        app,
        "bgdeploy's own labels stay"
    );
    assert_eq!(inspect(c, "{{.Config.WorkingDir}}"), "/data");
    assert_eq!(
        inspect(c, "{{json .HostConfig.ExtraHosts}}"),
        r#"["db.internal:10.1.2.3"]"#
    );
    assert_eq!(
        inspect(c, "{{json .HostConfig.CapDrop}}"),
        r#"["CAP_NET_RAW"]"#
    );
    assert_eq!(inspect(c, "{{.HostConfig.Init}}"), "true");
    assert_eq!(inspect(c, "{{.Config.StopSignal}}"), "SIGINT");
    assert_eq!(
        inspect(c, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );

    // Inside: the bind mount is there and read-only; the tmpfs is a tmpfs; the host entry.
    assert_eq!(
        docker(&["exec", c, "cat", "/config/app.conf"]),
        "from-the-host"
    );
    let write = docker_output(&["exec", c, "sh", "-c", "echo x > /config/new"]);
    assert!(!write.status.success(), "the bind mount must be read-only");
    assert!(
        String::from_utf8_lossy(&write.stderr).contains("Read-only file system"),
        "{write:?}"
    );
    assert!(docker(&["exec", c, "cat", "/proc/mounts"]).contains("tmpfs /run/app tmpfs"));
    assert!(docker(&["exec", c, "cat", "/etc/hosts"]).contains("10.1.2.3\tdb.internal"));

    // status shows the live release's resources.
    env.bgdeploy()
        .args(["status", &app, "stage"])
        .spec(&yaml)
        .run()
        .assert_success()
        .stdout_contains(&format!(
            "resources of {c}: memory 64m, cpus 0.5, pids_limit 100"
        ));

    // v1 writes to the named volume; v2, deployed next, reads it.
    docker(&["exec", c, "sh", "-c", "echo written-by-v1 > /data/note"]);
    let yaml2 = spec(&app, DEMO_V2, &settings(&volume, &config));
    up(&env, &yaml2, &app, DEMO_V2).assert_success();
    let green = live(&app);
    assert_eq!(green.len(), 1, "{green:?}");
    assert_ne!(green, blue);
    assert!(serves(&app, &green[0], "v2"));
    assert_eq!(
        docker(&["exec", &green[0], "cat", "/data/note"]),
        "written-by-v1"
    );
    // The volume is there, unlabelled as `docker run` leaves it, and outlives both releases
    // until the harness removes it.
    assert_eq!(
        docker(&["volume", "inspect", "-f", "{{.Name}}", &volume]),
        volume
    );
}

#[tokio::test]
async fn a_missing_bind_mount_path_stops_up_before_any_change() {
    let Some(_engine) = require_engine().await else {
        return;
    };
    require_images();
    let env = TestEnv::new();
    let app = env.name("shop");
    let missing = env.dir().join("no-such-dir");
    let missing = missing.to_str().expect("UTF-8 temp path");
    let yaml = spec(
        &app,
        DEMO_V1,
        &format!("    volumes: [\"{missing}:/config:ro\"]\n"),
    );

    env.bgdeploy()
        .args(["plan", &app, "stage"])
        .spec(&yaml)
        .run()
        .assert_success()
        .stdout_contains("[bind_path_missing]")
        .stdout_contains(missing);
    up(&env, &yaml, &app, DEMO_V1)
        .assert_code(1)
        .stderr_contains(missing)
        .stderr_contains("does not exist on this host");
    assert!(containers(&app, false).is_empty(), "nothing was created");
    let networks = docker(&[
        "network",
        "ls",
        "--filter",
        &format!("name={app}"),
        "--format",
        "{{.Name}}",
    ]);
    assert!(networks.is_empty(), "no network was created: {networks}");
}

#[test]
fn validate_names_every_wrong_setting_with_its_key_path() {
    let env = TestEnv::new();
    let yaml = "apps:
  shop:
    image: shop:1
    port: 8080
    memory: lots
    cpus: -2
    volumes: [uploads, \"./data:/data\"]
    restart: sometimes
    labels: {team: shop, bgdeploy.app: other}
    stages:
      stage: {}
";
    let run = env.bgdeploy().arg("validate").spec(yaml).run();
    run.assert_code(2);
    let path = env.bgdeploy().spec(yaml).spec_path();
    let message = run
        .stderr
        .replace(path.to_str().expect("UTF-8 temp path"), "deploy.yaml");
    for key in [
        "apps.shop.memory (line 5)",
        "apps.shop.cpus (line 6)",
        "apps.shop.volumes[0] (line 7)",
        "apps.shop.volumes[1] (line 7)",
        "apps.shop.restart (line 8)",
        "apps.shop.labels.\"bgdeploy.app\" (line 9)",
    ] {
        assert!(message.contains(key), "{key} missing in:\n{message}");
    }
    insta::assert_snapshot!("validate_wrong_settings", message);
}
