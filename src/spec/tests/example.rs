//! The shipped example and the spec contract's example (DESIGN.md §4) validate.

use std::path::Path;
use std::time::Duration;

use super::valid;
use crate::spec::settings::{Bytes, Cpus};
use crate::spec::{HealthCheck, ProxyDriver, StatusRange, Verify, load};

#[test]
fn deploy_example_yaml_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy.example.yaml");
    let spec = match load(&path) {
        Ok(spec) => spec,
        Err(err) => panic!("{err}"),
    };
    let stage = spec.deploy("shop", "stage").unwrap();
    assert_eq!(stage.image, "bgdeploy-demo:v1");
    assert_eq!(stage.port, 8080);
    assert_eq!(
        stage.health.check,
        HealthCheck::Http {
            path: "/up".into(),
            expect: StatusRange {
                low: 200,
                high: 399
            }
        }
    );
    assert_eq!(
        stage.proxy.driver,
        ProxyDriver::Nginx {
            container: "bgdeploy-proxy".into(),
            virtual_host: "shop.localhost".into(),
            config_path: "/etc/nginx/conf.d/bgdeploy_shop_stage.conf".into(),
            reload: None,
        }
    );

    let production = spec.deploy("shop", "production").unwrap();
    assert_eq!(
        production.proxy.driver.virtual_host(),
        Some("www.shop.localhost")
    );
    assert_eq!(
        production.proxy.verify,
        Some(Verify {
            url: "http://127.0.0.1/up".into(),
            host: Some("www.shop.localhost".into())
        })
    );
    assert_eq!(production.env["APP_ENV"], "production");
    assert_eq!(production.env["WORKERS"], "8");
    assert_eq!(production.health.deadline, Duration::from_secs(120));
    assert_eq!(production.keep, 5);
    assert_eq!(stage.keep, 2);
    assert_eq!(stage.container.memory, Some(Bytes(256 << 20)));
    assert_eq!(production.container.memory, Some(Bytes(1 << 30)));
    assert_eq!(
        production.container.volumes[0].to_string(),
        "uploads:/app/uploads"
    );
    let logging = production.container.logging.as_ref().expect("logging");
    assert_eq!(logging.driver, "json-file");
    assert_eq!(logging.options["max-file"], "3");
}

/// DESIGN.md §4, with the keys of the drivers it does not use removed.
#[test]
fn design_contract_example_validates() {
    let spec = valid(
        r#"
apps:
  shop:
    image: shop:1.4.2            # required; `--image` overrides
    port: 8080                   # required; the port the app listens on in the container
    command: [bin/server]        # optional
    env: {RAILS_ENV: production} # optional
    secrets: [DATABASE_URL]      # optional; read from bgdeploy's environment, passed in, never printed
    networks: [shared_redis]     # optional; existing networks joined on the back side
    health:                      # exactly one of http / tcp / cmd / docker
      http: /up                  # GET from bgdeploy to the container's back-network address
      expect: 200-399
      interval: 500ms
      timeout: 2s
      healthy: 1                 # consecutive successes
      deadline: 60s
    proxy:
      driver: nginx-proxy        # nginx-proxy | nginx | command | none
      container: nginx-proxy     # nginx-proxy and nginx drivers
      virtual_host: shop.example.com   # nginx-proxy: VIRTUAL_HOST / VIRTUAL_PORT on the container
      reload: [sh, -c, "..."]    # optional: override the command run in the proxy to regenerate
      verify: {url: "http://127.0.0.1:8080/up", host: shop.example.com}
    front_internal: true         # create FRONT_ networks internal (default true)
    drain: 5s
    stop_timeout: 10s
    keep: 2
    # The container a real app needs (section 11): Compose's names and meanings.
    volumes: [uploads:/app/uploads, /etc/shop/config.yml:/app/config.yml:ro]
    memory: 512m
    cpus: 1.5
    logging: {driver: json-file, options: {max-size: 10m, max-file: "3"}}
    user: "1000:1000"
    labels: {team: shop}
    stages:                      # every key above may be overridden per stage; a stage not listed here is an error
      stage: {virtual_host: stage.shop.example.com}
      production: {}
"#,
    );
    let stage = spec.deploy("shop", "stage").unwrap();
    assert_eq!(
        stage.proxy.driver,
        ProxyDriver::NginxProxy {
            container: "nginx-proxy".into(),
            virtual_host: "stage.shop.example.com".into(),
            reload: Some(vec!["sh".into(), "-c".into(), "...".into()]),
            docker_gen: None,
        }
    );
    assert_eq!(stage.secrets, ["DATABASE_URL"]);
    assert_eq!(stage.networks, ["shared_redis"]);
    assert_eq!(
        stage.command.as_deref(),
        Some(&["bin/server".to_owned()][..])
    );
    let production = spec.deploy("shop", "production").unwrap();
    assert_eq!(
        production.proxy.driver.virtual_host(),
        Some("shop.example.com")
    );
    let settings = &production.container;
    assert_eq!(settings.volumes.len(), 2);
    assert_eq!(settings.memory, Some(Bytes(512 << 20)));
    assert_eq!(settings.cpus, Some(Cpus(1_500_000_000)));
    assert_eq!(settings.user.as_deref(), Some("1000:1000"));
    assert_eq!(settings.labels["team"], "shop");
}
