//! A closed-loop HTTP/1.1 load generator for (f): `connections` keep-alive connections, each
//! sending `GET path` with a `Host` header as fast as answers come back, for a bounded time,
//! against one address on loopback. Every request is kept (when it started, how long it
//! took, whether it got a 2xx), so the run can be cut into windows afterwards.
//!
//! Like any HTTP client with a connection pool, a request whose *reused* connection turns
//! out to be closed before a single byte of answer came back is sent again on a new
//! connection (nginx closes idle keep-alive connections when its old workers exit at a
//! reload); such retries are counted apart. Anything else — a refused connection, a reset
//! or a timeout mid-answer, a non-2xx status — is a failed request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request as the generator saw it.
#[derive(Clone, Copy)]
pub struct Sample {
    /// When it was sent, from the start of the run.
    pub at: Duration,
    pub latency: Duration,
    pub ok: bool,
    /// Why it failed: the status line, or what broke.
    pub failure: Option<&'static str>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<(Vec<Sample>, usize)>>,
    pub started: Instant,
}

/// What a finished run saw.
pub struct Seen {
    pub samples: Vec<Sample>,
    /// Requests sent again on a new connection after a reused one was found closed.
    pub retried: usize,
    pub elapsed: Duration,
}

/// A request may take this long before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(5);

impl Load {
    /// Starts the generator; it runs until `finish` or `max`, whichever comes first.
    pub fn start(
        addr: SocketAddr,
        host: &str,
        path: &str,
        connections: usize,
        max: Duration,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bgdeploy-bench\r\n\r\n");
        let workers = (0..connections)
            .map(|_| {
                let stop = stop.clone();
                let request = request.clone();
                std::thread::spawn(move || worker(addr, &request, &stop, started, max))
            })
            .collect();
        Load {
            stop,
            workers,
            started,
        }
    }

    /// Lets the load run for `d`, then stops it.
    pub fn wait_and_finish(self, d: Duration) -> Seen {
        std::thread::sleep(d);
        self.finish()
    }

    pub fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let elapsed = self.started.elapsed();
        let mut samples = Vec::new();
        let mut retried = 0;
        for w in self.workers {
            if let Ok((s, r)) = w.join() {
                samples.extend(s);
                retried += r;
            }
        }
        samples.sort_by_key(|s| s.at);
        Seen {
            samples,
            retried,
            elapsed,
        }
    }
}

fn worker(
    addr: SocketAddr,
    request: &str,
    stop: &AtomicBool,
    t0: Instant,
    max: Duration,
) -> (Vec<Sample>, usize) {
    let mut samples = Vec::with_capacity(1 << 16);
    let mut retried = 0;
    let mut conn: Option<BufReader<TcpStream>> = None;
    while !stop.load(Ordering::Relaxed) && t0.elapsed() < max {
        let at = t0.elapsed();
        let sent = Instant::now();
        let reused = conn.is_some();
        let mut result = exchange(&mut conn, addr, request);
        if matches!(result, Err(Exchange::ClosedBeforeAnswer)) && reused {
            retried += 1;
            result = exchange(&mut conn, addr, request);
        }
        let failure = match result {
            Ok(s) if (200..300).contains(&s) => None,
            Ok(502) => Some("502 Bad Gateway"),
            Ok(503) => Some("503 Service Unavailable"),
            Ok(504) => Some("504 Gateway Timeout"),
            Ok(_) => Some("another status"),
            Err(Exchange::ClosedBeforeAnswer) => Some("connection closed before an answer"),
            Err(Exchange::Failed(why)) => Some(why),
        };
        if result.is_err() {
            conn = None;
        }
        samples.push(Sample {
            at,
            latency: sent.elapsed(),
            ok: failure.is_none(),
            failure,
        });
        let ok = failure.is_none();
        if !ok {
            // A failing target is not hammered in a tight loop.
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    (samples, retried)
}

enum Exchange {
    ClosedBeforeAnswer,
    Failed(&'static str),
}

/// One request and its answer on `conn` (opened when `None`); the status code.
fn exchange(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    request: &str,
) -> Result<u16, Exchange> {
    if conn.is_none() {
        let s =
            TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|_| Exchange::Failed("connect"))?;
        s.set_read_timeout(Some(TIMEOUT))
            .map_err(|_| Exchange::Failed("socket option"))?;
        s.set_nodelay(true)
            .map_err(|_| Exchange::Failed("socket option"))?;
        *conn = Some(BufReader::new(s));
    }
    let Some(r) = conn.as_mut() else {
        return Err(Exchange::Failed("no connection"));
    };
    if r.get_mut().write_all(request.as_bytes()).is_err() {
        *conn = None;
        return Err(Exchange::ClosedBeforeAnswer);
    }
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => {
            *conn = None;
            return Err(Exchange::ClosedBeforeAnswer);
        }
        Ok(_) => {}
        Err(e) if line.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => {
            *conn = None;
            return Err(Exchange::ClosedBeforeAnswer);
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut =>
        {
            return Err(Exchange::Failed("no answer within 5 s"));
        }
        Err(_) => return Err(Exchange::Failed("error reading the status line")),
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(Exchange::Failed("no status line"))?;
    let mut length = 0usize;
    let mut chunked = false;
    let mut close = false;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)
            .map_err(|_| Exchange::Failed("error reading headers"))?
            == 0
        {
            return Err(Exchange::Failed("closed in the headers"));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v
                    .parse()
                    .map_err(|_| Exchange::Failed("bad content-length"))?;
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "connection" && v.eq_ignore_ascii_case("close") {
                close = true;
            }
        }
    }
    if chunked {
        skip_chunks(r).map_err(|_| Exchange::Failed("error reading the body"))?;
    } else {
        let mut body = vec![0u8; length];
        r.read_exact(&mut body)
            .map_err(|_| Exchange::Failed("error reading the body"))?;
    }
    if close {
        *conn = None;
    }
    Ok(status)
}

/// Reads a chunked body to its end (trailers included).
fn skip_chunks(r: &mut BufReader<TcpStream>) -> std::io::Result<()> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk");
    loop {
        let mut size = String::new();
        r.read_line(&mut size)?;
        let hex = size.trim().split(';').next().unwrap_or_default();
        let n = usize::from_str_radix(hex, 16).map_err(|_| bad())?;
        if n == 0 {
            loop {
                let mut t = String::new();
                if r.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(());
                }
            }
        }
        let mut chunk = vec![0u8; n + 2];
        r.read_exact(&mut chunk)?;
    }
}

/// The `q` quantile (0..=1) of the latencies of `samples`, in seconds.
pub fn quantile(samples: &[&Sample], q: f64) -> f64 {
    let mut v: Vec<f64> = samples.iter().map(|s| s.latency.as_secs_f64()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i.min(v.len() - 1)]
}
