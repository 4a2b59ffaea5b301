//! Short, lower-case wording for why a connection failed, the way an operator would say it
//! ("connection refused", not "Os { code: 111, kind: ConnectionRefused, .. }").

use std::error::Error;
use std::io;

/// The most telling cause in `e`'s chain: the OS error when there is one, else the innermost.
pub(super) fn cause(e: &(dyn Error + 'static)) -> String {
    let mut innermost = e;
    let mut next = Some(e);
    while let Some(current) = next {
        if let Some(io) = current.downcast_ref::<io::Error>() {
            return io_error(io);
        }
        innermost = current;
        next = current.source();
    }
    innermost.to_string()
}

/// Whether the connection was refused (an `io::Error` of that kind anywhere in the chain):
/// nothing listened on the port.
pub(super) fn refused(e: &(dyn Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(current) = next {
        if let Some(io) = current.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::ConnectionRefused;
        }
        next = current.source();
    }
    false
}

pub(super) fn io_error(e: &io::Error) -> String {
    use io::ErrorKind as K;
    let text = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::TimedOut => "connection timed out",
        K::HostUnreachable => "no route to host",
        K::NetworkUnreachable => "network unreachable",
        K::AddrNotAvailable => "address not available",
        K::UnexpectedEof => "connection closed before an answer",
        _ => return e.to_string(),
    };
    text.to_string()
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
