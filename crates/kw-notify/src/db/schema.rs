//! The notify tables and their ordered migrations.
//!
//! They live in the store's `index.sqlite3` next to the store's and kw-auth's tables (one file to back up;
//! WAL lets the daemon and the CLI share it). The store versions its own schema with `PRAGMA user_version`
//! and kw-auth keeps `auth_schema`; this crate keeps its version in the one-row table `notify_schema`, so
//! the three evolve independently. `kw_schema` runs all pending migrations in one `BEGIN IMMEDIATE`
//! transaction; a file written by a newer keepwatch is refused rather than misread.

use kw_schema::{Schema, SchemaError};
use rusqlite::Connection;

use crate::error::{NotifyError, Result};

/// The migrations, oldest first. Never edit one that has shipped; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the outbox, cooldowns, open events, runtime state (mode), switches.
    "CREATE TABLE notify_outbox (
        id         INTEGER PRIMARY KEY,
        notifier   TEXT NOT NULL,
        dedup_key  TEXT NOT NULL UNIQUE,    -- {event id}-{phase}-{notifier}
        event_id   INTEGER NOT NULL,
        camera     TEXT NOT NULL,
        kind       TEXT NOT NULL,           -- motion | camera-motion | camera-offline | storage
        phase      TEXT NOT NULL,           -- start | end
        ev_start   INTEGER NOT NULL,        -- event start, µs (for message texts)
        payload    TEXT NOT NULL,           -- the delivery JSON, built once
        jpeg       BLOB NULL,               -- dropped once delivered, after a day, or beyond the newest few
        created    INTEGER NOT NULL,        -- µs
        attempts   INTEGER NOT NULL DEFAULT 0,
        next_try   INTEGER NOT NULL,        -- µs
        state      TEXT NOT NULL,           -- pending | delivered | failed
        done       INTEGER NULL,            -- µs, when delivered or given up
        last_error TEXT NULL
    );
    CREATE INDEX notify_outbox_due ON notify_outbox(notifier, state, id);
    CREATE TABLE notify_open (              -- starts seen, so that an end follows its start's fate
        notifier TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        sent     INTEGER NOT NULL,          -- 1: the start was queued; 0: suppressed (mode, cooldown)
        created  INTEGER NOT NULL,
        PRIMARY KEY (notifier, event_id)
    );
    CREATE TABLE notify_cooldown (
        notifier TEXT NOT NULL,
        camera   TEXT NOT NULL,
        kind     TEXT NOT NULL,
        last     INTEGER NOT NULL,          -- µs of the last queued start
        PRIMARY KEY (notifier, camera, kind)
    );
    CREATE TABLE notify_state (
        key   TEXT PRIMARY KEY NOT NULL,    -- 'mode'
        value TEXT NOT NULL
    );
    CREATE TABLE notify_switches (
        camera TEXT NOT NULL,
        what   TEXT NOT NULL,               -- recording | motion
        on_    INTEGER NOT NULL,
        PRIMARY KEY (camera, what)
    );",
];

/// Where the version lives and the migrations.
const SCHEMA: Schema = Schema::table("notify_schema", MIGRATIONS);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = SCHEMA.latest();

/// Creates or upgrades the notify tables.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    match SCHEMA.migrate(conn) {
        Ok(_) => Ok(()),
        Err(SchemaError::Sqlite(e)) => Err(NotifyError::Db(e)),
        Err(SchemaError::TooNew { found, supported }) => Err(NotifyError::SchemaTooNew { found, supported }),
        Err(e @ (SchemaError::Invalid(_) | SchemaError::BadTableName(_))) => {
            Err(NotifyError::Corrupt(format!("notify schema: {e}")))
        }
    }
}
