//! Opening the store the config names, and refusing the wrong directory.
//!
//! The store directory carries a marker with its id, but an unmounted USB disk leaves an *empty* mount
//! point, which looks just like a place for a new store: recording there would fill the root filesystem.
//! So the id of the store a config created is remembered beside the config file (`<config>.store-id`).
//! When that file exists, `run` only opens a store with that id and never creates one; the message says
//! how to start afresh on purpose (delete the id file).
//!
//! Files made here are private like the store's own (0600): the id file and `run.lock`.
//!
//! The segment index is the SQLite file in the store directory unless `[storage] index` names a PostgreSQL
//! database (`kw-store-pg`); the segment files, the marker and the lock stay in the directory either way.

use crate::Failure;
use kw_config::StorageIndex;
use kw_store::{Create, IndexBackend, Store, StoreError};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Options that create a file 0600 (the caller sets `create`).
pub fn private_file() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.mode(0o600);
    o
}

fn id_file(config: &Path) -> PathBuf {
    let mut name = config.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "keepwatch.toml".into());
    name.push(".store-id");
    config.with_file_name(name)
}

fn remembered(config: &Path) -> Result<Option<Uuid>, Failure> {
    let f = id_file(config);
    match std::fs::read_to_string(&f) {
        Ok(s) => Uuid::parse_str(s.trim())
            .map(Some)
            .map_err(|_| Failure::usage(format!("{}: not a store id; delete the file to start afresh", f.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::runtime(format!("cannot read {}: {e}", f.display()))),
    }
}

fn explain(e: StoreError, path: &Path, config: &Path, expected: Option<Uuid>) -> Failure {
    match (&e, expected) {
        (StoreError::WrongStore { .. }, _) => Failure::runtime(format!(
            "{e}; the config {} belongs to another store (remove {} to adopt this one)",
            config.display(),
            id_file(config).display()
        )),
        (_, Some(id)) if !path.join("keepwatch-store.json").exists() => Failure::runtime(format!(
            "store {id} is expected at {} but the directory is missing or empty: is the disk mounted? \
             (to start a new store there on purpose, delete {})",
            path.display(),
            id_file(config).display()
        )),
        (StoreError::NotAStore { .. }, _) => {
            Failure::runtime(format!("{e}; refusing to write into it (choose another [storage] path)"))
        }
        _ => Failure::runtime(format!("cannot open the store at {}: {e}", path.display())),
    }
}

/// The file `run` holds an exclusive lock on while it runs (the OS drops the lock when the process ends,
/// also on `kill -9`, so it can never go stale).
pub const RUN_LOCK: &str = "run.lock";

/// The lock of the running process, held until it exits.
static HELD: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// Takes the store's run lock for the rest of this process: two `run` processes on one store would each
/// recover, write and delete the other's segments.
fn lock_for_run(path: &Path) -> Result<(), Failure> {
    use std::io::{Read, Seek, Write};
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if held.is_some() {
        return Ok(());
    }
    let f = path.join(RUN_LOCK);
    let mut file = private_file()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&f)
        .map_err(|e| Failure::runtime(format!("cannot open {}: {e}", f.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let who = match pid.trim() {
                "" => String::new(),
                p => format!(" (pid {p})"),
            };
            return Err(Failure::runtime(format!(
                "another keepwatch is already running on the store at {}{who}; stop it first",
                path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Failure::runtime(format!("cannot lock {}: {e}", f.display())));
        }
    }
    let _ = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| writeln!(file, "{}", std::process::id()));
    *held = Some(file);
    Ok(())
}

/// For `run` and `demo`: takes the store's run lock and opens the store, creating it when this config
/// never had one.
pub fn open_for_run(config: &Path, cfg: &kw_config::Config) -> Result<Store, Failure> {
    let existed = cfg.storage.path.join(RUN_LOCK).exists() || cfg.storage.path.join(kw_store::MARKER_FILE).exists();
    if existed {
        lock_for_run(&cfg.storage.path)?;
    }
    let store = open_or_create(config, cfg)?;
    lock_for_run(&cfg.storage.path)?;
    Ok(store)
}

/// Opens the store at `[storage] path` with the index `[storage] index` names.
fn open_store(cfg: &kw_config::Config, create: Create, expected: Option<Uuid>) -> Result<Store, StoreError> {
    let path = &cfg.storage.path;
    match &cfg.storage.index {
        StorageIndex::Embedded => Store::open(path, create, expected),
        StorageIndex::Postgres(url) => Store::open_with_index(path, create, expected, |_, id| {
            let opts = kw_store_pg::PgOptions {
                password_file: cfg.storage.index_password_file.clone(),
                ..kw_store_pg::PgOptions::default()
            };
            let index = kw_store_pg::PgIndex::open(url, id, opts)?;
            tracing::info!(index = %index.location(), "segment index on PostgreSQL");
            Ok(Box::new(index) as Box<dyn IndexBackend>)
        }),
    }
}

fn open_or_create(config: &Path, cfg: &kw_config::Config) -> Result<Store, Failure> {
    let path = cfg.storage.path.clone();
    let expected = remembered(config)?;
    let create = if expected.is_some() { Create::Never } else { Create::IfMissing };
    let store = open_store(cfg, create, expected).map_err(|e| explain(e, &path, config, expected))?;
    if expected.is_none() {
        let f = id_file(config);
        let write = |f: &Path| -> std::io::Result<()> {
            use std::io::Write;
            private_file()
                .write(true)
                .create(true)
                .truncate(true)
                .open(f)?
                .write_all(format!("{}\n", store.id()).as_bytes())
        };
        if let Err(e) = write(&f) {
            tracing::warn!("could not remember the store id in {}: {e}", f.display());
        }
    }
    Ok(store)
}

/// For `check`, `export` and other store commands: never creates anything. They see what a `run` beside
/// them is recording up to what it has written (about the last second), read from the segment files
/// without its lock and without writing.
pub fn open_existing(config: &Path, cfg: &kw_config::Config) -> Result<Store, Failure> {
    let path = cfg.storage.path.clone();
    let expected = remembered(config)?;
    let store = open_store(cfg, Create::Never, expected).map_err(|e| explain(e, &path, config, expected))?;
    store.follow_other_writers();
    Ok(store)
}

/// The users, sessions and API tokens of the store the config names (their tables live in the store's
/// index file). Opens the store first like `run` does, creating it when this config never had one, so
/// `keepwatch user add` works before the first `run` and never writes beside an unmounted disk.
pub fn auth_db(config: &Path, cfg: &kw_config::Config) -> Result<kw_auth::AuthDb, Failure> {
    drop(open_or_create(config, cfg)?);
    let index = cfg.storage.path.join(kw_store::INDEX_FILE);
    kw_auth::AuthDb::open(&index)
        .map_err(|e| Failure::runtime(format!("cannot open the users and tokens in {}: {e}", index.display())))
}
