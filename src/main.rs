//! Thin: parse arguments, set up logging, run, print the error chain, exit with its code.

use std::io::IsTerminal;

use clap::Parser;

use bgdeploy::cli::Cli;
use bgdeploy::error::{exit, report};

fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "bgdeploy=debug,info",
        (false, _) => "bgdeploy=trace,debug",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("BGDEPLOY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // bollard logs request and response bodies at debug level, and a container's create
    // request carries its secrets: those targets never go below info, whatever was asked.
    for quiet_target in ["bollard=info", "hyper=info", "hyper_util=info"] {
        if let Ok(directive) = quiet_target.parse() {
            filter = filter.add_directive(directive);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never with NO_COLOR.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .init();
}

fn main() {
    let cli = Cli::parse_from(bgdeploy::cli::normalize_args(std::env::args().collect()));
    init_tracing(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}", report(&e));
            std::process::exit(exit::DEPLOY_FAILED);
        }
    };
    let result = runtime.block_on(async {
        let result = bgdeploy::commands::run(cli).await;
        // Whatever the outcome: no probe container and no ssh process outlives bgdeploy.
        bgdeploy::engine::close_all().await;
        result
    });
    let code = match result {
        Ok(()) => exit::OK,
        Err(e) if e.is_silent() => e.code(),
        Err(e) => {
            eprintln!("{}", report(&e));
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            e.code()
        }
    };
    std::process::exit(code);
}
