//! Small helpers for writing messages: quoting user values safely, listing choices,
//! suggesting the closest known word.

use std::fmt::Write as _;

/// Longest user value echoed in a message; a hostile file can hold megabyte strings.
const ECHO_LIMIT: usize = 60;

/// `s` cut to a readable length, on a character boundary.
pub(crate) fn truncate(s: &str) -> String {
    match s.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// `s` in double quotes, escaped and cut to a readable length: `"5 parsecs"`.
pub(crate) fn quoted(s: &str) -> String {
    format!("\"{}\"", escaped(s))
}

/// `s` cut to a readable length with quotes, backslashes and control characters escaped, so
/// that a hostile value cannot garble or forge lines of a message.
pub(crate) fn escaped(s: &str) -> String {
    let mut out = String::new();
    for c in truncate(s).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "{}", c.escape_default());
            }
            c => out.push(c),
        }
    }
    out
}

/// `a, b, c` — for lists of allowed keys or known names.
pub(crate) fn list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| s.as_ref())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub(crate) fn closest<'c, S: AsRef<str>>(word: &str, candidates: &'c [S]) -> Option<&'c str> {
    let word: Vec<char> = word.to_lowercase().chars().take(64).collect();
    candidates
        .iter()
        .map(|c| c.as_ref())
        .filter_map(|c| {
            let candidate: Vec<char> = c.to_lowercase().chars().collect();
            let limit = (candidate.len() / 3).max(1);
            // Lengths alone can rule a candidate out; most hostile input stops here.
            if word.len().abs_diff(candidate.len()) > limit {
                return None;
            }
            // So can the letters used: cheap, and it spares most of the full distances.
            if letter_bound(&word, &candidate) > limit {
                return None;
            }
            let d = distance(&word, &candidate);
            (d <= limit).then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A lower bound of `distance`: every edit changes the letter counts by at most two (a
/// swap of neighbours by none). Letters share 64 buckets, which can only lower the bound.
fn letter_bound(a: &[char], b: &[char]) -> usize {
    let mut counts = [0i32; 64];
    for c in a {
        counts[*c as usize % 64] += 1;
    }
    for c in b {
        counts[*c as usize % 64] -= 1;
    }
    let diff: u32 = counts.iter().map(|n| n.unsigned_abs()).sum();
    (diff as usize).div_ceil(2)
}

/// Edit distance counting a swap of neighbours as one edit (`prot` → `port`), over three
/// rolling rows of the usual table.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["health", "image", "port", "stages"];
        assert_eq!(closest("helth", &keys), Some("health"));
        assert_eq!(closest("Image", &keys), Some("image"));
        assert_eq!(closest("prot", &keys), Some("port"));
        assert_eq!(closest("colour", &keys), None);
    }

    #[test]
    fn quotes_and_truncates() {
        assert_eq!(quoted("a\"b\n"), r#""a\"b\n""#);
        let long = "x".repeat(1000);
        assert_eq!(quoted(&long).chars().count(), ECHO_LIMIT + 3);
    }
}
