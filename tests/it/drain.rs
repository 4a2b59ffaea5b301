//! `drain` against a demo container with slow requests in flight from this host
//! (`/cgi-bin/slow?N` answers after N seconds).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bgdeploy::drain::{Watch, drain, drain_watching, established_on_port};
use bgdeploy::engine::Engine;
use bgdeploy::route::{ProcNet, ReadOptions, ReadSource};

use crate::harness::{TestEnv, docker, require_engine, require_images};

const PORT: u16 = 8080;

/// `None` (after saying why) unless the engine runs here: the requests go from this host
/// straight to the container's address on `bridge`.
async fn local_engine() -> Option<Engine> {
    let engine = require_engine().await?;
    if !engine.info().local {
        eprintln!("SKIPPED: these tests connect from this host to a container's bridge address");
        return None;
    }
    require_images();
    Some(engine)
}

/// A demo container on `bridge` and its address there.
async fn demo(engine: &Engine, env: &TestEnv) -> (String, IpAddr) {
    let name = env.name("app");
    env.container(&name).run();
    let c = engine
        .inspect_container(&name)
        .await
        .expect("inspect")
        .expect("the container");
    let ip = c
        .endpoints
        .iter()
        .find_map(|e| e.ip.as_deref()?.parse().ok())
        .unwrap_or_else(|| panic!("{name} has no address: {:?}", c.endpoints));
    wait_until_serving(ip);
    (name, ip)
}

/// httpd starts a moment after the container. A whole request, answered and closed by the
/// server, so that no connection of ours is left ESTABLISHED in its table.
fn wait_until_serving(ip: IpAddr) {
    let addr = SocketAddr::new(ip, PORT);
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(b"GET /up HTTP/1.0\r\n\r\n")?;
            let mut answer = String::new();
            s.read_to_string(&mut answer)?;
            Ok(answer)
        });
        match answer {
            Ok(a) if a.starts_with("HTTP/") => return,
            _ if Instant::now() > give_up => panic!("{addr} does not answer: {answer:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// `GET /cgi-bin/slow?secs` in a thread; returns once the connection is established (so the
/// container's table has it), with the thread that reads the answer.
fn slow_request(ip: IpAddr, secs: u32) -> JoinHandle<String> {
    let (connected, wait) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let addr = SocketAddr::new(ip, PORT);
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connecting");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        write!(
            stream,
            "GET /cgi-bin/slow?{secs} HTTP/1.0\r\nHost: t\r\n\r\n"
        )
        .expect("sending");
        let _ = connected.send(());
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    });
    wait.recv_timeout(Duration::from_secs(10))
        .expect("the request got connected");
    thread
}

/// Established connections on the app port, counted through `source`.
async fn open_via(engine: &Engine, container: &str, source: ReadSource) -> usize {
    let options = ReadOptions {
        force: Some(source),
    };
    let net = ProcNet::open(engine, container, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut open = 0;
    for file in ["tcp", "tcp6"] {
        if let Some(t) = net.read(file).await.expect("reading a tcp table") {
            open += established_on_port(&t.text, PORT);
        }
    }
    open
}

#[tokio::test]
async fn waits_for_a_request_in_flight() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let (c, ip) = demo(&engine, &env).await;
    let request = slow_request(ip, 3);
    assert_eq!(open_via(&engine, &c, ReadSource::HostProc).await, 1);
    assert_eq!(open_via(&engine, &c, ReadSource::Exec).await, 1);

    let mut ticks = Vec::new();
    let out = drain(&engine, &c, PORT, Duration::from_secs(10), &mut |n, w| {
        ticks.push((n, w))
    })
    .await
    .expect("drain");
    assert!(out.closed, "{out:?}");
    assert_eq!(out.remaining, 0);
    assert!(
        out.waited >= Duration::from_secs(2) && out.waited < Duration::from_secs(6),
        "{out:?}"
    );
    assert_eq!(ticks.first().map(|t| t.0), Some(1));
    assert!(ticks.len() > 10, "polled every ~100 ms: {}", ticks.len());
    let answer = request.join().expect("the request thread");
    assert!(answer.contains("slow 3"), "{answer}");
}

#[tokio::test]
async fn returns_at_once_without_connections() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let (c, _) = demo(&engine, &env).await;
    let out = drain(&engine, &c, PORT, Duration::from_secs(10), &mut |_, _| {})
        .await
        .expect("drain");
    assert!(out.closed && out.remaining == 0, "{out:?}");
    assert!(out.waited < Duration::from_millis(500), "{out:?}");
}

#[tokio::test]
async fn gives_up_after_max_with_the_request_still_open() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let (c, ip) = demo(&engine, &env).await;
    let request = slow_request(ip, 5);
    let out = drain(&engine, &c, PORT, Duration::from_secs(1), &mut |_, _| {})
        .await
        .expect("drain");
    assert!(!out.closed, "{out:?}");
    assert_eq!(out.remaining, 1);
    assert!(
        out.waited >= Duration::from_secs(1) && out.waited < Duration::from_secs(2),
        "{out:?}"
    );
    // Not joined: the answer comes 4 s later, after the container is gone with the env.
    drop(request);
}

#[tokio::test]
async fn a_container_that_is_not_running_is_drained() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let c = env.name("never_started");
    env.container(&c).create();
    let out = drain(&engine, &c, PORT, Duration::from_secs(10), &mut |_, _| {})
        .await
        .expect("drain");
    assert!(
        out.closed && out.waited < Duration::from_millis(500),
        "{out:?}"
    );
}

/// A proxy's connection to the release counts: here a second demo container (the "proxy")
/// holds a slow request to the release, and the release is drained on a port nobody uses, so
/// only the proxy's side of the table can keep the drain waiting.
#[tokio::test]
async fn the_proxys_connections_to_the_release_count_too() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let (release, ip) = demo(&engine, &env).await;
    let proxy = env.name("proxy");
    env.container(&proxy).run();
    const UNUSED: u16 = 9999;
    let alone = drain(
        &engine,
        &release,
        UNUSED,
        Duration::from_secs(5),
        &mut |_, _| {},
    )
    .await
    .expect("drain");
    assert!(
        alone.closed && alone.waited < Duration::from_millis(500),
        "{alone:?}"
    );

    let url = format!("http://{ip}:{PORT}/cgi-bin/slow?3");
    docker(&["exec", "-d", &proxy, "wget", "-q", "-O", "/dev/null", &url]);
    // `exec -d` returns before wget has connected: on a loaded machine the drain could look
    // before the connection exists. Wait until the release has it.
    let connected = Instant::now();
    while established_on_port(
        &docker(&["exec", &release, "cat", "/proc/net/tcp", "/proc/net/tcp6"]),
        PORT,
    ) == 0
    {
        assert!(
            connected.elapsed() < Duration::from_secs(5),
            "the proxy's request never reached the release"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let watch = Watch {
        proxy: proxy.clone(),
        network: "bridge".into(),
        port: PORT,
    };
    let mut counts = Vec::new();
    let out = drain_watching(
        &engine,
        &release,
        UNUSED,
        Duration::from_secs(10),
        Some(&watch),
        &mut |n, _| counts.push(n),
    )
    .await
    .expect("drain");
    assert!(out.closed, "the request ended within 10 s: {out:?}");
    assert!(
        out.waited >= Duration::from_millis(1500),
        "the drain waited for the proxy's request (3 s): {out:?}, counts {counts:?}"
    );
    assert!(counts.first().is_some_and(|n| *n >= 1), "{counts:?}");
}
