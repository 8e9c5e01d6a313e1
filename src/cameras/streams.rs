//! A camera's streams: the main stream (recorded) and the optional low-resolution sub-stream (`sub_url`,
//! or an `onvif://` camera's smaller profile; never recorded: motion, grid views and snapshots of H.265
//! cameras use it). Each is one source, one supervisor task and one hub.

use crate::hub::Hub;
use crate::ingest::{self, CameraAddr, IngestError, Source};
use crate::supervisor::{self, Status};
use kw_config::CameraConfig;
use kw_media::clock::SharedClock;
use tokio::sync::watch;

/// A running stream.
pub(super) struct Stream {
    pub hub: Hub,
    pub status: watch::Receiver<Status>,
    task: tokio::task::JoinHandle<()>,
}

impl Stream {
    /// Ends the session and every subscription (subscribers drain what was already sent).
    pub fn stop(self) {
        self.task.abort();
        self.hub.publish_stopped();
        self.hub.close();
    }
}

/// A stream whose hub and status exist, so consumers can subscribe, before its supervisor starts.
pub(super) struct Pending {
    pub hub: Hub,
    pub status: watch::Receiver<Status>,
    status_tx: watch::Sender<Status>,
}

impl Pending {
    pub fn new() -> Pending {
        let (status_tx, status) = watch::channel(Status::default());
        Pending { hub: Hub::new(), status, status_tx }
    }

    /// Starts the supervisor: connect, reconnect, publish to the hub.
    pub fn run(self, name: String, source: Box<dyn Source>, clock: &SharedClock) -> Stream {
        let task = tokio::spawn(supervisor::supervise(name, source, self.hub.clone(), self.status_tx, clock.clone()));
        Stream { hub: self.hub, status: self.status, task }
    }
}

/// The main stream's source, with the `[cameras.encode]` settings cameras keepwatch encodes (MJPEG/JPEG)
/// use.
pub(super) fn main_source(c: &CameraConfig) -> Result<Box<dyn Source>, IngestError> {
    CameraAddr::parse(&c.url, c.username.as_deref(), c.password.as_deref())
        .and_then(|a| a.with_tls_pin(c.tls_fingerprint.as_deref()))
        .and_then(|a| ingest::source_with_encode(a, encode_settings(&c.encode)))
}

/// A camera whose source cannot even be made (a bad URL): no hub traffic, offline with the reason until
/// it is stopped.
pub(super) fn not_started(e: &IngestError) -> Stream {
    let p = Pending::new();
    p.status_tx.send_modify(|s| {
        s.state = supervisor::State::Offline;
        s.last_error = Some(e.to_string());
    });
    let status_tx = p.status_tx;
    let task = tokio::spawn(async move {
        let _keep = status_tx; // hold the status until the camera is stopped
        std::future::pending::<()>().await
    });
    Stream { hub: p.hub, status: p.status, task }
}

/// The sub-stream, when the camera has one: `sub_url` (same credentials), else an `onvif://` camera's
/// smaller profile.
pub(super) fn sub_stream(c: &CameraConfig, clock: &SharedClock) -> Option<Stream> {
    let (source, what) = match c.sub_url.as_deref() {
        Some(url) => {
            match CameraAddr::parse(url, c.username.as_deref(), c.password.as_deref())
                .and_then(|a| a.with_tls_pin(c.tls_fingerprint.as_deref()))
                .and_then(ingest::source_for)
            {
                Ok(s) => (s, kw_config::redacted_url(url)),
                Err(e) => {
                    tracing::error!(camera = %c.name, "sub-stream not started: {e}");
                    return None;
                }
            }
        }
        None => (onvif_sub_source(c)?, format!("{} (its ONVIF sub profile)", kw_config::redacted_url(&c.url))),
    };
    let stream = Pending::new().run(format!("sub:{}", c.name), source, clock);
    tracing::info!(camera = %c.name, url = %what, "sub-stream started");
    Some(stream)
}

/// The source of an `onvif://` camera's sub profile.
fn onvif_sub_source(c: &CameraConfig) -> Option<Box<dyn Source>> {
    if !c.url.trim_start().to_ascii_lowercase().starts_with("onvif://") {
        return None;
    }
    let addr = CameraAddr::parse(&c.url, c.username.as_deref(), c.password.as_deref())
        .and_then(|a| a.with_tls_pin(c.tls_fingerprint.as_deref()))
        .ok()?;
    Some(Box::new(ingest::onvif::OnvifSource::new(addr, ingest::onvif::Which::Sub)))
}

/// `[cameras.encode]` as ingest takes it.
fn encode_settings(e: &kw_config::EncodeConfig) -> ingest::http::EncodeSettings {
    ingest::http::EncodeSettings {
        fps: e.fps,
        bitrate: e.bitrate.map(|b| u32::try_from(b).unwrap_or(u32::MAX)),
        width: e.width,
        height: e.height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_onvif_cameras_have_a_sub_profile() {
        assert!(onvif_sub_source(&CameraConfig::new("door", "onvif://admin:pw@10.0.0.5")).is_some());
        assert!(onvif_sub_source(&CameraConfig::new("door", "rtsp://10.0.0.5/s1")).is_none());
    }
}
