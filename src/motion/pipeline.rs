//! The decode scheduling and event logic of one camera's motion pipeline (see the module above for why it
//! decodes so little): which frames to decode, what to do with the detector's verdict, and the events it
//! starts, improves and finishes through the [`EventSink`].
//!
//! Decoding follows the stream's decode order and takes pictures in presentation order, as the decoder
//! hands them out (B-frames: `kw_codec::H264Decoder`); each picture carries its frame's pts as its tag, so
//! its time is exact whatever the reordering. A run of decoding ends with a drain, never mid-GOP.
//!
//! Onset (issue 14): an object that appears just after a key frame is first seen at the next key frame, a
//! GOP later. So the frames of the GOP before are kept, and when a key frame shows something, the detector
//! is put back to where it was before that key frame and gets the previous GOP's frames first: the event's
//! `start` is the first frame that shows the change, not the key frame that revealed it. A jump in frame
//! sizes (something moving makes P-frames grow) starts decoding from the current GOP's key frame at once.
//!
//! Cost (issue 14): every frame is decoded only while something moves or may be starting (a region, a
//! pending event, the detector settling), and for [`QUIET_AFTER`] after; an event whose motion paused
//! (its merge gap) is watched on key frames, which is enough to see motion resume or to end it. The event
//! picture is kept as a raw picture and turned into a JPEG only when an event is stored.

use super::{Control, Settings};
use crate::events::{EventKind, EventSink, NewEvent, OpenEvent};
use crate::hub::MediaEvent;
use crate::ingest::{LumaEvent, LumaFrame};
use crate::motion_signal::MotionSignal;
use kw_codec::{CodecError, H264Decoder, Picture, Rgb, I420};
use kw_media::{Codec, Frame, RunInfo, StreamKind, WallMicros};
use kw_motion::{Detector, Event as MotionEvent, FrameStatus, Phase};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Analysis resolution (the detector box-filters any frame to it).
const ANALYSIS: (u32, u32) = (320, 180);
/// A frame this many times larger than the median of recent non-key frames may show motion.
const SIZE_TRIGGER: f64 = 2.0;
/// How long every frame is still decoded after the last frame that showed anything.
const QUIET_AFTER: Duration = Duration::from_secs(1);
/// At most one best-frame picture kept per this interval.
const PICTURE_EVERY: i64 = 500_000;
/// The most frames buffered since the last key frame (a very long GOP is cut).
const MAX_GOP: usize = 600;
/// Decode failures are judged over windows of at least this much stream time.
const HEALTH_WINDOW: i64 = 10_000_000;
/// More than this share of frames failing in a window makes motion detection `degraded`.
const DEGRADED_SHARE: f64 = 0.05;

/// The event picture: the camera's own JPEG (luma side channel) or a decoded picture, encoded only when
/// an event is stored.
enum Best {
    Jpeg(Vec<u8>),
    Raw(I420),
}

impl Best {
    fn jpeg(self) -> Option<Vec<u8>> {
        match self {
            Best::Jpeg(j) => Some(j),
            Best::Raw(p) => Rgb::from_i420(&p).and_then(|rgb| kw_codec::jpeg::encode(&rgb)).ok(),
        }
    }
}

/// Frames decoded and not decodable in the current window, and the first error seen in it.
#[derive(Default)]
struct Health {
    since: Option<WallMicros>,
    ok: u32,
    failed: u32,
    first_error: Option<String>,
}

/// Where the pipeline's CPU time goes (logged when it stops; bench/motion reads it).
#[derive(Default)]
struct Costs {
    decode: Duration,
    detect: Duration,
    picture: Duration,
}

pub(super) struct Pipeline {
    s: Settings,
    sink: EventSink,
    signal: Arc<MotionSignal>,
    control: Arc<Control>,
    detector: Detector,
    run: Option<Arc<RunInfo>>,
    decoder: Option<H264Decoder>,
    /// Video frames since the last key frame (the key frame first), in decode order.
    gop: Vec<Arc<Frame>>,
    /// The GOP before, when it was not decoded in full (to date an onset back to it).
    prev_gop: Vec<Arc<Frame>>,
    /// Frames of `gop` fed to the decoder in full mode.
    fed: usize,
    full: bool,
    /// Stream time of the last frame that showed anything (region, pending event, settling).
    busy_t: WallMicros,
    sizes: Vec<u32>,
    last_t: WallMicros,
    event: Option<OpenEvent>,
    last_picture_t: WallMicros,
    best: Option<Best>,
    /// Video frames received, and switches from key frames only to every frame (for the log and benches).
    seen: u64,
    switches: u64,
    /// Consecutive large non-key frames.
    large_run: u32,
    /// Every frame of this GOP was decoded up to a calm stretch: its sizes are no news (an encoder's rate
    /// control swells and shrinks P-frames within a GOP); the next key frame decides again.
    calm_in_gop: bool,
    health: Health,
    costs: Costs,
}

/// What a decoded picture is analysed with, borrowed from the [`Pipeline`] beside its decoder (pictures
/// come out of the decoder while it is borrowed, so these cannot be reached through `self` then).
struct Analysis<'a> {
    objects: Option<&'a crate::objects::Hook>,
    detector: &'a mut Detector,
    costs: &'a mut Costs,
    control: &'a Control,
    last_t: WallMicros,
    last_picture_t: WallMicros,
}

impl Analysis<'_> {
    /// Runs the detector on a decoded picture at `t` (skipped when not after the last analysed one);
    /// answers its verdict and, when it is the best picture so far, a copy of it.
    fn picture(&mut self, t: WallMicros, p: &Picture<'_>) -> Option<(kw_motion::Output, Option<I420>)> {
        let Analysis { objects, detector, costs, control, last_t, last_picture_t } = self;
        let (last_t, last_picture_t) = (*last_t, *last_picture_t);
        control.decoded.fetch_add(1, Ordering::SeqCst);
        if t <= last_t {
            return None; // decoded again as a reference, or a repeated time: analysed already
        }
        let (w, h) = p.dimensions();
        let (luma, stride) = p.luma();
        let at = Instant::now();
        let out = detector.push(luma, stride, w, h, t);
        costs.detect += at.elapsed();
        let mut out = out.map_err(|e| tracing::debug!("motion: frame not analysed: {e}")).ok()?;
        if let Some(objects) = objects {
            // An object recognised in pending motion starts the event now (the alert with it), not after
            // `min_duration`; a sighting with nothing pending is dropped.
            if objects.take_sighting() {
                if let Some(started) = detector.confirm_pending(t) {
                    out.events.push(started);
                    out.phase = detector.phase();
                }
            }
            if let Some(region) = out.region {
                objects.offer(t, p, Some([region.x, region.y, region.w, region.h]));
            }
        }
        let at = Instant::now();
        let raw = (out.best && t.saturating_sub(last_picture_t) >= PICTURE_EVERY).then(|| p.to_i420());
        costs.picture += at.elapsed();
        Some((out, raw))
    }
}

impl Pipeline {
    /// The decoder and, beside it, what analyses its pictures.
    fn split(&mut self) -> (Option<&mut H264Decoder>, Analysis<'_>) {
        let an = Analysis {
            objects: self.s.objects.as_ref(),
            detector: &mut self.detector,
            costs: &mut self.costs,
            control: &self.control,
            last_t: self.last_t,
            last_picture_t: self.last_picture_t,
        };
        (self.decoder.as_mut(), an)
    }

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
            prev_gop: Vec::new(),
            fed: 0,
            full: false,
            busy_t: i64::MIN,
            sizes: Vec::new(),
            last_t: i64::MIN,
            event: None,
            last_picture_t: i64::MIN,
            best: None,
            seen: 0,
            switches: 0,
            large_run: 0,
            calm_in_gop: false,
            health: Health::default(),
            costs: Costs::default(),
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
                MediaEvent::Gap => self.forget_gops(),
                MediaEvent::Stopped => self.end_event(self.last_t),
            }
            self.control.handled.fetch_add(1, Ordering::SeqCst);
        }
        self.end_event(self.last_t);
        tracing::info!(
            camera = %self.s.camera,
            "motion detection stopped: decoded {} of {} video frames ({} switches to every frame); CPU: \
             decoding {} ms, detector {} ms, event pictures {} ms",
            self.control.decoded.load(Ordering::Relaxed),
            self.seen,
            self.switches,
            self.costs.decode.as_millis(),
            self.costs.detect.as_millis(),
            self.costs.picture.as_millis(),
        );
    }

    /// Frames were lost or the stream ended: what the decoder holds is shown, the buffered GOPs cannot be
    /// decoded any more.
    fn forget_gops(&mut self) {
        self.finish_decoding();
        self.gop.clear();
        self.prev_gop.clear();
        self.fed = 0;
    }

    fn new_run(&mut self, run: Arc<RunInfo>) {
        self.forget_gops();
        self.decoder = None;
        self.full = false;
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
        if f.key {
            self.judge_health(run.video_wall(f.pts));
            if self.full {
                self.prev_gop.clear();
            } else {
                self.prev_gop = std::mem::take(&mut self.gop);
            }
            self.gop.clear();
            self.fed = 0;
            self.calm_in_gop = false;
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
        if !f.key {
            self.sizes.push(size);
            if self.sizes.len() > 64 {
                self.sizes.remove(0);
            }
        }
        // Two large frames in a row: something moves (a single spike is the encoder's rate control).
        if !self.full && !self.s.keyframes_only && !self.calm_in_gop && self.large_run >= 2 {
            tracing::debug!(camera = %self.s.camera, size, "motion: a large frame; decoding every frame");
            self.start_full(run.video_wall(f.pts));
        }
        if self.full {
            self.feed(&run);
        } else if f.key {
            self.key_frame(&run, &f);
        }
    }

    /// Decodes every frame from the GOP's key frame on, at least until [`QUIET_AFTER`] after `t`, the frame
    /// that raised the suspicion (the frames before it, decoded first, are older and may be calm).
    fn start_full(&mut self, t: WallMicros) {
        self.busy_t = self.busy_t.max(t);
        self.full = true;
        self.switches += 1;
        // The decoder was drained after the last key frame: it starts again from the GOP's key frame.
        self.fed = 0;
    }

    /// Full mode: feeds what is buffered and not yet fed, analysing every picture that comes out.
    fn feed(&mut self, run: &RunInfo) {
        while self.full && self.fed < self.gop.len() {
            let f = self.gop[self.fed].clone();
            self.fed += 1;
            self.decode(run, &f);
        }
    }

    /// Key frames only: decodes the key frame on its own. When it shows something, the detector goes back
    /// to where it was before it and every frame since the previous key frame is decoded (onset dated
    /// back), then every frame that follows.
    fn key_frame(&mut self, run: &RunInfo, f: &Frame) {
        let t = run.video_wall(f.pts);
        let before = (!self.s.keyframes_only).then(|| self.detector.clone());
        let started = Instant::now();
        let analysis_before = self.costs.detect + self.costs.picture;
        let (Some(decoder), mut an) = self.split() else { return };
        let mut out = None;
        // The key frame's picture comes out of the push (no reordering: Baseline) or of the drain (held back
        // for reordering in the other profiles).
        let mut result = match decoder.push(&f.data, true, f.pts) {
            Ok(Some(p)) if p.tag() == f.pts => {
                out = an.picture(t, &p);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if result.is_ok() {
            loop {
                match decoder.drain() {
                    Ok(Some(p)) if p.tag() == f.pts => {
                        out = an.picture(t, &p);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        let analysis = (self.costs.detect + self.costs.picture).saturating_sub(analysis_before);
        self.costs.decode += started.elapsed().saturating_sub(analysis);
        if let Err(e) = result {
            self.count(t, Some(e));
            return;
        }
        self.count(t, None);
        let Some((out, raw)) = out else { return };
        let wants_more = !self.s.keyframes_only && !calm(&out);
        if let (true, Some(before), true) = (wants_more, before, out.events.is_empty()) {
            if !self.prev_gop.is_empty() {
                tracing::debug!(camera = %self.s.camera, "motion: a key frame shows something; decoding the GOP before it");
                self.detector = before;
                let mut frames = std::mem::take(&mut self.prev_gop);
                frames.append(&mut self.gop);
                self.gop = frames;
                self.start_full(t);
                self.feed(run);
                return;
            }
        }
        self.analysed(t, out, raw.map(Best::Raw));
        if wants_more && !self.full {
            tracing::debug!(camera = %self.s.camera, "motion: the detector looks closer; decoding every frame");
            self.start_full(t);
            self.feed(run);
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

    /// Feeds one frame to the decoder (full mode) and analyses the picture that comes out, if any.
    fn decode(&mut self, run: &RunInfo, f: &Frame) {
        let t = run.video_wall(f.pts);
        let (Some(decoder), mut an) = self.split() else { return };
        let started = Instant::now();
        let result = decoder.push(&f.data, f.key, f.pts);
        an.costs.decode += started.elapsed();
        let got = match result {
            Ok(Some(p)) => {
                let pt = run.video_wall(p.tag());
                let seen = an.picture(pt, &p);
                seen.map(|(out, raw)| (pt, out, raw))
            }
            Ok(None) => None,
            Err(e) => {
                self.count(t, Some(e));
                return;
            }
        };
        self.count(t, None);
        if let Some((pt, out, raw)) = got {
            self.after_picture(pt, out, raw);
        }
    }

    /// Ends a run of decoding: the pictures the decoder still holds are analysed.
    fn finish_decoding(&mut self) {
        let Some(run) = self.run.clone() else { return };
        loop {
            let (Some(decoder), mut an) = self.split() else { return };
            let started = Instant::now();
            let next = decoder.drain();
            an.costs.decode += started.elapsed();
            let got = match next {
                Ok(Some(p)) => {
                    let pt = run.video_wall(p.tag());
                    an.picture(pt, &p).map(|(out, raw)| (pt, out, raw))
                }
                Ok(None) => return,
                Err(e) => {
                    self.count(self.last_t, Some(e));
                    return;
                }
            };
            if let Some((pt, out, raw)) = got {
                self.after_picture(pt, out, raw);
            }
        }
    }

    /// The detector's verdict on a decoded picture: events, and whether to go on decoding every frame.
    fn after_picture(&mut self, t: WallMicros, out: kw_motion::Output, raw: Option<I420>) {
        self.analysed(t, out, raw.map(Best::Raw));
        // Nothing seen for a while: back to key frames (and sizes) until something shows again.
        if self.full && t.saturating_sub(self.busy_t) > micros(QUIET_AFTER) {
            tracing::debug!(camera = %self.s.camera, "motion: quiet again; key frames only");
            self.full = false;
            self.calm_in_gop = true;
            self.finish_decoding();
        }
    }

    /// Counts a decoded (`None`) or undecodable frame at stream time `t` toward `/metrics` and the window
    /// that decides whether motion detection is degraded.
    fn count(&mut self, t: WallMicros, error: Option<CodecError>) {
        self.signal.count_decoded(error.is_none());
        let h = &mut self.health;
        h.since.get_or_insert(t);
        match error {
            None => h.ok += 1,
            Some(e) => {
                tracing::debug!(camera = %self.s.camera, "motion: undecodable frame: {e}");
                h.failed += 1;
                h.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }

    /// At a key frame: once a window of [`HEALTH_WINDOW`] is over, says whether motion detection is
    /// degraded (more than [`DEGRADED_SHARE`] of its frames undecodable) and starts a new window.
    fn judge_health(&mut self, t: WallMicros) {
        let h = &mut self.health;
        let Some(since) = h.since else { return };
        if t.saturating_sub(since) < HEALTH_WINDOW {
            return;
        }
        let total = h.ok + h.failed;
        let degraded = total > 0 && f64::from(h.failed) > DEGRADED_SHARE * f64::from(total);
        let why = degraded.then(|| {
            format!(
                "{} of {} frames could not be decoded in the last {} s: {}",
                h.failed,
                total,
                (t - since) / 1_000_000,
                h.first_error.as_deref().unwrap_or("unknown error")
            )
        });
        if degraded != self.signal.degraded().is_some() {
            match &why {
                Some(w) => tracing::warn!(camera = %self.s.camera, "motion detection degraded: {w}"),
                None => tracing::info!(camera = %self.s.camera, "motion detection decodes its frames again"),
            }
        }
        self.signal.set_degraded(why);
        *h = Health { since: Some(t), ..Health::default() };
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
        let wanted = out.best && t.saturating_sub(self.last_picture_t) >= PICTURE_EVERY;
        let jpeg = if wanted { f.jpeg.map(|j| Best::Jpeg(j.to_vec())) } else { None };
        self.analysed(t, out, jpeg);
    }

    /// What follows the detector's verdict on a picture at `t`: the event picture (the caller keeps one only
    /// for the best picture, at most every [`PICTURE_EVERY`]), the record gate, the events.
    fn analysed(&mut self, t: WallMicros, out: kw_motion::Output, picture: Option<Best>) {
        self.last_t = t;
        self.control.analysed.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = picture {
            self.best = Some(p);
            self.last_picture_t = t;
        }
        if !calm(&out) {
            self.busy_t = t;
        }
        if out.region.is_some() || out.phase == Phase::Pending {
            // Something moves in this frame (or may be starting to): recording follows it plus post-roll.
            self.signal.record_until_at_least(t.saturating_add(micros(self.s.post_roll)));
        }
        for ev in out.events {
            self.handle(ev);
        }
    }

    /// The kept event picture as JPEG (encoded now, once per stored event change).
    fn take_jpeg(best: &mut Option<Best>, costs: &mut Costs) -> Option<Vec<u8>> {
        let at = Instant::now();
        let jpeg = best.take().and_then(Best::jpeg);
        costs.picture += at.elapsed();
        jpeg
    }

    fn handle(&mut self, ev: MotionEvent) {
        let cam = self.s.camera.clone();
        match ev {
            MotionEvent::Started { info, .. } => {
                let jpeg = Self::take_jpeg(&mut self.best, &mut self.costs);
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
                let jpeg = Self::take_jpeg(&mut self.best, &mut self.costs);
                let region = Some(info.best_region.to_array());
                if let Err(e) = self.sink.improve(open, f64::from(info.score), region, jpeg.as_deref()) {
                    tracing::error!(camera = %cam, "cannot update motion event {}: {e}", open.id);
                }
            }
            MotionEvent::Ended { end, info, .. } => {
                let Some(open) = self.event.take() else { return };
                let jpeg = Self::take_jpeg(&mut self.best, &mut self.costs);
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

    /// The stream stopped: the pictures the decoder holds are analysed, then an event in progress ends
    /// with the last frame.
    fn end_event(&mut self, _t: WallMicros) {
        self.forget_gops();
        if let Some(ev) = self.detector.finish() {
            self.handle(ev);
        }
    }
}

/// Whether a frame showed nothing that needs every frame decoded: no moving region, no event waiting for
/// confirmation, the background not being learnt.
fn calm(out: &kw_motion::Output) -> bool {
    out.region.is_none()
        && out.phase != Phase::Pending
        && matches!(out.status, FrameStatus::Quiet | FrameStatus::Analysed)
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
