//! Where each key and list item of the spec is written, and each scalar as written: built in
//! one pass over libyaml's events once `raw` has accepted the text, then looked up for every
//! problem (no re-parse per problem).
//!
//! yaml_serde, which builds the tree `raw` validates, exposes no positions; libyaml-rs (the
//! parser under it) gives every event its mark. So the same parser reads the same text a second
//! time, once, and this index mirrors the file as written: map keys as written (a YAML merge key
//! is just the key `<<` here, so a merged path resolves to the map that merges it), aliases as
//! links to their anchor (a path through `*h` continues inside `&h`).

use std::collections::HashMap;
use std::mem::MaybeUninit;

use libyaml_rs as sys;

use super::path::{KeyPath, Seg};

/// One node as written: the line of its key (or of itself, for a list item), its text when it
/// is a scalar, and what is below it.
#[derive(Debug, Default)]
struct Entry {
    line: usize,
    text: Option<String>,
    keys: HashMap<String, usize>,
    items: Vec<usize>,
    /// `*name`: the entry of `&name`, whose children are this one's.
    alias: Option<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct Lines {
    entries: Vec<Entry>,
}

impl Lines {
    /// The 1-based line of the last key (or list item) of `path`, or of the deepest part of it
    /// that is written. `None` for the root path, or a path whose first key is not written.
    pub(crate) fn line_of(&self, path: &KeyPath) -> Option<usize> {
        self.walk(path).1
    }

    /// The scalar at `path` as written (`1.10`, `0x1F`, `True`), for values where YAML's typing
    /// would lose what the user meant.
    pub(crate) fn text_of(&self, path: &KeyPath) -> Option<&str> {
        match self.walk(path) {
            (Some(id), _) => self.entries[id].text.as_deref(),
            _ => None,
        }
    }

    /// The entry at `path` when all of it is written, and the line of its deepest written part.
    fn walk(&self, path: &KeyPath) -> (Option<usize>, Option<usize>) {
        let Some(mut id) = (!self.entries.is_empty()).then_some(0) else {
            return (None, None);
        };
        let mut line = None;
        for seg in path.segs() {
            // An alias has no children of its own; anchors were defined before use, so this ends.
            while let Some(target) = self.entries[id].alias {
                id = target;
            }
            let entry = &self.entries[id];
            let next = match seg {
                Seg::Key(key) => entry.keys.get(key).copied(),
                Seg::Index(i) => entry.items.get(*i).copied(),
            };
            let Some(next) = next else {
                return (None, line);
            };
            id = next;
            line = Some(self.entries[id].line);
        }
        (Some(id), line)
    }
}

/// Where an open map or list is in the event stream.
struct Open {
    id: usize,
    /// In a map: the key just read, waiting for its value, with its line.
    key: Option<(String, usize)>,
    map: bool,
}

/// Indexes `text`; an index that stops early (text `raw` accepted always parses) only loses
/// lines, never gives wrong ones.
pub(crate) fn index(text: &str) -> Lines {
    let mut lines = Lines::default();
    let mut anchors: HashMap<String, usize> = HashMap::new();
    let mut open: Vec<Open> = Vec::new();
    let _ = events(text, |event| {
        let line = event.line;
        // A key of the innermost map, when that map waits for one.
        if let Some(top) = open.last_mut().filter(|o| o.map && o.key.is_none()) {
            let key = match &event.kind {
                Kind::End => {
                    open.pop();
                    return;
                }
                Kind::Scalar(text) => text.clone(),
                Kind::Alias(name) => anchors
                    .get(name)
                    .and_then(|id| lines.entries[*id].text.clone())
                    .unwrap_or_default(),
                // A map or list as a key: `raw` refuses those, so nothing looks it up.
                Kind::Map | Kind::Seq => String::new(),
            };
            top.key = Some((key, line));
            if let Kind::Map | Kind::Seq = event.kind {
                let id = lines.add(Entry::default());
                let map = matches!(event.kind, Kind::Map);
                open.push(Open { id, key: None, map });
            }
            return;
        }
        if let Kind::End = event.kind {
            open.pop();
            return;
        }
        let (parent, line) = match open.last_mut() {
            Some(top) if top.map => match top.key.take() {
                Some((key, key_line)) => (Some((top.id, Some(key))), key_line),
                None => (None, line),
            },
            Some(top) => (Some((top.id, None)), line),
            None => (None, line),
        };
        let mut entry = Entry {
            line,
            ..Entry::default()
        };
        match &event.kind {
            Kind::Scalar(text) => entry.text = Some(text.clone()),
            Kind::Alias(name) => entry.alias = anchors.get(name).copied(),
            _ => {}
        }
        let id = lines.add(entry);
        match parent {
            Some((parent, Some(key))) => {
                lines.entries[parent].keys.entry(key).or_insert(id);
            }
            Some((parent, None)) => lines.entries[parent].items.push(id),
            None => {}
        }
        if let Some(anchor) = event.anchor {
            anchors.insert(anchor, id);
        }
        if let Kind::Map | Kind::Seq = event.kind {
            open.push(Open {
                id,
                key: None,
                map: matches!(event.kind, Kind::Map),
            });
        }
    });
    lines
}

impl Lines {
    fn add(&mut self, entry: Entry) -> usize {
        self.entries.push(entry);
        self.entries.len() - 1
    }
}

enum Kind {
    Scalar(String),
    Alias(String),
    Map,
    Seq,
    /// The end of a map or list.
    End,
}

struct Event {
    kind: Kind,
    anchor: Option<String>,
    /// 1-based.
    line: usize,
}

/// Frees the parser however `events` ends.
struct Parser(Box<MaybeUninit<sys::yaml_parser_t>>);

impl Drop for Parser {
    fn drop(&mut self) {
        // SAFETY: only built after yaml_parser_initialize succeeded.
        unsafe { sys::yaml_parser_delete(self.0.as_mut_ptr()) }
    }
}

/// Calls `f` with every node event of the first document of `text`; `Err` when libyaml
/// reports an error (the events before it were delivered).
fn events(text: &str, mut f: impl FnMut(Event)) -> Result<(), ()> {
    let mut raw: Box<MaybeUninit<sys::yaml_parser_t>> = Box::new_uninit();
    // SAFETY: the parser lives in a box that is not moved until it is deleted (it points at
    // itself), `text` outlives it, and every event is read per its type, then deleted.
    unsafe {
        if sys::yaml_parser_initialize(raw.as_mut_ptr()).fail {
            return Err(());
        }
        let mut parser = Parser(raw);
        let p = parser.0.as_mut_ptr();
        sys::yaml_parser_set_input_string(p, text.as_ptr(), text.len() as _);
        loop {
            let mut event = MaybeUninit::<sys::yaml_event_t>::uninit();
            if sys::yaml_parser_parse(p, event.as_mut_ptr()).fail {
                return Err(());
            }
            let e = event.assume_init_ref();
            let line = e.start_mark.line as usize + 1;
            let (kind, anchor) = match e.type_ {
                sys::YAML_SCALAR_EVENT => {
                    let s = e.data.scalar;
                    let bytes = std::slice::from_raw_parts(s.value, s.length as usize);
                    let text = String::from_utf8_lossy(bytes).into_owned();
                    (Some(Kind::Scalar(text)), c_string(s.anchor))
                }
                sys::YAML_ALIAS_EVENT => (
                    Some(Kind::Alias(
                        c_string(e.data.alias.anchor).unwrap_or_default(),
                    )),
                    None,
                ),
                sys::YAML_MAPPING_START_EVENT => {
                    (Some(Kind::Map), c_string(e.data.mapping_start.anchor))
                }
                sys::YAML_SEQUENCE_START_EVENT => {
                    (Some(Kind::Seq), c_string(e.data.sequence_start.anchor))
                }
                sys::YAML_MAPPING_END_EVENT | sys::YAML_SEQUENCE_END_EVENT => {
                    (Some(Kind::End), None)
                }
                _ => (None, None),
            };
            let done = matches!(
                e.type_,
                sys::YAML_DOCUMENT_END_EVENT | sys::YAML_STREAM_END_EVENT
            );
            sys::yaml_event_delete(event.as_mut_ptr());
            if let Some(kind) = kind {
                f(Event { kind, anchor, line });
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// A NUL-terminated string from libyaml, or `None` for a null pointer.
///
/// # Safety
/// `ptr` is null or points at a NUL-terminated string that lives until this returns.
unsafe fn c_string(ptr: *const u8) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: per this function's contract.
    let c = unsafe { std::ffi::CStr::from_ptr(ptr.cast()) };
    Some(c.to_string_lossy().into_owned())
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

    fn line_of(text: &str, p: &KeyPath) -> Option<usize> {
        index(text).line_of(p)
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
        let at = |p| line_of(DOC, &path(p));
        assert_eq!(at("apps.shop.stages.stage.virtual_host"), Some(15));
        assert_eq!(at("apps.shop.stages.stage.proxy.driver"), Some(15));
        assert_eq!(at("apps.shop.stages.multi.a"), Some(18));
        assert_eq!(at("apps.shop.stages.multi.quoted key"), Some(19));
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
        let lines = index("env: {A: 1.10, B: 0x1F, C: True, D: 'x'}\nl: [1.50]\n");
        let text = |p| lines.text_of(&path(p));
        assert_eq!(text("env.A"), Some("1.10"));
        assert_eq!(text("env.B"), Some("0x1F"));
        assert_eq!(text("env.C"), Some("True"));
        assert_eq!(text("env.D"), Some("x"));
        assert_eq!(text("l.[0]"), Some("1.50"));
        assert_eq!(text("env"), None);
        assert_eq!(text("env.Z"), None);
    }
}
