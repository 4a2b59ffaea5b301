//! The `nginx` driver: traffic moves between releases with no failed request, a request in
//! flight finishes on the old release, and a config nginx rejects changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bgdeploy::proxy::{Backend, Phase, ProxyError, switch};
use bgdeploy::spec::ProxyDriver;

use super::{Fixture, HOST, collect, deploy, get, local_engine};
use crate::harness::docker;

fn nginx(f: &Fixture, config_path: &str) -> ProxyDriver {
    ProxyDriver::Nginx {
        container: f.proxy.clone(),
        virtual_host: HOST.into(),
        config_path: config_path.into(),
        reload: None,
    }
}

fn conf(f: &Fixture, name: &str) -> String {
    format!("/etc/nginx/conf.d/{}{name}.conf", f.env.prefix())
}

/// Requests through the proxy, one after another on fresh connections, from a thread.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    thread: JoinHandle<Report>,
}

#[derive(Debug, Default)]
struct Report {
    sent: usize,
    failed: usize,
    /// The first few failures.
    failures: Vec<String>,
    /// Answers per body (`v1`, `v2`).
    versions: BTreeMap<String, usize>,
    elapsed: Duration,
}

/// Bounded in count and time, whatever happens to the test.
const MAX_REQUESTS: usize = 5000;
const MAX_TIME: Duration = Duration::from_secs(60);

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut report = Report::default();
            while !stop2.load(Ordering::Relaxed)
                && report.sent < MAX_REQUESTS
                && started.elapsed() < MAX_TIME
            {
                report.sent += 1;
                sent2.store(report.sent, Ordering::Relaxed);
                match get(port, HOST, "/version") {
                    Ok((200, body)) if body == "v1" || body == "v2" => {
                        *report.versions.entry(body).or_default() += 1;
                    }
                    other => {
                        report.failed += 1;
                        if report.failures.len() < 5 {
                            report.failures.push(format!("{other:?}"));
                        }
                    }
                }
            }
            report.elapsed = started.elapsed();
            report
        });
        Load { stop, sent, thread }
    }

    /// Waits until `n` more requests went out.
    fn more(&self, n: usize) {
        let target = self.sent.load(Ordering::Relaxed) + n;
        let give_up = Instant::now() + Duration::from_secs(20);
        while self.sent.load(Ordering::Relaxed) < target && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the load thread")
    }
}

/// An answer (status and body, or what went wrong) and when it arrived.
type Timed = (Result<(u16, String), String>, Instant);

/// A request to the slow CGI (`/cgi-bin/slow?secs`) through the proxy, in a thread.
fn slow_request(port: u16, secs: u32) -> JoinHandle<Timed> {
    std::thread::spawn(move || {
        let answer = get(port, HOST, &format!("/cgi-bin/slow?{secs}"));
        (answer, Instant::now())
    })
}

async fn to(
    engine: &bgdeploy::engine::Engine,
    deploy: &bgdeploy::spec::Deploy,
    new: &Backend,
    old: &Backend,
    lines: &mut Vec<String>,
) {
    let live = [new.clone()];
    switch(engine, deploy, Phase::Add, new, &live, &mut collect(lines))
        .await
        .unwrap_or_else(|e| panic!("switch to {}: {e}", new.container));
    switch(
        engine,
        deploy,
        Phase::Remove,
        old,
        &live,
        &mut collect(lines),
    )
    .await
    .unwrap_or_else(|e| panic!("switch away from {}: {e}", old.container));
}

#[tokio::test]
async fn switches_under_load_without_a_failed_request() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let f = Fixture::new(&engine).await;
    let deploy = deploy(nginx(&f, &conf(&f, "shop")));
    let mut lines = Vec::new();
    switch(
        &engine,
        &deploy,
        Phase::Add,
        &f.v1,
        std::slice::from_ref(&f.v1),
        &mut collect(&mut lines),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.get("/version"), Ok((200, "v1".to_string())));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("reloaded: new nginx workers")),
        "{lines:?}"
    );

    let load = Load::start(f.port);
    load.more(50);
    let slow = slow_request(f.port, 3);
    // Long enough for nginx to have passed the slow request on to v1.
    std::thread::sleep(Duration::from_millis(300));

    // Two deploys in a row: v1 → v2, then v2 → v1.
    to(&engine, &deploy, &f.v2, &f.v1, &mut lines).await;
    let switched = Instant::now();
    load.more(100);
    assert_eq!(f.get("/version"), Ok((200, "v2".to_string())));
    to(&engine, &deploy, &f.v1, &f.v2, &mut lines).await;
    load.more(100);
    assert_eq!(f.get("/version"), Ok((200, "v1".to_string())));
    let report = load.finish();

    eprintln!(
        "nginx switch v1 → v2 → v1 under load: {} requests sent, {} failed, answers {:?}, in {:.1}s",
        report.sent,
        report.failed,
        report.versions,
        report.elapsed.as_secs_f64()
    );
    assert_eq!(report.failed, 0, "failures: {:?}", report.failures);
    assert!(
        report.versions.get("v2").is_some_and(|n| *n >= 50),
        "{report:?}"
    );
    assert!(report.sent < MAX_REQUESTS, "{report:?}");

    // The request to v1 that was in flight during the first switch finished there, after it.
    let (answer, at) = slow.join().expect("the slow request");
    let answer = answer.map(|(status, body)| (status, body.trim().to_string()));
    assert_eq!(answer, Ok((200, "slow 3 v1".to_string())));
    assert!(
        at > switched,
        "the slow request ended before the switch did"
    );
}

#[tokio::test]
async fn a_config_nginx_rejects_is_put_back_byte_for_byte() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let f = Fixture::new(&engine).await;
    let path = conf(&f, "shop");
    let deploy = deploy(nginx(&f, &path));
    let mut lines = Vec::new();
    switch(
        &engine,
        &deploy,
        Phase::Add,
        &f.v1,
        std::slice::from_ref(&f.v1),
        &mut collect(&mut lines),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let before = f.read(&path).expect("the rendered file");

    // Something else in nginx's configuration is broken: `nginx -t` fails with any new file.
    let broken = conf(&f, "broken");
    docker(&[
        "exec",
        &f.proxy,
        "sh",
        "-c",
        &format!("echo 'this is not nginx;' > {broken}"),
    ]);
    let err = switch(
        &engine,
        &deploy,
        Phase::Add,
        &f.v2,
        std::slice::from_ref(&f.v2),
        &mut collect(&mut lines),
    )
    .await
    .expect_err("nginx -t fails");
    let ProxyError::NginxTest { output, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(output.contains("unknown directive \"this\""), "{output}");
    assert!(err.to_string().contains("previous file is back"), "{err}");
    assert!(!err.needs_person());
    assert_eq!(
        f.read(&path).as_deref(),
        Some(before.as_str()),
        "restored byte for byte"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("put the previous")),
        "{lines:?}"
    );
    assert_eq!(
        f.get("/version"),
        Ok((200, "v1".to_string())),
        "still on v1"
    );

    // With no previous file, the new one is removed again.
    let fresh = conf(&f, "other");
    let other = bgdeploy::spec::Deploy {
        app: "other".into(),
        ..super::deploy(nginx(&f, &fresh))
    };
    let err = switch(
        &engine,
        &other,
        Phase::Add,
        &f.v2,
        std::slice::from_ref(&f.v2),
        &mut collect(&mut lines),
    )
    .await
    .expect_err("nginx -t fails");
    assert!(matches!(err, ProxyError::NginxTest { .. }), "{err:?}");
    assert_eq!(f.read(&fresh), None, "the new file is gone");
    assert_eq!(f.get("/version"), Ok((200, "v1".to_string())));
}

#[tokio::test]
async fn a_config_path_nginx_does_not_include_is_refused() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let f = Fixture::new(&engine).await;
    let path = format!("/etc/nginx/{}shop.conf", f.env.prefix());
    let deploy = deploy(nginx(&f, &path));
    let err = switch(
        &engine,
        &deploy,
        Phase::Add,
        &f.v1,
        std::slice::from_ref(&f.v1),
        &mut |_| {},
    )
    .await
    .expect_err("not included");
    assert!(matches!(err, ProxyError::NotIncluded { .. }), "{err:?}");
    assert_eq!(f.read(&path), None);
    assert_eq!(f.get("/version").map(|(s, _)| s), Ok(404));
}

#[tokio::test]
async fn a_reload_that_does_not_reload_is_caught() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let f = Fixture::new(&engine).await;
    let path = conf(&f, "shop");
    let deploy = deploy(ProxyDriver::Nginx {
        container: f.proxy.clone(),
        virtual_host: HOST.into(),
        config_path: path.clone(),
        reload: Some(vec!["true".into()]),
    });
    let started = Instant::now();
    let err = switch(
        &engine,
        &deploy,
        Phase::Add,
        &f.v1,
        std::slice::from_ref(&f.v1),
        &mut |_| {},
    )
    .await
    .expect_err("nginx never reloaded");
    assert!(matches!(err, ProxyError::NotReloaded { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(f.read(&path), None, "the new file is removed again");
}
