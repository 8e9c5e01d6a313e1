//! The per-frame pipeline that ties the pieces together; see the crate docs for the steps.
//!
//! All buffers are allocated when the detector is built (or on the first frames) and reused, so a warm
//! detector does no allocation per frame except the `events` vector on the rare frames that carry an event.

use crate::config::{micros, DetectorConfig, Tuning};
use crate::episodes::{Event, Observation, Phase, Timing, Tracker};
use crate::global::{self, Fit};
use crate::regions::Blob;
use crate::scale::{blur3, check_plane, downscale_into};
use crate::tracks::Tracks;
use crate::{morph, regions, zones, FrameError, Micros, Region};

/// Smallest and largest analysis side the detector accepts ([`Detector::new`] clamps to these).
const MIN_SIDE: usize = 8;
const MAX_ANALYSIS_SIDE: usize = 2048;
/// More regions than this in one frame, typically smaller than this fraction of the frame, is clutter; see
/// `analyse`.
const CLUTTER_REGIONS: usize = 8;
const CLUTTER_AREA: f32 = 0.001;
/// How often the reference frames for "is it still moving" are taken, µs.
const REF_INTERVAL: Micros = 500_000;

/// What one frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStatus {
    /// The first frame of a timeline, or within `settle_time` after it or after a global change: the
    /// background is being learnt, no motion is reported.
    Settling,
    /// A global change (lights, IR switch, exposure): the background was reset to this frame.
    Recalibrated,
    /// The sparse sample showed no change: per-pixel analysis skipped.
    Quiet,
    /// Fully analysed.
    Analysed,
}

/// The result of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// How much of the watched area moves, 0..1: `1 − exp(−moving_fraction / 0.05)`, so a region covering
    /// 1 % of the watched area scores 0.18, 5 % scores 0.63, 15 % scores 0.95. Zero without motion. Counts
    /// the regions of tracks seen in several frames (or, when there are none yet, the new ones).
    pub score: f32,
    /// Bounding box of the moving regions in this frame (0..1), `None` without motion.
    pub region: Option<Region>,
    /// This frame is the best so far (highest score) of the motion in progress (pending or running event):
    /// keep its picture, replacing the previous one; the event's snapshot is the one kept last.
    pub best: bool,
    /// Events this frame produced, in order (usually none; `Ended` then `Started` can share a frame).
    pub events: Vec<Event>,
    /// The event state after this frame.
    pub phase: Phase,
    /// What the detector did with the frame.
    pub status: FrameStatus,
}

/// A motion detector for one camera. See the crate docs.
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectorConfig,
    tuning: Tuning,
    w: usize,
    h: usize,
    /// 1 where motion counts.
    mask: Vec<u8>,
    watched_px: usize,
    min_area_px: usize,
    /// Pixel index and watched flag of each grid sample.
    sample_idx: Vec<u32>,
    sample_watched: Vec<bool>,
    // Per-frame buffers.
    scaled: Vec<u8>,
    tmp16: Vec<u16>,
    /// 3×3 sums (nine times the blurred value).
    blur: Vec<u16>,
    /// Background, luma levels.
    bg: Vec<f32>,
    fg: Vec<u8>,
    /// Two earlier blurred frames, taken half a second apart (`ref_new` at `ref_t`): comparing with
    /// `ref_old` (0.5..1 s old) tells what is moving now from what changed but stands still.
    ref_old: Vec<u16>,
    ref_new: Vec<u16>,
    ref_t: Micros,
    tmp8: Vec<u8>,
    stack: Vec<u32>,
    blobs: Vec<Blob>,
    areas: Vec<usize>,
    s_cur: Vec<f32>,
    s_bg: Vec<f32>,
    fit_scratch: (Vec<f32>, Vec<f32>),
    /// This frame's regions in frame coordinates, with their areas in pixels.
    found: Vec<(Region, usize)>,
    // State.
    tracks: Tracks,
    tracker: Tracker,
    started: bool,
    last_t: Option<Micros>,
    /// Time the background last learnt from a frame.
    bg_t: Micros,
    settle_until: Micros,
    /// Smoothed noise of the difference image (luma levels); negative until measured.
    noise: f32,
    last_status: FrameStatus,
}

impl Detector {
    /// A detector analysing at `width`×`height` (clamped to 8..=2048; 160×90..320×180 is plenty). Frames of
    /// any size are box-filtered to it.
    pub fn new(cfg: DetectorConfig, width: u32, height: u32) -> Detector {
        let clamp = |v: u32| (v as usize).clamp(MIN_SIDE, MAX_ANALYSIS_SIDE);
        let (w, h) = (clamp(width), clamp(height));
        let n = w * h;
        let mut d = Detector {
            tuning: Tuning::from_config(&cfg),
            tracker: Tracker::new(timing(&cfg)),
            cfg,
            w,
            h,
            mask: Vec::new(),
            watched_px: 0,
            min_area_px: 1,
            sample_idx: Vec::new(),
            sample_watched: Vec::new(),
            scaled: Vec::with_capacity(n),
            tmp16: Vec::with_capacity(n),
            blur: Vec::with_capacity(n),
            bg: vec![0.0; n],
            fg: vec![0; n],
            ref_old: Vec::with_capacity(n),
            ref_new: Vec::with_capacity(n),
            ref_t: 0,
            tmp8: Vec::with_capacity(n),
            stack: Vec::new(),
            blobs: Vec::new(),
            areas: Vec::new(),
            s_cur: Vec::new(),
            s_bg: Vec::new(),
            fit_scratch: Default::default(),
            found: Vec::new(),
            tracks: Tracks::default(),
            started: false,
            last_t: None,
            bg_t: 0,
            settle_until: 0,
            noise: -1.0,
            last_status: FrameStatus::Settling,
        };
        d.apply_config();
        d
    }

    /// Replaces the settings (live config reload) keeping the learnt background and any event in progress.
    pub fn set_config(&mut self, cfg: DetectorConfig) {
        self.tuning = Tuning::from_config(&cfg);
        self.tracker.timing = timing(&cfg);
        self.cfg = cfg;
        self.apply_config();
    }

    /// Rebuilds what depends on the settings: zone mask, minimum area in pixels, sample grid.
    fn apply_config(&mut self) {
        let (w, h) = (self.w, self.h);
        self.mask = zones::rasterise(&self.cfg.zones, w, h);
        self.watched_px = self.mask.iter().filter(|&&m| m == 1).count();
        self.min_area_px = ((self.tuning.min_area * (w * h) as f32).round() as usize).max(4);
        // Spacing so that a region of the minimum area holds six samples or more, 1..=8 pixels.
        let step = ((self.min_area_px as f32).sqrt() / 2.5).floor().clamp(1.0, 8.0) as usize;
        self.sample_idx.clear();
        self.sample_watched.clear();
        for y in (step / 2..h).step_by(step) {
            for x in (step / 2..w).step_by(step) {
                let i = y * w + x;
                self.sample_idx.push(i as u32);
                self.sample_watched.push(self.mask[i] == 1);
            }
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// The numbers `sensitivity` mapped to.
    pub fn tuning(&self) -> Tuning {
        self.tuning
    }

    /// Analysis resolution.
    pub fn size(&self) -> (u32, u32) {
        (self.w as u32, self.h as u32)
    }

    /// Event state.
    pub fn phase(&self) -> Phase {
        self.tracker.phase()
    }

    /// Whether the caller should decode and push every frame now rather than key frames only: an event is
    /// pending or running, the last frame showed some change, or the detector is settling.
    pub fn needs_full_rate(&self) -> bool {
        self.tracker.phase() != Phase::Idle || self.last_status != FrameStatus::Quiet
    }

    /// Ends an event in progress (stream over, camera gone): `Ended` at the last frame's time. The
    /// background is kept; a following frame continues the same timeline.
    pub fn finish(&mut self) -> Option<Event> {
        self.tracks.clear();
        self.tracker.finish(self.last_t.unwrap_or(0))
    }

    /// [`Detector::finish`], then forget the background: the next frame starts a new timeline (new run).
    pub fn reset(&mut self) -> Option<Event> {
        let ev = self.finish();
        self.tracker = Tracker::new(self.tracker.timing);
        self.started = false;
        self.last_t = None;
        self.noise = -1.0;
        self.last_status = FrameStatus::Settling;
        ev
    }

    /// Confirms a pending motion episode at `t` because something in it was recognised (see
    /// `episodes::Tracker::confirm`); `None` when nothing is pending.
    pub fn confirm_pending(&mut self, t: Micros) -> Option<Event> {
        self.tracker.confirm(t)
    }

    /// Analyses one frame: the luma plane `luma` (`width`×`height`, rows `stride` bytes apart) at time `t`
    /// (µs). A time before the previous frame's starts a new timeline (any event ends first); the same time
    /// again, or a malformed plane, is an error and leaves the detector as it was.
    pub fn push(
        &mut self,
        luma: &[u8],
        stride: usize,
        width: usize,
        height: usize,
        t: Micros,
    ) -> Result<Output, FrameError> {
        check_plane(luma, stride, width, height)?;
        let mut events = Vec::new();
        match self.last_t {
            Some(last) if t == last => return Err(FrameError::RepeatedTime { t }),
            Some(last) if t < last => events.extend(self.reset()),
            _ => {}
        }
        downscale_into(luma, stride, width, height, self.w, self.h, &mut self.scaled)?;
        blur3(&self.scaled, self.w, self.h, &mut self.tmp16, &mut self.blur);
        self.last_t = Some(t);

        self.found.clear();
        let status = self.analyse(t);
        if t - self.ref_t >= REF_INTERVAL {
            std::mem::swap(&mut self.ref_old, &mut self.ref_new);
            self.ref_new.clone_from(&self.blur);
            self.ref_t = t;
        }
        self.last_status = status;
        let timing = self.tracker.timing;
        let summary = self.tracks.update(t, &self.found, timing.min_duration, timing.confirm_gap);
        let (score, region, obs) = match summary {
            Some(s) => {
                let fraction = s.area as f32 / self.watched_px.max(1) as f32;
                let score = 1.0 - (-fraction / 0.05).exp();
                (score, Some(s.region), Observation::Moving { score, region: s.region, level: s.level, since: s.since })
            }
            None => (0.0, None, Observation::Quiet),
        };
        let step = self.tracker.step(t, obs);
        events.extend(step.events);
        Ok(Output { score, region, best: step.best, events, phase: self.tracker.phase(), status })
    }

    /// Steps 2–4 of the pipeline on `self.blur`; the regions found go to `self.found`.
    fn analyse(&mut self, t: Micros) -> FrameStatus {
        if !self.started {
            self.recalibrate(t);
            self.started = true;
            return FrameStatus::Settling;
        }
        let dt = (t - self.bg_t).max(0) as f32 / 1e6;

        // Step 2: the sparse look.
        self.s_cur.clear();
        self.s_bg.clear();
        let (blur, bg) = (&self.blur, &self.bg);
        self.s_cur.extend(self.sample_idx.iter().map(|&i| f32::from(blur.get(i as usize).copied().unwrap_or(0)) / 9.0));
        self.s_bg.extend(self.sample_idx.iter().map(|&i| bg.get(i as usize).copied().unwrap_or(0.0)));
        let fit = global::fit(&self.s_cur, &self.s_bg, &mut self.fit_scratch);
        let noise = if self.noise < 0.0 { fit.sigma } else { self.noise };
        let thr = self.tuning.min_threshold.max(self.tuning.noise_factor * noise);
        let k = global::count(&self.s_cur, &self.s_bg, &self.sample_watched, &fit, thr, 0.75 * thr);
        let frac = |n: usize| if k.watched == 0 { 0.0 } else { n as f32 / k.watched as f32 };
        let g = self.tuning.global_fraction;
        if frac(k.raw) > g || frac(k.fitted) > g || fit.shift().abs() > self.tuning.global_shift {
            self.recalibrate(t);
            return FrameStatus::Recalibrated;
        }
        self.noise = if self.noise < 0.0 { fit.sigma } else { self.noise + (fit.sigma - self.noise) * 0.05 };

        if t < self.settle_until {
            // Learn fast: a quarter of the settle time as time constant.
            let tau = (self.cfg.settle_time.as_secs_f32() / 4.0).max(0.01);
            let a = alpha(dt, tau);
            self.learn(a, a, &fit, f32::INFINITY);
            self.bg_t = t;
            return FrameStatus::Settling;
        }

        let tau = self.cfg.background_time.as_secs_f32().max(0.01);
        if self.tracker.phase() == Phase::Idle && k.early <= 1 {
            // Early exit. The background still learns, but only once a second.
            if dt >= 1.0 {
                let a = alpha(dt, tau);
                self.learn(a, a, &fit, f32::INFINITY);
                self.bg_t = t;
            }
            return FrameStatus::Quiet;
        }

        // Step 3: per pixel.
        let rows = self.learn(alpha(dt, tau), alpha(dt, 8.0 * tau), &fit, thr);
        self.bg_t = t;
        let Some(rows) = rows else {
            return FrameStatus::Analysed;
        };

        // Step 4: clean-up and regions.
        morph::open_close(&mut self.fg, self.w, self.h, rows, &mut self.tmp8);
        self.blobs.clear();
        let moving = regions::Moving { now: &self.blur, before: &self.ref_old, threshold: (9.0 * thr) as u16 };
        let (mask, stack, blobs) = (&mut self.fg, &mut self.stack, &mut self.blobs);
        regions::find(mask, self.w, self.h, rows, self.min_area_px, &moving, stack, blobs);
        // Regions that changed but do not move (a parked car, a ghost, what a lamp left) are not motion.
        self.blobs.retain(|b| b.moving >= (b.area / 20).max(3));
        // Many tiny regions at once is clutter (rain, snow, leaves all over): then only regions clearly
        // larger than the typical one count. (Many regions of some size, a crowd, are left alone.)
        if self.blobs.len() > CLUTTER_REGIONS {
            self.areas.clear();
            self.areas.extend(self.blobs.iter().map(|b| b.area));
            let mid = self.areas.len() / 2;
            let typical = *self.areas.select_nth_unstable(mid).1;
            if (typical as f32) < CLUTTER_AREA * (self.w * self.h) as f32 {
                self.blobs.retain(|b| b.area >= 4 * typical);
            }
        }
        let (w, h) = (self.w as f32, self.h as f32);
        self.found.extend(self.blobs.iter().map(|b| {
            let r = Region {
                x: b.x0 as f32 / w,
                y: b.y0 as f32 / h,
                w: (b.x1 - b.x0) as f32 / w,
                h: (b.y1 - b.y0) as f32 / h,
            };
            (r, b.area)
        }));
        FrameStatus::Analysed
    }

    /// The background becomes the current frame; settle from `t`.
    fn recalibrate(&mut self, t: Micros) {
        self.bg.clear();
        self.bg.extend(self.blur.iter().map(|&s| f32::from(s) / 9.0));
        self.bg_t = t;
        self.settle_until = t.saturating_add(micros(self.cfg.settle_time));
        self.ref_old.clone_from(&self.blur);
        self.ref_new.clone_from(&self.blur);
        self.ref_t = t;
        // Measure the noise afresh: night mode after an IR switch is noisier than the day was.
        self.noise = -1.0;
    }

    /// The fused per-pixel pass: classify against the fitted background with threshold `thr` into `self.fg`
    /// (masked by the zones), and learn with rate `a_bg` (or `a_fg` where the pixel changed). Returns the
    /// band of rows holding changed watched pixels, `None` when they cannot add up to `min_area`.
    fn learn(&mut self, a_bg: f32, a_fg: f32, fit: &Fit, thr: f32) -> Option<(usize, usize)> {
        let w = self.w;
        let (gain, offset) = (fit.gain, fit.offset);
        let (mut lo, mut hi, mut total) = (usize::MAX, 0, 0usize);
        let rows = self.blur.chunks_exact(w).zip(self.bg.chunks_exact_mut(w));
        let rows = rows.zip(self.fg.chunks_exact_mut(w)).zip(self.mask.chunks_exact(w));
        let rows = rows.zip(self.ref_old.chunks_exact(w));
        for (y, ((((blur, bg), fg), mask), old)) in rows.enumerate() {
            let mut n = 0u32;
            let px = blur.iter().zip(bg.iter_mut()).zip(fg.iter_mut()).zip(mask).zip(old);
            for ((((&s, b), f), &m), &o) in px {
                let c = f32::from(s) * (1.0 / 9.0);
                let changed = global::changed(c, *b, gain * *b + offset, thr);
                *f = u8::from(changed) & m;
                n += u32::from(*f);
                // A changed pixel that is still changing (differs from half a second ago) is probably an
                // object passing: learn it slowly. One that changed but stands still is something that
                // stopped, or the ghost of something that left: learn it at the normal rate.
                let moving = (c - f32::from(o) * (1.0 / 9.0)).abs() > thr;
                *b += (c - *b) * if changed & moving { a_fg } else { a_bg };
            }
            if n > 0 {
                lo = lo.min(y);
                hi = y + 1;
                total += n as usize;
            }
        }
        (total >= self.min_area_px / 2).then_some((lo, hi))
    }
}

/// The tracker's timings from the settings.
fn timing(cfg: &DetectorConfig) -> Timing {
    Timing {
        min_duration: micros(cfg.min_duration),
        confirm_gap: micros(cfg.confirm_gap),
        merge_gap: micros(cfg.merge_gap),
        update_interval: micros(cfg.update_interval),
    }
}

/// Running-average rate for a step of `dt` seconds with time constant `tau`.
fn alpha(dt: f32, tau: f32) -> f32 {
    (1.0 - (-dt / tau).exp()).clamp(0.0, 1.0)
}
