//! Events → alerts, and alerts → cameras: forwards announced events (from the [`EventSink`]) to the
//! `kw_notify` engine, and applies what comes back (Home Assistant switching a camera's recording or
//! motion detection off) to the cameras' effective settings.
//!
//! Why here and not in `kw-notify`: that crate knows delivery (outbox, MQTT, webhooks, mail, ntfy) and
//! nothing of cameras; this module knows the events table and camera settings and nothing of delivery.
//!
//! Cameras whose alerts wait for objects (`[cameras.objects] alert_on = "objects"`): a motion event's start
//! goes out only once object detection has labelled it (an update with labels), and its end only if its
//! start went out. Motion that is not a person, a car, ... stays an event in the list, silently.

use crate::config_watch::Effective;
use crate::events::{EventError, EventRow, EventStore, Notice, NoticePhase};
use kw_notify::{Alerts, Event, Phase};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// The most held-back events remembered (their starts not yet sent); beyond, the oldest are dropped.
const MAX_WAITING: usize = 4096;

fn to_notify(e: &EventRow) -> Event {
    Event {
        id: e.id,
        camera: e.camera.clone(),
        kind: e.kind,
        start: e.start,
        end: e.end,
        score: e.score as f32,
        region: e.region.map(|r| [r[0] as f32, r[1] as f32, r[2] as f32, r[3] as f32]),
        labels: e.labels.clone(),
    }
}

/// Reads one stored event and its picture.
async fn read(events: &Arc<EventStore>, id: i64) -> Option<(EventRow, Option<Vec<u8>>)> {
    let ev = events.clone();
    let found =
        tokio::task::spawn_blocking(move || -> Result<_, EventError> { Ok((ev.get(id)?, ev.snapshot(id)?)) }).await;
    match found {
        Ok(Ok((Some(row), jpeg))) => Some((row, jpeg)),
        Ok(Ok((None, _))) => None,
        Ok(Err(e)) => {
            tracing::error!("cannot read event {id} for its alert: {e}");
            None
        }
        Err(e) => {
            tracing::error!("cannot read event {id} for its alert: {e}");
            None
        }
    }
}

/// What to send for one announced change: `None` for nothing.
#[derive(Debug, Default)]
struct Gatekeeper {
    /// Motion events of waiting cameras whose start has not gone out (no labels yet), oldest first.
    held: Vec<i64>,
    /// Of those, the ones whose start went out after all.
    sent: HashSet<i64>,
}

impl Gatekeeper {
    /// The phase to send for `notice` of `row`; `waits`: the event's camera waits for objects.
    fn decide(&mut self, notice: NoticePhase, row: &EventRow, waits: bool) -> Option<Phase> {
        let held = self.held.contains(&row.id);
        let labelled = !row.labels.is_empty();
        match notice {
            NoticePhase::Started if waits && row.kind == kw_events::EventKind::Motion && !labelled => {
                if self.held.len() >= MAX_WAITING {
                    let old = self.held.remove(0);
                    self.sent.remove(&old);
                }
                self.held.push(row.id);
                None
            }
            NoticePhase::Started => Some(Phase::Start),
            NoticePhase::Updated if held && labelled && self.sent.insert(row.id) => Some(Phase::Start),
            NoticePhase::Updated => None,
            NoticePhase::Ended if held => {
                self.held.retain(|&i| i != row.id);
                // A start is sent with the end when the labels came at the last moment.
                self.sent.remove(&row.id).then_some(Phase::End)
            }
            NoticePhase::Ended => Some(Phase::End),
        }
    }
}

/// Forwards the start and end of every announced event to the alerts engine until the channel closes.
pub async fn forward(
    alerts: Arc<Alerts>,
    events: Arc<EventStore>,
    mut rx: broadcast::Receiver<Notice>,
    config: watch::Receiver<Effective>,
) {
    let mut gate = Gatekeeper::default();
    loop {
        let notice = match rx.recv().await {
            Ok(n) => n,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("alerts fell behind by {n} event notices");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if notice.phase == NoticePhase::Updated && !gate.held.contains(&notice.id) {
            continue; // only a held start waits for an update
        }
        let Some((row, jpeg)) = read(&events, notice.id).await else { continue };
        let waits = config.borrow().camera(&row.camera).is_some_and(crate::objects::alerts_wait_for_objects);
        if let Some(phase) = gate.decide(notice.phase, &row, waits) {
            alerts.event(phase, &to_notify(&row), jpeg.map(bytes::Bytes::from)).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use kw_events::{EventKind, Label};

    fn row(id: i64, labels: bool) -> EventRow {
        EventRow {
            id,
            camera: "door".into(),
            kind: EventKind::Motion,
            start: 1,
            end: None,
            score: 0.5,
            region: None,
            has_snapshot: false,
            labels: if labels { vec![Label::new("person", 0.8, [0.1, 0.1, 0.2, 0.5])] } else { Vec::new() },
        }
    }

    #[test]
    fn waiting_cameras_alert_on_labels_only() {
        let mut g = Gatekeeper::default();
        // not waiting: as before
        assert_eq!(g.decide(NoticePhase::Started, &row(1, false), false), Some(Phase::Start));
        assert_eq!(g.decide(NoticePhase::Updated, &row(1, false), false), None);
        assert_eq!(g.decide(NoticePhase::Ended, &row(1, false), false), Some(Phase::End));
        // waiting, never labelled: nothing at all
        assert_eq!(g.decide(NoticePhase::Started, &row(2, false), true), None);
        assert_eq!(g.decide(NoticePhase::Updated, &row(2, false), true), None);
        assert_eq!(g.decide(NoticePhase::Ended, &row(2, false), true), None);
        // waiting, labelled later: one start, then the end
        assert_eq!(g.decide(NoticePhase::Started, &row(3, false), true), None);
        assert_eq!(g.decide(NoticePhase::Updated, &row(3, true), true), Some(Phase::Start));
        assert_eq!(g.decide(NoticePhase::Updated, &row(3, true), true), None, "one start");
        assert_eq!(g.decide(NoticePhase::Ended, &row(3, true), true), Some(Phase::End));
        // labelled from the start (sightings before the event began)
        assert_eq!(g.decide(NoticePhase::Started, &row(4, true), true), Some(Phase::Start));
        assert!(g.held.is_empty() && g.sent.is_empty());
    }

    #[test]
    fn held_events_are_bounded() {
        let mut g = Gatekeeper::default();
        for id in 0..(MAX_WAITING as i64 + 10) {
            g.decide(NoticePhase::Started, &row(id, false), true);
        }
        assert_eq!(g.held.len(), MAX_WAITING);
    }
}
