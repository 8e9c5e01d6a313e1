//! The one error type of this crate.
//!
//! Callers (the CLI and the HTTP layer) need to tell the user *what* was wrong — a bad name, a short
//! password, a user that already exists — so each case is its own variant with a message fit to show.
//! Nothing here ever carries a password or a secret token.

use thiserror::Error;

/// Everything that can go wrong in `kw-auth`.
#[derive(Debug, Error)]
pub enum AuthError {
    /// A user name or token label that does not follow the naming rule.
    #[error("invalid {what} {name:?}: {why}")]
    InvalidName {
        /// "user name" or "token label".
        what: &'static str,
        /// The offending name, as given.
        name: String,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// A camera name in a camera list that is not a valid camera name.
    #[error("invalid camera name {0:?}: use 1 to 64 of a-z, 0-9 and '-'")]
    InvalidCamera(String),
    /// An admin was given a camera list; admins always see every camera.
    #[error("an admin always sees all cameras; a camera list is only for viewers")]
    AdminWithCameras,
    /// A role name that is neither `admin` nor `viewer`.
    #[error("unknown role {0:?}: use admin or viewer")]
    InvalidRole(String),
    /// A password shorter than the minimum.
    #[error("password too short: at least {min} characters")]
    PasswordTooShort {
        /// The minimum length in characters.
        min: usize,
    },
    /// A password longer than the maximum (a guard against resource exhaustion).
    #[error("password too long: at most {max} bytes")]
    PasswordTooLong {
        /// The maximum length in bytes.
        max: usize,
    },
    /// Adding a user whose name is taken.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// Naming a user that does not exist.
    #[error("no user {0:?}")]
    NoSuchUser(String),
    /// Creating a token whose label is taken.
    #[error("token {0:?} already exists")]
    TokenExists(String),
    /// Naming a token that does not exist.
    #[error("no token {0:?}")]
    NoSuchToken(String),
    /// Removing or demoting the last admin (the CLI can always add a new one first).
    #[error("{0:?} is the last admin; add another admin first")]
    LastAdmin(String),
    /// Argon2 parameters that argon2 rejects.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// Hashing failed inside argon2 (should not happen with valid parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The operating system's random number generator failed.
    #[error("no randomness from the operating system: {0}")]
    Random(getrandom::Error),
    /// The auth tables were written by a newer keepwatch.
    #[error("auth schema version {found} is newer than this keepwatch supports ({supported}); upgrade keepwatch")]
    SchemaTooNew {
        /// The version found in `auth_schema`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A row that this code did not write (an unknown role, broken JSON).
    #[error("corrupt auth data: {0}")]
    Corrupt(String),
    /// SQLite failed.
    #[error("auth database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// `Result` with [`AuthError`].
pub type Result<T, E = AuthError> = std::result::Result<T, E>;
