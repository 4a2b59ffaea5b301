//! `proxy.verify`: after a switch, GET a URL through the proxy (with the app's Host header)
//! until it answers well enough times in a row, on the health check's cadence and deadline.

use std::time::Duration;

use reqwest::header::{HOST, HeaderValue};
use reqwest::{Client, Url, redirect};
use tokio::time::Instant;

use super::ProxyError;
use crate::health::{Probe, ProbeReport, Schedule, poll};
use crate::spec::{Health, HealthCheck, StatusRange, Verify, defaults};

/// GETs `verify.url` (with `Host: verify.host` when set) until `health.healthy` answers in a
/// row are in the accepted range, within `health.deadline`, one every `health.interval`, each
/// limited to `health.timeout`. The range is the http health check's `expect`, else 200-399.
/// `on_probe` hears about every attempt.
pub async fn verify(
    verify: &Verify,
    health: &Health,
    on_probe: &mut dyn FnMut(&ProbeReport),
) -> Result<(), ProxyError> {
    let expect = match &health.check {
        HealthCheck::Http { expect, .. } => *expect,
        _ => defaults::EXPECT,
    };
    let probe = VerifyProbe::new(verify, expect, health.timeout)?;
    let schedule = Schedule {
        interval: health.interval,
        healthy: health.healthy,
        deadline: Instant::now() + health.deadline,
    };
    match poll(|| probe.check(), schedule, on_probe).await {
        Ok(_) => Ok(()),
        Err(timeout) => Err(ProxyError::Verify {
            url: verify.url.clone(),
            host: verify.host.clone(),
            expect: expect.to_string(),
            needed: health.healthy.max(1),
            last: timeout.last.to_string(),
            attempts: timeout.attempts,
            deadline: health.deadline,
        }),
    }
}

struct VerifyProbe {
    client: Client,
    url: Url,
    host: Option<HeaderValue>,
    expect: StatusRange,
    timeout: Duration,
}

impl VerifyProbe {
    fn new(verify: &Verify, expect: StatusRange, timeout: Duration) -> Result<Self, ProxyError> {
        let bad = |reason: String| ProxyError::VerifyUrl {
            url: verify.url.clone(),
            reason,
        };
        let url = Url::parse(&verify.url).map_err(|e| bad(e.to_string()))?;
        let host = verify
            .host
            .as_deref()
            .map(HeaderValue::from_str)
            .transpose()
            .map_err(|e| bad(format!("the host is not a valid header value: {e}")))?;
        let client = Client::builder()
            // HTTP(S)_PROXY is for the outside world; the proxy being verified is the target.
            .no_proxy()
            // A redirect is an answer to judge, not a hop to follow.
            .redirect(redirect::Policy::none())
            // A fresh connection per attempt, so each one sees what a new client sees.
            .pool_max_idle_per_host(0)
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(VerifyProbe {
            client,
            url,
            host,
            expect,
            timeout,
        })
    }

    async fn check(&self) -> Probe {
        let mut request = self.client.get(self.url.clone());
        if let Some(host) = &self.host {
            request = request.header(HOST, host.clone());
        }
        let what = format!("GET {}", self.url);
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text = match status.canonical_reason() {
                    Some(reason) => format!("{what} → {} {reason}", status.as_u16()),
                    None => format!("{what} → {}", status.as_u16()),
                };
                if self.expect.contains(status.as_u16()) {
                    Probe::Pass(text)
                } else {
                    Probe::Fail(text)
                }
            }
            Err(e) if e.is_timeout() => Probe::Fail(format!(
                "{what} → no answer within {}",
                humantime::format_duration(self.timeout)
            )),
            Err(e) => Probe::Fail(format!("{what} → {}", crate::error::chain::reason(&e))),
        }
    }
}
