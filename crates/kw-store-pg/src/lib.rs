//! keepwatch's segment index on PostgreSQL: [`PgIndex`] implements `kw_store`'s [`IndexBackend`] seam.
//!
//! # Why it is built this way
//!
//! The embedded SQLite index suits one recorder on one machine; an installation that outgrows the machine
//! wants the index on a database server. The store's consistency rules (write order, recovery, retention)
//! stay in `kw_store::Store`; this crate only stores and queries rows, with the same schema, the same
//! schema-version migrations and the same transactions as the SQLite backend (`delete_to_garbage` deletes
//! rows and lists their names in ONE transaction), and it passes the same behaviour checks
//! (`kw_store::index::conformance`).
//!
//! **Synchronous trait, asynchronous driver.** `IndexBackend` is synchronous (the recorder's threads and
//! `spawn_blocking` call it). The driver is tokio-postgres on a small tokio runtime owned by the index (one
//! worker thread); a call sends its work there and waits on a channel. Unlike the blocking `postgres` crate,
//! which starts a runtime of its own inside every call and panics when that happens on an async worker thread
//! (or when a connection is dropped there), this can be called and dropped on any thread: at worst an async
//! worker waits like it would on an SQLite lock. Connections come from a fixed-size deadpool pool.
//!
//! **Bounded.** Connecting, each statement and lock wait (on the server), waiting for a pooled connection and
//! each call as a whole have timeouts ([`PgOptions`]); past them a call returns [`StoreError::Index`], and the
//! recorder reports it like any store error. Nothing panics on what the server sends.
//!
//! **Secrets.** The password comes from the URL, a file ([`PgOptions::password_file`]) or [`PASSWORD_ENV`]; messages and logs name the database by
//! [`PgIndex::location`], which never holds it. No TLS yet (see [`connect`]).
//!
//! Only the store's tables live here for now: users, sessions, API tokens, events and the alert outbox stay in
//! the SQLite file in the store directory.
#![forbid(unsafe_code)]

pub mod connect;
mod index;
mod protect;
mod schema;
#[cfg(feature = "test-cluster")]
pub mod testing;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use kw_store::index::CameraStats;
use kw_store::{IndexBackend, StoreError};
use tokio_postgres::NoTls;

pub use connect::{is_postgres_url, PgOptions, PASSWORD_ENV};
pub use schema::SCHEMA_VERSION;

/// The segment index in a PostgreSQL database.
pub struct PgIndex {
    /// Owns the driver's runtime; `None` only while dropping.
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    location: String,
    opts: PgOptions,
    /// Per camera: the longest segment (`end - start`), so range queries can bound their scan from below
    /// (as in the SQLite backend); raised on every insert, never lowered (deletes only make it looser).
    longest: Mutex<HashMap<i64, i64>>,
    /// Per-camera usage with the time it was computed; retention asks every second. Adjusted by this index's
    /// own inserts, dropped on its deletes, recomputed after [`STATS_TTL`] (other processes write too).
    stats: Mutex<Option<(Instant, Vec<CameraStats>)>>,
}

/// How long cached usage is trusted before it is recomputed.
const STATS_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Why a call failed, before it is given the index's location.
#[derive(Debug)]
pub(crate) enum Fail {
    Pg(tokio_postgres::Error),
    Pool(PoolError),
    /// A stored value that cannot be right.
    Corrupt(String),
    /// The database was written by a newer keepwatch.
    TooNew(String),
    /// Anything else, in words.
    Bad(String),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<PoolError> for Fail {
    fn from(e: PoolError) -> Self {
        Fail::Pool(e)
    }
}

/// A driver error in words: the server's message (and detail) when it sent one, else the driver's chain.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(&format!(": {x}"));
        src = x.source();
    }
    s
}

impl PgIndex {
    /// Connects to the database at `url` (password from the URL, `opts.password_file` or [`PASSWORD_ENV`]), migrates its schema
    /// and claims it for store `store_id` (a database holding another store's index is refused).
    pub fn open(url: &str, store_id: uuid::Uuid, opts: PgOptions) -> Result<PgIndex, StoreError> {
        let env_password = std::env::var(PASSWORD_ENV).ok();
        let target = connect::target(url, env_password, &opts).map_err(|what| StoreError::Invalid { what })?;
        let location = target.location;
        let index_err = |what: String| StoreError::Index { location: location.clone(), what };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("kw-store-pg")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| index_err(format!("cannot start the database driver's thread: {e}")))?;
        let manager =
            Manager::from_config(target.config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .wait_timeout(Some(opts.wait_timeout))
            .create_timeout(Some(opts.connect_timeout))
            .recycle_timeout(Some(opts.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| index_err(format!("cannot set up the connection pool: {e}")))?;
        let ix = PgIndex {
            rt: Some(rt),
            pool,
            location,
            opts,
            longest: Mutex::new(HashMap::new()),
            stats: Mutex::new(None),
        };
        let id = store_id.to_string();
        let done = ix.call(move |pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            let done = schema::migrate(&*tx).await?;
            schema::claim(&*tx, &id).await?;
            tx.commit().await?;
            Ok(done)
        })?;
        for v in done.from + 1..=done.to {
            tracing::info!(index = %ix.location, "index schema migrated to version {v}");
        }
        Ok(ix)
    }

    /// Where the index is, without the password (`postgres://user@host:port/db`).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `work` on the driver's runtime with a pool handle and waits for its answer, at most
    /// [`PgOptions::call_timeout`].
    pub(crate) fn call<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, Fail>> + Send + 'static,
    {
        let Some(rt) = self.rt.as_ref() else {
            return Err(self.err(Fail::Bad("the index is closing".into())));
        };
        let limit = self.opts.call_timeout;
        let fut = work(self.pool.clone());
        let (tx, rx) = mpsc::sync_channel(1);
        rt.spawn(async move {
            let out = match tokio::time::timeout(limit, fut).await {
                Ok(r) => r,
                Err(_) => Err(Fail::Bad(format!("no answer within {} s", limit.as_secs()))),
            };
            let _ = tx.send(out);
        });
        match rx.recv() {
            Ok(r) => r.map_err(|f| self.err(f)),
            // The task was dropped without answering (the runtime is shutting down).
            Err(_) => Err(self.err(Fail::Bad("the database driver stopped".into()))),
        }
    }

    pub(crate) fn err(&self, f: Fail) -> StoreError {
        let what = match f {
            Fail::Pg(e) => describe(&e),
            Fail::Pool(PoolError::Timeout(_)) => format!(
                "no database connection within {} s (all {} in use, or the server does not answer)",
                self.opts.wait_timeout.as_secs(),
                self.opts.pool_size
            ),
            Fail::Pool(PoolError::Backend(e)) => format!("cannot connect: {}", describe(&e)),
            Fail::Pool(e) => format!("connection pool: {e}"),
            Fail::Corrupt(what) => return StoreError::Corrupt { path: PathBuf::from(&self.location), what },
            Fail::TooNew(what) => return StoreError::TooNew { path: PathBuf::from(&self.location), what },
            Fail::Bad(what) => what,
        };
        StoreError::Index { location: self.location.clone(), what }
    }
}

impl Drop for PgIndex {
    fn drop(&mut self) {
        // Not `Runtime::drop`, which blocks and panics when the index is dropped inside an async context.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Checks that `IndexBackend` stays object safe for this type (the store holds a `Box<dyn IndexBackend>`).
const _: fn(PgIndex) -> Box<dyn IndexBackend> = |ix| Box::new(ix);
