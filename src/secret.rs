//! Secrets read from the environment.
//!
//! The spec names secrets; their values come from bgdeploy's own environment at deploy time
//! and are handed to the container. A value lives in a `Secret`, which prints as
//! `<redacted>` however it is formatted, so that no log line, error or `{:?}` of a larger
//! struct can leak it. `expose` is the one way to the value, and is easy to audit.

use std::fmt;

use crate::spec::SpecError;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The value, for handing to the engine. Never format or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `text` with every secret value replaced by `<redacted>`: for text bgdeploy does not
/// write itself but shows (an app's log lines, an engine message quoting a request).
pub fn redact(text: &str, secrets: &[(String, Secret)]) -> String {
    let mut out = text.to_string();
    for (_, secret) in secrets {
        if !secret.expose().is_empty() {
            out = out.replace(secret.expose(), "<redacted>");
        }
    }
    out
}

/// Reads every named secret through `env` (normally `|name| std::env::var(name).ok()`),
/// in the order given. Fails naming every secret that is unset, so that one run tells the
/// operator everything to export. An empty value counts as unset: CI systems expand a
/// missing secret to the empty string, and deploying with an empty password is never meant.
pub fn resolve(
    names: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Secret)>, SpecError> {
    let mut found = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        match env(name) {
            Some(value) if !value.is_empty() => found.push((name.clone(), Secret(value))),
            _ => missing.push(name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(SpecError::MissingSecrets { names: missing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "hunter2-s3cr3t";

    #[test]
    fn redact_hides_every_value_in_foreign_text() {
        let secrets = vec![
            ("DB".to_string(), Secret::new(VALUE.to_string())),
            ("E".to_string(), Secret::new(String::new())),
        ];
        let text = format!("boot: DB={VALUE}\nagain {VALUE}");
        assert_eq!(
            redact(&text, &secrets),
            "boot: DB=<redacted>\nagain <redacted>"
        );
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "DATABASE_URL" | "API_KEY" => Some(VALUE.to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn resolves_in_order_and_exposes_only_through_expose() {
        let secrets = resolve(&names(&["DATABASE_URL", "API_KEY"]), env).unwrap();
        let got: Vec<&str> = secrets.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, ["DATABASE_URL", "API_KEY"]);
        assert_eq!(secrets[0].1.expose(), VALUE);
    }

    #[test]
    fn value_never_shows_in_debug_or_display() {
        let secrets = resolve(&names(&["DATABASE_URL"]), env).unwrap();
        let secret = &secrets[0].1;
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        let whole = format!("{secrets:?} {secrets:#?}");
        assert!(!whole.contains(VALUE), "{whole}");
        assert!(whole.contains("<redacted>"));
    }

    #[test]
    fn missing_names_every_one_and_leaks_nothing() {
        let err = resolve(&names(&["DATABASE_URL", "TOKEN", "EMPTY", "API_KEY"]), env).unwrap_err();
        let message = err.to_string();
        assert_eq!(
            message,
            "secrets TOKEN, EMPTY are not set (or empty) in bgdeploy's environment; \
             export TOKEN=... EMPTY=... before running bgdeploy"
        );
        assert!(!format!("{err:?}").contains(VALUE));
    }

    #[test]
    fn one_missing_reads_in_the_singular() {
        let err = resolve(&names(&["TOKEN"]), env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret TOKEN is not set (or empty) in bgdeploy's environment; \
             export TOKEN=... before running bgdeploy"
        );
    }
}
