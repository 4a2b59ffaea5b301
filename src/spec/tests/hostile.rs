//! Hostile input: whatever the bytes, parsing returns an error promptly and never panics.
//! Inputs are generated here rather than stored, so the limits they probe stay visible.

use std::time::{Duration, Instant};

use super::{MINIMAL, invalid, snap};
use crate::spec::{MAX_SPEC_BYTES, SpecError, load, parse, parse_bytes};

/// Generous, so that a loaded CI machine does not fail it; a hang or a quadratic blow-up
/// takes minutes.
const PROMPT: Duration = Duration::from_secs(120);

#[track_caller]
fn parse_promptly(text: &str) -> Result<crate::spec::Spec, SpecError> {
    let start = Instant::now();
    let result = parse(text, "deploy.yaml");
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    result
}

#[track_caller]
fn syntax_error(text: &str) -> String {
    match parse_promptly(text) {
        Err(err @ SpecError::Syntax { .. }) => err.to_string(),
        other => panic!("expected a Syntax error, got {other:?}"),
    }
}

#[test]
fn deep_flow_nesting() {
    // Refused before parsing, where the parser's cost is depth × tokens.
    let text = format!("apps: {}", "[".repeat(MAX_SPEC_BYTES - 10));
    snap!("hostile_deep_nesting", syntax_error(&text));
    // Refused by yaml_serde's own limit, after parsing.
    let closed = format!("apps: {}{}", "[".repeat(200), "]".repeat(200));
    assert!(syntax_error(&closed).contains("nested more than 128 levels"));
}

#[test]
fn deep_block_nesting() {
    let text: String = (0..300)
        .map(|depth| format!("{}a:\n", "  ".repeat(depth)))
        .collect();
    assert!(syntax_error(&text).contains("nested more than 128 levels"));
}

#[test]
fn billion_laughs() {
    let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (prev, name) in "abcdefghi".chars().zip("bcdefghij".chars()) {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    text.push_str("apps: *j\n");
    syntax_error(&text);
}

#[test]
fn quadratic_alias_expansion() {
    // One anchored list of 40k items, aliased 200 times: 8M nodes from 100 KiB of text.
    // yaml_serde's repetition limit allows this; our node budget does not.
    let items = vec!["x"; 40_000].join(",");
    let aliases = vec!["*big"; 200].join(", ");
    let text = format!("big: &big [{items}]\napps: [{aliases}]\n");
    assert!(text.len() < MAX_SPEC_BYTES);
    snap!("hostile_alias_expansion", syntax_error(&text));
}

#[test]
fn long_string_alias_expansion() {
    let text = format!(
        "s: &s \"{}\"\napps: [{}]\n",
        "x".repeat(500_000),
        vec!["*s"; 20].join(", ")
    );
    assert!(syntax_error(&text).contains("MiB"));
}

#[test]
fn size_cap() {
    let text = "#".repeat(MAX_SPEC_BYTES + 1);
    let err = parse_promptly(&text).unwrap_err();
    assert!(matches!(err, SpecError::TooLarge { .. }), "{err:?}");
    snap!("too_large", err.to_string());
    assert!(matches!(
        parse_bytes(text.as_bytes(), "deploy.yaml"),
        Err(SpecError::TooLarge { .. })
    ));
    // At the cap exactly it is read (and is only a comment).
    assert!(matches!(
        parse_promptly(&text[1..]),
        Err(SpecError::Empty { .. })
    ));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploy.yaml");
    std::fs::write(&file, text.as_bytes()).unwrap();
    assert!(matches!(load(&file), Err(SpecError::TooLarge { .. })));
}

#[test]
fn non_utf8_reports_the_first_bad_byte() {
    let mut bytes = MINIMAL.as_bytes().to_vec();
    let offset = bytes.len();
    bytes.extend_from_slice(b"    keep: \xC3\x28\n");
    match parse_bytes(&bytes, "deploy.yaml") {
        Err(SpecError::NotUtf8 {
            offset: got, line, ..
        }) => {
            assert_eq!(got, offset + "    keep: ".len());
            assert_eq!(line, 7);
        }
        other => panic!("expected NotUtf8, got {other:?}"),
    }
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn binary_junk_never_panics() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..300 {
        let len = (rng.next() % 4096) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let result = parse_bytes(&bytes, "junk");
        assert!(result.is_err() || len == 0, "round {round}");
    }
}

#[test]
fn yaml_flavoured_junk_never_panics() {
    const PIECES: &[&str] = &[
        "apps",
        ":",
        " ",
        "\n",
        "  ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a ",
        "*a",
        "<<: ",
        "!t ",
        "\"",
        "'",
        "#",
        "---\n",
        "...",
        "?",
        "|\n",
        ">\n",
        "\t",
        "\0",
        "\u{1b}",
        "shop",
        "image",
        "port",
        "8080",
        "stages",
        "health",
        "http",
        "proxy",
        "driver",
        "é",
        "\u{feff}",
        "%YAML 1.2\n",
    ];
    let mut rng = XorShift(42);
    for _ in 0..2000 {
        let count = (rng.next() % 60) as usize;
        let text: String = (0..count)
            .map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize])
            .collect();
        let _ = parse_promptly(&text);
    }
}

#[test]
fn every_single_deletion_from_the_example_is_handled() {
    let example = include_str!("../../../deploy.example.yaml");
    let stripped: String = example
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for (i, _) in stripped.char_indices() {
        let mut text = stripped.clone();
        text.remove(i);
        let _ = parse_promptly(&text);
    }
}

#[test]
fn thousands_of_problems_are_all_listed_promptly() {
    let keys: String = (0..5000).map(|i| format!("    junk{i}: 1\n")).collect();
    let text = format!("{MINIMAL}{keys}");
    let start = Instant::now();
    let SpecError::Invalid { problems, .. } = invalid(&text) else {
        panic!("expected Invalid");
    };
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    assert_eq!(problems.len(), 5000);
    assert_eq!(problems[0].line, Some(7));
    assert_eq!(problems[4999].line, Some(5006));
}

#[test]
fn a_megabyte_of_problems_is_reported_promptly() {
    let keys: String = (0..45_000)
        .map(|i| format!("    junk_key_{i:06}: 1\n"))
        .collect();
    let text = format!("{MINIMAL}{keys}");
    assert!(text.len() > MAX_SPEC_BYTES * 3 / 4);
    let start = Instant::now();
    let SpecError::Invalid { problems, .. } = invalid(&text) else {
        panic!("expected Invalid");
    };
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    assert_eq!(problems.len(), 45_000);
    assert!(problems[0].line.is_some());
}

#[test]
fn user_text_in_messages_is_escaped_and_cut() {
    let text = format!(
        "apps:\n  \"sh\\nop\":\n    image: shop:1\n    port: \"{}\"\n    \"bad\\u001b[31m\": 1\n    stages: {{p: }}\n",
        "9".repeat(100_000)
    );
    let message = invalid(&text).to_string();
    assert!(message.len() < 2000, "{} bytes", message.len());
    // One header line and one line per problem: no value can add lines or escapes.
    assert_eq!(message.lines().count(), 4, "{message}");
    assert!(!message.contains('\u{1b}'));
    snap!("hostile_escaped", message);
}
