//! The alerts' tables in the store's SQLite file: the outbox, cooldowns, the mode and the switches.
//!
//! Each user of the file (the [`crate::Alerts`] front, each delivery worker, the housekeeping) has its own
//! connection, so a worker stuck behind a slow write never holds up another notifier. Connections are WAL
//! with a 5 s busy timeout, like kw-auth's, so the daemon and CLI commands share the file. SQLite calls are
//! blocking; async code goes through [`Db::call`], which runs them on tokio's blocking pool.

pub(crate) mod outbox;
mod schema;
pub(crate) mod state;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{NotifyError, Result};

pub use outbox::Counts;
pub(crate) use outbox::{Enqueue, Row};
pub use schema::SCHEMA_VERSION;

/// How long a writer waits for another connection's lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the file, switches it to WAL and creates or upgrades the notify tables.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(NotifyError::Corrupt(format!("cannot switch the database to WAL mode (it is in {mode} mode)")));
    }
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// One connection, shareable across tasks; blocking work runs off the reactor.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub(crate) fn new(conn: Connection) -> Db {
        Db { conn: Arc::new(Mutex::new(conn)) }
    }

    /// Runs `f` on the connection here and now (for the few quick synchronous calls).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.with(f)).await.map_err(|e| NotifyError::Task(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_twice_and_coexist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("PRAGMA user_version = 7; CREATE TABLE auth_schema (version INTEGER NOT NULL);").unwrap();
        }
        let _a = open(&path).unwrap();
        let b = open(&path).unwrap();
        let v: i64 = b.query_row("SELECT version FROM notify_schema", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let uv: i64 = b.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(uv, 7, "the store's own version is left alone");
        b.execute("UPDATE notify_schema SET version = 99", []).unwrap();
        assert!(matches!(open(&path), Err(NotifyError::SchemaTooNew { found: 99, .. })));
    }
}
