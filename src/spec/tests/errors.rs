//! Every kind of error, with its message as the user sees it.

use super::{MINIMAL, invalid, snap, valid};
use crate::spec::{Problem, SpecError, load, parse_bytes};

fn message(yaml: &str) -> String {
    invalid(yaml).to_string()
}

/// `MINIMAL` with `extra` added to the app `shop` (indented by the caller as app keys).
fn shop_with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

#[test]
fn reports_unknown_key_bad_duration_and_missing_image_together() {
    let yaml = "\
apps:
  shop:
    port: 8080
    colour: blue
    health:
      http: /up
      interval: 5 parsecs
    stages:
      production:
";
    let SpecError::Invalid { path, problems } = invalid(yaml) else {
        panic!("expected Invalid");
    };
    assert_eq!(path, "deploy.yaml");
    let at = |key_path: &str| -> &Problem {
        problems
            .iter()
            .find(|p| p.key_path == key_path)
            .unwrap_or_else(|| panic!("no problem at {key_path}: {problems:#?}"))
    };
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        at("apps.shop.colour")
            .message
            .contains("unknown key `colour`")
    );
    assert_eq!(at("apps.shop.colour").line, Some(4));
    let duration = at("apps.shop.health.interval");
    assert_eq!(duration.line, Some(7));
    assert_eq!(
        duration.to_string(),
        "apps.shop.health.interval (line 7): \"5 parsecs\" is not a duration \
         (examples: 500ms, 2s, 1m30s)"
    );
    assert!(at("apps.shop").message.contains("`image` is not set"));
    snap!("invalid_three_problems", message(yaml));
}

#[test]
fn read_missing_file() {
    let err = load(std::path::Path::new("no-such-dir/deploy.yaml")).unwrap_err();
    assert!(matches!(err, SpecError::Read { .. }));
    snap!("read_missing_file", err.to_string());
}

#[test]
fn read_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path()).unwrap_err();
    // Opening a directory succeeds on Linux; reading it fails.
    assert!(matches!(err, SpecError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn not_utf8() {
    let mut bytes = b"apps:\n  shop:\n    image: caf".to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"\n");
    let err = parse_bytes(&bytes, "deploy.yaml").unwrap_err();
    assert!(
        matches!(
            err,
            SpecError::NotUtf8 {
                offset: 28,
                line: 3,
                ..
            }
        ),
        "{err:?}"
    );
    snap!("not_utf8", err.to_string());
}

#[test]
fn not_utf8_utf16() {
    let bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("apps:".bytes().flat_map(|b| [b, 0]))
        .collect();
    snap!(
        "not_utf8_utf16",
        parse_bytes(&bytes, "deploy.yaml").unwrap_err().to_string()
    );
}

#[test]
fn empty() {
    for text in [
        "",
        "\n\n",
        "# only a comment\n",
        "null\n",
        "~",
        "---\n",
        "--- # c\n...\n",
    ] {
        let err = invalid(text);
        assert!(matches!(err, SpecError::Empty { .. }), "{text:?}: {err:?}");
    }
    snap!("empty", invalid("").to_string());
}

#[test]
fn syntax() {
    let err = invalid("apps:\n  shop:\n    image: [shop:1\n    port: 8080\n");
    assert!(
        matches!(err, SpecError::Syntax { line: Some(_), .. }),
        "{err:?}"
    );
    snap!("syntax", err.to_string());
}

#[test]
fn syntax_tab_indent() {
    snap!("syntax_tab", message("apps:\n\tshop:\n"));
}

#[test]
fn syntax_duplicate_key() {
    snap!(
        "syntax_duplicate_key",
        message("apps:\n  shop:\n    image: a\n    port: 1\n    image: b\n")
    );
}

#[test]
fn syntax_two_documents() {
    snap!("syntax_two_documents", message("apps: {}\n---\napps: {}\n"));
}

#[test]
fn syntax_unknown_anchor() {
    snap!("syntax_unknown_anchor", message("apps: *nothing\n"));
}

#[test]
fn top_level() {
    snap!("top_level_not_a_map", message("- shop\n- blog\n"));
    snap!(
        "top_level_no_apps",
        message("shop:\n  image: shop:1\n  port: 80\n")
    );
    snap!("top_level_empty_apps", message("apps: {}\n"));
    snap!("top_level_apps_not_a_map", message("apps: [shop]\n"));
}

#[test]
fn unknown_keys_at_every_level() {
    let yaml = "\
apps:
  shop:
    image: shop:1
    port: 8080
    imgae: typo
    virtual_host: shop.example.com
    health:
      http: /up
      intervall: 1s
    proxy:
      driver: nginx-proxy
      container: proxy
      virtual_host: shop.example.com
      drvier: x
      verify: {url: \"http://127.0.0.1/\", hots: shop.example.com}
    stages:
      production: {colour: blue, stages: {}}
";
    snap!("unknown_keys", message(yaml));
}

#[test]
fn missing_required_keys() {
    snap!(
        "missing_image_port_stages",
        message("apps:\n  shop:\n    keep: 1\n")
    );
    snap!(
        "missing_stages_empty",
        message("apps:\n  shop:\n    image: shop:1\n    port: 80\n    stages: {}\n")
    );
    snap!(
        "stages_not_a_map",
        message(
            "apps:\n  shop:\n    image: shop:1\n    port: 80\n    stages: [stage, production]\n"
        )
    );
}

#[test]
fn durations() {
    let yaml = shop_with(
        "    drain: 5\n    stop_timeout: 1.5\n    health:\n      tcp: true\n      \
         interval: 0s\n      timeout: 5 parsecs\n      deadline: -1\n",
    );
    snap!("durations", message(&yaml));
}

#[test]
fn zero_is_fine_where_waiting_is_optional() {
    let spec = valid(&shop_with("    drain: 0\n    stop_timeout: 0s\n"));
    let deploy = spec.deploy("shop", "production").unwrap();
    assert!(deploy.drain.is_zero() && deploy.stop_timeout.is_zero());
}

#[test]
fn ports() {
    for (port, expected) in [
        ("0", "port 0 is out of range"),
        ("70000", "port 70000 is out of range"),
        ("\"8080\"", "write it without quotes"),
        ("80.5", "found the number 80.5"),
        ("http", "found the string \"http\""),
    ] {
        let yaml =
            format!("apps:\n  shop:\n    image: shop:1\n    port: {port}\n    stages: {{p: }}\n");
        let msg = message(&yaml);
        assert!(msg.contains(expected), "{port}: {msg}");
    }
    snap!(
        "port_quoted",
        message("apps:\n  shop:\n    image: shop:1\n    port: \"8080\"\n    stages: {p: }\n")
    );
}

#[test]
fn counts() {
    snap!(
        "counts",
        message(&shop_with(
            "    keep: -1\n    health:\n      tcp: true\n      healthy: 0\n"
        ))
    );
    assert!(message(&shop_with("    keep: 1.5\n")).contains("expected a whole number"));
}

#[test]
fn health_modes() {
    snap!(
        "health_several_modes",
        message(&shop_with(
            "    health:\n      http: /up\n      tcp: true\n"
        ))
    );
    snap!(
        "health_no_mode",
        message(&shop_with("    health:\n      interval: 1s\n"))
    );
    snap!(
        "health_false_modes",
        message(
            "apps:\n  shop:\n    image: shop:1\n    port: 80\n    health: {tcp: false}\n    \
             stages:\n      x: {health: {docker: false}}\n"
        )
    );
}

#[test]
fn health_values() {
    let yaml = shop_with("    health:\n      http: up\n      expect: 399-200\n");
    snap!("health_http_and_expect", message(&yaml));
    for (expect, fragment) in [
        ("600", "outside the HTTP status codes"),
        ("abc", "expected a status code or range"),
        ("\"200-\"", "expected a status code or range"),
    ] {
        let msg = message(&shop_with(&format!(
            "    health: {{http: /up, expect: {expect}}}\n"
        )));
        assert!(msg.contains(fragment), "{expect}: {msg}");
    }
    snap!(
        "health_expect_without_http",
        message(&shop_with("    health: {tcp: 9000, expect: 200}\n"))
    );
}

#[test]
fn proxy_drivers() {
    snap!(
        "proxy_unknown_driver",
        message(&shop_with("    proxy: {driver: nginx_proxy}\n"))
    );
    snap!(
        "proxy_no_driver",
        message(&shop_with("    proxy: {container: proxy}\n"))
    );
    snap!(
        "proxy_driver_needs",
        message(&shop_with("    proxy: {driver: nginx}\n"))
    );
    snap!(
        "proxy_foreign_keys",
        message(&shop_with(
            "    proxy:\n      driver: nginx-proxy\n      container: proxy\n      \
             virtual_host: shop.example.com\n      config_path: /etc/nginx/conf.d/x.conf\n      \
             command: [./switch]\n"
        ))
    );
    snap!(
        "proxy_values",
        message(&shop_with(
            "    proxy:\n      driver: command\n      command: ./switch --now\n      \
             verify: {url: \"https://shop.example.com/\", host: \"shop.example.com; evil\"}\n"
        ))
    );
    snap!(
        "proxy_verify_without_url",
        message(&shop_with(
            "    proxy: {driver: none, verify: {host: shop.example.com}}\n"
        ))
    );
}

#[test]
fn proxy_docker_gen_keys() {
    let app = |name: &str, proxy: &str| {
        format!(
            "  {name}:\n    image: {name}:1\n    port: 80\n    stages: {{production: {{}}}}\n    \
             proxy:\n      container: proxy\n      virtual_host: {name}.example.com\n{proxy}"
        )
    };
    let yaml = [
        "apps:\n".to_owned(),
        app("lonely", "      driver: nginx-proxy\n      signal: HUP\n"),
        app(
            "stopper",
            "      driver: nginx-proxy\n      docker_gen_container: gen\n      signal: SIGTERM\n",
        ),
        app(
            "both",
            "      driver: nginx-proxy\n      docker_gen_container: gen\n      reload: [nginx, -s, reload]\n",
        ),
        app(
            "plain",
            "      driver: nginx\n      config_path: /etc/nginx/conf.d/p.conf\n      \
             docker_gen_container: gen\n      signal: 9\n",
        ),
    ]
    .concat();
    snap!("proxy_docker_gen", message(&yaml));
}

#[test]
fn names() {
    snap!(
        "bad_names",
        message("apps:\n  my app:\n    image: shop:1\n    port: 80\n    stages:\n      eu/prod:\n")
    );
}

#[test]
fn env_secrets_networks() {
    let yaml = shop_with(
        "    env:\n      \"\": x\n      A=B: x\n      LIST: [1]\n      NOTHING:\n      \
         DATABASE_URL: x\n    secrets: [DATABASE_URL, 2FA, TOKEN, TOKEN]\n    \
         networks: [shared, host, shared, \"\"]\n",
    );
    snap!("env_secrets_networks", message(&yaml));
}

#[test]
fn lists_of_arguments() {
    let yaml = shop_with(
        "    command: bin/server --port 8080\n    health: {cmd: []}\n    \
         proxy: {driver: command, command: [{a: b}]}\n",
    );
    snap!("argument_lists", message(&yaml));
}

#[test]
fn scalars_of_the_wrong_type() {
    let yaml = "\
apps:
  shop:
    image: Shop:1
    port: 80
    front_internal: yes
    proxy:
      driver: nginx-proxy
      container: \"-proxy\"
      virtual_host: 1.10
    stages: {production: }
";
    snap!("wrong_scalars", message(yaml));
}

#[test]
fn unknown_app_and_stage() {
    let spec = valid(
        "apps:\n  shop: {image: shop:1, port: 80, stages: {stage: , production: }}\n  \
         blog: {image: blog:1, port: 80, stages: {production: }}\n",
    );
    snap!(
        "unknown_app",
        spec.deploy("shpo", "stage").unwrap_err().to_string()
    );
    snap!(
        "unknown_app_far",
        spec.deploy("wiki", "stage").unwrap_err().to_string()
    );
    snap!(
        "unknown_stage",
        spec.deploy("shop", "x").unwrap_err().to_string()
    );
    assert_eq!(
        spec.deploy("shop", "x").unwrap_err().to_string(),
        "stage `x` is not listed for app `shop`; its stages are: stage, production"
    );
    assert!(spec.deploy("blog", "production").is_ok());
}
