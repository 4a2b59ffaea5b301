//! `hosts:` and `rollout:` — the forms, YAML order kept, defaults, stage overrides, and the
//! errors with their key paths and lines.

use std::path::PathBuf;
use std::time::Duration;

use super::{invalid, snap, valid};
use crate::spec::{HostEngine, OnFailure, Rollout};

const SPEC: &str = "\
apps:
  shop:
    image: shop:1
    port: 8080
    rollout: {parallel: 2, wait: 30s}
    stages:
      single: {}
      production:
        hosts:
          web3: ssh://deploy@web3
          web1: {url: tcp://web1:2376, cert_path: /etc/bgdeploy/web1}
          web2: {context: web2}
        rollout: {on_failure: halt}
";

#[test]
fn hosts_keep_their_order_and_forms_and_rollout_merges_key_by_key() {
    let spec = valid(SPEC);
    let single = spec.deploy("shop", "single").expect("single");
    assert!(!single.is_fleet(), "no hosts: the one engine as before");
    let prod = spec.deploy("shop", "production").expect("production");
    let names: Vec<&str> = prod.hosts.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["web3", "web1", "web2"],
        "rollout order is the order written"
    );
    assert_eq!(
        prod.hosts["web1"],
        HostEngine::Url {
            url: "tcp://web1:2376".into(),
            cert_path: Some(PathBuf::from("/etc/bgdeploy/web1")),
        }
    );
    assert_eq!(
        prod.hosts["web2"],
        HostEngine::Context {
            name: "web2".into()
        }
    );
    assert_eq!(
        prod.rollout,
        Rollout {
            canary: None,
            parallel: 2,
            wait: Duration::from_secs(30),
            on_failure: OnFailure::Halt,
        }
    );
    assert_eq!(
        prod.rollout.canary_for(3),
        1,
        "default canary with 2+ hosts"
    );
    assert_eq!(
        Rollout::default().canary_for(1),
        0,
        "a fleet of one has no canary"
    );
    assert_eq!(Rollout::default().parallel, 1);
    assert_eq!(Rollout::default().on_failure, OnFailure::Rollback);
}

#[test]
fn every_fleet_problem_with_its_path_and_line() {
    let yaml = "\
apps:
  shop:
    image: shop:1
    port: 8080
    stages:
      a:
        hosts:
          web1: tcp://10.0.0.1
          web2: tcp://10.0.0.1:2375
          Web_3!: ssh://deploy@web3
          web4: [ssh://x]
          web5: {url: ssh://deploy@web5, cert_path: /certs}
          web6: {url: tcp://web6, context: web6}
          web7: {}
          web8: ftp://web8
          web9: {context: web9, cert_path: /c}
        rollout: {parallel: 0, canary: -1, on_failure: retry, wait: soon, speed: 2}
      b:
        hosts: {}
      c:
        hosts: {x: tcp://x, y: tcp://y}
        rollout: {canary: 3}
";
    snap!("fleet_every_problem", invalid(yaml).to_string());
}
