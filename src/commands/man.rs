//! `bgdeploy man`: the man page, generated from the same clap definition as `--help`, so it
//! cannot drift. Hidden from the command list; `bgdeploy man > bgdeploy.1`.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;
use crate::output::Output;

pub fn run(out: &Output) -> Result<(), Error> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(Error::Output)?;
    out.raw(&buf)
}
