//! The SOAP client against a small scripted camera on loopback: clock offset correction (and the retry
//! after NotAuthorized when the camera's clock moved), HTTP Digest fallback, wrong passwords, oversized
//! answers and cameras that are not there.

use base64::Engine;
use kw_media::clock::FakeClock;
use kw_onvif::{Client, Credentials, Error};
use md5::Digest;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;

mod common;

#[derive(Default)]
struct Camera {
    /// Its clock minus ours, seconds.
    offset_s: AtomicI64,
    /// What GetSystemDateAndTime reports as offset the first time (a clock set since), when not None.
    first_time_offset_s: Option<i64>,
    http_digest: bool,
    huge: bool,
    /// Answers with a namespace declaration on every one of this many nested elements.
    nested_declarations: usize,
    /// Answers 307 to this address.
    redirect_to: Option<String>,
    time_requests: AtomicU32,
    calls: AtomicU32,
}

const PASSWORD: &str = "pa ss";

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let i = s.find(a)? + a.len();
    Some(&s[i..i + s[i..].find(b)?])
}

fn envelope(body: &str) -> String {
    format!(
        r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:t="http://www.onvif.org/ver10/schema" xmlns:x="urn:x"><e:Body>{body}</e:Body></e:Envelope>"#
    )
}

fn md5_hex(s: &str) -> String {
    md5::Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Answers one request: (status, extra headers, body).
fn answer(cam: &Camera, head: &str, body: &str) -> (u16, String, String) {
    let offset = cam.offset_s.load(Ordering::Relaxed);
    if body.contains("GetSystemDateAndTime") {
        let n = cam.time_requests.fetch_add(1, Ordering::Relaxed);
        let reported = match (n, cam.first_time_offset_s) {
            (0, Some(o)) => o,
            _ => offset,
        };
        let t = time::OffsetDateTime::from_unix_timestamp(now_s() + reported).unwrap();
        let b = format!(
            "<x:R><t:UTCDateTime><t:Time><t:Hour>{}</t:Hour><t:Minute>{}</t:Minute><t:Second>{}</t:Second></t:Time><t:Date><t:Year>{}</t:Year><t:Month>{}</t:Month><t:Day>{}</t:Day></t:Date></t:UTCDateTime></x:R>",
            t.hour(), t.minute(), t.second(), t.year(), u8::from(t.month()), t.day()
        );
        return (200, String::new(), envelope(&b));
    }
    cam.calls.fetch_add(1, Ordering::Relaxed);
    if let Some(to) = &cam.redirect_to {
        return (307, format!("Location: {to}\r\n"), String::new());
    }
    if cam.http_digest {
        let Some(auth) = head.lines().find(|l| l.to_ascii_lowercase().starts_with("authorization:")) else {
            let h = "WWW-Authenticate: Basic realm=\"cam\"\r\nWWW-Authenticate: Digest realm=\"cam\", qop=\"auth\", nonce=\"n0nce\"\r\n";
            return (401, h.into(), String::new());
        };
        let p = |k: &str| between(auth, &format!("{k}=\""), "\"").or_else(|| between(auth, &format!("{k}="), ","));
        let ha1 = md5_hex(&format!("admin:cam:{PASSWORD}"));
        let ha2 = md5_hex(&format!("POST:{}", p("uri").unwrap_or_default()));
        let want = md5_hex(&format!(
            "{ha1}:n0nce:{}:{}:auth:{ha2}",
            p("nc").unwrap_or_default().trim(),
            p("cnonce").unwrap_or_default()
        ));
        if p("response") != Some(want.as_str()) {
            return (401, String::new(), String::new());
        }
        return (200, String::new(), envelope("<x:Ok/>"));
    }
    let token = (|| {
        let nonce = base64::engine::general_purpose::STANDARD.decode(between(body, "EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\">", "<")?).ok()?;
        let created = between(body, "<wsu:Created>", "<")?;
        let digest = between(body, "#PasswordDigest\">", "<")?;
        Some((nonce, created.to_owned(), digest.to_owned()))
    })();
    let ok = token.is_some_and(|(nonce, created, digest)| {
        let mut h = sha1::Sha1::new();
        h.update(&nonce);
        h.update(created.as_bytes());
        h.update(PASSWORD.as_bytes());
        let expected = base64::engine::general_purpose::STANDARD.encode(h.finalize());
        let t = time::OffsetDateTime::parse(&created, &time::format_description::well_known::Rfc3339).unwrap();
        expected == digest && (t.unix_timestamp() - (now_s() + offset)).abs() <= 5
    });
    if !ok {
        let f = "<e:Fault><e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value>ter:NotAuthorized</e:Value></e:Subcode></e:Code><e:Reason><e:Text>Sender not Authorized</e:Text></e:Reason></e:Fault>";
        return (400, String::new(), envelope(f));
    }
    if cam.huge {
        return (200, String::new(), envelope(&"<x:A/>".repeat(400_000)));
    }
    if cam.nested_declarations > 0 {
        let n = cam.nested_declarations;
        let open: String = (0..n).map(|i| format!(r#"<p{i}:e xmlns:p{i}="urn:x:{i}">"#)).collect();
        let close: String = (0..n).rev().map(|i| format!("</p{i}:e>")).collect();
        return (200, String::new(), envelope(&format!("{open}{close}")));
    }
    (200, String::new(), envelope("<x:Ok/>"))
}

async fn serve(cam: Arc<Camera>) -> String {
    common::serve(Arc::new(move |head: &str, _path: &str, body: &str| {
        let (status, headers, body) = answer(&cam, head, body);
        common::Reply { status, headers, body, delay_ms: 0 }
    }))
    .await
}

fn creds(password: &str) -> Option<Credentials> {
    Some(Credentials { username: "admin".into(), password: password.into() })
}

#[tokio::test]
async fn created_is_written_in_the_cameras_time() {
    let cam = Arc::new(Camera { offset_s: AtomicI64::new(7200), ..Default::default() });
    let url = serve(cam.clone()).await;
    let c = Client::new(&url, creds(PASSWORD)).unwrap();
    let text = c.call(&url, "urn:x", "<x:Q/>").await.unwrap();
    assert!(text.contains("Ok"));
    let off = c.clock_offset_ms().unwrap();
    assert!((off - 7_200_000).abs() < 2_000, "offset {off}");
    assert_eq!(cam.time_requests.load(Ordering::Relaxed), 1);
    // Later calls reuse the offset.
    c.call(&url, "urn:x", "<x:Q/>").await.unwrap();
    assert_eq!(cam.time_requests.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn ws_security_reads_the_injected_clock() {
    // Our clock (a fake one) stands a day behind the real time; the camera's is right. The offset is
    // measured against the injected clock, so `Created` still lands in the camera's time.
    let day_ms = 86_400_000;
    let fake = FakeClock::new((now_s() * 1000 - day_ms) * 1000);
    let cam = Arc::new(Camera::default());
    let url = serve(cam.clone()).await;
    let c = Client::with_clock(&url, creds(PASSWORD), fake.shared()).unwrap();
    assert!(c.call(&url, "urn:x", "<x:Q/>").await.unwrap().contains("Ok"));
    let off = c.clock_offset_ms().unwrap();
    assert!((off - day_ms).abs() < 2_000, "offset {off}");
    assert!((c.now_ms() - (now_s() * 1000 - day_ms)).abs() < 2_000);
    // Moving our clock without re-reading the camera's puts `Created` an hour off: refused.
    fake.advance(std::time::Duration::from_secs(3600));
    let before = cam.time_requests.load(Ordering::Relaxed);
    let e = c.call(&url, "urn:x", "<x:Q/>").await;
    // The client re-reads the camera's clock once after NotAuthorized, against the moved clock: passes.
    assert!(e.is_ok(), "{e:?}");
    assert_eq!(cam.time_requests.load(Ordering::Relaxed), before + 1);
}

#[tokio::test]
async fn not_authorized_rereads_the_clock_once() {
    // The camera's clock was set after the first reading: the first token is refused, the retry passes.
    let cam = Arc::new(Camera { offset_s: AtomicI64::new(-3600), first_time_offset_s: Some(0), ..Default::default() });
    let url = serve(cam.clone()).await;
    let c = Client::new(&url, creds(PASSWORD)).unwrap();
    c.call(&url, "urn:x", "<x:Q/>").await.unwrap();
    assert_eq!(cam.time_requests.load(Ordering::Relaxed), 2);
    assert_eq!(cam.calls.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_after_one_retry() {
    let cam = Arc::new(Camera::default());
    let url = serve(cam.clone()).await;
    let c = Client::new(&url, creds("nope")).unwrap();
    let e = c.call(&url, "urn:x", "<x:Q/>").await.unwrap_err();
    assert!(matches!(&e, Error::Auth(m) if m.contains("NotAuthorized")), "{e:?}");
    assert!(!e.to_string().contains("nope"));
    assert_eq!(cam.calls.load(Ordering::Relaxed), 2, "one retry, no hammering");
}

#[tokio::test]
async fn http_digest_when_challenged() {
    let cam = Arc::new(Camera { http_digest: true, ..Default::default() });
    let url = serve(cam.clone()).await;
    let c = Client::new(&url, creds(PASSWORD)).unwrap();
    assert!(c.call(&url, "urn:x", "<x:Q/>").await.unwrap().contains("Ok"));
    // The challenge is remembered: the next call answers it at once (nc counts up).
    let before = cam.calls.load(Ordering::Relaxed);
    c.call(&url, "urn:x", "<x:Q/>").await.unwrap();
    assert_eq!(cam.calls.load(Ordering::Relaxed), before + 1);
    let c = Client::new(&url, creds("nope")).unwrap();
    assert!(matches!(c.call(&url, "urn:x", "<x:Q/>").await, Err(Error::Auth(_))));
    let c = Client::new(&url, None).unwrap();
    assert!(matches!(c.call(&url, "urn:x", "<x:Q/>").await, Err(Error::Auth(m)) if m.contains("needs a username")));
}

#[tokio::test]
async fn oversized_answers_and_absent_cameras() {
    let cam = Arc::new(Camera { huge: true, ..Default::default() });
    let url = serve(cam).await;
    let c = Client::new(&url, creds(PASSWORD)).unwrap();
    assert!(matches!(c.call(&url, "urn:x", "<x:Q/>").await, Err(Error::Protocol(m)) if m.contains("over")));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/onvif/device_service");
    let c = Client::new(&url, creds(PASSWORD)).unwrap();
    assert!(matches!(c.call(&url, "urn:x", "<x:Q/>").await, Err(Error::Unreachable(_))));
}

#[tokio::test]
async fn a_namespace_bomb_is_refused_at_once() {
    // ~150 KB declaring a new prefix on every nested element: minutes of parsing before the caps.
    let cam = Arc::new(Camera { nested_declarations: 4_500, ..Default::default() });
    let url = serve(cam).await;
    let c = Client::new(&url, creds(PASSWORD)).unwrap();
    let t = std::time::Instant::now();
    let r = c.call(&url, "urn:x", "<x:Q/>").await;
    assert!(matches!(&r, Err(Error::Protocol(m)) if m.contains("refused XML answer")), "{r:?}");
    assert!(t.elapsed() < std::time::Duration::from_secs(2), "took {:?}", t.elapsed());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // A listener on another port that counts what reaches it.
    let elsewhere = Arc::new(AtomicU32::new(0));
    let seen = elsewhere.clone();
    let other = common::serve(Arc::new(move |_head: &str, _path: &str, _body: &str| {
        seen.fetch_add(1, Ordering::Relaxed);
        common::Reply { status: 200, headers: String::new(), body: envelope("<x:Ok/>"), delay_ms: 0 }
    }))
    .await;
    let cam = Arc::new(Camera { redirect_to: Some(other), ..Default::default() });
    let url = serve(cam).await;
    let c = Client::new(&url, creds(PASSWORD)).unwrap();
    let r = c.call(&url, "urn:x", "<x:Q/>").await;
    assert!(matches!(&r, Err(Error::Protocol(m)) if m.contains("307")), "{r:?}");
    assert_eq!(elsewhere.load(Ordering::Relaxed), 0, "the envelope (with its UsernameToken) went elsewhere");
}
