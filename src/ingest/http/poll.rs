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
//! [`GIVE_UP_AFTER`] (or any refused login) end the session, so the supervisor's back-off applies. An
//! answer that is not a JPEG counts as a failure too, and while failing the camera is asked at most every
//! [`FAILING_INTERVAL`], whatever the frame rate: a camera answering 500s at once is not hammered.
//!
//! A body is read up to [`MAX_PICTURE`] bytes (a larger `Content-Length` is refused unread): a snapshot
//! page that never ends costs no more memory than one picture of an MJPEG stream.

use super::encode::{BurstLog, Picture};
use super::Inner;
use crate::ingest::IngestError;
use bytes::{Bytes, BytesMut};
use kw_mjpeg::MAX_PICTURE;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Frames per second when `[cameras.encode] fps` is not set.
pub const DEFAULT_FPS: f64 = 10.0;
/// How long one snapshot request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Failing for this long ends the session.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(6);
/// The shortest time between requests while they fail.
pub const FAILING_INTERVAL: Duration = Duration::from_millis(500);

/// The body of one snapshot answer, at most `max` bytes.
async fn read_capped(mut r: reqwest::Response, max: usize) -> Result<Bytes, IngestError> {
    if r.content_length().is_some_and(|n| n > max as u64) {
        return Err(IngestError::Protocol(format!("the snapshot is larger than {} MiB", max >> 20)));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = r.chunk().await.map_err(super::classify)? {
        if body.len() + chunk.len() > max {
            return Err(IngestError::Protocol(format!("the snapshot is larger than {} MiB", max >> 20)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A camera's snapshot page asked once per request (an ONVIF camera's GetSnapshotUri for `snapshot.jpg`):
/// the same login, caps and JPEG check as the poller's requests.
pub struct SnapshotPage(Arc<Inner>);

impl SnapshotPage {
    pub fn new(addr: crate::ingest::CameraAddr) -> Result<Self, IngestError> {
        let source = super::HttpSource::new(addr, super::EncodeSettings::default())?;
        Ok(SnapshotPage(source.inner))
    }

    /// One JPEG, within [`REQUEST_TIMEOUT`] (twice: the login may take a round of its own).
    pub async fn jpeg(&self) -> Result<Bytes, IngestError> {
        let fetch = async {
            let r = self.0.get(Some(REQUEST_TIMEOUT)).await?;
            read_capped(r, MAX_PICTURE).await
        };
        match tokio::time::timeout(REQUEST_TIMEOUT * 2, fetch).await {
            Err(_) => Err(IngestError::Timeout(REQUEST_TIMEOUT * 2)),
            Ok(Ok(b)) if b.starts_with(&[0xFF, 0xD8]) => Ok(b),
            Ok(Ok(_)) => Err(IngestError::Protocol("the snapshot page answered with something not a JPEG".into())),
            Ok(Err(e)) => Err(e),
        }
    }
}

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
            Ok(r) => match tokio::time::timeout(REQUEST_TIMEOUT, read_capped(r, MAX_PICTURE)).await {
                Ok(Ok(b)) if b.starts_with(&[0xFF, 0xD8]) => Ok(b),
                Ok(Ok(_)) => Err(IngestError::Protocol("the snapshot page answered with something not a JPEG".into())),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(IngestError::Timeout(REQUEST_TIMEOUT)),
            },
            Err(e) => Err(e),
        };
        let arrival = Instant::now();
        match body {
            Ok(jpeg) => {
                failing_since = None;
                burst.good(&inner.label, "snapshot");
                match out.try_send(Ok(Picture { jpeg, arrival })) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
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
        let now = tokio::time::Instant::now();
        next = if failing_since.is_some() { (next + interval).max(now + FAILING_INTERVAL) } else { next + interval };
        if next < now {
            next = now; // running late: go on at once, without trying to catch up
        }
        tokio::time::sleep_until(next).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: Vec<u8>) -> reqwest::Response {
        reqwest::Response::from(axum::http::Response::builder().body(body).unwrap())
    }

    #[tokio::test]
    async fn snapshot_bodies_are_capped() {
        assert_eq!(&read_capped(answer(vec![0xFF, 0xD8, 1, 2]), 16).await.unwrap()[..], [0xFF, 0xD8, 1, 2]);
        // Longer than the cap: refused, not buffered.
        assert!(matches!(read_capped(answer(vec![0; 17]), 16).await, Err(IngestError::Protocol(_))));
    }
}
