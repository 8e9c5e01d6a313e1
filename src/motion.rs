//! The motion pipeline of one camera: hub → H.264 decoding (openh264) → `kw_motion::Detector` → events in
//! the index, alerts, and the gate that `record = "motion"` records through.
//!
//! Why it decodes so little: decoding is most of the cost (openh264 is ~3× slower than libavcodec), and
//! most of the day nothing moves. While all is quiet only key frames are decoded (each decodes on its own),
//! and the sizes of the other frames are watched: moving things make P-frames grow. When a frame is much
//! larger than usual, or the detector wants to look closer, the frames buffered since the last key frame
//! are decoded at once and every frame after that, until the scene has been quiet for a while. With
//! `keyframes_only` the pipeline never leaves the key-frame mode (lowest power, coarser onset).
//!
//! It runs on its own thread (decoding is CPU work), reads the camera's sub-stream when configured (the
//! caller picks the hub), and never touches the recording path: it only reads `Arc<Frame>`s the hub
//! already shares.
//!
//! Cameras whose source decodes every picture anyway (MJPEG and JPEG-snapshot cameras, which keepwatch
//! encodes to H.264) hand their luma planes over directly ([`spawn_luma`], fed by
//! [`crate::ingest::Source::luma_tap`]): no second decode, every picture analysed, and the event picture is
//! the camera's own JPEG.

use crate::events::EventStore;
use crate::hub::MediaEvent;
use crate::ingest::{LumaEvent, LumaFrame};
use crate::snapshot::{avc_to_annexb, encode_jpeg, parameter_sets_annexb, to_rgb};
use kw_media::{Codec, Frame, RunInfo, StreamKind, WallMicros};
use kw_motion::{Detector, DetectorConfig, Event as MotionEvent, Phase};
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::OpenH264API;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Analysis resolution (the detector box-filters any frame to it).
const ANALYSIS: (u32, u32) = (320, 180);
/// A frame this many times larger than the median of recent non-key frames may show motion.
const SIZE_TRIGGER: f64 = 2.0;
/// How long the scene must stay quiet before going back to key frames only.
const QUIET_AFTER: Duration = Duration::from_secs(5);
/// At most one best-frame JPEG per this interval (encoding costs a few ms).
const JPEG_EVERY: i64 = 500_000;
/// The most frames buffered since the last key frame (a very long GOP is cut).
const MAX_GOP: usize = 600;

/// What the rest of keepwatch learns from a camera's motion pipeline.
#[derive(Clone, Debug)]
pub enum Notice {
    Started { id: i64, camera: String },
    Updated { id: i64, camera: String },
    Ended { id: i64, camera: String },
}

/// Shared with the recorder (`record = "motion"`) and the API.
#[derive(Debug, Default)]
pub struct MotionState {
    /// Record frames up to this wall time (µs): motion, or motion that may be starting, plus post-roll.
    pub record_until: AtomicI64,
    /// Why motion detection is not running, when it is not.
    pub unavailable: Mutex<Option<String>>,
    /// Frames decoded and analysed (for metrics and the CPU benchmark).
    pub decoded: AtomicI64,
    pub analysed: AtomicI64,
    /// Set when the camera stops: the pipeline ends without working through its queue.
    pub stopping: std::sync::atomic::AtomicBool,
}

pub struct Settings {
    pub camera: String,
    pub detector: DetectorConfig,
    pub keyframes_only: bool,
    pub post_roll: Duration,
}

/// Starts the pipeline thread; it ends when the hub closes the subscription.
pub fn spawn(
    settings: Settings,
    rx: mpsc::Receiver<MediaEvent>,
    events: Arc<EventStore>,
    state: Arc<MotionState>,
    notices: Option<tokio::sync::broadcast::Sender<Notice>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(format!("motion-{}", settings.camera)).spawn(move || {
        let mut p = Pipeline::new(settings, events, state, notices);
        p.run(rx);
    })
}

/// Starts the pipeline thread on a source's luma side channel; it ends when the source goes away.
pub fn spawn_luma(
    settings: Settings,
    rx: std::sync::mpsc::Receiver<LumaEvent>,
    events: Arc<EventStore>,
    state: Arc<MotionState>,
    notices: Option<tokio::sync::broadcast::Sender<Notice>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(format!("motion-{}", settings.camera)).spawn(move || {
        let mut p = Pipeline::new(settings, events, state, notices);
        *p.state.unavailable.lock().unwrap_or_else(|e| e.into_inner()) = None;
        // Wakes now and then to notice a stopping camera even while no pictures come.
        loop {
            if p.state.stopping.load(Ordering::Relaxed) {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(LumaEvent::Frame(f)) => p.luma(f),
                Ok(LumaEvent::Stopped) => p.end_event(p.last_t),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        p.end_event(p.last_t);
        tracing::info!(camera = %p.s.camera, "motion detection stopped: analysed {} pictures from the source",
            p.state.analysed.load(Ordering::Relaxed));
    })
}

struct Pipeline {
    s: Settings,
    events: Arc<EventStore>,
    state: Arc<MotionState>,
    notices: Option<tokio::sync::broadcast::Sender<Notice>>,
    detector: Detector,
    run: Option<Arc<RunInfo>>,
    decoder: Option<Decoder>,
    /// Annex B parameter sets of the run, sent before each key frame.
    params: Vec<u8>,
    /// Video frames since the last key frame (the key frame first).
    gop: Vec<Arc<Frame>>,
    /// Index in `gop` of the next frame to decode in full mode.
    decoded_upto: usize,
    full: bool,
    quiet_since: WallMicros,
    sizes: Vec<u32>,
    last_t: WallMicros,
    event: Option<i64>,
    last_jpeg_t: WallMicros,
    best_jpeg: Option<Vec<u8>>,
    annexb: Vec<u8>,
    /// Video frames received, and switches from key frames only to every frame (for the log and benches).
    seen: u64,
    switches: u64,
    /// Consecutive large non-key frames.
    large_run: u32,
}

impl Pipeline {
    fn new(
        s: Settings,
        events: Arc<EventStore>,
        state: Arc<MotionState>,
        notices: Option<tokio::sync::broadcast::Sender<Notice>>,
    ) -> Pipeline {
        let detector = Detector::new(s.detector.clone(), ANALYSIS.0, ANALYSIS.1);
        Pipeline {
            s,
            events,
            state,
            notices,
            detector,
            run: None,
            decoder: None,
            params: Vec::new(),
            gop: Vec::new(),
            decoded_upto: 0,
            full: false,
            quiet_since: 0,
            sizes: Vec::new(),
            last_t: i64::MIN,
            event: None,
            last_jpeg_t: i64::MIN,
            best_jpeg: None,
            annexb: Vec::new(),
            seen: 0,
            switches: 0,
            large_run: 0,
        }
    }

    fn run(&mut self, mut rx: mpsc::Receiver<MediaEvent>) {
        while let Some(ev) = rx.blocking_recv() {
            if self.state.stopping.load(Ordering::Relaxed) {
                break;
            }
            match ev {
                MediaEvent::Run(run) => self.new_run(run),
                MediaEvent::Frame(f) if f.stream == StreamKind::Video => self.frame(f),
                MediaEvent::Frame(_) => {}
                MediaEvent::Gap => {
                    self.gop.clear();
                    self.decoded_upto = 0;
                }
                MediaEvent::Stopped => self.end_event(self.last_t),
            }
        }
        self.end_event(self.last_t);
        tracing::info!(
            camera = %self.s.camera,
            "motion detection stopped: decoded {} of {} video frames ({} switches to every frame)",
            self.state.decoded.load(Ordering::Relaxed),
            self.seen,
            self.switches
        );
    }

    fn new_run(&mut self, run: Arc<RunInfo>) {
        self.gop.clear();
        self.decoded_upto = 0;
        self.decoder = None;
        if run.video.codec != Codec::H264 {
            let why = format!(
                "motion detection needs H.264 and this stream is {:?}; set sub_url to an H.264 sub-stream \
                 (camera-side motion events can serve it instead)",
                run.video.codec
            );
            tracing::warn!(camera = %self.s.camera, "{why}");
            *self.state.unavailable.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
            self.run = None;
            return;
        }
        match parameter_sets_annexb(&run.video.extra) {
            Ok(p) => self.params = p,
            Err(e) => {
                tracing::warn!(camera = %self.s.camera, "motion: {e}");
                self.run = None;
                return;
            }
        }
        match Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new()) {
            Ok(d) => self.decoder = Some(d),
            Err(e) => {
                tracing::error!(camera = %self.s.camera, "motion: cannot start the H.264 decoder: {e}");
                self.run = None;
                return;
            }
        }
        *self.state.unavailable.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.run = Some(run);
    }

    fn frame(&mut self, f: Arc<Frame>) {
        let Some(run) = self.run.clone() else { return };
        self.seen += 1;
        let t = run.video_wall(f.pts);
        if f.key {
            self.gop.clear();
            self.decoded_upto = 0;
            // Back to key frames only once the scene has been quiet for a while.
            if self.full
                && self.detector.phase() == Phase::Idle
                && t.saturating_sub(self.quiet_since) > micros(QUIET_AFTER)
            {
                self.full = false;
            }
        } else if self.gop.is_empty() {
            return; // waiting for a key frame
        }
        if self.gop.len() >= MAX_GOP {
            return;
        }
        let size = u32::try_from(f.data.len()).unwrap_or(u32::MAX);
        self.gop.push(f.clone());
        let large = !f.key && self.large(size);
        self.large_run = if large { self.large_run + 1 } else { 0 };
        // Two large frames in a row: something moves (a single spike is the encoder's rate control).
        if !self.full && !self.s.keyframes_only && self.large_run >= 2 {
            tracing::debug!(camera = %self.s.camera, size, "motion: a large frame; decoding every frame");
            self.full = true;
            self.switches += 1;
        }
        if !f.key {
            self.sizes.push(size);
            if self.sizes.len() > 64 {
                self.sizes.remove(0);
            }
        }
        if self.full {
            // Catch up from the key frame: everything buffered and not yet decoded.
            while self.decoded_upto < self.gop.len() {
                let g = self.gop[self.decoded_upto].clone();
                self.decoded_upto += 1;
                self.analyse(&run, &g);
            }
        } else if f.key {
            self.decoded_upto = 1;
            self.analyse(&run, &f);
            if self.detector.needs_full_rate() && !self.s.keyframes_only {
                tracing::debug!(camera = %self.s.camera, "motion: the detector looks closer; decoding every frame");
                self.full = true;
                self.switches += 1;
            }
        }
    }

    /// Whether a non-key frame of `size` bytes is much larger than the recent ones.
    /// Whether a non-key frame of `size` bytes is much larger than usual: over [`SIZE_TRIGGER`] × the
    /// median and over the 90th percentile of recent non-key frames by a quarter (a noisy camera's sizes
    /// spread widely; one rate-control spike is not motion).
    fn large(&self, size: u32) -> bool {
        if self.sizes.len() < 8 {
            return true; // no idea yet what is usual: look
        }
        let mut v = self.sizes.clone();
        v.sort_unstable();
        let median = f64::from(v[v.len() / 2]).max(64.0);
        let p90 = f64::from(v[v.len() * 9 / 10]);
        let size = f64::from(size);
        size > SIZE_TRIGGER * median && size > 1.25 * p90
    }

    fn analyse(&mut self, run: &RunInfo, f: &Frame) {
        let t = run.video_wall(f.pts);
        let Some(decoder) = self.decoder.as_mut() else { return };
        self.annexb.clear();
        if f.key {
            self.annexb.extend_from_slice(&self.params);
        }
        if avc_to_annexb(&f.data, &mut self.annexb).is_err() || self.annexb.is_empty() {
            return;
        }
        let picture = match decoder.decode(&self.annexb) {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(camera = %self.s.camera, "motion: undecodable frame: {e}");
                return;
            }
        };
        self.state.decoded.fetch_add(1, Ordering::Relaxed);
        if t <= self.last_t {
            return; // reordered or repeated time: the detector needs increasing times
        }
        use openh264::formats::YUVSource;
        let (w, h) = picture.dimensions();
        let (ys, _, _) = picture.strides();
        let out = match self.detector.push(picture.y(), ys, w, h, t) {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(camera = %self.s.camera, "motion: frame not analysed: {e}");
                return;
            }
        };
        let wanted = out.best && t.saturating_sub(self.last_jpeg_t) >= JPEG_EVERY;
        let jpeg = wanted.then(|| to_rgb(&picture).and_then(|rgb| encode_jpeg(&rgb)).ok());
        self.analysed(t, out, jpeg.flatten());
    }

    /// A picture the source decoded itself (see [`spawn_luma`]).
    fn luma(&mut self, f: LumaFrame) {
        self.seen += 1;
        self.state.decoded.fetch_add(1, Ordering::Relaxed);
        let t = f.wall;
        if t <= self.last_t || f.y.len() < f.width * f.height {
            return;
        }
        let out = match self.detector.push(&f.y, f.width, f.width, f.height, t) {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(camera = %self.s.camera, "motion: picture not analysed: {e}");
                return;
            }
        };
        let wanted = out.best && t.saturating_sub(self.last_jpeg_t) >= JPEG_EVERY;
        let jpeg = if wanted { f.jpeg.map(|j| j.to_vec()) } else { None };
        self.analysed(t, out, jpeg);
    }

    /// What follows the detector's verdict on a picture at `t`: the event picture (the caller makes one only
    /// for the best picture, at most every [`JPEG_EVERY`]), the record gate, the events.
    fn analysed(&mut self, t: WallMicros, out: kw_motion::Output, jpeg: Option<Vec<u8>>) {
        self.last_t = t;
        self.state.analysed.fetch_add(1, Ordering::Relaxed);
        if let Some(jpeg) = jpeg {
            self.best_jpeg = Some(jpeg);
            self.last_jpeg_t = t;
        }
        if out.phase != Phase::Idle {
            self.quiet_since = t;
        }
        if out.region.is_some() || out.phase == Phase::Pending {
            // Something moves in this frame (or may be starting to): recording follows it plus post-roll.
            self.state.record_until.fetch_max(t.saturating_add(micros(self.s.post_roll)), Ordering::Relaxed);
        }
        for ev in out.events {
            self.handle(ev);
        }
    }

    fn handle(&mut self, ev: MotionEvent) {
        let cam = self.s.camera.clone();
        match ev {
            MotionEvent::Started { info, .. } => {
                let jpeg = self.best_jpeg.take();
                match self.events.start(
                    &cam,
                    "motion",
                    info.start,
                    f64::from(info.score),
                    Some(info.best_region.to_array()),
                    jpeg.as_deref(),
                ) {
                    Ok(id) => {
                        tracing::info!(camera = %cam, event = id, "motion started");
                        self.event = Some(id);
                        self.notify(Notice::Started { id, camera: cam });
                    }
                    Err(e) => tracing::error!(camera = %cam, "cannot store a motion event: {e}"),
                }
            }
            MotionEvent::Updated { info, .. } => {
                let Some(id) = self.event else { return };
                let jpeg = self.best_jpeg.take();
                if let Err(e) =
                    self.events.improve(id, f64::from(info.score), Some(info.best_region.to_array()), jpeg.as_deref())
                {
                    tracing::error!(camera = %cam, "cannot update motion event {id}: {e}");
                }
                self.notify(Notice::Updated { id, camera: cam });
            }
            MotionEvent::Ended { end, info, .. } => {
                let Some(id) = self.event.take() else { return };
                let jpeg = self.best_jpeg.take();
                let _ =
                    self.events.improve(id, f64::from(info.score), Some(info.best_region.to_array()), jpeg.as_deref());
                if let Err(e) = self.events.finish(id, end) {
                    tracing::error!(camera = %cam, "cannot end motion event {id}: {e}");
                }
                tracing::info!(camera = %cam, event = id, "motion ended");
                self.notify(Notice::Ended { id, camera: cam });
            }
        }
    }

    /// The stream stopped: an event in progress ends with the last frame.
    fn end_event(&mut self, _t: WallMicros) {
        if let Some(ev) = self.detector.finish() {
            self.handle(ev);
        }
        self.gop.clear();
        self.decoded_upto = 0;
    }

    fn notify(&self, n: Notice) {
        if let Some(tx) = &self.notices {
            let _ = tx.send(n);
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The detector's settings from a camera's `[cameras.motion]` table: `sensitivity`, `min_duration` and
/// `zones`; `pre_roll`, `post_roll`, `keyframes_only` and `enabled` are the pipeline's business (recording
/// and decoding), everything else keeps the detector's defaults. Here, not in kw-motion, so the detector
/// knows nothing of the config file.
pub(crate) fn detector_config(m: &kw_config::MotionConfig) -> DetectorConfig {
    DetectorConfig {
        sensitivity: m.sensitivity as f32,
        min_duration: m.min_duration,
        zones: m
            .zones
            .iter()
            .map(|z| kw_motion::Zone {
                kind: match z.kind {
                    kw_config::ZoneKind::Include => kw_motion::ZoneKind::Include,
                    kw_config::ZoneKind::Exclude => kw_motion::ZoneKind::Exclude,
                },
                points: z.points.clone(),
            })
            .collect(),
        ..DetectorConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_config_from_motion_config() {
        let mut m = kw_config::MotionConfig { sensitivity: 0.8, ..Default::default() };
        m.zones.push(kw_config::Zone {
            name: "a".into(),
            kind: kw_config::ZoneKind::Exclude,
            points: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)],
        });
        let c = detector_config(&m);
        assert!((c.sensitivity - 0.8).abs() < 1e-6);
        assert_eq!(c.min_duration, Duration::from_secs(1));
        assert_eq!(c.zones.len(), 1);
        assert_eq!(c.zones[0].kind, kw_motion::ZoneKind::Exclude);
    }
}
