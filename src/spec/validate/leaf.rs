//! Readers for single values. Each checks one node, reports what is wrong with it (saying
//! what would be right), and returns the value only when it is right.

use std::time::Duration;

use super::check::Check;
use crate::spec::model::StatusRange;
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::text::{escaped, quoted};

const DURATION_EXAMPLES: &str = "examples: 500ms, 2s, 1m30s";

/// A non-empty string. Numbers are refused rather than converted: `virtual_host: 1.10`
/// silently becoming `1.1` is worse than asking for quotes.
pub(super) fn text(check: &mut Check, node: &Node, at: &KeyPath, expected: &str) -> Option<String> {
    match node {
        Node::Str(s) if s.is_empty() => {
            check.report(at, format!("must not be empty; expected {expected}"));
            None
        }
        Node::Str(s) if s.contains('\0') => {
            check.report(at, "contains a NUL character");
            None
        }
        Node::Str(s) => Some(s.clone()),
        Node::Int(_) | Node::Float(_) | Node::Bool(_) => {
            let written = check.verbatim(node, at).unwrap_or_default();
            let kind = if let Node::Bool(_) = node {
                "true/false"
            } else {
                "a number"
            };
            check.report(
                at,
                format!(
                    "expected {expected}, found `{}`, which YAML reads as {kind}; \
                     quote it if it is meant as text: {}",
                    escaped(&written),
                    quoted(&written)
                ),
            );
            None
        }
        other => check.expected(at, expected, other),
    }
}

/// A string with no whitespace or control characters: image names, paths, URLs, hosts.
fn word(check: &mut Check, node: &Node, at: &KeyPath, expected: &str) -> Option<String> {
    let s = text(check, node, at, expected)?;
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        check.report(
            at,
            format!("{} contains spaces; expected {expected}", quoted(&s)),
        );
        return None;
    }
    Some(s)
}

pub(super) fn image(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let image = word(check, node, at, "an image reference such as `shop:1.4.2`")?;
    let repository = image_repository(&image);
    if repository.chars().any(|c| c.is_ascii_uppercase()) {
        check.report(
            at,
            format!(
                "{}: Docker repository names must be lowercase",
                quoted(&image)
            ),
        );
        return None;
    }
    Some(image)
}

/// The repository path of an image reference: without registry host, tag or digest —
/// the part Docker requires in lowercase.
fn image_repository(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => &name[..colon],
        _ => name,
    };
    match name.split_once('/') {
        Some((host, path)) if host.contains(['.', ':']) || host == "localhost" => path,
        _ => name,
    }
}

pub(super) fn port(check: &mut Check, node: &Node, at: &KeyPath) -> Option<u16> {
    match node {
        Node::Int(n) => match u16::try_from(*n) {
            Ok(port) if port > 0 => Some(port),
            _ => {
                check.report(at, format!("port {n} is out of range; ports are 1-65535"));
                None
            }
        },
        Node::Str(s) if s.trim().parse::<u16>().is_ok() => {
            check.report(
                at,
                format!(
                    "expected a port number, found the string {}; write it without quotes",
                    quoted(s)
                ),
            );
            None
        }
        other => check.expected(at, "a port number (1-65535)", other),
    }
}

/// A humantime duration. `positive` refuses zero, for waits that must make progress.
pub(super) fn duration(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
    positive: bool,
) -> Option<Duration> {
    let duration = match node {
        Node::Str(s) => match humantime::parse_duration(s.trim()) {
            Ok(d) => d,
            Err(_) => {
                check.report(
                    at,
                    format!("{} is not a duration ({DURATION_EXAMPLES})", quoted(s)),
                );
                return None;
            }
        },
        // Zero needs no unit.
        Node::Int(0) => Duration::ZERO,
        Node::Int(n) if *n > 0 => {
            check.report(
                at,
                format!("`{n}` has no unit; write `{n}s` for seconds ({DURATION_EXAMPLES})"),
            );
            return None;
        }
        Node::Float(f) if *f > 0.0 && f.is_finite() => {
            let written = check.verbatim(node, at).unwrap_or_else(|| f.to_string());
            let millis = (f * 1000.0).round();
            check.report(
                at,
                format!("`{written}` has no unit; write `{millis}ms` ({DURATION_EXAMPLES})"),
            );
            return None;
        }
        Node::Int(_) | Node::Float(_) => {
            check.report(at, "a duration cannot be negative");
            return None;
        }
        other => return check.expected(at, "a duration such as 500ms, 2s or 1m30s", other),
    };
    if positive && duration.is_zero() {
        check.report(at, "must be longer than zero");
        return None;
    }
    Some(duration)
}

/// A whole number of at least `min`.
pub(super) fn count(check: &mut Check, node: &Node, at: &KeyPath, min: u32) -> Option<u32> {
    match node {
        Node::Int(n) if *n < i128::from(min) => {
            let rule = if min == 0 {
                "must not be negative".to_owned()
            } else {
                format!("must be at least {min}")
            };
            check.report(at, format!("{n} is too small: {rule}"));
            None
        }
        Node::Int(n) => match u32::try_from(*n) {
            Ok(n) => Some(n),
            Err(_) => {
                check.report(at, format!("{n} is too large"));
                None
            }
        },
        other => check.expected(at, "a whole number", other),
    }
}

pub(super) fn boolean(check: &mut Check, node: &Node, at: &KeyPath) -> Option<bool> {
    match node {
        Node::Bool(b) => Some(*b),
        Node::Str(s)
            if ["yes", "no", "on", "off", "y", "n"].contains(&s.to_lowercase().as_str()) =>
        {
            check.report(
                at,
                format!(
                    "expected true or false, found the string {}; \
                     YAML 1.2 reads yes/no/on/off as text",
                    quoted(s)
                ),
            );
            None
        }
        other => check.expected(at, "true or false", other),
    }
}

/// A command line as a list: `[bin/server, --port, 8080]`. Numbers and booleans are taken
/// as written, since `[sleep, 1.50]` plainly means the text `1.50`.
pub(super) fn argv(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Vec<String>> {
    let items = match node {
        Node::Seq(items) => items,
        Node::Str(s) => {
            let words: Vec<String> = s.split_whitespace().take(8).map(quoted).collect();
            check.report(
                at,
                format!(
                    "expected a list of arguments, found a string; write it as a list, \
                     e.g. [{}] (use [sh, -c, \"...\"] for shell syntax)",
                    words.join(", ")
                ),
            );
            return None;
        }
        other => {
            return check.expected(
                at,
                "a list of arguments, e.g. [bin/server, --port, \"8080\"]",
                other,
            );
        }
    };
    if items.is_empty() {
        check.report(
            at,
            "must not be an empty list; give at least the program to run",
        );
        return None;
    }
    let mut argv = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let item_at = at.index(i);
        match check.verbatim(item, &item_at) {
            Some(arg) if arg.contains('\0') => {
                check.report(&item_at, "contains a NUL character");
                ok = false;
            }
            Some(arg) => argv.push(arg),
            None => {
                check.expected::<()>(&item_at, "a string", item);
                ok = false;
            }
        }
    }
    if argv.first().is_some_and(String::is_empty) {
        check.report(&at.index(0), "the program to run must not be empty");
        ok = false;
    }
    ok.then_some(argv)
}

/// `200` or `200-399`, within the HTTP status codes.
pub(super) fn status_range(check: &mut Check, node: &Node, at: &KeyPath) -> Option<StatusRange> {
    const EXPECTED: &str = "a status code or range such as 200 or 200-399";
    let (low, high) = match node {
        Node::Int(n) => (*n, *n),
        Node::Str(s) => {
            let parsed = match s.split_once('-') {
                Some((low, high)) => low.trim().parse().ok().zip(high.trim().parse().ok()),
                None => s.trim().parse().ok().map(|n| (n, n)),
            };
            match parsed {
                Some(range) => range,
                None => return check.expected(at, EXPECTED, node),
            }
        }
        other => return check.expected(at, EXPECTED, other),
    };
    if !(100..=599).contains(&low) || !(100..=599).contains(&high) {
        check.report(
            at,
            format!("{low}-{high} is outside the HTTP status codes (100-599)"),
        );
        return None;
    }
    if low > high {
        check.report(
            at,
            format!("{low}-{high} is backwards; write the low end first: {high}-{low}"),
        );
        return None;
    }
    // Both ends are within 100..=599, so they fit.
    Some(StatusRange {
        low: low as u16,
        high: high as u16,
    })
}

pub(super) fn http_path(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let path = word(check, node, at, "a URL path such as /up")?;
    if !path.starts_with('/') {
        check.report(
            at,
            format!("{} must start with `/`, e.g. `/{path}`", quoted(&path)),
        );
        return None;
    }
    Some(path)
}

pub(super) fn http_url(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    const EXPECTED: &str = "an http:// URL such as http://127.0.0.1/up";
    let url = word(check, node, at, EXPECTED)?;
    match url.strip_prefix("http://") {
        Some(rest) if !rest.is_empty() => Some(url),
        _ if url.starts_with("https://") => {
            check.report(
                at,
                format!("{}: only http:// is supported here", quoted(&url)),
            );
            None
        }
        _ => {
            check.report(at, format!("expected {EXPECTED}, found {}", quoted(&url)));
            None
        }
    }
}

/// A host name for the proxy. The character set is narrow on purpose: the value ends up in
/// an nginx config and in container env, so nothing that could break out of either.
pub(super) fn host_name(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let host = word(check, node, at, "a host name such as shop.example.com")?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_*,".contains(c);
    if !host.chars().all(allowed) {
        check.report(
            at,
            format!(
                "{} is not a host name: use letters, digits, `.`, `-` and `*` \
                 (nginx-proxy also takes a comma-separated list)",
                quoted(&host)
            ),
        );
        return None;
    }
    Some(host)
}

/// An absolute path inside the proxy container, in a character set safe to pass to a shell.
pub(super) fn config_path(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let path = word(
        check,
        node,
        at,
        "an absolute path such as /etc/nginx/conf.d/shop.conf",
    )?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/._-".contains(c);
    if !path.starts_with('/') || !path.chars().all(allowed) || path.ends_with('/') {
        check.report(
            at,
            format!(
                "{} is not usable as config_path: give an absolute file path made of \
                 letters, digits, `/`, `.`, `_` and `-`, e.g. /etc/nginx/conf.d/shop.conf",
                quoted(&path)
            ),
        );
        return None;
    }
    Some(path)
}

/// Signals that make docker-gen (or a wrapper around it) regenerate. Others are refused:
/// TERM, INT, QUIT and KILL stop docker-gen instead, and nothing else is worth guessing at.
pub(super) const SIGNALS: &[&str] = &["HUP", "USR1", "USR2"];

/// A signal name for `proxy.signal`: `HUP`, `SIGHUP` or `hup` all give `HUP`.
pub(super) fn signal(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let written = word(check, node, at, "a signal name such as HUP")?;
    let upper = written.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return Some(name.to_owned());
    }
    let why = match name {
        "TERM" | "INT" | "QUIT" | "KILL" | "STOP" => format!(
            "SIG{name} stops docker-gen instead of making it regenerate; docker-gen \
             regenerates on HUP (the default)"
        ),
        _ => format!("{} is not a signal bgdeploy sends", quoted(&written)),
    };
    check.report(
        at,
        format!("{why}; use one of {}", crate::spec::text::list(SIGNALS)),
    );
    None
}

/// A container or network name as Docker accepts it.
pub(super) fn docker_name(
    check: &mut Check,
    node: &Node,
    at: &KeyPath,
    what: &str,
) -> Option<String> {
    let name = text(check, node, at, what)?;
    if !is_docker_name(&name) {
        check.report(
            at,
            format!(
                "{} is not a valid Docker name: use letters, digits, `_`, `.` and `-`, \
                 starting with a letter or digit",
                quoted(&name)
            ),
        );
        return None;
    }
    Some(name)
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, Docker's rule for container and network names.
pub(super) fn is_docker_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name a shell can `export`.
pub(super) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repository_strips_host_tag_and_digest() {
        assert_eq!(image_repository("shop:1.4.2"), "shop");
        assert_eq!(
            image_repository("Registry.local:5000/team/Shop:V1"),
            "team/Shop"
        );
        assert_eq!(image_repository("localhost/shop@sha256:abc"), "shop");
        assert_eq!(image_repository("team/shop"), "team/shop");
    }

    #[test]
    fn names() {
        assert!(is_docker_name("shop_1.a-b"));
        assert!(!is_docker_name("_shop"));
        assert!(!is_docker_name("my app"));
        assert!(!is_docker_name(""));
        assert!(is_env_name("_DATABASE_URL2"));
        assert!(!is_env_name("2FA"));
        assert!(!is_env_name("A-B"));
    }
}
