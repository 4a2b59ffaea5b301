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
  bgdeploy plan shop stage --check         exit with the code `up` would end with
  bgdeploy up shop stage --image shop:1.5  deploy a new release and cut over
  bgdeploy up shop stage --no-cutover      start a standby; `cutover` later
  bgdeploy --output json status            machine-readable state of every app/stage
  bgdeploy exec shop stage -it -- sh       a shell in the live release
  bgdeploy logs shop stage -f              follow the live release's output
  bgdeploy maintenance on shop stage       a 503 page instead of the app (nginx, command)

The engine comes from DOCKER_HOST (unix://, tcp:// with DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH, ssh://), as for the docker CLI. `bgdeploy validate --help` lists every
key of the spec and its default.

Exit codes: 0 done; 1 deploy failed safely (live traffic untouched); 2 bad usage or
spec; 3 engine unreachable or refused before any change; 4 locked by another deploy;
5 a default route would move or moved (rolled back); 7 deployed, but the post_deploy
hook failed; 10 something could not be restored: a person is needed. `exec` exits with
its command's code.";

const UP_HELP: &str = "\
What it does (`bgdeploy plan APP STAGE` shows it for your engine first):
  take the deploy lock; pull the image if needed; make sure BACK_<app>_<stage> and
  FRONT_<app>_<stage> (internal) exist and the proxy is on FRONT_; start the release on BACK_;
  wait until healthy; run hooks.before_switch in a one-off container of it (if set);
  connect it to FRONT_ and check from the kernel that its default route
  stayed on BACK_; switch the proxy; take the old release out of the proxy, drain it, stop it
  and keep it for `rollback` (while the deploy is recorded and releases beyond `keep` go);
  detach it from FRONT_; release the lock.
  Any failure or Ctrl-C before the old release leaves the proxy undoes everything: the live
  release keeps serving.
  hooks.pre_deploy runs first on this machine (a failure: exit 1, nothing changed);
  hooks.post_deploy after success, hooks.on_failure after a failure, with BGDEPLOY_* variables.

Exit codes: 0 done; 1 failed safely (live untouched); 2 bad usage or spec; 3 engine
unreachable; 4 locked by another deploy; 5 a default route would move; 7 deployed, but
hooks.post_deploy failed; 10 a person is needed.

Examples:
  bgdeploy up shop stage
  bgdeploy up shop stage --image shop:1.5 --lock-wait 2m
  bgdeploy --output json up shop stage        # one JSON object per line, for CI
  bgdeploy up shop production --no-cutover   # then: bgdeploy cutover shop production";

const PLAN_HELP: &str = "\
The steps are grouped by phase: prepare and switch are undone by any failure or Ctrl-C (the
live release keeps serving); retire starts at the point of no return, the first step that
takes the old release out of traffic, and is not undone. The last line says what the command
would end with on the engine as it is now. Nothing is changed, and the lock is not taken.

--check: exit with the code the command is predicted to end with, so that CI can stop early:
  0 it would succeed; 1 it would fail safely: the proxy container is missing or stopped,
  nothing to cut over to or roll back to, the image is missing under --pull never, a network
  in `networks` is missing or ambiguous, a bind path is missing; 2 bad usage or spec;
  3 engine unreachable; 4 another live deploy holds the lock; 5 a default route would move.
Without --check, `plan` exits 0 whatever it predicts (2 and 3 as above).

Examples:
  bgdeploy plan shop stage
  bgdeploy --output json plan shop stage --image shop:1.5
  bgdeploy plan shop stage --for cutover
  bgdeploy plan shop production --for rollback --to shop_production_20261126-101500-4f2a
  bgdeploy plan shop stage --check && bgdeploy up shop stage";

const VALIDATE_HELP: &str = "\
The spec's keys, per app and overridable per stage (deploy.example.yaml explains each):
  image (required)  port (required)  command [image's]  env {}  secrets []  networks []
  health {tcp: true}: one of http/tcp/cmd/docker; expect 200-399, interval 500ms,
    timeout 2s, healthy 1, deadline 60s
  proxy {driver: none}: driver, container, virtual_host, reload, config_path, command,
    docker_gen_container, signal HUP, verify {url, host}
  front_internal true  drain 5s  stop_timeout 10s  keep 2
  hooks {}: pre_deploy, before_switch, post_deploy, on_failure (argv, or {command, timeout})
A fleet (one stage on several engines):
  hosts [the one engine]: name -> URL (ssh://, tcp://, unix://), {url, cert_path} or
    {context}, in rollout order
  rollout {canary 1 (with 2+ hosts), parallel 1, wait 0s, on_failure rollback | halt}
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
const EXEC_HELP: &str = "\
In the live container by default (as `docker exec`); with --one-off in a new container of the
live release's image, env, secrets and back-side networks, removed when the command ends (as
`docker run --rm`). The command's exit code is bgdeploy's; Ctrl-C and SIGTERM are passed on to
it (in the live container: on a local engine). With -t, keys go to the command as typed.
No live release: exit 1, saying so.

Examples:
  bgdeploy exec shop production -- cat /app/VERSION
  bgdeploy exec shop production -it -- sh               # a shell in the live container
  bgdeploy exec shop production --one-off -- bin/rails db:migrate:status
  echo 'select 1' | bgdeploy exec shop production -i --one-off -- bin/db-console";

const MAINTENANCE_HELP: &str = "\
Driver `nginx`: the app's server block answers every request with 503, the message (HTML for
clients that accept text/html, plain text otherwise) and `Retry-After: 300`; written, tested
with `nginx -T` and reloaded as a switch is. The releases keep running. The state is that file
in the proxy container: `status` shows it, and an `up` during maintenance deploys but keeps
the page on (the new release takes traffic at `maintenance off`). Driver `command`: the
command runs with BGDEPLOY_PHASE=maintenance_on (and BGDEPLOY_MESSAGE) or maintenance_off.
Other drivers: exit 2. Takes the deploy lock (exit 4 while a deploy runs).

Examples:
  bgdeploy maintenance on shop production --message 'Back at 10:00 UTC'
  bgdeploy maintenance off shop production";

const LOGS_HELP: &str = "\
stdout and stderr of the live release as the engine stored them, with the values of the spec's
secrets replaced by <redacted>. -f (or --follow) keeps printing until Ctrl-C; it follows that
one container only (not the next release a deploy makes live). With --output json, one
{\"stream\": \"stdout|stderr\", \"line\": …} object per line.

Examples:
  bgdeploy logs shop production --tail 100
  bgdeploy logs shop production -f --since 10m
  bgdeploy logs shop production --release shop_production_20261126-101500-4f2a";

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

/// The command `plan --for` plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFor {
    /// A new release (the default).
    Up,
    /// Making the standby live.
    Cutover,
    /// Making a retired release live again.
    Rollback,
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
    /// A fleet stage (`hosts:` in the spec): act on these hosts only (comma-separated names).
    #[arg(long, value_name = "H,..", value_delimiter = ',')]
    pub hosts: Option<Vec<String>>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec file only; contacts no engine. `--help` lists every key and its default.
    #[command(after_help = VALIDATE_HELP)]
    Validate,

    /// Show the steps `up` (or `cutover`, `rollback`) would take, by phase, with warnings and
    /// the exit code it would end with. Reads the engine, changes nothing.
    #[command(after_help = PLAN_HELP)]
    Plan {
        #[command(flatten)]
        target: Target,
        /// The command to plan, with its flags below.
        #[arg(long = "for", value_enum, value_name = "COMMAND", default_value_t = PlanFor::Up)]
        for_command: PlanFor,
        /// (up) Deploy this image instead of the spec's `image`.
        #[arg(long, value_name = "IMG")]
        image: Option<String>,
        /// (up) Plan a standby: stop once the new release is healthy on the back network.
        #[arg(long)]
        no_cutover: bool,
        /// (up) When the image would be pulled; under `never` a missing image is exit 1.
        #[arg(long, value_enum, value_name = "P")]
        pull: Option<PullPolicy>,
        /// (rollback) Roll back to this retired container instead of the newest one.
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
        /// How long the command would wait for another deploy's lock (shown in the plan; a
        /// lock held now is still predicted as exit 4).
        #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration)]
        lock_wait: Duration,
        /// Exit with the code the command is predicted to end with (see below), for CI gates.
        #[arg(long)]
        check: bool,
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
        after_help = "Examples:\n  bgdeploy status             every app/stage on the engine\n  bgdeploy status shop stage\n  bgdeploy status shop prod --hosts web1,web2   a fleet stage: those hosts only\n\nA fleet stage (`hosts:`) is read on every host at once; hosts whose live image differs are\nflagged as drift (exit 0: drift is a state to see). Exit codes: 0 shown; 2 bad usage or\nspec; 3 the engine, or any host, unreachable (the hosts that answered are still shown)."
    )]
    Status {
        /// The app (with STAGE); omit both for every app/stage on the engine.
        #[arg(requires = "stage")]
        app: Option<String>,
        /// The stage.
        stage: Option<String>,
        /// A fleet stage (`hosts:` in the spec): show these hosts only (comma-separated names).
        #[arg(long, value_name = "H,..", value_delimiter = ',', requires = "app")]
        hosts: Option<Vec<String>>,
    },

    /// Audit every container with more than one network: whose default route is not where it should be, and why.
    #[command(
        after_help = "Examples:\n  bgdeploy doctor && echo 'all routes where they belong'\n  bgdeploy doctor --name shop   only containers and networks whose name contains `shop`\n  bgdeploy doctor --hosts       the engine of every fleet host in the spec\n  bgdeploy doctor --hosts web1  only that host's engine\n\nExit codes: 0 nothing flagged; 1 something flagged; 2 bad usage or spec (an unknown host);\n3 engine (or a host) unreachable."
    )]
    Doctor {
        /// Audit only containers and networks whose name contains this text.
        #[arg(long, value_name = "TEXT")]
        name: Option<String>,
        /// Audit the engines of the spec's fleet hosts instead of the one engine: the hosts
        /// named (comma-separated), or every host of every stage when no name is given.
        #[arg(long, value_name = "H,..", value_delimiter = ',', num_args = 0..=1)]
        hosts: Option<Vec<String>>,
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

    /// Run a command in the live release (or in a fresh one-off container of it).
    #[command(after_help = EXEC_HELP)]
    Exec {
        #[command(flatten)]
        target: Target,
        /// Run it in a new container of the live release's image and settings (env, secrets,
        /// networks on the back side), removed afterwards, instead of in the live container.
        #[arg(long)]
        one_off: bool,
        /// Keep stdin open and send bgdeploy's stdin to the command.
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Give the command a terminal (TTY); with -i for an interactive shell.
        #[arg(short = 't', long)]
        tty: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },

    /// Show the output (stdout and stderr) of the live release, or of another one.
    #[command(after_help = LOGS_HELP)]
    Logs {
        #[command(flatten)]
        target: Target,
        /// Keep printing new output until Ctrl-C (`-f` right after `logs` works too).
        #[arg(long)]
        follow: bool,
        /// Only output of the last DUR (e.g. 10m, 1h30m).
        #[arg(long, value_name = "DUR", value_parser = parse_duration)]
        since: Option<Duration>,
        /// Only the last N lines (before following).
        #[arg(long, value_name = "N")]
        tail: Option<u64>,
        /// A release other than the live one, by container name (see `bgdeploy status`).
        #[arg(long, value_name = "NAME")]
        release: Option<String>,
    },

    /// Put up a maintenance page instead of routing to the app, or route again.
    #[command(after_help = MAINTENANCE_HELP)]
    Maintenance {
        #[command(subcommand)]
        action: MaintenanceAction,
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
pub enum MaintenanceAction {
    /// The proxy answers 503 with the message (and Retry-After) instead of routing.
    On {
        #[command(flatten)]
        target: Target,
        /// The text shown (as HTML to browsers, plain text otherwise).
        #[arg(long, value_name = "TEXT")]
        message: Option<String>,
    },
    /// The proxy routes to the live release again.
    Off {
        #[command(flatten)]
        target: Target,
    },
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

/// `logs -f` means follow, while `-f FILE` is the global spec-file option everywhere else:
/// clap cannot give one short option two meanings, so after a `logs` subcommand a bare `-f`
/// is read as `--follow` (give the file before the subcommand, or as `--file`).
pub fn normalize_args(args: Vec<String>) -> Vec<String> {
    let mut subcommand = None;
    let mut skip_value = false;
    for (i, arg) in args.iter().enumerate().skip(1) {
        if skip_value {
            skip_value = false;
            continue;
        }
        if arg == "--" {
            break;
        }
        if arg.starts_with('-') {
            skip_value = matches!(arg.as_str(), "-f" | "--file" | "--output");
            continue;
        }
        subcommand = Some(i);
        break;
    }
    match subcommand {
        Some(at) if args[at] == "logs" => args
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                if i > at && a == "-f" {
                    "--follow".to_string()
                } else {
                    a
                }
            })
            .collect(),
        _ => args,
    }
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

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn f_after_logs_follows_and_is_the_file_elsewhere() {
        let logs = normalize_args(args("bgdeploy -f x.yaml --output json logs shop stage -f"));
        assert_eq!(
            logs,
            args("bgdeploy -f x.yaml --output json logs shop stage --follow")
        );
        let up = args("bgdeploy up shop stage -f x.yaml");
        assert_eq!(normalize_args(up.clone()), up);
        let named_logs = args("bgdeploy -f logs up shop stage");
        assert_eq!(normalize_args(named_logs.clone()), named_logs);
        let parsed = Cli::parse_from(normalize_args(args("bgdeploy logs shop stage -f --tail 5")));
        assert!(matches!(
            parsed.command,
            Command::Logs {
                follow: true,
                tail: Some(5),
                ..
            }
        ));
        let exec = Cli::parse_from(args("bgdeploy exec shop stage -it -- sh -c exit"));
        let Command::Exec {
            interactive,
            tty,
            command,
            ..
        } = exec.command
        else {
            panic!("exec");
        };
        assert!(interactive && tty);
        assert_eq!(command, args("sh -c exit"));
    }
}
