//! Command-line types (clap derive) and nothing else. Validation that needs the spec or the
//! engine happens in `commands`, after parsing.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Blue-green deploys of Docker containers behind a reverse proxy, \
checked so that no container's default route moves.";

const AFTER_HELP: &str = "\
Examples:
  bgdeploy validate                        check ./deploy.yaml, contact no engine
  bgdeploy plan shop stage                 what `up` would do, with route warnings
  bgdeploy up shop stage --image shop:1.5  deploy a new release and cut over
  bgdeploy up shop stage --no-cutover      start a standby; `cutover` later
  bgdeploy --output json status            machine-readable state of every app/stage

The engine comes from DOCKER_HOST (unix://, tcp:// with DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH, ssh://), as for the docker CLI. `bgdeploy validate --help` lists every
key of the spec and its default.

Exit codes: 0 done; 1 deploy failed safely (live traffic untouched); 2 bad usage or
spec; 3 engine unreachable or refused before any change; 4 locked by another deploy;
5 a default route would move or moved (rolled back); 10 something could not be
restored: a person is needed.";

const UP_HELP: &str = "\
What it does (`bgdeploy plan APP STAGE` shows it for your engine first):
  take the deploy lock; pull the image if needed; make sure BACK_<app>_<stage> and
  FRONT_<app>_<stage> (internal) exist and the proxy is on FRONT_; start the release on BACK_;
  wait until healthy; connect it to FRONT_ and check from the kernel that its default route
  stayed on BACK_; switch the proxy; take the old release out of the proxy, drain it, stop it
  and keep it for `rollback` (while the deploy is recorded and releases beyond `keep` go);
  detach it from FRONT_; release the lock.
  Any failure or Ctrl-C before the old release leaves the proxy undoes everything: the live
  release keeps serving.

Exit codes: 0 done; 1 failed safely (live untouched); 2 bad usage or spec; 3 engine
unreachable; 4 locked by another deploy; 5 a default route would move; 10 a person is needed.

Examples:
  bgdeploy up shop stage
  bgdeploy up shop stage --image shop:1.5 --lock-wait 2m
  bgdeploy --output json up shop stage        # one JSON object per line, for CI
  bgdeploy up shop production --no-cutover   # then: bgdeploy cutover shop production";

const VALIDATE_HELP: &str = "\
The spec's keys, per app and overridable per stage (deploy.example.yaml explains each):
  image (required)  port (required)  command [image's]  env {}  secrets []  networks []
  health {tcp: true}: one of http/tcp/cmd/docker; expect 200-399, interval 500ms,
    timeout 2s, healthy 1, deadline 60s
  proxy {driver: none}: driver, container, virtual_host, reload, config_path, command,
    docker_gen_container, signal HUP, verify {url, host}
  front_internal true  drain 5s  stop_timeout 10s  keep 2
The container (Compose's names and meanings):
  volumes []  (NAME:/path or /host/path:/path, optionally :ro; a named volume is created by
    the engine on first use and kept across releases)
  tmpfs []  labels {} (bgdeploy.* reserved)  user [image's]  working_dir [image's]
  entrypoint [image's]  memory [no limit]  memory_reservation [none]  cpus [no limit]
  pids_limit [engine's]  ulimits [engine's]  shm_size [engine's, 64m]
  logging [engine's] {driver, options}  extra_hosts []  dns [engine's]  cap_add []
  cap_drop []  read_only false  init false  stop_signal [image's]
  restart unless-stopped (no | always | unless-stopped | on-failure[:N])  sysctls {}
  security_opt []  devices []
Sizes: 512m, 1g, 1.5g or bytes. Durations: 500ms, 2s, 1m30s.

Example:
  bgdeploy -f deploy.yaml validate";

#[derive(Debug, Parser)]
#[command(name = "bgdeploy", version, about = ABOUT, after_help = AFTER_HELP)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The deploy spec.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        env = "BGDEPLOY_FILE",
        default_value = "deploy.yaml",
        value_name = "FILE"
    )]
    pub file: PathBuf,

    /// Output format: human-readable text, or JSON for scripts (one document, or one
    /// object per line for `up`, `cutover` and `rollback`).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// More detail: -v for debug logs, -vv for trace logs (logs go to stderr).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// The docker context whose engine to use (`docker context ls`). Without it the engine is
    /// chosen as the docker CLI chooses it: DOCKER_HOST, then DOCKER_CONTEXT, then the current
    /// context (`docker context use`), then the local socket.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PullPolicy {
    /// Pull only when the image is not on the engine.
    Missing,
    /// Always pull, to pick up a moved tag.
    Always,
    /// Never pull; fail when the image is not on the engine.
    Never,
}

#[derive(Debug, Args, Clone)]
pub struct Target {
    /// The app, as named under `apps:` in the spec.
    pub app: String,
    /// The stage, as listed under the app's `stages:`.
    pub stage: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec file only; contacts no engine. `--help` lists every key and its default.
    #[command(after_help = VALIDATE_HELP)]
    Validate,

    /// Show the steps `up` would take, with default-route warnings. Reads the engine, changes nothing.
    #[command(
        after_help = "Examples:\n  bgdeploy plan shop stage\n  bgdeploy --output json plan shop stage --image shop:1.5"
    )]
    Plan {
        #[command(flatten)]
        target: Target,
        /// Deploy this image instead of the spec's `image`.
        #[arg(long, value_name = "IMG")]
        image: Option<String>,
    },

    /// Deploy a new release: start it on the back network, wait until healthy, cut over.
    #[command(
        after_help = UP_HELP
    )]
    Up {
        #[command(flatten)]
        target: Target,
        /// Deploy this image instead of the spec's `image`.
        #[arg(long, value_name = "IMG")]
        image: Option<String>,
        /// Stop once the new release is healthy on the back network (a standby); `cutover` makes it live.
        #[arg(long)]
        no_cutover: bool,
        /// How long to wait for another deploy of this app/stage to finish (e.g. 30s, 2m).
        #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration)]
        lock_wait: Duration,
        /// When to pull the image.
        #[arg(long, value_enum, default_value_t = PullPolicy::Missing)]
        pull: PullPolicy,
    },

    /// Make the standby live (the switch half of `up`).
    #[command(after_help = "Example:\n  bgdeploy cutover shop production")]
    Cutover {
        #[command(flatten)]
        target: Target,
        /// How long to wait for another deploy of this app/stage to finish.
        #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration)]
        lock_wait: Duration,
    },

    /// Make the newest retired release live again.
    #[command(
        after_help = "Examples:\n  bgdeploy rollback shop production\n  bgdeploy rollback shop production --to shop_production_20261126-101500-4f2a"
    )]
    Rollback {
        #[command(flatten)]
        target: Target,
        /// Roll back to this retired container instead of the newest one.
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
        /// How long to wait for another deploy of this app/stage to finish.
        #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration)]
        lock_wait: Duration,
    },

    /// Live, standby and retired containers: image, health, networks, default route.
    #[command(
        after_help = "Examples:\n  bgdeploy status             every app/stage on the engine\n  bgdeploy status shop stage"
    )]
    Status {
        /// The app (with STAGE); omit both for every app/stage on the engine.
        #[arg(requires = "stage")]
        app: Option<String>,
        /// The stage.
        stage: Option<String>,
    },

    /// Audit every container with more than one network: whose default route is not where it should be, and why.
    #[command(
        after_help = "Examples:\n  bgdeploy doctor && echo 'all routes where they belong'\n  bgdeploy doctor --name shop   only containers and networks whose name contains `shop`\n\nExit codes: 0 nothing flagged; 1 something flagged; 3 engine unreachable."
    )]
    Doctor {
        /// Audit only containers and networks whose name contains this text.
        #[arg(long, value_name = "TEXT")]
        name: Option<String>,
    },

    /// Past deploys of an app/stage: when, who, image, result, duration.
    #[command(after_help = "Example:\n  bgdeploy history shop production")]
    History {
        #[command(flatten)]
        target: Target,
    },

    /// Inspect or release the deploy lock of an app/stage.
    #[command(
        after_help = "Examples:\n  bgdeploy lock status shop stage\n  bgdeploy lock release shop stage --yes"
    )]
    Lock {
        #[command(subcommand)]
        action: LockAction,
    },

    /// Remove retired containers beyond `keep`.
    #[command(after_help = "Example:\n  bgdeploy prune shop stage")]
    Prune {
        #[command(flatten)]
        target: Target,
    },

    /// Remove the app/stage's containers (and with --networks its networks).
    #[command(after_help = "Example:\n  bgdeploy down shop stage --networks --yes")]
    Down {
        #[command(flatten)]
        target: Target,
        /// Also remove BACK_<app>_<stage> and FRONT_<app>_<stage>.
        #[arg(long)]
        networks: bool,
        /// Also remove the deploy history (the volume bgdeploy_<app>_<stage>_state); kept by default.
        #[arg(long)]
        history: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },

    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  bgdeploy completions bash > /etc/bash_completion.d/bgdeploy"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff): `bgdeploy man > bgdeploy.1`.
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Subcommand)]
pub enum LockAction {
    /// Who holds the lock, and since when.
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Remove a lock left by a deploy that died.
    Release {
        #[command(flatten)]
        target: Target,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 2m, 1m30s)"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
