//! One error type for the crate, with the words a user needs (which target, what went wrong).

/// Why an off-site operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OffsiteError {
    /// The index (queue) failed.
    #[error("off-site queue: {0}")]
    Db(#[from] rusqlite::Error),
    /// The queue's tables are newer than this keepwatch, or broken.
    #[error("off-site queue: {0}")]
    Schema(#[from] kw_schema::SchemaError),
    /// A local file (spool, identity, credentials, output).
    #[error("{0}")]
    Io(String),
    /// Encryption or decryption.
    #[error("{0}")]
    Crypt(String),
    /// The target refused or could not be reached.
    #[error("{0}")]
    Target(String),
    /// A setting that cannot work (bad URL, missing credentials).
    #[error("{0}")]
    Config(String),
}

impl OffsiteError {
    pub(crate) fn io(what: impl std::fmt::Display, e: std::io::Error) -> OffsiteError {
        OffsiteError::Io(format!("{what}: {e}"))
    }
}
