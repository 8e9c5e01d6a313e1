//! The HTTP source's login against a small scripted camera on loopback: after Digest has worked, a Basic
//! challenge (a man in the middle downgrading) never gets the password; a redirect to another port is not
//! followed, so nothing reaches the other listener.

use super::*;
use crate::ingest::CameraAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USER: &str = "admin";
const PASSWORD: &str = "pa55-word";

/// What the scripted camera does with each request.
#[derive(Default)]
struct Script {
    /// Answer 401 with a Basic challenge only (what a downgrading man in the middle sends).
    basic_only: AtomicBool,
    /// Answer every request with `302 Location: <this>`.
    redirect_to: Option<String>,
    requests: AtomicU32,
    /// Every `Authorization` value received.
    authorizations: Mutex<Vec<String>>,
}

/// Serves `script` on a free loopback port, one request per connection; returns the port.
async fn camera(script: Arc<Script>) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                script.requests.fetch_add(1, Ordering::Relaxed);
                let auth = head
                    .lines()
                    .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")))
                    .map(|(_, v)| v.trim().to_owned());
                if let Some(a) = &auth {
                    script.authorizations.lock().unwrap().push(a.clone());
                }
                let answer = if let Some(to) = &script.redirect_to {
                    format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                } else if script.basic_only.load(Ordering::Relaxed) {
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\
                     Connection: close\r\n\r\n"
                        .to_owned()
                } else if auth.as_deref().is_some_and(|a| a.starts_with("Digest ") && a.contains("username=\"admin\""))
                {
                    // The digest itself is kw_camauth's business (tested there); this camera takes any.
                    "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned()
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"cam\", qop=\"auth\", \
                     nonce=\"n0nce\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned()
                };
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

fn source(url: &str) -> HttpSource {
    let addr = CameraAddr::parse(url, Some(USER), Some(PASSWORD)).unwrap();
    HttpSource::new(addr, EncodeSettings::default()).unwrap()
}

/// `Basic base64(user:password)`: the password in the clear.
fn basic_value() -> String {
    kw_camauth::basic::authorization(&Credentials { username: USER.into(), password: PASSWORD.into() })
}

#[tokio::test]
async fn basic_is_never_answered_after_digest_worked() {
    let script = Arc::new(Script::default());
    let port = camera(script.clone()).await;
    let src = source(&format!("http://127.0.0.1:{port}/snapshot.cgi"));
    // Digest works: the session opens.
    let session = src.connect().await.expect("the Digest login works");
    drop(session);
    assert!(script.authorizations.lock().unwrap().iter().any(|a| a.starts_with("Digest ")));
    // From now on the camera (someone in between) asks for Basic. The supervisor reconnects, again and
    // again; no attempt may carry the password in the clear.
    script.basic_only.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for _ in 0..3 {
        errors.push(src.connect().await.err().expect("a Basic-only camera cannot be logged in to"));
    }
    let seen = script.authorizations.lock().unwrap().clone();
    assert!(!seen.iter().any(|a| a.starts_with("Basic") || a == &basic_value()), "the password went out: {seen:?}");
    for e in errors {
        assert!(matches!(e, IngestError::Auth(_)) && e.to_string().contains("Basic login after Digest"), "{e}");
    }
}

#[tokio::test]
async fn a_redirect_to_another_port_is_not_followed() {
    let elsewhere = Arc::new(Script::default());
    let other = camera(elsewhere.clone()).await;
    let script =
        Arc::new(Script { redirect_to: Some(format!("http://127.0.0.1:{other}/snapshot.cgi")), ..Script::default() });
    let port = camera(script.clone()).await;
    let src = source(&format!("http://127.0.0.1:{port}/snapshot.cgi?pwd=in-the-query"));
    let e = src.connect().await.err().expect("a redirect elsewhere is an error");
    let text = e.to_string();
    assert!(text.contains(&format!("redirects to http://127.0.0.1:{other}")), "{text}");
    assert!(!text.contains("in-the-query"), "{text}");
    assert_eq!(elsewhere.requests.load(Ordering::Relaxed), 0, "the other port was asked");
    assert!(elsewhere.authorizations.lock().unwrap().is_empty());
}
