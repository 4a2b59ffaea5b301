//! The nginx driver's server block: pure text from the app, stage, host name and backends, so
//! it is snapshot-tested and `plan` could show it.
//!
//! Backends are IP literals on the front network: nothing has to resolve when nginx loads the
//! config (a host name in `proxy_pass` must resolve at load time, or `nginx -t` fails).

use std::fmt::Write as _;

use super::Backend;

/// The upstream's name, unique per app and stage so that several apps can share one nginx:
/// `bgdeploy_<app>_<stage>_<hash>`. App and stage names may hold `.`, `-` and `_`, which
/// makes both `a_b`+`c` and `a`+`b_c` read `a_b_c`; the hash of the exact pair keeps them apart.
pub fn upstream_name(app: &str, stage: &str) -> String {
    format!(
        "bgdeploy_{}_{}_{:08x}",
        identifier(app),
        identifier(stage),
        fnv1a(&[app.as_bytes(), b"\0", stage.as_bytes()].concat())
    )
}

/// The server block routing `virtual_host` to exactly `backends`; with none, it answers 503
/// so that the host does not fall through to nginx's default server.
///
/// No `default_server` (nginx.conf has one), no upstream `keepalive`: idle connections kept
/// open to an old release would hold its drain for the whole `drain` time.
pub fn render(app: &str, stage: &str, virtual_host: &str, backends: &[Backend]) -> String {
    let upstream = upstream_name(app, stage);
    // nginx-proxy separates several names with commas, nginx with spaces.
    let server_names: Vec<&str> = virtual_host
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by bgdeploy for {app}/{stage} on every switch: edit the deploy spec, not this file."
    );
    if backends.is_empty() {
        let _ = write!(
            out,
            "\nserver {{\n    listen 80;\n    server_name {};\n\n    \
             # No release of {app}/{stage} is live.\n    location / {{\n        return 503;\n    }}\n}}\n",
            server_names.join(" ")
        );
        return out;
    }
    // Short, whatever the app and stage are called: nginx fails to load a config with a
    // variable name longer than its variables_hash_bucket_size allows (64 by default).
    let upgrade = format!(
        "$bgdeploy_conn_{:08x}",
        fnv1a(&[app.as_bytes(), b"\0", stage.as_bytes()].concat())
    );
    let _ = writeln!(
        out,
        "
# WebSocket: pass the client's Upgrade on, and close the upstream connection otherwise.
map $http_upgrade {upgrade} {{
    default upgrade;
    ''      close;
}}

upstream {upstream} {{"
    );
    for backend in backends {
        let _ = writeln!(out, "    server {}; # {}", backend.addr, backend.container);
    }
    let _ = write!(
        out,
        "}}

server {{
    listen 80;
    server_name {names};

    location / {{
        proxy_pass http://{upstream};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection {upgrade};

        proxy_connect_timeout 5s;
        proxy_send_timeout 60s;
        proxy_read_timeout 60s;

        # A backend that refuses, times out or answers 502/503 gets the request retried on
        # another one, once. nginx never resends a non-idempotent request (POST, PATCH, ...)
        # that already reached a backend.
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 2;
        proxy_next_upstream_timeout 10s;
    }}
}}
",
        names = server_names.join(" "),
    );
    out
}

/// Letters, digits and `_` only: what nginx allows in a variable name.
fn identifier(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// 32-bit FNV-1a: stable across Rust versions and runs, unlike `DefaultHasher`.
pub(super) fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(container: &str, addr: &str) -> Backend {
        Backend {
            container: container.to_string(),
            addr: addr.parse().expect("a socket address"),
        }
    }

    #[test]
    fn one_backend() {
        insta::assert_snapshot!(render(
            "shop",
            "production",
            "shop.example.com",
            &[backend(
                "shop_production_20261126-031500-4f2a",
                "172.20.0.3:8080"
            )]
        ));
    }

    #[test]
    fn several_backends_several_names_and_ipv6() {
        insta::assert_snapshot!(render(
            "shop-eu",
            "stage.1",
            "shop.example.com,*.shop.example.com",
            &[
                backend("shop-eu_stage.1_a", "172.20.0.3:8080"),
                backend("shop-eu_stage.1_b", "[fd00::3]:8080"),
            ]
        ));
    }

    #[test]
    fn no_backend_answers_503() {
        insta::assert_snapshot!(render("shop", "production", "shop.example.com", &[]));
    }

    #[test]
    fn upstream_names_are_unique_and_valid_identifiers() {
        let a = upstream_name("a_b", "c");
        let b = upstream_name("a", "b_c");
        let c = upstream_name("a-b", "c");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with("bgdeploy_a_b_c_"), "{a}");
        for name in [&a, &b, &c, &upstream_name("shop.eu", "prod-1")] {
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{name}"
            );
        }
        assert_eq!(
            upstream_name("shop", "production"),
            upstream_name("shop", "production")
        );
    }

    #[test]
    fn never_a_default_server() {
        let text = render("shop", "x", "a.example.com", &[backend("c", "10.0.0.2:80")]);
        assert!(!text.contains("default_server"));
        assert!(!render("shop", "x", "a.example.com", &[]).contains("default_server"));
    }
}
