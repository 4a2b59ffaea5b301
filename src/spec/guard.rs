//! A pre-parse check for the one input shape that makes the YAML parser slow.
//!
//! libyaml (as ported in libyaml-rs, under yaml_serde) keeps a slot per open flow collection
//! (`[` or `{`) and scans all of them on every token, so time grows with nesting depth times
//! tokens: 40,000 nested `[` take seconds, 200,000 take minutes. yaml_serde only refuses
//! depth past 128 after the whole file is parsed, which is too late. So before parsing we
//! bound the depth the parser could reach, and refuse a file that could go deeper than
//! `MAX_FLOW_DEPTH`.
//!
//! The bound must never be below the parser's real depth, or a crafted file would slip
//! through. Brackets inside quoted strings, comments and tags are not tokens, but telling
//! where those start needs a YAML lexer. Instead we follow every reading at once: at each
//! character that *might* open a string, comment, tag or directive we keep both
//! possibilities, and keep, per lexical mode, the highest depth any reading gives. There are
//! only seven modes, so this stays linear. Over-counting is possible (an unbalanced `[`
//! inside a string counts), but only absurd files come near the limit that way.

/// Far beyond any real spec, and a depth at which parsing stays fast.
pub(crate) const MAX_FLOW_DEPTH: usize = 256;

#[derive(Clone, Copy)]
enum Mode {
    /// Between tokens, or in a plain scalar.
    Plain,
    Single,
    Double,
    DoubleEscape,
    Comment,
    /// A tag (`!foo`, `!<...>`): its URI may hold `[`, `]`, `,` and `'`.
    Tag,
    /// A `%` directive line, which may hold a tag URI.
    Directive,
}

const MODES: usize = 7;

/// The highest possible depth per mode; `None` when no reading is in that mode.
type Bounds = [Option<usize>; MODES];

/// `Err((line, column))`, 1-based, where the possible depth first exceeds the limit.
pub(crate) fn check_flow_depth(text: &str) -> Result<(), (usize, usize)> {
    let mut bounds: Bounds = [None; MODES];
    bounds[Mode::Plain as usize] = Some(0);
    let (mut line, mut column) = (1, 0);
    let mut prev = '\n';
    for c in text.chars() {
        column += 1;
        let after_space = prev.is_whitespace();
        prev = c;
        let mut next: Bounds = [None; MODES];
        for (mode, bound) in MODES_IN_ORDER.iter().zip(bounds) {
            if let Some(depth) = bound {
                step(*mode, depth, c, after_space, &mut next);
            }
        }
        bounds = next;
        if bounds.iter().flatten().any(|depth| *depth > MAX_FLOW_DEPTH) {
            return Err((line, column));
        }
        if c == '\n' {
            line += 1;
            column = 0;
        }
    }
    Ok(())
}

const MODES_IN_ORDER: [Mode; MODES] = [
    Mode::Plain,
    Mode::Single,
    Mode::Double,
    Mode::DoubleEscape,
    Mode::Comment,
    Mode::Tag,
    Mode::Directive,
];

fn keep(next: &mut Bounds, mode: Mode, depth: usize) {
    let slot = &mut next[mode as usize];
    *slot = Some(slot.map_or(depth, |d| d.max(depth)));
}

/// Every mode reading `c` in `mode` at `depth` could lead to. `after_space`: `c` follows
/// whitespace or starts a line.
fn step(mode: Mode, depth: usize, c: char, after_space: bool, next: &mut Bounds) {
    match mode {
        // After whitespace, `#` always starts a comment (it even ends a plain scalar), so
        // brackets in comments are not counted.
        Mode::Plain if c == '#' && after_space => keep(next, Mode::Comment, depth),
        Mode::Plain => {
            match c {
                '[' | '{' => keep(next, Mode::Plain, depth + 1),
                // Outside strings, comments and tags a closing bracket in a flow collection is
                // always a token: plain scalars end at flow indicators there.
                ']' | '}' => keep(next, Mode::Plain, depth.saturating_sub(1)),
                _ => keep(next, Mode::Plain, depth),
            }
            let opens = match c {
                '\'' => Some(Mode::Single),
                '"' => Some(Mode::Double),
                '#' => Some(Mode::Comment),
                '!' => Some(Mode::Tag),
                '%' => Some(Mode::Directive),
                _ => None,
            };
            if let Some(opened) = opens {
                keep(next, opened, depth);
            }
        }
        Mode::Single => match c {
            // A doubled '' is the end and, at once, a possible new start: Plain covers it.
            '\'' => keep(next, Mode::Plain, depth),
            _ => keep(next, Mode::Single, depth),
        },
        Mode::Double => match c {
            '\\' => keep(next, Mode::DoubleEscape, depth),
            '"' => keep(next, Mode::Plain, depth),
            _ => keep(next, Mode::Double, depth),
        },
        Mode::DoubleEscape => keep(next, Mode::Double, depth),
        Mode::Comment | Mode::Directive => {
            keep(next, mode, depth);
            if matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}') {
                keep(next, Mode::Plain, depth);
            }
        }
        Mode::Tag => {
            keep(next, Mode::Tag, depth);
            step(Mode::Plain, depth, c, after_space, next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("a: {}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn real_specs_pass() {
        assert!(check_flow_depth(&nested(MAX_FLOW_DEPTH)).is_ok());
        let many_balanced = "e: {A: \"[a-z]\", B: '{x}'} # [\n".repeat(10_000);
        assert!(check_flow_depth(&many_balanced).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_where_it_crosses_the_limit() {
        assert_eq!(check_flow_depth(&nested(MAX_FLOW_DEPTH + 1)), Err((1, 260)));
        let lines = "[\n".repeat(MAX_FLOW_DEPTH + 5);
        assert_eq!(check_flow_depth(&lines), Err((MAX_FLOW_DEPTH + 1, 1)));
    }

    #[test]
    fn closing_brackets_inside_strings_comments_and_tags_do_not_hide_depth() {
        // Each of these closes only inside something the parser does not count, so the real
        // depth keeps growing; the bound must too.
        for hider in [
            "']'",
            "\"]\"",
            "\"\\\"]\"",
            "!<a]>",
            "'it''s]'",
            "x # ]\n",
            "#]\n",
        ] {
            let text = format!("a: {}", format!("[{hider}, ").repeat(MAX_FLOW_DEPTH + 1));
            assert!(check_flow_depth(&text).is_err(), "{hider}");
        }
        let apostrophe = format!("a: {}", "[it's, ']', ".repeat(MAX_FLOW_DEPTH + 1));
        assert!(check_flow_depth(&apostrophe).is_err());
    }
}
