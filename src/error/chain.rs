//! An error and its `source()` chain, in the three shapes bgdeploy shows them: one line (a
//! reason among several in one message), one cause per line (what `main` prints), and the
//! telling cause alone (a probe's answer: "connection refused", not the client's wrappers).
//! One place, so that every message words a chain the same way.

use std::error::Error;
use std::io;

/// Words of HTTP clients that wrap the error underneath and say nothing without it.
const WRAPPERS: [&str; 2] = ["Error in the hyper legacy client", "client error ("];

/// `e` and every cause below it, outermost first.
pub fn causes<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |&e| e.source())
}

/// The chain on one line, `outer: inner: os error`: a cause whose words an outer one already
/// repeats is left out (wrappers often print their source), and so are the clients' wrappers.
pub fn one_line(e: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in causes(e) {
        let text = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    let useful: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !WRAPPERS.iter().any(|w| p.starts_with(w)))
        .collect();
    if useful.is_empty() {
        parts.join(": ")
    } else {
        useful.join(": ")
    }
}

/// The error on a line of its own after `first`, then each cause on its own line after `then`:
/// `lines(e, "error: ", "\n  caused by: ")`.
pub fn lines(e: &(dyn Error + 'static), first: &str, then: &str) -> String {
    let mut out = format!("{first}{e}");
    for cause in causes(e).skip(1) {
        out.push_str(then);
        out.push_str(&cause.to_string());
    }
    out
}

/// The most telling cause: the OS error in an operator's words when there is one anywhere in
/// the chain, else the innermost cause.
pub fn reason(e: &(dyn Error + 'static)) -> String {
    let mut innermost = e;
    for cause in causes(e) {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return io_reason(io);
        }
        innermost = cause;
    }
    innermost.to_string()
}

/// Whether an `io::Error` of `kind` is anywhere in the chain.
pub fn has_io_kind(e: &(dyn Error + 'static), kind: io::ErrorKind) -> bool {
    causes(e)
        .find_map(|c| c.downcast_ref::<io::Error>())
        .is_some_and(|io| io.kind() == kind)
}

/// An OS error the way an operator would say it ("connection refused", not
/// "Os { code: 111, kind: ConnectionRefused, .. }").
pub fn io_reason(e: &io::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP client's wrapper that prints its own words and hides the cause.
    #[derive(Debug)]
    struct Wrapper(&'static str, io::Error);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.1)
        }
    }

    fn refused(outer: &'static str) -> Wrapper {
        Wrapper(outer, io::Error::from(io::ErrorKind::ConnectionRefused))
    }

    #[test]
    fn one_line_drops_wrappers_and_repeats() {
        assert_eq!(
            one_line(&refused("client error (Connect)")),
            "connection refused"
        );
        let e = Wrapper(
            "reading /proc/net/route",
            io::Error::other("gone\nfor good"),
        );
        assert_eq!(one_line(&e), "reading /proc/net/route: gone for good");
        let e = Wrapper("boom: inner", io::Error::other("inner"));
        assert_eq!(one_line(&e), "boom: inner");
    }

    #[test]
    fn lines_puts_each_cause_on_its_own_line() {
        let e = Wrapper("cannot connect", io::Error::other("no socket"));
        assert_eq!(
            lines(&e, "error: ", "\n  caused by: "),
            "error: cannot connect\n  caused by: no socket"
        );
    }

    #[test]
    fn reason_names_the_os_error_deep_in_a_chain() {
        let e = refused("client error (Connect)");
        assert_eq!(reason(&e), "connection refused");
        assert!(has_io_kind(&e, io::ErrorKind::ConnectionRefused));
        assert!(!has_io_kind(&e, io::ErrorKind::TimedOut));
        let plain = io::Error::other("x");
        assert_eq!(reason(&Wrapper("outer", plain)), "x");
    }
}
