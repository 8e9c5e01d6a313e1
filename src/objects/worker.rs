//! One camera's object detection thread: examines the frames its [`super::Hook`] hands over, follows the
//! objects with a [`Tracker`], and labels the camera's motion event with what it sees.
//!
//! Which sightings label an event: a new object (a track that just started), or a known one that has
//! moved away from where it was first seen. A car parked in the drive stays one track; it labels the event
//! in which it arrived, not every later event in which someone walks past it. Sightings in the seconds
//! before the motion event starts (motion needs `min_duration` to become an event) are kept and label it
//! when it starts.

use super::{draw, zones, Engine, Msg};
use crate::events::{EventSink, Label, OpenEvent};
use crate::motion_signal::MotionSignal;
use kw_config::CameraConfig;
use kw_media::WallMicros;
use kw_objects::{DetectOptions, Detection, Detector, RgbFrame, Tracked, Tracker, TrackerConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

/// Sightings older than this when an event starts do not label it.
const PENDING_FOR: i64 = 10_000_000;
/// A known object labels an event again once its box overlaps where it was first seen less than this.
const MOVED_IOU: f32 = 0.5;
/// The most first-sighting boxes remembered (one per live track; the tracker caps tracks too).
const MAX_FIRST: usize = 256;

pub(super) struct Worker {
    camera: String,
    cfg: kw_config::ObjectsConfig,
    zones: Vec<kw_config::Zone>,
    engine: Arc<Engine>,
    sink: EventSink,
    record: Option<Arc<MotionSignal>>,
    post_roll: Duration,
    busy: Arc<AtomicBool>,
    /// Raised when an object is recognised while no event is open (the motion pipeline reads it).
    sighted: Arc<AtomicBool>,
    tracker: Tracker,
    opts: DetectOptions,
    /// Where each live track was first seen.
    first: HashMap<u64, [f32; 4]>,
    event: Option<OpenEvent>,
    /// Sightings while no event was open: (time, label), for the event about to start.
    pending: Vec<(WallMicros, Label, kw_codec::Rgb)>,
}

impl Worker {
    pub(super) fn new(
        c: &CameraConfig,
        engine: Arc<Engine>,
        sink: EventSink,
        record: Option<Arc<MotionSignal>>,
        busy: Arc<AtomicBool>,
        sighted: Arc<AtomicBool>,
    ) -> Worker {
        let opts = DetectOptions {
            min_score: c.objects.min_score as f32,
            track: Tracked::new(&c.objects.track),
            ..DetectOptions::default()
        };
        Worker {
            camera: c.name.clone(),
            cfg: c.objects.clone(),
            zones: c.motion.zones.clone(),
            engine,
            sink,
            record,
            post_roll: c.motion.post_roll,
            busy,
            sighted,
            tracker: Tracker::new(TrackerConfig::default()),
            opts,
            first: HashMap::new(),
            event: None,
            pending: Vec::new(),
        }
    }

    pub(super) fn run(mut self, rx: Receiver<Msg>) {
        let detector = match self.engine.detector(self.cfg.model.as_ref(), self.cfg.labels.as_ref()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(camera = %self.camera, "object detection off: cannot load the model: {e}");
                // Keep answering the hook (as "busy") so it stops converting pictures.
                self.busy.store(true, Ordering::Release);
                while rx.recv().is_ok() {}
                return;
            }
        };
        let unknown = self.opts.track.unknown(detector.classes());
        if !unknown.is_empty() {
            tracing::warn!(camera = %self.camera, model = %detector.describe(),
                "objects: the model knows none of these labels, they are never seen: {}", unknown.join(", "));
        }
        tracing::info!(camera = %self.camera, model = %detector.describe(), "object detection started");
        while let Ok(m) = rx.recv() {
            match m {
                Msg::Frame { t, rgb, region } => {
                    self.frame(&detector, t, rgb, region);
                    self.busy.store(false, Ordering::Release);
                }
                Msg::Started(open, start) => self.started(open, start),
                Msg::Ended(id) => {
                    if self.event.as_ref().is_some_and(|e| e.id == id) {
                        self.event = None;
                    }
                }
            }
        }
    }

    fn frame(&mut self, detector: &Detector, t: WallMicros, mut rgb: kw_codec::Rgb, region: Option<[f32; 4]>) {
        let found =
            RgbFrame::new(rgb.width, rgb.height, &rgb.data).and_then(|f| detector.detect(&f, region, &self.opts));
        let examined = match found {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(camera = %self.camera, "objects: frame not examined: {e}");
                return;
            }
        };
        let seen: Vec<Detection> =
            examined.detections.into_iter().filter(|d| zones::counts(&self.zones, d.bbox)).collect();
        let now = self.engine.clock().monotonic();
        let changes = self.tracker.observe(now, examined.area, &seen);
        for ended in changes.ended.iter().chain(self.tracker.expire(now).iter()) {
            self.first.remove(&ended.id);
        }
        if !seen.is_empty() {
            if let Some(signal) = &self.record {
                signal.record_until_at_least(t.saturating_add(micros(self.post_roll)));
            }
        }
        let mut labels = Vec::new();
        for track in &changes.new {
            if self.first.len() < MAX_FIRST {
                self.first.insert(track.id, track.last.bbox);
            }
            labels.push(label_of(&track.last));
        }
        for track in &changes.seen {
            let moved = self
                .first
                .get(&track.id)
                .is_none_or(|b| kw_objects::nms::iou(corners(*b), corners(track.last.bbox)) < MOVED_IOU);
            if moved {
                labels.push(label_of(&track.last));
            }
        }
        if labels.is_empty() {
            return;
        }
        let boxes: Vec<[f32; 4]> = seen.iter().map(|d| d.bbox).collect();
        draw::boxes(&mut rgb, &boxes);
        match &self.event {
            Some(open) => self.label(&open.clone(), &labels, &rgb),
            None => {
                self.sighted.store(true, Ordering::Release);
                self.pending.retain(|(at, _, _)| t.saturating_sub(*at) < PENDING_FOR);
                // One picture per label is enough; the best one wins when the event starts.
                for l in labels {
                    if self.pending.len() < 16 {
                        self.pending.push((t, l, rgb.clone()));
                    }
                }
            }
        }
    }

    fn started(&mut self, open: OpenEvent, start: WallMicros) {
        let pending = std::mem::take(&mut self.pending);
        let fresh: Vec<_> = pending.into_iter().filter(|(at, _, _)| *at >= start.saturating_sub(PENDING_FOR)).collect();
        if let Some((_, _, rgb)) = fresh.iter().max_by(|a, b| a.1.score.total_cmp(&b.1.score)) {
            let labels: Vec<Label> = fresh.iter().map(|(_, l, _)| l.clone()).collect();
            self.label(&open, &labels, rgb);
        }
        self.event = Some(open);
    }

    /// Adds `labels` to the event with `rgb` (boxes drawn) as its picture, announced as an update.
    fn label(&self, open: &OpenEvent, labels: &[Label], rgb: &kw_codec::Rgb) {
        let jpeg = kw_codec::jpeg::encode(rgb).ok();
        match self.sink.add_labels(open, labels, jpeg.as_deref()) {
            Ok(added) => {
                if added {
                    let names: Vec<&str> = labels.iter().map(|l| l.label.as_str()).collect();
                    tracing::info!(camera = %self.camera, event = open.id, "objects: {}", names.join(", "));
                }
            }
            Err(e) => tracing::error!(camera = %self.camera, "cannot label event {}: {e}", open.id),
        }
    }
}

fn label_of(d: &Detection) -> Label {
    Label::new(&d.label, f64::from(d.score), d.bbox.map(f64::from))
}

fn corners(b: [f32; 4]) -> [f32; 4] {
    [b[0], b[1], b[0] + b[2], b[1] + b[3]]
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
