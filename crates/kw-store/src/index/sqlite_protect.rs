//! The SQLite side of protected ranges ("keep this clip"): storing them and the query retention deletes
//! from, which leaves out every segment a protection overlaps.
//!
//! Why in SQL: retention asks for the oldest deletable segments every second; filtering in the query
//! (the protections table is small and indexed by camera and start) keeps that one indexed scan instead
//! of paging past protected rows in Rust.

use rusqlite::{params, OptionalExtension};

use super::sqlite::{to_i64, SqliteIndex, SEG_COLS};
use super::{NewProtection, Protection, SegmentRow};
use crate::error::StoreError;

/// True for a segment `s` that some protection of its camera overlaps.
///
/// The protected bytes are summed the other way round (from each protection into the covering index of
/// `segments`), so the System page never scans the segment rows.
const COVERED: &str = r#"EXISTS (SELECT 1 FROM protected p WHERE p.camera_id = s.camera_id
    AND p.start < s."end" AND p."end" > s.start)"#;

impl SqliteIndex {
    pub(super) fn oldest_unprotected_sql(
        &self,
        camera_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<SegmentRow>, StoreError> {
        let limit = to_i64(limit as u64);
        let cols = SEG_COLS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
        match camera_id {
            Some(c) => self.rows(
                &format!(
                    "SELECT {cols} FROM segments s WHERE s.camera_id = ?1 AND NOT {COVERED} ORDER BY s.start, s.id LIMIT ?2"
                ),
                params![c, limit],
            ),
            None => self.rows(
                &format!("SELECT {cols} FROM segments s WHERE NOT {COVERED} ORDER BY s.start, s.id LIMIT ?1"),
                [limit],
            ),
        }
    }

    pub(super) fn add_protection_sql(&self, p: &NewProtection) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            r#"INSERT INTO protected (camera_id, start, "end", note, event_id, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"#,
            params![p.camera_id, p.start, p.end, p.note, p.event_id, p.created],
        )
        .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid())
    }

    pub(super) fn protections_sql(&self) -> Result<Vec<Protection>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                r#"SELECT p.id, c.name, p.start, p."end", p.note, p.event_id, p.created
                   FROM protected p JOIN cameras c ON c.id = p.camera_id ORDER BY p.id"#,
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Protection {
                    id: r.get(0)?,
                    camera: r.get(1)?,
                    start: r.get(2)?,
                    end: r.get(3)?,
                    note: r.get(4)?,
                    event_id: r.get(5)?,
                    created: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    pub(super) fn remove_protection_sql(&self, id: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute("DELETE FROM protected WHERE id = ?1", [id]).map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    pub(super) fn protected_bytes_sql(&self) -> Result<u64, StoreError> {
        let sum: Option<i64> = self
            .conn()
            .query_row(
                r#"SELECT SUM(bytes) FROM segments WHERE id IN (
                     SELECT s.id FROM protected p JOIN segments s INDEXED BY segments_camera_span
                     ON s.camera_id = p.camera_id AND s.start < p."end" AND s."end" > p.start)"#,
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        Ok(sum.unwrap_or(0).max(0) as u64)
    }
}
