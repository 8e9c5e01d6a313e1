//! The index schema and its migrations.
//!
//! Why migrations from the first release: every later feature (events, users, ...) adds tables, and a
//! recorder upgraded in place must bring an existing index forward without losing recordings. The
//! schema version lives in `PRAGMA user_version`; `MIGRATIONS[i]` takes version `i` to `i + 1`, and
//! `kw_schema` runs all pending ones in one transaction so a crash never leaves a half-migrated index. An
//! index newer than this build is refused with a clear message instead of being misread.

use std::path::Path;

use kw_schema::{Schema, SchemaError};
use rusqlite::Connection;

use crate::error::StoreError;

/// Version 1: cameras, runs, segments (one frame index blob each) and the garbage list.
const V1: &str = r#"
CREATE TABLE cameras (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    camera_id    INTEGER NOT NULL REFERENCES cameras(id),
    wall_anchor  INTEGER NOT NULL,
    video_params BLOB NOT NULL,
    audio_params BLOB
);
CREATE INDEX runs_camera ON runs(camera_id);
CREATE TABLE segments (
    id           INTEGER PRIMARY KEY,
    camera_id    INTEGER NOT NULL REFERENCES cameras(id),
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    seq          INTEGER NOT NULL,
    start        INTEGER NOT NULL,
    "end"        INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    video_frames INTEGER NOT NULL,
    has_loss     INTEGER NOT NULL,
    frame_index  BLOB NOT NULL,
    UNIQUE (run_id, seq)
);
CREATE INDEX segments_camera_start ON segments(camera_id, start);
CREATE INDEX segments_start ON segments(start);
CREATE TABLE garbage (
    path TEXT PRIMARY KEY
);
"#;

/// Version 2: a covering index over the small columns of `segments`, so range queries, per-camera usage and
/// the longest segment are answered from the index without touching rows (each row carries a frame index
/// blob of several kB; with months of recordings, scans over rows cost seconds).
const V2: &str = r#"
CREATE INDEX segments_camera_span ON segments(camera_id, start, "end", bytes);
"#;

/// Version 3: protected ranges ("keep this clip"): segments of the camera overlapping `[start, end)` are
/// never deleted by retention. `event_id` names the event a protection was made from (no foreign key: events
/// live in another owner's table and are pruned on their own schedule).
const V3: &str = r#"
CREATE TABLE protected (
    id       INTEGER PRIMARY KEY,
    camera_id INTEGER NOT NULL REFERENCES cameras(id),
    start    INTEGER NOT NULL,
    "end"    INTEGER NOT NULL,
    note     TEXT NOT NULL,
    event_id INTEGER,
    created  INTEGER NOT NULL
);
CREATE INDEX protected_camera_span ON protected(camera_id, start, "end");
"#;

/// Ordered migrations; index `i` upgrades schema version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The version lives in `PRAGMA user_version`.
const SCHEMA: Schema = Schema::user_version(MIGRATIONS);

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the schema up to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let done = SCHEMA.migrate(conn).map_err(|e| match e {
        SchemaError::Sqlite(source) => StoreError::Sqlite { path: path.to_path_buf(), source },
        SchemaError::TooNew { found, .. } => StoreError::TooNew {
            path: path.to_path_buf(),
            what: format!("index schema version {found}, this keepwatch knows up to {SCHEMA_VERSION}"),
        },
        e @ (SchemaError::Invalid(_) | SchemaError::BadTableName(_)) => {
            StoreError::Corrupt { path: path.to_path_buf(), what: format!("index {e}") }
        }
    })?;
    for v in done.from + 1..=done.to {
        tracing::info!(index = %path.display(), "index schema migrated to version {v}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.sqlite3");
        let mut c = Connection::open(&path).unwrap();
        migrate(&mut c, &path).unwrap();
        let user_version = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0));
        assert_eq!(user_version(&c).unwrap(), SCHEMA_VERSION);
        migrate(&mut c, &path).unwrap(); // idempotent
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let e = migrate(&mut c, &path).unwrap_err();
        assert!(matches!(e, StoreError::TooNew { .. }), "{e}");
        assert!(e.to_string().contains("upgrade keepwatch"), "{e}");
    }
}
