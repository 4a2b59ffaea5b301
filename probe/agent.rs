//! bgdeploy's probe agent: a tiny static program that bgdeploy runs on a remote engine, in a
//! container sharing the network namespace of the container it looks at. From there it does
//! what bgdeploy cannot do from its own machine when nothing routes to the engine's bridges:
//! a TCP connect or an HTTP GET to the container's own address, and reading the container's
//! `/proc/net` tables.
//!
//! It is built by `build.rs` with the standard library only, linked statically, and shipped
//! inside the bgdeploy binary; bgdeploy builds a `FROM scratch` image of it on the engine.
//! Output is one line a command (except `cat`), read by `src/health/remote.rs`:
//!
//!   serve SECS                                   answer commands from stdin (see `serve`)
//!   tcp IP PORT TIMEOUT_MS QUICK_MS WINDOW_MS    → connected | refused WHY | timeout | error WHY
//!   http IP PORT PATH TIMEOUT_MS QUICK_MS WINDOW_MS
//!                                                → status CODE [REASON] | refused WHY | timeout | error WHY
//!   cat PATH                                     the file on stdout; exit 3 when there is none
//!
//! A connection refused is tried again every QUICK_MS for up to WINDOW_MS: a port that opens
//! is noticed within milliseconds without one engine exec per try.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    if let ["serve", secs] = words.as_slice() {
        return serve(secs.parse().unwrap_or(3600));
    }
    let answer = run(&words);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&answer.stdout).and_then(|()| out.flush());
    let _ = std::io::stderr().write_all(&answer.stderr);
    ExitCode::from(answer.code)
}

/// What one command produced.
struct Answer {
    code: u8,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Answer {
    fn line(text: &str) -> Answer {
        Answer {
            code: 0,
            stdout: format!("{}\n", text.replace('\n', " ")).into_bytes(),
            stderr: Vec::new(),
        }
    }

    fn error(code: u8, text: &str) -> Answer {
        Answer {
            code,
            stdout: Vec::new(),
            stderr: format!("{text}\n").into_bytes(),
        }
    }
}

fn run(words: &[&str]) -> Answer {
    match words {
        ["tcp", ip, port, timeout, quick, window] => {
            let Some(conn) = Conn::parse(ip, port, timeout, quick, window) else {
                return usage();
            };
            Answer::line(&match conn.connect() {
                Ok(_) => "connected".to_string(),
                Err(e) => e,
            })
        }
        ["http", ip, port, path, timeout, quick, window] => {
            let Some(conn) = Conn::parse(ip, port, timeout, quick, window) else {
                return usage();
            };
            Answer::line(&match conn.connect().and_then(|s| get(s, &conn, path)) {
                Ok(status) => status,
                Err(e) => e,
            })
        }
        ["cat", path] => cat(path),
        _ => usage(),
    }
}

fn usage() -> Answer {
    Answer::error(
        2,
        "usage: agent serve SECS | tcp IP PORT TIMEOUT_MS QUICK_MS WINDOW_MS | http IP PORT PATH TIMEOUT_MS QUICK_MS WINDOW_MS | cat PATH",
    )
}

/// Answers commands read from stdin, one a line (words separated by tabs), each with a
/// header line `CODE STDOUT_LEN STDERR_LEN` followed by both outputs. bgdeploy keeps one
/// attached stream per probe, so a command costs one round trip instead of an exec. Ends when
/// stdin closes (bgdeploy is gone: the container then removes itself) or after `secs`.
fn serve(secs: u64) -> ExitCode {
    // A watchdog: whatever happens to bgdeploy, the probe does not outlive its purpose.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        std::process::exit(0);
    });
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.read_line(&mut line) {
            Ok(0) | Err(_) => return ExitCode::SUCCESS,
            Ok(_) => {}
        }
        let words: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        let answer = run(&words);
        let mut out = std::io::stdout().lock();
        let header = format!(
            "{} {} {}\n",
            answer.code,
            answer.stdout.len(),
            answer.stderr.len()
        );
        let written = out
            .write_all(header.as_bytes())
            .and_then(|()| out.write_all(&answer.stdout))
            .and_then(|()| out.write_all(&answer.stderr))
            .and_then(|()| out.flush());
        if written.is_err() {
            return ExitCode::from(1);
        }
    }
}

struct Conn {
    addr: SocketAddr,
    started: Instant,
    timeout: Duration,
    quick: Duration,
    window: Duration,
}

impl Conn {
    fn parse(ip: &str, port: &str, timeout: &str, quick: &str, window: &str) -> Option<Conn> {
        let ms = |s: &str| s.parse::<u64>().ok().map(Duration::from_millis);
        Some(Conn {
            addr: SocketAddr::new(ip.parse::<IpAddr>().ok()?, port.parse().ok()?),
            started: Instant::now(),
            timeout: ms(timeout)?.max(Duration::from_millis(1)),
            quick: ms(quick)?,
            window: ms(window)?,
        })
    }

    /// Connects; a refusal is tried again every `quick` until `window` has passed.
    fn connect(&self) -> Result<TcpStream, String> {
        loop {
            match TcpStream::connect_timeout(&self.addr, self.timeout) {
                Ok(stream) => return Ok(stream),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    if self.started.elapsed() + self.quick >= self.window {
                        return Err(format!("refused {}", os_error(&e)));
                    }
                    std::thread::sleep(self.quick);
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Err("timeout".to_string());
                }
                Err(e) => return Err(format!("error {}", os_error(&e))),
            }
        }
    }
}

/// One `GET`, judged by its status line only, as bgdeploy's own HTTP probe does.
fn get(mut stream: TcpStream, conn: &Conn, path: &str) -> Result<String, String> {
    let _ = stream.set_read_timeout(Some(conn.timeout));
    let _ = stream.set_write_timeout(Some(conn.timeout));
    let host = match conn.addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bgdeploy-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(|e| io_answer(&e))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 4096 {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(io_answer(&e)),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or_default();
    let mut parts = line.splitn(3, ' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some(code))
            if version.starts_with("HTTP/") && code.parse::<u16>().is_ok() =>
        {
            Ok(format!("status {code} {}", parts.next().unwrap_or_default().trim()))
        }
        _ if head.is_empty() => Err("error connection closed before an answer".to_string()),
        _ => Err(format!("error not an HTTP answer: {:?}", truncate(line, 80))),
    }
}

fn io_answer(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timeout".to_string(),
        _ => format!("error {}", os_error(e)),
    }
}

/// "connection refused", not "Connection refused (os error 111)".
fn os_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    text.to_lowercase()
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn cat(path: &str) -> Answer {
    match std::fs::read(path) {
        Ok(bytes) => Answer {
            code: 0,
            stdout: bytes,
            stderr: Vec::new(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Answer::error(3, &format!("no such file: {path}"))
        }
        Err(e) => Answer::error(1, &format!("{path}: {}", os_error(&e))),
    }
}
