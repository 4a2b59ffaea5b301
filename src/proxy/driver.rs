//! The one interface every proxy driver implements: what the planner and the executor ask of a
//! proxy, so that they never look at which driver it is. A new driver is a module here that
//! implements `Driver`, one arm in `proxy::driver`, and its keys in the spec.

use futures_util::future::LocalBoxFuture;

use super::{Backend, Phase, ProxyError};
use crate::drain;
use crate::engine::EngineApi;
use crate::spec::Deploy;

/// A boxed future borrowing the driver, the engine and the callback (not `Send`: `on_line`
/// is a plain `FnMut`, and the deploy runs on one task).
pub type DriverFuture<'a, T> = LocalBoxFuture<'a, Result<T, ProxyError>>;

/// What a switch learnt on the way, so that the caller need not ask the proxy again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Switched {
    /// Whether the proxy serves the maintenance page rather than the app after the switch;
    /// `None` when the switch did not look (the caller then asks `maintenance_state`). The
    /// nginx driver reads its file before writing it anyway: asking again would be another
    /// copy out of the container (an archive call the engine runs in a process of its own).
    pub maintenance: Option<bool>,
}

pub trait Driver {
    /// As the spec's `proxy.driver` spells it.
    fn name(&self) -> &'static str;

    /// Whether there is a proxy to tell anything; without one (`none`) the front network
    /// alone decides what is live.
    fn switches(&self) -> bool {
        true
    }

    /// Variables the release container needs for this proxy to route to it (nginx-proxy:
    /// `VIRTUAL_HOST`, `VIRTUAL_PORT`). One-off containers of the release never get them, or
    /// the proxy would send them traffic.
    fn release_env(&self, _port: u16) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Whether an old release must leave the front network before the proxy drops it
    /// (nginx-proxy only drops a backend that left its network), rather than after it stopped.
    fn leaves_first(&self) -> bool {
        false
    }

    /// Whose connections to a draining release count besides its own: a proxy that stays on
    /// `front` next to it may still be finishing requests on `port`.
    fn drain_watch(&self, _front: &str, _port: u16) -> Option<drain::Watch> {
        None
    }

    /// Whether a failed switch may have changed part of the routing (an operator's script),
    /// so that undoing must switch back even after a failure. The built-in ones either
    /// applied or left everything as it was.
    fn may_half_apply(&self) -> bool {
        false
    }

    /// Makes the proxy route the app's host name to exactly `backends`, and returns once it
    /// applied the change as far as the driver can tell (reloaded and waited for). `changed`
    /// is the release this switch is about; `on_line` hears progress.
    fn switch<'a>(
        &'a self,
        engine: &'a dyn EngineApi,
        deploy: &'a Deploy,
        phase: Phase,
        changed: &'a Backend,
        backends: &'a [Backend],
        on_line: &'a mut dyn FnMut(&str),
    ) -> DriverFuture<'a, Switched>;

    /// Whether `maintenance on|off` works with this driver.
    fn has_maintenance(&self) -> bool {
        false
    }

    /// A maintenance message this driver cannot carry, as a usage error's text.
    fn check_maintenance_message(&self, _message: &str) -> Result<(), String> {
        Ok(())
    }

    /// Turns maintenance on (`Some(message)`) or off (`None`: routing to `backends` again).
    fn set_maintenance<'a>(
        &'a self,
        _engine: &'a dyn EngineApi,
        _deploy: &'a Deploy,
        _message: Option<&'a str>,
        _backends: &'a [Backend],
        _on_line: &'a mut dyn FnMut(&str),
    ) -> DriverFuture<'a, ()> {
        let driver = self.name();
        Box::pin(async move { Err(ProxyError::NoMaintenance { driver }) })
    }

    /// The maintenance state kept in the proxy: `None` when the driver keeps none bgdeploy can
    /// read; otherwise the message when maintenance is on, `None` inside when it routes.
    fn maintenance_state<'a>(
        &'a self,
        _engine: &'a dyn EngineApi,
    ) -> Option<DriverFuture<'a, Option<String>>> {
        None
    }
}

/// `proxy.driver: none`: the release joining FRONT_ is the whole switch.
pub(super) struct NoProxy;

impl Driver for NoProxy {
    fn name(&self) -> &'static str {
        "none"
    }

    fn switches(&self) -> bool {
        false
    }

    fn switch<'a>(
        &'a self,
        _engine: &'a dyn EngineApi,
        _deploy: &'a Deploy,
        _phase: Phase,
        _changed: &'a Backend,
        _backends: &'a [Backend],
        _on_line: &'a mut dyn FnMut(&str),
    ) -> DriverFuture<'a, Switched> {
        Box::pin(async { Ok(Switched::default()) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::driver as driver_of;
    use crate::spec::{DockerGen, ProxyDriver};

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    /// What each driver asks of the deploy: the planner and the executor rely on exactly this.
    #[test]
    fn each_driver_declares_its_abilities() {
        let nginx = ProxyDriver::Nginx {
            container: "proxy".into(),
            virtual_host: "shop.test".into(),
            config_path: "/etc/nginx/conf.d/shop.conf".into(),
            reload: None,
        };
        let nginx_proxy = ProxyDriver::NginxProxy {
            container: "proxy".into(),
            virtual_host: "shop.test".into(),
            reload: None,
            docker_gen: Some(DockerGen {
                container: "gen".into(),
                signal: "HUP".into(),
            }),
        };
        let command = ProxyDriver::Command {
            command: argv(&["./switch.sh"]),
        };
        // name, switches, leaves first, may half-apply, maintenance, drain watch, release env
        let table = [
            (&nginx, "nginx", true, false, false, true, true, 0),
            (
                &nginx_proxy,
                "nginx-proxy",
                true,
                true,
                false,
                false,
                false,
                2,
            ),
            (&command, "command", true, false, true, true, false, 0),
            (
                &ProxyDriver::None,
                "none",
                false,
                false,
                false,
                false,
                false,
                0,
            ),
        ];
        for (config, name, switches, leaves_first, half, maint, watch, env) in table {
            let d = driver_of(config);
            assert_eq!(d.name(), name);
            assert_eq!(d.name(), config.name(), "the spec's name");
            assert_eq!(d.switches(), switches, "{name}");
            assert_eq!(d.leaves_first(), leaves_first, "{name}");
            assert_eq!(d.may_half_apply(), half, "{name}");
            assert_eq!(d.has_maintenance(), maint, "{name}");
            assert_eq!(d.drain_watch("FRONT_x", 80).is_some(), watch, "{name}");
            assert_eq!(d.release_env(8080).len(), env, "{name}");
        }
        assert_eq!(
            driver_of(&nginx_proxy).release_env(8080),
            [
                ("VIRTUAL_HOST".to_string(), "shop.test".to_string()),
                ("VIRTUAL_PORT".to_string(), "8080".to_string())
            ]
        );
        let watch = driver_of(&nginx)
            .drain_watch("FRONT_shop_stage", 8080)
            .expect("nginx watches");
        assert_eq!(
            (watch.proxy.as_str(), watch.network.as_str(), watch.port),
            ("proxy", "FRONT_shop_stage", 8080)
        );
        assert!(
            driver_of(&nginx)
                .check_maintenance_message("costs $5")
                .is_err()
        );
    }
}
