//! `TestEnv`: one test's prefix, its docker objects, and their removal.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use bollard::models::NetworkCreateRequest;

use super::cli::BgDeploy;
use super::testhost::{TestHost, Transport};
use super::{DEMO_V1, docker, quiet_docker};

/// One test's slice of the engine, and a scratch directory.
pub struct TestEnv {
    prefix: String,
    dir: tempfile::TempDir,
    /// Set by `on_host`: the test host this test works on, instead of the machine's engine.
    target: Option<(&'static TestHost, Transport)>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            prefix: unique_prefix(),
            dir: tempfile::Builder::new()
                .prefix("bgdeploy-it-")
                .tempdir()
                .expect("a temporary directory"),
            target: None,
        }
    }

    /// A `TestEnv` on a test host: its `bgdeploy` runs reach the host's engine over
    /// `transport` (DOCKER_HOST etc. set), while its own docker CLI calls (builders, cleanup)
    /// use the host's unix socket, independent of the transport under test.
    pub fn on_host(host: &'static TestHost, transport: Transport) -> TestEnv {
        let mut env = TestEnv::new();
        env.target = Some((host, transport));
        env
    }

    /// Another env with this one's prefix, on `target` (the machine's engine with `None`): a
    /// fleet's hosts carry the same names (one spec names the app and the proxy container for
    /// every host). Each env removes what carries the prefix on its own engine.
    pub fn sibling(&self, target: Option<(&'static TestHost, Transport)>) -> TestEnv {
        TestEnv {
            prefix: self.prefix.clone(),
            dir: tempfile::Builder::new()
                .prefix("bgdeploy-it-")
                .tempdir()
                .expect("a temporary directory"),
            target,
        }
    }

    /// The test host this env works on, and over which transport bgdeploy reaches it.
    pub fn target(&self) -> Option<(&'static TestHost, Transport)> {
        self.target
    }

    /// The docker CLI against this env's engine (the machine's, or the test host's); panics
    /// unless it succeeds; its trimmed stdout.
    pub fn docker(&self, args: &[&str]) -> String {
        match self.target {
            Some((host, _)) => host.docker(args),
            None => docker(args),
        }
    }

    /// Like `docker`, without panicking: stdout, or what went wrong.
    pub fn quiet_docker(&self, args: &[&str]) -> Result<String, String> {
        let Some((host, _)) = self.target else {
            return quiet_docker(args);
        };
        let out = host.docker_cli(Transport::Unix).args(args).output();
        match out {
            Ok(out) if out.status.success() => {
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
            Ok(out) => Err(format!(
                "docker {} on test host {}: {}",
                args.join(" "),
                host.name(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!("docker {}: {e}", args.join(" "))),
        }
    }

    /// `bgt<random>_`: part of every name this test creates, and how cleanup finds them.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix><suffix>`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn network(&self, name: &str) -> NetworkBuilder<'_> {
        self.assert_owned(name);
        NetworkBuilder {
            name: name.to_string(),
            args: Vec::new(),
            env: self,
        }
    }

    pub fn container(&self, name: &str) -> ContainerBuilder<'_> {
        self.assert_owned(name);
        ContainerBuilder {
            name: name.to_string(),
            image: DEMO_V1.to_string(),
            args: Vec::new(),
            env: self,
        }
    }

    /// Creates a second network named `name` (which must exist already), returning its ID.
    /// The docker CLI refuses duplicates (it asks the engine to check); the engine API itself
    /// accepts them, and bgdeploy must cope with the result (DESIGN §7).
    pub async fn duplicate_network(&self, name: &str) -> String {
        self.assert_owned(name);
        let client = match self.target {
            Some((host, _)) => bollard::Docker::connect_with_unix(
                &host.unix_url(),
                120,
                bollard::API_DEFAULT_VERSION,
            ),
            None => bollard::Docker::connect_with_defaults(),
        };
        let docker = client
            .expect("a bollard client")
            .negotiate_version()
            .await
            .expect("the engine's API version");
        let request = NetworkCreateRequest {
            name: name.to_string(),
            ..Default::default()
        };
        docker
            .create_network(request)
            .await
            .expect("creating a duplicate network")
            .id
    }

    /// `docker network connect NETWORK CONTAINER`.
    pub fn connect(&self, network: &str, container: &str) {
        self.docker(&["network", "connect", network, container]);
    }

    /// The app's app containers on this env's engine: (name, image, state), newest first.
    pub fn app_containers(&self, app: &str) -> Vec<(String, String, String)> {
        let out = self.docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=bgdeploy.app={app}"),
            "--format",
            "{{.Names}}\t{{.Image}}\t{{.State}}\t{{.Label \"bgdeploy.kind\"}}",
        ]);
        out.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() == 4 && f[3] == "app").then(|| (f[0].into(), f[1].into(), f[2].into()))
            })
            .collect()
    }

    /// Stops a container at once (the demo app needs no graceful stop).
    pub fn kill(&self, container: &str) {
        self.docker(&["kill", container]);
    }

    /// The `bgdeploy` binary, run in this test's scratch directory.
    pub fn bgdeploy(&self) -> BgDeploy<'_> {
        BgDeploy::new(self)
    }

    /// Names without the prefix would escape cleanup and collide across parallel tests.
    fn assert_owned(&self, name: &str) {
        assert!(
            name.contains(&self.prefix),
            "`{name}` must contain the test prefix `{}`",
            self.prefix
        );
    }

    /// Never panics: it runs in `Drop`, also while a failed test unwinds.
    fn cleanup(&self) {
        let mut failures = Vec::new();
        let containers = self.owned(&["ps", "-a", "--no-trunc", "--format", "{{.ID}}\t{{.Names}}"]);
        if !containers.is_empty() {
            let ids: Vec<&str> = containers.iter().map(String::as_str).collect();
            failures.extend(
                self.quiet_docker(&[&["rm", "-f", "-v"], ids.as_slice()].concat())
                    .err(),
            );
        }
        // After the containers: a volume in use cannot be removed.
        let volumes = self.owned(&["volume", "ls", "--format", "{{.Name}}\t{{.Name}}"]);
        if !volumes.is_empty() {
            let names: Vec<&str> = volumes.iter().map(String::as_str).collect();
            failures.extend(
                self.quiet_docker(&[&["volume", "rm"], names.as_slice()].concat())
                    .err(),
            );
        }
        // By ID: duplicate names are ambiguous to `docker network rm NAME`.
        let networks = self.owned(&[
            "network",
            "ls",
            "--no-trunc",
            "--format",
            "{{.ID}}\t{{.Name}}",
        ]);
        for id in &networks {
            if self.quiet_docker(&["network", "rm", id]).is_ok() {
                continue;
            }
            // Something outside this test was attached to it (a shared proxy, say).
            let attached = self.endpoints(id);
            for container in &attached {
                let _ = self.quiet_docker(&["network", "disconnect", "-f", id, container]);
            }
            failures.extend(self.quiet_docker(&["network", "rm", id]).err());
        }
        if !failures.is_empty() {
            eprintln!(
                "cleanup of `*{}*` left something behind:\n{}",
                self.prefix,
                failures.join("\n")
            );
        }
    }

    /// IDs from a `{{.ID}}\t{{.Name}}` listing whose names contain the prefix.
    fn owned(&self, listing: &[&str]) -> Vec<String> {
        let text = self.quiet_docker(listing).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.split_once('\t'))
            .filter(|(_, name)| name.contains(&self.prefix))
            .map(|(id, _)| id.to_string())
            .collect()
    }

    fn endpoints(&self, network: &str) -> Vec<String> {
        let format = "{{range $id, $e := .Containers}}{{$id}} {{end}}";
        let text = self
            .quiet_docker(&["network", "inspect", "--format", format, network])
            .unwrap_or_default();
        text.split_whitespace().map(str::to_string).collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Unique across parallel tests and test processes, and across runs (a crashed run's
/// leftovers do not collide with a new run that happens to get the same pid).
fn unique_prefix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut h = RandomState::new().build_hasher();
    std::process::id().hash(&mut h);
    COUNTER.fetch_add(1, Ordering::Relaxed).hash(&mut h);
    SystemTime::now().hash(&mut h);
    let mut n = h.finish();
    let mut s = String::from("bgt");
    for _ in 0..7 {
        s.push(char::from(
            b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize],
        ));
        n /= 36;
    }
    s.push('_');
    s
}

pub struct NetworkBuilder<'a> {
    name: String,
    args: Vec<String>,
    env: &'a TestEnv,
}

impl NetworkBuilder<'_> {
    pub fn internal(mut self) -> Self {
        self.args.push("--internal".into());
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.args
            .extend(["--label".into(), format!("{key}={value}")]);
        self
    }

    pub fn labels(self, labels: &[(String, String)]) -> Self {
        labels.iter().fold(self, |b, (k, v)| b.label(k, v))
    }

    /// Dual-stack; the IPv6 subnet given, or from the engine's pool (Engine 27+ has one).
    pub fn ipv6(mut self, subnet: Option<&str>) -> Self {
        self.args.push("--ipv6".into());
        if let Some(subnet) = subnet {
            self.args.extend(["--subnet".into(), subnet.to_string()]);
        }
        self
    }

    /// Creates it; returns the network's full ID.
    pub fn create(self) -> String {
        let mut args = vec!["network", "create"];
        args.extend(self.args.iter().map(String::as_str));
        args.push(&self.name);
        self.env.docker(&args)
    }
}

pub struct ContainerBuilder<'a> {
    name: String,
    image: String,
    args: Vec<String>,
    env: &'a TestEnv,
}

impl ContainerBuilder<'_> {
    pub fn image(mut self, image: &str) -> Self {
        self.image = image.to_string();
        self
    }

    /// The network it starts on (`--network`); connect more with `TestEnv::connect`.
    pub fn network(mut self, network: &str) -> Self {
        self.args.extend(["--network".into(), network.to_string()]);
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.args
            .extend(["--label".into(), format!("{key}={value}")]);
        self
    }

    pub fn labels(self, labels: &[(String, String)]) -> Self {
        labels.iter().fold(self, |b, (k, v)| b.label(k, v))
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    /// `docker run -d`; returns the container's full ID.
    pub fn run(self) -> String {
        self.docker("run", &["-d"])
    }

    /// `docker create`: never started (like bgdeploy's lock).
    pub fn create(self) -> String {
        self.docker("create", &[])
    }

    fn docker(&self, verb: &str, extra: &[&str]) -> String {
        let mut args = vec![verb];
        args.extend_from_slice(extra);
        args.extend(["--name", &self.name]);
        args.extend(self.args.iter().map(String::as_str));
        args.push(&self.image);
        self.env.docker(&args)
    }
}
