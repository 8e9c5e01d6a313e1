//! keepwatch: a self-hosted network video recorder. The library holds every part (see ARCHITECTURE.md for
//! the map); `main.rs` only parses the command line and maps outcomes to exit codes.
#![forbid(unsafe_code)]

pub mod alerting;
pub mod camera;
pub mod cli;
pub mod clock;
pub mod daemon;
pub mod demo;
pub mod events;
pub mod export;
pub mod http;
pub mod hub;
pub mod ingest;
pub mod live;
pub mod motion;
pub mod onvif;
pub mod playback;
pub mod probe;
pub mod recorder;
pub mod snapshot;
pub mod storeopen;
pub mod timefmt;
pub mod usercli;

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
