//! `hooks:` — both forms, default timeouts, stage overrides, and the errors.

use std::time::Duration;

use super::{invalid, valid};
use crate::spec::{Hook, defaults};

const SPEC: &str = "\
apps:
  shop:
    image: shop:1
    port: 8080
    hooks:
      pre_deploy: [./check.sh]
      before_switch: {command: [bin/rails, db:migrate], timeout: 20m}
      post_deploy: {command: [./notify.sh, ok]}
    stages:
      stage: {}
      production:
        hooks:
          post_deploy: [./notify.sh, production]
          on_failure: [./page.sh]
";

fn hook(argv: &[&str], timeout: Duration) -> Option<Hook> {
    Some(Hook {
        command: argv.iter().map(|a| (*a).to_string()).collect(),
        timeout,
    })
}

#[test]
fn both_forms_with_default_timeouts_and_stage_overrides_hook_by_hook() {
    let spec = valid(SPEC);
    let stage = &spec.deploy("shop", "stage").expect("stage").hooks;
    assert_eq!(
        stage.pre_deploy,
        hook(&["./check.sh"], defaults::HOOK_TIMEOUT)
    );
    assert_eq!(
        stage.before_switch,
        hook(&["bin/rails", "db:migrate"], Duration::from_secs(20 * 60))
    );
    assert_eq!(
        stage.post_deploy,
        hook(&["./notify.sh", "ok"], defaults::HOOK_TIMEOUT)
    );
    assert_eq!(stage.on_failure, None);
    let production = &spec.deploy("shop", "production").expect("production").hooks;
    assert_eq!(production.pre_deploy, stage.pre_deploy, "inherited");
    assert_eq!(
        production.post_deploy,
        hook(&["./notify.sh", "production"], defaults::HOOK_TIMEOUT)
    );
    assert_eq!(
        production.on_failure,
        hook(&["./page.sh"], defaults::HOOK_TIMEOUT)
    );
    let default = valid(
        "apps:\n  a:\n    image: a\n    port: 1\n    hooks:\n      before_switch: [migrate]\n    stages: {s: {}}\n",
    );
    let hooks = &default.deploy("a", "s").expect("s").hooks;
    assert_eq!(
        hooks.before_switch,
        hook(&["migrate"], defaults::BEFORE_SWITCH_TIMEOUT)
    );
}

#[test]
fn every_mistake_is_reported_with_its_path() {
    let err = invalid(
        "apps:\n  a:\n    image: a\n    port: 1\n    hooks:\n      pre_deploy: ./check.sh\n      before_switch: {timeout: 5m}\n      post_deploy: {command: [x], timeout: soon}\n      on_failure: {command: [x], retries: 2}\n      after_deploy: [x]\n    stages: {s: {}}\n",
    )
    .to_string();
    for want in [
        "apps.a.hooks.pre_deploy (line 6): expected a list of arguments",
        "apps.a.hooks.before_switch (line 7): a hook written as a map needs `command`",
        "apps.a.hooks.post_deploy.timeout (line 8): \"soon\" is not a duration",
        "apps.a.hooks.on_failure.retries (line 9): unknown key `retries`",
        "apps.a.hooks.after_deploy (line 10): unknown key `after_deploy`",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}
