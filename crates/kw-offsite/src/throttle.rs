//! The bandwidth cap: a sender reports what it sent and waits long enough that the average since it
//! started stays under the cap. S3 parts are sent whole (8 MiB), so there the cap holds on average over
//! parts; WebDAV bodies are streamed through it in small chunks.

use std::time::Duration;
use tokio::time::Instant;

pub(crate) struct Throttle {
    bytes_per_s: Option<f64>,
    start: Instant,
    sent: u64,
}

impl Throttle {
    /// `bits_per_s: None` means no cap.
    pub(crate) fn new(bits_per_s: Option<u64>) -> Throttle {
        Throttle { bytes_per_s: bits_per_s.map(|b| b as f64 / 8.0), start: Instant::now(), sent: 0 }
    }

    /// A new budget at the same cap (counting from now).
    pub(crate) fn fresh(&self) -> Throttle {
        Throttle { bytes_per_s: self.bytes_per_s, start: Instant::now(), sent: 0 }
    }

    /// How long to wait after `n` more bytes.
    pub(crate) fn delay_after(&mut self, n: u64) -> Duration {
        self.sent += n;
        let Some(rate) = self.bytes_per_s else { return Duration::ZERO };
        let due = Duration::from_secs_f64(self.sent as f64 / rate);
        due.saturating_sub(self.start.elapsed())
    }

    /// Waits as long as the cap asks after `n` more bytes.
    pub(crate) async fn sent(&mut self, n: u64) {
        let d = self.delay_after(n);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_the_average_under_the_cap() {
        let mut t = Throttle::new(Some(8_000_000));
        assert_eq!(t.delay_after(500_000), Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(t.delay_after(1_000_000), Duration::from_secs(1));
        assert_eq!(Throttle::new(None).delay_after(u64::MAX / 2), Duration::ZERO);
    }
}
