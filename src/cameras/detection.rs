//! A camera's motion detection: keepwatch's own pipeline (on the sub-stream when there is one, else on
//! the main stream, or on the decoded pictures an MJPEG/JPEG source hands over) and the camera's own
//! ONVIF motion events. Both write events through the sink and raise the camera's [`MotionSignal`].

use crate::events::EventSink;
use crate::hub::{Hub, Start};
use crate::ingest::Source;
use crate::motion::{self, Settings};
use crate::motion_signal::MotionSignal;
use crate::supervisor::Status;
use kw_config::CameraConfig;
use kw_media::clock::SharedClock;
use std::sync::Arc;
use tokio::sync::watch;

/// The queue between a camera's hub and its motion pipeline (skipped ahead when decoding falls behind).
const MOTION_QUEUE: usize = 256;
/// Decoded pictures waiting for motion detection (MJPEG/JPEG cameras); more are dropped.
const LUMA_QUEUE: usize = 4;

/// Starts following the camera's own motion events where it has them (`onvif://` cameras); true when
/// started. The task ends with the camera's supervisor (its status channel closes).
pub(super) fn start_camera_events(
    c: &CameraConfig,
    sink: &EventSink,
    signal: &Arc<MotionSignal>,
    status: &watch::Receiver<Status>,
    clock: &SharedClock,
) -> bool {
    if !crate::camera_motion::wants_events(c) {
        return false;
    }
    let ce = crate::camera_motion::CameraEvents {
        camera: c.name.clone(),
        sink: sink.clone(),
        signal: signal.clone(),
        post_roll: c.motion.post_roll,
        clock: clock.clone(),
        own_motion: c.motion.enabled,
    };
    crate::camera_motion::spawn(c, ce, status.clone());
    true
}

/// Starts a camera's object detection worker when `[cameras.objects] enabled` (and motion detection, which
/// feeds it). `record`: the signal `record = "objects"` records through.
pub(super) fn start_objects(
    c: &CameraConfig,
    engine: &Arc<crate::objects::Engine>,
    sink: &EventSink,
    record: Option<Arc<MotionSignal>>,
) -> Option<crate::objects::Hook> {
    if !c.objects.enabled || !c.motion.enabled {
        if c.objects.enabled {
            tracing::warn!(camera = %c.name, "[cameras.objects] needs motion detection: it looks where motion is");
        }
        return None;
    }
    match crate::objects::Hook::start(c, engine.clone(), sink.clone(), record) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(camera = %c.name, "cannot start object detection: {e}");
            None
        }
    }
}

/// Starts keepwatch's motion pipeline when `[cameras.motion] enabled`. `watched`: the hub to read (the
/// sub-stream's when there is one); `has_sub`: whether there is one (then the main source's decoded
/// pictures are not used).
pub(super) fn start_motion(
    c: &CameraConfig,
    source: &dyn Source,
    has_sub: bool,
    watched: &Hub,
    sink: &EventSink,
    signal: &Arc<MotionSignal>,
    objects: Option<crate::objects::Hook>,
) -> Option<motion::Running> {
    if !c.motion.enabled {
        return None;
    }
    let settings = Settings {
        camera: c.name.clone(),
        detector: motion::detector_config(&c.motion),
        keyframes_only: c.motion.keyframes_only,
        post_roll: c.motion.post_roll,
        objects,
    };
    // MJPEG/JPEG cameras hand over the pictures they decode anyway: motion needs no H.264 decode.
    let (luma_tx, luma_rx) = std::sync::mpsc::sync_channel(LUMA_QUEUE);
    let spawned = if !has_sub && source.luma_tap(luma_tx) {
        if settings.objects.is_some() {
            tracing::warn!(camera = %c.name, "object detection does not run on MJPEG/JPEG cameras yet (motion only)");
        }
        motion::spawn_luma(settings, luma_rx, sink.clone(), signal.clone())
    } else {
        let rx = watched.subscribe(MOTION_QUEUE, Start::LastKeyFrame);
        motion::spawn(settings, rx, sink.clone(), signal.clone())
    };
    match spawned {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(camera = %c.name, "cannot start motion detection: {e}");
            None
        }
    }
}
