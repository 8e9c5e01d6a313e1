//! What the host tells the alerts engine: an [`Event`] and its [`Phase`].
//!
//! The JSON a delivery carries is the public Event shape of `docs/conventions.md` plus `"phase"` and
//! `"dedup_key"`; it is built once, when the alert is queued, and stored in the outbox, so a retry sends
//! exactly the bytes of the first try (a webhook receiver can compare signatures across retries).

use std::fmt;

use kw_config::NotifyEvent;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use kw_events::{EventKind, Label};

/// The config's name for an event kind (`notify.events`).
pub fn notify_event(kind: EventKind) -> NotifyEvent {
    match kind {
        EventKind::Motion => NotifyEvent::Motion,
        EventKind::CameraMotion => NotifyEvent::CameraMotion,
        EventKind::CameraOffline => NotifyEvent::CameraOffline,
        EventKind::Storage => NotifyEvent::Storage,
    }
}

/// Whether an event begins or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The event began (motion started, camera went offline).
    Start,
    /// The event ended; [`Event::end`] is set.
    End,
}

impl Phase {
    /// `start` or `end`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::End => "end",
        }
    }

    /// Parses `start` or `end`.
    pub fn parse(text: &str) -> Option<Phase> {
        match text {
            "start" => Some(Phase::Start),
            "end" => Some(Phase::End),
            _ => None,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event, as the host's event store has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event store's id; unique in the store, used in links and dedup keys.
    pub id: i64,
    /// Camera name (`storage` events use the camera concerned, or any name the host picks, e.g. `store`).
    pub camera: String,
    /// What happened.
    pub kind: EventKind,
    /// Start, µs since the Unix epoch.
    pub start: i64,
    /// End, µs since the Unix epoch; `None` while it goes on.
    pub end: Option<i64>,
    /// 0..1.
    pub score: f32,
    /// `[x, y, w, h]` in 0..1 of the frame, where known.
    pub region: Option<[f32; 4]>,
    /// What object detection saw (empty where it did not run or saw nothing).
    pub labels: Vec<Label>,
}

impl Event {
    /// The label names, best score first.
    pub fn label_names(&self) -> Vec<String> {
        label_names(&self.labels)
    }
}

/// Label names, best score first.
pub(crate) fn label_names(labels: &[Label]) -> Vec<String> {
    let mut v: Vec<&Label> = labels.iter().collect();
    v.sort_by(|a, b| b.score.total_cmp(&a.score));
    v.into_iter().map(|l| l.label.clone()).collect()
}

/// The label names a stored delivery's payload carries (for the texts of push and mail alerts).
pub(crate) fn payload_labels(payload: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Only {
        #[serde(default)]
        labels: Vec<Label>,
    }
    serde_json::from_str::<Only>(payload).map(|o| label_names(&o.labels)).unwrap_or_default()
}

/// The dedup key of one delivery: `{event id}-{phase}-{notifier}`, unique in the outbox.
pub fn dedup_key(event_id: i64, phase: Phase, notifier: &str) -> String {
    format!("{event_id}-{}-{notifier}", phase.as_str())
}

/// The API path of an event's snapshot.
pub fn snapshot_path(event_id: i64) -> String {
    format!("/api/events/{event_id}/snapshot.jpg")
}

/// RFC 3339 in UTC (`2026-11-25T10:00:00Z`, fractional seconds when there are any).
pub(crate) fn rfc3339(us: i64) -> String {
    match jiff::Timestamp::from_microsecond(us) {
        Ok(t) => t.to_string(),
        Err(_) => us.to_string(),
    }
}

/// The delivery JSON: the Event shape plus `phase` and `dedup_key`; `snapshot` is the link to use.
pub(crate) fn payload_json(ev: &Event, phase: Phase, dedup_key: &str, snapshot: &str) -> String {
    let finite = |v: f32| if v.is_finite() { f64::from(v) } else { 0.0 };
    let region = ev.region.map(|r| r.map(finite));
    json!({
        "id": ev.id,
        "camera": ev.camera,
        "kind": ev.kind.as_str(),
        "start": rfc3339(ev.start),
        "end": ev.end.map(rfc3339),
        "score": finite(ev.score).clamp(0.0, 1.0),
        "region": region,
        "labels": ev.labels,
        "snapshot": snapshot,
        "phase": phase.as_str(),
        "dedup_key": dedup_key,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_shape() {
        let ev = Event {
            id: 42,
            camera: "front-door".into(),
            kind: EventKind::CameraOffline,
            start: 1_795_600_800_000_000,
            end: None,
            score: f32::NAN,
            region: Some([0.1, 0.2, 0.3, f32::INFINITY]),
            labels: vec![Label::new("car", 0.5, [0.5, 0.5, 0.2, 0.2]), Label::new("person", 0.9, [0.1, 0.1, 0.2, 0.5])],
        };
        let key = dedup_key(42, Phase::Start, "ha");
        assert_eq!(key, "42-start-ha");
        let v: serde_json::Value = serde_json::from_str(&payload_json(&ev, Phase::Start, &key, "/x.jpg")).unwrap();
        assert_eq!(v["kind"], "camera-offline");
        assert_eq!(v["start"], "2026-11-25T10:00:00Z");
        assert_eq!(v["end"], serde_json::Value::Null);
        assert_eq!(v["score"], 0.0);
        assert_eq!(v["region"][3], 0.0);
        assert_eq!(v["phase"], "start");
        assert_eq!(v["dedup_key"], "42-start-ha");
        assert_eq!(v["labels"][1]["label"], "person");
        assert_eq!(v["labels"][1]["box"][3], 0.5);
        assert_eq!(payload_labels(&v.to_string()), vec!["person", "car"], "best first");
        assert!(payload_labels("{}").is_empty() && payload_labels("nonsense").is_empty());
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(notify_event(k).to_string(), k.as_str());
        }
    }
}
