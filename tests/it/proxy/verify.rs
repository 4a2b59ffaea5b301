//! `proxy::verify`: GET through the proxy with the app's Host header until it answers well,
//! or fail within the deadline.

use std::time::{Duration, Instant};

use bgdeploy::proxy::{Phase, ProxyError, switch, verify};
use bgdeploy::spec::{ProxyDriver, Verify};

use super::{Fixture, HOST, deploy, local_engine};

#[tokio::test]
async fn verify_passes_through_the_proxy_and_fails_within_the_deadline() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let f = Fixture::new(&engine).await;
    let deploy = deploy(ProxyDriver::Nginx {
        container: f.proxy.clone(),
        virtual_host: HOST.into(),
        config_path: format!("/etc/nginx/conf.d/{}shop.conf", f.env.prefix()),
        reload: None,
    });
    switch(
        &engine,
        &deploy,
        Phase::Add,
        &f.v1,
        std::slice::from_ref(&f.v1),
        &mut |_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let health = &deploy.health;
    let url = format!("http://127.0.0.1:{}/version", f.port);

    let mut probes = Vec::new();
    let ok = Verify {
        url: url.clone(),
        host: Some(HOST.into()),
    };
    verify(&ok, health, &mut |p| probes.push(p.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(probes.len(), 2, "two passes in a row: {probes:?}");
    assert!(probes[0].contains("→ 200 OK"), "{probes:?}");

    // Another host falls through to nginx's default server, which answers 404.
    let wrong_host = Verify {
        url: url.clone(),
        host: Some("other.test".into()),
    };
    let started = Instant::now();
    let err = verify(&wrong_host, health, &mut |_| {})
        .await
        .expect_err("404");
    let elapsed = started.elapsed();
    let ProxyError::Verify { last, attempts, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(last.contains("404"), "{last}");
    assert!(*attempts > 5, "probed every 100 ms: {attempts}");
    assert!(
        elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(7),
        "gave up at the 5 s deadline: {elapsed:?}"
    );
    assert!(err.to_string().contains("Host: other.test"), "{err}");

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = closed.local_addr().expect("its address").port();
    drop(closed);
    let refused = Verify {
        url: format!("http://127.0.0.1:{port}/up"),
        host: None,
    };
    let err = verify(&refused, health, &mut |_| {})
        .await
        .expect_err("refused");
    let ProxyError::Verify { last, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(last.contains("connection refused"), "{last}");
}
