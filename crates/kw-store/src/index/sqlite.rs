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

use super::{migrations, CameraStats, IndexBackend, NewSegment, SegmentRow};
use crate::error::StoreError;

const SEG_COLS: &str = r#"id, camera_id, run_id, seq, start, "end", bytes, video_frames, has_loss"#;

/// An index in one SQLite database file.
pub struct SqliteIndex {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteIndex {
    /// Opens (creating if missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let sq = |e| sqlite_err(path, e);
        let mut conn = Connection::open(path).map_err(sq)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sq)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(sq)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(index = %path.display(), "SQLite refused WAL mode (got {mode}); readers may block the recorder");
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(sq)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sq)?;
        migrations::migrate(&mut conn, path)?;
        Ok(SqliteIndex { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic elsewhere while holding the lock leaves the connection itself usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
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

    fn rows(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<SegmentRow>, StoreError> {
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

fn to_i64(v: u64) -> i64 {
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
        let sql = format!(
            r#"INSERT INTO segments (camera_id, run_id, seq, start, "end", bytes, video_frames, has_loss, frame_index)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
               ON CONFLICT (run_id, seq) DO UPDATE SET camera_id = excluded.camera_id, start = excluded.start,
                 "end" = excluded."end", bytes = excluded.bytes, video_frames = excluded.video_frames,
                 has_loss = excluded.has_loss, frame_index = excluded.frame_index
               RETURNING {SEG_COLS}"#
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        stmt.query_row(
            params![
                s.camera_id,
                s.run_id,
                s.seq,
                s.start,
                s.end,
                to_i64(s.bytes),
                s.video_frames,
                s.has_loss,
                s.frame_index
            ],
            read_row,
        )
        .map_err(|e| self.err(e))
    }

    fn segment(&self, run_id: i64, seq: u32) -> Result<Option<SegmentRow>, StoreError> {
        let sql = format!("SELECT {SEG_COLS} FROM segments WHERE run_id = ?1 AND seq = ?2");
        Ok(self.rows(&sql, params![run_id, seq])?.pop())
    }

    fn segments(&self, camera_id: i64, start: WallMicros, end: WallMicros) -> Result<Vec<SegmentRow>, StoreError> {
        let sql = format!(
            r#"SELECT {SEG_COLS} FROM segments WHERE camera_id = ?1 AND start < ?3 AND "end" > ?2
               ORDER BY start, id"#
        );
        self.rows(&sql, params![camera_id, start, end])
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

    fn camera_stats(&self) -> Result<Vec<CameraStats>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT c.id, c.name, COALESCE(SUM(s.bytes), 0), COUNT(s.id), MIN(s.start)
                 FROM cameras c LEFT JOIN segments s ON s.camera_id = c.id
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

    fn delete_to_garbage(&self, rows: &[SegmentRow]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        for r in rows {
            tx.execute("DELETE FROM segments WHERE id = ?1", [r.id]).map_err(|e| self.err(e))?;
            tx.execute("INSERT OR IGNORE INTO garbage (path) VALUES (?1)", [r.key().name()])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn delete_segment(&self, segment_id: i64) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM segments WHERE id = ?1", [segment_id]).map_err(|e| self.err(e))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::run_info;

    fn seg(camera_id: i64, run_id: i64, seq: u32, start: i64, end: i64) -> NewSegment {
        NewSegment {
            camera_id,
            run_id,
            seq,
            start,
            end,
            bytes: 100,
            video_frames: 3,
            has_loss: false,
            frame_index: vec![1, 0],
        }
    }

    #[test]
    fn cameras_runs_segments_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let ix = SqliteIndex::open(&dir.path().join("i.sqlite3")).unwrap();
        let a = ix.camera_id("a").unwrap();
        assert_eq!(ix.camera_id("a").unwrap(), a);
        let b = ix.camera_id("b").unwrap();
        assert_ne!(a, b);
        assert_eq!(ix.find_camera("zz").unwrap(), None);
        let run = run_info(true);
        let r = ix.insert_run(a, &run).unwrap();
        assert_eq!(ix.run(r).unwrap(), Some((a, run.clone())));
        let s0 = ix.upsert_segment(&seg(a, r, 0, 0, 10)).unwrap();
        let s1 = ix.upsert_segment(&seg(a, r, 1, 10, 20)).unwrap();
        let s1b = ix.upsert_segment(&NewSegment { bytes: 200, ..seg(a, r, 1, 10, 21) }).unwrap();
        assert_eq!(s1b.id, s1.id);
        assert_eq!(s1b.bytes, 200);
        assert_eq!(ix.segments(a, 10, 11).unwrap(), vec![s1b.clone()]);
        assert_eq!(ix.segments(a, 9, 11).unwrap(), vec![s0.clone(), s1b.clone()]);
        assert_eq!(ix.segments(a, 21, 30).unwrap(), vec![]);
        assert_eq!(ix.oldest_segments(None, 1).unwrap(), vec![s0.clone()]);
        let stats = ix.camera_stats().unwrap();
        assert_eq!(stats[0].bytes, 300);
        assert_eq!(stats[1].segments, 0);
        ix.delete_to_garbage(std::slice::from_ref(&s0)).unwrap();
        assert_eq!(ix.garbage().unwrap(), vec![s0.key().name()]);
        ix.remove_garbage(&s0.key().name()).unwrap();
        assert!(ix.garbage().unwrap().is_empty());
        // A segment of an unknown run is refused (foreign keys are on).
        assert!(ix.upsert_segment(&seg(a, 999, 0, 0, 1)).is_err());
        ix.ensure_camera(42, "a").unwrap();
        assert_eq!(ix.cameras().unwrap().iter().find(|c| c.0 == 42).unwrap().1, "a-1");
        ix.insert_run_with_id(77, 42, &run).unwrap();
        assert_eq!(ix.run(77).unwrap().unwrap().0, 42);
    }
}
