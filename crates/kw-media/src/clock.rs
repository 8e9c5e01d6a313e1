//! The clock seam: everything in keepwatch that needs "now" asks a [`Clock`].
//!
//! Why a seam: recording, motion, alerts and camera logins all depend on time (run anchors, cooldowns,
//! schedules, WS-Security timestamps). With the clock passed in, tests move time by hand with a
//! [`FakeClock`] and assert on what happened instead of sleeping, and there is one place that reads the
//! system's time. Why here: every crate that needs a clock already speaks kw-media's time units
//! ([`WallMicros`]), and this crate has no heavy dependencies (no async runtime, no config).
//!
//! Sleeping and timeouts are not the clock's business: async code keeps using its runtime's timers.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::WallMicros;

/// A source of time.
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time, µs since the Unix epoch (negative before 1970).
    fn wall(&self) -> WallMicros;
    /// A monotonic instant for measuring intervals.
    fn monotonic(&self) -> Instant;
}

/// The clock as it is passed around.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn wall(&self) -> WallMicros {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
        }
    }

    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A clock tests move by hand. Clones share the time: hand one to the code under test and keep one to
/// move it.
#[derive(Clone, Debug)]
pub struct FakeClock {
    base: Instant,
    offset_us: Arc<AtomicI64>,
    wall_base: WallMicros,
}

impl FakeClock {
    /// A clock standing at wall time `wall_base` (µs since the epoch).
    pub fn new(wall_base: WallMicros) -> Self {
        FakeClock { base: Instant::now(), offset_us: Arc::new(AtomicI64::new(0)), wall_base }
    }

    /// Moves both wall and monotonic time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.offset_us.fetch_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// This clock (sharing its time) as a [`SharedClock`].
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for FakeClock {
    fn wall(&self) -> WallMicros {
        self.wall_base.saturating_add(self.offset_us.load(Ordering::SeqCst))
    }

    fn monotonic(&self) -> Instant {
        let us = u64::try_from(self.offset_us.load(Ordering::SeqCst)).unwrap_or(0);
        self.base + Duration::from_micros(us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_by_hand_and_clones_share_it() {
        let c = FakeClock::new(1_795_000_000_000_000);
        let shared = c.shared();
        let (w0, m0) = (shared.wall(), shared.monotonic());
        assert_eq!(w0, 1_795_000_000_000_000);
        c.advance(Duration::from_millis(1500));
        assert_eq!(shared.wall(), w0 + 1_500_000);
        assert_eq!(shared.monotonic() - m0, Duration::from_millis(1500));
        assert_eq!(c.clone().wall(), shared.wall());
    }

    #[test]
    fn system_clock_is_after_2020_and_monotonic() {
        let c = SystemClock::shared();
        assert!(c.wall() > 1_577_836_800_000_000);
        let a = c.monotonic();
        assert!(c.monotonic() >= a);
    }
}
