//! Asking before changing the engine: on a terminal, a y/N question on stderr; without one,
//! only `--yes` goes ahead, so that a script never hangs on a prompt nobody sees.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::Error;

/// What to do before acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Consent {
    /// `--yes` was given.
    Given,
    /// Ask on the terminal (once the question can name what will change).
    Ask,
}

/// Checked before anything else, so that a script without `--yes` fails at once with exit 2,
/// before contacting the engine.
pub(super) fn consent(command: &str, yes: bool) -> Result<Consent, Error> {
    if yes {
        Ok(Consent::Given)
    } else if std::io::stdin().is_terminal() {
        Ok(Consent::Ask)
    } else {
        Err(Error::NeedsYes {
            command: command.to_string(),
        })
    }
}

/// Asks `question` when `consent` says so; anything but y/yes is a no.
pub(super) fn confirm(consent: Consent, question: &str) -> Result<(), Error> {
    if consent == Consent::Given {
        return Ok(());
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    // An unreadable or closed stdin answers nothing, which is a no.
    let _ = std::io::stdin().lock().read_line(&mut answer);
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Error::Declined),
    }
}
