//! keepwatch: a self-hosted network video recorder. The library holds every part (see ARCHITECTURE.md for
//! the map); `main.rs` only parses the command line and maps outcomes to exit codes. Only the command
//! line is public: everything else is `pub(crate)` at most, so rustc and clippy flag what nothing uses.
#![forbid(unsafe_code)]

pub mod commands;

mod alerting;
mod backup;
mod camera_motion;
mod cameras;
mod config_watch;
mod events;
mod health;
mod http;
mod hub;
mod ingest;
mod live;
mod motion;
mod motion_signal;
mod objects;
mod offsite;
mod playback;
mod probe;
mod recorder;
mod restream;
mod retention;
mod snapshot;
mod store_open;
mod supervisor;
mod timefmt;
mod view;
mod webrtc;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

#[cfg(test)]
mod pipeline_tests;

/// The version with the commit it was built from (`0.1.0 (1a2b3c4d5e6f)`): `keepwatch --version`,
/// `/api/system`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("KEEPWATCH_COMMIT"), ")");

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
