//! Key paths: where a value lives in the spec file, spelled the way messages show it
//! (`apps.shop.health.interval`, `apps.shop.networks[1]`).

use std::fmt;

use super::text::{quoted, truncate};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct KeyPath(Vec<Seg>);

impl KeyPath {
    pub(crate) fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        KeyPath(segs)
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    pub(crate) fn segs(&self) -> &[Seg] {
        &self.0
    }
}

/// Keys that would be ambiguous in a dotted path (`my.app`, `a b`, ``) are quoted.
fn needs_quotes(key: &str) -> bool {
    key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if needs_quotes(key) {
                        f.write_str(&quoted(key))?;
                    } else {
                        f.write_str(&truncate(key))?;
                    }
                }
                Seg::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_dotted_with_indexes_and_quotes() {
        let path = KeyPath::root()
            .key("apps")
            .key("my.app")
            .key("networks")
            .index(1);
        assert_eq!(path.to_string(), r#"apps."my.app".networks[1]"#);
        assert_eq!(KeyPath::root().to_string(), "");
    }
}
