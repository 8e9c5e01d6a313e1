//! Protected ranges ("keep this clip") on PostgreSQL: storing them and the query retention deletes from,
//! which leaves out every segment a protection of its camera overlaps. The same statements as the SQLite
//! index's (`kw_store::index`'s `sqlite_protect`), in PostgreSQL's SQL: the filter stays in the query so
//! retention's once-a-second ask is one indexed scan.

use kw_store::index::{NewProtection, Protection, SegmentRow};
use kw_store::StoreError;

use crate::index::{get, read_rows, to_i64, SEG_COLS_S};
use crate::PgIndex;

/// True for a segment `s` that some protection of its camera overlaps.
const COVERED: &str = r#"EXISTS (SELECT 1 FROM protected p WHERE p.camera_id = s.camera_id
    AND p.start < s."end" AND p."end" > s.start)"#;

impl PgIndex {
    pub(crate) fn oldest_unprotected_pg(
        &self,
        camera_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<SegmentRow>, StoreError> {
        let limit = to_i64(limit as u64);
        let (sql, params) = match camera_id {
            Some(c) => (
                format!(
                    "SELECT {SEG_COLS_S} FROM segments s WHERE s.camera_id = $1 AND NOT {COVERED} ORDER BY s.start, s.id LIMIT $2"
                ),
                vec![c, limit],
            ),
            None => (
                format!("SELECT {SEG_COLS_S} FROM segments s WHERE NOT {COVERED} ORDER BY s.start, s.id LIMIT $1"),
                vec![limit],
            ),
        };
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            let stmt = c.prepare_cached(&sql).await?;
            read_rows(&c.query(&stmt, &refs).await?)
        })
    }

    pub(crate) fn add_protection_pg(&self, p: &NewProtection) -> Result<i64, StoreError> {
        let p = p.clone();
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let r = c
                .query_one(
                    r#"INSERT INTO protected (camera_id, start, "end", note, event_id, created)
                       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"#,
                    &[&p.camera_id, &p.start, &p.end, &p.note, &p.event_id, &p.created],
                )
                .await?;
            get(&r, 0)
        })
    }

    pub(crate) fn protections_pg(&self) -> Result<Vec<Protection>, StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    r#"SELECT p.id, c.name, p.start, p."end", p.note, p.event_id, p.created
                       FROM protected p JOIN cameras c ON c.id = p.camera_id ORDER BY p.id"#,
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Protection {
                        id: get(r, 0)?,
                        camera: get(r, 1)?,
                        start: get(r, 2)?,
                        end: get(r, 3)?,
                        note: get(r, 4)?,
                        event_id: get(r, 5)?,
                        created: get(r, 6)?,
                    })
                })
                .collect()
        })
    }

    pub(crate) fn remove_protection_pg(&self, id: i64) -> Result<bool, StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            Ok(c.execute("DELETE FROM protected WHERE id = $1", &[&id]).await? > 0)
        })
    }

    pub(crate) fn protected_bytes_pg(&self) -> Result<u64, StoreError> {
        self.call(move |pool| async move {
            let c = pool.get().await?;
            let r = c
                .query_one(
                    r#"SELECT COALESCE(SUM(bytes), 0)::BIGINT FROM segments WHERE id IN (
                         SELECT s.id FROM protected p JOIN segments s
                         ON s.camera_id = p.camera_id AND s.start < p."end" AND s."end" > p.start)"#,
                    &[],
                )
                .await?;
            Ok(get::<i64>(&r, 0)?.max(0) as u64)
        })
    }
}
