//! The clock seam. Everything that needs "now" asks a [`Clock`], so tests can run the recorder on a fake
//! clock and assert on media time instead of sleeping.

use kw_media::WallMicros;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time, µs since the Unix epoch.
    fn wall(&self) -> WallMicros;
    /// A monotonic instant for measuring intervals.
    fn monotonic(&self) -> Instant;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn wall(&self) -> WallMicros {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_micros() as i64,
            Err(e) => -(e.duration().as_micros() as i64),
        }
    }

    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A clock tests move by hand.
#[derive(Clone, Debug)]
pub struct FakeClock {
    base: Instant,
    offset_us: Arc<AtomicI64>,
    wall_base: WallMicros,
}

impl FakeClock {
    pub fn new(wall_base: WallMicros) -> Self {
        FakeClock { base: Instant::now(), offset_us: Arc::new(AtomicI64::new(0)), wall_base }
    }

    pub fn advance(&self, d: Duration) {
        self.offset_us.fetch_add(d.as_micros() as i64, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn wall(&self) -> WallMicros {
        self.wall_base + self.offset_us.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Instant {
        self.base + Duration::from_micros(self.offset_us.load(Ordering::SeqCst).max(0) as u64)
    }
}

pub type SharedClock = Arc<dyn Clock>;
