//! Line numbers for key paths, and the text of a scalar as written.
//!
//! yaml_serde exposes no spans, but when a visitor returns a custom error, yaml_serde stamps
//! it with the position of the node being deserialized (`error::fix_mark`). So to find the
//! line of `apps.shop.port` we deserialize the text again with a seed that walks down that
//! path, skipping everything else with `IgnoredAny`, and fails on purpose while reading the
//! key `port`: the error's location is the key's. One pass per lookup; lookups are few.
//!
//! Paths that do not exist in the text (a key that is missing, or one that came in through a
//! YAML merge key) resolve to the deepest part of the path that does.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::path::{KeyPath, Seg};

/// Our deliberate error, told apart from anything else by this text.
const FOUND: &str = "\u{0}bgdeploy: located";

/// The 1-based line of the last key (or list item) of `path`, or of the deepest part of it
/// present in `text`. `None` for the root path or text that does not parse.
pub(crate) fn line_of(text: &str, path: &KeyPath) -> Option<usize> {
    let segs = path.segs();
    match walk(text, segs, Goal::Line) {
        Outcome::Line(line) => Some(line),
        Outcome::Missing { matched } if matched > 0 => {
            match walk(text, &segs[..matched], Goal::Line) {
                Outcome::Line(line) => Some(line),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The scalar at `path` as written (`1.10`, `0x1F`, `True`), for values where YAML's typing
/// would lose what the user meant. `None` when the path is absent or not a scalar.
pub(crate) fn scalar_text(text: &str, path: &KeyPath) -> Option<String> {
    match walk(text, path.segs(), Goal::Text) {
        Outcome::Text(text) => Some(text),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Goal {
    Line,
    Text,
}

enum Outcome {
    Line(usize),
    Text(String),
    /// The path is not in the text; its first `matched` segments are.
    Missing {
        matched: usize,
    },
}

impl Outcome {
    fn below(self) -> Outcome {
        match self {
            Outcome::Missing { matched } => Outcome::Missing {
                matched: matched + 1,
            },
            found => found,
        }
    }
}

fn walk(text: &str, segs: &[Seg], goal: Goal) -> Outcome {
    if segs.is_empty() {
        return Outcome::Missing { matched: 0 };
    }
    let de = yaml_serde::Deserializer::from_str(text);
    match (Walk { segs, goal }).deserialize(de) {
        Ok(outcome) => outcome,
        Err(err) if err.to_string().contains(FOUND) => match err.location() {
            Some(location) => Outcome::Line(location.line()),
            None => Outcome::Missing { matched: 0 },
        },
        Err(_) => Outcome::Missing { matched: 0 },
    }
}

/// Walks to `segs` inside the node it deserializes. `segs` is never empty.
#[derive(Clone, Copy)]
struct Walk<'p> {
    segs: &'p [Seg],
    goal: Goal,
}

impl Walk<'_> {
    fn is_last(&self) -> bool {
        self.segs.len() == 1
    }

    fn rest(&self) -> Self {
        Walk {
            segs: &self.segs[1..],
            goal: self.goal,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Outcome;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Outcome, D::Error> {
        de.deserialize_any(self)
    }
}

/// A scalar where the path wants to go deeper: not there.
macro_rules! not_here {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(self, _: $ty) -> Result<Outcome, E> {
            Ok(Outcome::Missing { matched: 0 })
        }
    )*};
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    not_here!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_i128(i128),
        visit_u128(u128),
        visit_f64(f64),
        visit_str(&str)
    );

    fn visit_unit<E: de::Error>(self) -> Result<Outcome, E> {
        Ok(Outcome::Missing { matched: 0 })
    }

    fn visit_none<E: de::Error>(self) -> Result<Outcome, E> {
        Ok(Outcome::Missing { matched: 0 })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outcome, A::Error> {
        let mut outcome = Outcome::Missing { matched: 0 };
        if let Seg::Key(want) = &self.segs[0] {
            let raise = self.is_last() && self.goal == Goal::Line;
            while let Some(matched) = map.next_key_seed(KeyMatch { want, raise })? {
                if !matched {
                    map.next_value::<IgnoredAny>()?;
                } else if self.is_last() {
                    outcome = map.next_value_seed(TextSeed)?;
                    break;
                } else {
                    outcome = map.next_value_seed(self.rest())?.below();
                    break;
                }
            }
        }
        // yaml_serde rejects a map whose visitor stops early, so read it to the end.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(outcome)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Outcome, A::Error> {
        let mut outcome = Outcome::Missing { matched: 0 };
        if let Seg::Index(want) = self.segs[0] {
            for _ in 0..want {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    return Ok(outcome);
                }
            }
            let found = if !self.is_last() {
                seq.next_element_seed(self.rest())?.map(Outcome::below)
            } else if self.goal == Goal::Line {
                seq.next_element_seed(Raise)?
            } else {
                seq.next_element_seed(TextSeed)?
            };
            if let Some(found) = found {
                outcome = found;
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(outcome)
    }
}

/// Reads a map key; `true` when it is the one wanted. With `raise`, finding it fails with
/// `FOUND` instead, so that the error carries the key's position.
struct KeyMatch<'w> {
    want: &'w str,
    raise: bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match (v == self.want, self.raise) {
            (true, true) => Err(E::custom(FOUND)),
            (matched, _) => Ok(matched),
        }
    }
}

/// Fails with `FOUND` on whatever node it is given, so the error carries that node's position.
struct Raise;

impl<'de> DeserializeSeed<'de> for Raise {
    type Value = Outcome;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Outcome, D::Error> {
        de.deserialize_any(self)
    }
}

macro_rules! raise {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method<E: de::Error>(self, _: $ty) -> Result<Outcome, E> {
            Err(E::custom(FOUND))
        }
    )*};
}

impl<'de> Visitor<'de> for Raise {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    raise!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_i128(i128),
        visit_u128(u128),
        visit_f64(f64),
        visit_str(&str)
    );

    fn visit_unit<E: de::Error>(self) -> Result<Outcome, E> {
        Err(E::custom(FOUND))
    }

    fn visit_none<E: de::Error>(self) -> Result<Outcome, E> {
        Err(E::custom(FOUND))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Outcome, A::Error> {
        Err(de::Error::custom(FOUND))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Outcome, A::Error> {
        Err(de::Error::custom(FOUND))
    }
}

/// A scalar's text as written: yaml_serde hands any scalar to `deserialize_str` untyped.
struct TextSeed;

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Outcome;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Outcome, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TextSeed {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Outcome, E> {
        Ok(Outcome::Text(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(dotted: &str) -> KeyPath {
        dotted.split('.').fold(KeyPath::root(), |path, seg| {
            match seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                Some(index) => path.index(index.parse().unwrap()),
                None => path.key(seg),
            }
        })
    }

    const DOC: &str = "\
# a comment

apps:
  shop:
    image: shop:1
    port: 8080
    networks:
      - one
      - two
    health:
      http: /up

      interval: 5 parsecs
    stages:
      stage: {virtual_host: x, proxy: {driver: nginx}}
      production:
      multi: {
        a: 1,
        \"quoted key\": 2
      }
    command: [a,
      b, c]
";

    #[test]
    fn block_keys() {
        assert_eq!(line_of(DOC, &path("apps")), Some(3));
        assert_eq!(line_of(DOC, &path("apps.shop")), Some(4));
        assert_eq!(line_of(DOC, &path("apps.shop.port")), Some(6));
        assert_eq!(line_of(DOC, &path("apps.shop.health.interval")), Some(13));
        assert_eq!(line_of(DOC, &path("apps.shop.stages.production")), Some(16));
    }

    #[test]
    fn flow_keys_on_one_and_several_lines() {
        assert_eq!(
            line_of(DOC, &path("apps.shop.stages.stage.virtual_host")),
            Some(15)
        );
        assert_eq!(
            line_of(DOC, &path("apps.shop.stages.stage.proxy.driver")),
            Some(15)
        );
        assert_eq!(line_of(DOC, &path("apps.shop.stages.multi.a")), Some(18));
        assert_eq!(
            line_of(DOC, &path("apps.shop.stages.multi.quoted key")),
            Some(19)
        );
    }

    #[test]
    fn list_items_block_and_flow() {
        assert_eq!(line_of(DOC, &path("apps.shop.networks.[0]")), Some(8));
        assert_eq!(line_of(DOC, &path("apps.shop.networks.[1]")), Some(9));
        assert_eq!(line_of(DOC, &path("apps.shop.command.[0]")), Some(21));
        assert_eq!(line_of(DOC, &path("apps.shop.command.[2]")), Some(22));
    }

    #[test]
    fn absent_paths_fall_back_to_the_deepest_present_part() {
        assert_eq!(line_of(DOC, &path("apps.shop.health.timeout")), Some(10));
        assert_eq!(line_of(DOC, &path("apps.shop.image.deeper")), Some(5));
        assert_eq!(line_of(DOC, &path("apps.shop.networks.[7]")), Some(7));
        assert_eq!(line_of(DOC, &path("nothing.here")), None);
        assert_eq!(line_of(DOC, &KeyPath::root()), None);
    }

    #[test]
    fn through_aliases_lands_on_the_anchor() {
        let doc = "base: &h\n  http: /up\napps:\n  shop:\n    health: *h\n";
        assert_eq!(line_of(doc, &path("apps.shop.health")), Some(5));
        assert_eq!(line_of(doc, &path("apps.shop.health.http")), Some(2));
    }

    #[test]
    fn scalar_text_is_verbatim() {
        let doc = "env: {A: 1.10, B: 0x1F, C: True, D: 'x'}\nl: [1.50]\n";
        assert_eq!(scalar_text(doc, &path("env.A")).as_deref(), Some("1.10"));
        assert_eq!(scalar_text(doc, &path("env.B")).as_deref(), Some("0x1F"));
        assert_eq!(scalar_text(doc, &path("env.C")).as_deref(), Some("True"));
        assert_eq!(scalar_text(doc, &path("env.D")).as_deref(), Some("x"));
        assert_eq!(scalar_text(doc, &path("l.[0]")).as_deref(), Some("1.50"));
        assert_eq!(scalar_text(doc, &path("env")), None);
        assert_eq!(scalar_text(doc, &path("env.Z")), None);
    }
}
