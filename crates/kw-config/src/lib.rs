//! keepwatch's configuration: reading, validating and editing `keepwatch.toml`.
//!
//! The TOML file is the single source of truth for configuration; people edit it by hand and the web UI edits
//! it for them. This crate turns it into checked Rust values ([`Config`]) and back, so the rest of keepwatch
//! never sees an invalid setting, and every mistake is reported as one line naming the file, the line and the
//! key: `keepwatch.toml:12: cameras[1].record: expected one of continuous, motion, off, objects, found "always"`.
//!
//! - [`load`] / [`parse`] read and validate; unknown keys are errors. Array positions in key paths count
//!   from 0 (`cameras[0]` is the first camera).
//! - Relative paths (`storage.path`, `server.tls_cert`, `server.tls_key`) resolve against the directory of the
//!   config file, not the working directory; [`StorageConfig::path`] is the resolved, absolute path.
//! - Defaults: `server.listen` `127.0.0.1:8080`, `storage.path` `./keepwatch-data`, no size or age caps,
//!   `record = "continuous"`, motion on with sensitivity 0.5, notifiers for all cameras and events with a
//!   30 s cooldown.
//! - Secrets: `Debug` never prints passwords; [`redacted_url`] is for logs;
//!   [`CameraConfig::url_with_credentials`] hands stream clients the URL and credentials separately.
//! - [`ConfigDoc`] edits the file preserving comments and order, and saves atomically after validating.
//! - [`example_config`] documents every key; [`demo_config`] is what `keepwatch demo` writes.
#![forbid(unsafe_code)]

mod atomic;
mod edit;
mod error;
mod merge;
mod model;
mod net;
mod offsite;
mod reader;
mod schedule;
mod secrets;
mod sections;
mod templates;
mod to_toml;
mod units;

use std::path::Path;

pub use atomic::write_atomically;
pub use edit::{ConfigDoc, NotifierEdit, OffsiteEdit};
pub use error::{ConfigError, Diagnostic};
pub use model::{
    AlertOn, AlertsConfig, CameraConfig, Config, EncodeConfig, Language, MotionConfig, NotifyConfig, NotifyEvent,
    NotifyKind, ObjectsBudget, ObjectsConfig, OnvifConfig, RecordMode, RestreamConfig, ServerConfig, StorageConfig,
    StorageIndex, TlsConfig, Zone, ZoneKind, DEFAULT_COOLDOWN, DEFAULT_LISTEN, DEFAULT_STORAGE_PATH,
};
pub use net::IpNet;
pub use offsite::{credentials_toml, OffsiteConfig, OffsiteWhat};
pub use schedule::{parse_schedule, Window as ScheduleWindow};
pub use secrets::{percent_encode, redacted_url, SourceUrl};
pub use templates::{demo_config, example_config};
pub use to_toml::camera_table;
pub use units::{format_bitrate, format_duration, format_size, parse_bitrate, parse_duration, parse_size};

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, "cannot read", e))?;
    parse(&text, path)
}

/// Validates `text` as the config file at `path` (used in messages and to resolve relative paths).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    sections::parse_config(text, path)
}
