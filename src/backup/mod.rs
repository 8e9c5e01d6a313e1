//! `keepwatch backup` and `keepwatch restore`: everything but the video, in one file, and back into a new
//! store on another box.
//!
//! Why: moving to a new machine (or recovering from a dead system disk) should keep the users, API tokens
//! (Home Assistant keeps working), events with their pictures, the alert mode and switches, the link key
//! (links in alerts already sent keep opening) and the config; the video is too large to carry this way and
//! lives on its own disk. A backup is a gzip'd tar ([`archive`]) of the config text, a consistent copy of
//! the index without segment rows ([`snapshot`]) and the link key, with a manifest first. A restore refuses
//! a store directory that is not empty, makes a *new* store there (new id: the recordings of the old one
//! are not there), checks the whole backup inside it before its index becomes the store's, and leaves the
//! directory as it found it when anything fails.
//!
//! The config file is read and written only by the command (`commands/backup.rs`); this module gets and
//! returns its text.

pub mod archive;
pub mod snapshot;

use archive::{FileEntry, Manifest};
use kw_store::{Create, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The store a backup is taken of.
pub struct Source<'a> {
    /// The config file's text, as it is.
    pub config_text: &'a str,
    pub store_dir: &'a Path,
    pub store_id: Uuid,
}

fn dir_of(file: &Path) -> &Path {
    file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// A private (0700) scratch directory beside `near`, removed when dropped.
fn scratch(near: &Path) -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix(".keepwatch-backup-")
        .tempdir_in(near)
        .map_err(|e| format!("cannot make a scratch directory in {}: {e}", near.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = crate::store_open::private_file().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes the backup of `src` to `output` (0600, replaced atomically) and returns its manifest.
pub fn take(src: &Source<'_>, output: &Path) -> Result<Manifest, String> {
    let out_dir = dir_of(output);
    let work = scratch(out_dir)?;
    let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    let config = work.path().join(archive::CONFIG);
    write_private(&config, src.config_text.as_bytes()).map_err(|e| io(&config, e))?;
    let index = work.path().join(archive::INDEX);
    let left_out = snapshot::take(&src.store_dir.join(kw_store::INDEX_FILE), &index)?;
    let mut files: Vec<(&str, PathBuf)> = vec![(archive::CONFIG, config), (archive::INDEX, index)];
    let key_src = src.store_dir.join(crate::http::links::KEY_FILE);
    match std::fs::read(&key_src) {
        Ok(key) => {
            let key_copy = work.path().join(archive::LINK_KEY);
            write_private(&key_copy, &key).map_err(|e| io(&key_copy, e))?;
            files.push((archive::LINK_KEY, key_copy));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&key_src, e)),
    }
    let mut entries = BTreeMap::new();
    for (name, path) in &files {
        entries.insert((*name).to_owned(), archive::entry_of(path).map_err(|e| io(path, e))?);
    }
    let manifest = Manifest {
        format: archive::FORMAT.into(),
        version: archive::VERSION,
        keepwatch: crate::VERSION.into(),
        created: crate::timefmt::format(now_us()),
        source_store: src.store_id.to_string(),
        left_out,
        files: entries,
    };
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    let tmp = out_dir.join(format!(".{name}.partial"));
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&tmp);
        let f = crate::store_open::private_file().write(true).create_new(true).open(&tmp)?;
        let refs: Vec<(&str, &Path)> = files.iter().map(|(n, p)| (*n, p.as_path())).collect();
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        archive::write(&mut w, &manifest, &refs)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, output)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("writing {}: {e}", output.display()));
    }
    Ok(manifest)
}

fn now_us() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// What a restore made.
pub struct Restored<T> {
    pub manifest: Manifest,
    /// What the caller made of the backup's config text.
    pub config: T,
    pub store_id: Uuid,
    /// Users, API tokens, events in the restored index.
    pub counts: (i64, i64, i64),
}

/// Whether `dir` is missing or an empty directory.
fn empty_or_missing(dir: &Path) -> Result<bool, String> {
    match std::fs::read_dir(dir) {
        Ok(mut it) => Ok(it.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// Restores the backup `file` into a new store at `store` (missing or empty). `config` is handed the
/// backup's config text once the whole file has been checked and before the store takes the backup's
/// index: an error from it stops the restore. On any failure the directory is left as it was found.
pub fn restore<T>(
    file: &Path,
    store: &Path,
    config: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Restored<T>, String> {
    if !empty_or_missing(store)? {
        return Err(format!(
            "{} is not empty: a backup is restored only into a new, empty store directory",
            store.display()
        ));
    }
    let existed = store.exists();
    match restore_into(file, store, config) {
        Ok(r) => Ok(r),
        Err(e) => {
            undo(store, existed);
            Err(e)
        }
    }
}

fn restore_into<T>(
    file: &Path,
    store: &Path,
    config: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Restored<T>, String> {
    let fail = |e: kw_store::StoreError| format!("cannot make the store at {}: {e}", store.display());
    // The new store first: its directory is the one place the restore may write (the service's user may
    // own nothing else), so the backup is unpacked and checked in a scratch directory inside it.
    let store_id = Store::open(store, Create::IfMissing, None).map_err(fail)?.id();
    let work = scratch(store)?;
    let manifest = archive::extract(file, work.path()).map_err(|e| format!("{}: {e}", file.display()))?;
    let config_text = std::fs::read_to_string(work.path().join(archive::CONFIG))
        .map_err(|e| format!("{}: the config in the backup is not text: {e}", file.display()))?;
    let index = work.path().join(archive::INDEX);
    snapshot::check(&index).map_err(|e| format!("{}: {e}", file.display()))?;
    // The other owners of tables migrate the copy now, so a backup from a newer keepwatch is refused here.
    kw_auth::AuthDb::open(&index).map_err(|e| format!("{}: the users and tokens: {e}", file.display()))?;
    crate::events::EventStore::open(&index).map_err(|e| format!("{}: the events: {e}", file.display()))?;
    let config = config(&config_text)?;
    let target = store.join(kw_store::INDEX_FILE);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = target.clone().into_os_string();
        p.push(suffix);
        match std::fs::remove_file(PathBuf::from(p)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(format!("{}: {e}", target.display())),
            _ => {}
        }
    }
    std::fs::rename(&index, &target).map_err(|e| format!("cannot move the index into {}: {e}", store.display()))?;
    let link_key = work.path().join(archive::LINK_KEY);
    if link_key.exists() {
        std::fs::rename(&link_key, store.join(crate::http::links::KEY_FILE))
            .map_err(|e| format!("cannot move the link key into {}: {e}", store.display()))?;
    }
    drop(work);
    // Opening it migrates the store's own tables; a newer schema is refused here.
    drop(Store::open(store, Create::Never, Some(store_id)).map_err(fail)?);
    let counts = counts(&target).unwrap_or((0, 0, 0));
    Ok(Restored { manifest, config, store_id, counts })
}

/// Takes back a half-made store: the directory was empty or missing when the restore began.
fn undo(store: &Path, existed: bool) {
    if !existed {
        let _ = std::fs::remove_dir_all(store);
        return;
    }
    if let Ok(entries) = std::fs::read_dir(store) {
        for e in entries.flatten() {
            let p = e.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

fn counts(index: &Path) -> rusqlite::Result<(i64, i64, i64)> {
    let c = rusqlite::Connection::open_with_flags(index, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let n = |t: &str| c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0));
    Ok((n("auth_users")?, n("auth_tokens")?, n("events")?))
}

/// A line per file of the manifest, for the command's summary.
pub fn describe(files: &BTreeMap<String, FileEntry>) -> String {
    files.iter().map(|(n, e)| format!("{n} ({} bytes)", e.bytes)).collect::<Vec<_>>().join(", ")
}
