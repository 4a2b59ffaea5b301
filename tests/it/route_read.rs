//! `route::read_default_route` against real containers: the network it names, the move it
//! reports, and every source agreeing with the host's `/proc`.

use bgdeploy::engine::Engine;
use bgdeploy::route::{
    Endpoint, ProcNetError, ReadOptions, ReadSource, RouteReading, check, explain_move,
    read_default_route, read_default_route_with,
};

use crate::harness::{TestEnv, docker, require_engine, require_images};

/// `None` (after saying why) unless the engine runs on this host, where `/proc/<pid>` is its.
async fn local_engine() -> Option<Engine> {
    let engine = require_engine().await?;
    if !engine.info().local {
        eprintln!("SKIPPED: these tests compare with /proc on the engine's host (unix socket)");
        return None;
    }
    require_images();
    Some(engine)
}

async fn read(engine: &Engine, container: &str) -> RouteReading {
    read_default_route(engine, container)
        .await
        .unwrap_or_else(|e| panic!("reading the route of {container}: {e}"))
}

async fn read_via(engine: &Engine, container: &str, source: ReadSource) -> RouteReading {
    let options = ReadOptions {
        force: Some(source),
    };
    read_default_route_with(engine, container, &options)
        .await
        .unwrap_or_else(|e| panic!("reading the route of {container} via {source}: {e}"))
}

/// The container's endpoints as the route predictor takes them.
async fn endpoints(engine: &Engine, container: &str) -> Vec<Endpoint> {
    let c = engine
        .inspect_container(container)
        .await
        .expect("inspect")
        .expect("the container");
    let mut out = Vec::new();
    for e in &c.endpoints {
        let n = engine
            .inspect_network(&e.network_id)
            .await
            .expect("inspect")
            .expect("the network");
        out.push(
            Endpoint::new(e.network.clone(), n.info.internal)
                .priority(e.gw_priority)
                .ipv6(n.info.ipv6),
        );
    }
    out
}

#[tokio::test]
async fn back_keeps_the_route_when_front_is_attached() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let (back, front) = (
        format!("BACK_{}x", env.prefix()),
        format!("FRONT_{}x", env.prefix()),
    );
    env.network(&back).create();
    env.network(&front).create();
    let c = env.name("c");
    env.container(&c).network(&back).run();
    env.connect(&front, &c);

    let r = read(&engine, &c).await;
    assert_eq!(r.source, ReadSource::HostProc);
    assert_eq!(r.network.as_deref(), Some(back.as_str()), "{r:?}");
    assert_eq!(r.v4.as_ref().map(|r| r.iface.as_str()), Some("eth0"));
    assert_eq!(check(&r, Some(&back)), Ok(()));
}

#[tokio::test]
async fn the_write_ups_case_is_reported_as_a_move() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let (long, short) = (env.name("app_stage_internal"), env.name("app_stage"));
    env.network(&long).create();
    env.network(&short).create();
    let c = env.name("c");
    env.container(&c).network(&long).run();
    assert_eq!(
        read(&engine, &c).await.network.as_deref(),
        Some(long.as_str())
    );

    env.connect(&short, &c);
    let r = read(&engine, &c).await;
    assert_eq!(r.network.as_deref(), Some(short.as_str()), "{r:?}");
    let moved = check(&r, Some(&long)).expect_err("the route moved");
    assert_eq!(moved.actual.as_deref(), Some(short.as_str()));
    assert_eq!(moved.expected.as_deref(), Some(long.as_str()));
    assert!(
        moved
            .to_string()
            .contains(&format!("on `{short}` (eth1 via ")),
        "{moved}"
    );

    let why = explain_move(&moved, &endpoints(&engine, &c).await, engine.info().api);
    assert!(
        why.contains(&format!(
            "`{short}` took the route because its name sorts first"
        )),
        "{why}"
    );
    assert!(why.contains(&format!("`{short}` < `{long}`")), "{why}");
}

#[tokio::test]
async fn every_source_agrees_with_the_hosts_proc() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let (a, b) = (env.name("a_net"), env.name("b_net"));
    env.network(&a).create();
    env.network(&b).create();
    let c = env.name("c");
    env.container(&c).network(&b).run();
    env.connect(&a, &c);

    let host = read_via(&engine, &c, ReadSource::HostProc).await;
    assert_eq!(host.network.as_deref(), Some(a.as_str()), "{host:?}");
    for source in [ReadSource::Exec, ReadSource::ExecShellRead] {
        let other = read_via(&engine, &c, source).await;
        assert_eq!(other.source, source);
        assert_eq!(
            RouteReading {
                source: ReadSource::HostProc,
                ..other
            },
            host,
            "{source} disagrees with the host"
        );
    }
}

/// Measured on Engine 20.10.24: an internal bridge network does give its container a default
/// route (to a gateway that forwards nowhere) when it is all the container has; it only loses
/// to any non-internal network. A container without networks has no route at all.
#[tokio::test]
async fn internal_networks_only_still_route_through_their_gateway() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let net = env.name("internal");
    env.network(&net).internal().create();
    let c = env.name("c");
    env.container(&c).network(&net).run();
    let r = read(&engine, &c).await;
    assert_eq!(r.source, ReadSource::HostProc);
    assert_eq!(r.network.as_deref(), Some(net.as_str()), "{r:?}");
    assert_eq!(
        read_via(&engine, &c, ReadSource::Exec).await.network,
        r.network
    );

    let alone = env.name("alone");
    env.container(&alone).network("none").run();
    let r = read(&engine, &alone).await;
    assert_eq!(r.source, ReadSource::HostProc);
    assert_eq!((r.v4.as_ref(), r.network.as_deref()), (None, None));
    assert_eq!(check(&r, None), Ok(()));
    let moved = check(&r, Some(&net)).expect_err("no route at all");
    assert!(
        moved.to_string().contains("has no IPv4 default route"),
        "{moved}"
    );
}

#[tokio::test]
async fn a_stopped_or_missing_container_is_named() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let c = env.name("never_started");
    env.container(&c).create();
    let err = read_default_route(&engine, &c)
        .await
        .expect_err("not running");
    assert!(
        matches!(&err, ProcNetError::NotRunning { container, .. } if *container == c),
        "{err:?}"
    );
    let missing = env.name("missing");
    let err = read_default_route(&engine, &missing)
        .await
        .expect_err("no such container");
    assert!(err.to_string().contains(&missing), "{err}");
}

/// An image without `cat` (removed here from a running demo container): the exec source
/// fails and says why, the shell's `read` builtin still reads the same table.
#[tokio::test]
async fn without_cat_the_shell_builtin_still_reads() {
    let Some(engine) = local_engine().await else {
        return;
    };
    let env = TestEnv::new();
    let c = env.name("c");
    env.container(&c).run();
    docker(&["exec", &c, "rm", "/bin/cat"]);

    let options = ReadOptions {
        force: Some(ReadSource::Exec),
    };
    let err = read_default_route_with(&engine, &c, &options)
        .await
        .expect_err("no cat");
    let text = err.to_string();
    assert!(
        matches!(err, ProcNetError::Unreadable { .. }) && text.contains("`cat /proc/net/…`"),
        "{text}"
    );
    assert!(
        text.contains("exit 126") || text.contains("not found"),
        "{text}"
    );

    let shell = read_via(&engine, &c, ReadSource::ExecShellRead).await;
    let host = read(&engine, &c).await;
    assert_eq!(shell.network.as_deref(), Some("bridge"));
    assert_eq!((shell.v4, shell.network), (host.v4, host.network));
}
