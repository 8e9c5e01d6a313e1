//! The decode scheduling and event logic of one camera's motion pipeline (see the module above for why it
//! decodes so little): which frames to decode, what to do with the detector's verdict, and the events it
//! starts, improves and finishes through the [`EventSink`].

use super::{Control, Settings};
use crate::events::{EventKind, EventSink, NewEvent, OpenEvent};
use crate::hub::MediaEvent;
use crate::ingest::{LumaEvent, LumaFrame};
use crate::motion_signal::MotionSignal;
use kw_codec::{CodecError, H264Decoder};
use kw_media::{Codec, Frame, RunInfo, StreamKind, WallMicros};
use kw_motion::{Detector, Event as MotionEvent, Phase};
use std::sync::atomic::Ordering;
use std::sync::Arc;
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

pub(super) struct Pipeline {
    s: Settings,
    sink: EventSink,
    signal: Arc<MotionSignal>,
    control: Arc<Control>,
    detector: Detector,
    run: Option<Arc<RunInfo>>,
    decoder: Option<H264Decoder>,
    /// Video frames since the last key frame (the key frame first).
    gop: Vec<Arc<Frame>>,
    /// Index in `gop` of the next frame to decode in full mode.
    decoded_upto: usize,
    full: bool,
    quiet_since: WallMicros,
    sizes: Vec<u32>,
    last_t: WallMicros,
    event: Option<OpenEvent>,
    last_jpeg_t: WallMicros,
    best_jpeg: Option<Vec<u8>>,
    /// Video frames received, and switches from key frames only to every frame (for the log and benches).
    seen: u64,
    switches: u64,
    /// Consecutive large non-key frames.
    large_run: u32,
}

impl Pipeline {
    pub(super) fn new(s: Settings, sink: EventSink, signal: Arc<MotionSignal>, control: Arc<Control>) -> Pipeline {
        let detector = Detector::new(s.detector.clone(), ANALYSIS.0, ANALYSIS.1);
        Pipeline {
            s,
            sink,
            signal,
            control,
            detector,
            run: None,
            decoder: None,
            gop: Vec::new(),
            decoded_upto: 0,
            full: false,
            quiet_since: 0,
            sizes: Vec::new(),
            last_t: i64::MIN,
            event: None,
            last_jpeg_t: i64::MIN,
            best_jpeg: None,
            seen: 0,
            switches: 0,
            large_run: 0,
        }
    }

    /// Reads the hub until it closes the subscription or the camera stops.
    pub(super) fn run(&mut self, mut rx: mpsc::Receiver<MediaEvent>) {
        while let Some(ev) = rx.blocking_recv() {
            if self.control.stopping.load(Ordering::Relaxed) {
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
            self.control.handled.fetch_add(1, Ordering::SeqCst);
        }
        self.end_event(self.last_t);
        tracing::info!(
            camera = %self.s.camera,
            "motion detection stopped: decoded {} of {} video frames ({} switches to every frame)",
            self.control.decoded.load(Ordering::Relaxed),
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
            self.signal.set_unavailable(Some(why));
            self.run = None;
            return;
        }
        match H264Decoder::new(&run.video) {
            Ok(d) => self.decoder = Some(d),
            Err(e @ CodecError::BadInput(_)) => {
                tracing::warn!(camera = %self.s.camera, "motion: {e}");
                self.run = None;
                return;
            }
            Err(e) => {
                tracing::error!(camera = %self.s.camera, "motion: cannot start the H.264 decoder: {e}");
                self.run = None;
                return;
            }
        }
        self.signal.set_unavailable(None);
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
        let picture = match decoder.decode(&f.data, f.key) {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(camera = %self.s.camera, "motion: undecodable frame: {e}");
                return;
            }
        };
        self.control.decoded.fetch_add(1, Ordering::SeqCst);
        if t <= self.last_t {
            return; // reordered or repeated time: the detector needs increasing times
        }
        let (w, h) = picture.dimensions();
        let (luma, stride) = picture.luma();
        let out = match self.detector.push(luma, stride, w, h, t) {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(camera = %self.s.camera, "motion: frame not analysed: {e}");
                return;
            }
        };
        if let (Some(objects), Some(region)) = (&self.s.objects, out.region) {
            objects.offer(t, &picture, Some([region.x, region.y, region.w, region.h]));
        }
        let wanted = out.best && t.saturating_sub(self.last_jpeg_t) >= JPEG_EVERY;
        let jpeg = wanted.then(|| picture.to_rgb().and_then(|rgb| kw_codec::jpeg::encode(&rgb)).ok());
        self.analysed(t, out, jpeg.flatten());
    }

    /// Reads a source's luma side channel until it goes away or the camera stops (see
    /// [`super::spawn_luma`]).
    pub(super) fn run_luma(&mut self, rx: std::sync::mpsc::Receiver<LumaEvent>) {
        self.signal.set_unavailable(None);
        // Wakes now and then to notice a stopping camera even while no pictures come.
        loop {
            if self.control.stopping.load(Ordering::Relaxed) {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(LumaEvent::Frame(f)) => self.luma(f),
                Ok(LumaEvent::Stopped) => self.end_event(self.last_t),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        self.end_event(self.last_t);
        tracing::info!(camera = %self.s.camera, "motion detection stopped: analysed {} pictures from the source",
            self.control.analysed.load(Ordering::Relaxed));
    }

    /// A picture the source decoded itself.
    fn luma(&mut self, f: LumaFrame) {
        self.seen += 1;
        self.control.decoded.fetch_add(1, Ordering::SeqCst);
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
        self.control.analysed.fetch_add(1, Ordering::Relaxed);
        if let Some(jpeg) = jpeg {
            self.best_jpeg = Some(jpeg);
            self.last_jpeg_t = t;
        }
        if out.phase != Phase::Idle {
            self.quiet_since = t;
        }
        if out.region.is_some() || out.phase == Phase::Pending {
            // Something moves in this frame (or may be starting to): recording follows it plus post-roll.
            self.signal.record_until_at_least(t.saturating_add(micros(self.s.post_roll)));
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
                let new = NewEvent {
                    camera: &cam,
                    kind: EventKind::Motion,
                    start: info.start,
                    score: f64::from(info.score),
                    region: Some(info.best_region.to_array()),
                    jpeg: jpeg.as_deref(),
                };
                match self.sink.start(&new) {
                    Ok(open) => {
                        tracing::info!(camera = %cam, event = open.id, "motion started");
                        if let Some(objects) = &self.s.objects {
                            objects.event_started(&open, info.start);
                        }
                        self.event = Some(open);
                    }
                    Err(e) => tracing::error!(camera = %cam, "cannot store a motion event: {e}"),
                }
            }
            MotionEvent::Updated { info, .. } => {
                let Some(open) = &self.event else { return };
                let jpeg = self.best_jpeg.take();
                let region = Some(info.best_region.to_array());
                if let Err(e) = self.sink.improve(open, f64::from(info.score), region, jpeg.as_deref()) {
                    tracing::error!(camera = %cam, "cannot update motion event {}: {e}", open.id);
                }
            }
            MotionEvent::Ended { end, info, .. } => {
                let Some(open) = self.event.take() else { return };
                let jpeg = self.best_jpeg.take();
                let region = Some(info.best_region.to_array());
                // The last improvement is not announced separately: the end announces the event.
                let _ = self.sink.store().improve(open.id, f64::from(info.score), region, jpeg.as_deref());
                if let Some(objects) = &self.s.objects {
                    objects.event_ended(&open);
                }
                if let Err(e) = self.sink.finish(&open, end) {
                    tracing::error!(camera = %cam, "cannot end motion event {}: {e}", open.id);
                }
                tracing::info!(camera = %cam, event = open.id, "motion ended");
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
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
