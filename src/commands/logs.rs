//! `bgdeploy logs APP STAGE [-f] [--since DUR] [--tail N] [--release NAME]`: a release's
//! stdout and stderr, line by line, with its secret values redacted.

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;

use super::Globals;
use super::exec::{live_release, release_secrets};
use super::{deploy, load};
use crate::cli::{OutputFormat, Target};
use crate::engine::{self, Frame};
use crate::error::Error;
use crate::observe;
use crate::secret::{self, Secret};

pub struct LogsArgs<'a> {
    pub target: &'a Target,
    pub follow: bool,
    pub since: Option<Duration>,
    pub tail: Option<u64>,
    pub release: Option<&'a str>,
}

pub async fn run(globals: &Globals, args: LogsArgs<'_>) -> Result<(), Error> {
    let spec = load(globals)?;
    let deploy = deploy(&spec, args.target)?;
    let engine = engine::connect(globals.context.as_deref()).await?;
    let container = match args.release {
        None => live_release(&engine, deploy).await?.name,
        Some(name) => {
            let observed = observe::observe(&engine, deploy, &deploy.image).await?;
            let known: Vec<&str> = observed
                .containers
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            if !known.contains(&name) {
                return Err(Error::UnknownRelease {
                    name: name.to_string(),
                    app: deploy.app.clone(),
                    stage: deploy.stage.clone(),
                    known: if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    },
                });
            }
            name.to_string()
        }
    };
    let secrets = release_secrets(&engine, deploy, &container).await?;
    let since = args.since.map_or(0, |d| {
        crate::time::now_epoch() - i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2)
    });
    let tail = args
        .tail
        .map_or_else(|| "all".to_string(), |n| n.to_string());
    let mut stream = engine.log_stream(&container, &tail, since.max(0), args.follow);
    let mut out = Printer {
        json: globals.output == OutputFormat::Json,
        secrets: &secrets,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    while let Some(frame) = stream.next().await {
        match frame? {
            Frame::Stdout(bytes) => out.push(Stream::Stdout, &bytes),
            Frame::Stderr(bytes) => out.push(Stream::Stderr, &bytes),
        }
    }
    out.flush();
    Ok(())
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Whole lines only, so that a secret split across two frames is still redacted.
struct Printer<'a> {
    json: bool,
    secrets: &'a [(String, Secret)],
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Printer<'_> {
    fn push(&mut self, stream: Stream, bytes: &[u8]) {
        let pending = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        pending.extend_from_slice(bytes);
        let Some(end) = pending.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        let lines: Vec<u8> = pending.drain(..=end).collect();
        let text = String::from_utf8_lossy(&lines);
        for line in text.lines() {
            self.line(stream, line);
        }
    }

    fn line(&self, stream: Stream, line: &str) {
        let line = secret::redact(line, self.secrets);
        if self.json {
            let name = match stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            };
            let doc = serde_json::json!({"stream": name, "line": line});
            let _ = writeln!(std::io::stdout().lock(), "{doc}");
            return;
        }
        // As the app wrote it: its stdout on ours, its stderr on ours.
        let _ = match stream {
            Stream::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
            Stream::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
        };
    }

    fn flush(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = match stream {
                Stream::Stdout => std::mem::take(&mut self.stdout),
                Stream::Stderr => std::mem::take(&mut self.stderr),
            };
            if !rest.is_empty() {
                self.line(stream, &String::from_utf8_lossy(&rest));
            }
        }
    }
}
