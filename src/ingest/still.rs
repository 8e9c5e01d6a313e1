//! The camera's own pictures, for `snapshot.jpg` of "now" where decoding would be wrong or impossible.
//!
//! Two kinds of camera have a better picture than the one keepwatch could decode:
//! - **MJPEG and JPEG-snapshot cameras** send JPEGs; keepwatch encodes them to H.264 for recording, and
//!   decoding that H.264 again for a snapshot would show a re-encoded copy (and cost a decode). Their
//!   source keeps the last JPEG that decoded ([`CameraStill::set_latest`]) and the snapshot serves it.
//! - **ONVIF cameras** name a snapshot page (GetSnapshotUri). keepwatch has no H.265 decoder, so an H.265
//!   main stream without an H.264 sub-stream had no snapshot at all; the camera's page gives one. The
//!   page is only used on the camera's own host (the camera's password is sent there), and the answer is
//!   bounded in size and time like any snapshot camera's.
//!
//! A [`CameraStill`] is made by the source and shared with the read model ([`crate::view::CameraView`]).

use super::http::poll::SnapshotPage;
use bytes::Bytes;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A camera's own JPEG older than this is not "now" any more (the camera stopped sending).
pub const FRESH: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct CameraStill {
    latest: Mutex<Option<(Instant, Bytes)>>,
    page: Mutex<Option<std::sync::Arc<SnapshotPage>>>,
}

impl CameraStill {
    /// A JPEG the camera sent (and that decoded), arrived at `at`.
    pub fn set_latest(&self, jpeg: Bytes, at: Instant) {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some((at, jpeg));
    }

    /// The camera's last JPEG, if it arrived within [`FRESH`].
    pub fn latest(&self) -> Option<Bytes> {
        let g = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        g.as_ref().filter(|(at, _)| at.elapsed() <= FRESH).map(|(_, j)| j.clone())
    }

    /// The camera's snapshot page (ONVIF GetSnapshotUri), or none.
    pub fn set_page(&self, page: Option<SnapshotPage>) {
        *self.page.lock().unwrap_or_else(|p| p.into_inner()) = page.map(std::sync::Arc::new);
    }

    /// Fetches a JPEG from the camera's snapshot page; `None` when it has none.
    pub async fn fetch(&self) -> Option<Result<Bytes, super::IngestError>> {
        let page = self.page.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        Some(page.jpeg().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_picture_is_not_now() {
        let s = CameraStill::default();
        assert!(s.latest().is_none());
        s.set_latest(Bytes::from_static(b"\xff\xd8jpeg"), Instant::now());
        assert_eq!(s.latest().as_deref(), Some(&b"\xff\xd8jpeg"[..]));
        if let Some(old) = Instant::now().checked_sub(FRESH * 2) {
            s.set_latest(Bytes::from_static(b"\xff\xd8old"), old);
            assert!(s.latest().is_none());
        }
    }
}
