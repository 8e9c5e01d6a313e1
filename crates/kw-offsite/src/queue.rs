//! The persistent queue in the store's `index.sqlite3`: one row per (target, event, part), so a restart
//! or an outage of the target loses nothing, and an S3 multipart upload's progress (its upload id and the
//! parts already sent) survives too, so it resumes where it stopped.
//!
//! The tables are versioned in `offsite_schema` through `kw_schema`, like the alert outbox's. Rows are
//! small; the encrypted bytes live in spool files beside the index (the row names the file).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kw_schema::Schema;
use rusqlite::{params, Connection, OptionalExtension};

use crate::OffsiteError;

/// The migrations, oldest first. Never edit one that has shipped; append a new one.
const MIGRATIONS: &[&str] = &["CREATE TABLE offsite_queue (
        id          INTEGER PRIMARY KEY,
        target      TEXT NOT NULL,           -- [[offsite]] name
        event_id    INTEGER NOT NULL,
        camera      TEXT NOT NULL,
        part        TEXT NOT NULL,           -- head | clip | picture
        range_start INTEGER NOT NULL,        -- µs: the clip's range (a picture: the event's)
        range_end   INTEGER NOT NULL,
        object      TEXT NOT NULL,           -- name on the target, relative to its root
        due         INTEGER NOT NULL,        -- µs: not before
        attempts    INTEGER NOT NULL DEFAULT 0,
        state       TEXT NOT NULL,           -- pending | done | skipped | superseded | failed
        spool       TEXT NULL,               -- the encrypted file waiting to be sent
        size        INTEGER NULL,            -- its length
        upload_id   TEXT NULL,               -- S3 multipart upload in progress
        parts       TEXT NOT NULL DEFAULT '',-- its parts sent so far (ETags, one a line)
        created     INTEGER NOT NULL,
        done        INTEGER NULL,
        last_error  TEXT NULL,
        UNIQUE (target, event_id, part)
    );
    CREATE INDEX offsite_queue_due ON offsite_queue(target, state, due);
    CREATE INDEX offsite_queue_event ON offsite_queue(event_id);"];

const SCHEMA: Schema = Schema::table("offsite_schema", MIGRATIONS);

/// How long finished rows are kept (for "copied" on events and for retention's bookkeeping).
pub const KEEP_FINISHED: Duration = Duration::from_secs(90 * 86_400);

/// What of an event a job sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The first seconds of an event that goes on (so a box smashed mid-event still leaves them).
    Head,
    /// The whole clip with pre- and post-roll, once the event has ended.
    Clip,
    /// The event's picture.
    Picture,
}

impl Part {
    /// The spelling in the table and in object names.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Head => "head",
            Part::Clip => "clip",
            Part::Picture => "picture",
        }
    }

    /// The decrypted file's extension.
    pub fn ext(self) -> &'static str {
        match self {
            Part::Picture => "jpg",
            Part::Head | Part::Clip => "mp4",
        }
    }

    fn parse(s: &str) -> Part {
        match s {
            "head" => Part::Head,
            "picture" => Part::Picture,
            _ => Part::Clip,
        }
    }
}

/// A job to add.
#[derive(Clone, Debug)]
pub struct NewJob<'a> {
    pub target: &'a str,
    pub event_id: i64,
    pub camera: &'a str,
    pub part: Part,
    pub range: (i64, i64),
    pub object: String,
    pub due: i64,
}

/// One row of the queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: i64,
    pub target: String,
    pub event_id: i64,
    pub camera: String,
    pub part: Part,
    pub range: (i64, i64),
    pub object: String,
    pub attempts: i64,
    pub spool: Option<String>,
    pub size: Option<u64>,
    pub upload_id: Option<String>,
    pub parts: Vec<String>,
}

const JOB_COLUMNS: &str =
    "id, target, event_id, camera, part, range_start, range_end, object, attempts, spool, size, upload_id, parts";

fn job(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let part: String = r.get(4)?;
    let parts: String = r.get(12)?;
    Ok(Job {
        id: r.get(0)?,
        target: r.get(1)?,
        event_id: r.get(2)?,
        camera: r.get(3)?,
        part: Part::parse(&part),
        range: (r.get(5)?, r.get(6)?),
        object: r.get(7)?,
        attempts: r.get(8)?,
        spool: r.get(9)?,
        size: r.get::<_, Option<i64>>(10)?.map(|s| s.max(0) as u64),
        upload_id: r.get(11)?,
        parts: parts.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect(),
    })
}

/// The queue: one connection to the index file (WAL, shared with the daemon's other owners and the CLI).
#[derive(Clone)]
pub struct Queue {
    conn: Arc<Mutex<Connection>>,
}

impl Queue {
    /// Opens `index.sqlite3` and creates or upgrades the off-site tables.
    pub fn open(path: &Path) -> Result<Queue, OffsiteError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        SCHEMA.migrate(&mut conn)?;
        Ok(Queue { conn: Arc::new(Mutex::new(conn)) })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, OffsiteError> {
        let c = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(f(&c)?)
    }

    /// Runs `f` on tokio's blocking pool (SQLite blocks).
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Queue) -> Result<T, OffsiteError> + Send + 'static,
    ) -> Result<T, OffsiteError> {
        let q = self.clone();
        tokio::task::spawn_blocking(move || f(&q)).await.map_err(|e| OffsiteError::Io(format!("task: {e}")))?
    }

    /// Adds a job unless that (target, event, part) is queued already; true when added.
    pub fn enqueue(&self, j: &NewJob<'_>, now: i64) -> Result<bool, OffsiteError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO offsite_queue
                 (target, event_id, camera, part, range_start, range_end, object, due, state, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9)",
                params![j.target, j.event_id, j.camera, j.part.as_str(), j.range.0, j.range.1, j.object, j.due, now],
            )
            .map(|n| n == 1)
        })
    }

    /// Whether a job for (target, event, part) exists (in any state).
    pub fn has(&self, target: &str, event_id: i64, part: Part) -> Result<bool, OffsiteError> {
        self.with(|c| {
            c.query_row(
                "SELECT 1 FROM offsite_queue WHERE target = ?1 AND event_id = ?2 AND part = ?3",
                params![target, event_id, part.as_str()],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
        })
    }

    /// The pending job of `target` that is due first, if it is due by `now`.
    pub fn next_due(&self, target: &str, now: i64) -> Result<Option<Job>, OffsiteError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM offsite_queue WHERE target = ?1 AND state = 'pending' AND due <= ?2
                     ORDER BY due, id LIMIT 1"
                ),
                params![target, now],
                job,
            )
            .optional()
        })
    }

    /// When the next pending job of `target` becomes due.
    pub fn next_wake(&self, target: &str) -> Result<Option<i64>, OffsiteError> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(due) FROM offsite_queue WHERE target = ?1 AND state = 'pending'",
                params![target],
                |r| r.get(0),
            )
        })
    }

    /// Pending jobs of `target`.
    pub fn pending(&self, target: &str) -> Result<u64, OffsiteError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM offsite_queue WHERE target = ?1 AND state = 'pending'",
                params![target],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
        })
    }

    /// The job's encrypted file is ready: any earlier upload progress is void.
    pub fn set_spool(&self, id: i64, spool: &str, size: u64) -> Result<(), OffsiteError> {
        self.with(|c| {
            c.execute(
                "UPDATE offsite_queue SET spool = ?2, size = ?3, upload_id = NULL, parts = '' WHERE id = ?1",
                params![id, spool, size as i64],
            )
            .map(drop)
        })
    }

    /// A multipart upload was started for the job (or forgotten, with `None`).
    pub fn set_upload(&self, id: i64, upload_id: Option<&str>) -> Result<(), OffsiteError> {
        self.with(|c| {
            c.execute("UPDATE offsite_queue SET upload_id = ?2, parts = '' WHERE id = ?1", params![id, upload_id])
                .map(drop)
        })
    }

    /// One more part of the job's multipart upload was sent.
    pub fn add_part(&self, id: i64, etag: &str) -> Result<(), OffsiteError> {
        let etag = etag.replace(['\n', '\r'], "");
        self.with(|c| {
            c.execute("UPDATE offsite_queue SET parts = parts || ?2 || char(10) WHERE id = ?1", params![id, etag])
                .map(drop)
        })
    }

    /// The job is on the target.
    pub fn done(&self, id: i64, now: i64) -> Result<(), OffsiteError> {
        self.finish(id, "done", now, None)
    }

    /// The job has nothing to send (nothing recorded, no picture).
    pub fn skip(&self, id: i64, now: i64, why: &str) -> Result<(), OffsiteError> {
        self.finish(id, "skipped", now, Some(why))
    }

    /// The job is given up (after days of failing).
    pub fn fail(&self, id: i64, now: i64, why: &str) -> Result<(), OffsiteError> {
        self.finish(id, "failed", now, Some(why))
    }

    fn finish(&self, id: i64, state: &str, now: i64, why: Option<&str>) -> Result<(), OffsiteError> {
        self.with(|c| {
            c.execute(
                "UPDATE offsite_queue SET state = ?2, done = ?3, spool = NULL, upload_id = NULL, parts = '',
                 last_error = COALESCE(?4, last_error) WHERE id = ?1",
                params![id, state, now, why],
            )
            .map(drop)
        })
    }

    /// The attempt failed: try again at `due`.
    pub fn retry(&self, id: i64, due: i64, error: &str) -> Result<(), OffsiteError> {
        let error: String = error.chars().take(500).collect();
        self.with(|c| {
            c.execute(
                "UPDATE offsite_queue SET attempts = attempts + 1, due = ?2, last_error = ?3 WHERE id = ?1",
                params![id, due, error],
            )
            .map(drop)
        })
    }

    /// The whole clip of an event is on the target: its head is no longer needed. Answers the head's
    /// object name when it had been uploaded (to delete it) and its spool file when one was waiting.
    pub fn supersede_head(&self, target: &str, event_id: i64, now: i64) -> Result<Option<Job>, OffsiteError> {
        self.with(|c| {
            let head = c
                .query_row(
                    &format!(
                        "SELECT {JOB_COLUMNS}, state FROM offsite_queue WHERE target = ?1 AND event_id = ?2
                         AND part = 'head' AND state IN ('pending', 'done')"
                    ),
                    params![target, event_id],
                    |r| Ok((job(r)?, r.get::<_, String>(13)?)),
                )
                .optional()?;
            let Some((head, state)) = head else { return Ok(None) };
            c.execute(
                "UPDATE offsite_queue SET state = 'superseded', done = ?2, spool = NULL, upload_id = NULL
                 WHERE id = ?1",
                params![head.id, now],
            )?;
            // A pending head may have a spool file; a done one has an object on the target.
            Ok(Some(if state == "done" { Job { spool: None, ..head } } else { Job { object: String::new(), ..head } }))
        })
    }

    /// Events of `target` whose first part was queued but whose whole clip was not (the daemon stopped
    /// before the event's end was announced): the daemon queues their clips when it starts.
    pub fn heads_without_clip(&self, target: &str) -> Result<Vec<i64>, OffsiteError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT h.event_id FROM offsite_queue h WHERE h.target = ?1 AND h.part = 'head'
                 AND NOT EXISTS (SELECT 1 FROM offsite_queue c WHERE c.target = h.target
                                 AND c.event_id = h.event_id AND c.part = 'clip')
                 ORDER BY h.event_id LIMIT 1000",
            )?;
            let rows = st.query_map(params![target], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Targets each of `event_ids` has been copied to (clip or picture on the target).
    pub fn copied(&self, event_ids: &[i64]) -> Result<Vec<(i64, String)>, OffsiteError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT DISTINCT target FROM offsite_queue WHERE event_id = ?1 AND state = 'done'
                 AND part IN ('clip', 'picture') ORDER BY target",
            )?;
            let mut out = Vec::new();
            for id in event_ids {
                for t in st.query_map(params![id], |r| r.get::<_, String>(0))? {
                    out.push((*id, t?));
                }
            }
            Ok(out)
        })
    }

    /// Forgets finished rows older than `before` (µs).
    pub fn prune(&self, before: i64) -> Result<usize, OffsiteError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM offsite_queue WHERE state <> 'pending' AND done IS NOT NULL AND done < ?1",
                params![before],
            )
        })
    }

    /// Every job (tests and diagnostics).
    pub fn all(&self) -> Result<Vec<(Job, String)>, OffsiteError> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {JOB_COLUMNS}, state FROM offsite_queue ORDER BY id"))?;
            let rows = st.query_map([], |r| Ok((job(r)?, r.get::<_, String>(13)?)))?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(part: Part, due: i64) -> NewJob<'static> {
        NewJob { target: "b2", event_id: 7, camera: "door", part, range: (1, 2), object: "o".into(), due }
    }

    #[test]
    fn jobs_survive_reopening_and_keep_upload_progress() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        let q = Queue::open(&path).unwrap();
        assert!(q.enqueue(&new(Part::Head, 10), 0).unwrap());
        assert!(!q.enqueue(&new(Part::Head, 10), 0).unwrap(), "once per part");
        assert!(q.enqueue(&new(Part::Clip, 20), 0).unwrap());
        assert_eq!(q.next_due("b2", 5).unwrap(), None);
        let head = q.next_due("b2", 10).unwrap().unwrap();
        assert_eq!(head.part, Part::Head);
        q.set_spool(head.id, "/s/1", 100).unwrap();
        q.set_upload(head.id, Some("up-1")).unwrap();
        q.add_part(head.id, "\"etag1\"").unwrap();
        q.add_part(head.id, "\"etag2\"").unwrap();
        drop(q);
        let q = Queue::open(&path).unwrap();
        let head = q.next_due("b2", 10).unwrap().unwrap();
        assert_eq!((head.upload_id.as_deref(), head.parts.len(), head.size), (Some("up-1"), 2, Some(100)));
        q.retry(head.id, 30, "down").unwrap();
        assert_eq!(q.next_wake("b2").unwrap(), Some(20));
        assert_eq!(q.pending("b2").unwrap(), 2);
        q.done(head.id, 40).unwrap();
        let clip = q.next_due("b2", 40).unwrap().unwrap();
        q.done(clip.id, 41).unwrap();
        assert_eq!(q.supersede_head("b2", 7, 42).unwrap().unwrap().object, "o", "a done head is deleted on the target");
        assert_eq!(q.supersede_head("b2", 7, 42).unwrap(), None);
        assert_eq!(q.heads_without_clip("b2").unwrap(), Vec::<i64>::new());
        assert_eq!(q.copied(&[7, 8]).unwrap(), vec![(7, "b2".to_string())]);
        assert_eq!(q.prune(100).unwrap(), 2);
    }
}
