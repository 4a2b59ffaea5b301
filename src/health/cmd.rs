//! The `cmd` check: a command exec'd in the container; exit 0 is healthy.

use std::time::Duration;

use super::describe::{cause, last_line};
use super::probe::Probe;
use crate::engine::Engine;

/// Enough of a line to recognise the message; the full output is a `docker exec` away.
const LINE_MAX: usize = 200;

pub(super) struct CmdProbe<'a> {
    engine: &'a Engine,
    container: &'a str,
    argv: &'a [String],
    timeout: Duration,
}

impl<'a> CmdProbe<'a> {
    pub(super) fn new(
        engine: &'a Engine,
        container: &'a str,
        argv: &'a [String],
        timeout: Duration,
    ) -> CmdProbe<'a> {
        CmdProbe {
            engine,
            container,
            argv,
            timeout,
        }
    }

    pub(super) fn describe(&self) -> String {
        format!("`{}` in the container, healthy on exit 0", self.command())
    }

    fn command(&self) -> String {
        self.argv.join(" ")
    }

    pub(super) async fn check(&self) -> Probe {
        let argv: Vec<&str> = self.argv.iter().map(String::as_str).collect();
        let command = self.command();
        match tokio::time::timeout(self.timeout, self.engine.exec(self.container, &argv)).await {
            Ok(Ok(out)) if out.exit_code == 0 => Probe::Pass(format!("`{command}` → exit 0")),
            Ok(Ok(out)) => {
                let said = last_line(&out.stderr, LINE_MAX)
                    .or_else(|| last_line(&out.stdout, LINE_MAX))
                    .map(|line| format!(": {line}"))
                    .unwrap_or_default();
                Probe::Fail(format!("`{command}` → exit {}{said}", out.exit_code))
            }
            Ok(Err(e)) => Probe::Fail(format!("`{command}` could not run: {e}: {}", cause(&e))),
            // The engine cannot kill an exec: the command may run on in the container.
            Err(_) => Probe::Fail(format!(
                "`{command}` still running after {}",
                humantime::format_duration(self.timeout)
            )),
        }
    }
}
