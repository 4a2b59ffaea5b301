//! The validation context: the problems found so far, the source text (for verbatim
//! scalars), and the few shapes every level shares (maps with a fixed set of keys).

use std::cell::OnceCell;

use crate::spec::lines::{self, Lines};
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;
use crate::spec::text::{closest, escaped, list, quoted};

/// A problem at a key path, before its line is looked up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issue {
    pub at: KeyPath,
    pub message: String,
}

pub(super) struct Check<'t> {
    text: &'t str,
    /// Indexed on first use: most specs never need it.
    lines: &'t OnceCell<Lines>,
    pub issues: Vec<Issue>,
}

impl<'t> Check<'t> {
    pub fn new(text: &'t str, lines: &'t OnceCell<Lines>) -> Self {
        Check {
            text,
            lines,
            issues: Vec::new(),
        }
    }

    pub fn report(&mut self, at: &KeyPath, message: impl Into<String>) {
        self.issues.push(Issue {
            at: at.clone(),
            message: message.into(),
        });
    }

    /// Reports that `node` is not what `expected` describes; returns `None` for `?`-chaining.
    pub fn expected<T>(&mut self, at: &KeyPath, expected: &str, node: &Node) -> Option<T> {
        self.report(at, format!("expected {expected}, found {}", describe(node)));
        None
    }

    /// The entries of a map; an empty value (`key:`) counts as an empty map.
    pub fn map<'n>(
        &mut self,
        node: &'n Node,
        at: &KeyPath,
        expected: &str,
    ) -> Option<&'n [(String, Node)]> {
        match node {
            Node::Map(entries) => Some(entries),
            Node::Null => Some(&[]),
            other => self.expected(at, expected, other),
        }
    }

    /// Reports every key of `entries` not in `allowed`. `special` gives a tailored message
    /// for keys people are likely to put in the wrong place.
    pub fn unknown_keys(
        &mut self,
        entries: &[(String, Node)],
        at: &KeyPath,
        allowed: &[&str],
        special: &[(&str, &str)],
    ) {
        // Listed once per map: a hostile file can hold a hundred thousand unknown keys.
        let mut listed: Option<String> = None;
        for (key, _) in entries {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let message = match special.iter().find(|(k, _)| k == key) {
                Some((_, message)) => (*message).to_owned(),
                None => {
                    let listed = listed.get_or_insert_with(|| list(allowed));
                    unknown_key_message(key, allowed, listed)
                }
            };
            self.report(&at.key(key), message);
        }
    }

    /// A scalar as the user wrote it, so that `1.10` stays `1.10` rather than YAML's `1.1`.
    pub fn verbatim(&self, node: &Node, at: &KeyPath) -> Option<String> {
        let canonical = match node {
            Node::Str(s) => return Some(s.clone()),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => f.to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Null | Node::Seq(_) | Node::Map(_) => return None,
        };
        let lines = self.lines.get_or_init(|| lines::index(self.text));
        Some(lines.text_of(at).map_or(canonical, str::to_owned))
    }
}

fn unknown_key_message(key: &str, allowed: &[&str], listed: &str) -> String {
    let shown = escaped(key);
    match closest(key, allowed) {
        Some(near) => {
            format!("unknown key `{shown}`; did you mean `{near}`? (allowed here: {listed})")
        }
        None => format!("unknown key `{shown}` (allowed here: {listed})"),
    }
}

/// What a value is, for "expected …, found …".
pub(super) fn describe(node: &Node) -> String {
    match node {
        Node::Null => "nothing (an empty value)".to_owned(),
        Node::Bool(b) => format!("`{b}`"),
        Node::Int(i) => format!("the number {i}"),
        Node::Float(f) => format!("the number {f}"),
        Node::Str(s) => format!("the string {}", quoted(s)),
        Node::Seq(_) => "a list".to_owned(),
        Node::Map(_) => "a map".to_owned(),
    }
}
