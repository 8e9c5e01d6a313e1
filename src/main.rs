//! `keepwatch`: a self-hosted network video recorder. This file only parses the command line and maps
//! outcomes to exit codes (0 ok, 1 runtime failure, 2 bad usage or bad config); each command lives in
//! its own module.
#![forbid(unsafe_code)]

mod camera;
mod cli;
mod clock;
mod daemon;
mod demo;
mod export;
mod hub;
mod ingest;
mod playback;
mod recorder;
mod storeopen;
mod timefmt;

use clap::Parser;
use std::process::ExitCode;

/// A failure with its exit code: 2 for bad usage or configuration, 1 for everything else.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { code: 2, message: message.into() }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Failure { code: 1, message: message.into() }
    }
}

impl From<kw_config::ConfigError> for Failure {
    fn from(e: kw_config::ConfigError) -> Self {
        Failure::usage(e.to_string())
    }
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logging(args.verbose);
    match cli::dispatch(args) {
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
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
