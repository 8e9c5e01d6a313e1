//! E-mail through lettre to a local SMTP sink (see `support`): authentication, language, the JPEG attached.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use kw_config::{Language, NotifyKind};
use kw_notify::{Alerts, EventKind, Options, Phase};
use support::*;

/// The base64 body of the MIME part whose headers mention `content_type`, decoded.
fn part_body(data: &str, content_type: &str) -> Option<Vec<u8>> {
    let start = data.find(content_type)?;
    let rest = &data[start..];
    let body_start = rest.find("\r\n\r\n")? + 4;
    let body: String =
        rest[body_start..].lines().take_while(|l| !l.starts_with("--") && !l.is_empty()).collect::<Vec<_>>().concat();
    base64::engine::general_purpose::STANDARD.decode(body.trim()).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_with_snapshot_attached() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut mail =
        notifier("mail", NotifyKind::Email, &format!("smtp://alarm%40example.org:pw@127.0.0.1:{}", sink.port));
    mail.to = vec!["me@example.org".into(), "you@example.org".into()];
    let opts = Options {
        base_url: Some("https://nvr.example.org".into()),
        language: Language::De,
        timezone: Some("Europe/Berlin".into()),
        ..Options::default()
    };
    let alerts = Arc::new(Alerts::open(&dir.path().join("index.sqlite3"), &[mail], opts).unwrap());
    let task = alerts.clone().spawn();

    let t0 = Instant::now();
    alerts.event(Phase::Start, &event(5, "door", EventKind::Motion), Some(jpeg(9))).await;
    assert!(wait_until(Duration::from_secs(15), || sink.mails.lock().unwrap().len() == 1).await);
    eprintln!("LATENCY email event()->accepted by the sink: {:?}", t0.elapsed());
    let got = sink.mails.lock().unwrap()[0].clone();

    let auth = base64::engine::general_purpose::STANDARD.decode(got.auth.as_deref().unwrap()).unwrap();
    assert_eq!(auth, b"\0alarm@example.org\0pw");
    assert_eq!(got.from, "<alarm@example.org>");
    assert_eq!(got.to, ["<me@example.org>", "<you@example.org>"]);
    assert!(got.data.contains("Subject: [keepwatch] Bewegung: door"), "{}", got.data);
    assert!(got.data.contains("image/jpeg"));
    assert!(got.data.contains("door-5.jpg"));
    assert_eq!(part_body(&got.data, "Content-Type: image/jpeg").unwrap(), jpeg(9).to_vec(), "the JPEG arrives intact");
    let text = part_body(&got.data, "Content-Type: text/plain");
    let text = text.map(|t| String::from_utf8(t).unwrap()).unwrap_or_else(|| got.data.clone());
    assert!(text.contains("Bewegung bei door erkannt, 2026-11-25 11:00:00 CET."), "{text}");
    assert!(text.contains("https://nvr.example.org/api/events/5/snapshot.jpg"), "{text}");
    assert!(wait_until(Duration::from_secs(5), || alerts.outbox_counts(None).unwrap().delivered == 1).await);

    let said = alerts.test("mail").await.unwrap();
    assert!(said.contains("accepted") && !said.contains("pw@"), "{said}");
    assert_eq!(sink.mails.lock().unwrap().len(), 2);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_required_off_loopback_and_refusal_is_reported() {
    // A non-loopback name that resolves to nothing reachable would be slow; instead ask for STARTTLS
    // explicitly from the sink, which does not offer it: the send fails rather than going out in the clear.
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut mail = notifier("mail", NotifyKind::Email, &format!("smtp://u:pw@127.0.0.1:{}?tls=required", sink.port));
    mail.to = vec!["me@example.org".into()];
    let alerts = Alerts::open(&dir.path().join("index.sqlite3"), &[mail], Options::default()).unwrap();
    let e = alerts.test("mail").await.unwrap_err().to_string();
    assert!(!e.contains("pw@"), "{e}");
    assert!(sink.mails.lock().unwrap().is_empty());
}
