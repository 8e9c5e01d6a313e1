//! Snapshot cameras: one JPEG per request (`/goform/snapshot`), fetched at a set rate.
//!
//! Why a poller rather than asking once per second like a browser would: recording needs a steady frame
//! rate (default [`DEFAULT_FPS`]). Requests go one after another, paced by a fixed schedule: a slow answer
//! delays the next request, it never stacks requests up on a camera that is already struggling. Every
//! request authenticates afresh (Digest: the nonce count goes up; a stale nonce is renewed in the same
//! request cycle).
//!
//! Camera quirk, **goform snapshot pages fail now and then** (a 500 or a reset connection while the camera
//! is busy, a truncated picture): single failures are skipped; only failures for longer than
//! [`GIVE_UP_AFTER`] (or any refused login) end the session, so the supervisor's back-off applies.

use super::encode::{BurstLog, Picture};
use super::Inner;
use crate::ingest::IngestError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Frames per second when `[cameras.encode] fps` is not set.
pub const DEFAULT_FPS: f64 = 10.0;
/// How long one snapshot request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Failing for this long ends the session.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(6);

/// Fetches snapshots until the session is dropped or the camera keeps failing. `first` is the answer to
/// the request that opened the session (its body is the first picture).
pub(super) async fn run(
    inner: Arc<Inner>,
    first: reqwest::Response,
    fps: f64,
    out: mpsc::Sender<Result<Picture, IngestError>>,
) {
    let interval = Duration::from_secs_f64(1.0 / fps.clamp(0.01, 60.0));
    let mut next = tokio::time::Instant::now();
    let mut pending = Some(first);
    let mut failing_since: Option<Instant> = None;
    let mut burst = BurstLog::default();
    loop {
        let answer = match pending.take() {
            Some(r) => Ok(r),
            None => inner.get(Some(REQUEST_TIMEOUT)).await,
        };
        let body = match answer {
            Ok(r) => match tokio::time::timeout(REQUEST_TIMEOUT, r.bytes()).await {
                Ok(Ok(b)) => Ok(b),
                Ok(Err(e)) => Err(super::classify(e)),
                Err(_) => Err(IngestError::Timeout(REQUEST_TIMEOUT)),
            },
            Err(e) => Err(e),
        };
        let arrival = Instant::now();
        match body {
            Ok(jpeg) if jpeg.starts_with(&[0xFF, 0xD8]) => {
                failing_since = None;
                burst.good(&inner.label, "snapshot");
                match out.try_send(Ok(Picture { jpeg, arrival })) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            Ok(_) => burst.bad(&inner.label, "snapshot", "the answer is not a JPEG picture"),
            Err(e @ IngestError::Auth(_)) => {
                let _ = out.send(Err(e)).await;
                return;
            }
            Err(e) => {
                let first_failure = *failing_since.get_or_insert(arrival);
                if arrival.duration_since(first_failure) >= GIVE_UP_AFTER {
                    let _ = out.send(Err(e)).await;
                    return;
                }
                burst.bad(&inner.label, "snapshot request", &e.to_string());
            }
        }
        if out.is_closed() {
            return;
        }
        next += interval;
        let now = tokio::time::Instant::now();
        if next < now {
            next = now; // running late: go on at once, without trying to catch up
        }
        tokio::time::sleep_until(next).await;
    }
}
