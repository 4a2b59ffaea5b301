//! A container's recent output, for errors that must show why a release failed.

use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;

use super::{Engine, EngineError};

/// A few long lines (a stack trace on one line, a minified blob) must not flood an error.
pub const LOGS_LIMIT: usize = 16 * 1024;

impl Engine {
    /// The last `lines` lines the container wrote to stdout and stderr, interleaved as the
    /// engine stored them. Only the last `LOGS_LIMIT` bytes are kept.
    pub async fn logs_tail(&self, container: &str, lines: u32) -> Result<String, EngineError> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let mut stream = self.docker.logs(container, Some(options));
        let mut bytes = Vec::new();
        while let Some(frame) = stream.next().await {
            let frame = frame.map_err(|source| EngineError::Logs {
                container: container.to_string(),
                source,
            })?;
            bytes.extend_from_slice(frame.as_ref());
            if bytes.len() > 2 * LOGS_LIMIT {
                bytes.drain(..bytes.len() - LOGS_LIMIT);
            }
        }
        Ok(tail_text(&bytes))
    }
}

/// The last `LOGS_LIMIT` bytes as text, from the start of a line unless that would leave
/// nothing (one huge last line).
fn tail_text(bytes: &[u8]) -> String {
    let mut start = bytes.len().saturating_sub(LOGS_LIMIT);
    if start > 0 {
        let next_line = bytes[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|newline| start + newline + 1);
        if let Some(next_line) = next_line.filter(|n| *n < bytes.len()) {
            start = next_line;
        }
    }
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_logs_are_kept_whole() {
        assert_eq!(tail_text(b"one\ntwo\n"), "one\ntwo\n");
    }

    #[test]
    fn long_logs_keep_their_end_from_a_line_start() {
        let mut bytes = vec![b'x'; LOGS_LIMIT];
        bytes.extend_from_slice(b"\nlast line\n");
        let text = tail_text(&bytes);
        assert_eq!(text, "last line\n");
        let one_huge_line = [vec![b'y'; 2 * LOGS_LIMIT], b"\n".to_vec()].concat();
        assert_eq!(tail_text(&one_huge_line).len(), LOGS_LIMIT);
    }
}
