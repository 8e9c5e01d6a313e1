//! The SQLite implementation of [`IndexBackend`].
//!
//! Why these settings: WAL mode lets `keepwatch check` and `export` (other processes) read while the
//! recorder writes; `busy_timeout` makes a brief writer collision wait instead of failing;
//! `synchronous=FULL` makes a committed row durable, which the store's ordering rules rely on (the row
//! rate is a few per minute, so the cost is nil); foreign keys keep rows pointing at real runs.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use kw_media::{RunInfo, StreamParams, WallMicros};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row};

use super::{migrations, CameraStats, IndexBackend, NewProtection, NewSegment, Protection, SegmentRow};
use crate::backend::SegmentKey;
use crate::error::StoreError;

pub(super) const SEG_COLS: &str = r#"id, camera_id, run_id, seq, start, "end", bytes, video_frames, has_loss"#;

/// Inserts a segment row, or replaces the row of the same (run, seq) (recovery re-indexing a file).
const UPSERT_SEGMENT: &str = r#"INSERT INTO segments (camera_id, run_id, seq, start, "end", bytes, video_frames, has_loss, frame_index)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (run_id, seq) DO UPDATE SET camera_id = excluded.camera_id, start = excluded.start,
      "end" = excluded."end", bytes = excluded.bytes, video_frames = excluded.video_frames,
      has_loss = excluded.has_loss, frame_index = excluded.frame_index"#;

/// The parameters of [`UPSERT_SEGMENT`].
fn upsert_params(s: &NewSegment) -> impl rusqlite::Params + '_ {
    (s.camera_id, s.run_id, s.seq, s.start, s.end, to_i64(s.bytes), s.video_frames, s.has_loss, &s.frame_index)
}

/// An index in one SQLite database file.
pub struct SqliteIndex {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Per camera: the longest segment (`end - start`) in the index, so a range query can bound its scan
    /// from below (`start > range_start - longest`). Filled lazily from the covering index, raised on
    /// every insert; deletes never make it wrong (only looser).
    longest: Mutex<std::collections::HashMap<i64, i64>>,
    /// Per-camera usage, kept up to date by this connection's own inserts and deletes and refreshed from
    /// the table every [`STATS_TTL`] (other processes, `check --repair`, may change it too). Retention asks
    /// for it every second; summing months of rows that often would keep the index busy.
    stats: Mutex<Option<(std::time::Instant, Vec<CameraStats>)>>,
}

/// How long cached usage is trusted before it is recomputed.
const STATS_TTL: Duration = Duration::from_secs(300);

impl SqliteIndex {
    /// Opens (creating if missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let sq = |e| sqlite_err(path, e);
        // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode.
        crate::private::touch(path).map_err(|e| crate::error::io_err(path, e))?;
        let mut conn = Connection::open(path).map_err(sq)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sq)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(sq)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(index = %path.display(), "SQLite refused WAL mode (got {mode}); readers may block the recorder");
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(sq)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sq)?;
        migrations::migrate(&mut conn, path)?;
        Ok(SqliteIndex {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            longest: Mutex::new(Default::default()),
            stats: Mutex::new(None),
        })
    }

    /// **Benchmarks only** (`crates/kw-store/examples/fill.rs` fills an index with weeks of recordings):
    /// inserts or replaces many segment rows in ONE transaction, where [`IndexBackend::upsert_segment`]
    /// commits (and, with `synchronous=FULL`, fsyncs) once per row, which would take most of an hour for
    /// the ~700k rows of 16 cameras × 30 days. It bypasses the store's write order: the caller must have
    /// made every row's segment data durable first. Not part of the store's API; may change or go away.
    #[doc(hidden)]
    pub fn bulk_upsert_segments(&self, segs: &[NewSegment]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx.prepare_cached(UPSERT_SEGMENT).map_err(|e| self.err(e))?;
            for s in segs {
                self.raise_longest(s.camera_id, s.end - s.start);
                stmt.execute(upsert_params(s)).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    fn camera_stats_query(&self) -> Result<Vec<CameraStats>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT c.id, c.name, COALESCE(SUM(s.bytes), 0), COUNT(s.id), MIN(s.start)
                 FROM cameras c LEFT JOIN segments s INDEXED BY segments_camera_span ON s.camera_id = c.id
                 GROUP BY c.id ORDER BY c.name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CameraStats {
                    camera_id: r.get(0)?,
                    name: r.get(1)?,
                    bytes: r.get(2)?,
                    segments: r.get(3)?,
                    oldest: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn raise_longest(&self, camera_id: i64, len: i64) {
        let mut l = self.longest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = l.get_mut(&camera_id) {
            *v = (*v).max(len);
        }
    }

    /// The longest segment of a camera (0 without segments), from the covering index.
    fn longest_of(&self, conn: &Connection, camera_id: i64) -> Result<i64, StoreError> {
        if let Some(v) = self.longest.lock().unwrap_or_else(|e| e.into_inner()).get(&camera_id) {
            return Ok(*v);
        }
        let v: Option<i64> = conn
            .query_row(
                r#"SELECT max("end" - start) FROM segments INDEXED BY segments_camera_span WHERE camera_id = ?1"#,
                [camera_id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let v = v.unwrap_or(0).max(0);
        self.longest.lock().unwrap_or_else(|e| e.into_inner()).insert(camera_id, v);
        Ok(v)
    }

    /// Applies a change of one camera's usage to the cached stats (if any): `bytes` and `count` are deltas,
    /// `start` a new segment's start, `oldest` the camera's oldest start after a delete.
    fn adjust_stats(
        &self,
        camera_id: i64,
        bytes: i64,
        count: i64,
        start: Option<WallMicros>,
        oldest: Option<Option<WallMicros>>,
    ) {
        let mut guard = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let Some((_, stats)) = guard.as_mut() else { return };
        let Some(c) = stats.iter_mut().find(|c| c.camera_id == camera_id) else {
            *guard = None; // a camera the cache does not know: recompute next time
            return;
        };
        c.bytes = u64::try_from(i64::try_from(c.bytes).unwrap_or(i64::MAX).saturating_add(bytes)).unwrap_or(0);
        c.segments = u64::try_from(i64::try_from(c.segments).unwrap_or(i64::MAX).saturating_add(count)).unwrap_or(0);
        if let Some(s) = start {
            c.oldest = Some(c.oldest.map_or(s, |o| o.min(s)));
        }
        if let Some(o) = oldest {
            c.oldest = o;
        }
    }

    /// After deleting rows: the cached usage of the cameras they belonged to.
    fn after_delete(&self, conn: &Connection, removed: &[(i64, i64)]) {
        let mut per: std::collections::HashMap<i64, (i64, i64)> = Default::default();
        for &(camera_id, bytes) in removed {
            let e = per.entry(camera_id).or_default();
            e.0 += bytes;
            e.1 += 1;
        }
        for (camera_id, (bytes, count)) in per {
            let oldest: Option<i64> = conn
                .query_row("SELECT min(start) FROM segments WHERE camera_id = ?1", [camera_id], |r| r.get(0))
                .unwrap_or(None);
            self.adjust_stats(camera_id, -bytes, -count, None, Some(oldest));
        }
    }

    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic elsewhere while holding the lock leaves the connection itself usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> StoreError {
        sqlite_err(&self.path, e)
    }

    fn corrupt(&self, what: String) -> StoreError {
        StoreError::Corrupt { path: self.path.clone(), what }
    }

    fn decode_run(&self, run_id: i64, anchor: i64, video: &[u8], audio: Option<&[u8]>) -> Result<RunInfo, StoreError> {
        let bad = |which: &str, e: kw_media::ParamsError| self.corrupt(format!("run {run_id} {which} parameters: {e}"));
        let video = StreamParams::decode(video).map_err(|e| bad("video", e))?;
        let audio = audio.map(StreamParams::decode).transpose().map_err(|e| bad("audio", e))?;
        Ok(RunInfo { video, audio, wall_anchor: anchor })
    }

    pub(super) fn rows(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<SegmentRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(p, read_row).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

fn sqlite_err(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::NoSpace { path: path.to_path_buf() },
        _ => StoreError::Sqlite { path: path.to_path_buf(), source: e },
    }
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn read_row(r: &Row<'_>) -> rusqlite::Result<SegmentRow> {
    Ok(SegmentRow {
        id: r.get(0)?,
        camera_id: r.get(1)?,
        run_id: r.get(2)?,
        seq: r.get(3)?,
        start: r.get(4)?,
        end: r.get(5)?,
        bytes: r.get(6)?,
        video_frames: r.get(7)?,
        has_loss: r.get(8)?,
    })
}

impl IndexBackend for SqliteIndex {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn camera_id(&self, name: &str) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute("INSERT INTO cameras (name) VALUES (?1) ON CONFLICT (name) DO NOTHING", [name])
            .map_err(|e| self.err(e))?;
        conn.query_row("SELECT id FROM cameras WHERE name = ?1", [name], |r| r.get(0)).map_err(|e| self.err(e))
    }

    fn find_camera(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.conn()
            .query_row("SELECT id FROM cameras WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    fn cameras(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT id, name FROM cameras ORDER BY name").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn ensure_camera(&self, id: i64, name_hint: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        let exists: Option<i64> = conn
            .query_row("SELECT id FROM cameras WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        if exists.is_some() {
            return Ok(());
        }
        for n in 0u32.. {
            let name = if n == 0 { name_hint.to_string() } else { format!("{name_hint}-{n}") };
            let added = conn
                .execute("INSERT INTO cameras (id, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING", params![id, name])
                .map_err(|e| self.err(e))?;
            if added == 1 {
                return Ok(());
            }
        }
        Err(self.corrupt(format!("cannot name recovered camera {id}")))
    }

    fn insert_run(&self, camera_id: i64, run: &RunInfo) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (camera_id, wall_anchor, video_params, audio_params) VALUES (?1, ?2, ?3, ?4)",
            params![camera_id, run.wall_anchor, run.video.encode(), run.audio.as_ref().map(|a| a.encode())],
        )
        .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid())
    }

    fn insert_run_with_id(&self, run_id: i64, camera_id: i64, run: &RunInfo) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO runs (id, camera_id, wall_anchor, video_params, audio_params) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run_id, camera_id, run.wall_anchor, run.video.encode(), run.audio.as_ref().map(|a| a.encode())],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn run(&self, run_id: i64) -> Result<Option<(i64, RunInfo)>, StoreError> {
        type RunRow = (i64, i64, Vec<u8>, Option<Vec<u8>>);
        let row: Option<RunRow> = self
            .conn()
            .query_row(
                "SELECT camera_id, wall_anchor, video_params, audio_params FROM runs WHERE id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match row {
            None => Ok(None),
            Some((camera, anchor, video, audio)) => {
                Ok(Some((camera, self.decode_run(run_id, anchor, &video, audio.as_deref())?)))
            }
        }
    }

    fn upsert_segment(&self, s: &NewSegment) -> Result<SegmentRow, StoreError> {
        // `execute`, not `INSERT .. RETURNING` with `query_row`: the latter reads the returned row and drops
        // the statement, and an error when the statement commits (a full disk) would be lost with it.
        let conn = self.conn();
        let old: Option<i64> = conn
            .query_row("SELECT bytes FROM segments WHERE run_id = ?1 AND seq = ?2", params![s.run_id, s.seq], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        conn.prepare_cached(UPSERT_SEGMENT).and_then(|mut st| st.execute(upsert_params(s))).map_err(|e| self.err(e))?;
        let sql = format!("SELECT {SEG_COLS} FROM segments WHERE run_id = ?1 AND seq = ?2");
        let row = conn.query_row(&sql, params![s.run_id, s.seq], read_row).map_err(|e| self.err(e))?;
        self.raise_longest(s.camera_id, s.end - s.start);
        self.adjust_stats(
            s.camera_id,
            to_i64(s.bytes) - old.unwrap_or(0),
            i64::from(old.is_none()),
            Some(s.start),
            None,
        );
        Ok(row)
    }

    fn segment(&self, run_id: i64, seq: u32) -> Result<Option<SegmentRow>, StoreError> {
        let sql = format!("SELECT {SEG_COLS} FROM segments WHERE run_id = ?1 AND seq = ?2");
        Ok(self.rows(&sql, params![run_id, seq])?.pop())
    }

    fn segments(&self, camera_id: i64, start: WallMicros, end: WallMicros) -> Result<Vec<SegmentRow>, StoreError> {
        // No segment is longer than `longest`, so one that ends after `start` starts after `start - longest`:
        // the scan covers the range, not every older segment of the camera.
        let longest = self.longest_of(&self.conn(), camera_id)?;
        let low = start.saturating_sub(longest).saturating_sub(1);
        let sql = format!(
            r#"SELECT {SEG_COLS} FROM segments INDEXED BY segments_camera_span
               WHERE camera_id = ?1 AND start > ?4 AND start < ?3 AND "end" > ?2
               ORDER BY start, id"#
        );
        self.rows(&sql, params![camera_id, start, end, low])
    }

    fn segment_sizes(&self, camera_id: i64) -> Result<Vec<(i64, SegmentKey, u64)>, StoreError> {
        // Two scans of covering indexes (the unique (run_id, seq) index per run, and segments_camera_span),
        // joined by id here: a month of rows, each with a blob of several kB, is never read.
        let conn = self.conn();
        let mut bytes = std::collections::HashMap::new();
        {
            let mut stmt = conn
                .prepare_cached("SELECT id, bytes FROM segments INDEXED BY segments_camera_span WHERE camera_id = ?1")
                .map_err(|e| self.err(e))?;
            let mut rows = stmt.query([camera_id]).map_err(|e| self.err(e))?;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let (id, b): (i64, i64) = (r.get(0).map_err(|e| self.err(e))?, r.get(1).map_err(|e| self.err(e))?);
                bytes.insert(id, u64::try_from(b).unwrap_or(0));
            }
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut stmt = conn
            .prepare_cached(
                "SELECT s.run_id, s.seq, s.id FROM runs r JOIN segments s ON s.run_id = r.id WHERE r.camera_id = ?1",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([camera_id]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let run_id: i64 = r.get(0).map_err(|e| self.err(e))?;
            let seq: u32 = r.get(1).map_err(|e| self.err(e))?;
            let id: i64 = r.get(2).map_err(|e| self.err(e))?;
            // A row of this camera's run filed under another camera (recovery repairs that elsewhere) has no
            // entry in `bytes`: it is left out like the other camera's rows.
            if let Some(&b) = bytes.get(&id) {
                out.push((id, SegmentKey { camera_id, run_id, seq }, b));
            }
        }
        Ok(out)
    }

    fn frame_index(&self, segment_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn()
            .query_row("SELECT frame_index FROM segments WHERE id = ?1", [segment_id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    fn oldest_segments(&self, camera_id: Option<i64>, limit: usize) -> Result<Vec<SegmentRow>, StoreError> {
        let limit = to_i64(limit as u64);
        match camera_id {
            Some(c) => self.rows(
                &format!("SELECT {SEG_COLS} FROM segments WHERE camera_id = ?1 ORDER BY start, id LIMIT ?2"),
                params![c, limit],
            ),
            None => self.rows(&format!("SELECT {SEG_COLS} FROM segments ORDER BY start, id LIMIT ?1"), [limit]),
        }
    }

    fn oldest_unprotected(&self, camera_id: Option<i64>, limit: usize) -> Result<Vec<SegmentRow>, StoreError> {
        self.oldest_unprotected_sql(camera_id, limit)
    }

    fn camera_stats(&self) -> Result<Vec<CameraStats>, StoreError> {
        if let Some((at, stats)) = self.stats.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if at.elapsed() < STATS_TTL {
                return Ok(stats.clone());
            }
        }
        let stats = self.camera_stats_query()?;
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = Some((std::time::Instant::now(), stats.clone()));
        Ok(stats)
    }

    fn delete_to_garbage(&self, rows: &[SegmentRow]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut removed = Vec::new();
        for r in rows {
            let bytes: Option<i64> = tx
                .query_row("SELECT bytes FROM segments WHERE id = ?1", [r.id], |x| x.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            tx.execute("DELETE FROM segments WHERE id = ?1", [r.id]).map_err(|e| self.err(e))?;
            if let Some(b) = bytes {
                removed.push((r.camera_id, b));
            }
            tx.execute("INSERT OR IGNORE INTO garbage (path) VALUES (?1)", [r.key().name()])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        self.after_delete(&conn, &removed);
        Ok(())
    }

    fn delete_segment(&self, segment_id: i64) -> Result<(), StoreError> {
        let conn = self.conn();
        let gone: Option<(i64, i64)> = conn
            .query_row("SELECT camera_id, bytes FROM segments WHERE id = ?1", [segment_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        conn.execute("DELETE FROM segments WHERE id = ?1", [segment_id]).map_err(|e| self.err(e))?;
        if let Some(g) = gone {
            self.after_delete(&conn, &[g]);
        }
        Ok(())
    }

    fn garbage(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT path FROM garbage ORDER BY path").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn remove_garbage(&self, name: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM garbage WHERE path = ?1", [name]).map_err(|e| self.err(e))?;
        Ok(())
    }

    fn add_protection(&self, p: &NewProtection) -> Result<i64, StoreError> {
        self.add_protection_sql(p)
    }

    fn protections(&self) -> Result<Vec<Protection>, StoreError> {
        self.protections_sql()
    }

    fn remove_protection(&self, id: i64) -> Result<bool, StoreError> {
        self.remove_protection_sql(id)
    }

    fn protected_bytes(&self) -> Result<u64, StoreError> {
        self.protected_bytes_sql()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::conformance::seg;
    use crate::testutil::run_info;

    #[test]
    fn conformance() {
        for (name, check) in crate::index::conformance::CHECKS {
            let dir = tempfile::tempdir().unwrap();
            let ix = SqliteIndex::open(&dir.path().join("i.sqlite3")).unwrap();
            eprintln!("conformance check {name}");
            check(&ix);
        }
    }

    #[test]
    fn bulk_upsert_inserts_and_replaces_in_one_go() {
        let dir = tempfile::tempdir().unwrap();
        let ix = SqliteIndex::open(&dir.path().join("i.sqlite3")).unwrap();
        let a = ix.camera_id("a").unwrap();
        let r = ix.insert_run(a, &run_info(false)).unwrap();
        let one = ix.upsert_segment(&seg(a, r, 1, 10, 20)).unwrap();
        let rows: Vec<NewSegment> = (0..5).map(|i| seg(a, r, i, i64::from(i) * 10, i64::from(i) * 10 + 10)).collect();
        ix.bulk_upsert_segments(&[NewSegment { bytes: 7, ..rows[1].clone() }, rows[0].clone()]).unwrap();
        ix.bulk_upsert_segments(&rows[2..]).unwrap();
        let got = ix.segments(a, 0, 100).unwrap();
        assert_eq!(got.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert_eq!((got[1].id, got[1].bytes), (one.id, 7));
        assert_eq!(ix.frame_index(got[4].id).unwrap(), Some(vec![1, 0]));
        // Foreign keys still hold, and a failing batch leaves nothing behind.
        assert!(ix.bulk_upsert_segments(&[seg(a, r, 9, 90, 100), seg(a, 999, 0, 0, 1)]).is_err());
        assert!(ix.segment(r, 9).unwrap().is_none());
    }
}
