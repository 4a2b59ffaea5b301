//! The engines the route and deploy scenarios run against (issue 13): the machine's Engine
//! 20.10 and a test host's Engine 28.5. A scenario is written once, as an `async fn` taking
//! an `OnEngine`, and `on_engines!` makes one test per engine of it, so both run in parallel
//! and each says which engine failed.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::{Condvar, Mutex};

use super::testhost::{EngineVersion, Transport, test_host};
use super::{DEMO_HC, DEMO_V1, DEMO_V2, NGINX, TestEnv, require_engine, require_images};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEngine {
    /// The machine's engine (Debian's 20.10, API 1.41), where bgdeploy reads `/proc` itself.
    Machine20,
    /// Engine 28.5 (API 1.51) on the shared test host, over its unix socket.
    Host28,
}

impl OnEngine {
    /// A `TestEnv` on this engine with the demo images there; `None` (after saying why) when
    /// the engine is not available here and `CI` is unset.
    pub async fn env(self) -> Option<EngineEnv> {
        match self {
            OnEngine::Machine20 => {
                require_engine().await?;
                require_images();
                Some(EngineEnv {
                    env: TestEnv::new(),
                    _slot: None,
                })
            }
            OnEngine::Host28 => {
                let host = test_host(EngineVersion::E28)?;
                require_images();
                host.load_images(&[DEMO_V1, DEMO_V2, DEMO_HC, NGINX]);
                // Taken before the env exists, released after it is cleaned up (field order).
                let slot = HostSlot::take();
                Some(EngineEnv {
                    env: TestEnv::on_host(host, Transport::Unix),
                    _slot: Some(slot),
                })
            }
        }
    }

    /// From API 1.48 the engine honours `GwPriority`.
    pub fn has_gw_priority(self) -> bool {
        self == OnEngine::Host28
    }
}

/// A `TestEnv` of a scenario; on the shared test host it also holds one of its slots.
pub struct EngineEnv {
    env: TestEnv,
    _slot: Option<HostSlot>,
}

impl Deref for EngineEnv {
    type Target = TestEnv;

    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

/// The shared test host fits 20 user networks; a scenario uses at most three. However many
/// test threads run, at most this many scenarios work on it at once, leaving room for the
/// other tests there (`remote.rs`).
const HOST_SLOTS: usize = 4;

static TAKEN: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

struct HostSlot;

impl HostSlot {
    fn take() -> HostSlot {
        let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
        while *taken >= HOST_SLOTS {
            taken = FREED.wait(taken).unwrap_or_else(|p| p.into_inner());
        }
        *taken += 1;
        HostSlot
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
        *taken -= 1;
        FREED.notify_one();
    }
}

/// One test per engine for `scenario(OnEngine)`: `NAME::e20` and `NAME::e28`.
#[macro_export]
macro_rules! on_engines {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[tokio::test]
            async fn e20() {
                super::$scenario($crate::harness::engines::OnEngine::Machine20).await
            }

            #[tokio::test]
            async fn e28() {
                super::$scenario($crate::harness::engines::OnEngine::Host28).await
            }
        }
    };
}

/// The default routes the kernel shows for a running container: the network whose gateway
/// each family's default route goes through (`None`: no default route). Read from
/// `/proc/<pid>/net/{route,ipv6_route}` on this machine — test hosts' containers are processes
/// here too — and matched with the gateways `docker inspect` reports, independent of
/// bgdeploy's own reading code.
pub fn kernel_routes(env: &TestEnv, container: &str) -> [Option<String>; 2] {
    let pid = env.docker(&["inspect", "-f", "{{.State.Pid}}", container]);
    let read = |file: &str| {
        let path = format!("/proc/{pid}/net/{file}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let (v4, v6) = (read("route"), read("ipv6_route"));
    let json = env.docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        container,
    ]);
    let networks: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    let owner = |gateway: String, key: &str| {
        networks
            .iter()
            .find(|(_, n)| n[key].as_str() == Some(gateway.as_str()))
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| panic!("gateway {gateway} of {container} is none of {json}"))
    };
    let gw4 = v4.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 7 && f[1] == "00000000" && f[7] == "00000000").then(|| {
            let n = u32::from_str_radix(f[2], 16).expect("hex gateway");
            std::net::Ipv4Addr::from(n.swap_bytes()).to_string()
        })
    });
    let gw6 = v6.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let default = f.len() > 9 && f[0].bytes().all(|b| b == b'0') && f[1] == "00";
        let hop = f.get(4).and_then(|h| u128::from_str_radix(h, 16).ok())?;
        (default && hop != 0 && f[9] != "lo").then(|| std::net::Ipv6Addr::from(hop).to_string())
    });
    [
        gw4.map(|g| owner(g, "Gateway")),
        gw6.map(|g| owner(g, "IPv6Gateway")),
    ]
}

/// A unique IPv6 /64 for a test network (Engine 20.10 has no IPv6 pool): `fd42:X:Y:N::/64`
/// with X:Y from the test's prefix.
pub fn ipv6_subnet(env: &TestEnv, n: u16) -> String {
    let h = env
        .prefix()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("fd42:{:x}:{:x}:{n:x}::/64", h >> 16, h & 0xffff)
}
