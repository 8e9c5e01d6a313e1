//! WebRTC live view (WHEP): the lowest-latency picture a browser can show, without transcoding.
//!
//! Why this shape: a WebRTC viewer is one more hub subscriber (like a live-view WebSocket or a restream
//! player): it starts at the buffered key frame and, when it falls behind, is skipped ahead by the hub. The
//! protocol work (ICE, DTLS, SRTP, RTP packetization) is str0m's, a sans-IO engine driven here by one task
//! per viewer with its own UDP socket; its crypto is the pure-Rust backend, so the build needs no system
//! library.
//!
//! What is sent: the camera's H.264 (parameter sets put in front of each key frame) and, where the camera
//! sends G.711, its audio. AAC cannot travel in WebRTC (browsers take Opus and G.711 only), so AAC cameras
//! play without sound here; the WebSocket/MSE path keeps their sound. H.265 is not offered (browsers
//! without hardware HEVC cannot decode it): the UI uses the sub-stream or the other paths.
//!
//! Addresses: the viewer's one ICE candidate is a host candidate on the address the browser reached the
//! HTTP server at (so whatever route carried the offer carries the media), with a fresh UDP port per viewer.
//! Behind NAT that address is not reachable from outside; see README ("Live view over WebRTC, and NAT").
//!
//! Bounds: viewers count against the live-viewer caps (taken by the HTTP handler); at most
//! [`MAX_SESSIONS`] WebRTC sessions at once; an offer is at most [`MAX_OFFER`] bytes; a session that has not
//! connected within [`CONNECT_TIMEOUT`] or whose ICE disconnects ends and frees its socket.

mod session;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use session::Offer;

/// Largest SDP offer accepted.
pub const MAX_OFFER: usize = 64 * 1024;
/// WebRTC sessions at once, all cameras together.
pub const MAX_SESSIONS: usize = 128;
/// How long a new session may take to connect (ICE + DTLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a session could not start.
#[derive(Debug)]
pub enum StartError {
    /// The offer is not SDP, offers no H.264 we can send, or str0m refused it (the message says why).
    BadOffer(String),
    /// [`MAX_SESSIONS`] reached.
    Full,
    /// The camera sends a codec browsers cannot take (H.265), or is not streaming yet.
    Unavailable(String),
    /// A local failure (UDP socket).
    Internal(String),
}

/// The running sessions, by id, so DELETE can end one.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Running>>,
}

struct Running {
    camera: String,
    owner: String,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `offer` on `hub`; answers `(id, answer SDP)`. `local_ip` is the address the
    /// browser's HTTP request arrived at; `keep` (the viewer permit, a client counter) lives as long as the
    /// session.
    pub async fn start(
        self: &Arc<Self>,
        camera: &str,
        owner: &str,
        hub: crate::hub::Hub,
        offer: &str,
        local_ip: IpAddr,
        keep: Box<dyn Send + 'static>,
    ) -> Result<(String, String), StartError> {
        if self.lock().len() >= MAX_SESSIONS {
            return Err(StartError::Full);
        }
        let run = hub.current_run().ok_or_else(|| StartError::Unavailable("the camera is not streaming yet".into()))?;
        if run.video.codec != kw_media::Codec::H264 {
            return Err(StartError::Unavailable(
                "WebRTC carries H.264 only; this stream is H.265 (use the sub-stream or the WebSocket view)".into(),
            ));
        }
        let prepared = Offer::accept(offer, &run, local_ip).await?;
        let answer = prepared.answer.clone();
        let id = format!("{:016x}", random());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        self.lock().insert(id.clone(), Running { camera: camera.to_owned(), owner: owner.to_owned(), stop });
        let sessions = self.clone();
        let (cam, sid) = (camera.to_owned(), id.clone());
        tokio::spawn(async move {
            let why = prepared.run(hub, stopped).await;
            tracing::info!(camera = %cam, "webrtc: session ended: {why}");
            sessions.lock().remove(&sid);
            drop(keep);
        });
        Ok((id, answer))
    }

    /// Ends session `id` of `camera`, if `owner` started it (or `admin`). False when there is no such one.
    pub fn stop(&self, camera: &str, id: &str, owner: &str, admin: bool) -> bool {
        let mut map = self.lock();
        let mine = map.get(id).is_some_and(|r| r.camera == camera && (admin || r.owner == owner));
        if !mine {
            return false;
        }
        if let Some(r) = map.remove(id) {
            let _ = r.stop.send(());
        }
        true
    }
}

fn random() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    u64::from_le_bytes(b)
}
