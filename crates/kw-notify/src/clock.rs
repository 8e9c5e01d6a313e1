//! The clock seam: wall-clock time in µs since the Unix epoch.
//!
//! Cooldowns, schedules, retry times and the outbox's bookkeeping all ask this clock, so tests can move
//! time by hand instead of sleeping. The daemon wires its own clock in with
//! `Arc::new(move || clock.wall())`. Sleeping between retries still uses tokio's timer; a worker re-reads
//! the clock at least every few seconds, so a moved fake clock is noticed promptly.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in µs since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    })
}

/// One second in µs.
pub(crate) const SECOND: i64 = 1_000_000;
