//! `bgdeploy maintenance on|off APP STAGE [--message TEXT]`: the proxy answers 503 with a
//! message instead of routing (the releases keep running), or routes to the live release
//! again. Under the deploy lock, so that no deploy rewrites the proxy meanwhile.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::json;

use super::Globals;
use super::{deploy, load};
use crate::cli::Target;
use crate::engine::{self, Engine};
use crate::error::Error;
use crate::observe;
use crate::output::Output;
use crate::proxy::{self, Backend};
use crate::spec::Deploy;
use crate::{lock, names};

pub async fn run(
    globals: &Globals,
    out: &Output,
    target: &Target,
    message: Option<&str>,
) -> Result<(), Error> {
    let spec = load(globals)?;
    let d = deploy(&spec, target)?;
    let driver = proxy::driver(&d.proxy.driver);
    if !driver.has_maintenance() {
        return Err(Error::MaintenanceUsage(format!(
            "maintenance mode is supported by the proxy drivers `nginx` and `command`; {}/{} uses `{}`",
            d.app,
            d.stage,
            d.proxy.driver.name()
        )));
    }
    if let Some(m) = message {
        driver
            .check_maintenance_message(m)
            .map_err(Error::MaintenanceUsage)?;
    }
    let engine = engine::connect(globals.context.as_deref()).await?;
    // No waiting: a deploy in progress is told apart from a stuck one by `lock status`.
    let guard = lock::acquire(&engine, &d.app, &d.stage, Duration::ZERO, &mut |_, _| {}).await?;
    let mut lines = Vec::new();
    let result = switch(&engine, d, message, &mut lines).await;
    let released = guard.release(&engine).await;
    if let (Err(_), Err(e)) = (&result, &released) {
        tracing::warn!("could not release the deploy lock: {e}");
    }
    let backends = result?;
    released?;
    let (app, stage) = (&d.app, &d.stage);
    let mut human = String::new();
    for line in &lines {
        human.push_str(&format!("  {line}\n"));
    }
    human.push_str(&match message {
        Some(m) => format!(
            "{app}/{stage}: maintenance is on; the proxy answers 503 \"{m}\" (the releases keep running)\n"
        ),
        None if backends.is_empty() => {
            format!("{app}/{stage}: maintenance is off; no release is live\n")
        }
        None => format!(
            "{app}/{stage}: maintenance is off; the proxy routes to {}\n",
            backends
                .iter()
                .map(|b| b.container.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });
    out.document(
        &human,
        &json!({
            "app": app,
            "stage": stage,
            "driver": d.proxy.driver.name(),
            "maintenance": message.is_some(),
            "message": message,
            "live": backends.iter().map(|b| b.container.clone()).collect::<Vec<_>>(),
        }),
    )
}

/// Applies the change; returns the live releases (where `off` routes).
async fn switch(
    engine: &Engine,
    d: &Deploy,
    message: Option<&str>,
    lines: &mut Vec<String>,
) -> Result<Vec<Backend>, Error> {
    let backends = live_backends(engine, d).await?;
    let mut on_line = |line: &str| lines.push(line.to_string());
    proxy::set_maintenance(engine, d, message, &backends, &mut on_line)
        .await
        .map_err(|e| Error::Maintenance(Box::new(e)))?;
    Ok(backends)
}

/// The live releases' addresses on FRONT_, as a switch routes to them.
async fn live_backends(engine: &Engine, d: &Deploy) -> Result<Vec<Backend>, Error> {
    let observed = observe::observe(engine, d, &d.image).await?;
    let front = names::front_network(&d.app, &d.stage);
    Ok(observed
        .live()
        .filter_map(|c| {
            let ip: IpAddr = c
                .attachments
                .iter()
                .find(|a| a.network == front)?
                .ip
                .as_deref()?
                .parse()
                .ok()?;
            Some(Backend {
                container: c.name.clone(),
                addr: SocketAddr::new(ip, d.port),
            })
        })
        .collect())
}
