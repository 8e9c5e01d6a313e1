//! "Test connection": open a camera once, the way the recorder would, and report what it sends (codec,
//! resolution, a first picture) or exactly why it failed.
//!
//! Why it lives apart from the camera supervisor: a probe must not touch the running setup (no hub, no
//! store, no reconnects), must give up after a bounded time, and must turn every failure into something
//! the person filling in the "add camera" form can act on (wrong password, unreachable, unsupported codec).
//! It goes through exactly the same [`crate::ingest::source_for`] seam as recording, so a camera that
//! probes fine is one the recorder can take.
//!
//! The first picture is decoded only with a turn from the caller (the HTTP layer's cap on concurrent
//! decodes, shared with `snapshot.jpg`): probes are admin-only, but a decode is the most expensive thing a
//! request can start, and every one of them counts against the same cap. The sub-stream is probed without
//! a picture (none is shown), so it decodes nothing.

use crate::ingest::{self, CameraAddr, IngestError, SourceEvent};
use futures::StreamExt;
use kw_media::{Codec, StreamKind, StreamParams};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use utoipa::ToSchema;

/// Held while the first picture is decoded; dropping it lets the next decode in.
pub type DecodeTurn = Box<dyn std::any::Any + Send>;

/// Waits for a [`DecodeTurn`], or says why there is none (the server is busy decoding).
pub type WaitForTurn<'a> = Pin<Box<dyn Future<Output = Result<DecodeTurn, String>> + Send + 'a>>;

/// How long a probe waits for the camera's parameters and first key frame.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a probe found: `ok` with the stream's shape, or `ok: false` with the reason.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeResult {
    pub ok: bool,
    /// `h264` or `h265`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_audio: Option<bool>,
    /// The first picture as a `data:image/jpeg;base64,` URL; null where keepwatch cannot decode the codec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Why there is no snapshot although the stream works (e.g. H.265 without a decoder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_error: Option<String>,
    /// `auth`, `unreachable`, `unsupported`, `protocol`, `timeout`, `bad_url` or `certificate` (the
    /// camera's HTTPS certificate is not trusted, or not the pinned one: `tls_fingerprint` is its
    /// fingerprint, for the admin to accept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The `sub_url` stream, when one was given: the same fields without a picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<SubProbe>,
    /// HTTPS cameras: the fingerprint of the certificate the camera presented (`sha256:...`), trusted or
    /// not; the value `tls_fingerprint` takes to trust exactly this certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_fingerprint: Option<String>,
}

/// What a probe of the sub-stream found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubProbe {
    pub ok: bool,
    pub codec: Option<String>,
    pub width: Option<u16>,
    pub height: Option<u16>,
    pub kind: Option<String>,
    pub error: Option<String>,
}

impl From<ProbeResult> for SubProbe {
    fn from(r: ProbeResult) -> SubProbe {
        SubProbe { ok: r.ok, codec: r.codec, width: r.width, height: r.height, kind: r.kind, error: r.error }
    }
}

impl ProbeResult {
    fn failed(e: &IngestError) -> ProbeResult {
        let kind = match e {
            IngestError::Auth(_) => "auth",
            IngestError::Unreachable(_) => "unreachable",
            IngestError::Unsupported(_) | IngestError::NoVideo(_) => "unsupported",
            IngestError::Protocol(_) | IngestError::Ended => "protocol",
            IngestError::Timeout(_) => "timeout",
            IngestError::BadUrl(_) => "bad_url",
            IngestError::Certificate(_) => "certificate",
        };
        ProbeResult {
            ok: false,
            codec: None,
            width: None,
            height: None,
            has_audio: None,
            snapshot: None,
            snapshot_error: None,
            kind: Some(kind.to_owned()),
            error: Some(e.to_string()),
            sub: None,
            tls_fingerprint: None,
        }
    }
}

/// How a probe logs in and whom it trusts.
#[derive(Clone, Copy, Default)]
pub struct Login<'a> {
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    /// `tls_fingerprint` to trust (HTTPS cameras with their own certificate).
    pub tls_fingerprint: Option<&'a str>,
}

/// Opens `url` with the given login and waits (at most `timeout`) for the first video key frame; with
/// `picture`, then waits for a decode turn and decodes that frame into the result's snapshot.
pub async fn probe(url: &str, login: Login<'_>, timeout: Duration, picture: Option<WaitForTurn<'_>>) -> ProbeResult {
    let addr =
        CameraAddr::parse(url, login.username, login.password).and_then(|a| a.with_tls_pin(login.tls_fingerprint));
    let seen = addr.as_ref().map(|a| a.tls_seen.clone()).ok();
    let mut r = probe_addr(addr, timeout, picture).await;
    r.tls_fingerprint = seen.and_then(|s| s.fingerprint()).map(|f| f.to_string());
    r
}

async fn probe_addr(
    addr: Result<CameraAddr, IngestError>,
    timeout: Duration,
    picture: Option<WaitForTurn<'_>>,
) -> ProbeResult {
    let first = async move { first_key_frame(addr?).await };
    match tokio::time::timeout(timeout, first).await {
        Err(_) => ProbeResult::failed(&IngestError::Timeout(timeout)),
        Ok(Err(e)) => ProbeResult::failed(&e),
        Ok(Ok((params, has_audio, frame))) => {
            let (width, height) = (params.width, params.height);
            let codec = match params.codec {
                Codec::H264 => "h264",
                Codec::H265 => "h265",
                _ => "other",
            };
            let (snapshot, snapshot_error) = match picture {
                None => (None, None),
                Some(turn) => match decode(params, frame, turn).await {
                    Ok(jpeg) => {
                        use base64::Engine;
                        let b64 = base64::engine::general_purpose::STANDARD.encode(jpeg);
                        (Some(format!("data:image/jpeg;base64,{b64}")), None)
                    }
                    Err(e) => (None, Some(e)),
                },
            };
            ProbeResult {
                ok: true,
                codec: Some(codec.to_owned()),
                width: Some(width),
                height: Some(height),
                has_audio: Some(has_audio),
                snapshot,
                snapshot_error,
                kind: None,
                error: None,
                sub: None,
                tls_fingerprint: None,
            }
        }
    }
}

/// Decodes `frame` into a JPEG off the async runtime, holding a turn from `turn` while it does.
async fn decode(params: StreamParams, frame: bytes::Bytes, turn: WaitForTurn<'_>) -> Result<Vec<u8>, String> {
    let turn = turn.await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        crate::snapshot::jpeg_from_frames(&params, &[frame.as_ref()]).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(format!("decoder failed: {e}")))
}

/// Connects and reads until the video parameters and the first video key frame have arrived.
async fn first_key_frame(addr: CameraAddr) -> Result<(StreamParams, bool, bytes::Bytes), IngestError> {
    let source = ingest::source_for(addr)?;
    // A busy camera (or GStreamer's server while it prepares a stream another client just asked for)
    // answers 503 Service Unavailable, which means "again in a moment": asked up to 3 more times, half a
    // second apart, within the probe's time limit.
    let mut attempt = 0;
    let mut stream = loop {
        match source.connect().await {
            Err(IngestError::Protocol(m)) if m.contains("503") && attempt < 3 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            r => break r?,
        }
    };
    let mut params: Option<(StreamParams, bool)> = None;
    while let Some(ev) = stream.next().await {
        match ev? {
            SourceEvent::Params { video, audio } => params = Some((video, audio.is_some())),
            SourceEvent::Frame(f) if f.stream == StreamKind::Video && f.key => {
                if let Some((p, a)) = params.take() {
                    return Ok((p, a, f.data));
                }
            }
            SourceEvent::Frame(_) => {}
        }
    }
    Err(IngestError::Ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_synthetic_camera_probes_with_a_picture() {
        let r =
            probe(CAM, Login::default(), PROBE_TIMEOUT, Some(Box::pin(async { Ok(Box::new(()) as DecodeTurn) }))).await;
        assert!(r.ok, "{r:?}");
        assert_eq!((r.codec.as_deref(), r.width, r.height), (Some("h264"), Some(320), Some(180)));
        assert!(r.snapshot.as_deref().unwrap_or_default().starts_with("data:image/jpeg;base64,/9j/"));
    }

    const CAM: &str = "demo://synthetic?width=320&height=180&fps=10";

    /// The picture waits for its turn and is decoded while the turn is held; no turn, no decode.
    #[tokio::test]
    async fn the_picture_is_decoded_only_with_a_turn() {
        let held = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        struct Turn(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Turn {
            fn drop(&mut self) {
                self.0.store(false, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let h = held.clone();
        let turn: WaitForTurn<'_> = Box::pin(async move {
            h.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(Box::new(Turn(h)) as DecodeTurn)
        });
        let r = probe(CAM, Login::default(), PROBE_TIMEOUT, Some(turn)).await;
        assert!(r.snapshot.is_some(), "{r:?}");
        assert!(!held.load(std::sync::atomic::Ordering::SeqCst), "the turn is given back after the decode");

        let refused: WaitForTurn<'_> = Box::pin(async { Err("the server is busy with snapshot decodes".to_owned()) });
        let r = probe(CAM, Login::default(), PROBE_TIMEOUT, Some(refused)).await;
        assert!(r.ok && r.snapshot.is_none(), "{r:?}");
        assert_eq!(r.snapshot_error.as_deref(), Some("the server is busy with snapshot decodes"));

        let r = probe(CAM, Login::default(), PROBE_TIMEOUT, None).await;
        assert!(r.ok && r.snapshot.is_none() && r.snapshot_error.is_none(), "{r:?}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_a_bad_scheme_is_named() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let login = Login { username: Some("u"), password: Some("p"), tls_fingerprint: None };
        let r = probe(&format!("rtsp://127.0.0.1:{port}/x"), login, PROBE_TIMEOUT, None).await;
        assert_eq!(r.kind.as_deref(), Some("unreachable"), "{r:?}");
        let r = probe("gopher://h/x", Login::default(), PROBE_TIMEOUT, None).await;
        assert_eq!(r.kind.as_deref(), Some("bad_url"), "{r:?}");
    }
}
