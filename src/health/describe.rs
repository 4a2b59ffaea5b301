//! Short, lower-case wording for why a connection failed, the way an operator would say it
//! ("connection refused", not "Os { code: 111, kind: ConnectionRefused, .. }").

use std::error::Error;
use std::io;

pub(super) use crate::error::chain::{io_reason as io_error, reason as cause};

/// Whether the connection was refused (an `io::Error` of that kind anywhere in the chain):
/// nothing listened on the port.
pub(super) fn refused(e: &(dyn Error + 'static)) -> bool {
    crate::error::chain::has_io_kind(e, io::ErrorKind::ConnectionRefused)
}

/// At most `max` characters of the last non-empty line of `text`, for one-line reports.
pub(super) fn last_line(text: &str, max: usize) -> Option<String> {
    let line = text.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    if line.chars().count() <= max {
        return Some(line.to_string());
    }
    let mut short: String = line.chars().take(max).collect();
    short.push('…');
    Some(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_os_error_deep_in_a_chain() {
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl Error for Wrapper {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Wrapper(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(cause(&e), "connection refused");
    }

    #[test]
    fn last_line_is_trimmed_and_bounded() {
        assert_eq!(last_line("a\n  b  \n\n", 10), Some("b".into()));
        assert_eq!(last_line(" \n", 10), None);
        assert_eq!(last_line("äöüäöü", 3), Some("äöü…".into()));
    }
}
