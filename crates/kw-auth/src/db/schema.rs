//! The auth tables and their ordered migrations.
//!
//! The auth tables live in the store's SQLite index file next to the store's own tables. The store
//! versions its schema with `PRAGMA user_version`, so this crate keeps its own version in a one-row
//! table, `auth_schema(version)`, and the two evolve independently. Migration `i` (counting from 1)
//! takes the tables from version `i - 1` to `i`; `kw_schema` runs all pending ones in one `BEGIN
//! IMMEDIATE` transaction, so two processes opening the same file at once cannot both migrate, and a
//! failed migration leaves the file as it was. A file written by a newer keepwatch is refused rather than
//! misread.

use kw_schema::{Schema, SchemaError};
use rusqlite::Connection;

use crate::error::{AuthError, Result};

/// The migrations, oldest first. Never edit one that has shipped; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: users, sessions, tokens.
    "CREATE TABLE auth_users (
        name          TEXT PRIMARY KEY NOT NULL,
        role          TEXT NOT NULL,
        cameras       TEXT NULL,          -- JSON array of camera names; NULL = all cameras
        password_hash TEXT NOT NULL,      -- argon2 PHC string
        created       INTEGER NOT NULL    -- unix seconds
    );
    CREATE TABLE auth_sessions (
        id_hash   TEXT PRIMARY KEY NOT NULL, -- hex SHA-256 of the session id; the id itself is never stored
        user      TEXT NOT NULL,
        csrf      TEXT NOT NULL,
        created   INTEGER NOT NULL,
        expires   INTEGER NOT NULL,          -- slides forward on use, never past created + 30 days
        last_seen INTEGER NOT NULL,
        idle_secs INTEGER NOT NULL           -- the sliding window
    );
    CREATE INDEX auth_sessions_user ON auth_sessions(user);
    CREATE TABLE auth_tokens (
        label      TEXT PRIMARY KEY NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,     -- hex SHA-256 of the token; the token itself is never stored
        role       TEXT NOT NULL,
        cameras    TEXT NULL,
        created    INTEGER NOT NULL,
        last_used  INTEGER NULL
    );",
    // 2: extra rights of viewers (a row = the user may move PTZ cameras).
    "CREATE TABLE auth_ptz (
        user TEXT PRIMARY KEY NOT NULL
    );",
];

/// Where the version lives and the migrations.
const SCHEMA: Schema = Schema::table("auth_schema", MIGRATIONS);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = SCHEMA.latest();

/// Creates or upgrades the auth tables.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    match SCHEMA.migrate(conn) {
        Ok(_) => Ok(()),
        Err(SchemaError::Sqlite(e)) => Err(AuthError::Db(e)),
        Err(SchemaError::TooNew { found, supported }) => Err(AuthError::SchemaTooNew { found, supported }),
        Err(e @ (SchemaError::Invalid(_) | SchemaError::BadTableName(_))) => {
            Err(AuthError::Corrupt(format!("auth schema: {e}")))
        }
    }
}
