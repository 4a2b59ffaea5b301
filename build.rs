//! Builds the probe agent (`probe/agent.rs`): a static Linux program that bgdeploy ships inside
//! itself and runs on remote engines (see `src/probe/`). It uses the standard library only and
//! is compiled with the same `rustc` for the same target, statically linked, so that it runs in
//! a `FROM scratch` container. Where that cannot be done (another OS, no static C library), the
//! agent is left empty and bgdeploy says so when it would need it.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=probe/agent.rs");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let agent = out.join("probe-agent");
    let target = std::env::var("TARGET").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let built = os == "linux" && build(&target, &agent);
    if !built {
        // An empty agent: bgdeploy reports "no probe agent in this build" when it needs one.
        let _ = std::fs::write(&agent, b"");
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    println!("cargo:rustc-env=BGDEPLOY_AGENT_ARCH={arch}");
}

fn build(target: &str, agent: &std::path::Path) -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let status = Command::new(rustc)
        .args(["--edition", "2021", "--crate-name", "bgdeploy_probe_agent"])
        .args([
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
        ])
        .args(["-C", "target-feature=+crt-static", "-C", "codegen-units=1"])
        .args(["--target", target])
        .arg("probe/agent.rs")
        .arg("-o")
        .arg(agent)
        // The build script's own flags are for the build script, not the agent.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status();
    match status {
        Ok(s) if s.success() => true,
        Ok(s) => {
            println!(
                "cargo:warning=could not build the probe agent ({s}): remote probes will not work"
            );
            false
        }
        Err(e) => {
            println!("cargo:warning=could not run rustc for the probe agent: {e}");
            false
        }
    }
}
