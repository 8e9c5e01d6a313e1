//! Push deliveries (webhook, ntfy, e-mail): the worker loop that drains one notifier's outbox rows.
//!
//! The worker takes the oldest due row, sends it, and marks it delivered, or sets its next try with an
//! exponential back-off (1 s, 2 s, 4 s … capped at 5 min) while the target is down. A target that
//! answers "never" (an HTTP 4xx other than 408/429, an SMTP 5xx) is given up at once, as is any row
//! older than 24 h. Nothing here holds a lock while sending.

mod email;
mod http;
mod ntfy;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use kw_config::{redacted_url, NotifyConfig, NotifyKind};
use kw_logsafe::OneLine;
use tokio::sync::Notify;

use crate::db::{self, outbox, Db, Row};
use crate::error::{NotifyError, Result};
use crate::event::{payload_json, EventKind, Phase};
use crate::SECOND;
use crate::{Alerts, Ctx, Event};

/// The longest wait between two tries of a row.
pub(crate) const MAX_BACKOFF: i64 = 300 * SECOND;
/// The longest a worker sleeps without looking at the clock again (fake clocks in tests).
const MAX_NAP: Duration = Duration::from_secs(5);
/// The longest one send may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a send did not succeed.
#[derive(Debug)]
pub(crate) struct Failure {
    /// Retrying will not help (the target rejected this delivery).
    pub permanent: bool,
    pub message: String,
}

impl Failure {
    pub(crate) fn temporary(message: impl Into<String>) -> Failure {
        Failure { permanent: false, message: message.into() }
    }
    pub(crate) fn permanent(message: impl Into<String>) -> Failure {
        Failure { permanent: true, message: message.into() }
    }
}

/// The wait before try number `attempts + 1`, after `attempts` failed tries (≥ 1).
pub(crate) fn backoff(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    (SECOND << exp).min(MAX_BACKOFF)
}

/// One push target, ready to send.
pub(crate) enum Target {
    Webhook(webhook::Webhook),
    Ntfy(ntfy::Ntfy),
    Email(email::Email),
}

impl Target {
    pub(crate) fn new(cfg: &NotifyConfig) -> Result<Target> {
        let setup = |message: String| NotifyError::Setup { name: cfg.name.clone(), message };
        Ok(match cfg.kind {
            NotifyKind::Webhook => Target::Webhook(webhook::Webhook::new(cfg).map_err(setup)?),
            NotifyKind::Ntfy => Target::Ntfy(ntfy::Ntfy::new(cfg).map_err(setup)?),
            NotifyKind::Email => Target::Email(email::Email::new(cfg).map_err(setup)?),
            NotifyKind::Mqtt => return Err(setup("MQTT is not a push target".into())),
        })
    }

    /// Sends one row; `Ok` carries a short description of the target's answer.
    pub(crate) async fn send(&self, row: &Row, ctx: &Ctx) -> std::result::Result<String, Failure> {
        let sending = async {
            match self {
                Target::Webhook(w) => w.send(row).await,
                Target::Ntfy(n) => n.send(row, ctx).await,
                Target::Email(e) => e.send(row, ctx).await,
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, sending).await {
            Ok(r) => r,
            Err(_) => Err(Failure::temporary(format!("no answer within {} s", SEND_TIMEOUT.as_secs()))),
        }
    }
}

/// The worker of one push notifier; runs until aborted.
pub(crate) async fn run(alerts: Arc<Alerts>, cfg: NotifyConfig, wake: Arc<Notify>) {
    let target = match Target::new(&cfg) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("{e}; its alerts wait in the outbox until the config is fixed");
            return;
        }
    };
    let db = open_db(&alerts).await;
    let ctx = alerts.ctx().clone();
    let shown = redacted_url(&cfg.target);
    let name = cfg.name.clone();
    loop {
        let now = ctx.now();
        let n = name.clone();
        let row = match db.call(move |c| outbox::next_due(c, &n, now)).await {
            Ok(row) => row,
            Err(e) => {
                tracing::warn!(notifier = %name, "cannot read the outbox: {e}");
                tokio::time::sleep(MAX_NAP).await;
                continue;
            }
        };
        let Some(row) = row else {
            let n = name.clone();
            let next = db.call(move |c| outbox::next_wake(c, &n)).await.ok().flatten();
            let nap = next.map_or(MAX_NAP, |t| Duration::from_micros(u64::try_from(t - now).unwrap_or(0)));
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(nap.min(MAX_NAP)) => {}
            }
            continue;
        };
        let result = target.send(&row, &ctx).await;
        let now = ctx.now();
        let (id, key) = (row.id, row.dedup_key.clone());
        let update = match result {
            Ok(answer) => {
                tracing::info!(notifier = %name, target = %shown, dedup_key = %key, attempts = row.attempts + 1,
                    latency_ms = (now - row.created) / 1000, "alert delivered: {}", OneLine(&answer));
                db.call(move |c| outbox::mark_delivered(c, id, now)).await
            }
            Err(f) if f.permanent || now - row.created >= outbox::GIVE_UP => {
                tracing::error!(notifier = %name, target = %shown, dedup_key = %key, "alert given up: {}", OneLine(&f.message));
                db.call(move |c| outbox::mark_failed(c, id, now, &f.message)).await
            }
            Err(f) => {
                let wait = backoff(row.attempts + 1);
                tracing::warn!(notifier = %name, target = %shown, dedup_key = %key, attempts = row.attempts + 1,
                    retry_in_s = wait / SECOND, "alert not delivered: {}", OneLine(&f.message));
                db.call(move |c| outbox::mark_retry(c, id, now + wait, &f.message)).await
            }
        };
        if let Err(e) = update {
            tracing::warn!(notifier = %name, "cannot update the outbox: {e}");
            tokio::time::sleep(MAX_NAP).await;
        }
    }
}

/// Opens the worker's own connection, retrying until it works.
pub(crate) async fn open_db(alerts: &Alerts) -> Db {
    loop {
        let path = alerts.db_path().to_path_buf();
        match tokio::task::spawn_blocking(move || db::open(&path)).await {
            Ok(Ok(conn)) => return Db::new(conn),
            Ok(Err(e)) => tracing::warn!("alerts worker cannot open the database: {e}"),
            Err(e) => tracing::warn!("alerts worker cannot open the database: {e}"),
        }
        tokio::time::sleep(MAX_NAP).await;
    }
}

/// A tiny JPEG (8×8 grey) that test deliveries attach.
pub(crate) const TEST_JPEG: &[u8] = include_bytes!("test.jpg");

/// The row a "send test" delivers.
pub(crate) fn test_row(cfg: &NotifyConfig, ctx: &Ctx) -> Row {
    let now = ctx.now();
    let ev = Event {
        id: 0,
        camera: "test".into(),
        kind: EventKind::Motion,
        start: now,
        end: None,
        score: 1.0,
        region: None,
        labels: Vec::new(),
    };
    let key = format!("test-{now}-{}", cfg.name);
    let mut payload: serde_json::Value =
        serde_json::from_str(&payload_json(&ev, Phase::Start, &key, &ctx.snapshot_link(0))).unwrap_or_default();
    payload["test"] = serde_json::Value::Bool(true);
    Row {
        id: 0,
        dedup_key: key,
        event_id: 0,
        camera: "test".into(),
        kind: EventKind::Motion,
        phase: Phase::Start,
        ev_start: now,
        payload: payload.to_string(),
        jpeg: Some(TEST_JPEG.to_vec()),
        created: now,
        attempts: 0,
        test: true,
    }
}

/// Sends a test delivery through a push notifier.
pub(crate) async fn test(cfg: &NotifyConfig, ctx: &Ctx) -> Result<String> {
    let target = Target::new(cfg)?;
    let row = test_row(cfg, ctx);
    let shown = redacted_url(&cfg.target);
    match target.send(&row, ctx).await {
        Ok(answer) => Ok(format!("{} {shown}: {answer}", cfg.kind)),
        Err(f) => Err(NotifyError::Delivery(format!("{} {shown}: {}", cfg.kind, f.message))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        assert_eq!(backoff(1), SECOND);
        assert_eq!(backoff(2), 2 * SECOND);
        assert_eq!(backoff(5), 16 * SECOND);
        assert_eq!(backoff(9), 256 * SECOND);
        assert_eq!(backoff(10), MAX_BACKOFF);
        assert_eq!(backoff(1000), MAX_BACKOFF);
        assert_eq!(backoff(0), SECOND);
        assert_eq!(backoff(i64::MIN), SECOND);
    }
}
