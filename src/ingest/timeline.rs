//! Maps a camera's RTP time onto keepwatch's local media time (90 kHz for video).
//!
//! Why not use the camera's timestamps as they are: cameras jump (a reboot of the encoder, a 32-bit wrap
//! that the camera handles wrongly, a firmware that restarts its clock on every I-frame), and their clocks
//! drift against ours by hundreds of ppm, which over a day is many seconds. Recordings must stay true to
//! the wall clock, so:
//!
//! * a jump (camera time and arrival time disagree by more than [`MAX_SKEW`]) is re-based: the frame is
//!   placed one nominal frame interval after the latest frame, and the run goes on;
//! * drift is corrected by a small rate adjustment (capped at ±[`MAX_RATE_PPM`]) that steers the minimum
//!   arrival-minus-media offset back to where it started. Network jitter only ever adds delay, so the
//!   minimum over a window is the honest estimate of the clock offset.
//!
//! Pts stay in decode order as the camera sent them (B-frames keep their non-monotonic pts).

use std::time::{Duration, Instant};

/// Disagreement between camera time and arrival time that counts as a timestamp jump.
pub const MAX_SKEW: Duration = Duration::from_secs(3);
/// The largest rate correction applied for clock drift.
pub const MAX_RATE_PPM: f64 = 1_000.0;
/// How long a drift-measurement window is.
const WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Timeline {
    /// Ticks per second of the camera's timestamps.
    cam_rate: u32,
    /// Ticks per second of the output.
    out_rate: u32,
    first_arrival: Option<Instant>,
    /// Camera timestamp and local pts at the last re-base.
    base_cam: i64,
    base_out: f64,
    /// Current rate correction (1.0 = none).
    rate: f64,
    last_cam: i64,
    max_out: i64,
    /// Typical frame interval in output ticks (0 until the first positive delta).
    nominal: f64,
    /// The reference offset (arrival - media, in output ticks) and the running window minimum.
    ref_offset: Option<i64>,
    window_min: i64,
    window_start: Option<Instant>,
    jumps: u64,
}

/// One mapped timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapped {
    pub pts: i64,
    /// The camera's clock jumped before this frame and it was re-based.
    pub rebased: bool,
}

impl Timeline {
    pub fn new(cam_rate: u32, out_rate: u32) -> Self {
        let cam_rate = cam_rate.max(1);
        let out_rate = out_rate.max(1);
        Timeline {
            cam_rate,
            out_rate,
            first_arrival: None,
            base_cam: 0,
            base_out: 0.0,
            rate: 1.0,
            last_cam: 0,
            max_out: i64::MIN,
            nominal: 0.0,
            ref_offset: None,
            window_min: i64::MAX,
            window_start: None,
            jumps: 0,
        }
    }

    /// Number of timestamp jumps re-based so far.
    pub fn jumps(&self) -> u64 {
        self.jumps
    }

    /// The current rate correction in ppm (for logs and tests).
    #[cfg(test)]
    pub fn rate_ppm(&self) -> f64 {
        (self.rate - 1.0) * 1e6
    }

    fn scale(&self, cam_delta: i64) -> f64 {
        cam_delta as f64 * f64::from(self.out_rate) / f64::from(self.cam_rate) * self.rate
    }

    fn arrival_ticks(&self, arrival: Instant) -> i64 {
        let since = arrival.saturating_duration_since(self.first_arrival.unwrap_or(arrival));
        (since.as_secs_f64() * f64::from(self.out_rate)) as i64
    }

    /// Maps a camera timestamp (ticks of the camera clock, monotonically extended as retina does) that
    /// arrived at `arrival`.
    pub fn map(&mut self, cam_ts: i64, arrival: Instant) -> Mapped {
        let Some(_) = self.first_arrival else {
            self.first_arrival = Some(arrival);
            self.base_cam = cam_ts;
            self.base_out = 0.0;
            self.last_cam = cam_ts;
            self.max_out = 0;
            self.window_start = Some(arrival);
            return Mapped { pts: 0, rebased: false };
        };
        let mut out = self.base_out + self.scale(cam_ts - self.base_cam);
        let arrival_ticks = self.arrival_ticks(arrival);
        let skew = arrival_ticks as f64 - out;
        let max_skew = MAX_SKEW.as_secs_f64() * f64::from(self.out_rate);
        let offset_ref = self.ref_offset.unwrap_or(0) as f64;
        let rebased = (skew - offset_ref).abs() > max_skew;
        if rebased {
            // A jump: continue one nominal interval after the latest frame, or at the arrival time if the
            // camera was silent for longer (a real gap stays a gap).
            let nominal = if self.nominal > 0.0 { self.nominal.round() as i64 } else { i64::from(self.out_rate) / 10 };
            let target = (self.max_out + nominal).max(arrival_ticks - offset_ref as i64);
            self.base_cam = cam_ts;
            self.base_out = target as f64;
            out = target as f64;
            self.jumps += 1;
            self.ref_offset = None;
            self.window_min = i64::MAX;
            self.window_start = Some(arrival);
        } else {
            let delta = out as i64 - self.max_out;
            if delta > 0 && delta < i64::from(self.out_rate) {
                // Track the typical frame interval (for re-basing) with a cheap moving estimate.
                self.nominal =
                    if self.nominal == 0.0 { delta as f64 } else { (self.nominal * 7.0 + delta as f64) / 8.0 };
            }
        }
        self.last_cam = cam_ts;
        let pts = out.round() as i64;
        self.max_out = self.max_out.max(pts);
        self.track_drift(arrival, arrival_ticks - pts);
        Mapped { pts, rebased }
    }

    fn track_drift(&mut self, arrival: Instant, offset: i64) {
        self.window_min = self.window_min.min(offset);
        let Some(start) = self.window_start else { return };
        if arrival.saturating_duration_since(start) < WINDOW {
            return;
        }
        let min = self.window_min;
        self.window_min = i64::MAX;
        self.window_start = Some(arrival);
        let Some(reference) = self.ref_offset else {
            self.ref_offset = Some(min);
            return;
        };
        // Positive error: media time falls behind arrival time (camera clock slow): speed up. Aim to
        // remove the error over the next minute, within the cap.
        let error = (min - reference) as f64;
        let correction = error / (60.0 * f64::from(self.out_rate));
        let new_rate = (1.0 + correction).clamp(1.0 - MAX_RATE_PPM / 1e6, 1.0 + MAX_RATE_PPM / 1e6);
        // Re-base so the change of rate does not move already-mapped frames.
        let cam_now = self.last_cam;
        self.base_out += self.scale(cam_now - self.base_cam);
        self.base_cam = cam_now;
        self.rate = new_rate;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FPS: i64 = 25;

    #[test]
    fn steady_stream_maps_linearly() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(90_000, 90_000);
        for i in 0..100 {
            let m = tl.map(1_000_000 + i * 3600, t0 + Duration::from_millis(i as u64 * 40));
            assert_eq!(m.pts, i * 3600);
            assert!(!m.rebased);
        }
    }

    #[test]
    fn forward_jump_is_rebased() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(90_000, 90_000);
        for i in 0..50 {
            tl.map(i * 3600, t0 + Duration::from_millis(i as u64 * 40));
        }
        // The camera's clock leaps an hour ahead, but frames keep arriving every 40 ms.
        let jump = 3600 * 90_000;
        let m = tl.map(jump + 50 * 3600, t0 + Duration::from_millis(50 * 40));
        assert!(m.rebased);
        assert_eq!(m.pts, 50 * 3600);
        let m = tl.map(jump + 51 * 3600, t0 + Duration::from_millis(51 * 40));
        assert!(!m.rebased);
        assert_eq!(m.pts, 51 * 3600);
        assert_eq!(tl.jumps(), 1);
    }

    #[test]
    fn backward_jump_is_rebased() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(90_000, 90_000);
        for i in 0..50 {
            tl.map(10_000_000 + i * 3600, t0 + Duration::from_millis(i as u64 * 40));
        }
        let m = tl.map(5, t0 + Duration::from_millis(50 * 40));
        assert!(m.rebased);
        assert_eq!(m.pts, 50 * 3600);
    }

    #[test]
    fn silence_stays_a_gap() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(90_000, 90_000);
        for i in 0..25 {
            tl.map(i * 3600, t0 + Duration::from_millis(i as u64 * 40));
        }
        // 10 s of nothing, camera time and arrival time agree: the gap is real.
        let m = tl.map(25 * 3600 + 900_000, t0 + Duration::from_millis(25 * 40 + 10_000));
        assert!(!m.rebased);
        assert_eq!(m.pts, 25 * 3600 + 900_000);
    }

    #[test]
    fn b_frames_keep_their_order() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(90_000, 90_000);
        // Decode order I P B B with presentation 0, 3, 1, 2.
        let pts = [0, 3, 1, 2, 6, 4, 5];
        let out: Vec<i64> = pts
            .iter()
            .enumerate()
            .map(|(i, p)| tl.map(p * 3600, t0 + Duration::from_millis(i as u64 * 40)).pts)
            .collect();
        assert_eq!(out, pts.iter().map(|p| p * 3600).collect::<Vec<_>>());
    }

    #[test]
    fn drift_is_corrected_within_cap() {
        // The camera clock runs 300 ppm slow: its 40 ms frames really take 40.012 ms.
        let t0 = Instant::now();
        let mut tl = Timeline::new(90_000, 90_000);
        let frames = FPS * 60 * 20; // 20 minutes
        let mut last = Mapped { pts: 0, rebased: false };
        for i in 0..frames {
            let arrival = t0 + Duration::from_nanos((i as f64 * 40_012_000.0) as u64);
            last = tl.map(i * 3600, arrival);
            assert!(!last.rebased);
        }
        let arrival_ticks = (frames - 1) as f64 * 0.040012 * 90_000.0;
        let err_ms = (arrival_ticks - last.pts as f64) / 90.0;
        // Uncorrected, the error would be 360 ms after 20 minutes.
        assert!(err_ms.abs() < 120.0, "error {err_ms} ms, rate {} ppm", tl.rate_ppm());
        assert!(tl.rate_ppm() > 100.0 && tl.rate_ppm() <= MAX_RATE_PPM);
    }
}
