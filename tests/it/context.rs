//! `engine::context::resolve` reads the contexts the real docker CLI writes
//! (`docker context create`, `docker context use`), with DOCKER_CONFIG in a scratch directory.

use std::path::Path;
use std::process::{Command, Stdio};

use bgdeploy::engine::context::{Resolved, Source, resolve};

use crate::harness::testhost::{EngineVersion, test_host};

/// The docker CLI with DOCKER_CONFIG=`config` and nothing else of the developer's choice of
/// engine; panics unless it succeeds.
fn docker_cli(config: &Path, args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_CONFIG", config)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "docker {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn resolve_in(config: &Path, flag: Option<&str>) -> Resolved {
    let config = config.display().to_string();
    resolve(flag, &|key| {
        (key == "DOCKER_CONFIG").then(|| config.clone())
    })
    .unwrap_or_else(|e| panic!("resolving {flag:?}: {e}"))
}

#[test]
fn a_context_made_by_docker_context_create_is_resolved() {
    let config = tempfile::tempdir().expect("a temporary directory");
    let dir = config.path();
    docker_cli(
        dir,
        &[
            "context",
            "create",
            "th1",
            "--docker",
            "host=tcp://192.0.2.10:2375",
        ],
    );
    docker_cli(
        dir,
        &[
            "context",
            "create",
            "th2",
            "--docker",
            "host=ssh://deploy@web1:2222",
        ],
    );

    let got = resolve_in(dir, Some("th1"));
    assert_eq!(got.source, Source::Flag);
    assert_eq!(got.context.as_deref(), Some("th1"));
    assert_eq!(got.host, "tcp://192.0.2.10:2375");
    assert_eq!(got.tls_dir, None);
    assert!(!got.skip_tls_verify);

    // No context chosen yet: the local socket, as `docker context ls` shows.
    assert_eq!(resolve_in(dir, None).source, Source::Default);
    // `docker context use` writes currentContext to config.json.
    docker_cli(dir, &["context", "use", "th2"]);
    let got = resolve_in(dir, None);
    assert_eq!(got.source, Source::ConfigCurrent(dir.join("config.json")));
    assert_eq!(got.host, "ssh://deploy@web1:2222");

    let config_var = dir.display().to_string();
    let err = resolve(Some("th3"), &|key| {
        (key == "DOCKER_CONFIG").then(|| config_var.clone())
    })
    .expect_err("th3 does not exist");
    assert!(err.is_unknown(), "{err}");
    assert!(err.to_string().contains("default, th1, th2"), "{err}");
}

#[test]
fn a_tls_context_to_a_test_host_is_resolved_with_its_certificates() {
    let Some(host) = test_host(EngineVersion::E20) else {
        return;
    };
    let config = tempfile::tempdir().expect("a temporary directory");
    let dir = config.path();
    let certs = host.cert_dir();
    let endpoint = format!(
        "host={},ca={},cert={},key={}",
        host.tls_url(),
        certs.join("ca.pem").display(),
        certs.join("cert.pem").display(),
        certs.join("key.pem").display()
    );
    docker_cli(dir, &["context", "create", "th1", "--docker", &endpoint]);
    // The context is real: the docker CLI reaches the test host through it.
    assert_eq!(
        docker_cli(
            dir,
            &[
                "--context",
                "th1",
                "version",
                "--format",
                "{{.Server.Version}}"
            ]
        ),
        host.engine_version()
    );

    let got = resolve_in(dir, Some("th1"));
    assert_eq!(got.host, host.tls_url());
    assert!(!got.skip_tls_verify);
    let tls = got.tls_dir.expect("the context's TLS directory");
    for file in ["ca.pem", "cert.pem", "key.pem"] {
        let copied = std::fs::read(tls.join(file))
            .unwrap_or_else(|e| panic!("{}: {e}", tls.join(file).display()));
        let original = std::fs::read(certs.join(file)).expect("the test host's certificate");
        assert_eq!(copied, original, "{file} in {}", tls.display());
    }
}
