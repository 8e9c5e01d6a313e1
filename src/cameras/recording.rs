//! A camera's recorder: none for `record = "off"`, else a recorder thread on the main hub, gated by the
//! camera's [`MotionSignal`] for `record = "motion"` (continuous where no motion detection of any kind
//! runs: better everything than nothing), or by its object detection's signal for `record = "objects"`.

use crate::hub::{Hub, Start};
use crate::motion_signal::MotionSignal;
use crate::recorder::{self, Gate, Stats};
use kw_config::{CameraConfig, RecordMode};
use kw_media::clock::SharedClock;
use kw_store::Store;
use std::sync::Arc;

/// `detection`: the signal that gates recording, when some kind of detection runs; `motion`: the camera's
/// motion detection signal, which object detection depends on (H.265 without a sub-stream makes it
/// unavailable, and then `record = "objects"` records everything, like `record = "motion"`).
pub(super) fn start(
    c: &CameraConfig,
    store: &Arc<Store>,
    clock: &SharedClock,
    hub: &Hub,
    stats: &Arc<Stats>,
    detection: Option<&Arc<MotionSignal>>,
    motion: &Arc<MotionSignal>,
) -> Option<std::thread::JoinHandle<()>> {
    let gate = match (c.record, detection) {
        (RecordMode::Off, _) => return None,
        (RecordMode::Motion, Some(signal)) => Some(Gate::new(signal.clone(), c.motion.pre_roll)),
        (RecordMode::Objects, Some(signal)) => {
            Some(Gate::new(signal.clone(), c.motion.pre_roll).fed_by(motion.clone()))
        }
        (RecordMode::Motion | RecordMode::Objects, None) => {
            tracing::warn!(camera = %c.name, "record = \"{}\" needs [cameras.motion] enabled = true: recording continuously", c.record);
            None
        }
        (RecordMode::Continuous, _) => None,
    };
    let rx = hub.subscribe(recorder::QUEUE, Start::Now);
    match recorder::spawn(c.name.clone(), store.clone(), clock.clone(), rx, stats.clone(), gate) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(camera = %c.name, "cannot start the recorder thread: {e}");
            None
        }
    }
}
