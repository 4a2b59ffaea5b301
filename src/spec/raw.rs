//! The spec file as written: a plain YAML tree with string keys in file order, before any
//! meaning is given to it. Validation (`validate`) interprets it; nothing here knows what a
//! port or a stage is.
//!
//! We deserialize with our own visitor instead of `yaml_serde::Value` because the file is
//! untrusted and we want to:
//! - bound the work: YAML aliases can expand a small file into a huge tree (`&a [..]` used a
//!   hundred thousand times is quadratic and slips under yaml_serde's own repetition limit),
//!   so every node and every string byte is charged to a budget;
//! - reject duplicate keys at the key itself, so the error has the duplicate's line;
//! - apply YAML merge keys (`<<: *defaults`), which people use to share blocks between apps;
//! - keep map keys as the text written (`8080:` is the key "8080", not a number).

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, Visitor};

/// Far above any real spec (a large one has a few thousand values), far below anything slow.
const MAX_NODES: usize = 100_000;
/// Strings may repeat through aliases; a 1 MiB file without aliases stays well under this.
const MAX_STRING_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value of `key`, when this is a map that has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why the text is not a YAML tree we accept. `message` is complete and has no location in it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

pub(crate) fn parse(text: &str) -> Result<Node, RawError> {
    if let Err((line, column)) = super::guard::check_flow_depth(text) {
        return Err(RawError {
            line: Some(line),
            column: Some(column),
            message: format!(
                "`[` and `{{` are nested more than {} levels deep; a deploy spec never \
                 needs that (unbalanced brackets inside strings count too)",
                super::guard::MAX_FLOW_DEPTH
            ),
        });
    }
    let state = State::default();
    let result = NodeSeed { state: &state }.deserialize(yaml_serde::Deserializer::from_str(text));
    result.map_err(|err| {
        let mut error = raw_error(&err, state.ours.get());
        if tab_at(text, error.line, error.column) {
            error
                .message
                .push_str("; YAML does not allow tabs for indentation, use spaces");
        }
        error
    })
}

/// Whether the character at a 1-based line and column is a tab: the usual cause of libyaml's
/// "found character that cannot start any token".
fn tab_at(text: &str, line: Option<usize>, column: Option<usize>) -> bool {
    let (Some(line), Some(column)) = (line, column) else {
        return false;
    };
    text.lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| l.chars().nth(column.saturating_sub(1)))
        == Some('\t')
}

fn raw_error(err: &yaml_serde::Error, ours: bool) -> RawError {
    let location = err.location();
    let mut message = err.to_string();
    if let Some(loc) = &location {
        // yaml_serde appends the location to the message; we report it separately.
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        message = message.replacen(&suffix, "", 1);
    }
    if !ours {
        message = explain_yaml_error(&message);
    }
    RawError {
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        message,
    }
}

/// yaml_serde's own limits and libyaml's messages, said in terms of the spec file.
fn explain_yaml_error(message: &str) -> String {
    if message.starts_with("recursion limit exceeded") {
        "values are nested more than 128 levels deep; a deploy spec never needs that".to_owned()
    } else if message.starts_with("repetition limit exceeded") {
        "YAML aliases (`*name`) expand to far more data than a deploy spec holds".to_owned()
    } else if message.starts_with("deserializing from YAML containing more than one document") {
        "the file holds more than one YAML document (`---` starts a new one); \
         put every app under one `apps:` map"
            .to_owned()
    } else if message.starts_with("unknown anchor") {
        "alias refers to an anchor that is not defined before it (`*name` needs an earlier `&name`)"
            .to_owned()
    } else {
        format!("invalid YAML: {message}")
    }
}

#[derive(Default)]
struct State {
    nodes: Cell<usize>,
    string_bytes: Cell<usize>,
    /// Set when the error being returned is one of ours, so it is not relabelled as a
    /// YAML syntax error.
    ours: Cell<bool>,
}

impl State {
    fn fail<E: de::Error>(&self, message: impl fmt::Display) -> E {
        self.ours.set(true);
        E::custom(message)
    }

    fn charge<E: de::Error>(&self, string_bytes: usize) -> Result<(), E> {
        let nodes = self.nodes.get() + 1;
        let bytes = self.string_bytes.get().saturating_add(string_bytes);
        self.nodes.set(nodes);
        self.string_bytes.set(bytes);
        if nodes > MAX_NODES {
            return Err(self.fail(format!(
                "the file holds more than {MAX_NODES} values (counting those repeated \
                 through YAML aliases); a deploy spec holds a few thousand at most"
            )));
        }
        if bytes > MAX_STRING_BYTES {
            return Err(self.fail(format!(
                "the file's strings add up to more than {} MiB (counting those repeated \
                 through YAML aliases)",
                MAX_STRING_BYTES >> 20
            )));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct NodeSeed<'s> {
    state: &'s State,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        self.state.charge(0)?;
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        self.visit_i128(i128::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        self.visit_i128(i128::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        self.state.charge(0)?;
        Ok(Node::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        match i128::try_from(v) {
            Ok(v) => self.visit_i128(v),
            // Only magnitude matters for such a number: every use rejects it as too large.
            Err(_) => self.visit_f64(v as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        self.state.charge(0)?;
        Ok(Node::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        self.state.charge(v.len())?;
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Err(self.state.fail("binary values are not supported"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        self.state.charge(0)?;
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        self.state.charge(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        self.state.charge(0)?;
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut seen = HashSet::new();
        let mut merges = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed {
            state: self.state,
            seen: &seen,
        })? {
            let value = map.next_value_seed(self)?;
            seen.insert(key.clone());
            if key == "<<" {
                merges.push(value);
            } else {
                entries.push((key, value));
            }
        }
        for merge in merges {
            merge_into(&mut entries, &mut seen, merge).map_err(|msg| self.state.fail(msg))?;
        }
        Ok(Node::Map(entries))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Node, A::Error> {
        // yaml_serde presents a value with a local tag (`!secret x`) as an enum.
        let (tag, _) = data.variant::<String>()?;
        Err(self.state.fail(format!(
            "YAML tags like `!{tag}` are not supported; write the plain value"
        )))
    }
}

/// YAML merge keys: keys written in the map win, then earlier merged maps over later ones.
fn merge_into(
    entries: &mut Vec<(String, Node)>,
    seen: &mut HashSet<String>,
    merge: Node,
) -> Result<(), &'static str> {
    const NOT_A_MAP: &str = "`<<` (a YAML merge key) takes a map or a list of maps, \
                             e.g. `<<: *defaults`";
    let maps = match merge {
        Node::Map(map) => vec![map],
        Node::Seq(items) => items
            .into_iter()
            .map(|item| match item {
                Node::Map(map) => Ok(map),
                _ => Err(NOT_A_MAP),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(NOT_A_MAP),
    };
    for map in maps {
        for (key, value) in map {
            if seen.insert(key.clone()) {
                entries.push((key, value));
            }
        }
    }
    Ok(())
}

/// A map key, taken as the text written. Raising the duplicate error here, while the key is
/// being read, makes yaml_serde attach the duplicate key's own line and column.
struct KeySeed<'s> {
    state: &'s State,
    seen: &'s HashSet<String>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a plain key (a string)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if self.seen.contains(v) {
            return Err(self.state.fail(format_args!(
                "duplicate key `{}`: each key may appear once per map",
                super::text::escaped(v)
            )));
        }
        self.state.charge(v.len())?;
        Ok(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, Node)]) -> Node {
        Node::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn keeps_key_text_and_scalar_types() {
        let node = parse("8080: x\ntrue: 1\nb: 1.5\nc: ~\nd: [a]\n").unwrap();
        assert_eq!(
            node,
            map(&[
                ("8080", Node::Str("x".into())),
                ("true", Node::Int(1)),
                ("b", Node::Float(1.5)),
                ("c", Node::Null),
                ("d", Node::Seq(vec![Node::Str("a".into())])),
            ])
        );
    }

    #[test]
    fn applies_merge_keys_with_written_keys_winning() {
        let node = parse("base: &b {a: 1, b: 2}\nx:\n  b: 3\n  <<: *b\n").unwrap();
        assert_eq!(
            node.get("x"),
            Some(&map(&[("b", Node::Int(3)), ("a", Node::Int(1))]))
        );
    }

    #[test]
    fn duplicate_key_points_at_the_duplicate() {
        let err = parse("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
        assert_eq!((err.line, err.column), (Some(4), Some(3)));
        assert_eq!(
            err.message,
            "b: duplicate key `c`: each key may appear once per map"
        );
    }

    #[test]
    fn tags_are_rejected() {
        let err = parse("a: !secret x\n").unwrap_err();
        assert!(err.message.contains("`!secret`"), "{}", err.message);
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn syntax_errors_are_labelled_and_located() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML: "), "{}", err.message);
        assert!(err.line.is_some());
    }
}
