//! keepwatch's motion detector: downscaled luma frames in, a per-frame motion score and region and motion
//! events out.
//!
//! # Why it is a crate of its own
//!
//! Detection is pure computation on small pictures. Keeping it away from decoding, cameras, the store and
//! async code means it can be tested frame by frame on generated scenes, measured for accuracy and speed on
//! its own ([`synth`], `examples/accuracy.rs`, `examples/speed.rs`), and tuned without touching the daemon.
//! There is no I/O, no allocation per frame once warm, no `unsafe`, and no input makes it panic.
//!
//! # Use
//!
//! ```
//! use kw_motion::{Detector, DetectorConfig, Event};
//!
//! let cfg = DetectorConfig { sensitivity: 0.6, ..DetectorConfig::default() };
//! let mut det = Detector::new(cfg, 320, 180); // analysis resolution
//! let luma = vec![128u8; 640 * 360];          // the decoded frame's Y plane (any size: it is box-filtered)
//! for n in 0..30i64 {
//!     let out = det.push(&luma, 640, 640, 360, n * 100_000).unwrap(); // t in µs, strictly increasing
//!     if out.best { /* keep this frame's picture: the best of the motion in progress */ }
//!     for ev in &out.events {
//!         match ev {
//!             Event::Started { info, .. } => { /* insert event (start = info.start, end = null) */ }
//!             Event::Updated { info, .. } => { /* update score/region, maybe the snapshot */ }
//!             Event::Ended { end, info, .. } => { /* set end; snapshot = frame at info.best_t */ }
//!         }
//!     }
//!     let _decode_all = det.needs_full_rate(); // false: key frames alone will do for now
//! }
//! if let Some(ev) = det.finish() { /* stream ended during an event */ }
//! ```
//!
//! # Notes for the integration
//!
//! - **What to feed.** The Y plane of each decoded frame, any size and stride (the sub stream is plenty);
//!   it is box-filtered to the analysis size given to [`Detector::new`]: 320×180 for 16:9 cameras (160×90
//!   on weak hardware; accuracy barely changes, see the benchmark). Times in µs, strictly increasing: run
//!   anchor + pts is right. A new run (reconnect, new resolution) → [`Detector::reset`]; a time that goes
//!   back does that by itself. Malformed frames are errors that leave the detector untouched.
//! - **Decoding less.** While [`Detector::needs_full_rate`] is false, all is quiet and key frames alone are
//!   enough (`keyframes_only`, or the low-power mode of issue 5); as soon as it turns true, decode every frame
//!   (from the buffered GOP on). Objects visible for less than a GOP can be missed that way; watching the
//!   bitstream's frame sizes to start decoding earlier is the caller's part (`examples/accuracy.rs --gop 2`
//!   shows the effect).
//! - **Events.** `Started` → insert the event (`start = info.start`, `end = null`, `score = info.score`,
//!   `region = info.region.to_array()`); `Updated` → update score and region (at most once per
//!   `update_interval`); `Ended` → set `end`. `info.start` is the first sighting of what moved, about
//!   `min_duration` before `Started` arrives; record-on-motion keeps `[info.start − pre_roll, end +
//!   post_roll)`, and needs the pre-roll buffer to cover `pre_roll + min_duration`.
//! - **Snapshot.** When a frame comes back with [`Output::best`], keep that frame (or its JPEG), replacing
//!   the one kept before; at `Ended` (or `Updated`) the kept one is the snapshot, taken at `info.best_t`.
//! - **Settings.** A [`DetectorConfig`] with its own types ([`Zone`], [`ZoneKind`]): the crate knows nothing
//!   of the config file, the daemon converts; [`Detector::set_config`] on a live reload keeps the learnt
//!   background.
//!
//! # The pipeline, per frame ([`Detector::push`])
//!
//! 1. Box-filter to the analysis size ([`downscale`]); 3×3 box blur (noise ÷ 3).
//! 2. Sample a sparse grid against the running-average background: robust gain/offset fit (lighting),
//!    residual noise level, count of changed samples (the `global` module). A large global change (more than
//!    45 % of the watched samples, or the mean brightness jumping) *recalibrates*: the background becomes the
//!    current frame and the detector settles for `settle_time` instead of alarming. Nothing changed and
//!    nothing going on: stop here (the early exit; the background learns from such frames once a second).
//! 3. Per pixel: `|cur − (gain·bg + offset)| > max(min_threshold, noise_factor·noise)` (clipped values only
//!    bound the truth), ANDed with the zone mask. The background learns: 8× slower where a pixel changed and
//!    is still changing (an object passing), at the normal rate where it changed but stands still (a car
//!    that parked, the ghost of something that left).
//! 4. Opening then closing (3×3), 8-connected regions; regions smaller than `min_area`, regions that do not
//!    move (against a frame 0.5–1 s old), and, when a frame holds many tiny regions, those not clearly larger
//!    than the typical one (rain) are dropped.
//! 5. Tracks: each region is matched to what moved near it before; only a track that lasts `min_duration`,
//!    matched consistently (where it was, or where it was heading) in at least half its frames, starts an
//!    event. Clutter that pops up in a different place each frame (rain, leaves) does not.
//! 6. Score and region of the frame; the event state machine (start, gap merging, best frame).
//!
//! What `sensitivity` means in numbers is in [`Tuning::from_config`].
//!
//! # Measured
//!
//! `cargo run --release -p kw-motion --example accuracy` renders about 80 minutes of labelled clips (objects
//! of three sizes at three speeds, with noise, at night, while a light goes on, very slow ones; lights, IR
//! switches, sensor noise, rain and leaves, dusk and dawn) and reports recall, false events per hour and
//! onset per class; `--example speed` the CPU time per frame.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod detector;
mod episodes;
mod global;
mod morph;
mod regions;
mod scale;
pub mod synth;
#[cfg(test)]
mod tests;
mod tracks;
mod zones;

pub use config::{DetectorConfig, Tuning, Zone, ZoneKind};
pub use detector::{Detector, FrameStatus, Output};
pub use episodes::{Event, EventInfo, Phase};
pub use scale::{downscale, downscale_into, MAX_SIDE};

/// Time in microseconds, on any clock the caller likes, strictly increasing from frame to frame.
pub type Micros = i64;

/// A rectangle in frame coordinates (0..1, origin top left), as in the Event JSON's `region`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Region {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl Region {
    /// The smallest rectangle holding both.
    pub fn union(self, o: Region) -> Region {
        let (x0, y0) = (self.x.min(o.x), self.y.min(o.y));
        let (x1, y1) = ((self.x + self.w).max(o.x + o.w), (self.y + self.h).max(o.y + o.h));
        Region { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
    }

    /// `[x, y, w, h]`, the Event JSON form.
    pub fn to_array(self) -> [f64; 4] {
        [f64::from(self.x), f64::from(self.y), f64::from(self.w), f64::from(self.h)]
    }

    /// Area (0..1).
    pub fn area(self) -> f32 {
        self.w * self.h
    }

    /// Fraction of `self`'s area that `o` overlaps (0 when `self` is empty).
    pub fn overlap(self, o: Region) -> f32 {
        let w = ((self.x + self.w).min(o.x + o.w) - self.x.max(o.x)).max(0.0);
        let h = ((self.y + self.h).min(o.y + o.h) - self.y.max(o.y)).max(0.0);
        if self.area() > 0.0 {
            w * h / self.area()
        } else {
            0.0
        }
    }
}

/// A frame the detector could not use; the detector's state is unchanged by it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Zero width or height.
    #[error("empty frame ({width}x{height})")]
    Empty {
        /// Given width.
        width: usize,
        /// Given height.
        height: usize,
    },
    /// Rows overlap.
    #[error("stride {stride} is less than the width {width}")]
    Stride {
        /// Given stride.
        stride: usize,
        /// Given width.
        width: usize,
    },
    /// The buffer ends before the last row does.
    #[error("luma buffer holds {got} bytes, the frame needs {need}")]
    Short {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        got: usize,
    },
    /// An output size beyond [`MAX_SIDE`].
    #[error("output size {width}x{height} is too large")]
    TooLarge {
        /// Asked width.
        width: usize,
        /// Asked height.
        height: usize,
    },
    /// The same timestamp as the previous frame (a frame that went backwards instead starts a new timeline).
    #[error("frame time {t} µs repeats the previous frame's")]
    RepeatedTime {
        /// The repeated time.
        t: Micros,
    },
}
