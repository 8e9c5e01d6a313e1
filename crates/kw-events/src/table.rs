//! The events table: stored in the store's index file, in tables of its own with its own schema version
//! (`events_schema`), like the auth tables, so the store's schema and this one evolve independently and
//! one backup of `index.sqlite3` holds everything.
//!
//! An event is written when it starts (`end` NULL: visible in the API while it goes on) and updated as it
//! goes on (end, best score, region, best frame JPEG). Events are kept as long as recordings may be
//! (`[storage] max_age`, else [`DEFAULT_KEEP`]) and capped per camera ([`MAX_PER_CAMERA`]), so a camera
//! that sees motion all day cannot fill the disk with JPEGs.

use crate::labels::{self, Label};
use crate::EventKind;
use kw_media::WallMicros;
use kw_schema::{Schema, SchemaError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// How long events are kept when the store has no `max_age`.
pub const DEFAULT_KEEP: Duration = Duration::from_secs(90 * 24 * 3600);
/// The most events kept per camera (the oldest go first).
pub const MAX_PER_CAMERA: i64 = 100_000;

/// The events tables' schema, versioned in `events_schema` (one row).
const SCHEMA: Schema = Schema::table("events_schema", MIGRATIONS);

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        camera   TEXT NOT NULL,
        kind     TEXT NOT NULL,
        start    INTEGER NOT NULL,      -- µs since the epoch
        end      INTEGER NULL,          -- NULL while it goes on
        score    REAL NOT NULL,
        region   TEXT NULL,             -- JSON [x, y, w, h] in 0..1
        snapshot BLOB NULL              -- the best frame, JPEG
    );
    CREATE INDEX events_camera_start ON events(camera, start);
    CREATE INDEX events_start ON events(start);",
    // 2: what object detection saw (JSON list of `Label`s, NULL for none).
    "ALTER TABLE events ADD COLUMN labels TEXT NULL;",
];

/// One stored event (the HTTP layer turns it into the contract's Event JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub id: i64,
    /// Empty for `storage` events, which concern no camera.
    pub camera: String,
    pub kind: EventKind,
    /// µs since the epoch
    pub start: WallMicros,
    /// `None` while it goes on.
    pub end: Option<WallMicros>,
    /// 0..1
    pub score: f64,
    /// `[x, y, w, h]` in 0..1 of the frame, where known.
    pub region: Option<[f64; 4]>,
    pub has_snapshot: bool,
    /// What object detection saw, one entry per label (empty where it did not run or saw nothing).
    pub labels: Vec<Label>,
}

/// The start of an event, as a producer reports it.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    pub camera: &'a str,
    pub kind: EventKind,
    pub start: WallMicros,
    pub score: f64,
    pub region: Option<[f64; 4]>,
    /// The best picture so far, JPEG.
    pub jpeg: Option<&'a [u8]>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("the events tables are from a newer keepwatch (version {0}); upgrade keepwatch")]
    TooNew(i64),
    #[error("the events tables' schema: {0}")]
    Schema(String),
    #[error("event {id} has a kind this keepwatch does not know: {kind:?}")]
    UnknownKind { id: i64, kind: String },
}

/// A filter for [`EventStore::list`].
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Only these cameras (`None`: all).
    pub cameras: Option<Vec<String>>,
    pub kind: Option<EventKind>,
    /// Only events with this label (`person`).
    pub label: Option<String>,
    /// Events overlapping `[start, end)`.
    pub start: Option<WallMicros>,
    pub end: Option<WallMicros>,
    pub limit: usize,
}

pub struct EventStore {
    conn: Mutex<Connection>,
}

impl EventStore {
    pub fn open(path: &Path) -> Result<EventStore, EventError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        SCHEMA.migrate(&mut conn).map_err(|e| match e {
            SchemaError::TooNew { found, .. } => EventError::TooNew(found),
            SchemaError::Sqlite(e) => EventError::Db(e),
            other => EventError::Schema(other.to_string()),
        })?;
        Ok(EventStore { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the start of an event; returns its id.
    pub fn start(&self, e: &NewEvent<'_>) -> Result<i64, EventError> {
        let c = self.conn();
        c.execute(
            "INSERT INTO events (camera, kind, start, end, score, region, snapshot) VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
            params![e.camera, e.kind.as_str(), e.start, e.score, e.region.map(region_json), e.jpeg],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// A better frame (higher score) of a running event. Once object detection has labelled the event its
    /// picture (with the boxes) stays; a new one comes only with new labels ([`EventStore::add_labels`]).
    pub fn improve(
        &self,
        id: i64,
        score: f64,
        region: Option<[f64; 4]>,
        jpeg: Option<&[u8]>,
    ) -> Result<(), EventError> {
        self.conn().execute(
            "UPDATE events SET score = ?2, region = ?3,
               snapshot = CASE WHEN labels IS NULL THEN coalesce(?4, snapshot) ELSE snapshot END WHERE id = ?1",
            params![id, score, region.map(region_json), jpeg],
        )?;
        Ok(())
    }

    /// Adds what object detection saw to an event (merged: one entry per label, the best score kept) and,
    /// when given, a better picture (the one with the boxes). Returns whether a label was new to it.
    pub fn add_labels(&self, id: i64, more: &[Label], jpeg: Option<&[u8]>) -> Result<bool, EventError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let stored: Option<Option<String>> =
            tx.query_row("SELECT labels FROM events WHERE id = ?1", params![id], |r| r.get(0)).optional()?;
        let Some(stored) = stored else { return Ok(false) };
        let mut all = labels::from_json(stored.as_deref());
        let added = labels::merge(&mut all, more);
        tx.execute(
            "UPDATE events SET labels = ?2, snapshot = coalesce(?3, snapshot) WHERE id = ?1",
            params![id, labels::to_json(&all), jpeg],
        )?;
        tx.commit()?;
        Ok(added)
    }

    /// Ends an event.
    pub fn finish(&self, id: i64, end: WallMicros) -> Result<(), EventError> {
        self.conn().execute("UPDATE events SET end = max(?2, start + 1) WHERE id = ?1", params![id, end])?;
        Ok(())
    }

    /// Ends every event still open (after a crash or restart: they cannot go on).
    pub fn finish_open(&self, end: WallMicros) -> Result<usize, EventError> {
        Ok(self.conn().execute("UPDATE events SET end = max(?1, start + 1) WHERE end IS NULL", params![end])?)
    }

    pub fn get(&self, id: i64) -> Result<Option<EventRow>, EventError> {
        self.conn()
            .query_row(
                "SELECT id, camera, kind, start, end, score, region, snapshot IS NOT NULL, labels FROM events WHERE id = ?1",
                params![id],
                row,
            )
            .optional()?
            .map(typed)
            .transpose()
    }

    pub fn snapshot(&self, id: i64) -> Result<Option<Vec<u8>>, EventError> {
        Ok(self
            .conn()
            .query_row("SELECT snapshot FROM events WHERE id = ?1", params![id], |r| r.get::<_, Option<Vec<u8>>>(0))
            .optional()?
            .flatten())
    }

    /// Events matching `q`, newest first.
    pub fn list(&self, q: &Query) -> Result<Vec<EventRow>, EventError> {
        let mut sql = String::from(
            "SELECT id, camera, kind, start, end, score, region, snapshot IS NOT NULL, labels FROM events WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(cams) = &q.cameras {
            if cams.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(" AND camera IN ({})", vec!["?"; cams.len()].join(",")));
            args.extend(cams.iter().map(|c| c.clone().into()));
        }
        if let Some(k) = q.kind {
            sql.push_str(" AND kind = ?");
            args.push(k.as_str().to_owned().into());
        }
        if let Some(l) = &q.label {
            sql.push_str(
                " AND labels IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(events.labels) WHERE json_extract(value, '$.label') = ?)",
            );
            args.push(l.clone().into());
        }
        if let Some(s) = q.start {
            sql.push_str(" AND (end IS NULL OR end > ?)");
            args.push(s.into());
        }
        if let Some(e) = q.end {
            sql.push_str(" AND start < ?");
            args.push(e.into());
        }
        sql.push_str(" ORDER BY start DESC, id DESC LIMIT ?");
        args.push((q.limit.clamp(1, 10_000) as i64).into());
        let c = self.conn();
        let mut stmt = c.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(typed).collect()
    }

    /// Deletes events that ended before `before`, and the oldest beyond [`MAX_PER_CAMERA`] per camera.
    pub fn prune(&self, before: WallMicros) -> Result<usize, EventError> {
        let c = self.conn();
        let mut n = c.execute("DELETE FROM events WHERE end IS NOT NULL AND end < ?1", params![before])?;
        n += c.execute(
            "DELETE FROM events WHERE id IN (
                SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY camera ORDER BY start DESC) AS r FROM events)
                WHERE r > ?1)",
            params![MAX_PER_CAMERA],
        )?;
        Ok(n)
    }
}

fn region_json(r: [f64; 4]) -> String {
    serde_json::to_string(&r).unwrap_or_else(|_| "null".into())
}

/// A row as read, its kind still text (checked by [`typed`] outside rusqlite's row callback).
type RawRow = (EventRow, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    let region: Option<String> = r.get(6)?;
    let row = EventRow {
        id: r.get(0)?,
        camera: r.get(1)?,
        kind: EventKind::Motion,
        start: r.get(3)?,
        end: r.get(4)?,
        score: r.get(5)?,
        region: region.and_then(|s| serde_json::from_str(&s).ok()),
        has_snapshot: r.get(7)?,
        labels: labels::from_json(r.get::<_, Option<String>>(8)?.as_deref()),
    };
    Ok((row, r.get(2)?))
}

fn typed((mut row, kind): RawRow) -> Result<EventRow, EventError> {
    row.kind = EventKind::parse(&kind).ok_or(EventError::UnknownKind { id: row.id, kind })?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_list_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        let db = EventStore::open(&path).unwrap();
        let new = |camera, start, score, region, jpeg| NewEvent {
            camera,
            kind: EventKind::Motion,
            start,
            score,
            region,
            jpeg,
        };
        let a = db.start(&new("front", 1_000, 0.4, Some([0.1, 0.2, 0.3, 0.4]), Some(b"jpeg1"))).unwrap();
        let b = db.start(&new("yard", 2_000, 0.2, None, None)).unwrap();
        assert_eq!(db.get(a).unwrap().unwrap().end, None, "visible while it goes on");
        db.improve(a, 0.9, Some([0.5, 0.5, 0.1, 0.1]), Some(b"jpeg2")).unwrap();
        db.improve(a, 0.9, None, None).unwrap();
        assert_eq!(db.snapshot(a).unwrap().unwrap(), b"jpeg2", "no new JPEG keeps the old");
        db.finish(a, 5_000).unwrap();
        let all = db.list(&Query { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b, a], "newest first");
        let front = db.list(&Query { cameras: Some(vec!["front".into()]), limit: 10, ..Default::default() }).unwrap();
        assert_eq!(front.len(), 1);
        assert_eq!(front[0].end, Some(5_000));
        assert!(db.list(&Query { cameras: Some(vec![]), limit: 10, ..Default::default() }).unwrap().is_empty());
        let late = db.list(&Query { start: Some(5_000), limit: 10, ..Default::default() }).unwrap();
        assert_eq!(late.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b], "open events overlap every later range");
        assert_eq!(db.finish_open(9_000).unwrap(), 1);
        assert_eq!(db.prune(6_000).unwrap(), 1);
        assert!(db.get(a).unwrap().is_none());
        drop(db);
        let again = EventStore::open(&path).unwrap();
        assert_eq!(again.get(b).unwrap().unwrap().end, Some(9_000));
    }

    #[test]
    fn kinds_filter_and_unknown_kinds_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        let db = EventStore::open(&path).unwrap();
        let new = |kind| NewEvent { camera: "door", kind, start: 1, score: 1.0, region: None, jpeg: None };
        db.start(&new(EventKind::Motion)).unwrap();
        let off = db.start(&new(EventKind::CameraOffline)).unwrap();
        let q = Query { kind: Some(EventKind::CameraOffline), limit: 10, ..Default::default() };
        assert_eq!(db.list(&q).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), vec![off]);
        db.conn().execute("UPDATE events SET kind = 'ufo' WHERE id = ?1", [off]).unwrap();
        assert!(matches!(db.get(off), Err(EventError::UnknownKind { .. })));
    }

    #[test]
    fn labels_are_merged_stored_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let db = EventStore::open(&dir.path().join("index.sqlite3")).unwrap();
        let new = |camera| NewEvent { camera, kind: EventKind::Motion, start: 1, score: 0.5, region: None, jpeg: None };
        let a = db.start(&new("door")).unwrap();
        let b = db.start(&new("yard")).unwrap();
        assert!(db.get(a).unwrap().unwrap().labels.is_empty());
        assert!(db.add_labels(a, &[Label::new("person", 0.6, [0.1, 0.2, 0.1, 0.3])], Some(b"boxed")).unwrap());
        assert!(!db.add_labels(a, &[Label::new("person", 0.8, [0.2, 0.2, 0.1, 0.3])], None).unwrap());
        assert!(db.add_labels(b, &[Label::new("car", 0.7, [0.5, 0.5, 0.3, 0.2])], None).unwrap());
        assert!(!db.add_labels(999, &[Label::new("car", 0.7, [0.0; 4])], None).unwrap(), "no such event");
        let row = db.get(a).unwrap().unwrap();
        assert_eq!((row.labels.len(), row.labels[0].score, row.has_snapshot), (1, 0.8, true));
        let q = |l: &str| Query { label: Some(l.into()), limit: 10, ..Default::default() };
        assert_eq!(db.list(&q("person")).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), vec![a]);
        assert_eq!(db.list(&q("car")).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]);
        assert!(db.list(&q("dog")).unwrap().is_empty());
        db.improve(a, 0.9, None, Some(b"motion")).unwrap();
        assert_eq!(db.snapshot(a).unwrap().unwrap(), b"boxed", "the labelled picture stays");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        drop(EventStore::open(&path).unwrap());
        Connection::open(&path).unwrap().execute("UPDATE events_schema SET version = 99", []).unwrap();
        assert!(matches!(EventStore::open(&path), Err(EventError::TooNew(99))));
    }
}
