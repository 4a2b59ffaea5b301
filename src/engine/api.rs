//! The engine operations a deploy uses, as one trait: the executor, and what it calls (the
//! lock, observation, the proxy drivers, the history, one-off containers), talk to
//! `&dyn EngineApi`, so that they run against the real engine (`Engine`) or, in unit tests,
//! against an in-memory one (`engine::fake`) that can fail any call.
//!
//! Most methods are single engine calls. Three are whole procedures, because what they do
//! beyond engine calls (HTTP probes from this host, reading `/proc` of the engine's host) has
//! no in-memory model worth the name: waiting for health, reading a default route, draining.
//!
//! Futures are boxed (`LocalBoxFuture`) so the trait stays usable as `dyn`; none of the
//! callers moves them to another thread.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;

use super::{
    ContainerDetails, ContainerEntry, ContainerSpec, Engine, EngineError, ExecOutput,
    NetworkDetails, Output, Process,
};
use crate::drain::{DrainOutcome, Watch};
use crate::health::{HealthError, ProbeReport};
use crate::observe::{EngineInfo, NetworkInfo};
use crate::route::{ProcNetError, RouteReadError, RouteReading};
use crate::spec::Health;

type Answer<'a, T> = LocalBoxFuture<'a, Result<T, EngineError>>;

pub trait EngineApi {
    fn info(&self) -> &EngineInfo;

    // Networks.
    fn list_networks(&self) -> Answer<'_, Vec<NetworkInfo>>;
    fn inspect_network<'a>(&'a self, id_or_name: &'a str) -> Answer<'a, Option<NetworkDetails>>;
    /// `ipv6`: dual-stack, `Some(None)` with the subnet from the engine's pool.
    fn create_network_with<'a>(
        &'a self,
        name: &'a str,
        internal: bool,
        ipv6: Option<Option<&'a str>>,
        labels: &'a [(String, String)],
    ) -> Answer<'a, String>;
    fn connect_network<'a>(
        &'a self,
        container: &'a str,
        network: &'a str,
        gw_priority: Option<i64>,
    ) -> Answer<'a, ()>;
    fn disconnect_network<'a>(
        &'a self,
        container: &'a str,
        network: &'a str,
        force: bool,
    ) -> Answer<'a, ()>;

    // Containers.
    fn list_app_containers<'a>(
        &'a self,
        app: &'a str,
        stage: &'a str,
    ) -> Answer<'a, Vec<ContainerEntry>>;
    fn inspect_container<'a>(&'a self, name_or_id: &'a str)
    -> Answer<'a, Option<ContainerDetails>>;
    fn create_container<'a>(&'a self, spec: &'a ContainerSpec) -> Answer<'a, String>;
    fn start_container<'a>(&'a self, id: &'a str) -> Answer<'a, ()>;
    fn stop_container<'a>(&'a self, id: &'a str, timeout: Duration) -> Answer<'a, ()>;
    fn remove_container<'a>(&'a self, id: &'a str, force: bool) -> Answer<'a, ()>;
    fn signal_container<'a>(&'a self, container: &'a str, signal: &'a str) -> Answer<'a, ()>;
    fn wait_container<'a>(&'a self, container: &'a str) -> Answer<'a, i64>;

    // Inside containers.
    fn exec<'a>(&'a self, container: &'a str, argv: &'a [&'a str]) -> Answer<'a, ExecOutput>;
    fn processes<'a>(&'a self, container: &'a str) -> Answer<'a, Vec<Process>>;
    fn get_file<'a>(&'a self, container: &'a str, path: &'a str) -> Answer<'a, Option<Vec<u8>>>;
    fn put_file<'a>(
        &'a self,
        container: &'a str,
        dir_path: &'a str,
        file_name: &'a str,
        bytes: &'a [u8],
    ) -> Answer<'a, ()>;
    fn logs_tail<'a>(&'a self, container: &'a str, lines: u32) -> Answer<'a, String>;
    fn log_stream(&self, container: &str, tail: &str, since: i64, follow: bool) -> Output;

    // Images and volumes.
    fn image_exists<'a>(&'a self, image: &'a str) -> Answer<'a, bool>;
    fn pull_image<'a>(&'a self, image: &'a str, progress: &'a dyn Fn(&str)) -> Answer<'a, ()>;
    fn ensure_lock_image(&self) -> Answer<'_, String>;
    fn create_volume<'a>(&'a self, name: &'a str, labels: &'a [(String, String)])
    -> Answer<'a, ()>;
    fn volume_labels<'a>(&'a self, name: &'a str) -> Answer<'a, Option<BTreeMap<String, String>>>;

    /// Removes what a killed run left of its probes for `app`/`stage` (best effort).
    fn remove_stale_probes<'a>(&'a self, app: &'a str, stage: &'a str) -> LocalBoxFuture<'a, ()>;

    // Procedures (see the module's comment).

    /// `health::wait_healthy`: until `container_id` passes `health`, within its deadline.
    fn wait_healthy<'a>(
        &'a self,
        container_id: &'a str,
        ip: IpAddr,
        port: u16,
        health: &'a Health,
        on_probe: &'a mut dyn FnMut(&ProbeReport),
    ) -> LocalBoxFuture<'a, Result<(), HealthError>>;

    /// `route::read_default_route`: the default routes `container` has, from its kernel.
    fn read_default_route<'a>(
        &'a self,
        container: &'a str,
    ) -> LocalBoxFuture<'a, Result<RouteReading, RouteReadError>>;

    /// `drain::drain_watching`: until `container` has no connection on `port` (nor the
    /// watched proxy one to it), at most `max`.
    fn drain<'a>(
        &'a self,
        container: &'a str,
        port: u16,
        max: Duration,
        watch: Option<&'a Watch>,
        on_tick: &'a mut dyn FnMut(usize, Duration),
    ) -> LocalBoxFuture<'a, Result<DrainOutcome, ProcNetError>>;
}

/// Each method calls `Engine`'s own of the same name (inherent methods win over the trait's
/// in `Engine::name` paths), or the procedure's function.
impl EngineApi for Engine {
    fn info(&self) -> &EngineInfo {
        Engine::info(self)
    }

    fn list_networks(&self) -> Answer<'_, Vec<NetworkInfo>> {
        Box::pin(Engine::list_networks(self))
    }

    fn inspect_network<'a>(&'a self, id_or_name: &'a str) -> Answer<'a, Option<NetworkDetails>> {
        Box::pin(Engine::inspect_network(self, id_or_name))
    }

    fn create_network_with<'a>(
        &'a self,
        name: &'a str,
        internal: bool,
        ipv6: Option<Option<&'a str>>,
        labels: &'a [(String, String)],
    ) -> Answer<'a, String> {
        Box::pin(Engine::create_network_with(
            self, name, internal, ipv6, labels,
        ))
    }

    fn connect_network<'a>(
        &'a self,
        container: &'a str,
        network: &'a str,
        gw_priority: Option<i64>,
    ) -> Answer<'a, ()> {
        Box::pin(Engine::connect_network(
            self,
            container,
            network,
            gw_priority,
        ))
    }

    fn disconnect_network<'a>(
        &'a self,
        container: &'a str,
        network: &'a str,
        force: bool,
    ) -> Answer<'a, ()> {
        Box::pin(Engine::disconnect_network(self, container, network, force))
    }

    fn list_app_containers<'a>(
        &'a self,
        app: &'a str,
        stage: &'a str,
    ) -> Answer<'a, Vec<ContainerEntry>> {
        Box::pin(Engine::list_app_containers(self, app, stage))
    }

    fn inspect_container<'a>(
        &'a self,
        name_or_id: &'a str,
    ) -> Answer<'a, Option<ContainerDetails>> {
        Box::pin(Engine::inspect_container(self, name_or_id))
    }

    fn create_container<'a>(&'a self, spec: &'a ContainerSpec) -> Answer<'a, String> {
        Box::pin(Engine::create_container(self, spec))
    }

    fn start_container<'a>(&'a self, id: &'a str) -> Answer<'a, ()> {
        Box::pin(Engine::start_container(self, id))
    }

    fn stop_container<'a>(&'a self, id: &'a str, timeout: Duration) -> Answer<'a, ()> {
        Box::pin(Engine::stop_container(self, id, timeout))
    }

    fn remove_container<'a>(&'a self, id: &'a str, force: bool) -> Answer<'a, ()> {
        Box::pin(Engine::remove_container(self, id, force))
    }

    fn signal_container<'a>(&'a self, container: &'a str, signal: &'a str) -> Answer<'a, ()> {
        Box::pin(Engine::signal_container(self, container, signal))
    }

    fn wait_container<'a>(&'a self, container: &'a str) -> Answer<'a, i64> {
        Box::pin(Engine::wait_container(self, container))
    }

    fn exec<'a>(&'a self, container: &'a str, argv: &'a [&'a str]) -> Answer<'a, ExecOutput> {
        Box::pin(Engine::exec(self, container, argv))
    }

    fn processes<'a>(&'a self, container: &'a str) -> Answer<'a, Vec<Process>> {
        Box::pin(Engine::processes(self, container))
    }

    fn get_file<'a>(&'a self, container: &'a str, path: &'a str) -> Answer<'a, Option<Vec<u8>>> {
        Box::pin(Engine::get_file(self, container, path))
    }

    fn put_file<'a>(
        &'a self,
        container: &'a str,
        dir_path: &'a str,
        file_name: &'a str,
        bytes: &'a [u8],
    ) -> Answer<'a, ()> {
        Box::pin(Engine::put_file(
            self, container, dir_path, file_name, bytes,
        ))
    }

    fn logs_tail<'a>(&'a self, container: &'a str, lines: u32) -> Answer<'a, String> {
        Box::pin(Engine::logs_tail(self, container, lines))
    }

    fn log_stream(&self, container: &str, tail: &str, since: i64, follow: bool) -> Output {
        Engine::log_stream(self, container, tail, since, follow)
    }

    fn image_exists<'a>(&'a self, image: &'a str) -> Answer<'a, bool> {
        Box::pin(Engine::image_exists(self, image))
    }

    fn pull_image<'a>(&'a self, image: &'a str, progress: &'a dyn Fn(&str)) -> Answer<'a, ()> {
        Box::pin(Engine::pull_image(self, image, progress))
    }

    fn ensure_lock_image(&self) -> Answer<'_, String> {
        Box::pin(Engine::ensure_lock_image(self))
    }

    fn create_volume<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(String, String)],
    ) -> Answer<'a, ()> {
        Box::pin(Engine::create_volume(self, name, labels))
    }

    fn volume_labels<'a>(&'a self, name: &'a str) -> Answer<'a, Option<BTreeMap<String, String>>> {
        Box::pin(Engine::volume_labels(self, name))
    }

    fn remove_stale_probes<'a>(&'a self, app: &'a str, stage: &'a str) -> LocalBoxFuture<'a, ()> {
        Box::pin(Engine::remove_stale_probes(self, app, stage))
    }

    fn wait_healthy<'a>(
        &'a self,
        container_id: &'a str,
        ip: IpAddr,
        port: u16,
        health: &'a Health,
        on_probe: &'a mut dyn FnMut(&ProbeReport),
    ) -> LocalBoxFuture<'a, Result<(), HealthError>> {
        Box::pin(crate::health::wait_healthy(
            self,
            container_id,
            ip,
            port,
            health,
            on_probe,
        ))
    }

    fn read_default_route<'a>(
        &'a self,
        container: &'a str,
    ) -> LocalBoxFuture<'a, Result<RouteReading, RouteReadError>> {
        Box::pin(crate::route::read_default_route(self, container))
    }

    fn drain<'a>(
        &'a self,
        container: &'a str,
        port: u16,
        max: Duration,
        watch: Option<&'a Watch>,
        on_tick: &'a mut dyn FnMut(usize, Duration),
    ) -> LocalBoxFuture<'a, Result<DrainOutcome, ProcNetError>> {
        Box::pin(crate::drain::drain_watching(
            self, container, port, max, watch, on_tick,
        ))
    }
}
