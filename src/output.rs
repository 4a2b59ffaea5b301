//! Where results go: stdout, in the format asked for. Errors and logs go to stderr elsewhere.

use std::io::Write;

use crate::cli::OutputFormat;
use crate::error::Error;

pub struct Output {
    format: OutputFormat,
    quiet: bool,
}

impl Output {
    pub fn new(format: OutputFormat, quiet: bool) -> Output {
        Output { format, quiet }
    }

    /// A result with a human and a JSON form; `-q` silences the human one only, since a
    /// script that asked for JSON wants it.
    pub fn document(&self, human: &str, json: &serde_json::Value) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(json).unwrap_or_default();
        self.text_or_json(human, &text)
    }

    pub fn text_or_json(&self, human: &str, json: &str) -> Result<(), Error> {
        match self.format {
            OutputFormat::Json => self.raw(format!("{json}\n").as_bytes()),
            OutputFormat::Human if self.quiet => Ok(()),
            OutputFormat::Human => self.raw(human.as_bytes()),
        }
    }

    pub fn raw(&self, bytes: &[u8]) -> Result<(), Error> {
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
            // A closed pipe (`bgdeploy plan | head`) is the reader's choice, not a failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => r.map_err(Error::Output),
        }
    }
}
