//! The `nginx-proxy` driver. docker-gen cannot be installed here, so the proxy is the project's
//! nginx image: the `reload` override stands in for nginx-proxy's regeneration, and a busybox
//! container sharing the proxy's PID namespace stands in for a separate docker-gen (on SIGHUP
//! it "regenerates" by sending SIGHUP to nginx, as docker-gen's `-notify-sighup` does).

use bgdeploy::proxy::{Phase, ProxyError, switch};
use bgdeploy::spec::{DockerGen, ProxyDriver};

use super::{Fixture, HOST, collect, deploy, local_engine};
use crate::harness::{DEMO_V1, docker};

fn nginx_proxy(f: &Fixture, reload: Option<&[&str]>, docker_gen: Option<DockerGen>) -> ProxyDriver {
    ProxyDriver::NginxProxy {
        container: f.proxy.clone(),
        virtual_host: HOST.into(),
        reload: reload.map(|r| r.iter().map(|s| s.to_string()).collect()),
        docker_gen,
    }
}

#[tokio::test]
async fn the_reload_override_runs_in_the_proxy_on_each_switch() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let f = Fixture::new(&engine).await;
    let deploy = deploy(nginx_proxy(
        &f,
        Some(&["sh", "-c", "echo reloaded >> /tmp/reloads"]),
        None,
    ));
    let mut lines = Vec::new();
    let live = [f.v2.clone()];
    for (phase, changed) in [(Phase::Add, &f.v2), (Phase::Remove, &f.v1)] {
        switch(
            &engine,
            &deploy,
            phase,
            changed,
            &live,
            &mut collect(&mut lines),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        f.read("/tmp/reloads").as_deref(),
        Some("reloaded\nreloaded\n")
    );

    let failing = super::deploy(nginx_proxy(
        &f,
        Some(&["sh", "-c", "echo 'template broken' >&2; exit 3"]),
        None,
    ));
    let err = switch(&engine, &failing, Phase::Add, &f.v2, &live, &mut |_| {})
        .await
        .expect_err("exit 3");
    let ProxyError::Reload {
        exit_code, output, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*exit_code, 3);
    assert!(output.contains("template broken"), "{output}");
    assert!(err.to_string().contains("exited with code 3"), "{err}");
}

#[tokio::test]
async fn without_docker_gen_in_the_proxy_the_default_says_what_to_set() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let f = Fixture::new(&engine).await;
    let deploy = deploy(nginx_proxy(&f, None, None));
    let live = [f.v1.clone()];
    let err = switch(&engine, &deploy, Phase::Add, &f.v1, &live, &mut |_| {})
        .await
        .expect_err("there is no docker-gen in this image");
    assert!(matches!(err, ProxyError::DockerGen { .. }), "{err:?}");
    let text = err.to_string();
    for needle in [
        "docker-gen /app/nginx.tmpl",
        "proxy.reload",
        "proxy.docker_gen_container",
    ] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
}

#[tokio::test]
async fn a_separate_docker_gen_gets_the_signal_and_nginx_reloads() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let f = Fixture::new(&engine).await;
    let gen_name = f.env.name("docker_gen");
    // `sleep & wait`: the shell runs its trap as soon as the signal arrives.
    docker(&[
        "run",
        "-d",
        "--name",
        &gen_name,
        "--pid",
        &format!("container:{}", f.proxy),
        DEMO_V1,
        "sh",
        "-c",
        "trap 'echo hup >> /tmp/hups; kill -HUP 1' HUP; while :; do sleep 1 & wait; done",
    ]);
    let docker_gen = DockerGen {
        container: gen_name.clone(),
        signal: "HUP".into(),
    };
    let deploy = deploy(nginx_proxy(&f, None, Some(docker_gen)));
    let mut lines = Vec::new();
    let live = [f.v1.clone()];
    switch(
        &engine,
        &deploy,
        Phase::Add,
        &f.v1,
        &live,
        &mut collect(&mut lines),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        lines.iter().any(|l| l.contains("reloaded after")),
        "nginx's new workers were seen: {lines:?}"
    );
    assert_eq!(
        docker(&["exec", &gen_name, "cat", "/tmp/hups"]),
        "hup",
        "docker-gen got one SIGHUP"
    );

    // A docker-gen that is not running cannot be told.
    docker(&["stop", "-t", "0", &gen_name]);
    let err = switch(&engine, &deploy, Phase::Add, &f.v1, &live, &mut |_| {})
        .await
        .expect_err("docker-gen is stopped");
    assert!(matches!(err, ProxyError::Engine(_)), "{err:?}");
    assert!(err.to_string().contains("SIGHUP"), "{err}");
}
