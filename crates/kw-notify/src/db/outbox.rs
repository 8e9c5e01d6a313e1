//! The outbox: one row per (notifier, event, phase), written before anything is sent.
//!
//! [`enqueue`] decides, in one transaction, which notifiers get an alert (camera and kind filters, the
//! mode, the cooldown) and queues a row for each with its delivery JSON and JPEG. Workers take the oldest
//! due row of their notifier, try it, and mark it delivered or set its next try. A crash at any point
//! leaves the row pending, so it is sent again: delivery is at least once, and the receiver can drop a
//! repeat by its `dedup_key` (`{event id}-{phase}-{notifier}`, unique here, so a host that reports the same
//! phase twice queues it once).
//!
//! Bounds: a delivered row loses its JPEG at once and is deleted after [`KEEP_DONE`]; a pending row gives
//! up after [`GIVE_UP`]; JPEGs of rows older than [`JPEG_MAX_AGE`], and of all but the newest
//! [`JPEG_KEEP_PENDING`] pending rows of a notifier, are dropped (the alert still goes out, without the
//! picture), so a target that is down for a day cannot fill the disk.

use kw_config::{NotifyConfig, NotifyKind};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::error::{NotifyError, Result};
use crate::event::{dedup_key, payload_json, Event, EventKind, Phase};
use crate::Decision;
use crate::SECOND;

/// A pending row older than this is given up (24 h).
pub(crate) const GIVE_UP: i64 = 24 * 3600 * SECOND;
/// JPEGs of rows older than this are dropped (24 h).
pub(crate) const JPEG_MAX_AGE: i64 = 24 * 3600 * SECOND;
/// Per notifier, only this many of the newest pending rows keep their JPEG.
pub(crate) const JPEG_KEEP_PENDING: i64 = 50;
/// Delivered and given-up rows are deleted after this (7 days).
pub(crate) const KEEP_DONE: i64 = 7 * 24 * 3600 * SECOND;
/// Starts that never saw their end are forgotten after this (30 days).
const KEEP_OPEN: i64 = 30 * 24 * 3600 * SECOND;

/// What [`enqueue`] needs to know besides the notifiers.
pub(crate) struct Enqueue<'a> {
    pub ev: &'a Event,
    pub phase: Phase,
    /// The clock, µs.
    pub now: i64,
    /// Whether motion alerts go out now (mode and schedule).
    pub motion_armed: bool,
    /// The snapshot link to put in the JSON.
    pub snapshot: &'a str,
    pub jpeg: Option<&'a [u8]>,
}

/// Queues the alerts for one event phase; returns each notifier's decision, in config order.
pub(crate) fn enqueue(
    conn: &mut Connection,
    notifiers: &[NotifyConfig],
    e: &Enqueue,
) -> Result<Vec<(String, Decision)>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(notifiers.len());
    for n in notifiers {
        let decision = decide(&tx, n, e)?;
        if decision == Decision::Queued {
            let key = dedup_key(e.ev.id, e.phase, &n.name);
            let payload = payload_json(e.ev, e.phase, &key, e.snapshot);
            let added = tx.execute(
                "INSERT OR IGNORE INTO notify_outbox
                   (notifier, dedup_key, event_id, camera, kind, phase, ev_start, payload, jpeg, created, next_try, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 'pending')",
                params![
                    n.name,
                    key,
                    e.ev.id,
                    e.ev.camera,
                    e.ev.kind.as_str(),
                    e.phase.as_str(),
                    e.ev.start,
                    payload,
                    e.jpeg,
                    e.now
                ],
            )?;
            out.push((n.name.clone(), if added == 1 { Decision::Queued } else { Decision::AlreadyQueued }));
        } else {
            out.push((n.name.clone(), decision));
        }
    }
    tx.commit()?;
    Ok(out)
}

/// One notifier's decision; records starts and cooldowns as a side effect.
fn decide(tx: &Connection, n: &NotifyConfig, e: &Enqueue) -> Result<Decision> {
    let ev = e.ev;
    if !n.wants_camera(&ev.camera) {
        return Ok(Decision::OtherCamera);
    }
    if !n.wants_event(crate::event::notify_event(ev.kind)) {
        return Ok(Decision::OtherKind);
    }
    // Labels filter motion only: a camera going offline or a full disk has no labels and always goes out.
    if ev.kind.is_motion() && !n.wants_labels(ev.labels.iter().map(|l| l.label.as_str())) {
        return Ok(Decision::OtherLabels);
    }
    if n.kind == NotifyKind::Mqtt {
        // A state mirror, not an alert: every phase, whatever the mode or cooldown (see `mode`).
        return Ok(Decision::Queued);
    }
    if e.phase == Phase::End {
        let sent: Option<bool> = tx
            .query_row(
                "DELETE FROM notify_open WHERE notifier = ?1 AND event_id = ?2 RETURNING sent",
                params![n.name, ev.id],
                |r| r.get(0),
            )
            .optional()?;
        match sent {
            Some(true) => return Ok(Decision::Queued),
            Some(false) => return Ok(Decision::StartNotSent),
            // An end without a start seen: judged like a start, below.
            None => {}
        }
    }
    let decision = if ev.kind.is_motion() && !e.motion_armed {
        Decision::Disarmed
    } else if in_cooldown(tx, n, ev, e.now)? {
        Decision::Cooldown
    } else {
        tx.execute(
            "INSERT INTO notify_cooldown (notifier, camera, kind, last) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(notifier, camera, kind) DO UPDATE SET last = excluded.last",
            params![n.name, ev.camera, ev.kind.as_str(), e.now],
        )?;
        Decision::Queued
    };
    if e.phase == Phase::Start {
        tx.execute(
            "INSERT OR IGNORE INTO notify_open (notifier, event_id, sent, created) VALUES (?1, ?2, ?3, ?4)",
            params![n.name, ev.id, decision == Decision::Queued, e.now],
        )?;
    }
    Ok(decision)
}

fn in_cooldown(tx: &Connection, n: &NotifyConfig, ev: &Event, now: i64) -> Result<bool> {
    let last: Option<i64> = tx
        .query_row(
            "SELECT last FROM notify_cooldown WHERE notifier = ?1 AND camera = ?2 AND kind = ?3",
            params![n.name, ev.camera, ev.kind.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    let cooldown = i64::try_from(n.cooldown.as_micros()).unwrap_or(i64::MAX);
    Ok(last.is_some_and(|last| now >= last && now - last < cooldown))
}

/// One queued delivery.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub id: i64,
    pub dedup_key: String,
    pub event_id: i64,
    pub camera: String,
    pub kind: EventKind,
    pub phase: Phase,
    pub ev_start: i64,
    pub payload: String,
    pub jpeg: Option<Vec<u8>>,
    pub created: i64,
    pub attempts: i64,
    /// A "send test" delivery (never stored).
    pub test: bool,
}

/// The oldest pending row of `notifier` that is due at `now`.
pub(crate) fn next_due(conn: &Connection, notifier: &str, now: i64) -> Result<Option<Row>> {
    let raw = conn
        .query_row(
            "SELECT id, dedup_key, event_id, camera, kind, phase, ev_start, payload, jpeg, created, attempts
             FROM notify_outbox WHERE notifier = ?1 AND state = 'pending' AND next_try <= ?2 ORDER BY id LIMIT 1",
            params![notifier, now],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<Vec<u8>>>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, i64>(10)?,
                ))
            },
        )
        .optional()?;
    let Some((id, dedup_key, event_id, camera, kind, phase, ev_start, payload, jpeg, created, attempts)) = raw else {
        return Ok(None);
    };
    let kind =
        EventKind::parse(&kind).ok_or_else(|| NotifyError::Corrupt(format!("outbox row {id}: kind {kind:?}")))?;
    let phase =
        Phase::parse(&phase).ok_or_else(|| NotifyError::Corrupt(format!("outbox row {id}: phase {phase:?}")))?;
    Ok(Some(Row {
        id,
        dedup_key,
        event_id,
        camera,
        kind,
        phase,
        ev_start,
        payload,
        jpeg,
        created,
        attempts,
        test: false,
    }))
}

/// The earliest `next_try` among `notifier`'s pending rows.
pub(crate) fn next_wake(conn: &Connection, notifier: &str) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT min(next_try) FROM notify_outbox WHERE notifier = ?1 AND state = 'pending'",
        [notifier],
        |r| r.get(0),
    )?)
}

pub(crate) fn mark_delivered(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET state = 'delivered', done = ?2, jpeg = NULL, attempts = attempts + 1,
         last_error = NULL WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub(crate) fn mark_retry(conn: &Connection, id: i64, next_try: i64, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET attempts = attempts + 1, next_try = ?2, last_error = ?3 WHERE id = ?1",
        params![id, next_try, error],
    )?;
    Ok(())
}

pub(crate) fn mark_failed(conn: &Connection, id: i64, now: i64, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE notify_outbox SET state = 'failed', done = ?2, jpeg = NULL, attempts = attempts + 1,
         last_error = ?3 WHERE id = ?1",
        params![id, now, error],
    )?;
    Ok(())
}

/// Rows by state, for one notifier or all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Waiting to be delivered (or retried).
    pub pending: u64,
    /// Delivered, not yet purged.
    pub delivered: u64,
    /// Given up, not yet purged.
    pub failed: u64,
}

pub(crate) fn counts(conn: &Connection, notifier: Option<&str>) -> Result<Counts> {
    let mut stmt =
        conn.prepare("SELECT state, count(*) FROM notify_outbox WHERE ?1 IS NULL OR notifier = ?1 GROUP BY state")?;
    let mut c = Counts::default();
    let rows = stmt.query_map([notifier], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        let n = u64::try_from(n).unwrap_or(0);
        match state.as_str() {
            "pending" => c.pending = n,
            "delivered" => c.delivered = n,
            _ => c.failed += n,
        }
    }
    Ok(c)
}

/// Applies the bounds described in the module docs; forgets rows of notifiers no longer configured.
pub(crate) fn housekeeping(conn: &mut Connection, now: i64, configured: &[String]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE notify_outbox SET state = 'failed', done = ?1, jpeg = NULL,
           last_error = coalesce(last_error || '; ', '') || 'gave up after 24 h'
         WHERE state = 'pending' AND created < ?2",
        params![now, now - GIVE_UP],
    )?;
    tx.execute("UPDATE notify_outbox SET jpeg = NULL WHERE jpeg IS NOT NULL AND created < ?1", [now - JPEG_MAX_AGE])?;
    tx.execute(
        "UPDATE notify_outbox SET jpeg = NULL WHERE jpeg IS NOT NULL AND state = 'pending' AND id NOT IN (
           SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY notifier ORDER BY id DESC) AS n
                           FROM notify_outbox WHERE state = 'pending') WHERE n <= ?1)",
        [JPEG_KEEP_PENDING],
    )?;
    tx.execute("DELETE FROM notify_outbox WHERE state != 'pending' AND done < ?1", [now - KEEP_DONE])?;
    tx.execute("DELETE FROM notify_open WHERE created < ?1", [now - KEEP_OPEN])?;
    let names = serde_json::Value::from(configured.to_vec()).to_string();
    for table in ["notify_outbox", "notify_open", "notify_cooldown"] {
        tx.execute(&format!("DELETE FROM {table} WHERE notifier NOT IN (SELECT value FROM json_each(?1))"), [&names])?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn hook(name: &str) -> NotifyConfig {
        NotifyConfig {
            name: name.into(),
            kind: NotifyKind::Webhook,
            target: "http://127.0.0.1:1/".into(),
            cameras: None,
            events: None,
            cooldown: Duration::ZERO,
            discovery_prefix: None,
            commands: false,
            secret: None,
            from: None,
            to: Vec::new(),
            labels: None,
        }
    }

    fn queue(conn: &mut Connection, n: &[NotifyConfig], id: i64, now: i64, jpeg: bool) {
        let ev = Event {
            id,
            camera: "door".into(),
            kind: EventKind::Motion,
            start: now,
            end: None,
            score: 1.0,
            region: None,
            labels: Vec::new(),
        };
        let e = Enqueue {
            ev: &ev,
            phase: Phase::Start,
            now,
            motion_armed: true,
            snapshot: "/s",
            jpeg: jpeg.then_some(&[1u8, 2, 3][..]),
        };
        enqueue(conn, n, &e).unwrap();
    }

    fn with_jpeg(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM notify_outbox WHERE jpeg IS NOT NULL", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn bounds() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = super::super::open(&dir.path().join("i.sqlite3")).unwrap();
        let n = [hook("a"), hook("b")];
        let day = 24 * 3600 * SECOND;
        let t0 = 1_800_000_000 * SECOND;
        queue(&mut conn, &n[..1], 1, t0, true);
        mark_delivered(&conn, 1, t0).unwrap();
        assert_eq!(with_jpeg(&conn), 0, "delivered rows drop their picture at once");
        queue(&mut conn, &n[..1], 2, t0, true); // will be too old
        for id in 10..(10 + JPEG_KEEP_PENDING + 10) {
            queue(&mut conn, &n, id, t0 + day, true);
        }
        housekeeping(&mut conn, t0 + day + 1, &["a".into(), "b".into()]).unwrap();
        let c = counts(&conn, Some("a")).unwrap();
        assert_eq!((c.delivered, c.failed, c.pending), (1, 1, JPEG_KEEP_PENDING as u64 + 10));
        assert_eq!(with_jpeg(&conn), 2 * JPEG_KEEP_PENDING, "the newest 50 per notifier keep their JPEG");
        let newest: Option<Vec<u8>> = conn
            .query_row("SELECT jpeg FROM notify_outbox WHERE notifier = 'a' ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .unwrap();
        assert!(newest.is_some());

        housekeeping(&mut conn, t0 + 8 * day, &["a".into()]).unwrap();
        assert_eq!(counts(&conn, Some("b")).unwrap(), Counts::default(), "a removed notifier's rows go");
        let c = counts(&conn, Some("a")).unwrap();
        assert_eq!((c.delivered, c.pending), (0, 0), "done rows purged after 7 days; old pending given up");
        assert_eq!(with_jpeg(&conn), 0);
    }

    #[test]
    fn due_order_and_retry() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = super::super::open(&dir.path().join("i.sqlite3")).unwrap();
        let n = [hook("a")];
        queue(&mut conn, &n, 1, 100, false);
        queue(&mut conn, &n, 2, 100, false);
        let first = next_due(&conn, "a", 100).unwrap().unwrap();
        assert_eq!((first.event_id, first.dedup_key.as_str()), (1, "1-start-a"));
        mark_retry(&conn, first.id, 500, "down").unwrap();
        assert_eq!(next_due(&conn, "a", 100).unwrap().unwrap().event_id, 2);
        assert_eq!(next_wake(&conn, "a").unwrap(), Some(100));
        mark_delivered(&conn, first.id + 1, 100).unwrap();
        assert!(next_due(&conn, "a", 499).unwrap().is_none());
        assert_eq!(next_wake(&conn, "a").unwrap(), Some(500));
        assert_eq!(next_due(&conn, "a", 500).unwrap().unwrap().attempts, 1);
        conn.execute("UPDATE notify_outbox SET kind = 'bogus'", []).unwrap();
        assert!(matches!(next_due(&conn, "a", 500), Err(NotifyError::Corrupt(_))), "corrupt rows are errors");
    }
}
