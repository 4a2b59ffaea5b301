//! Hostile input to the spec loader (issue 6), as properties over generated input, on top of
//! the hand-made cases in src/spec/tests/hostile.rs: whatever the bytes — YAML-shaped trees
//! of spec keys and junk, mutations of the documented example, alias bombs of any shape, deep
//! nesting of any mix, files near the size cap — loading returns, promptly, and never panics;
//! an error is a spec error (exit 2) with a message. The CLI is checked end to end on a few
//! of them. No engine is needed.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bgdeploy::error::Error;
use bgdeploy::spec::{MAX_SPEC_BYTES, parse, parse_bytes};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::harness::TestEnv;

/// Per input. Generous for a debug build on a loaded two-core machine; a hang or a
/// quadratic blow-up takes far longer.
const PROMPT: Duration = Duration::from_secs(10);

const EXAMPLE: &str = include_str!("../../deploy.example.yaml");

/// Every key the spec knows, so that generated trees reach deep into validation.
const KEYS: &[&str] = &[
    "apps",
    "shop",
    "image",
    "port",
    "command",
    "env",
    "secrets",
    "networks",
    "health",
    "http",
    "tcp",
    "cmd",
    "docker",
    "expect",
    "interval",
    "timeout",
    "healthy",
    "deadline",
    "proxy",
    "driver",
    "container",
    "virtual_host",
    "reload",
    "config_path",
    "verify",
    "url",
    "host",
    "docker_gen_container",
    "signal",
    "front_internal",
    "drain",
    "stop_timeout",
    "keep",
    "volumes",
    "memory",
    "cpus",
    "logging",
    "options",
    "labels",
    "ulimits",
    "restart",
    "stages",
    "stage",
    "production",
    "<<",
    "x",
];

/// Scalars that are valid somewhere, invalid elsewhere, or odd everywhere.
const SCALARS: &[&str] = &[
    "shop:1",
    "8080",
    "0",
    "-1",
    "65536",
    "99999999999999999999999",
    "1e309",
    "0x1F",
    "0o17",
    ".inf",
    "-.nan",
    "~",
    "null",
    "true",
    "no",
    "yes",
    "500ms",
    "2s",
    "1m30s",
    "5 parsecs",
    "200-399",
    "399-200",
    "200",
    "nginx",
    "nginx-proxy",
    "command",
    "none",
    "HUP",
    "/up",
    "''",
    "\"\"",
    "\"\\u0000\"",
    "\"\\e[31m\"",
    "\"é\u{301}\"",
    "'it''s'",
    "!!binary aGk=",
    "!!str 1",
    "!custom x",
    "\"\u{202e}txt\"",
    "[]",
    "{}",
    "[a, 1, {b: c}]",
    "&a x",
    "*a",
];

/// A YAML tree, rendered in block style (flow style inside some scalars above).
#[derive(Debug, Clone)]
enum Tree {
    Scalar(String),
    Map(Vec<(String, Tree)>),
    Seq(Vec<Tree>),
}

impl Tree {
    fn render(&self, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match self {
            Tree::Scalar(s) => {
                let _ = writeln!(out, "{pad}{s}");
            }
            Tree::Map(pairs) => {
                for (k, v) in pairs {
                    match v {
                        Tree::Scalar(s) => {
                            let _ = writeln!(out, "{pad}{k}: {s}");
                        }
                        Tree::Map(m) if m.is_empty() => {
                            let _ = writeln!(out, "{pad}{k}: {{}}");
                        }
                        Tree::Seq(q) if q.is_empty() => {
                            let _ = writeln!(out, "{pad}{k}: []");
                        }
                        _ => {
                            let _ = writeln!(out, "{pad}{k}:");
                            v.render(indent + 2, out);
                        }
                    }
                }
            }
            Tree::Seq(items) => {
                for item in items {
                    match item {
                        Tree::Scalar(s) => {
                            let _ = writeln!(out, "{pad}- {s}");
                        }
                        _ => {
                            let _ = writeln!(out, "{pad}-");
                            item.render(indent + 2, out);
                        }
                    }
                }
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.render(0, &mut out);
        out
    }
}

fn scalar() -> impl Strategy<Value = Tree> {
    prop_oneof![
        4 => prop::sample::select(SCALARS).prop_map(|s| Tree::Scalar(s.to_string())),
        1 => "[a-z0-9_./-]{0,12}".prop_map(|s| Tree::Scalar(format!("\"{s}\""))),
    ]
}

/// Any tree of spec keys and scalars.
fn tree() -> impl Strategy<Value = Tree> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(
                (
                    prop::sample::select(KEYS).prop_map(str::to_string),
                    inner.clone()
                ),
                0..6
            )
            .prop_map(Tree::Map),
            prop::collection::vec(inner, 0..5).prop_map(Tree::Seq),
        ]
    })
}

/// `key: value` with a value mostly from `values`, sometimes any tree, sometimes absent.
fn field(
    key: &'static str,
    values: &'static [&'static str],
) -> BoxedStrategy<Option<(String, Tree)>> {
    prop_oneof![
        2 => Just(None),
        5 => prop::sample::select(values).prop_map(move |v| Some((key.to_string(), Tree::Scalar(v.to_string())))),
        1 => tree().prop_map(move |t| Some((key.to_string(), t))),
    ]
    .boxed()
}

fn map_of(fields: Vec<BoxedStrategy<Option<(String, Tree)>>>) -> impl Strategy<Value = Tree> {
    (
        fields,
        prop::collection::vec(
            (prop::sample::select(KEYS).prop_map(str::to_string), tree()),
            0..2,
        ),
    )
        .prop_map(|(fields, extra)| Tree::Map(fields.into_iter().flatten().chain(extra).collect()))
}

fn health() -> impl Strategy<Value = Tree> {
    map_of(vec![
        field("http", &["/up", "up", "\"\"", "/a b"]),
        field("tcp", &["true", "false", "8080", "0"]),
        field("cmd", &["[true]", "[]", "[sh, -c, 'exit 0']"]),
        field("docker", &["true", "false"]),
        field("expect", &["200", "200-399", "399-200", "600", "2xx"]),
        field(
            "interval",
            &[
                "500ms",
                "0s",
                "1ms",
                "5 parsecs",
                "-1s",
                "10000000000000000s",
            ],
        ),
        field("timeout", &["2s", "0s", "x"]),
        field("healthy", &["1", "0", "-1", "4294967296"]),
        field("deadline", &["60s", "0s", "1y"]),
    ])
}

fn proxy() -> impl Strategy<Value = Tree> {
    map_of(vec![
        field(
            "driver",
            &["nginx", "nginx-proxy", "command", "none", "haproxy"],
        ),
        field("container", &["proxy", "\"\"", "a/b"]),
        field("virtual_host", &["shop.example.com", "\"\"", "*.x"]),
        field("reload", &["[nginx, -s, reload]", "[]", "nginx"]),
        field(
            "config_path",
            &["/etc/nginx/conf.d/x.conf", "relative.conf", "/"],
        ),
        field("command", &["[./switch.sh]", "[]"]),
        field("docker_gen_container", &["gen", "\"\""]),
        field("signal", &["HUP", "USR1", "KILL", "9"]),
        field(
            "verify",
            &["{url: 'http://127.0.0.1/up', host: a}", "{url: x}", "{}"],
        ),
    ])
}

/// An app: every spec key, each valid, invalid, absent or any tree.
fn app() -> impl Strategy<Value = Tree> {
    let stage = map_of(vec![
        field("image", &["shop:2", "\"\""]),
        field("virtual_host", &["stage.example.com"]),
        field("keep", &["0", "3", "-1"]),
        field("port", &["8081", "70000"]),
    ]);
    let stages = prop::collection::vec(
        (
            prop::sample::select(&["stage", "production", "a b", "\"\"", "x/y"][..])
                .prop_map(str::to_string),
            stage,
        ),
        0..3,
    )
    .prop_map(Tree::Map);
    (
        map_of(vec![
            field("image", &["shop:1", "\"\"", "UPPER:case", "a b"]),
            field("port", &["8080", "0", "65536", "-1", "x", "1e3"]),
            field("command", &["[bin/server]", "[]", "bin/server"]),
            field("env", &["{A: b}", "{A: [1]}", "{}", "[A]"]),
            field("secrets", &["[DB]", "[\"\"]", "DB"]),
            field("networks", &["[shared]", "[]"]),
            field("front_internal", &["true", "false", "maybe"]),
            field("drain", &["5s", "0s", "x"]),
            field("stop_timeout", &["10s", "-1s"]),
            field("keep", &["2", "0", "-1", "1000000"]),
        ]),
        prop::option::of(health()),
        prop::option::of(proxy()),
        prop::option::of(stages),
    )
        .prop_map(|(base, health, proxy, stages)| {
            let Tree::Map(mut pairs) = base else {
                unreachable!()
            };
            pairs.extend(health.map(|h| ("health".to_string(), h)));
            pairs.extend(proxy.map(|p| ("proxy".to_string(), p)));
            pairs.extend(stages.map(|s| ("stages".to_string(), s)));
            Tree::Map(pairs)
        })
}

/// A whole spec: `apps:` with a few apps, or (rarely) any tree at all.
fn document() -> impl Strategy<Value = String> {
    let apps = prop::collection::vec(
        (
            prop::sample::select(&["shop", "api", "a.b-c_d", "-x", "\"\"", "é"][..])
                .prop_map(str::to_string),
            app(),
        ),
        0..3,
    );
    prop_oneof![
        6 => apps.prop_map(|apps| Tree::Map(vec![("apps".to_string(), Tree::Map(apps))]).text()),
        1 => tree().prop_map(|t| t.text()),
    ]
}

/// Edits at random places in the documented example: bytes that matter to YAML.
fn mutated_example() -> impl Strategy<Value = Vec<u8>> {
    let edit = (
        0..EXAMPLE.len(),
        prop::sample::select(
            &[
                "",
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
                "!t ",
                "\"",
                "'",
                "#",
                "---\n",
                "?",
                "|",
                ">",
                "\t",
                "\0",
                "\u{feff}",
                "\u{85}",
                "\u{2028}",
                "\x7f",
                "9999999999",
                "-",
            ][..],
        ),
        0usize..4,
    );
    prop::collection::vec(edit, 1..12).prop_map(|edits| {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        for (at, text, delete) in edits {
            let at = at.min(bytes.len());
            let end = (at + delete).min(bytes.len());
            bytes.splice(at..end, text.bytes());
        }
        bytes
    })
}

/// Anchors that each repeat the previous one `fanout` times, `depth` times over.
fn alias_bomb() -> impl Strategy<Value = String> {
    (2usize..24, 2usize..14, prop::bool::ANY).prop_map(|(fanout, depth, flow)| {
        let mut text = String::from("a0: &a0 [lol, lol]\n");
        for d in 1..depth {
            let refs = vec![format!("*a{}", d - 1); fanout].join(", ");
            if flow {
                let _ = writeln!(text, "a{d}: &a{d} [{refs}]");
            } else {
                let _ = writeln!(text, "a{d}: &a{d}");
                for _ in 0..fanout {
                    let _ = writeln!(text, "  - *a{}", d - 1);
                }
            }
        }
        let _ = writeln!(text, "apps: {{shop: *a{}}}", depth - 1);
        text
    })
}

/// Nesting of any mix of flow and block openers, closed or not.
fn deep_nesting() -> impl Strategy<Value = String> {
    let opener = prop::sample::select(&["[", "{a: ", "- ", "a:\n", "[{", "? "][..]);
    (
        prop::collection::vec(opener, 1..64),
        1usize..2000,
        prop::bool::ANY,
    )
        .prop_map(|(pattern, repeat, close)| {
            let mut text = String::from("apps: ");
            for _ in 0..repeat {
                for p in &pattern {
                    text.push_str(p);
                    if p.ends_with('\n') {
                        text.push_str(&" ".repeat(2));
                    }
                }
                if text.len() > MAX_SPEC_BYTES / 2 {
                    break;
                }
            }
            if close {
                text.push_str(&"]".repeat(repeat.min(10_000)));
            }
            text
        })
}

/// Large files around the cap: a repeated line (valid-looking or junk).
fn huge() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(
            &[
                "    junk: 1\n",
                "#\n",
                "- [a, b, c]\n",
                "x",
                "\"",
                "  shop: {image: a, port: 1, stages: {s: {}}}\n",
            ][..],
        ),
        (MAX_SPEC_BYTES - 4096)..(MAX_SPEC_BYTES + 4096),
    )
        .prop_map(|(line, size)| {
            let mut bytes = b"apps:\n".to_vec();
            while bytes.len() < size {
                bytes.extend_from_slice(line.as_bytes());
            }
            bytes.truncate(size);
            bytes
        })
}

/// Loads `bytes`; asserts it returned promptly and that an error is a spec error (exit 2)
/// with a message. A panic fails the property by itself.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let result = parse_bytes(bytes, "deploy.yaml");
    let took = started.elapsed();
    prop_assert!(took < PROMPT, "took {took:?} for {} bytes", bytes.len());
    match result {
        Ok(spec) => {
            // Whatever validated must also resolve, for every app and stage it names.
            for (app, stages) in &spec.apps {
                for stage in stages.stages.keys() {
                    prop_assert!(spec.deploy(app, stage).is_ok());
                }
            }
        }
        Err(err) => {
            let message = err.to_string();
            prop_assert!(!message.trim().is_empty());
            prop_assert!(message.len() < 1 << 16, "a {} byte message", message.len());
            prop_assert_eq!(Error::from(err).code(), 2);
        }
    }
    Ok(())
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Shrunk failures are printed; a regressions file in the tree is not wanted.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn generated_documents_load_or_fail_promptly(text in document()) {
        check(text.as_bytes())?;
    }

    #[test]
    fn the_example_with_random_edits_loads_or_fails_promptly(bytes in mutated_example()) {
        check(&bytes)?;
    }

    #[test]
    fn random_bytes_fail_promptly(bytes in prop::collection::vec(any::<u8>(), 0..8192)) {
        check(&bytes)?;
        // Text of random characters too (valid UTF-8, so it reaches the parser).
        let text: String = String::from_utf8_lossy(&bytes).into_owned();
        check(text.as_bytes())?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn alias_bombs_are_refused_promptly(text in alias_bomb()) {
        check(text.as_bytes())?;
    }

    #[test]
    fn deep_nesting_is_refused_promptly(text in deep_nesting()) {
        check(text.as_bytes())?;
        prop_assert!(parse(&text, "deploy.yaml").is_err());
    }
}

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn files_around_the_size_cap_load_or_fail_promptly(bytes in huge()) {
        check(&bytes)?;
        if bytes.len() > MAX_SPEC_BYTES {
            prop_assert!(parse_bytes(&bytes, "deploy.yaml").is_err());
        }
    }
}

/// End to end: `bgdeploy validate` on hostile files exits 2 with a message, promptly.
#[test]
fn validate_exits_2_on_hostile_files() {
    let env = TestEnv::new();
    let bomb = {
        let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (prev, name) in "abcdefghi".chars().zip("bcdefghij".chars()) {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            let _ = writeln!(text, "{name}: &{name} [{refs}]");
        }
        text + "apps: *j\n"
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "junk",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("bomb", bomb.into_bytes()),
        (
            "deep",
            format!("apps: {}", "[".repeat(100_000)).into_bytes(),
        ),
        ("huge", vec![b'#'; MAX_SPEC_BYTES + 1]),
        ("bom16", b"\xff\xfea\x00p\x00p\x00s\x00:\x00".to_vec()),
    ];
    for (name, bytes) in cases {
        let file = env.dir().join(format!("{name}.yaml"));
        std::fs::write(&file, &bytes).expect("writing the file");
        let started = Instant::now();
        let run = env
            .bgdeploy()
            .args(["-f", file.to_str().expect("a UTF-8 path"), "validate"])
            .timeout(Duration::from_secs(20))
            .run();
        let took = started.elapsed();
        run.assert_code(2);
        assert!(!run.stderr.trim().is_empty(), "{name}: a message\n{run}");
        assert!(!run.stderr.contains("panicked"), "{name}\n{run}");
        assert!(
            took < Duration::from_secs(5),
            "{name}: took {took:?}\n{run}"
        );
    }
    // A device that never ends is cut at the cap, not read forever.
    let run = env
        .bgdeploy()
        .args(["-f", "/dev/zero", "validate"])
        .timeout(Duration::from_secs(20))
        .run();
    run.assert_code(2).stderr_contains("larger than");
}
