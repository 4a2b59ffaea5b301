//! The `http` check: GET from bgdeploy to the container's back-network address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::{Client, StatusCode, redirect};

use super::HealthError;
use super::describe::{cause, refused};
use super::probe::Probe;
use crate::spec::StatusRange;

pub(super) struct HttpProbe {
    client: Client,
    url: String,
    path: String,
    expect: StatusRange,
    timeout: Duration,
}

impl HttpProbe {
    pub(super) fn new(
        ip: IpAddr,
        port: u16,
        path: &str,
        expect: StatusRange,
        timeout: Duration,
    ) -> Result<HttpProbe, HealthError> {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let client = Client::builder()
            // HTTP(S)_PROXY in bgdeploy's environment is for the outside world, never for a
            // container's address on a local bridge.
            .no_proxy()
            // A 3xx is an answer to judge against `expect`, not a hop to follow (possibly to
            // https, which this client does not speak).
            .redirect(redirect::Policy::none())
            // Every probe opens a fresh connection, as the proxy's first request will.
            .pool_max_idle_per_host(0)
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(HealthError::HttpClient)?;
        Ok(HttpProbe {
            client,
            url: format!("http://{}{path}", SocketAddr::new(ip, port)),
            path,
            expect,
            timeout,
        })
    }

    /// For messages: "GET http://172.18.0.3:8080/up, healthy on 200-399".
    pub(super) fn describe(&self) -> String {
        format!("GET {}, healthy on {}", self.url, self.expect)
    }

    pub(super) async fn check(&self) -> Probe {
        match self.client.get(&self.url).send().await {
            Ok(response) => {
                let status = response.status();
                let text = format!("GET {} → {}", self.path, status_text(status));
                if self.expect.contains(status.as_u16()) {
                    Probe::Pass(text)
                } else {
                    Probe::Fail(text)
                }
            }
            Err(e) if e.is_timeout() => Probe::Fail(format!(
                "GET {} → no answer within {}",
                self.path,
                humantime::format_duration(self.timeout)
            )),
            Err(e) if refused(&e) => Probe::Refused(format!("GET {} → {}", self.path, cause(&e))),
            Err(e) => Probe::Fail(format!("GET {} → {}", self.path, cause(&e))),
        }
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}
