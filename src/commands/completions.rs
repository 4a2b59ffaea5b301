//! `bgdeploy completions SHELL`.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;
use crate::output::Output;

pub fn run(shell: clap_complete::Shell, out: &Output) -> Result<(), Error> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "bgdeploy", &mut buf);
    out.raw(&buf)
}
