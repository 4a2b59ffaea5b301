//! An in-memory engine for unit tests of the executor: containers, networks, attachments
//! with addresses, default routes by the engine's ordering rule (`route::default_route_holder`),
//! files and volumes, a proxy's nginx (`proxy`), health that passes for a running container.
//! It follows `Engine`'s contract, not the raw API's: removing what is gone, stopping what is
//! stopped and detaching what is not attached succeed, as `Engine`'s methods make them.
//!
//! Every call is recorded (operation, object, the step it came in), and one call can be made
//! to fail (`Fault`): by its index, or by operation and object; before it takes effect (the
//! engine refused) or after (the engine did it, the answer was lost).

mod error;
mod model;
mod proxy;
mod route;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use futures_util::future::LocalBoxFuture;

use error::{error, not_found, refused};
pub use model::{Ctr, Ep, Net, ProxyModel, World};
pub use proxy::routes_to;

use super::{
    ContainerDetails, ContainerEntry, ContainerSpec, EngineApi, EngineError, ExecOutput,
    NetworkDetails, Output, Process,
};
use crate::drain::{DrainOutcome, Watch};
use crate::health::{HealthError, ProbeReport};
use crate::observe::{ApiVersion, EngineInfo, NetworkInfo};
use crate::route::{ProcNetError, RouteReadError, RouteReading};
use crate::spec::Health;

/// When an injected failure strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The engine refused: nothing happened.
    Before,
    /// The engine did it, and then the answer was lost.
    After,
}

/// Which call fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The call with this index (0-based, in the order calls were made).
    Call(usize),
    /// The first call of this operation on this object (container, network, image, ...).
    Op { op: String, object: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub target: Target,
    pub when: When,
}

/// One call as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub op: &'static str,
    pub object: String,
    /// The step of the plan running when it was made (0: none yet).
    pub step: usize,
}

#[derive(Default)]
struct State {
    world: World,
    calls: Vec<Call>,
    fault: Option<Fault>,
    /// The call that failed, once it did.
    struck: Option<usize>,
    step: usize,
    /// Called once, at the first call made in this step (a signal arriving mid-step).
    during: Option<(usize, Box<dyn FnOnce() + Send>)>,
}

pub struct FakeEngine {
    info: EngineInfo,
    state: Mutex<State>,
}

type Answer<'a, T> = LocalBoxFuture<'a, Result<T, EngineError>>;

fn ready<'a, T: 'a>(value: T) -> LocalBoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl Default for FakeEngine {
    fn default() -> Self {
        FakeEngine::new()
    }
}

impl FakeEngine {
    /// An engine with the default `bridge` network, on this host, API 1.41.
    pub fn new() -> FakeEngine {
        let mut world = World::default();
        world.add_network("bridge", false, BTreeMap::new());
        FakeEngine {
            info: EngineInfo {
                host: "fake://".into(),
                version: "20.10.24".into(),
                api: ApiVersion {
                    major: 1,
                    minor: 41,
                },
                local: true,
            },
            state: Mutex::new(State {
                world,
                ..State::default()
            }),
        }
    }

    /// An engine holding `world` (another's, copied), with no call made yet.
    pub fn with(world: World) -> FakeEngine {
        let fake = FakeEngine::new();
        fake.state().world = world;
        fake
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked holding it has failed already; its state is still readable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the world as it is now.
    pub fn world(&self) -> World {
        self.state().world.clone()
    }

    /// Changes the world directly (a test's setup), without recording a call.
    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.state().world)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// From now on, this call fails (counting from the first call ever made).
    pub fn set_fault(&self, fault: Option<Fault>) {
        let mut st = self.state();
        st.fault = fault;
        st.struck = None;
    }

    /// The index of the call the fault struck, if it did.
    pub fn struck(&self) -> Option<usize> {
        self.state().struck
    }

    /// Calls `then` at the first call made during step `step`.
    pub fn during_step(&self, step: usize, then: impl FnOnce() + Send + 'static) {
        self.state().during = Some((step, Box::new(then)));
    }

    /// The step now running, recorded with each call.
    pub fn set_step(&self, step: usize) {
        self.state().step = step;
    }

    /// Adds a running proxy container on `bridge` whose nginx is of `kind` (`nginx` or
    /// `nginx-proxy`).
    pub fn add_proxy(&self, name: &str, kind: &str) {
        let mut st = self.state();
        let w = &mut st.world;
        let n = w.next_seq();
        w.containers.insert(
            name.to_string(),
            Ctr {
                id: format!("{n:064x}"),
                name: name.to_string(),
                image: "nginx".into(),
                state: "running".into(),
                created: n,
                pid: u32::try_from(n).unwrap_or(u32::MAX),
                proxy: Some(ProxyModel {
                    kind: kind.to_string(),
                    ..ProxyModel::default()
                }),
                ..Ctr::default()
            },
        );
        w.attach(name, "bridge", 0);
    }

    /// Records the call; the fault, when it strikes this one.
    fn call(&self, op: &'static str, object: &str) -> Option<When> {
        let mut st = self.state();
        let index = st.calls.len();
        let step = st.step;
        if st.during.as_ref().is_some_and(|(k, _)| *k == step) {
            if let Some((_, then)) = st.during.take() {
                then();
            }
        }
        st.calls.push(Call {
            op,
            object: object.to_string(),
            step,
        });
        let fault = st.fault.clone()?;
        if st.struck.is_some() {
            return None;
        }
        let hit = match &fault.target {
            Target::Call(n) => *n == index,
            Target::Op { op: o, object: x } => o == op && x == object,
        };
        if hit {
            st.struck = Some(index);
            Some(fault.when)
        } else {
            None
        }
    }

    /// One engine call: recorded, possibly failed, else `apply` on the world.
    fn op<T>(
        &self,
        op: &'static str,
        object: &str,
        apply: impl FnOnce(&mut World) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let fault = self.call(op, object);
        if fault == Some(When::Before) {
            return Err(error(op, object, refused(op)));
        }
        let result = apply(&mut self.state().world);
        if fault == Some(When::After) {
            return Err(error(op, object, refused(op)));
        }
        result
    }

    fn missing(op: &str, object: &str) -> EngineError {
        error(op, object, not_found(object))
    }
}

/// A container that started, stopped or went: what watches the engine's events reacts.
fn event(w: &mut World) {
    proxy::container_event(w);
}

impl EngineApi for FakeEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn list_networks(&self) -> Answer<'_, Vec<NetworkInfo>> {
        ready(self.op("list_networks", "", |w| {
            Ok(w.networks.values().map(Net::info).collect())
        }))
    }

    fn inspect_network<'a>(&'a self, id_or_name: &'a str) -> Answer<'a, Option<NetworkDetails>> {
        ready(self.op("inspect_network", id_or_name, |w| {
            Ok(w.network_by(id_or_name).map(Net::details))
        }))
    }

    /// IPv6 is not modelled: the matrix's networks are IPv4 only.
    fn create_network_with<'a>(
        &'a self,
        name: &'a str,
        internal: bool,
        _ipv6: Option<Option<&'a str>>,
        labels: &'a [(String, String)],
    ) -> Answer<'a, String> {
        ready(self.op("create_network", name, |w| {
            Ok(w.add_network(name, internal, labels.iter().cloned().collect()))
        }))
    }

    fn connect_network<'a>(
        &'a self,
        container: &'a str,
        network: &'a str,
        gw_priority: Option<i64>,
    ) -> Answer<'a, ()> {
        let object = format!("{container} to {network}");
        ready(self.op("connect_network", &object, |w| {
            if w.find(container)
                .is_some_and(|c| c.ip_on(network).is_some())
            {
                return Err(error(
                    "connect_network",
                    &object,
                    refused("endpoint already exists"),
                ));
            }
            if w.attach(container, network, gw_priority.unwrap_or(0)) {
                Ok(())
            } else {
                Err(Self::missing("connect_network", &object))
            }
        }))
    }

    fn disconnect_network<'a>(
        &'a self,
        container: &'a str,
        network: &'a str,
        _force: bool,
    ) -> Answer<'a, ()> {
        let object = format!("{container} to {network}");
        ready(self.op("disconnect_network", &object, |w| {
            let Some(c) = w.find_mut(container) else {
                return Err(Self::missing("disconnect_network", &object));
            };
            c.endpoints.retain(|e| e.network != network);
            Ok(())
        }))
    }

    fn list_app_containers<'a>(
        &'a self,
        app: &'a str,
        stage: &'a str,
    ) -> Answer<'a, Vec<ContainerEntry>> {
        ready(self.op("list_app_containers", app, |w| {
            let is = |c: &&Ctr, k: &str, v: &str| c.labels.get(k).map(String::as_str) == Some(v);
            Ok(w.containers
                .values()
                .filter(|c| {
                    is(c, crate::names::LABEL_APP, app) && is(c, crate::names::LABEL_STAGE, stage)
                })
                .map(Ctr::entry)
                .collect())
        }))
    }

    fn inspect_container<'a>(
        &'a self,
        name_or_id: &'a str,
    ) -> Answer<'a, Option<ContainerDetails>> {
        ready(self.op("inspect_container", name_or_id, |w| {
            Ok(w.find(name_or_id).map(|c| c.details(&w.networks)))
        }))
    }

    fn create_container<'a>(&'a self, spec: &'a ContainerSpec) -> Answer<'a, String> {
        ready(self.op("create_container", &spec.name, |w| {
            if w.containers.contains_key(&spec.name) {
                return Err(EngineError::NameInUse {
                    name: spec.name.clone(),
                });
            }
            if !w.images.contains(&spec.image) {
                return Err(Self::missing("create_container", &spec.image));
            }
            let n = w.next_seq();
            let id = format!("{n:064x}");
            w.containers.insert(
                spec.name.clone(),
                Ctr {
                    id: id.clone(),
                    name: spec.name.clone(),
                    image: spec.image.clone(),
                    labels: spec.labels.iter().cloned().collect(),
                    env: spec.env.clone(),
                    state: "created".into(),
                    created: n,
                    binds: spec.binds.clone(),
                    ..Ctr::default()
                },
            );
            if spec.network != "none"
                && !w.attach(&spec.name, &spec.network, spec.gw_priority.unwrap_or(0))
            {
                w.containers.remove(&spec.name);
                return Err(Self::missing("create_container", &spec.network));
            }
            Ok(id)
        }))
    }

    fn start_container<'a>(&'a self, id: &'a str) -> Answer<'a, ()> {
        ready(self.op("start_container", id, |w| {
            let n = w.next_seq();
            let c = w
                .find_mut(id)
                .ok_or_else(|| Self::missing("start_container", id))?;
            if !c.running() {
                c.state = "running".into();
                c.pid = u32::try_from(n).unwrap_or(u32::MAX);
            }
            event(w);
            Ok(())
        }))
    }

    fn stop_container<'a>(&'a self, id: &'a str, _timeout: Duration) -> Answer<'a, ()> {
        ready(self.op("stop_container", id, |w| {
            let c = w
                .find_mut(id)
                .ok_or_else(|| Self::missing("stop_container", id))?;
            if c.running() {
                c.state = "exited".into();
            }
            event(w);
            Ok(())
        }))
    }

    fn remove_container<'a>(&'a self, id: &'a str, _force: bool) -> Answer<'a, ()> {
        ready(self.op("remove_container", id, |w| {
            if let Some(name) = w.find(id).map(|c| c.name.clone()) {
                w.containers.remove(&name);
                event(w);
            }
            Ok(())
        }))
    }

    fn signal_container<'a>(&'a self, container: &'a str, _signal: &'a str) -> Answer<'a, ()> {
        ready(
            self.op("signal_container", container, |w| match w.find(container) {
                Some(c) if c.running() => Ok(()),
                _ => Err(Self::missing("signal_container", container)),
            }),
        )
    }

    /// A one-off runs to its end at once, with exit code 0.
    fn wait_container<'a>(&'a self, container: &'a str) -> Answer<'a, i64> {
        ready(self.op("wait_container", container, |w| {
            let c = w
                .find_mut(container)
                .ok_or_else(|| Self::missing("wait_container", container))?;
            c.state = "exited".into();
            Ok(0)
        }))
    }

    fn exec<'a>(&'a self, container: &'a str, argv: &'a [&'a str]) -> Answer<'a, ExecOutput> {
        // As `Engine::exec`: its errors name the command.
        let failed = |source| EngineError::Exec {
            container: container.to_string(),
            command: argv.join(" "),
            source,
        };
        let result = self.op("exec", container, |w| {
            let c = w
                .find(container)
                .ok_or_else(|| failed(not_found(container)))?;
            if !c.running() {
                return Err(failed(refused("container is not running")));
            }
            let name = c.name.clone();
            if c.proxy.is_some() {
                return Ok(proxy::exec(w, &name, argv));
            }
            Ok(ExecOutput {
                exit_code: 0,
                stdout: String::new(),
                stderr: String::new(),
            })
        });
        ready(result.map_err(|e| match e {
            EngineError::Exec { source, .. } => failed(source),
            other => other,
        }))
    }

    fn processes<'a>(&'a self, container: &'a str) -> Answer<'a, Vec<Process>> {
        ready(
            self.op("processes", container, |w| match w.find(container) {
                Some(c) if c.running() => Ok(proxy::processes(c)),
                _ => Err(Self::missing("processes", container)),
            }),
        )
    }

    fn get_file<'a>(&'a self, container: &'a str, path: &'a str) -> Answer<'a, Option<Vec<u8>>> {
        ready(self.op("get_file", container, |w| {
            let c = w
                .find(container)
                .ok_or_else(|| Self::missing("get_file", container))?;
            Ok(match c.volume_path(path) {
                Some(key) => w.volume_files.get(&key).cloned(),
                None => c.files.get(path).cloned(),
            })
        }))
    }

    fn put_file<'a>(
        &'a self,
        container: &'a str,
        dir_path: &'a str,
        file_name: &'a str,
        bytes: &'a [u8],
    ) -> Answer<'a, ()> {
        ready(self.op("put_file", container, |w| {
            let path = format!("{}/{file_name}", dir_path.trim_end_matches('/'));
            let c = w
                .find_mut(container)
                .ok_or_else(|| Self::missing("put_file", container))?;
            match c.volume_path(&path) {
                Some(key) => {
                    w.volume_files.insert(key, bytes.to_vec());
                }
                None => {
                    c.files.insert(path, bytes.to_vec());
                }
            }
            Ok(())
        }))
    }

    fn logs_tail<'a>(&'a self, container: &'a str, _lines: u32) -> Answer<'a, String> {
        ready(self.op("logs_tail", container, |_| Ok(String::new())))
    }

    fn log_stream(&self, container: &str, _tail: &str, _since: i64, _follow: bool) -> Output {
        let _ = self.call("log_stream", container);
        Box::pin(futures_util::stream::empty())
    }

    fn image_exists<'a>(&'a self, image: &'a str) -> Answer<'a, bool> {
        ready(self.op("image_exists", image, |w| Ok(w.images.contains(image))))
    }

    fn pull_image<'a>(&'a self, image: &'a str, _progress: &'a dyn Fn(&str)) -> Answer<'a, ()> {
        ready(self.op("pull_image", image, |w| {
            w.images.insert(image.to_string());
            Ok(())
        }))
    }

    fn ensure_lock_image(&self) -> Answer<'_, String> {
        let image = super::lock_image();
        ready(self.op("ensure_lock_image", &image.clone(), |w| {
            w.images.insert(image.clone());
            Ok(image)
        }))
    }

    fn create_volume<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(String, String)],
    ) -> Answer<'a, ()> {
        ready(self.op("create_volume", name, |w| {
            w.volumes
                .entry(name.to_string())
                .or_insert_with(|| labels.iter().cloned().collect());
            Ok(())
        }))
    }

    fn volume_labels<'a>(&'a self, name: &'a str) -> Answer<'a, Option<BTreeMap<String, String>>> {
        ready(self.op("volume_labels", name, |w| Ok(w.volumes.get(name).cloned())))
    }

    fn remove_stale_probes<'a>(&'a self, app: &'a str, _stage: &'a str) -> LocalBoxFuture<'a, ()> {
        let _ = self.call("remove_stale_probes", app);
        ready(())
    }

    /// Healthy at the first probe, when the container runs.
    fn wait_healthy<'a>(
        &'a self,
        container_id: &'a str,
        _ip: IpAddr,
        _port: u16,
        _health: &'a Health,
        on_probe: &'a mut dyn FnMut(&ProbeReport),
    ) -> LocalBoxFuture<'a, Result<(), HealthError>> {
        let result = self
            .op("wait_healthy", container_id, |w| {
                Ok(w.find(container_id).map(|c| (c.name.clone(), c.running())))
            })
            .map_err(HealthError::Engine)
            .and_then(|found| match found {
                None => Err(HealthError::Gone {
                    container: container_id.to_string(),
                }),
                Some((name, false)) => Err(HealthError::Died {
                    container: name,
                    exit_code: Some(0),
                }),
                Some(_) => {
                    on_probe(&ProbeReport {
                        attempt: 1,
                        probe: crate::health::Probe::Pass("fake: healthy".into()),
                        streak: 1,
                        needed: 1,
                        elapsed: Duration::ZERO,
                    });
                    Ok(())
                }
            });
        ready(result)
    }

    /// The route the engine's rule gives (`route::reading`).
    fn read_default_route<'a>(
        &'a self,
        container: &'a str,
    ) -> LocalBoxFuture<'a, Result<RouteReading, RouteReadError>> {
        let api = self.info.api;
        let result = self
            .op("read_default_route", container, |w| {
                Ok(route::reading(w, container, api))
            })
            .map_err(ProcNetError::Engine)
            .and_then(|reading| reading);
        ready(result)
    }

    /// Nothing holds connections open in the fake: drained at the first count.
    fn drain<'a>(
        &'a self,
        container: &'a str,
        _port: u16,
        _max: Duration,
        _watch: Option<&'a Watch>,
        on_tick: &'a mut dyn FnMut(usize, Duration),
    ) -> LocalBoxFuture<'a, Result<DrainOutcome, ProcNetError>> {
        let result = self
            .op("drain", container, |_| Ok(()))
            .map_err(ProcNetError::Engine)
            .map(|()| {
                on_tick(0, Duration::ZERO);
                DrainOutcome {
                    closed: true,
                    remaining: 0,
                    waited: Duration::ZERO,
                }
            });
        ready(result)
    }
}
