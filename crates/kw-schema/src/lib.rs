//! Schema migrations for the tables in keepwatch's SQLite index file, one helper for every owner.
//!
//! Why one helper: the index file (`index.sqlite3`) holds the tables of several owners (the store's
//! segments, kw-auth's users, kw-notify's outbox, the daemon's events), each evolving on its own. They all
//! need the same care, and it is easy to get subtly wrong when written four times:
//!
//! - **An ordered list.** `migrations[i]` takes the owner's tables from version `i` to `i + 1`; version 0
//!   is "none of the tables yet". A migration that has shipped is never edited; a new one is appended.
//! - **One transaction.** All pending migrations run inside one `BEGIN IMMEDIATE` transaction together with
//!   the version update, so a crash or a failing migration leaves the file as it was, and two processes
//!   opening the file at once cannot both migrate (the second waits for the write lock, then sees the new
//!   version).
//! - **Newer files are refused** ([`SchemaError::TooNew`]) rather than misread: a file written by a newer
//!   keepwatch is never touched by an older one.
//!
//! Where the version lives is the owner's choice, and stays what it always was so that files on disk read
//! the same ([`Versioning`]): the store uses SQLite's own `PRAGMA user_version`; every other owner keeps a
//! one-row table of its own (`auth_schema`, `notify_schema`, `events_schema`), since there is only one
//! `user_version` per file.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// Where an owner keeps its schema version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    /// A one-row table of this name with one column, `version INTEGER NOT NULL`; created with the row
    /// (version 0) the first time. The name must be a plain identifier (letters, digits, `_`).
    Table(&'static str),
    /// SQLite's `PRAGMA user_version` (one per file: the store's). Checked before taking the write lock,
    /// so opening an up-to-date file does not wait for other writers.
    UserVersion,
}

/// One owner's schema: where its version lives and its migrations, oldest first.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    versioning: Versioning,
    migrations: &'static [&'static str],
}

/// What [`Schema::migrate`] did: the version found and the version now. Equal when nothing ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The version the file had.
    pub from: i64,
    /// The version the file has now ([`Schema::latest`]).
    pub to: i64,
}

/// Why a schema could not be brought up to date. Owners wrap it in their own error with their words.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// SQLite failed (the file is as it was).
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer keepwatch.
    #[error("schema version {found} is newer than this keepwatch knows ({supported})")]
    TooNew {
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A version no keepwatch writes (below zero).
    #[error("schema version {0} is not valid")]
    Invalid(i64),
    /// The version table's name is not a plain identifier (a bug in the owner, never outside input).
    #[error("{0:?} cannot name a version table")]
    BadTableName(&'static str),
}

impl Schema {
    /// Versioned in the one-row table `table`.
    pub const fn table(table: &'static str, migrations: &'static [&'static str]) -> Schema {
        Schema { versioning: Versioning::Table(table), migrations }
    }

    /// Versioned in `PRAGMA user_version`.
    pub const fn user_version(migrations: &'static [&'static str]) -> Schema {
        Schema { versioning: Versioning::UserVersion, migrations }
    }

    /// The version this build writes: the number of migrations.
    pub const fn latest(&self) -> i64 {
        self.migrations.len() as i64
    }

    /// Where the version lives.
    pub fn versioning(&self) -> Versioning {
        self.versioning
    }

    /// Creates or upgrades the owner's tables to [`Schema::latest`] in one transaction.
    pub fn migrate(&self, conn: &mut Connection) -> Result<Migrated, SchemaError> {
        if let Versioning::Table(name) = self.versioning {
            if !is_identifier(name) {
                return Err(SchemaError::BadTableName(name));
            }
        }
        if self.versioning == Versioning::UserVersion {
            // Up to date (the common case) needs no write lock.
            let found = self.check(user_version(conn)?)?;
            if found == self.latest() {
                return Ok(Migrated { from: found, to: found });
            }
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read again under the write lock: another process may have migrated in the meantime.
        let found = match self.versioning {
            Versioning::Table(name) => self.check(table_version(&tx, name)?)?,
            Versioning::UserVersion => self.check(user_version(&tx)?)?,
        };
        let skip = usize::try_from(found).unwrap_or(0);
        for sql in self.migrations.iter().skip(skip) {
            tx.execute_batch(sql)?;
        }
        if found < self.latest() {
            match self.versioning {
                Versioning::Table(name) => {
                    tx.execute(&format!("UPDATE {name} SET version = ?1"), [self.latest()])?;
                }
                Versioning::UserVersion => tx.pragma_update(None, "user_version", self.latest())?,
            }
        }
        tx.commit()?;
        Ok(Migrated { from: found, to: self.latest() })
    }

    /// The version read, unless it is one this build must not touch.
    fn check(&self, found: i64) -> Result<i64, SchemaError> {
        if found > self.latest() {
            return Err(SchemaError::TooNew { found, supported: self.latest() });
        }
        if found < 0 {
            return Err(SchemaError::Invalid(found));
        }
        Ok(found)
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// The version in the one-row table `name`, creating the table (at version 0) when it is missing.
fn table_version(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.execute_batch(&format!("CREATE TABLE IF NOT EXISTS {name} (version INTEGER NOT NULL)"))?;
    let found: Option<i64> =
        conn.query_row(&format!("SELECT max(version) FROM {name}"), [], |r| r.get(0)).optional()?.flatten();
    match found {
        Some(v) => Ok(v),
        None => {
            conn.execute(&format!("INSERT INTO {name} (version) VALUES (0)"), [])?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests;
