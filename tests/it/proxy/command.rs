//! The `command` driver: a script on this host sees the phase and the releases in its
//! environment, its output is passed on line by line, and its failure is an error.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use bgdeploy::proxy::{Backend, Phase, ProxyError, switch};
use bgdeploy::spec::ProxyDriver;

use super::{collect, deploy};
use crate::harness::{TestEnv, require_engine};

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("writing the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

fn backend(container: &str, addr: &str) -> Backend {
    Backend {
        container: container.into(),
        addr: addr.parse().expect("an address"),
    }
}

#[tokio::test]
async fn the_script_sees_each_phase_and_the_releases() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let log = env.dir().join("switches.log");
    let switch_lb = script(
        env.dir(),
        "switch-lb.sh",
        &format!(
            "echo \"$BGDEPLOY_PHASE $BGDEPLOY_APP/$BGDEPLOY_STAGE $BGDEPLOY_CONTAINER \
             $BGDEPLOY_ADDR [$BGDEPLOY_BACKENDS]\" >> '{}'\necho \"lb: $BGDEPLOY_PHASE done\"\n",
            log.display()
        ),
    );
    let deploy = deploy(ProxyDriver::Command {
        command: vec![switch_lb],
    });
    let new = backend("shop_production_new", "10.9.0.3:8080");
    let old = backend("shop_production_old", "10.9.0.2:8080");
    let mut lines = Vec::new();
    for (phase, changed) in [(Phase::Add, &new), (Phase::Remove, &old)] {
        switch(
            &engine,
            &deploy,
            phase,
            changed,
            std::slice::from_ref(&new),
            &mut collect(&mut lines),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        std::fs::read_to_string(&log).expect("the script's log"),
        "add shop/production shop_production_new 10.9.0.3:8080 [10.9.0.3:8080]\n\
         remove shop/production shop_production_old 10.9.0.2:8080 [10.9.0.3:8080]\n"
    );
    assert_eq!(lines, ["lb: add done", "lb: remove done"]);
}

#[tokio::test]
async fn a_failing_script_is_an_error_with_its_output() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let failing = script(
        env.dir(),
        "switch-lb.sh",
        "echo 'registering target'\necho 'the load balancer said no' >&2\nexit 4\n",
    );
    let deploy = deploy(ProxyDriver::Command {
        command: vec![failing],
    });
    let new = backend("shop_production_new", "10.9.0.3:8080");
    let err = switch(
        &engine,
        &deploy,
        Phase::Add,
        &new,
        std::slice::from_ref(&new),
        &mut |_| {},
    )
    .await
    .expect_err("exit 4");
    let ProxyError::Command {
        exit_code, output, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*exit_code, Some(4));
    assert!(output.contains("the load balancer said no"), "{output}");
    assert!(output.contains("registering target"), "{output}");
    assert!(err.to_string().contains("exit code 4"), "{err}");
}
