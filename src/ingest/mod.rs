//! Ingest: turning a camera into a stream of access units, without decoding them.
//!
//! Every kind of camera sits behind the [`Source`] seam (RTSP through retina, the built-in synthetic
//! camera of `keepwatch demo`, later MJPEG and ONVIF). A source yields [`SourceEvent`]s with the camera's
//! own timestamps and arrival instants; the camera supervisor maps them to local media time (see
//! [`timeline`]) and publishes them to the camera's hub. Sources never see the store.

pub mod access_unit;
pub mod http;
pub mod onvif;
pub mod rtsp;
pub mod still;
pub mod synthetic;
pub mod timeline;

use bytes::Bytes;
use futures::Stream;
use kw_media::{StreamKind, StreamParams};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// What a connected source yields.
#[derive(Clone, Debug)]
pub enum SourceEvent {
    /// The streams' parameters: before the first frame, and again whenever they change (a new run).
    Params {
        video: StreamParams,
        audio: Option<StreamParams>,
    },
    Frame(SourceFrame),
}

#[derive(Clone, Debug)]
pub struct SourceFrame {
    pub stream: StreamKind,
    /// The camera's timestamp in ticks of `clock_rate`, extended monotonically across 32-bit wraps.
    pub ts: i64,
    pub clock_rate: u32,
    pub key: bool,
    pub loss: bool,
    pub data: Bytes,
    pub arrival: Instant,
}

pub type SourceStream = Pin<Box<dyn Stream<Item = Result<SourceEvent, IngestError>> + Send>>;
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = Result<SourceStream, IngestError>> + Send + 'a>>;

/// A camera keepwatch can connect to.
pub trait Source: Send + Sync {
    /// Opens one session to the camera.
    fn connect(&self) -> ConnectFuture<'_>;

    /// Offers the source a channel for the decoded pictures it has anyway (MJPEG/JPEG cameras decode each
    /// picture to encode it): true when it will send them, and the motion pipeline then reads those
    /// instead of decoding H.264 a second time. Sources that never decode keep the default.
    fn luma_tap(&self, _tx: LumaSender) -> bool {
        false
    }

    /// The camera's own pictures (its JPEGs, its snapshot page), for `snapshot.jpg`; see [`still`].
    fn still(&self) -> Option<std::sync::Arc<still::CameraStill>> {
        None
    }
}

/// A decoded picture's luma plane (the side channel of [`Source::luma_tap`]).
#[derive(Debug)]
pub struct LumaFrame {
    /// Wall-clock time the picture arrived (µs since the Unix epoch).
    pub wall: kw_media::WallMicros,
    pub width: usize,
    pub height: usize,
    /// `width × height` bytes, no padding.
    pub y: Vec<u8>,
    /// The camera's own JPEG, when there is one (an event's picture without encoding one).
    pub jpeg: Option<Bytes>,
}

#[derive(Debug)]
pub enum LumaEvent {
    Frame(LumaFrame),
    /// The session ended (an event in progress ends with its last picture).
    Stopped,
}

/// A plain (std) channel: the source's encoder thread sends, the motion thread receives, and neither needs
/// the async runtime, so stopping a camera never waits on it.
pub type LumaSender = std::sync::mpsc::SyncSender<LumaEvent>;

/// Why a camera session failed. The variant decides the reconnect back-off; the text is what the user
/// sees in logs and in the camera's status (never a password).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("wrong username or password: {0}")]
    Auth(String),
    #[error("cannot reach the camera: {0}")]
    Unreachable(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("the camera offers no video stream keepwatch can record ({0})")]
    NoVideo(String),
    #[error("the camera sent something keepwatch does not understand: {0}")]
    Protocol(String),
    #[error("the camera sent nothing for {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("the camera ended the stream")]
    Ended,
    #[error("bad camera URL: {0}")]
    BadUrl(String),
    /// The camera's HTTPS certificate was refused (untrusted, or not the pinned one): the text says which
    /// and gives its fingerprint.
    #[error("{0}")]
    Certificate(String),
}

impl IngestError {
    /// Errors that retrying soon cannot fix (a wrong password, an untrusted certificate, a codec or stream
    /// keepwatch cannot record): back off longer, never hammer a camera.
    pub fn is_lasting(&self) -> bool {
        matches!(
            self,
            IngestError::Auth(_) | IngestError::Certificate(_) | IngestError::Unsupported(_) | IngestError::NoVideo(_)
        )
    }
}

/// Credentials and address of a camera, merged from the URL and the config's username/password.
#[derive(Clone)]
pub struct CameraAddr {
    pub url: url::Url,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `tls_fingerprint`: the one certificate trusted for HTTPS (else the system's authorities decide).
    pub tls_pin: Option<kw_camtls::Fingerprint>,
    /// What this address's last TLS handshake saw and why it was refused (the probe offers the fingerprint;
    /// a refusal becomes [`IngestError::Certificate`]). Clones share it.
    pub tls_seen: kw_camtls::Seen,
}

impl std::fmt::Debug for CameraAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", redact(&self.url))
    }
}

/// The URL without credentials: what logs and status may show.
pub fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    // Secret-looking query values too (`snapshot.cgi?user=admin&pwd=...`).
    kw_config::redacted_url(u.as_str())
}

impl CameraAddr {
    /// Parses a camera URL, moving any credentials out of it.
    pub fn parse(raw: &str, username: Option<&str>, password: Option<&str>) -> Result<Self, IngestError> {
        let mut url = url::Url::parse(raw).map_err(|e| IngestError::BadUrl(format!("{e}")))?;
        let mut user = (!url.username().is_empty()).then(|| percent_decode(url.username()));
        let mut pass = url.password().map(percent_decode);
        if let Some(u) = username {
            user = Some(u.to_owned());
        }
        if let Some(p) = password {
            pass = Some(p.to_owned());
        }
        let _ = url.set_password(None);
        let _ = url.set_username("");
        Ok(CameraAddr { url, username: user, password: pass, tls_pin: None, tls_seen: kw_camtls::Seen::default() })
    }

    /// Pins the camera's HTTPS certificate (`tls_fingerprint`, validated with the config; checked again).
    pub fn with_tls_pin(mut self, pin: Option<&str>) -> Result<Self, IngestError> {
        self.tls_pin = match pin {
            None => None,
            Some(p) => Some(p.parse().map_err(|e: kw_camtls::BadFingerprint| IngestError::BadUrl(e.to_string()))?),
        };
        Ok(self)
    }

    /// The rustls config HTTPS to this camera uses: the pin or the system's authorities, recording each
    /// handshake in [`CameraAddr::tls_seen`].
    pub fn tls_config(&self) -> rustls::ClientConfig {
        kw_camtls::client_config(self.tls_pin, self.tls_seen.clone())
    }

    /// The error for a failed request: [`IngestError::Certificate`] when the camera's certificate was
    /// refused, else `otherwise`.
    pub fn explain(&self, otherwise: IngestError) -> IngestError {
        match self.tls_seen.refused() {
            Some(r) => IngestError::Certificate(r.to_string()),
            None => otherwise,
        }
    }
}

/// Decodes `%XX` escapes (a `%` without two hex digits stays as it is; invalid UTF-8 becomes U+FFFD).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Picks the source for a camera URL.
pub fn source_for(addr: CameraAddr) -> Result<Box<dyn Source>, IngestError> {
    match addr.url.scheme() {
        "rtsp" => Ok(Box::new(rtsp::RtspSource::new(addr))),
        "rtsps" => Err(IngestError::Unsupported(
            "rtsps:// (RTSP over TLS) is not supported yet; use the camera's rtsp:// URL".into(),
        )),
        "demo" => Ok(Box::new(synthetic::SyntheticSource::from_url(&addr.url)?)),
        "http" | "https" => Ok(Box::new(http::HttpSource::new(addr, http::EncodeSettings::default())?)),
        "onvif" => Ok(Box::new(onvif::OnvifSource::new(addr, onvif::Which::Main))),
        other => Err(IngestError::BadUrl(format!("unknown scheme {other}://"))),
    }
}

/// Like [`source_for`], with the `[cameras.encode]` settings that cameras keepwatch encodes (MJPEG/JPEG)
/// use; other sources ignore them.
pub fn source_with_encode(addr: CameraAddr, encode: http::EncodeSettings) -> Result<Box<dyn Source>, IngestError> {
    match addr.url.scheme() {
        "http" | "https" => Ok(Box::new(http::HttpSource::new(addr, encode)?)),
        _ => source_for(addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_move_out_of_the_url() {
        let a = CameraAddr::parse("rtsp://admin:s%40cret@10.0.0.1:554/s1", None, None).unwrap();
        assert_eq!(a.username.as_deref(), Some("admin"));
        assert_eq!(a.password.as_deref(), Some("s@cret"));
        assert_eq!(a.url.as_str(), "rtsp://10.0.0.1:554/s1");
        assert!(!format!("{a:?}").contains("cret"));
        let b = CameraAddr::parse("rtsp://u:p@h/s", Some("x"), Some("y")).unwrap();
        assert_eq!((b.username.as_deref(), b.password.as_deref()), (Some("x"), Some("y")));
        // A password in the query (cheap HTTP cameras) stays out of logs too.
        let c = CameraAddr::parse("http://h/snapshot.cgi?user=admin&pwd=s3cret", None, None).unwrap();
        assert_eq!(redact(&c.url), "http://h/snapshot.cgi?user=admin&pwd=***");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn percent_decoding_never_splits_a_character() {
        assert_eq!(percent_decode("a%40b%é%4"), "a@b%é%4");
    }

    #[test]
    fn rtsps_is_a_clear_no() {
        let a = CameraAddr::parse("rtsps://h/s", None, None).unwrap();
        let e = source_for(a).err().unwrap();
        assert!(e.to_string().contains("not supported yet"), "{e}");
    }
}
