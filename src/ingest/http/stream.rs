//! Reading an MJPEG stream: bytes → pictures (`kw_mjpeg`) → the encoder's queue, at most at the
//! configured frame rate.
//!
//! Camera quirk, **goform firmware closes the stream after a while** (typically 20 s to a few minutes, and
//! some just stop sending): the stream ending is normal for these cameras, not an outage. When a connection
//! that delivered pictures for a while ends or stalls, a fresh, re-authenticated request continues the same
//! session at once: the encoder keeps running, so the recording continues in the same run with only the
//! reconnect's gap. If that request fails, the error goes to the supervisor and its back-off applies.
//! Quick re-requests are at least [`MIN_QUICK_RECONNECT_GAP`] apart (counted from the previous request), so
//! a camera that sends a few pictures (or picture-shaped garbage) and hangs up at once is asked at most
//! once a second, not in a tight loop.

use super::encode::{BurstLog, Picture};
use super::{classify, content_type, Inner};
use crate::ingest::IngestError;
use kw_mjpeg::{is_multipart, Item, MjpegParser};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A stream silent this long is treated as ended (and re-requested if it had been delivering).
pub const STALL: Duration = Duration::from_secs(5);
/// A connection must have delivered this many pictures to be re-requested at once when it ends; one that
/// ends sooner is an outage for the supervisor (so a camera that hangs up at once is not hammered).
const MIN_PICTURES_FOR_QUICK_RECONNECT: u64 = 3;
/// The shortest time between two quick re-requests of the stream.
pub const MIN_QUICK_RECONNECT_GAP: Duration = Duration::from_secs(1);

/// Drops pictures that arrive faster than the cap. Keeps the average at the cap for any faster arrival
/// rate and never bursts after a pause.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next_due: Option<Instant>,
}

impl Pacer {
    pub fn new(fps: Option<f64>) -> Self {
        let interval = fps.filter(|f| *f > 0.0 && f.is_finite()).map(|f| Duration::from_secs_f64(1.0 / f));
        Pacer { interval, next_due: None }
    }

    /// Whether a picture arriving at `at` is kept. A picture up to a fifth of an interval early still
    /// counts as on time: a camera sending exactly at the cap jitters around it.
    pub fn admit(&mut self, at: Instant) -> bool {
        let Some(interval) = self.interval else { return true };
        if self.next_due.is_some_and(|due| at + interval / 5 < due) {
            return false;
        }
        let after = self.next_due.map_or(at + interval, |due| due + interval);
        self.next_due = Some(after.max(at + interval / 2));
        true
    }
}

/// Reads the stream `resp` (and its successors) until the session is dropped or fails; the failure goes
/// into `out` for the encoder to pass on.
pub(super) async fn run(
    inner: Arc<Inner>,
    mut resp: reqwest::Response,
    fps: Option<f64>,
    out: mpsc::Sender<Result<Picture, IngestError>>,
) {
    let mut pacer = Pacer::new(fps);
    let mut burst = BurstLog::default();
    let mut parser = MjpegParser::new();
    let mut pictures: u64 = 0;
    let mut since = Instant::now();
    let mut dropped: u64 = 0;
    loop {
        let ended = match tokio::time::timeout(STALL, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                parser.push(&chunk);
                let arrival = Instant::now();
                while let Some(item) = parser.next_item() {
                    match item {
                        Item::Jpeg(jpeg) => {
                            burst.good(&inner.label, "MJPEG part");
                            pictures += 1;
                            if !pacer.admit(arrival) {
                                continue;
                            }
                            match out.try_send(Ok(Picture { jpeg, arrival })) {
                                Ok(()) => {}
                                Err(mpsc::error::TrySendError::Full(_)) => {
                                    dropped += 1;
                                    if dropped.is_power_of_two() {
                                        tracing::debug!(url = %inner.label, "encoder behind: {dropped} pictures dropped");
                                    }
                                }
                                Err(mpsc::error::TrySendError::Closed(_)) => return,
                            }
                        }
                        Item::Broken(why) => burst.bad(&inner.label, "MJPEG part", why),
                    }
                }
                continue;
            }
            Ok(Ok(None)) => IngestError::Ended,
            Ok(Err(e)) => classify(e),
            Err(_) => IngestError::Timeout(STALL),
        };
        if pictures < MIN_PICTURES_FOR_QUICK_RECONNECT {
            let _ = out.send(Err(ended)).await;
            return;
        }
        tracing::info!(
            url = %inner.label,
            "MJPEG stream ended after {pictures} pictures in {} s ({ended}); requesting it again \
             (goform firmware closes the stream after a while)",
            since.elapsed().as_secs()
        );
        let wait = MIN_QUICK_RECONNECT_GAP.saturating_sub(since.elapsed());
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = out.closed() => return,
            }
        }
        match inner.get(None).await {
            Ok(r) if is_multipart(&content_type(&r)) => {
                resp = r;
                parser = MjpegParser::new();
                pictures = 0;
                since = Instant::now();
            }
            Ok(r) => {
                let ct = content_type(&r);
                let _ = out.send(Err(IngestError::Protocol(format!("the stream came back as {ct}")))).await;
                return;
            }
            Err(e) => {
                let _ = out.send(Err(e)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_caps_the_rate_without_bursts() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut none = Pacer::new(None);
        assert!((0..100).all(|i| none.admit(ms(i))));
        // 30 fps in, 10 fps cap: about 10 per second kept.
        let mut p = Pacer::new(Some(10.0));
        let kept = (0..300).filter(|i| p.admit(ms(i * 1000 / 30))).count();
        assert!((95..=105).contains(&kept), "{kept}");
        // 15 fps in: 10 kept per second.
        let mut p = Pacer::new(Some(10.0));
        let kept = (0..150).filter(|i| p.admit(ms(i * 1000 / 15))).count();
        assert!((95..=115).contains(&kept), "{kept}");
        // 10 fps in with jitter: all kept.
        let mut p = Pacer::new(Some(10.0));
        assert!((0..100u64).all(|i| p.admit(ms(1000 + i * 100 + (i * 7919 % 31)) - Duration::from_millis(15))));
        // 5 fps in: all kept.
        let mut p = Pacer::new(Some(10.0));
        assert!((0..50).all(|i| p.admit(ms(i * 200))));
        // After a pause: no burst.
        let mut p = Pacer::new(Some(10.0));
        assert!(p.admit(ms(0)));
        assert!(p.admit(ms(10_000)));
        assert!(!p.admit(ms(10_010)));
    }
}
