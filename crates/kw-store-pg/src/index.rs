//! [`IndexBackend`] for [`PgIndex`]: the store's queries in PostgreSQL's SQL.
//!
//! Each method is one statement or one transaction, like its SQLite twin; `ORDER BY name/path COLLATE "C"`
//! keeps byte order (SQLite's), whatever the database's collation. Values that are `u32`/`u64` in Rust are
//! `BIGINT` here and checked on the way back (a value out of range is reported as damage, never a panic).

use std::time::Instant;

use kw_media::{RunInfo, StreamParams, WallMicros};
use kw_store::index::{CameraStats, IndexBackend, NewProtection, NewSegment, Protection, SegmentRow};
use kw_store::{SegmentKey, StoreError};
use tokio_postgres::Row;

use crate::{Fail, PgIndex, STATS_TTL};

const SEG_COLS: &str = r#"id, camera_id, run_id, seq, start, "end", bytes, video_frames, has_loss"#;
/// [`SEG_COLS`] of a table aliased `s`.
pub(crate) const SEG_COLS_S: &str =
    r#"s.id, s.camera_id, s.run_id, s.seq, s.start, s."end", s.bytes, s.video_frames, s.has_loss"#;

/// Recovery names a camera it re-creates `hint`, `hint-1`, ...: this many tries at most.
const MAX_NAME_TRIES: u32 = 1000;

pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, Fail> {
    r.try_get(i).map_err(Fail::Pg)
}

fn u32_of(v: i64, what: &str) -> Result<u32, Fail> {
    u32::try_from(v).map_err(|_| Fail::Corrupt(format!("{what} {v} is out of range")))
}

fn u64_of(v: i64, what: &str) -> Result<u64, Fail> {
    u64::try_from(v).map_err(|_| Fail::Corrupt(format!("{what} {v} is negative")))
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn read_row(r: &Row) -> Result<SegmentRow, Fail> {
    Ok(SegmentRow {
        id: get(r, 0)?,
        camera_id: get(r, 1)?,
        run_id: get(r, 2)?,
        seq: u32_of(get(r, 3)?, "segment seq")?,
        start: get(r, 4)?,
        end: get(r, 5)?,
        bytes: u64_of(get(r, 6)?, "segment bytes")?,
        video_frames: u32_of(get(r, 7)?, "segment video_frames")?,
        has_loss: get(r, 8)?,
    })
}

pub(crate) fn read_rows(rows: &[Row]) -> Result<Vec<SegmentRow>, Fail> {
    rows.iter().map(read_row).collect()
}

/// Raises an identity column's sequence past the largest id of `table` (after inserting a given id), so
/// later ids the database assigns never collide with it.
async fn bump_sequence(c: &impl tokio_postgres::GenericClient, table: &str) -> Result<(), Fail> {
    // `table` is one of our own constant names, never outside input.
    let sql =
        format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))");
    c.query_one(&sql, &[]).await?;
    Ok(())
}

impl PgIndex {
    fn segment_rows(&self, sql: String, params: Vec<i64>) -> Result<Vec<SegmentRow>, StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            let stmt = c.prepare_cached(&sql).await?;
            read_rows(&c.query(&stmt, &refs).await?)
        })
    }

    fn raise_longest(&self, camera_id: i64, len: i64) {
        let mut l = self.longest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = l.get_mut(&camera_id) {
            *v = (*v).max(len);
        }
    }

    fn longest_of(&self, camera_id: i64) -> Result<i64, StoreError> {
        if let Some(v) = self.longest.lock().unwrap_or_else(|e| e.into_inner()).get(&camera_id) {
            return Ok(*v);
        }
        let v: i64 = self.call(move |pool| async move {
            let c = pool.get().await?;
            let r =
                c.query_one(r#"SELECT max("end" - start) FROM segments WHERE camera_id = $1"#, &[&camera_id]).await?;
            Ok(get::<Option<i64>>(&r, 0)?.unwrap_or(0).max(0))
        })?;
        self.longest.lock().unwrap_or_else(|e| e.into_inner()).insert(camera_id, v);
        Ok(v)
    }

    /// After an insert or replacement: the cached usage of its camera, if cached.
    fn adjust_stats(&self, camera_id: i64, bytes: i64, count: i64, start: WallMicros) {
        let mut guard = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let Some((_, stats)) = guard.as_mut() else { return };
        let Some(c) = stats.iter_mut().find(|c| c.camera_id == camera_id) else {
            *guard = None;
            return;
        };
        c.bytes = u64::try_from(to_i64(c.bytes).saturating_add(bytes)).unwrap_or(0);
        c.segments = u64::try_from(to_i64(c.segments).saturating_add(count)).unwrap_or(0);
        c.oldest = Some(c.oldest.map_or(start, |o| o.min(start)));
    }

    /// After deletes: recompute usage on the next ask.
    fn forget_stats(&self) {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn decode_run(run_id: i64, anchor: i64, video: &[u8], audio: Option<&[u8]>) -> Result<RunInfo, Fail> {
        let bad =
            |which: &str, e: kw_media::ParamsError| Fail::Corrupt(format!("run {run_id} {which} parameters: {e}"));
        let video = StreamParams::decode(video).map_err(|e| bad("video", e))?;
        let audio = audio.map(StreamParams::decode).transpose().map_err(|e| bad("audio", e))?;
        Ok(RunInfo { video, audio, wall_anchor: anchor })
    }
}

impl IndexBackend for PgIndex {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn camera_id(&self, name: &str) -> Result<i64, StoreError> {
        let name = name.to_string();
        self.call(move |pool| async move {
            let c = pool.get().await?;
            const FIND: &str = "SELECT id FROM cameras WHERE name = $1";
            if let Some(r) = c.query_opt(FIND, &[&name]).await? {
                return get(&r, 0);
            }
            let added = c
                .query_opt(
                    "INSERT INTO cameras (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
                    &[&name],
                )
                .await?;
            match added {
                Some(r) => get(&r, 0),
                // Another process added it in between.
                None => get(&c.query_one(FIND, &[&name]).await?, 0),
            }
        })
    }

    fn find_camera(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let name = name.to_string();
        self.call(move |pool| async move {
            let c = pool.get().await?;
            c.query_opt("SELECT id FROM cameras WHERE name = $1", &[&name]).await?.map(|r| get(&r, 0)).transpose()
        })
    }

    fn cameras(&self) -> Result<Vec<(i64, String)>, StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let rows = c.query(r#"SELECT id, name FROM cameras ORDER BY name COLLATE "C""#, &[]).await?;
            rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
        })
    }

    fn ensure_camera(&self, id: i64, name_hint: &str) -> Result<(), StoreError> {
        let hint = name_hint.to_string();
        self.call(move |pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            if tx.query_opt("SELECT 1 FROM cameras WHERE id = $1", &[&id]).await?.is_some() {
                return Ok(());
            }
            for n in 0..MAX_NAME_TRIES {
                let name = if n == 0 { hint.clone() } else { format!("{hint}-{n}") };
                let added = tx
                    .execute("INSERT INTO cameras (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&id, &name])
                    .await?;
                if added == 1 {
                    bump_sequence(&*tx, "cameras").await?;
                    tx.commit().await?;
                    return Ok(());
                }
                if tx.query_opt("SELECT 1 FROM cameras WHERE id = $1", &[&id]).await?.is_some() {
                    return Ok(()); // added by another process meanwhile
                }
            }
            Err(Fail::Corrupt(format!("cannot name recovered camera {id}")))
        })
    }

    fn insert_run(&self, camera_id: i64, run: &RunInfo) -> Result<i64, StoreError> {
        let (anchor, video, audio) = (run.wall_anchor, run.video.encode(), run.audio.as_ref().map(|a| a.encode()));
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let r = c
                .query_one(
                    "INSERT INTO runs (camera_id, wall_anchor, video_params, audio_params) VALUES ($1, $2, $3, $4) \
                     RETURNING id",
                    &[&camera_id, &anchor, &video, &audio],
                )
                .await?;
            get(&r, 0)
        })
    }

    fn insert_run_with_id(&self, run_id: i64, camera_id: i64, run: &RunInfo) -> Result<(), StoreError> {
        let (anchor, video, audio) = (run.wall_anchor, run.video.encode(), run.audio.as_ref().map(|a| a.encode()));
        self.call(move |pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute(
                "INSERT INTO runs (id, camera_id, wall_anchor, video_params, audio_params) VALUES ($1, $2, $3, $4, $5)",
                &[&run_id, &camera_id, &anchor, &video, &audio],
            )
            .await?;
            bump_sequence(&*tx, "runs").await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn run(&self, run_id: i64) -> Result<Option<(i64, RunInfo)>, StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let row = c
                .query_opt(
                    "SELECT camera_id, wall_anchor, video_params, audio_params FROM runs WHERE id = $1",
                    &[&run_id],
                )
                .await?;
            let Some(r) = row else { return Ok(None) };
            let video: Vec<u8> = get(&r, 2)?;
            let audio: Option<Vec<u8>> = get(&r, 3)?;
            Ok(Some((get(&r, 0)?, PgIndex::decode_run(run_id, get(&r, 1)?, &video, audio.as_deref())?)))
        })
    }

    fn upsert_segment(&self, s: &NewSegment) -> Result<SegmentRow, StoreError> {
        let s = s.clone();
        let (camera_id, start, len) = (s.camera_id, s.start, s.end.saturating_sub(s.start));
        let (row, old) = self.call(move |pool| async move {
            let c = pool.get().await?;
            // One statement: the CTE reads the row as it was before the upsert (for the usage delta).
            let sql = format!(
                r#"WITH old AS (SELECT bytes FROM segments WHERE run_id = $2 AND seq = $3)
                   INSERT INTO segments (camera_id, run_id, seq, start, "end", bytes, video_frames, has_loss, frame_index)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (run_id, seq) DO UPDATE SET camera_id = excluded.camera_id, start = excluded.start,
                     "end" = excluded."end", bytes = excluded.bytes, video_frames = excluded.video_frames,
                     has_loss = excluded.has_loss, frame_index = excluded.frame_index
                   RETURNING {SEG_COLS}, (SELECT bytes FROM old)"#
            );
            let stmt = c.prepare_cached(&sql).await?;
            let r = c
                .query_one(
                    &stmt,
                    &[
                        &s.camera_id,
                        &s.run_id,
                        &i64::from(s.seq),
                        &s.start,
                        &s.end,
                        &to_i64(s.bytes),
                        &i64::from(s.video_frames),
                        &s.has_loss,
                        &s.frame_index,
                    ],
                )
                .await?;
            Ok((read_row(&r)?, get::<Option<i64>>(&r, 9)?))
        })?;
        self.raise_longest(camera_id, len);
        self.adjust_stats(camera_id, to_i64(row.bytes) - old.unwrap_or(0), i64::from(old.is_none()), start);
        Ok(row)
    }

    fn segment(&self, run_id: i64, seq: u32) -> Result<Option<SegmentRow>, StoreError> {
        let sql = format!("SELECT {SEG_COLS} FROM segments WHERE run_id = $1 AND seq = $2");
        Ok(self.segment_rows(sql, vec![run_id, i64::from(seq)])?.pop())
    }

    fn segments(&self, camera_id: i64, start: WallMicros, end: WallMicros) -> Result<Vec<SegmentRow>, StoreError> {
        // As in the SQLite backend: no segment is longer than `longest`, so the scan starts there.
        let low = start.saturating_sub(self.longest_of(camera_id)?).saturating_sub(1);
        let sql = format!(
            r#"SELECT {SEG_COLS} FROM segments
               WHERE camera_id = $1 AND start > $4 AND start < $3 AND "end" > $2 ORDER BY start, id"#
        );
        self.segment_rows(sql, vec![camera_id, start, end, low])
    }

    fn segment_sizes(&self, camera_id: i64) -> Result<Vec<(i64, SegmentKey, u64)>, StoreError> {
        // The blob column is never read (it lives out of line in TOAST when it is large).
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    "SELECT s.id, s.run_id, s.seq, s.bytes FROM segments s JOIN runs r ON r.id = s.run_id
                     WHERE s.camera_id = $1 AND r.camera_id = $1",
                    &[&camera_id],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let key = SegmentKey { camera_id, run_id: get(r, 1)?, seq: u32_of(get(r, 2)?, "segment seq")? };
                    Ok((get(r, 0)?, key, u64_of(get(r, 3)?, "segment bytes")?))
                })
                .collect()
        })
    }

    fn frame_index(&self, segment_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let stmt = c.prepare_cached("SELECT frame_index FROM segments WHERE id = $1").await?;
            c.query_opt(&stmt, &[&segment_id]).await?.map(|r| get(&r, 0)).transpose()
        })
    }

    fn oldest_segments(&self, camera_id: Option<i64>, limit: usize) -> Result<Vec<SegmentRow>, StoreError> {
        let limit = to_i64(limit as u64);
        match camera_id {
            Some(c) => self.segment_rows(
                format!("SELECT {SEG_COLS} FROM segments WHERE camera_id = $1 ORDER BY start, id LIMIT $2"),
                vec![c, limit],
            ),
            None => {
                self.segment_rows(format!("SELECT {SEG_COLS} FROM segments ORDER BY start, id LIMIT $1"), vec![limit])
            }
        }
    }

    fn camera_stats(&self) -> Result<Vec<CameraStats>, StoreError> {
        if let Some((at, stats)) = self.stats.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if at.elapsed() < STATS_TTL {
                return Ok(stats.clone());
            }
        }
        let stats = self.call(move |pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    r#"SELECT c.id, c.name, COALESCE(SUM(s.bytes), 0)::BIGINT, COUNT(s.id), MIN(s.start)
                       FROM cameras c LEFT JOIN segments s ON s.camera_id = c.id
                       GROUP BY c.id ORDER BY c.name COLLATE "C""#,
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(CameraStats {
                        camera_id: get(r, 0)?,
                        name: get(r, 1)?,
                        bytes: u64_of(get(r, 2)?, "camera bytes")?,
                        segments: u64_of(get(r, 3)?, "camera segments")?,
                        oldest: get(r, 4)?,
                    })
                })
                .collect::<Result<Vec<_>, Fail>>()
        })?;
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), stats.clone()));
        Ok(stats)
    }

    fn delete_to_garbage(&self, rows: &[SegmentRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let names: Vec<String> = rows.iter().map(|r| r.key().name()).collect();
        self.call(move |pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute("DELETE FROM segments WHERE id = ANY($1)", &[&ids]).await?;
            tx.execute("INSERT INTO garbage (path) SELECT unnest($1::TEXT[]) ON CONFLICT DO NOTHING", &[&names])
                .await?;
            tx.commit().await?;
            Ok(())
        })?;
        self.forget_stats();
        Ok(())
    }

    fn delete_segment(&self, segment_id: i64) -> Result<(), StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            c.execute("DELETE FROM segments WHERE id = $1", &[&segment_id]).await?;
            Ok(())
        })?;
        self.forget_stats();
        Ok(())
    }

    fn garbage(&self) -> Result<Vec<String>, StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let rows = c.query(r#"SELECT path FROM garbage ORDER BY path COLLATE "C""#, &[]).await?;
            rows.iter().map(|r| get(r, 0)).collect()
        })
    }

    fn remove_garbage(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.call(move |pool| async move {
            let c = pool.get().await?;
            c.execute("DELETE FROM garbage WHERE path = $1", &[&name]).await?;
            Ok(())
        })
    }

    fn oldest_unprotected(&self, camera_id: Option<i64>, limit: usize) -> Result<Vec<SegmentRow>, StoreError> {
        self.oldest_unprotected_pg(camera_id, limit)
    }

    fn add_protection(&self, p: &NewProtection) -> Result<i64, StoreError> {
        self.add_protection_pg(p)
    }

    fn protections(&self) -> Result<Vec<Protection>, StoreError> {
        self.protections_pg()
    }

    fn remove_protection(&self, id: i64) -> Result<bool, StoreError> {
        self.remove_protection_pg(id)
    }

    fn protected_bytes(&self) -> Result<u64, StoreError> {
        self.protected_bytes_pg()
    }
}
