use std::collections::HashMap;
use std::path::Path;

use super::*;

/// A docker configuration directory with a context store, and an environment pointing at it.
struct Store {
    dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut vars = HashMap::new();
        vars.insert(
            "DOCKER_CONFIG".to_string(),
            dir.path().display().to_string(),
        );
        Store { dir, vars }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn set(mut self, key: &str, value: &str) -> Store {
        self.vars.insert(key.to_string(), value.to_string());
        self
    }

    /// A context as `docker context create NAME --docker host=HOST` writes it.
    fn context(self, name: &str, host: &str) -> Store {
        let json = format!(
            r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
        );
        self.meta(name, &json)
    }

    fn meta(self, name: &str, json: &str) -> Store {
        let dir = self
            .path()
            .join("contexts/meta")
            .join(context_dir_name(name));
        std::fs::create_dir_all(&dir).expect("creating the meta directory");
        std::fs::write(dir.join("meta.json"), json).expect("writing meta.json");
        self
    }

    fn tls(self, name: &str, files: &[&str]) -> Store {
        let dir = self.tls_dir(name);
        std::fs::create_dir_all(&dir).expect("creating the tls directory");
        for file in files {
            std::fs::write(dir.join(file), "-----BEGIN-----\n").expect("writing a pem");
        }
        self
    }

    fn tls_dir(&self, name: &str) -> PathBuf {
        self.path()
            .join("contexts/tls")
            .join(context_dir_name(name))
            .join("docker")
    }

    fn config(self, json: &str) -> Store {
        std::fs::write(self.path().join("config.json"), json).expect("writing config.json");
        self
    }

    fn resolve(&self, flag: Option<&str>) -> Result<Resolved, ContextError> {
        resolve(flag, &|key| self.vars.get(key).cloned())
    }
}

#[test]
fn the_store_is_keyed_by_the_sha256_of_the_name() {
    // As computed by `printf th1 | sha256sum`.
    assert_eq!(
        context_dir_name("th1"),
        "585acf1152797d6e81c0226b708668883e003001d9d8460d7a62ce6b0f630ae2"
    );
}

#[test]
fn nothing_set_means_the_local_socket() {
    let store = Store::new();
    let got = store.resolve(None).expect("resolves");
    assert_eq!(got.source, Source::Default);
    assert_eq!(got.host, DEFAULT_HOST);
    assert_eq!(got.context, None);
    assert!(got.tls_from_env);
}

#[test]
fn the_flag_wins_over_everything() {
    let store = Store::new()
        .context("a", "tcp://a:2375")
        .context("b", "tcp://b:2375")
        .context("c", "tcp://c:2375")
        .config(r#"{"currentContext":"c"}"#)
        .set("DOCKER_HOST", "tcp://env:2375")
        .set("DOCKER_CONTEXT", "b");
    let got = store.resolve(Some("a")).expect("resolves");
    assert_eq!(got.source, Source::Flag);
    assert_eq!(got.context.as_deref(), Some("a"));
    assert_eq!(got.host, "tcp://a:2375");
    assert!(!got.tls_from_env);
}

#[test]
fn docker_host_wins_over_docker_context_and_the_current_context() {
    let store = Store::new()
        .context("b", "tcp://b:2375")
        .config(r#"{"currentContext":"b"}"#)
        .set("DOCKER_HOST", "ssh://deploy@web1")
        .set("DOCKER_CONTEXT", "b");
    let got = store.resolve(None).expect("resolves");
    assert_eq!(got.source, Source::DockerHost);
    assert_eq!(got.host, "ssh://deploy@web1");
    assert_eq!(got.context, None);
    assert!(got.tls_from_env);
}

#[test]
fn docker_context_wins_over_the_current_context() {
    let store = Store::new()
        .context("b", "tcp://b:2375")
        .context("c", "tcp://c:2375")
        .config(r#"{"currentContext":"c"}"#)
        .set("DOCKER_CONTEXT", "b");
    let got = store.resolve(None).expect("resolves");
    assert_eq!(got.source, Source::DockerContextEnv);
    assert_eq!(got.host, "tcp://b:2375");
}

#[test]
fn the_current_context_of_config_json_is_used_last() {
    let store = Store::new()
        .context("c", "ssh://root@10.0.0.3")
        .config(r#"{"auths":{},"currentContext":"c","psFormat":"x"}"#);
    let got = store.resolve(None).expect("resolves");
    assert_eq!(
        got.source,
        Source::ConfigCurrent(store.path().join("config.json"))
    );
    assert_eq!(got.context.as_deref(), Some("c"));
    assert_eq!(got.host, "ssh://root@10.0.0.3");
}

#[test]
fn empty_values_count_as_unset() {
    let store = Store::new()
        .context("c", "tcp://c:2375")
        .config(r#"{"currentContext":"c"}"#)
        .set("DOCKER_HOST", "")
        .set("DOCKER_CONTEXT", "");
    let got = store.resolve(Some("")).expect("resolves");
    assert_eq!(got.host, "tcp://c:2375");
}

#[test]
fn the_default_context_is_docker_host_or_the_local_socket() {
    let store = Store::new().set("DOCKER_CONTEXT", "default");
    let got = store.resolve(None).expect("resolves");
    assert_eq!(got.source, Source::DockerContextEnv);
    assert_eq!(got.context.as_deref(), Some("default"));
    assert_eq!(got.host, DEFAULT_HOST);
    assert!(got.tls_from_env);

    let store = Store::new().set("DOCKER_HOST", "tcp://h:2376");
    let got = store.resolve(Some("default")).expect("resolves");
    assert_eq!(got.source, Source::Flag);
    assert_eq!(got.host, "tcp://h:2376");
    assert!(got.tls_from_env);
}

#[test]
fn docker_config_defaults_to_home_dot_docker() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let config = home.path().join(".docker");
    let store = Store {
        dir: tempfile::tempdir().expect("a temporary directory"),
        vars: HashMap::from([("HOME".to_string(), home.path().display().to_string())]),
    };
    // Write the context under $HOME/.docker instead of the store's own directory.
    let meta = config.join("contexts/meta").join(context_dir_name("h"));
    std::fs::create_dir_all(&meta).expect("creating the meta directory");
    std::fs::write(
        meta.join("meta.json"),
        r#"{"Name":"h","Endpoints":{"docker":{"Host":"tcp://home:2375"}}}"#,
    )
    .expect("writing meta.json");
    std::fs::write(config.join("config.json"), r#"{"currentContext":"h"}"#)
        .expect("writing config.json");
    let got = store.resolve(None).expect("resolves");
    assert_eq!(got.host, "tcp://home:2375");
}

#[test]
fn tls_files_and_skip_tls_verify_are_reported() {
    let store = Store::new()
        .meta(
            "t",
            r#"{"Name":"t","Endpoints":{"docker":{"Host":"tcp://t:2376","SkipTLSVerify":true}}}"#,
        )
        .tls("t", &["ca.pem", "cert.pem", "key.pem"])
        .context("plain", "tcp://p:2375");
    let got = store.resolve(Some("t")).expect("resolves");
    assert_eq!(got.tls_dir, Some(store.tls_dir("t")));
    assert!(got.skip_tls_verify);
    let got = store.resolve(Some("plain")).expect("resolves");
    assert_eq!(got.tls_dir, None);
    assert!(!got.skip_tls_verify);
}

#[test]
fn an_unknown_context_lists_the_ones_that_exist() {
    let store = Store::new()
        .context("zeta", "tcp://z:2375")
        .context("alpha", "tcp://a:2375");
    let err = store.resolve(Some("nope")).expect_err("unknown");
    assert!(err.is_unknown(), "{err}");
    let ContextError::Unknown { existing, .. } = &err else {
        unreachable!()
    };
    assert_eq!(existing, &["default", "alpha", "zeta"]);
    let text = err.to_string();
    assert!(
        text.contains("`nope` (from --context) does not exist"),
        "{text}"
    );
    assert!(text.contains("default, alpha, zeta"), "{text}");

    let store = Store::new().config(r#"{"currentContext":"gone"}"#);
    let text = store.resolve(None).expect_err("unknown").to_string();
    assert!(text.contains("from currentContext in"), "{text}");
    assert!(text.contains("the contexts are: default."), "{text}");
}

#[test]
fn a_malformed_meta_json_is_an_error_naming_the_file() {
    let store = Store::new().meta("bad", "{not json");
    let err = store.resolve(Some("bad")).expect_err("malformed");
    let path = store
        .path()
        .join("contexts/meta")
        .join(context_dir_name("bad"))
        .join("meta.json");
    assert!(
        matches!(&err, ContextError::Meta { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    let store = Store::new().meta("k8s", r#"{"Name":"k8s","Endpoints":{"kubernetes":{}}}"#);
    let err = store.resolve(Some("k8s")).expect_err("no docker endpoint");
    assert!(matches!(err, ContextError::NoDockerHost { .. }), "{err:?}");

    let store = Store::new().meta("num", r#"{"Name":"num","Endpoints":{"docker":{"Host":7}}}"#);
    let err = store.resolve(Some("num")).expect_err("wrong type");
    assert!(err.to_string().contains("Endpoints.docker"), "{err}");
}

#[test]
fn a_malformed_config_json_is_an_error_only_when_it_decides() {
    let store = Store::new().config("{oops").context("a", "tcp://a:2375");
    let err = store.resolve(None).expect_err("malformed");
    assert!(matches!(err, ContextError::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("config.json"), "{err}");
    // Something earlier in the order decided: config.json is not read.
    assert_eq!(
        store.resolve(Some("a")).expect("resolves").host,
        "tcp://a:2375"
    );
}

#[test]
fn a_named_context_without_a_config_directory_says_so() {
    let store = Store {
        dir: tempfile::tempdir().expect("a temporary directory"),
        vars: HashMap::new(),
    };
    let err = store.resolve(Some("x")).expect_err("no HOME");
    assert!(matches!(err, ContextError::NoConfigDir { .. }), "{err:?}");
    assert_eq!(store.resolve(None).expect("resolves").host, DEFAULT_HOST);
}
