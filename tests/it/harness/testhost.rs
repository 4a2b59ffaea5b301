//! Test hosts: stand-ins for remote machines (DESIGN.md §5). Each is a network namespace with its
//! own dockerd and sshd, made by `tests/testhost.sh`, reached from the test process only over
//! a veth pair — nothing routes from here to its containers' bridges, as from a CI runner to a
//! remote host.
//!
//! `test_host(EngineVersion::E20)` starts one lazily, once per test process, in the first free
//! address block 10.250.N.0/24; it is removed when the test process exits (an `atexit`
//! handler), and a run that died (killed, Ctrl-C) is cleaned up by the next one: the script
//! records this process as the host's owner and `testhost.sh reap` removes hosts whose owner
//! has ended. Under `CI` a host that cannot start fails the test; elsewhere, without root,
//! `ip` or `nsenter`, the test is skipped with a message.
//!
//! The tests of one process share a host: its address pools hold 20 user-defined networks
//! (10 app/stages), so tests on it must use few at a time and clean up (`TestEnv::on_host`).

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, Once, OnceLock};

/// Which Docker Engine the test host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineVersion {
    /// Debian 12's docker.io 20.10 (API 1.41), the same engine as the machine's.
    E20,
    /// Debian forky's docker.io 28.5 (API 1.51), fetched into a cache on first use.
    E28,
}

impl EngineVersion {
    fn flag(self) -> &'static str {
        match self {
            EngineVersion::E20 => "20",
            EngineVersion::E28 => "28",
        }
    }
}

/// How a client reaches the test host's engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `unix:///run/bgth-NAME/docker.sock`: the engine's socket is on this filesystem, its
    /// networks are still in another namespace.
    Unix,
    /// `tcp://IP:2375`, plain.
    Tcp,
    /// `tcp://IP:2376` with `DOCKER_TLS_VERIFY=1` and `DOCKER_CERT_PATH`.
    Tls,
    /// `ssh://root@IP` through the system ssh (key and host options in `~/.ssh/config`);
    /// sshd allows forwarding there, as Debian sets it up.
    Ssh,
    /// `ssh://root@IP:2222`: the same sshd on a port where it forwards nothing
    /// (`AllowTcpForwarding no`, `AllowStreamLocalForwarding no`), as hardened servers are.
    SshNoForwarding,
}

/// A running test host. Lives until the test process exits.
#[derive(Debug)]
pub struct TestHost {
    name: String,
    engine: EngineVersion,
    version: String,
    api: String,
    ip: Ipv4Addr,
    sock: PathBuf,
    netns_path: PathBuf,
    cert_dir: PathBuf,
    /// Images already copied from the machine's engine, by this process.
    loaded: Mutex<HashSet<String>>,
}

pub(super) enum Slot {
    Ready(TestHost),
    Skipped(String),
    Failed(String),
}

/// The test host running `engine`, started on first use; `None` (after saying why on stderr)
/// when this machine cannot run one and `CI` is unset. Panics when it cannot start under `CI`,
/// or when it fails to start for any reason other than missing tools or privileges.
pub fn test_host(engine: EngineVersion) -> Option<&'static TestHost> {
    static E20: OnceLock<Slot> = OnceLock::new();
    static E28: OnceLock<Slot> = OnceLock::new();
    let cell = match engine {
        EngineVersion::E20 => &E20,
        EngineVersion::E28 => &E28,
    };
    cell.get_or_init(|| start(engine))
        .ready(&format!("the Engine {} test host", engine.flag()))
}

impl Slot {
    /// The host; `None` (after saying why) when this machine cannot run one and `CI` is unset;
    /// panics, naming `what`, when it failed to start or CI is set.
    pub(super) fn ready(&self, what: &str) -> Option<&TestHost> {
        match self {
            Slot::Ready(host) => Some(host),
            Slot::Skipped(reason) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED: no test host can run here ({reason}); CI would fail here.");
                None
            }
            Slot::Skipped(reason) => {
                panic!("CI is set and no test host can run here, so this test cannot run: {reason}")
            }
            Slot::Failed(message) => panic!("{what} did not start: {message}"),
        }
    }
}

/// `tests/testhost.sh`.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testhost.sh")
}

fn start(engine: EngineVersion) -> Slot {
    start_named(host_name(std::process::id(), engine), engine)
}

/// A test host of this process named `name` (it must match `.ci/run`'s `TEST_HOST_RE`, so that
/// CI removes it after a crash), removed at exit like the others.
pub(super) fn start_named(name: String, engine: EngineVersion) -> Slot {
    if let Some(reason) = missing_prerequisite() {
        return Slot::Skipped(reason);
    }
    reap_once();
    // Registered before `up`: a host half made when the process exits is removed too.
    register_teardown(&name);
    let out = Command::new("bash")
        .arg(script())
        .args(["up", &name, "auto", "--engine", engine.flag(), "--owner"])
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => match TestHost::read(&name, engine) {
            Ok(host) => Slot::Ready(host),
            Err(e) => Slot::Failed(e),
        },
        Ok(out) => Slot::Failed(format!(
            "`testhost.sh up {name} auto --engine {}` failed ({}):\n{}",
            engine.flag(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Slot::Failed(format!("cannot run bash {}: {e}", script().display())),
    }
}

/// What keeps a test host from starting on this machine, if anything.
fn missing_prerequisite() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("test hosts need root (network namespaces, a second dockerd)".into());
    }
    let missing: Vec<&str> = ["ip", "nsenter", "dockerd", "containerd", "bash"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    (!missing.is_empty()).then(|| format!("not installed: {}", missing.join(", ")))
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .any(|dir| dir.join(tool).is_file())
}

/// `it<pid in base 36>-<engine>`: at most 10 characters (the veth is `bgth-NAME`, and a link
/// name has at most 15), unique among running test processes.
fn host_name(pid: u32, engine: EngineVersion) -> String {
    format!("it{}-{}", pid_base36(pid), engine.flag())
}

/// The pid in base 36: what every test host name of this process starts with (after `it`).
pub(super) fn pid_base36(pid: u32) -> String {
    let mut digits = Vec::new();
    let mut n = pid;
    loop {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

/// Removes the test hosts of earlier test processes that died before their teardown.
fn reap_once() {
    static REAPED: Once = Once::new();
    REAPED.call_once(|| {
        match Command::new("bash")
            .arg(script())
            .arg("reap")
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "warning: testhost.sh reap failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("warning: cannot run testhost.sh reap: {e}"),
        }
    });
}

static STARTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn register_teardown(name: &str) {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: `teardown` is an `extern "C" fn()` that never unwinds.
        let rc = unsafe { libc::atexit(teardown) };
        assert_eq!(rc, 0, "atexit refused the test hosts' teardown");
    });
    STARTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(name.to_string());
}

/// Runs when the test process exits (libtest ends with `exit`): `testhost.sh down` for every
/// test host this process started. Quiet unless it fails; never panics (it cannot unwind here).
extern "C" fn teardown() {
    let names = std::mem::take(&mut *STARTED.lock().unwrap_or_else(|p| p.into_inner()));
    for name in names {
        let out = Command::new("bash")
            .arg(script())
            .args(["down", &name])
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "warning: removing test host {name} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("warning: cannot run testhost.sh down {name}: {e}"),
        }
    }
}

impl TestHost {
    /// From `/run/bgth-NAME/info`, written by `testhost.sh up` once every transport answered.
    fn read(name: &str, engine: EngineVersion) -> Result<TestHost, String> {
        let path = PathBuf::from(format!("/run/bgth-{name}/info"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let info: BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .collect();
        let get = |key: &str| {
            info.get(key)
                .map(|v| v.to_string())
                .ok_or_else(|| format!("{} has no `{key}`", path.display()))
        };
        let ip = get("ip")?;
        Ok(TestHost {
            name: name.to_string(),
            engine,
            version: get("version")?,
            api: get("api")?,
            ip: ip
                .parse()
                .map_err(|e| format!("{}: ip `{ip}`: {e}", path.display()))?,
            sock: get("sock")?.into(),
            netns_path: get("netns_path")?.into(),
            cert_dir: get("cert_dir")?.into(),
            loaded: Mutex::new(HashSet::new()),
        })
    }

    /// The name given to `testhost.sh` (`testhost.sh ls` lists it).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn engine(&self) -> EngineVersion {
        self.engine
    }

    /// The address of the test host's end of the veth: its engine, sshd and published ports.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The engine's version, e.g. `20.10.24+dfsg1`.
    pub fn engine_version(&self) -> &str {
        &self.version
    }

    /// The engine's API version, e.g. `1.41`.
    pub fn api_version(&self) -> &str {
        &self.api
    }

    /// The API version as numbers, for comparisons: `(1, 51)`.
    pub fn api(&self) -> (u32, u32) {
        let (major, minor) = self.api.split_once('.').unwrap_or((&self.api, "0"));
        (major.parse().unwrap_or(0), minor.parse().unwrap_or(0))
    }

    pub fn unix_url(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// Plain tcp (no TLS).
    pub fn tcp_url(&self) -> String {
        format!("tcp://{}:2375", self.ip)
    }

    /// Needs `DOCKER_TLS_VERIFY=1` and `DOCKER_CERT_PATH=cert_dir()`.
    pub fn tls_url(&self) -> String {
        format!("tcp://{}:2376", self.ip)
    }

    pub fn ssh_url(&self) -> String {
        format!("ssh://root@{}", self.ip)
    }

    /// `ca.pem`, `cert.pem`, `key.pem` of a client the engine accepts.
    pub fn cert_dir(&self) -> &Path {
        &self.cert_dir
    }

    /// `/run/netns/bgth-NAME`.
    pub fn netns_path(&self) -> &Path {
        &self.netns_path
    }

    /// The environment a docker client needs to reach this engine over `transport`
    /// (`DOCKER_HOST`, plus `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` for TLS).
    pub fn client_env(&self, transport: Transport) -> Vec<(&'static str, String)> {
        match transport {
            Transport::Unix => vec![("DOCKER_HOST", self.unix_url())],
            Transport::Tcp => vec![("DOCKER_HOST", self.tcp_url())],
            Transport::Ssh => vec![("DOCKER_HOST", self.ssh_url())],
            Transport::SshNoForwarding => {
                vec![("DOCKER_HOST", format!("ssh://root@{}:2222", self.ip))]
            }
            Transport::Tls => vec![
                ("DOCKER_HOST", self.tls_url()),
                ("DOCKER_TLS_VERIFY", "1".into()),
                ("DOCKER_CERT_PATH", self.cert_dir.display().to_string()),
            ],
        }
    }

    /// Variables a docker client must NOT inherit from the developer's environment when it is
    /// pointed at this host.
    pub const INHERITED: [&'static str; 4] = [
        "DOCKER_HOST",
        "DOCKER_TLS_VERIFY",
        "DOCKER_CERT_PATH",
        "DOCKER_CONTEXT",
    ];

    /// The docker CLI, set up to reach this engine over `transport`; add arguments and run it.
    pub fn docker_cli(&self, transport: Transport) -> Command {
        let mut cmd = Command::new("docker");
        for key in Self::INHERITED {
            cmd.env_remove(key);
        }
        cmd.envs(self.client_env(transport)).stdin(Stdio::null());
        cmd
    }

    /// The docker CLI against this engine over its unix socket; the caller looks at the outcome.
    pub fn docker_output(&self, args: &[&str]) -> Output {
        self.docker_cli(Transport::Unix)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run the docker CLI (docker {}): {e}", args.join(" "))
            })
    }

    /// The docker CLI against this engine; panics unless it succeeds; its trimmed stdout.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.docker_output(args);
        assert!(
            out.status.success(),
            "docker {} on test host {} failed ({}):\n{}",
            args.join(" "),
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Copies images from the machine's engine (`docker save | docker load`), each at most
    /// once per test process. Nothing can be pulled: the images must exist there.
    pub fn load_images(&self, images: &[&str]) {
        // Held while loading: two tests wanting the same image wait for one copy.
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let wanted: Vec<&str> = images
            .iter()
            .copied()
            .filter(|image| !loaded.contains(*image))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let mut save = Command::new("docker")
            .arg("save")
            .args(&wanted)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run docker save: {e}"));
        let tar = save.stdout.take().expect("docker save's stdout is piped");
        let load = self
            .docker_cli(Transport::Unix)
            .arg("load")
            .stdin(tar)
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker load: {e}"));
        let saved = save
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for docker save: {e}"));
        assert!(
            saved.status.success() && load.status.success(),
            "copying {} to test host {} failed: docker save {}: {}; docker load {}: {}",
            wanted.join(" "),
            self.name,
            saved.status,
            String::from_utf8_lossy(&saved.stderr).trim(),
            load.status,
            String::from_utf8_lossy(&load.stderr).trim()
        );
        loaded.extend(wanted.into_iter().map(str::to_string));
    }

    /// Runs a command in the test host's network namespace (e.g. curl to a container's bridge
    /// address, which only the test host reaches).
    pub fn exec_in_netns(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net={}", self.netns_path.display()))
            .arg("--")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run nsenter … {}: {e}", args.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_fit_a_link_name() {
        assert_eq!(host_name(1, EngineVersion::E20), "it1-20");
        assert_eq!(host_name(36, EngineVersion::E28), "it10-28");
        // pid_max is at most 2^22.
        assert!(host_name(4_194_304, EngineVersion::E28).len() <= 10);
    }
}
