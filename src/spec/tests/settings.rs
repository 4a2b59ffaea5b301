//! The container settings (DESIGN.md §11): every key read, stages merged over the app, and
//! every wrong form reported at once with its key path and line.

use std::collections::BTreeMap;

use super::{MINIMAL, invalid, snap, valid};
use crate::spec::settings::{Bytes, Cpus, Logging, MountSource, Restart, Ulimit};
use crate::spec::{ContainerSettings, SpecError};

const FULL: &str = "\
apps:
  shop:
    image: shop:1
    port: 8080
    volumes: [uploads:/app/uploads, /etc/shop/config.yml:/app/config.yml:ro]
    tmpfs: [/run, '/tmp:size=64m,mode=1777']
    labels: {team: shop, com.example.tier: web}
    user: \"1000:1000\"
    working_dir: /app
    entrypoint: [/bin/tini, --]
    memory: 512m
    memory_reservation: 256M
    cpus: 1.5
    pids_limit: 200
    ulimits: {nofile: {soft: 1024, hard: 4096}, core: 0}
    shm_size: 64m
    logging: {driver: json-file, options: {max-size: 10m, max-file: 3}}
    extra_hosts: [db.internal:10.0.0.5, gw=host-gateway]
    dns: [10.0.0.2]
    cap_add: [net_admin]
    cap_drop: [ALL]
    read_only: true
    init: true
    stop_signal: quit
    restart: on-failure:5
    sysctls: {net.core.somaxconn: 1024}
    security_opt: [no-new-privileges:true]
    devices: [/dev/fuse]
    stages:
      stage:
        memory: 1g
        labels: {tier: stage}
        logging: {options: {max-file: 5}}
      production:
        logging: {driver: local}
";

#[test]
fn every_key_is_read_and_stages_merge_over_the_app() {
    let spec = valid(FULL);
    let production = &spec.deploy("shop", "production").expect("stage").container;
    assert_eq!(production.volumes.len(), 2);
    assert_eq!(
        production.volumes[0].source,
        MountSource::Volume("uploads".into())
    );
    assert!(production.volumes[1].read_only);
    assert_eq!(
        production.tmpfs,
        BTreeMap::from([
            ("/run".into(), String::new()),
            ("/tmp".into(), "size=64m,mode=1777".into())
        ])
    );
    assert_eq!(production.user.as_deref(), Some("1000:1000"));
    assert_eq!(production.working_dir.as_deref(), Some("/app"));
    assert_eq!(production.memory, Some(Bytes(512 << 20)));
    assert_eq!(production.memory_reservation, Some(Bytes(256 << 20)));
    assert_eq!(production.cpus, Some(Cpus(1_500_000_000)));
    assert_eq!(production.pids_limit, Some(200));
    assert_eq!(
        production.ulimits["nofile"],
        Ulimit {
            soft: 1024,
            hard: 4096
        }
    );
    assert_eq!(production.ulimits["core"], Ulimit { soft: 0, hard: 0 });
    assert_eq!(
        production.extra_hosts,
        ["db.internal:10.0.0.5", "gw:host-gateway"]
    );
    assert_eq!(production.cap_add, ["CAP_NET_ADMIN"]);
    assert_eq!(production.cap_drop, ["ALL"]);
    assert!(production.read_only && production.init);
    assert_eq!(production.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(production.restart, Restart::OnFailure(Some(5)));
    assert_eq!(production.devices[0].to_string(), "/dev/fuse:/dev/fuse:rwm");
    // Another driver: the app's options were for json-file, so they are dropped.
    assert_eq!(
        production.logging,
        Some(Logging {
            driver: "local".into(),
            options: BTreeMap::new()
        })
    );

    let stage = &spec.deploy("shop", "stage").expect("stage").container;
    assert_eq!(stage.memory, Some(Bytes(1 << 30)));
    assert_eq!(
        stage.labels,
        BTreeMap::from([
            ("team".into(), "shop".into()),
            ("com.example.tier".into(), "web".into()),
            ("tier".into(), "stage".into())
        ])
    );
    let logging = stage.logging.as_ref().expect("logging");
    assert_eq!(logging.driver, "json-file");
    assert_eq!(logging.options["max-size"], "10m");
    assert_eq!(logging.options["max-file"], "5");
}

#[test]
fn nothing_written_means_the_defaults() {
    let spec = valid(MINIMAL);
    let settings = &spec.deploy("shop", "production").expect("stage").container;
    assert_eq!(settings, &ContainerSettings::default());
    assert_eq!(settings.restart, Restart::UnlessStopped);
}

#[test]
fn every_wrong_setting_is_reported_at_once() {
    let settings = [
        "memory: lots",
        "cpus: 0",
        "volumes: [uploads, ./data:/data, /srv:/srv:rx]",
        "restart: sometimes",
        "labels: {bgdeploy.app: evil, team: shop}",
        "memory_reservation: 2g",
        "tmpfs: [run]",
        "ulimits: {nofile: {soft: 10, hard: 5}, files: 3}",
        "cap_drop: [NET_RAWW]",
        "stop_signal: SIGNOPE",
        "extra_hosts: [db]",
        "pids_limit: 0",
        "logging: {options: {max-size: 10m}}",
    ];
    let yaml: String = std::iter::once(MINIMAL.to_owned())
        .chain(settings.iter().map(|line| format!("        {line}\n")))
        .collect();
    let SpecError::Invalid { problems, .. } = invalid(&yaml) else {
        panic!("expected Invalid");
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.key_path.as_str()).collect();
    for expected in [
        "apps.shop.stages.production.memory",
        "apps.shop.stages.production.cpus",
        "apps.shop.stages.production.volumes[0]",
        "apps.shop.stages.production.volumes[1]",
        "apps.shop.stages.production.volumes[2]",
        "apps.shop.stages.production.restart",
        "apps.shop.stages.production.labels.\"bgdeploy.app\"",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:#?}");
    }
    assert!(problems.iter().all(|p| p.line.is_some()), "{problems:#?}");
    snap!("settings_every_problem", invalid(&yaml).to_string());
}

#[test]
fn a_reservation_above_the_limit_is_reported_where_the_reservation_is() {
    let yaml = "\
apps:
  shop:
    image: shop:1
    port: 8080
    memory: 64m
    stages:
      production:
        memory_reservation: 128m
";
    let SpecError::Invalid { problems, .. } = invalid(yaml) else {
        panic!("expected Invalid");
    };
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(
        problems[0].to_string(),
        "apps.shop.stages.production.memory_reservation (line 8): 128m is above `memory` \
         (64m, at apps.shop.memory); a reservation is a soft limit below the hard one"
    );
}

#[test]
fn a_stage_replaces_lists_and_keeps_the_apps_other_settings() {
    let yaml = "\
apps:
  shop:
    image: shop:1
    port: 8080
    volumes: [a-volume:/a]
    restart: always
    stages:
      production:
        volumes: [/srv/b:/b:ro]
";
    let spec = valid(yaml);
    let settings = &spec.deploy("shop", "production").expect("stage").container;
    let volumes: Vec<String> = settings.volumes.iter().map(ToString::to_string).collect();
    assert_eq!(volumes, ["/srv/b:/b:ro"]);
    assert_eq!(settings.restart, Restart::Always);
}
