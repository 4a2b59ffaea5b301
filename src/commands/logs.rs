//! `bgdeploy logs APP STAGE [-f] [--since DUR] [--tail N] [--release NAME]`: a release's
//! stdout and stderr, line by line, with its secret values redacted.

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::try_join_all;

use super::Globals;
use super::exec::{live_release, release_secrets};
use super::hosts;
use super::{deploy, load};
use crate::cli::{OutputFormat, Target};
use crate::engine::{Engine, Frame};
use crate::error::Error;
use crate::observe;
use crate::secret::{self, Secret};
use crate::spec::Deploy;

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
    let hosts = hosts::connect(globals, deploy, args.target.hosts.as_deref()).await?;
    let since = args.since.map_or(0, |d| {
        crate::time::now_epoch() - i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2)
    });
    let tail = args
        .tail
        .map_or_else(|| "all".to_string(), |n| n.to_string());
    // Every host's release and secrets first: a host without the release stops the command
    // before any line is printed, naming the host.
    let found = try_join_all(hosts.iter().map(|h| async {
        let container = release(&h.engine, deploy, args.release)
            .await
            .map_err(|e| hosts::on(deploy, &h.name, e))?;
        let secrets = release_secrets(&h.engine, deploy, &container)
            .await
            .map_err(|e| hosts::on(deploy, &h.name, e.into()))?;
        Ok::<_, Error>((container, secrets))
    }))
    .await?;
    let fleet = deploy.is_fleet();
    let json = globals.output == OutputFormat::Json;
    let mut printers: Vec<Printer> = hosts
        .iter()
        .zip(&found)
        .map(|(h, (_, secrets))| Printer {
            json,
            host: h.name.clone(),
            prefix: fleet.then(|| format!("{} | ", h.name)),
            secrets,
            stdout: Vec::new(),
            stderr: Vec::new(),
        })
        .collect();
    // The hosts' streams interleaved as their lines come (with -f, until every one ends).
    let streams = hosts
        .iter()
        .zip(&found)
        .enumerate()
        .map(|(i, (h, (c, _)))| {
            h.engine
                .log_stream(c, &tail, since.max(0), args.follow)
                .map(move |frame| (i, frame))
                .boxed()
        });
    let mut merged = futures_util::stream::select_all(streams);
    let mut failure = None;
    // Following ends with Ctrl-C or SIGTERM: handled, not left to the default action, so the
    // lines held back for redaction are printed and no ssh or probe process outlives the
    // command — and so a follow also ends where the signal's default is to be ignored (a
    // background job of a non-interactive shell).
    let mut stop = crate::execute::Cancel::on_signals();
    loop {
        let next = tokio::select! {
            next = merged.next() => next,
            () = stop.cancelled(), if args.follow => None,
        };
        let Some((i, frame)) = next else { break };
        match frame {
            Ok(Frame::Stdout(bytes)) => printers[i].push(Stream::Stdout, &bytes),
            Ok(Frame::Stderr(bytes)) => printers[i].push(Stream::Stderr, &bytes),
            Err(e) if !fleet => return Err(e.into()),
            // One host's stream failing does not cut the others short.
            Err(e) => {
                let e = hosts::on(deploy, &hosts[i].name, e.into());
                eprintln!("bgdeploy: {e}");
                failure.get_or_insert(e);
            }
        }
    }
    for p in &mut printers {
        p.flush();
    }
    failure.map_or(Ok(()), Err)
}

/// The container whose logs are wanted on one engine: the live release, or the one named.
async fn release(engine: &Engine, deploy: &Deploy, name: Option<&str>) -> Result<String, Error> {
    let Some(name) = name else {
        return Ok(live_release(engine, deploy).await?.name);
    };
    let observed = observe::observe(engine, deploy, &deploy.image).await?;
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
    Ok(name.to_string())
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Whole lines only, so that a secret split across two frames is still redacted.
struct Printer<'a> {
    json: bool,
    /// The host's name, in JSON lines.
    host: String,
    /// `host | ` before each human line, in a fleet.
    prefix: Option<String>,
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
            let doc = serde_json::json!({"host": self.host, "stream": name, "line": line});
            let _ = writeln!(std::io::stdout().lock(), "{doc}");
            return;
        }
        // As the app wrote it: its stdout on ours, its stderr on ours.
        let prefix = self.prefix.as_deref().unwrap_or("");
        let _ = match stream {
            Stream::Stdout => writeln!(std::io::stdout().lock(), "{prefix}{line}"),
            Stream::Stderr => writeln!(std::io::stderr().lock(), "{prefix}{line}"),
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
