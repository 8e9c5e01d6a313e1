//! The auth tables and their ordered migrations.
//!
//! The auth tables live in the store's SQLite index file next to the store's own tables. The store
//! versions its schema with `PRAGMA user_version`, so this crate keeps its own version in a one-row
//! table, `auth_schema(version)`, and the two evolve independently. Migration `i` (counting from 1)
//! takes the tables from version `i - 1` to `i`; all pending migrations run in one `BEGIN IMMEDIATE`
//! transaction, so two processes opening the same file at once cannot both migrate, and a failed
//! migration leaves the file as it was. A file written by a newer keepwatch is refused rather than
//! misread.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

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
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Creates or upgrades the auth tables.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS auth_schema (version INTEGER NOT NULL)")?;
    let found: Option<i64> =
        tx.query_row("SELECT max(version) FROM auth_schema", [], |r| r.get(0)).optional()?.flatten();
    let found = match found {
        Some(v) => v,
        None => {
            tx.execute("INSERT INTO auth_schema (version) VALUES (0)", [])?;
            0
        }
    };
    if found > SCHEMA_VERSION {
        return Err(AuthError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    if found < 0 {
        return Err(AuthError::Corrupt(format!("auth schema version {found}")));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(sql)?;
        tx.execute("UPDATE auth_schema SET version = ?1", [i as i64 + 1])?;
    }
    tx.commit()?;
    Ok(())
}
