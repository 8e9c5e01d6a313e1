//! The detector's settings, and how `sensitivity` turns into the numbers the pipeline uses.
//!
//! Users set one knob, `sensitivity` (0..1); the detector needs a handful of thresholds. Keeping that mapping
//! in one place ([`Tuning::from_config`]) means the accuracy benchmark, the unit tests and the daemon all agree
//! on what "0.5" means, and retuning is a one-file change.

use std::time::Duration;

/// Whether motion inside a zone counts or is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZoneKind {
    /// Only motion inside include zones counts (when there is at least one).
    #[default]
    Include,
    /// Motion inside is ignored.
    Exclude,
}

/// A polygon in frame coordinates (0..1, origin top left); at least three corners to cover anything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Zone {
    /// Include or exclude.
    pub kind: ZoneKind,
    /// Corners `(x, y)`; values outside 0..1 are allowed and simply reach past the frame edge. At most
    /// [`Zone::MAX_POINTS`].
    pub points: Vec<(f64, f64)>,
}

impl Zone {
    /// Zones past this many in [`DetectorConfig::zones`] are ignored (the config refuses more).
    pub const MAX_PER_CAMERA: usize = 16;
    /// A zone with more corners than this covers nothing (the config refuses more).
    pub const MAX_POINTS: usize = 64;
}

/// Everything the detector needs to know; build it with [`DetectorConfig::default`] and set what differs.
/// The detector knows nothing of keepwatch's config file: the daemon fills this in from the camera's
/// `[cameras.motion]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// 0 (only large, strong changes) ..= 1 (the smallest changes); values outside are clamped. Default 0.5.
    pub sensitivity: f32,
    /// One thing must be seen moving this long (short dropouts allowed, see `confirm_gap`) before an event
    /// starts; the event's start is then back-dated to its first sighting. Default 1 s. Zero starts an
    /// event on the first moving frame.
    pub min_duration: Duration,
    /// Before an event is confirmed, a pause longer than this in what is being followed drops it (a bird,
    /// a flash). Default 0.5 s.
    pub confirm_gap: Duration,
    /// Once an event runs, motion that resumes within this pause continues the same event (one person
    /// walking, stopping and walking on is one event). Default 5 s. The event's `end` is when motion stopped,
    /// not when this gap ran out; the recorder adds its own post-roll.
    pub merge_gap: Duration,
    /// Minimum time between two [`crate::Event::Updated`] of one event. Default 1 s.
    pub update_interval: Duration,
    /// Time constant of the running-average background: how fast the scene's slow changes (daylight,
    /// a parked car) are learnt. Default 4 s. Changed pixels that are still changing (an object passing) are
    /// learnt 8× more slowly; changed pixels that stand still (a car that parked, the ghost of something
    /// that left) at the normal rate.
    pub background_time: Duration,
    /// After the first frame and after each global change (lights, IR switch) the detector learns the new
    /// scene for this long and reports no motion. Default 1 s.
    pub settle_time: Duration,
    /// Include/exclude polygons; none means the whole frame counts. Only the first [`Zone::MAX_PER_CAMERA`]
    /// are used.
    pub zones: Vec<Zone>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            sensitivity: 0.5,
            min_duration: Duration::from_secs(1),
            confirm_gap: Duration::from_millis(500),
            merge_gap: Duration::from_secs(5),
            update_interval: Duration::from_secs(1),
            background_time: Duration::from_secs(4),
            settle_time: Duration::from_secs(1),
            zones: Vec::new(),
        }
    }
}

/// The numbers `sensitivity` maps to; public so that tools can show them, derived by [`Tuning::from_config`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// A pixel differs from the background when the difference (luma levels, after the 3×3 blur) exceeds
    /// `max(min_threshold, noise_factor × noise)`, `noise` being the measured noise of the difference image.
    pub min_threshold: f32,
    /// See `min_threshold`.
    pub noise_factor: f32,
    /// Smallest connected region that counts, as a fraction of the analysed frame.
    pub min_area: f32,
    /// More than this fraction of the watched pixels changed at once: a global change (recalibrate).
    pub global_fraction: f32,
    /// The scene's mean brightness moved by more than this many luma levels since the background: global.
    pub global_shift: f32,
}

impl Tuning {
    /// Sensitivity 0 → threshold 28 levels, 7σ, regions ≥ 1 % of the frame; 0.5 → 16 levels, 5σ, 0.12 %
    /// (about 8×9 pixels at 320×180); 1 → 8 levels, 3.5σ, 0.015 %.
    pub fn from_config(cfg: &DetectorConfig) -> Tuning {
        let s = if cfg.sensitivity.is_finite() { cfg.sensitivity.clamp(0.0, 1.0) } else { 0.5 };
        let lerp = |a: f32, b: f32| a + (b - a) * s;
        let geo = |a: f32, b: f32| a * (b / a).powf(s);
        Tuning {
            min_threshold: if s <= 0.5 { lerp(28.0, 4.0) } else { lerp(24.0, 8.0) },
            noise_factor: if s <= 0.5 { lerp(7.0, 3.0) } else { lerp(6.5, 3.5) },
            min_area: geo(0.01, 0.00015),
            global_fraction: 0.45,
            global_shift: 14.0,
        }
    }
}

/// A `Duration` as microseconds, saturating.
pub(crate) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitivity_maps_monotonically() {
        let t = |s: f32| Tuning::from_config(&DetectorConfig { sensitivity: s, ..DetectorConfig::default() });
        let (lo, mid, hi) = (t(0.0), t(0.5), t(1.0));
        assert!(lo.min_threshold > mid.min_threshold && mid.min_threshold > hi.min_threshold);
        assert!(lo.noise_factor > mid.noise_factor && mid.noise_factor > hi.noise_factor);
        assert!(lo.min_area > mid.min_area && mid.min_area > hi.min_area);
        assert!((mid.min_threshold - 16.0).abs() < 1e-3 && (mid.noise_factor - 5.0).abs() < 1e-3);
        assert_eq!(t(f32::NAN), mid);
        assert_eq!(t(7.0), hi);
    }
}
