//! The SOAP client: envelopes, WS-Security UsernameToken (PasswordDigest), HTTP Digest, and the camera's
//! clock.
//!
//! Why the clock matters: a PasswordDigest covers the `Created` time, and cameras refuse tokens created
//! "too far" from their own clock (often ±5 s). Cameras' clocks are routinely minutes or hours off (no
//! NTP, wrong time zone set as UTC), so before the first authenticated call the client asks the camera
//! for its time (GetSystemDateAndTime needs no credentials) and writes `Created` in the camera's time. A
//! `NotAuthorized` fault re-reads the clock and retries once, because the camera's clock may have been
//! set since.
//!
//! Why HTTP Digest too: some cameras ignore WS-Security and answer 401 with an HTTP Digest challenge; the
//! client then answers the challenge (and keeps sending the UsernameToken, which such cameras ignore). The
//! Digest itself is `kw_camauth`'s, the same as for MJPEG cameras; only Digest is answered here, never
//! Basic (which would put the password on the wire in the clear).
//!
//! Why redirects are not followed: a 307 would make the HTTP client send the envelope, UsernameToken
//! included, wherever the answer points. ONVIF services do not redirect, so a redirect is an error.
//!
//! Answers are checked and read off the async runtime ([`xml::off_runtime`], [`Client::call_read`]): a
//! hostile camera's answer costs a blocking-pool thread for a bounded time, never the runtime that serves
//! HTTP and drives recording.

use crate::xml;
use crate::Error;
use base64::Engine;
use kw_camauth::{Login, Refusal};
use kw_media::clock::{SharedClock, SystemClock};
use sha1::Digest as _;
use std::sync::Mutex;
use std::time::Duration;

/// SOAP 1.2 envelope namespace.
pub const SOAP_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";
/// Namespaces the request bodies use, declared once on every envelope.
const NAMESPACES: &str = concat!(
    r#"xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:tds="http://www.onvif.org/ver10/device/wsdl" "#,
    r#"xmlns:trt="http://www.onvif.org/ver10/media/wsdl" "#,
    r#"xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" "#,
    r#"xmlns:tt="http://www.onvif.org/ver10/schema" "#,
    r#"xmlns:tev="http://www.onvif.org/ver10/events/wsdl" "#,
    r#"xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" "#,
    r#"xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" "#,
    r#"xmlns:wsa="http://www.w3.org/2005/08/addressing""#
);
const WSSE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const DIGEST_TYPE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const NONCE_TYPE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// How long a normal call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A camera login (the same type MJPEG cameras use). `Debug` never shows the password.
pub use kw_camauth::Credentials;

/// Base64(SHA1(nonce + created + password)): the WS-Security PasswordDigest.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut h = sha1::Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// The `wsse:Security` header for `creds` at camera time `created_ms`.
pub fn security_header(creds: &Credentials, created_ms: i64, nonce: &[u8]) -> String {
    let created = crate::xstime::format_utc(created_ms);
    let digest = password_digest(nonce, &created, &creds.password);
    let nonce = base64::engine::general_purpose::STANDARD.encode(nonce);
    format!(
        r#"<wsse:Security s:mustUnderstand="1" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type="{DIGEST_TYPE}">{digest}</wsse:Password><wsse:Nonce EncodingType="{NONCE_TYPE}">{nonce}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"#,
        xml::escape(&creds.username)
    )
}

/// A whole SOAP 1.2 envelope.
pub fn envelope(header: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope {NAMESPACES}><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// `N` random bytes; `fallback` (the time, say) stands in when the OS has no randomness (never seen on a
/// real system), still unique per call.
fn random_bytes<const N: usize>(fallback: i64) -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::getrandom(&mut b).is_err() {
        let t = fallback.to_le_bytes();
        for (i, x) in b.iter_mut().enumerate() {
            *x = t[i % t.len()] ^ (i as u8);
        }
    }
    b
}

struct State {
    /// Camera clock minus ours, ms; `None` until asked.
    offset_ms: Option<i64>,
    /// HTTP Digest: what the camera asked for last and the request count under its nonce.
    login: Login,
}

/// A SOAP client for one camera (one set of credentials).
pub struct Client {
    http: reqwest::Client,
    creds: Option<Credentials>,
    /// Where "now" comes from (WS-Security `Created`, the camera clock offset, motion timing).
    clock: SharedClock,
    /// The device service, where GetSystemDateAndTime is asked.
    device_url: String,
    state: Mutex<State>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "onvif::Client({})", self.device_url)
    }
}

/// An HTTP answer, body capped at [`xml::MAX_BODY`].
struct Answer {
    status: u16,
    body: String,
    challenges: Vec<String>,
}

fn unreachable(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Unreachable("the camera did not answer in time".into())
    } else if e.is_connect() {
        Error::Unreachable("cannot connect to the camera's ONVIF service".into())
    } else {
        Error::Unreachable(format!("ONVIF request failed: {}", e.without_url()))
    }
}

impl Client {
    /// A client on the system clock.
    pub fn new(device_url: &str, creds: Option<Credentials>) -> Result<Client, Error> {
        Client::with_clock(device_url, creds, SystemClock::shared())
    }

    /// A client that asks `clock` for the time.
    pub fn with_clock(device_url: &str, creds: Option<Credentials>, clock: SharedClock) -> Result<Client, Error> {
        Client::with_tls(device_url, creds, clock, None)
    }

    /// Like [`Client::with_clock`], speaking HTTPS with `tls` (e.g. a camera's pinned self-signed
    /// certificate) instead of the system's certificate authorities.
    pub fn with_tls(
        device_url: &str,
        creds: Option<Credentials>,
        clock: SharedClock,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<Client, Error> {
        let mut builder = reqwest::Client::builder();
        if let Some(tls) = tls {
            builder = builder.use_preconfigured_tls(tls);
        }
        let http = builder
            .no_proxy()
            // A redirect would carry the envelope, UsernameToken included, wherever the answer points; ONVIF
            // services do not redirect, so one is an error naming its status.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("keepwatch-onvif/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Protocol(format!("cannot make an HTTP client: {e}")))?;
        let state = State { offset_ms: None, login: Login::digest_only(creds.clone()) };
        Ok(Client { http, creds, clock, device_url: device_url.to_owned(), state: Mutex::new(state) })
    }

    pub fn device_url(&self) -> &str {
        &self.device_url
    }

    /// Our wall clock in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.wall().div_euclid(1000)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The camera's clock minus ours in ms, as last measured.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.state().offset_ms
    }

    /// Asks the camera for its UTC time (no credentials) and remembers the offset to ours. A camera that
    /// does not tell leaves the offset at 0.
    pub async fn sync_clock(&self) -> Result<i64, Error> {
        let before = self.now_ms();
        let body = "<tds:GetSystemDateAndTime/>";
        let answer = self
            .post(
                &self.device_url,
                "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime",
                &envelope("", body),
                CALL_TIMEOUT,
                false,
            )
            .await;
        let after = self.now_ms();
        let result = match answer {
            Ok(a) => xml::off_runtime(move || check_answer(a).and_then(|t| crate::device::parse_system_time(&t))).await,
            Err(e) => Err(e),
        };
        let offset = match result {
            Ok(Some(camera_ms)) => camera_ms - (before + after) / 2,
            Ok(None) => 0,
            Err(e @ Error::Unreachable(_)) => return Err(e),
            Err(e) => {
                tracing::debug!(url = %self.device_url, "camera time unknown ({}); assuming ours", kw_logsafe::OneLine(&e.to_string()));
                0
            }
        };
        if offset.abs() > 5_000 {
            tracing::debug!(url = %self.device_url, "camera clock is {} s off; correcting WS-Security times", offset / 1000);
        }
        self.state().offset_ms = Some(offset);
        Ok(offset)
    }

    /// An authenticated call (when the client has credentials) with the normal timeout; returns the answer's
    /// text, which is not a fault.
    pub async fn call(&self, url: &str, action: &str, body: &str) -> Result<String, Error> {
        self.call_with(url, action, "", body, CALL_TIMEOUT).await
    }

    /// Like [`Client::call`], the answer read by `read` off the async runtime (see [`Client::call_read`]).
    pub async fn call_parsed<T: Send + 'static>(
        &self,
        url: &str,
        action: &str,
        body: &str,
        read: impl FnOnce(&str) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.call_read(url, action, "", body, CALL_TIMEOUT, read).await
    }

    /// Like [`Client::call`] with extra header elements (WS-Addressing) and a timeout (long polls).
    pub async fn call_with(
        &self,
        url: &str,
        action: &str,
        extra_header: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<String, Error> {
        self.call_read(url, action, extra_header, body, timeout, |text| Ok(text.to_owned())).await
    }

    /// An authenticated call whose answer `read` turns into the result. The answer is checked (faults,
    /// HTTP errors) and read off the async runtime ([`xml::off_runtime`]), so a camera's hostile answer
    /// costs a blocking-pool thread for a bounded time, never the runtime.
    pub async fn call_read<T: Send + 'static>(
        &self,
        url: &str,
        action: &str,
        extra_header: &str,
        body: &str,
        timeout: Duration,
        mut read: impl FnOnce(&str) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        if self.creds.is_some() && self.state().offset_ms.is_none() {
            self.sync_clock().await?;
        }
        let mut attempt = 0;
        loop {
            let security = match &self.creds {
                Some(c) => {
                    let now = self.now_ms();
                    let created = now + self.state().offset_ms.unwrap_or(0);
                    security_header(c, created, &random_bytes::<16>(now))
                }
                None => String::new(),
            };
            let env = envelope(&format!("{security}{extra_header}"), body);
            let a = self.post(url, action, &env, timeout, true).await;
            // Checked and read in one trip to the blocking pool; `read` comes back when the check fails.
            let outcome = match a {
                Ok(a) => {
                    xml::off_runtime(move || {
                        Ok(match check_answer(a) {
                            Ok(text) => Ok(read(&text)),
                            Err(e) => Err((e, read)),
                        })
                    })
                    .await?
                }
                Err(e) => return Err(e),
            };
            match outcome {
                Ok(result) => return result,
                Err((Error::Auth(_), again)) if attempt == 0 && self.creds.is_some() => {
                    // The camera's clock may have moved (or was never read right): read it again, once.
                    attempt += 1;
                    read = again;
                    self.sync_clock().await?;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// One POST (plus an HTTP Digest round when challenged); the answer, unread, unless it is a 401.
    async fn post(&self, url: &str, action: &str, env: &str, timeout: Duration, auth: bool) -> Result<Answer, Error> {
        let uri_path = url::Url::parse(url)
            .map(|u| match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            })
            .map_err(|e| Error::Protocol(format!("bad service address {url:?}: {e}")))?;
        let mut answered_challenge = false;
        loop {
            let authorization = match (&self.creds, auth) {
                (Some(_), true) => self.state().login.authorization("POST", &uri_path),
                _ => None,
            };
            let a = self.send(url, action, env, timeout, authorization).await?;
            if a.status == 401 {
                let refused = || Error::Auth("the camera refused the username or password (HTTP 401)".into());
                match (&self.creds, auth) {
                    (None, _) => return Err(Error::Auth("the camera needs a username and password".into())),
                    (Some(_), false) => return Err(refused()),
                    (Some(_), true) => match self.state().login.refused(&a.challenges) {
                        Refusal::Retry if !answered_challenge => {
                            answered_challenge = true;
                            continue;
                        }
                        _ => return Err(refused()),
                    },
                }
            }
            if auth {
                self.state().login.accepted();
            }
            return Ok(a);
        }
    }

    async fn send(
        &self,
        url: &str,
        action: &str,
        env: &str,
        timeout: Duration,
        authorization: Option<String>,
    ) -> Result<Answer, Error> {
        let mut req = self
            .http
            .post(url)
            .timeout(timeout)
            .header("Content-Type", format!(r#"application/soap+xml; charset=utf-8; action="{action}""#))
            .body(env.to_owned());
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let challenges = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > xml::MAX_BODY {
                return Err(Error::Protocol(format!("the camera's answer is over {} bytes", xml::MAX_BODY)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body: String::from_utf8_lossy(&body).into_owned(), challenges })
    }
}

/// What the client makes of an answer with HTTP `status` and `body`: its text when it is a 2xx without a
/// fault, else the error (a fault sorted into auth or other, an HTTP error). The entry point for fuzzing
/// SOAP answers; linear in `body` ([`xml::parse`]), so call it off the async runtime.
pub fn read_answer(status: u16, body: &[u8]) -> Result<String, Error> {
    if body.len() > xml::MAX_BODY {
        return Err(Error::Protocol(format!("the camera's answer is over {} bytes", xml::MAX_BODY)));
    }
    check_answer(Answer { status, body: String::from_utf8_lossy(body).into_owned(), challenges: Vec::new() })
}

/// A 2xx answer without a fault is the result; a fault is sorted into auth or other; the rest is HTTP.
fn check_answer(a: Answer) -> Result<String, Error> {
    let parsed = xml::parse(&a.body);
    if let Ok(doc) = &parsed {
        if let Some(f) = xml::fault(doc) {
            if f.is_not_authorized() {
                return Err(Error::Auth(format!("the camera refused the username or password ({f})")));
            }
            return Err(Error::Fault(f));
        }
    }
    match (a.status, parsed) {
        (200..=299, Ok(_)) => Ok(a.body),
        (200..=299, Err(e)) => Err(e),
        (403, _) => Err(Error::Auth("the camera refused access (HTTP 403)".into())),
        (404, _) => Err(Error::Protocol("the camera has no ONVIF service at this address (HTTP 404)".into())),
        (s @ 300..=399, _) => Err(Error::Protocol(format!(
            "the camera's ONVIF service redirects elsewhere (HTTP {s}); keepwatch does not follow ONVIF redirects"
        ))),
        (s, _) => Err(Error::Protocol(format!("the camera's ONVIF service answered HTTP {s}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_digest_matches_the_spec_formula() {
        // Computed independently: base64(sha1(bytes(0..16) + created + password)).
        let nonce: Vec<u8> = (0u8..16).collect();
        assert_eq!(password_digest(&nonce, "2026-11-27T10:00:00Z", "s3cret"), "dLyQsu1Pra7F1exM+GT2a2MIVzA=");
        let creds = Credentials { username: "ad<min".into(), password: "s3cret".into() };
        let h = security_header(&creds, 1_795_000_000_000, &nonce);
        assert!(h.contains("<wsse:Username>ad&lt;min</wsse:Username>"), "{h}");
        assert!(h.contains("<wsu:Created>2026-11-18T11:06:40Z</wsu:Created>"), "{h}");
        assert!(!h.contains("s3cret"));
        assert!(!format!("{creds:?}").contains("s3cret"));
        let env = envelope(&h, "<tds:GetDeviceInformation/>");
        assert!(xml::parse(&env).is_ok());
    }

    #[test]
    fn answers_are_sorted() {
        let fault = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason><env:Text>Sender not Authorized</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
        let a = Answer { status: 400, body: fault.into(), challenges: vec![] };
        assert!(matches!(check_answer(a), Err(Error::Auth(_))));
        let a = Answer { status: 500, body: "oops".into(), challenges: vec![] };
        assert!(matches!(check_answer(a), Err(Error::Protocol(m)) if m.contains("500")));
        let a = Answer { status: 200, body: "<a/>".into(), challenges: vec![] };
        assert_eq!(check_answer(a).unwrap(), "<a/>");
    }
}
