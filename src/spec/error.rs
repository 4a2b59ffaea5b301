//! Everything that can be wrong with a spec, each said completely: what, where, what to do.

use std::fmt;

use super::text::{closest, escaped, list};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec `{path}`: {}", read_reason(source))]
    Read {
        path: String,
        source: std::io::Error,
    },

    #[error(
        "spec `{path}` is larger than {} MiB; a deploy spec is a few kilobytes, \
         so check that -f FILE (or BGDEPLOY_FILE) names the right file",
        limit >> 20
    )]
    TooLarge { path: String, limit: usize },

    #[error(
        "spec `{path}` is not UTF-8 text: invalid byte at offset {offset} (line {line}){}; \
         save it as UTF-8",
        utf16_hint(*utf16)
    )]
    NotUtf8 {
        path: String,
        offset: usize,
        line: usize,
        /// The file starts with a UTF-16 byte order mark.
        utf16: bool,
    },

    #[error(
        "spec `{path}` is empty; it needs an `apps:` map with at least one app \
         (see deploy.example.yaml)"
    )]
    Empty { path: String },

    #[error("{path}:{}{message}", location(*line, *column))]
    Syntax {
        path: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },

    #[error("{}", invalid(path, problems))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },

    #[error("{}", unknown("app", app, "the spec defines", known))]
    UnknownApp { app: String, known: Vec<String> },

    #[error(
        "stage `{}` is not listed for app `{}`; {}",
        escaped(stage),
        escaped(app),
        unknown_tail(stage, "its stages are", known)
    )]
    UnknownStage {
        app: String,
        stage: String,
        known: Vec<String>,
    },

    #[error("{}", missing_secrets(names))]
    MissingSecrets { names: Vec<String> },
}

/// One thing wrong in a spec file, at a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path such as `apps.shop.health.interval`; empty for the top of the file.
    pub key_path: String,
    /// 1-based line of the key (or of its closest enclosing key when the key is missing).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.key_path.is_empty() {
            "top level"
        } else {
            &self.key_path
        };
        match self.line {
            Some(line) => write!(f, "{at} (line {line}): {}", self.message),
            None => write!(f, "{at}: {}", self.message),
        }
    }
}

fn read_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file; pass -f FILE or set BGDEPLOY_FILE".into(),
        kind => kind.to_string(),
    }
}

fn utf16_hint(utf16: bool) -> &'static str {
    if utf16 { "; it looks like UTF-16" } else { "" }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("{line}:{column}: "),
        (Some(line), None) => format!("{line}: "),
        _ => " ".into(),
    }
}

fn invalid(path: &str, problems: &[Problem]) -> String {
    let count = match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    let mut out = format!("spec `{path}` has {count}:");
    for problem in problems {
        out.push_str("\n  ");
        out.push_str(&problem.to_string());
    }
    out
}

fn unknown(what: &str, name: &str, known_label: &str, known: &[String]) -> String {
    format!(
        "{what} `{}` is not in the spec; {}",
        escaped(name),
        unknown_tail(name, known_label, known)
    )
}

fn unknown_tail(name: &str, known_label: &str, known: &[String]) -> String {
    let known_part = if known.is_empty() {
        "none are defined".to_owned()
    } else {
        format!("{known_label}: {}", list(known))
    };
    match closest(name, known) {
        Some(near) => format!("did you mean `{near}`? ({known_part})"),
        None => known_part,
    }
}

fn missing_secrets(names: &[String]) -> String {
    let exports: Vec<String> = names.iter().map(|n| format!("{n}=...")).collect();
    let (noun, verb) = if names.len() == 1 {
        ("secret", "is")
    } else {
        ("secrets", "are")
    };
    format!(
        "{noun} {} {verb} not set (or empty) in bgdeploy's environment; \
         export {} before running bgdeploy",
        list(names),
        exports.join(" ")
    )
}
