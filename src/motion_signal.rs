//! What a camera's motion producers (keepwatch's own detector, the camera's ONVIF motion events) tell
//! the rest of keepwatch: until when to record (`record = "motion"`, post-roll included) and why motion
//! detection is not running, when it is not, and how well it decodes (frames decoded and not decodable, and
//! why it is degraded when too many fail).
//!
//! Why a type of its own: the recorder's gate reads it on every frame, and the recording path must not
//! import the decode-heavy motion pipeline for one atomic (ARCHITECTURE.md: "the recorder links no
//! codec"). This module imports nothing of keepwatch's.

use kw_media::WallMicros;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MotionSignal {
    /// Record frames up to this wall time (µs): motion, or motion that may be starting, plus post-roll.
    record_until: AtomicI64,
    /// Why motion detection is not running, when it is not.
    unavailable: Mutex<Option<String>>,
    /// Why motion detection runs but misses frames, when it does (frames it cannot decode).
    degraded: Mutex<Option<String>>,
    /// Frames decoded for motion detection, and frames that could not be (counters for `/metrics`).
    decoded: AtomicU64,
    failed: AtomicU64,
}

impl MotionSignal {
    /// Recording should go on at least until `t` (never moves back).
    pub fn record_until_at_least(&self, t: WallMicros) {
        self.record_until.fetch_max(t, Ordering::Relaxed);
    }

    /// Until when motion (with post-roll) asks for recording.
    pub fn record_until(&self) -> WallMicros {
        self.record_until.load(Ordering::Relaxed)
    }

    /// Says why motion detection cannot run now (`None`: it runs).
    pub fn set_unavailable(&self, why: Option<String>) {
        *self.unavailable.lock().unwrap_or_else(|e| e.into_inner()) = why;
    }

    /// Why motion detection is not running, when it is not.
    pub fn unavailable(&self) -> Option<String> {
        self.unavailable.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Says why motion detection misses frames (`None`: it does not).
    pub fn set_degraded(&self, why: Option<String>) {
        *self.degraded.lock().unwrap_or_else(|e| e.into_inner()) = why;
    }

    /// Why motion detection misses frames, when it does.
    pub fn degraded(&self) -> Option<String> {
        self.degraded.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts frames decoded (`ok`) or not decodable.
    pub fn count_decoded(&self, ok: bool) {
        let c = if ok { &self.decoded } else { &self.failed };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Frames decoded for motion detection so far, and frames that could not be.
    pub fn decode_counts(&self) -> (u64, u64) {
        (self.decoded.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }

    pub fn is_unavailable(&self) -> bool {
        self.unavailable.lock().map(|u| u.is_some()).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_until_only_moves_forward() {
        let s = MotionSignal::default();
        s.record_until_at_least(10);
        s.record_until_at_least(5);
        assert_eq!(s.record_until(), 10);
        assert!(!s.is_unavailable());
        s.set_unavailable(Some("H.265".into()));
        assert_eq!(s.unavailable().as_deref(), Some("H.265"));
        assert!(s.is_unavailable());
        s.count_decoded(true);
        s.count_decoded(true);
        s.count_decoded(false);
        assert_eq!(s.decode_counts(), (2, 1));
        assert_eq!(s.degraded(), None);
        s.set_degraded(Some("1 of 3".into()));
        assert_eq!(s.degraded().as_deref(), Some("1 of 3"));
    }
}
