//! [`AuthDb`]: users, sessions and API tokens persisted in the store's SQLite index file.
//!
//! Keeping auth in the same file as the index means one file to back up and one WAL-mode database
//! that the running server and the CLI (`keepwatch user passwd` while `run` is serving) can share:
//! each process opens its own connection, writers wait up to 5 s for each other (busy timeout), and a
//! password changed from the CLI takes effect in the server at once, because nothing is cached.
//!
//! Time comes from a clock closure (unix seconds), the system clock unless a test sets another, so
//! expiry can be tested without sleeping.

mod grants;
mod schema;
mod sessions;
mod tokens;
mod users;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode};

use crate::error::{AuthError, Result};
use crate::names::normalize_cameras;
use crate::password::Hasher;
use crate::principal::{Role, User};

pub use schema::SCHEMA_VERSION;
pub use sessions::{MAX_SESSIONS_PER_USER, MAX_SESSION_AGE};
pub use tokens::{TokenInfo, TOKEN_PREFIX};

/// How long a writer waits for another process's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A clock in unix seconds.
type Clock = Box<dyn Fn() -> i64 + Send>;

/// Users, sessions and API tokens over one SQLite connection.
///
/// Not `Sync` (an SQLite connection is not); the HTTP layer keeps it behind a mutex or opens one per
/// worker. Password hashing and verification run on the calling thread.
pub struct AuthDb {
    conn: Connection,
    hasher: Hasher,
    clock: Clock,
}

impl std::fmt::Debug for AuthDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthDb").field("conn", &self.conn).field("hasher", &self.hasher).finish_non_exhaustive()
    }
}

impl AuthDb {
    /// Opens (creating if needed) the SQLite file at `path` with the recommended password hasher.
    pub fn open(path: &Path) -> Result<AuthDb> {
        AuthDb::open_with(path, Hasher::recommended())
    }

    /// Opens the SQLite file at `path`, hashing new passwords with `hasher`.
    ///
    /// Sets WAL mode and a 5 s busy timeout, and creates or upgrades the auth tables.
    pub fn open_with(path: &Path, hasher: Hasher) -> Result<AuthDb> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            return Err(AuthError::Corrupt(format!("cannot switch the database to WAL mode (it is in {mode} mode)")));
        }
        schema::migrate(&mut conn)?;
        Ok(AuthDb { conn, hasher, clock: Box::new(system_now) })
    }

    /// Replaces the clock (unix seconds); for tests that move time by hand.
    pub fn set_clock(&mut self, clock: impl Fn() -> i64 + Send + 'static) {
        self.clock = Box::new(clock);
    }

    /// The password hasher in use.
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }
}

/// The system clock in unix seconds (0 before 1970, which does not happen on a sane system).
fn system_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether `e` is a UNIQUE or PRIMARY KEY violation.
fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// Checks a role with its camera list and returns the list normalized.
fn check_access(role: Role, cameras: Option<Vec<String>>) -> Result<Option<Vec<String>>> {
    match (role, cameras) {
        (Role::Admin, Some(_)) => Err(AuthError::AdminWithCameras),
        (_, None) => Ok(None),
        (Role::Viewer, Some(list)) => Ok(Some(normalize_cameras(&list)?)),
    }
}

/// The database form of a camera list: a JSON array, or NULL for all cameras.
fn cameras_to_sql(cameras: Option<&Vec<String>>) -> Option<String> {
    cameras.map(|c| serde_json::Value::from(c.clone()).to_string())
}

/// Reads a role and camera list back from the database.
fn access_from_sql(role: &str, cameras: Option<&str>) -> Result<(Role, Option<Vec<String>>)> {
    let role = Role::parse(role).map_err(|_| AuthError::Corrupt(format!("unknown role {role:?}")))?;
    let cameras = match cameras {
        None => None,
        Some(json) => Some(
            serde_json::from_str::<Vec<String>>(json)
                .map_err(|e| AuthError::Corrupt(format!("camera list {json:?}: {e}")))?,
        ),
    };
    Ok((role, cameras))
}

/// Builds a [`User`] from its database columns.
fn user_from_sql(name: String, role: &str, cameras: Option<&str>) -> Result<User> {
    let (role, cameras) = access_from_sql(role, cameras)?;
    Ok(User { name, role, cameras })
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the unit tests of the `db` modules.
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A fresh database in a temporary directory with cheap hashing and a hand-moved clock.
    pub struct TestDb {
        pub db: AuthDb,
        pub now: Arc<AtomicI64>,
        pub dir: tempfile::TempDir,
    }

    impl TestDb {
        pub fn new() -> TestDb {
            let dir = tempfile::tempdir().unwrap();
            let mut db = AuthDb::open_with(&dir.path().join("index.sqlite3"), Hasher::insecure_for_tests()).unwrap();
            let now = Arc::new(AtomicI64::new(1_800_000_000));
            let n = now.clone();
            db.set_clock(move || n.load(Ordering::SeqCst));
            TestDb { db, now, dir }
        }

        pub fn advance(&self, secs: i64) {
            self.now.fetch_add(secs, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestDb;
    use super::*;

    #[test]
    fn open_twice_and_schema_version() {
        let t = TestDb::new();
        let path = t.dir.path().join("index.sqlite3");
        let again = AuthDb::open_with(&path, Hasher::insecure_for_tests()).unwrap();
        let v: i64 = again.conn.query_row("SELECT version FROM auth_schema", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let rows: i64 = again.conn.query_row("SELECT count(*) FROM auth_schema", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1);
        let mode: String = again.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn newer_schema_is_refused() {
        let t = TestDb::new();
        t.db.conn.execute("UPDATE auth_schema SET version = 99", []).unwrap();
        let path = t.dir.path().join("index.sqlite3");
        let e = AuthDb::open_with(&path, Hasher::insecure_for_tests()).unwrap_err();
        assert!(matches!(e, AuthError::SchemaTooNew { found: 99, .. }), "{e}");
    }

    #[test]
    fn coexists_with_other_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("PRAGMA user_version = 7; CREATE TABLE segments (id INTEGER PRIMARY KEY);").unwrap();
        }
        let db = AuthDb::open_with(&path, Hasher::insecure_for_tests()).unwrap();
        let uv: i64 = db.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(uv, 7, "the store's own version is left alone");
    }

    #[test]
    fn corrupt_rows_are_errors_not_panics() {
        assert!(matches!(access_from_sql("root", None), Err(AuthError::Corrupt(_))));
        assert!(matches!(access_from_sql("viewer", Some("{")), Err(AuthError::Corrupt(_))));
        assert_eq!(access_from_sql("viewer", Some("[\"a\"]")).unwrap().1, Some(vec!["a".to_string()]));
    }
}
