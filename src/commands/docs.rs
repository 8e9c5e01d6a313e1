//! `keepwatch completions SHELL` and `keepwatch manpage`: shell completions and the man page, generated from
//! the command line's own definition ([`super::Cli`]), so they can never disagree with it.
//!
//! Why subcommands rather than a build step: the installed binary can always make them for the shell at
//! hand, a build needs no extra tooling, and the Debian package's assets are made by running the binary it
//! ships (`scripts/package-deb.sh`).

use super::Cli;
use crate::Failure;
use clap::CommandFactory;
use std::io::Write;

pub fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "keepwatch", &mut out);
    write_out(&out)
}

pub fn manpage() -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::runtime(format!("cannot render the man page: {e}")))?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes).and_then(|()| stdout.flush()).map_err(|e| Failure::runtime(format!("standard output: {e}")))
}
