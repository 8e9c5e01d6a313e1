//! `keepwatch`: parses the command line and maps outcomes to exit codes (0 ok, 1 runtime failure, 2 bad
//! usage or bad config). Everything else lives in the library.
#![forbid(unsafe_code)]

use clap::Parser;
use keepwatch::commands;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = commands::Cli::parse();
    init_logging(args.verbose);
    match commands::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("keepwatch: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("KEEPWATCH_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{default},retina=warn,rusqlite=warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
