//! Object detection on motion: "is this a person, a car?" before an alert (issue 14).
//!
//! Why it sits beside the motion pipeline and not in it: the motion pipeline decides *when* to look (a
//! frame where motion was found, and where) and already holds the decoded picture; this module decides
//! *whether* it may look (the camera's rate and the global [`Budget`]), looks on a thread of its own
//! (inference takes ~0.1 s of one core: never on the motion thread, never on the async runtime, never near
//! recording), and turns what it sees into labels on the motion event, through the [`EventSink`].
//!
//! The motion pipeline calls three things on its [`Hook`]: [`Hook::offer`] (a frame with motion, its
//! region), [`Hook::event_started`] and [`Hook::event_ended`]. `offer` returns at once: when the camera's
//! worker is still busy, or the budget says no, the frame is simply not examined.
//!
//! - [`engine`]: the shared part (models, loaded once; the global budget).
//! - [`worker`]: one camera's thread (detect → zones → tracker → labels, the boxed picture, the record
//!   signal of `record = "objects"`).
//! - [`draw`]: boxes onto the event picture; [`zones`]: an object counts where its feet are.

mod draw;
mod engine;
mod worker;
mod zones;

pub use engine::Engine;

use crate::events::{EventSink, OpenEvent};
use crate::motion_signal::MotionSignal;
use kw_config::{AlertOn, CameraConfig};
use kw_media::WallMicros;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages waiting for a camera's worker: at most one frame (see `busy`) plus event starts and ends.
const QUEUE: usize = 16;

/// Whether `camera`'s alerts wait for an object: object detection runs there and `alert_on = "objects"`.
pub fn alerts_wait_for_objects(c: &CameraConfig) -> bool {
    c.motion.enabled && c.objects.enabled && c.objects.alert_on == AlertOn::Objects
}

enum Msg {
    Frame { t: WallMicros, rgb: kw_codec::Rgb, region: Option<[f32; 4]> },
    Started(OpenEvent, WallMicros),
    Ended(i64),
}

/// The motion pipeline's handle on a camera's object detection. Dropping it ends the worker.
pub struct Hook {
    camera: String,
    engine: Arc<Engine>,
    tx: SyncSender<Msg>,
    busy: Arc<AtomicBool>,
    /// Set by the worker when it recognised an object while no event was open: the motion pipeline
    /// confirms its pending motion at once (see [`Hook::take_sighting`]).
    sighted: Arc<AtomicBool>,
    /// The camera's own spacing: no two offers accepted closer than this.
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl Hook {
    /// Starts the camera's worker. `record`: the signal `record = "objects"` records through (raised while a
    /// tracked object is in view), when the camera records that way.
    pub fn start(
        c: &CameraConfig,
        engine: Arc<Engine>,
        sink: EventSink,
        record: Option<Arc<MotionSignal>>,
    ) -> std::io::Result<Hook> {
        let (tx, rx) = sync_channel(QUEUE);
        let busy = Arc::new(AtomicBool::new(false));
        let sighted = Arc::new(AtomicBool::new(false));
        let w = worker::Worker::new(c, engine.clone(), sink, record, busy.clone(), sighted.clone());
        std::thread::Builder::new().name(format!("objects-{}", c.name)).spawn(move || w.run(rx))?;
        let rate = c.objects.max_per_second.clamp(0.1, 30.0);
        Ok(Hook {
            camera: c.name.clone(),
            engine,
            tx,
            busy,
            sighted,
            every: Duration::from_secs_f64(1.0 / rate),
            last: Mutex::new(None),
        })
    }

    /// Whether the worker recognised an object, while no event was open, since the last call: the motion
    /// pipeline then starts the event without waiting for `min_duration`, so the alert goes out as soon as
    /// the object is known.
    pub fn take_sighting(&self) -> bool {
        self.sighted.swap(false, Ordering::AcqRel)
    }

    /// A frame where motion was found (`region`: where, `[x, y, w, h]` in 0..1). Cheap when declined; when
    /// taken, the picture is converted to RGB here (a few ms) and examined on the worker.
    pub fn offer(&self, t: WallMicros, picture: &kw_codec::Picture<'_>, region: Option<[f32; 4]>) {
        if self.busy.load(Ordering::Acquire) {
            return;
        }
        let now = self.engine.clock().monotonic();
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|l| now.saturating_duration_since(l) < self.every) {
                return;
            }
            if self.engine.budget().try_acquire(&self.camera).is_err() {
                return;
            }
            *last = Some(now);
        }
        let rgb = match picture.to_rgb() {
            Ok(rgb) => rgb,
            Err(e) => {
                tracing::debug!(camera = %self.camera, "objects: picture not converted: {e}");
                return;
            }
        };
        self.busy.store(true, Ordering::Release);
        if self.tx.try_send(Msg::Frame { t, rgb, region }).is_err() {
            self.busy.store(false, Ordering::Release);
        }
    }

    /// The motion pipeline started an event at `start`: objects seen from now on (and just before) label it.
    pub fn event_started(&self, open: &OpenEvent, start: WallMicros) {
        self.control(Msg::Started(open.clone(), start));
    }

    /// The event ended.
    pub fn event_ended(&self, open: &OpenEvent) {
        self.control(Msg::Ended(open.id));
    }

    fn control(&self, m: Msg) {
        if self.tx.try_send(m).is_err() {
            tracing::warn!(camera = %self.camera, "objects: the worker is not keeping up; an event change was lost");
        }
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.engine.budget().forget(&self.camera);
    }
}
