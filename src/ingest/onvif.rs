//! `onvif://user:pass@host[:port]` cameras: ONVIF finds the RTSP address, RTSP does the rest.
//!
//! Why a thin wrapper: an ONVIF camera streams over RTSP like any other; what ONVIF adds is that the user
//! need not know the vendor's RTSP path. The source asks the camera (through `kw_onvif`) for its profiles
//! once, remembers the chosen stream's address, and hands each session to [`RtspSource`] with the same
//! credentials. A session that fails to start forgets the address, so the next attempt asks the camera
//! again (a camera may change its paths after a firmware update or a profile edit).
//!
//! The main stream is the profile with the most pixels; the sub stream (used when the config has no
//! `sub_url`, so motion detection decodes few pixels) is a smaller H.264 profile, or the main one when
//! the camera has none.

use super::rtsp::RtspSource;
use super::still::CameraStill;
use super::{CameraAddr, ConnectFuture, IngestError, Source};
use std::sync::{Arc, Mutex};

/// Which of the camera's streams a source records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Main,
    Sub,
}

pub struct OnvifSource {
    addr: CameraAddr,
    which: Which,
    resolved: Mutex<Option<url::Url>>,
    /// The main profile's snapshot page (GetSnapshotUri), for `snapshot.jpg` of codecs keepwatch cannot
    /// decode (H.265).
    still: Arc<CameraStill>,
}

/// The ONVIF login of a camera address.
pub fn credentials(addr: &CameraAddr) -> Option<kw_onvif::Credentials> {
    match (&addr.username, &addr.password) {
        (Some(u), p) => Some(kw_onvif::Credentials { username: u.clone(), password: p.clone().unwrap_or_default() }),
        (None, Some(p)) => Some(kw_onvif::Credentials { username: String::new(), password: p.clone() }),
        (None, None) => None,
    }
}

/// Sorts `kw_onvif`'s errors into the supervisor's classes (a refused login backs off longest).
pub fn map_error(e: kw_onvif::Error) -> IngestError {
    match e {
        kw_onvif::Error::Auth(m) => IngestError::Auth(format!("ONVIF: {m}")),
        kw_onvif::Error::Unreachable(m) => IngestError::Unreachable(format!("ONVIF: {m}")),
        kw_onvif::Error::Protocol(m) => IngestError::Protocol(format!("ONVIF: {m}")),
        kw_onvif::Error::Fault(f) => IngestError::Protocol(format!("ONVIF: the camera answered with a fault: {f}")),
    }
}

/// A SOAP client for the camera at `addr`: over HTTPS (port 443) it trusts the camera's pinned certificate
/// or the system's authorities, like HTTP cameras.
pub fn client(addr: &CameraAddr, clock: kw_media::clock::SharedClock) -> Result<kw_onvif::Client, kw_onvif::Error> {
    let device = kw_onvif::device::device_url(&addr.url)?;
    let tls = device.starts_with("https:").then(|| addr.tls_config());
    kw_onvif::Client::with_tls(&device, credentials(addr), clock, tls)
}

/// Connects to the camera's ONVIF services; a refused certificate is said as such.
pub async fn connect(addr: &CameraAddr) -> Result<kw_onvif::Camera, IngestError> {
    let c = client(addr, kw_media::clock::SystemClock::shared()).map_err(map_error)?;
    kw_onvif::Camera::connect_with(c).await.map_err(|e| addr.explain(map_error(e)))
}

/// The device service URL of an `onvif://` address.
pub fn device_url(addr: &CameraAddr) -> Result<String, IngestError> {
    kw_onvif::device::device_url(&addr.url).map_err(map_error)
}

/// Scheme, host, port and path of a stream address: what logs may show (queries can hold passwords).
fn loggable(u: &url::Url) -> String {
    format!(
        "{}://{}{}",
        u.scheme(),
        u.host_str().unwrap_or_default(),
        u.port().map(|p| format!(":{p}")).unwrap_or_default()
    ) + u.path()
}

impl OnvifSource {
    pub fn new(addr: CameraAddr, which: Which) -> OnvifSource {
        OnvifSource { addr, which, resolved: Mutex::new(None), still: Arc::new(CameraStill::default()) }
    }

    fn cached(&self) -> Option<url::Url> {
        self.resolved.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn remember(&self, u: Option<url::Url>) {
        *self.resolved.lock().unwrap_or_else(|e| e.into_inner()) = u;
    }

    /// The camera's snapshot page, when it names one on its own host (the camera's password goes there).
    fn snapshot_page(&self, uri: Option<&str>) -> Option<super::http::poll::SnapshotPage> {
        let url = url::Url::parse(uri?).ok()?;
        let own = url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(self.addr.url.host_str().unwrap_or_default()));
        if !matches!(url.scheme(), "http" | "https") || !own {
            tracing::info!(
                "ONVIF camera {}: its snapshot page {} is not on its own host; not used",
                super::redact(&self.addr.url),
                loggable(&url)
            );
            return None;
        }
        let addr =
            CameraAddr::parse(url.as_str(), self.addr.username.as_deref(), self.addr.password.as_deref()).ok()?;
        super::http::poll::SnapshotPage::new(addr).ok()
    }

    /// Asks the camera for the stream's RTSP address.
    async fn resolve(&self) -> Result<url::Url, IngestError> {
        let cam = connect(&self.addr).await?;
        let streams = cam.streams().await.map_err(map_error)?;
        // Who made it, for the log only (a camera that will not say still streams).
        let maker = match cam.device_info().await {
            // The camera's own words: one bounded, escaped value in the log.
            Ok(i) => {
                let m = format!("{} {}", i.manufacturer, i.model);
                let m = m.trim();
                if m.is_empty() {
                    String::new()
                } else {
                    kw_logsafe::Untrusted(m).to_string()
                }
            }
            Err(_) => String::new(),
        };
        let chosen = match (self.which, streams.sub) {
            (Which::Main, _) => streams.main,
            (Which::Sub, Some(sub)) => sub,
            (Which::Sub, None) => {
                tracing::info!(
                    "ONVIF camera {} has no smaller H.264 profile: the sub stream is the main one",
                    super::redact(&self.addr.url)
                );
                streams.main
            }
        };
        if self.which == Which::Main {
            self.still.set_page(self.snapshot_page(chosen.snapshot.as_deref()));
        }
        let mut url = url::Url::parse(&chosen.uri)
            .map_err(|e| IngestError::Protocol(format!("ONVIF: the camera gave a bad stream address: {e}")))?;
        if url.scheme() != "rtsp" {
            return Err(IngestError::Unsupported(format!(
                "ONVIF: the camera's stream is {}://, keepwatch needs rtsp://",
                url.scheme()
            )));
        }
        // keepwatch sends the configured credentials itself.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let p = &chosen.profile;
        tracing::info!(
            "ONVIF camera {} ({}): {:?} stream is profile {} ({} {}x{}) at {}",
            super::redact(&self.addr.url),
            if maker.is_empty() { "maker unknown" } else { &maker },
            self.which,
            kw_logsafe::Untrusted(&p.name),
            kw_logsafe::Untrusted(&p.encoding),
            p.width,
            p.height,
            kw_logsafe::Untrusted(&loggable(&url))
        );
        Ok(url)
    }
}

impl Source for OnvifSource {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let url = match self.cached() {
                Some(u) => u,
                None => {
                    let u = self.resolve().await?;
                    self.remember(Some(u.clone()));
                    u
                }
            };
            let rtsp = RtspSource::new(CameraAddr { url, ..self.addr.clone() });
            match rtsp.connect().await {
                Ok(stream) => Ok(stream),
                Err(e) => {
                    // Ask the camera again next time: the address may have changed.
                    self.remember(None);
                    Err(e)
                }
            }
        })
    }

    fn still(&self) -> Option<Arc<CameraStill>> {
        (self.which == Which::Main).then(|| self.still.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_addresses() {
        let a = CameraAddr::parse("onvif://admin:pw@10.0.0.5:8000", None, None).unwrap();
        assert_eq!(device_url(&a).unwrap(), "http://10.0.0.5:8000/onvif/device_service");
        assert_eq!(credentials(&a).map(|c| c.username), Some("admin".into()));
        let e = map_error(kw_onvif::Error::Auth("the camera refused the username or password".into()));
        assert!(
            matches!(e, IngestError::Auth(_)) && e.to_string().starts_with("wrong username or password: ONVIF"),
            "{e}"
        );
        let u = url::Url::parse("rtsp://h:554/live?user=admin&password=x").unwrap();
        assert_eq!(loggable(&u), "rtsp://h:554/live");
    }
}
