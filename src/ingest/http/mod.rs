//! Cameras that speak plain HTTP: an MJPEG stream (`multipart/x-mixed-replace`, e.g. `/goform/video`) or
//! one JPEG per request (`/goform/snapshot`), with Basic or Digest auth.
//!
//! Why this exists: many orphaned cameras offer nothing else. They become H.264 cameras here (see
//! [`encode`]), so the recorder, export and live view work on them unchanged; their decoded pictures also
//! feed motion detection directly (the luma side channel), so nothing is decoded twice.
//!
//! One URL serves both kinds: the answer's `Content-Type` decides (`multipart/*` → [`stream`], `image/*` →
//! [`poll`]). The jobs: `kw_mjpeg` (pictures out of a stream whose headers cannot be trusted; a crate of
//! its own so it can be fuzzed without the daemon), [`stream`]
//! and [`poll`] (fetching, with the camera quirks named where handled), [`encode`] (JPEG → H.264 on a thread
//! of its own). Logging in (Basic + Digest, the nonce count, stale nonces) is `kw_camauth`'s, shared with
//! ONVIF; one [`Login`] per source lives as long as the source, so every request after the first
//! challenge carries credentials up front, and once Digest has worked the source never answers Basic
//! (a downgrade by someone in between; see `kw_camauth::login`).
//!
//! Redirects: followed (at most [`MAX_REDIRECTS`]) only within the camera's own origin (scheme, host and
//! port of the configured URL), where the credentials were meant to go. A redirect anywhere else is not
//! followed and is an error naming the other address: the password is never sent where the user did not
//! put it (reqwest would drop the `Authorization` header, but the retry after the other host's 401 would
//! answer its challenge with the password), and the fix is to configure the camera's real address.
//!
//! HTTPS: the system's certificate authorities, or exactly the certificate the admin accepted for this
//! camera (`tls_fingerprint`, see `kw_camtls`); a refused certificate is [`IngestError::Certificate`] with
//! its fingerprint, never a generic connection error.
//!
//! A session: the first request answers [`Source::connect`]; a fetcher task then reads pictures and hands
//! them to the encoder thread through a small queue (full queue: the picture is dropped, so a slow encoder
//! never backs up the camera), and the encoder yields `Params` then `Frame`s. Errors are sorted into
//! [`IngestError`]s so the supervisor's back-off applies; a dropped session stops the fetcher and encoder.

pub mod encode;
pub mod poll;
pub mod stream;

pub use encode::EncodeSettings;

use super::still::CameraStill;
use super::{redact, CameraAddr, ConnectFuture, IngestError, LumaSender, Source, SourceEvent, SourceStream};
use kw_camauth::{Credentials, Login, Refusal};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long connecting (TCP + TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the answer's headers may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(8);
/// Pictures waiting for the encoder; more are dropped.
const PICTURE_QUEUE: usize = 3;
/// The most redirects followed within the camera's origin.
pub const MAX_REDIRECTS: usize = 5;

/// Scheme, host and port (the scheme's default when none is written): where a URL's credentials belong.
fn origin(u: &url::Url) -> (String, Option<String>, Option<u16>) {
    (u.scheme().to_ascii_lowercase(), u.host_str().map(str::to_ascii_lowercase), u.port_or_known_default())
}

/// `scheme://host[:port]` of `u`, for messages (no path or query: those may hold a password).
fn origin_text(u: &url::Url) -> String {
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{}{port}", u.scheme(), u.host_str().unwrap_or_default())
}

/// Follows redirects within the first URL's origin only; any other redirect is handed back unfollowed.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let home = attempt.previous().first().map(origin);
        if home.is_none_or(|h| h != origin(attempt.url())) {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// What a session's fetcher and the source share.
struct Inner {
    client: reqwest::Client,
    url: url::Url,
    /// The URL without credentials, for logs.
    label: String,
    auth: Mutex<Login>,
    /// The last TLS handshake (a refused certificate is explained as such).
    tls_seen: kw_camtls::Seen,
}

pub struct HttpSource {
    inner: Arc<Inner>,
    settings: EncodeSettings,
    luma: Mutex<Option<LumaSender>>,
    /// The camera's last JPEG, for `snapshot.jpg` (served as the camera sent it).
    still: Arc<CameraStill>,
}

impl HttpSource {
    pub fn new(addr: CameraAddr, settings: EncodeSettings) -> Result<Self, IngestError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(format!("keepwatch/{}", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(1)
            .redirect(same_origin_redirects());
        if addr.url.scheme() == "https" {
            // The system's authorities, or the camera's pinned certificate (self-signed cameras).
            builder = builder.use_preconfigured_tls(addr.tls_config());
        }
        let client = builder.build().map_err(|e| IngestError::Unsupported(format!("cannot set up HTTP: {e}")))?;
        let tls_seen = addr.tls_seen.clone();
        let auth = Login::new(Credentials::from_parts(addr.username.as_deref(), addr.password.as_deref()));
        let label = redact(&addr.url);
        Ok(HttpSource {
            inner: Arc::new(Inner { client, url: addr.url, label, auth: Mutex::new(auth), tls_seen }),
            settings,
            luma: Mutex::new(None),
            still: Arc::new(CameraStill::default()),
        })
    }
}

/// Sorts reqwest's errors. The URL is taken out of the text: [`CameraAddr`] moved the userinfo out, but
/// cheap cameras take their password in the query (`?user=admin&pwd=...`), and this text reaches logs,
/// the status API and probe answers.
fn classify(e: reqwest::Error) -> IngestError {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    if e.is_timeout() {
        IngestError::Unreachable(format!("no answer in time ({text})"))
    } else if e.is_connect() || e.is_request() || e.is_body() {
        IngestError::Unreachable(text)
    } else {
        IngestError::Protocol(text)
    }
}

impl Inner {
    fn lock_auth(&self) -> std::sync::MutexGuard<'_, Login> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One GET with whatever login the camera wants: every request authenticates afresh (a new Digest `nc`,
    /// a new nonce when the old one went stale). `timeout` bounds the whole exchange (snapshots) or, when
    /// `None`, only the wait for the headers (streams).
    async fn get(&self, timeout: Option<Duration>) -> Result<reqwest::Response, IngestError> {
        let uri = match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        };
        for _ in 0..3 {
            let authorization = self.lock_auth().authorization("GET", &uri);
            let mut req = self.client.get(self.url.clone());
            if let Some(a) = authorization {
                req = req.header(AUTHORIZATION, a);
            }
            if let Some(t) = timeout {
                req = req.timeout(t);
            }
            let resp = match tokio::time::timeout(timeout.unwrap_or(ANSWER_TIMEOUT), req.send()).await {
                Err(_) => return Err(IngestError::Unreachable("no answer in time".into())),
                Ok(r) => r.map_err(|e| match self.tls_seen.refused() {
                    Some(refused) => IngestError::Certificate(refused.to_string()),
                    None => classify(e),
                })?,
            };
            let status = resp.status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                let challenges: Vec<String> = resp
                    .headers()
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
                match self.lock_auth().refused(&challenges) {
                    Refusal::Retry => continue,
                    Refusal::Fail(why) => return Err(IngestError::Auth(why.to_string())),
                }
            }
            if status.is_redirection() {
                let to = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| self.url.join(l).ok())
                    .map(|u| origin_text(&u))
                    .unwrap_or_else(|| "an address it does not name".into());
                return Err(IngestError::Protocol(format!(
                    "the camera redirects to {to} (HTTP {}); keepwatch sends a camera's password only to the \
                     address configured: put the address the camera redirects to in its URL",
                    status.as_u16()
                )));
            }
            if status == reqwest::StatusCode::FORBIDDEN {
                return Err(IngestError::Auth("the camera forbids this user that page (403)".into()));
            }
            if status == reqwest::StatusCode::NOT_FOUND {
                return Err(IngestError::Protocol("no such page on the camera (404): check the URL's path".into()));
            }
            if !status.is_success() {
                return Err(IngestError::Protocol(format!("the camera answered HTTP {status}")));
            }
            self.lock_auth().accepted();
            return Ok(resp);
        }
        Err(IngestError::Auth("the camera keeps asking for a new login".into()))
    }
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Ends the fetcher when the session's stream is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Source for HttpSource {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let inner = self.inner.clone();
            let resp = inner.get(None).await?;
            let ct = content_type(&resp);
            let (ptx, prx) = mpsc::channel(PICTURE_QUEUE);
            let fetcher = if kw_mjpeg::is_multipart(&ct) {
                tracing::debug!(url = %inner.label, boundary = ?kw_mjpeg::boundary_of(&ct), "MJPEG stream");
                tokio::spawn(stream::run(inner.clone(), resp, self.settings.fps, ptx))
            } else if ct.to_ascii_lowercase().starts_with("image/") || ct.is_empty() {
                // A snapshot URL (an empty type is sniffed: the poller checks each body for a JPEG).
                let fps = self.settings.fps.unwrap_or(poll::DEFAULT_FPS);
                tokio::spawn(poll::run(inner.clone(), resp, fps, ptx))
            } else {
                return Err(IngestError::Unsupported(format!(
                    "the camera answered with {ct}, neither an MJPEG stream (multipart) nor a JPEG picture"
                )));
            };
            let guard = AbortOnDrop(fetcher.abort_handle());
            let (tx, rx) = mpsc::channel(16);
            let luma = self.luma.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let (settings, label, still) = (self.settings, inner.label.clone(), self.still.clone());
            std::thread::Builder::new()
                .name("mjpeg-encode".into())
                .spawn(move || encode::run(label, settings, prx, tx, luma, Some(still)))
                .map_err(|e| IngestError::Protocol(format!("cannot start the encoder thread: {e}")))?;
            let events = futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
                rx.recv().await.map(|ev: Result<SourceEvent, IngestError>| (ev, (rx, guard)))
            });
            Ok(Box::pin(events) as SourceStream)
        })
    }

    fn still(&self) -> Option<Arc<CameraStill>> {
        Some(self.still.clone())
    }

    fn luma_tap(&self, tx: LumaSender) -> bool {
        *self.luma.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        true
    }
}

#[cfg(test)]
mod login_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(origin(&u("http://Cam:80/a")), origin(&u("http://cam/b?x")));
        assert_ne!(origin(&u("http://cam/a")), origin(&u("http://cam:8080/a")));
        assert_ne!(origin(&u("http://cam/a")), origin(&u("https://cam/a")));
        assert_ne!(origin(&u("http://cam/a")), origin(&u("http://other/a")));
        assert_eq!(origin_text(&u("http://u:p@cam:81/x?pwd=s")), "http://cam:81");
    }

    #[tokio::test]
    async fn request_errors_do_not_carry_the_url() {
        // Nothing listens on port 1: a connect error, whose text would name the URL with its query.
        let e = reqwest::Client::new().get("http://127.0.0.1:1/snapshot.cgi?pwd=s3cret").send().await.unwrap_err();
        assert!(e.to_string().contains("s3cret"), "the premise: reqwest names the URL");
        let text = classify(e).to_string();
        assert!(!text.contains("s3cret"), "{text}");
    }
}
