//! The deploy spec (`deploy.yaml`): read, parse into a raw YAML tree (`raw`), then validate
//! into the model (`model`) that the rest of bgdeploy uses. Every problem is reported at
//! once, each with its key path and line (`lines`: indexed once per file, when first needed).

mod error;
mod guard;
mod lines;
pub mod model;
mod path;
mod raw;
pub mod settings;
mod text;
mod validate;

#[cfg(test)]
mod tests;

use std::cell::OnceCell;
use std::io::Read as _;
use std::path::Path;

pub use error::{Problem, SpecError};
pub use model::*;
pub use settings::{ContainerSettings, Restart};

/// Specs larger than this are refused unread: a real one is a few kilobytes, and a cap keeps
/// hostile input from costing time or memory.
pub const MAX_SPEC_BYTES: usize = 1 << 20;

/// Reads and validates the spec file at `path`.
pub fn load(path: &Path) -> Result<Spec, SpecError> {
    let shown = path.display().to_string();
    let read_error = |source| SpecError::Read {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let too_large = SpecError::TooLarge {
        path: shown.clone(),
        limit: MAX_SPEC_BYTES,
    };
    if file
        .metadata()
        .is_ok_and(|m| m.len() > MAX_SPEC_BYTES as u64)
    {
        return Err(too_large);
    }
    // The metadata can understate (a pipe, /dev/zero): never read past the cap.
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    parse_bytes(&bytes, &shown)
}

/// Validates spec bytes; `path_for_messages` names the file in errors.
pub fn parse_bytes(bytes: &[u8], path_for_messages: &str) -> Result<Spec, SpecError> {
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge {
            path: path_for_messages.to_owned(),
            limit: MAX_SPEC_BYTES,
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text, path_for_messages),
        Err(err) => {
            let offset = err.valid_up_to();
            Err(SpecError::NotUtf8 {
                path: path_for_messages.to_owned(),
                offset,
                line: 1 + bytes[..offset].iter().filter(|b| **b == b'\n').count(),
                utf16: bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]),
            })
        }
    }
}

/// Validates spec text; `path_for_messages` names the file in errors.
pub fn parse(text: &str, path_for_messages: &str) -> Result<Spec, SpecError> {
    let path = path_for_messages.to_owned();
    if text.len() > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge {
            path,
            limit: MAX_SPEC_BYTES,
        });
    }
    let root = raw::parse(text).map_err(|err| SpecError::Syntax {
        path: path.clone(),
        line: err.line,
        column: err.column,
        message: err.message,
    })?;
    if root == raw::Node::Null {
        return Err(SpecError::Empty { path });
    }
    let lines = OnceCell::new();
    match validate::validate(&root, text, &lines) {
        Ok(apps) => Ok(Spec { path, apps }),
        Err(issues) => Err(SpecError::Invalid {
            path,
            problems: problems(lines.get_or_init(|| lines::index(text)), issues),
        }),
    }
}

/// Issues with their lines, in file order (those without a line last).
fn problems(lines: &lines::Lines, issues: Vec<validate::Issue>) -> Vec<Problem> {
    let mut problems: Vec<Problem> = issues
        .into_iter()
        .map(|issue| Problem {
            key_path: issue.at.to_string(),
            line: lines.line_of(&issue.at),
            message: issue.message,
        })
        .collect();
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    problems
}

impl Spec {
    /// The resolved deploy of `app` to `stage`.
    pub fn deploy(&self, app: &str, stage: &str) -> Result<&Deploy, SpecError> {
        let stages = self.apps.get(app).ok_or_else(|| SpecError::UnknownApp {
            app: app.to_owned(),
            known: self.apps.keys().cloned().collect(),
        })?;
        stages
            .stages
            .get(stage)
            .ok_or_else(|| SpecError::UnknownStage {
                app: app.to_owned(),
                stage: stage.to_owned(),
                known: stages.stages.keys().cloned().collect(),
            })
    }
}
