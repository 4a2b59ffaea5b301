//! Connecting: the real engine, and the ways an engine can be missing.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use bgdeploy::engine::{DockerHost, EngineError, connect_to};
use bgdeploy::observe::ApiVersion;

use crate::harness::{docker, require_engine};

#[tokio::test]
async fn connects_and_negotiates_the_engines_api() {
    let Some(engine) = require_engine().await else {
        return;
    };
    let info = engine.info();
    let server = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    let server = ApiVersion::parse(&server).expect("the engine's API version");
    // bollard speaks up to 1.53 and settles on the engine's version when that is older.
    let expected = server.min(ApiVersion {
        major: 1,
        minor: 53,
    });
    assert_eq!(info.api, expected);
    assert_eq!(
        info.version,
        docker(&["version", "--format", "{{.Server.Version}}"])
    );
    assert_eq!(info.local, info.host.starts_with("unix://"));
}

async fn unreachable(url: &str, timeout: Duration) -> (EngineError, Duration) {
    let mut host = DockerHost::parse(url, None).expect("a supported DOCKER_HOST");
    host.connect_timeout = timeout;
    let started = Instant::now();
    let err = connect_to(&host).await.expect_err("no engine there");
    (err, started.elapsed())
}

#[tokio::test]
async fn missing_socket_is_unreachable_and_says_where_and_what_to_do() {
    let (err, _) = unreachable("unix:///nonexistent.sock", Duration::from_secs(5)).await;
    assert!(err.is_unreachable(), "{err:?}");
    let text = err.to_string();
    for needle in [
        "unix:///nonexistent.sock",
        "DOCKER_HOST=",
        "tcp://",
        "ssh://",
        "docker info",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}

#[tokio::test]
async fn refused_tcp_is_unreachable() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let (err, elapsed) = unreachable(&url, Duration::from_secs(5)).await;
    assert!(err.is_unreachable(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("refused"), "{text}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn silent_engine_times_out_quickly() {
    // Accepts connections (the kernel does, via the backlog) but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("tcp://{}", listener.local_addr().expect("addr"));
    let (err, elapsed) = unreachable(&url, Duration::from_secs(1)).await;
    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.to_string().contains("no answer within 1s"), "{err}");
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
}
