//! Commands run inside the proxy container (`nginx -t`, the reload, docker-gen), bounded in
//! time, with their output cut to what explains a failure.

use std::time::Duration;

use crate::engine::{EngineApi, ExecOutput};

use super::ProxyError;

/// `nginx -t` resolves every host name in the config and docker-gen inspects every container:
/// both take well under a second normally, so a minute only ends a real hang.
pub(super) const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// Lines of a failing command's output kept for its error.
pub(super) const OUTPUT_LINES: usize = 20;

/// Runs `argv` in `container`, at most `EXEC_TIMEOUT`.
pub(super) async fn run(
    engine: &dyn EngineApi,
    container: &str,
    argv: &[&str],
) -> Result<ExecOutput, ProxyError> {
    match tokio::time::timeout(EXEC_TIMEOUT, engine.exec(container, argv)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(ProxyError::Hung {
            container: container.to_string(),
            argv: argv.join(" "),
            waited: EXEC_TIMEOUT,
        }),
    }
}

/// stderr then stdout, the last `OUTPUT_LINES` non-empty lines, indented for an error message.
pub(super) fn output_text(out: &ExecOutput) -> String {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return "  (no output)".to_string();
    }
    let skip = lines.len().saturating_sub(OUTPUT_LINES);
    lines[skip..]
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn strs(argv: &[String]) -> Vec<&str> {
    argv.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_stderr_first_and_bounded() {
        let out = ExecOutput {
            exit_code: 1,
            stdout: (1..=30).map(|n| format!("out {n}\n")).collect(),
            stderr: "err\n\n".into(),
        };
        let text = output_text(&out);
        assert_eq!(text.lines().count(), OUTPUT_LINES);
        assert!(text.ends_with("  | out 30"), "{text}");
        let short = ExecOutput {
            exit_code: 1,
            stdout: "b\n".into(),
            stderr: "a\n".into(),
        };
        assert_eq!(output_text(&short), "  | a\n  | b");
        let empty = ExecOutput {
            exit_code: 1,
            stdout: String::new(),
            stderr: " \n".into(),
        };
        assert_eq!(output_text(&empty), "  (no output)");
    }
}
