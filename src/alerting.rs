//! Events → alerts, and alerts → cameras: forwards announced events (from the [`EventSink`]) to the
//! `kw_notify` engine, and applies what comes back (Home Assistant switching a camera's recording or
//! motion detection off) to the cameras' effective settings.
//!
//! Why here and not in `kw-notify`: that crate knows delivery (outbox, MQTT, webhooks, mail, ntfy) and
//! nothing of cameras; this module knows the events table and camera settings and nothing of delivery.

use crate::events::{EventError, EventRow, EventStore, Notice, NoticePhase};
use kw_notify::{Alerts, Event, Phase};
use std::sync::Arc;
use tokio::sync::broadcast;

fn to_notify(e: &EventRow) -> Event {
    Event {
        id: e.id,
        camera: e.camera.clone(),
        kind: e.kind,
        start: e.start,
        end: e.end,
        score: e.score as f32,
        region: e.region.map(|r| [r[0] as f32, r[1] as f32, r[2] as f32, r[3] as f32]),
    }
}

/// Sends one stored event's phase to the alerts engine.
async fn announce(alerts: &Alerts, events: &Arc<EventStore>, id: i64, phase: Phase) {
    let ev = events.clone();
    let found =
        tokio::task::spawn_blocking(move || -> Result<_, EventError> { Ok((ev.get(id)?, ev.snapshot(id)?)) }).await;
    match found {
        Ok(Ok((Some(row), jpeg))) => {
            alerts.event(phase, &to_notify(&row), jpeg.map(bytes::Bytes::from)).await;
        }
        Ok(Ok((None, _))) => {}
        Ok(Err(e)) => tracing::error!("cannot read event {id} for its alert: {e}"),
        Err(e) => tracing::error!("cannot read event {id} for its alert: {e}"),
    }
}

/// Forwards the start and end of every announced event to the alerts engine until the channel closes.
pub async fn forward(alerts: Arc<Alerts>, events: Arc<EventStore>, mut rx: broadcast::Receiver<Notice>) {
    loop {
        match rx.recv().await {
            Ok(Notice { phase: NoticePhase::Started, id, .. }) => announce(&alerts, &events, id, Phase::Start).await,
            Ok(Notice { phase: NoticePhase::Ended, id, .. }) => announce(&alerts, &events, id, Phase::End).await,
            Ok(Notice { phase: NoticePhase::Updated, .. }) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!("alerts fell behind by {n} event notices"),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The cameras as they should run: the config, with the switches Home Assistant (or the API) turned
/// off applied (recording off → `record = "off"`; motion off → `motion.enabled = false`).
pub fn effective_cameras(alerts: &Alerts, cameras: &[kw_config::CameraConfig]) -> Vec<kw_config::CameraConfig> {
    cameras
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if !alerts.switch(&c.name, kw_notify::Switch::Recording) {
                c.record = kw_config::RecordMode::Off;
            }
            if !alerts.switch(&c.name, kw_notify::Switch::Motion) {
                c.motion.enabled = false;
            }
            c
        })
        .collect()
}
