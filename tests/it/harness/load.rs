//! Requests through a proxy or load balancer while something changes behind it: the proof of
//! "0 failed requests". One request per fresh connection (HTTP/1.0), one after another, so a
//! refused connection, a reset or a 5xx anywhere along the way is counted, never retried.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The virtual host every test spec routes (`virtual_host: shop.test`).
pub const VHOST: &str = "shop.test";

/// One answer: status, the headers (lower-cased names), the trimmed body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// GET `path` from `addr` with `Host: shop.test`; what came back, or why nothing did.
pub fn request(addr: SocketAddr, path: &str) -> Result<Answer, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {VHOST}\r\n\r\n")
        .map_err(|e| format!("write to {addr}: {e}"))?;
    let mut text = String::new();
    s.read_to_string(&mut text)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status from {addr}: {text:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.trim().to_string(),
    })
}

/// GET through the proxy with `Host: shop.test`: the body when the status is 200.
pub fn get(addr: SocketAddr, path: &str) -> Option<String> {
    request(addr, path)
        .ok()
        .filter(|a| a.status == 200)
        .map(|a| a.body)
}

/// What a `Load` saw.
#[derive(Debug, Default)]
pub struct Report {
    pub sent: usize,
    pub failed: usize,
    /// The first few failures, as they happened.
    pub failures: Vec<String>,
    /// Successful answers per body (`v1`, `v2`).
    pub bodies: BTreeMap<String, usize>,
    /// Successful answers per `X-Upstream` header (the load balancer's upstream), if any.
    pub upstreams: BTreeMap<String, usize>,
}

/// Requests to `addr` in a loop, from a thread, until `finish` (or `max`, whatever happens to
/// the test): anything but a 200 is a failure.
pub struct Load {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Report>,
}

impl Load {
    pub fn start(addr: SocketAddr) -> Load {
        Load::start_for(addr, Duration::from_secs(60))
    }

    pub fn start_for(addr: SocketAddr, max: Duration) -> Load {
        Load::paced(addr, max, Duration::ZERO)
    }

    /// At most one request every `every` (back to back when zero). A long run under load
    /// (the soak) paces itself: every request is a fork in the demo app and a connection
    /// through nginx, and flat out they would take a core from everything else the suite runs,
    /// while the switches the load is there to catch last only milliseconds either way.
    pub fn paced(addr: SocketAddr, max: Duration, every: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut report = Report::default();
            let t = Instant::now();
            let mut next = Instant::now();
            while !flag.load(Ordering::Relaxed) && t.elapsed() < max {
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                next += every;
                report.sent += 1;
                match request(addr, "/version") {
                    Ok(a) if a.status == 200 => {
                        if let Some(up) = a.headers.get("x-upstream") {
                            *report.upstreams.entry(up.clone()).or_default() += 1;
                        }
                        *report.bodies.entry(a.body).or_default() += 1;
                    }
                    other => {
                        report.failed += 1;
                        if report.failures.len() < 5 {
                            let at = t.elapsed().as_secs_f32();
                            report.failures.push(format!("at {at:.1}s: {other:?}"));
                        }
                    }
                }
            }
            report
        });
        Load { stop, handle }
    }

    pub fn finish(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the load thread")
    }
}
