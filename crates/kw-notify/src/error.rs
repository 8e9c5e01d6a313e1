//! The one error type of this crate.
//!
//! The host shows these to a user (the "send test" button, `keepwatch notify test`, a failed mode change), so
//! each message says what went wrong in plain words. None of them ever carries a password or a webhook secret:
//! targets are named by their redacted form ([`kw_config::redacted_url`]).

use thiserror::Error;

/// Everything that can go wrong in `kw-notify`.
#[derive(Debug, Error)]
pub enum NotifyError {
    /// The SQLite file could not be read or written.
    #[error("alerts database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The file was written by a newer keepwatch with notify tables this build does not know.
    #[error("the alerts tables are at version {found}, this keepwatch supports up to {supported}; upgrade keepwatch")]
    SchemaTooNew {
        /// The version in the file.
        found: i64,
        /// The newest version this build writes.
        supported: i64,
    },
    /// A row that this build cannot make sense of.
    #[error("corrupt alerts data: {0}")]
    Corrupt(String),
    /// No `[[notify]]` entry of that name.
    #[error("no notifier {0:?}")]
    NoSuchNotifier(String),
    /// A notifier whose target or settings cannot be used (never includes credentials).
    #[error("notifier {name:?}: {message}")]
    Setup {
        /// The notifier.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A delivery (or a test delivery) failed.
    #[error("{0}")]
    Delivery(String),
    /// A schedule that does not parse.
    #[error("invalid schedule {spec:?}: {message}")]
    Schedule {
        /// The text given.
        spec: String,
        /// What is wrong with it.
        message: String,
    },
    /// An IANA time zone name that the system's time zone database does not know.
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    /// A background task died (a panic in a dependency, or the runtime shutting down).
    #[error("background task failed: {0}")]
    Task(String),
}

/// `Result` with [`NotifyError`].
pub type Result<T> = std::result::Result<T, NotifyError>;
