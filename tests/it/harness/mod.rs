//! The integration-test harness. A `TestEnv` per test owns a unique name prefix and removes
//! every container, volume and network whose name contains it when dropped (also after a
//! panic), so tests run in parallel against one engine and the suite can be re-run. Setup goes
//! through the docker CLI, independent of the code under test; `TestEnv::bgdeploy` runs the
//! binary.
//!
//! Some helpers exist for the CLI tests that build on this harness.
#![allow(dead_code)]

pub mod cli;
pub mod engines;
pub mod env;
pub mod fleet;
pub mod load;
pub mod testhost;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use bgdeploy::engine::{Engine, connect};

pub use env::TestEnv;

pub const DEMO_V1: &str = "bgdeploy-demo:v1";
pub const DEMO_V2: &str = "bgdeploy-demo:v2";
/// v1 with a Docker HEALTHCHECK on /up.
pub const DEMO_HC: &str = "bgdeploy-demo:hc";
pub const NGINX: &str = "bgdeploy-nginx:latest";

/// The engine named by DOCKER_HOST, or `None` (after saying so on stderr) when there is none
/// and `CI` is unset. Under `CI` a missing engine fails the test: CI must never pass by skipping.
pub async fn require_engine() -> Option<Engine> {
    match connect(None).await {
        Ok(engine) => Some(engine),
        Err(e) if e.is_unreachable() && std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED: no Docker engine reachable (set DOCKER_HOST); CI would fail here.\n{e}"
            );
            None
        }
        Err(e) if e.is_unreachable() => {
            panic!("CI is set and no Docker engine is reachable, so this test cannot run: {e}")
        }
        Err(e) => panic!("connecting to the Docker engine failed: {e}"),
    }
}

/// Builds the project's test images once per test process when one is missing
/// (`images/build.sh` is idempotent and serialises concurrent runs itself).
pub fn require_images() {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *built {
        return;
    }
    let present = docker_output(&["image", "inspect", DEMO_V1, DEMO_V2, DEMO_HC, NGINX])
        .status
        .success();
    if !present {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/build.sh");
        let status = Command::new("bash")
            .arg(&script)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(status.success(), "{} failed: {status}", script.display());
    }
    *built = true;
}

/// Runs the docker CLI; the caller looks at the outcome.
pub fn docker_output(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the docker CLI (docker {}): {e}", args.join(" ")))
}

/// Runs the docker CLI, panics unless it succeeds, returns its trimmed stdout.
pub fn docker(args: &[&str]) -> String {
    let out = docker_output(args);
    assert!(
        out.status.success(),
        "docker {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The docker CLI without panicking: stdout, or what went wrong.
fn quiet_docker(args: &[&str]) -> Result<String, String> {
    match Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("docker {}: {e}", args.join(" "))),
    }
}

/// `docker inspect` of one object as JSON, independent of bollard.
pub fn inspect_json(object: &str) -> serde_json::Value {
    let text = docker(&["inspect", object]);
    let mut all: Vec<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("docker inspect {object}: {e}"));
    assert_eq!(all.len(), 1, "docker inspect {object} is ambiguous");
    all.remove(0)
}

/// Containers and networks whose names contain `prefix`, with what `docker ps` and
/// `docker network ls` say about them: to prove a read-only operation changed nothing.
pub fn snapshot(prefix: &str) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    let ps = docker(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Networks}}",
    ]);
    let nets = docker(&[
        "network",
        "ls",
        "--no-trunc",
        "--format",
        "{{.ID}}\t{{.Name}}\t{{.Driver}}",
    ]);
    for line in ps
        .lines()
        .chain(nets.lines())
        .filter(|l| l.contains(prefix))
    {
        // `{{.Networks}}` lists a container's networks in no promised order.
        let fields: Vec<String> = line
            .split('\t')
            .map(|f| {
                let mut parts: Vec<&str> = f.split(',').collect();
                parts.sort_unstable();
                parts.join(",")
            })
            .collect();
        all.insert(fields[0].clone(), fields[1..].join("\t"));
    }
    all
}
