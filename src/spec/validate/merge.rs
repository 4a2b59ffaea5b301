//! A stage's overrides over its app's settings.
//!
//! Scalars and lists are replaced; the maps `env`, `health`, `proxy` and `proxy.verify` are
//! merged key by key. Two choices are exclusive rather than mergeable, and a stage that
//! makes one starts that part afresh:
//! - a health check mode (`http`/`tcp`/`cmd`/`docker`): a stage's mode replaces the app's,
//!   and the app's `expect` carries over only to an `http` check;
//! - a proxy driver: when a stage names a different driver, the app's proxy keys that the new
//!   driver does not read (e.g. `config_path` when switching to nginx-proxy) are dropped.

use super::layer::{HealthLayer, HooksLayer, Layer, Mode, ProxyLayer, Val, VerifyLayer};

pub(super) fn merge(app: &Layer, stage: &Layer) -> Layer {
    let app = app.clone();
    let stage = stage.clone();
    let mut env = app.env;
    env.extend(stage.env);
    Layer {
        at: stage.at,
        image: stage.image.or(app.image),
        port: stage.port.or(app.port),
        command: stage.command.or(app.command),
        env,
        secrets: stage.secrets.or(app.secrets),
        networks: stage.networks.or(app.networks),
        health: blocks(app.health, stage.health, health),
        proxy: blocks(app.proxy, stage.proxy, proxy),
        front_internal: stage.front_internal.or(app.front_internal),
        ipv6: stage.ipv6.or(app.ipv6),
        drain: stage.drain.or(app.drain),
        stop_timeout: stage.stop_timeout.or(app.stop_timeout),
        keep: stage.keep.or(app.keep),
        settings: super::settings_resolve::merge(&app.settings, &stage.settings),
        hooks: blocks(app.hooks, stage.hooks, hooks),
    }
}

/// Hook by hook: a stage's hook replaces the app's hook of the same name, whole.
fn hooks(app: HooksLayer, stage: HooksLayer) -> HooksLayer {
    HooksLayer {
        pre_deploy: stage.pre_deploy.or(app.pre_deploy),
        before_switch: stage.before_switch.or(app.before_switch),
        post_deploy: stage.post_deploy.or(app.post_deploy),
        on_failure: stage.on_failure.or(app.on_failure),
    }
}

/// Merges two written blocks. A block that was not a map stays bad: what it was meant to
/// hold is unknown, so nothing is inferred from the other one.
fn blocks<T>(app: Val<T>, stage: Val<T>, merge: fn(T, T) -> T) -> Val<T> {
    match (app, stage) {
        (Val::Set(app), Val::Set(stage)) => Val::Set(merge(app, stage)),
        (Val::Bad, _) | (_, Val::Bad) => Val::Bad,
        (app, stage) => stage.or(app),
    }
}

fn health(app: HealthLayer, stage: HealthLayer) -> HealthLayer {
    let stage_switches_away_from_http = stage
        .mode
        .set()
        .is_some_and(|mode| !matches!(mode.value, Mode::Http(_)));
    let app_expect = if stage_switches_away_from_http {
        Val::Absent
    } else {
        app.expect
    };
    HealthLayer {
        at: stage.at,
        mode: stage.mode.or(app.mode),
        expect: stage.expect.or(app_expect),
        interval: stage.interval.or(app.interval),
        timeout: stage.timeout.or(app.timeout),
        healthy: stage.healthy.or(app.healthy),
        deadline: stage.deadline.or(app.deadline),
    }
}

fn proxy(app: ProxyLayer, stage: ProxyLayer) -> ProxyLayer {
    let switched_to = match (app.driver.set(), stage.driver.set()) {
        (Some(app), Some(stage)) if app.value != stage.value => Some(stage.value),
        _ => None,
    };
    // Keeps an app key unless the stage switched to a driver that does not read it.
    fn inherit<T>(app: Val<T>, key: &str, switched_to: Option<super::layer::Driver>) -> Val<T> {
        match switched_to {
            Some(driver) if !driver.uses(key) => Val::Absent,
            _ => app,
        }
    }
    ProxyLayer {
        at: stage.at,
        driver: stage.driver.or(app.driver),
        container: stage
            .container
            .or(inherit(app.container, "container", switched_to)),
        virtual_host: stage
            .virtual_host
            .or(inherit(app.virtual_host, "virtual_host", switched_to)),
        reload: stage.reload.or(inherit(app.reload, "reload", switched_to)),
        config_path: stage
            .config_path
            .or(inherit(app.config_path, "config_path", switched_to)),
        command: stage
            .command
            .or(inherit(app.command, "command", switched_to)),
        docker_gen_container: stage.docker_gen_container.or(inherit(
            app.docker_gen_container,
            "docker_gen_container",
            switched_to,
        )),
        signal: stage.signal.or(inherit(app.signal, "signal", switched_to)),
        verify: blocks(app.verify, stage.verify, verify),
    }
}

fn verify(app: VerifyLayer, stage: VerifyLayer) -> VerifyLayer {
    VerifyLayer {
        at: stage.at,
        url: stage.url.or(app.url),
        host: stage.host.or(app.host),
    }
}
