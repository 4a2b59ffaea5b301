//! Stage overrides: deep merge of maps, the `virtual_host` shorthand, keys set only in
//! stages, and where problems of merged settings are reported.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{invalid, snap, valid};
use crate::spec::{HealthCheck, ProxyDriver, StatusRange, Verify, defaults};

#[test]
fn maps_merge_deeply_and_lists_are_replaced() {
    let spec = valid(
        "\
apps:
  shop:
    image: shop:1
    port: 8080
    env: {A: app, B: app}
    networks: [one, two]
    health: {http: /up, interval: 1s}
    proxy:
      driver: nginx
      container: proxy
      virtual_host: shop.example.com
      config_path: /etc/nginx/conf.d/shop.conf
      verify: {url: \"http://127.0.0.1/up\", host: shop.example.com}
    stages:
      stage:
        env: {B: stage, C: stage}
        networks: [three]
        health: {timeout: 5s}
        proxy: {verify: {host: stage.example.com}}
      production:
",
    );
    let stage = spec.deploy("shop", "stage").unwrap();
    let env: BTreeMap<String, String> = [("A", "app"), ("B", "stage"), ("C", "stage")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(stage.env, env);
    assert_eq!(stage.networks, ["three"]);
    assert_eq!(
        stage.health.check,
        HealthCheck::Http {
            path: "/up".into(),
            expect: defaults::EXPECT
        }
    );
    assert_eq!(stage.health.interval, Duration::from_secs(1));
    assert_eq!(stage.health.timeout, Duration::from_secs(5));
    assert_eq!(
        stage.proxy.verify,
        Some(Verify {
            url: "http://127.0.0.1/up".into(),
            host: Some("stage.example.com".into())
        })
    );
    assert_eq!(stage.proxy.driver.container(), Some("proxy"));

    let production = spec.deploy("shop", "production").unwrap();
    assert_eq!(production.networks, ["one", "two"]);
    assert_eq!(production.health.timeout, defaults::TIMEOUT);
    assert_eq!(production.env.get("B").map(String::as_str), Some("app"));
}

#[test]
fn virtual_host_shorthand_overrides_the_proxy_host() {
    let spec = valid(
        "\
apps:
  shop:
    image: shop:1
    port: 8080
    proxy: {driver: nginx-proxy, container: nginx-proxy, virtual_host: shop.example.com}
    stages:
      stage: {virtual_host: stage.shop.example.com}
      production:
",
    );
    let host = |stage| {
        spec.deploy("shop", stage)
            .unwrap()
            .proxy
            .driver
            .virtual_host()
    };
    assert_eq!(host("stage"), Some("stage.shop.example.com"));
    assert_eq!(host("production"), Some("shop.example.com"));
}

#[test]
fn image_and_port_may_be_set_only_in_stages() {
    let spec = valid(
        "\
apps:
  shop:
    port: 8080
    stages:
      stage: {image: shop:edge}
      production: {image: shop:1.4.2, port: 9090}
",
    );
    assert_eq!(spec.deploy("shop", "stage").unwrap().image, "shop:edge");
    let production = spec.deploy("shop", "production").unwrap();
    assert_eq!(
        (production.image.as_str(), production.port),
        ("shop:1.4.2", 9090)
    );
}

#[test]
fn required_key_missing_in_some_stages_is_reported_on_each() {
    let yaml = "\
apps:
  shop:
    port: 8080
    stages:
      stage: {image: shop:edge}
      qa:
      production: {keep: 3}
";
    snap!("stage_missing_image", invalid(yaml).to_string());
}

#[test]
fn stage_problems_point_at_the_override_and_app_problems_are_reported_once() {
    let yaml = "\
apps:
  shop:
    image: shop:1
    port: 8080
    drain: forever
    stages:
      stage:
        health: {http: up}
      production:
        proxy: {driver: nginx}
";
    snap!("stage_problems", invalid(yaml).to_string());
}

#[test]
fn a_stage_that_switches_health_mode_or_driver_starts_that_part_afresh() {
    let spec = valid(
        "\
apps:
  shop:
    image: shop:1
    port: 8080
    health: {http: /up, expect: 200}
    proxy:
      driver: nginx
      container: proxy
      virtual_host: shop.example.com
      config_path: /etc/nginx/conf.d/shop.conf
    stages:
      stage:
        health: {tcp: true}
        proxy: {driver: nginx-proxy}
      production:
",
    );
    let stage = spec.deploy("shop", "stage").unwrap();
    assert_eq!(stage.health.check, HealthCheck::Tcp { port: 8080 });
    assert_eq!(
        stage.proxy.driver,
        ProxyDriver::NginxProxy {
            container: "proxy".into(),
            virtual_host: "shop.example.com".into(),
            reload: None,
            docker_gen: None,
        }
    );
    let production = spec.deploy("shop", "production").unwrap();
    assert_eq!(
        production.health.check,
        HealthCheck::Http {
            path: "/up".into(),
            expect: StatusRange {
                low: 200,
                high: 200
            }
        }
    );
    assert_eq!(production.proxy.driver.name(), "nginx");
}

#[test]
fn docker_gen_keys_default_to_hup_and_leave_with_the_driver() {
    let spec = valid(
        "\
apps:
  shop:
    image: shop:1
    port: 8080
    proxy:
      driver: nginx-proxy
      container: nginx
      virtual_host: shop.example.com
      docker_gen_container: docker-gen
    stages:
      stage:
      canary: {proxy: {signal: sigusr1}}
      production:
        proxy: {driver: nginx, config_path: /etc/nginx/conf.d/shop.conf}
",
    );
    let docker_gen = |stage: &str| match &spec.deploy("shop", stage).unwrap().proxy.driver {
        ProxyDriver::NginxProxy { docker_gen, .. } => docker_gen.clone(),
        other => panic!("{other:?}"),
    };
    let stage = docker_gen("stage").expect("docker-gen");
    assert_eq!(
        (stage.container.as_str(), stage.signal.as_str()),
        ("docker-gen", defaults::DOCKER_GEN_SIGNAL)
    );
    assert_eq!(docker_gen("canary").expect("docker-gen").signal, "USR1");
    // Switching to nginx drops the nginx-proxy-only keys instead of calling them foreign.
    assert_eq!(
        spec.deploy("shop", "production")
            .unwrap()
            .proxy
            .driver
            .name(),
        "nginx"
    );
}

#[test]
fn shorthand_conflicts_and_needs_a_driver() {
    let yaml = "\
apps:
  shop:
    image: shop:1
    port: 8080
    stages:
      stage: {virtual_host: a.example.com, proxy: {driver: nginx-proxy, container: p, virtual_host: b.example.com}}
      production: {virtual_host: shop.example.com}
";
    snap!("stage_shorthand", invalid(yaml).to_string());
}

#[test]
fn defaults_apply_when_keys_are_absent() {
    let spec = valid(super::MINIMAL);
    let deploy = spec.deploy("shop", "production").unwrap();
    assert_eq!(deploy.health.check, HealthCheck::Tcp { port: 8080 });
    assert_eq!(deploy.health.interval, defaults::INTERVAL);
    assert_eq!(deploy.health.deadline, defaults::DEADLINE);
    assert_eq!(deploy.health.healthy, defaults::HEALTHY);
    assert_eq!(deploy.proxy.driver, ProxyDriver::None);
    assert_eq!(deploy.proxy.verify, None);
    assert_eq!(deploy.front_internal, defaults::FRONT_INTERNAL);
    assert_eq!(deploy.drain, defaults::DRAIN);
    assert_eq!(deploy.stop_timeout, defaults::STOP_TIMEOUT);
    assert_eq!(deploy.keep, defaults::KEEP);
    assert_eq!(
        (deploy.app.as_str(), deploy.stage.as_str()),
        ("shop", "production")
    );
    assert!(deploy.command.is_none() && deploy.env.is_empty() && deploy.secrets.is_empty());
}

#[test]
fn stages_keep_file_order_and_scalars_in_env_keep_their_text() {
    let spec = valid(
        "\
apps:
  shop:
    image: shop:1
    port: 8080
    env: {VERSION: 1.10, HEX: 0x1F, FLAG: True, N: 7, S: text}
    command: [sleep, 1.50]
    stages: {zeta: , alpha: , mid: }
",
    );
    let stages: Vec<&String> = spec.apps["shop"].stages.keys().collect();
    assert_eq!(stages, ["zeta", "alpha", "mid"]);
    let deploy = spec.deploy("shop", "alpha").unwrap();
    let env: Vec<(&str, &str)> = deploy
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("FLAG", "True"),
            ("HEX", "0x1F"),
            ("N", "7"),
            ("S", "text"),
            ("VERSION", "1.10")
        ]
    );
    assert_eq!(
        deploy.command.as_deref(),
        Some(&["sleep".to_owned(), "1.50".to_owned()][..])
    );
}

#[test]
fn yaml_anchors_and_merge_keys_share_settings() {
    let spec = valid(
        "\
apps:
  shop:
    image: shop:1
    port: 8080
    health: &checks {http: /up, deadline: 2m}
    stages:
      stage:
        <<: {keep: 5, drain: 1s}
        drain: 2s
      production:
  blog:
    image: blog:1
    port: 80
    health: *checks
    stages: {production: }
",
    );
    let stage = spec.deploy("shop", "stage").unwrap();
    assert_eq!((stage.keep, stage.drain), (5, Duration::from_secs(2)));
    let blog = spec.deploy("blog", "production").unwrap();
    assert_eq!(blog.health.deadline, Duration::from_secs(120));
}
