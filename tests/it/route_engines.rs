//! Issue 13: bgdeploy's route prediction against what the kernel shows, on Engine 20.10 (the
//! machine's) and Engine 28.5 (a test host), for IPv4 and IPv6: DESIGN §1's four cases, an
//! extra network sorting before `BACK_`, a higher gw-priority, an internal-only container,
//! dual-stack against IPv4-only networks. Then `ipv6:` deploys on both engines and `doctor` on
//! 28 (`up.rs` has the extra network sorting before `BACK_`, on both engines).

use std::time::Duration;

use bgdeploy::observe::ApiVersion;
use bgdeploy::route::{Endpoint, default_routes};

use crate::harness::TestEnv;
use crate::harness::engines::{OnEngine, ipv6_subnet, kernel_routes};
use crate::on_engines;

/// A network of a case: its name (after the test prefix), and how it is made and attached.
#[derive(Clone, Copy)]
struct Net {
    name: &'static str,
    internal: bool,
    ipv6: bool,
    /// `--gw-priority` of the attach (sent on Engine 28 only: 20.10's API has no such field).
    priority: i64,
}

const fn net(name: &'static str) -> Net {
    Net {
        name,
        internal: false,
        ipv6: false,
        priority: 0,
    }
}

const fn internal(n: Net) -> Net {
    Net {
        internal: true,
        ..n
    }
}

const fn dual(n: Net) -> Net {
    Net { ipv6: true, ..n }
}

const fn prio(n: Net, priority: i64) -> Net {
    Net { priority, ..n }
}

struct Case {
    what: &'static str,
    /// The network the container is started on (`bridge`: the engine's default one).
    first: Net,
    then: &'static [Net],
    /// The kernel's (IPv4, IPv6) holders afterwards, per engine: what was measured.
    e20: [Option<&'static str>; 2],
    e28: [Option<&'static str>; 2],
}

const BRIDGE: Net = net("bridge");

const CASES: &[Case] = &[
    Case {
        what: "DESIGN §1: app_stage takes the route from app_stage_internal",
        first: net("app_stage_internal"),
        then: &[net("app_stage")],
        e20: [Some("app_stage"), None],
        e28: [Some("app_stage"), None],
    },
    Case {
        what: "DESIGN §1: BACK_ keeps the route when FRONT_ is attached",
        first: net("BACK_x"),
        then: &[net("FRONT_x")],
        e20: [Some("BACK_x"), None],
        e28: [Some("BACK_x"), None],
    },
    Case {
        what: "DESIGN §1: a non-internal FRONT_ takes the route of a container on bridge",
        first: BRIDGE,
        then: &[net("FRONT_x")],
        e20: [Some("FRONT_x"), None],
        e28: [Some("FRONT_x"), None],
    },
    Case {
        what: "DESIGN §1: an internal FRONT_ leaves the route on bridge",
        first: BRIDGE,
        then: &[internal(net("FRONT_x"))],
        e20: [Some("bridge"), None],
        e28: [Some("bridge"), None],
    },
    Case {
        what: "the proxy's attach with bgdeploy's lowest priority: bridge keeps it on 28",
        first: BRIDGE,
        then: &[prio(net("FRONT_x"), -100)],
        e20: [Some("FRONT_x"), None],
        e28: [Some("bridge"), None],
    },
    Case {
        what: "an extra network sorting before BACK_ (BACK_ with the highest priority)",
        first: prio(net("BACK_x"), 100),
        then: &[net("AAA_shared")],
        e20: [Some("AAA_shared"), None],
        e28: [Some("BACK_x"), None],
    },
    Case {
        what: "a user network with a higher gw-priority",
        first: net("a_net"),
        then: &[prio(net("z_net"), 10)],
        e20: [Some("a_net"), None],
        e28: [Some("z_net"), None],
    },
    Case {
        what: "an internal network with a higher gw-priority does not take the route",
        first: BRIDGE,
        then: &[prio(internal(net("FRONT_x")), 500)],
        e20: [Some("bridge"), None],
        e28: [Some("bridge"), None],
    },
    Case {
        what: "an internal-only container",
        first: internal(dual(net("only_internal"))),
        then: &[],
        e20: [Some("only_internal"), Some("only_internal")],
        e28: [None, None],
    },
    Case {
        what: "a dual-stack network beats an IPv4-only one that sorts first by name",
        first: net("a_v4"),
        then: &[dual(net("z_dual"))],
        e20: [Some("z_dual"), Some("z_dual")],
        e28: [Some("z_dual"), Some("z_dual")],
    },
    Case {
        what: "a dual-stack extra network over an IPv4-only BACK_ with the highest priority",
        first: prio(net("BACK_x"), 100),
        then: &[dual(net("AAA_shared"))],
        e20: [Some("AAA_shared"), Some("AAA_shared")],
        e28: [Some("AAA_shared"), Some("AAA_shared")],
    },
    Case {
        what: "dual-stack BACK_ with the highest priority keeps both routes",
        first: prio(dual(net("BACK_x")), 100),
        then: &[dual(net("AAA_shared"))],
        e20: [Some("AAA_shared"), Some("AAA_shared")],
        e28: [Some("BACK_x"), Some("BACK_x")],
    },
    Case {
        what: "the IPv6 route follows the IPv4 one on 20.10: an internal dual-stack network \
               gives none",
        first: internal(dual(net("b_internal"))),
        then: &[net("a_v4")],
        e20: [Some("a_v4"), None],
        e28: [Some("a_v4"), None],
    },
];

/// The network's name in this test: `bridge` as it is, others after the test's prefix, which
/// keeps their order among themselves and against `bridge` (`bgt…` sorts before `bridge` as
/// `FRONT_…` does).
fn name(env: &TestEnv, n: &Net) -> String {
    if n.name == "bridge" {
        n.name.to_string()
    } else {
        env.name(n.name)
    }
}

/// bgdeploy's prediction from the engine's own description of the container: each network's
/// `Internal` and `EnableIPv6`, each endpoint's `GwPriority`, the engine's API version.
fn predicted(env: &TestEnv, container: &str) -> [Option<String>; 2] {
    let api = env.docker(&["version", "-f", "{{.Server.APIVersion}}"]);
    let api = ApiVersion::parse(&api).unwrap_or_else(|| panic!("API version {api}"));
    let json = env.docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        container,
    ]);
    let networks: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&json).expect("the container's networks");
    let endpoints: Vec<Endpoint> = networks
        .iter()
        .map(|(name, e)| {
            let flags = env.docker(&[
                "network",
                "inspect",
                "-f",
                "{{.Internal}} {{.EnableIPv6}}",
                name,
            ]);
            Endpoint::new(name.clone(), flags.starts_with("true"))
                .ipv6(flags.ends_with("true"))
                .priority(e["GwPriority"].as_i64().unwrap_or(0))
        })
        .collect();
    let routes = default_routes(&endpoints, api);
    [routes.v4, routes.v6].map(|h| h.map(|h| h.network))
}

fn create(env: &TestEnv, engine: OnEngine, n: &Net, index: u16) -> String {
    let full = name(env, n);
    if n.name == "bridge" {
        return full;
    }
    let mut b = env.network(&full);
    if n.internal {
        b = b.internal();
    }
    if n.ipv6 {
        // Engine 20.10 has no IPv6 pool; Engine 28's is used as it is.
        let subnet = (engine == OnEngine::Machine20).then(|| ipv6_subnet(env, index));
        b = b.ipv6(subnet.as_deref());
    }
    b.create();
    full
}

async fn every_case_matches_the_kernel(engine: OnEngine) {
    for case in CASES {
        // One env per case: at most three networks of this test exist at a time.
        let Some(env) = engine.env().await else {
            return;
        };
        let first = create(&env, engine, &case.first, 0);
        let c = env.name("c");
        if engine.has_gw_priority() && case.first.priority != 0 {
            // `docker run --network name=…,gw-priority=…` is not in every CLI: attach the
            // first network again, with its priority, before the container starts.
            env.container(&c).network(&first).create();
            env.docker(&["network", "disconnect", &first, &c]);
            let priority = case.first.priority.to_string();
            env.docker(&["network", "connect", "--gw-priority", &priority, &first, &c]);
            env.docker(&["start", &c]);
        } else {
            // 20.10's API has no GwPriority (the engine ignores it): nothing to send.
            env.container(&c).network(&first).run();
        }
        for (i, n) in case.then.iter().enumerate() {
            let full = create(&env, engine, n, i as u16 + 1);
            let mut args = vec!["network", "connect"];
            let priority = n.priority.to_string();
            if engine.has_gw_priority() && n.priority != 0 {
                args.extend(["--gw-priority", &priority]);
            }
            args.extend([full.as_str(), c.as_str()]);
            env.docker(&args);
        }
        let kernel = kernel_routes(&env, &c);
        let expected = match engine {
            OnEngine::Machine20 => case.e20,
            OnEngine::Host28 => case.e28,
        }
        .map(|n| {
            n.map(|n| {
                let net = Net { name: n, ..net("") };
                name(&env, &net)
            })
        });
        assert_eq!(
            predicted(&env, &c),
            kernel,
            "{engine:?}, {}: bgdeploy's prediction (IPv4, IPv6) vs the kernel",
            case.what
        );
        assert_eq!(
            kernel, expected,
            "{engine:?}, {}: measured before",
            case.what
        );
    }
}

on_engines!(
    route_prediction_matches_the_kernel,
    every_case_matches_the_kernel
);

/// The spec of these tests: no proxy, so only the routes matter; `extra` added to the app.
fn spec(app: &str, extra: &str) -> String {
    format!(
        "apps:\n  {app}:\n    image: bgdeploy-demo:v1\n    port: 8080\n    health: {{http: /up}}\n    drain: 0s\n    stop_timeout: 1s\n{extra}    stages:\n      stage: {{}}\n"
    )
}

/// `ipv6:` makes dual-stack `BACK_`/`FRONT_`; both families are predicted and checked, and
/// the kernel has both default routes on `BACK_`. Engine 20.10 needs the subnets written.
async fn ipv6_deploys_dual_stack(engine: OnEngine) {
    let Some(env) = engine.env().await else {
        return;
    };
    let app = env.name("shop");
    if engine == OnEngine::Machine20 {
        // No IPv6 pool on 20.10: `ipv6: true` stops before anything exists, saying what to write.
        let before = crate::harness::snapshot(env.prefix());
        env.bgdeploy()
            .args(["up", &app, "stage"])
            .spec(&spec(&app, "    ipv6: true\n"))
            .run()
            .assert_code(1)
            .stderr_contains("IPv6 address pool")
            .stderr_contains("ipv6: {back:");
        assert_eq!(
            before,
            crate::harness::snapshot(env.prefix()),
            "the engine changed"
        );
    }
    let ipv6 = match engine {
        OnEngine::Machine20 => format!(
            "    ipv6: {{back: \"{}\", front: \"{}\"}}\n",
            ipv6_subnet(&env, 1),
            ipv6_subnet(&env, 2)
        ),
        OnEngine::Host28 => "    ipv6: true\n".to_string(),
    };
    let yaml = spec(&app, &ipv6);
    let plan = env
        .bgdeploy()
        .args(["plan", &app, "stage", "--output", "json"])
        .spec(&yaml)
        .run()
        .json();
    let back = format!("BACK_{app}_stage");
    let steps = plan["steps"].as_array().expect("steps");
    let check = steps
        .iter()
        .rfind(|s| s["action"] == "check_route")
        .expect("the route check");
    assert_eq!(check["expect_v6"], back.as_str(), "{check}");
    let front = steps
        .iter()
        .find(|s| s["action"] == "connect_network")
        .expect("the front attach");
    assert_eq!(front["route"]["ipv6"]["after"], back.as_str(), "{front}");
    env.bgdeploy()
        .args(["up", &app, "stage"])
        .spec(&yaml)
        .timeout(Duration::from_secs(120))
        .run()
        .assert_success();
    let ipv6_on = env.docker(&["network", "inspect", "-f", "{{.EnableIPv6}}", &back]);
    assert_eq!(ipv6_on, "true");
    let live = env.docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=bgdeploy.app={app}"),
        "--filter",
        "status=running",
    ]);
    let live = live.lines().next().expect("the live release").to_string();
    let routes = kernel_routes(&env, &live);
    assert_eq!(routes, [Some(back.clone()), Some(back)]);
}

on_engines!(ipv6_true_deploys_dual_stack, ipv6_deploys_dual_stack);

/// On Engine 28, a container created on one network whose route a higher-priority attach
/// took: `doctor` flags it and names the priority rule.
#[tokio::test]
async fn doctor_on_engine_28_explains_a_move_by_priority() {
    let Some(env) = OnEngine::Host28.env().await else {
        return;
    };
    let (a, z) = (env.name("a_net"), env.name("z_net"));
    env.network(&a).create();
    env.network(&z).create();
    let c = env.name("c");
    env.container(&c).network(&a).run();
    env.docker(&["network", "connect", "--gw-priority", "10", &z, &c]);
    let run = env
        .bgdeploy()
        .args(["doctor", "--name", env.prefix(), "--output", "json"])
        .run();
    run.assert_code(1);
    let report = run.json();
    let finding = &report["findings"][0];
    assert_eq!(finding["kind"], "route_moved", "{report}");
    assert_eq!(finding["actual"], z.as_str(), "{report}");
    let why = finding["explanation"].as_str().unwrap_or_default();
    assert!(why.contains("highest GwPriority"), "{why}");
}
