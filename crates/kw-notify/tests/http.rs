//! Webhook and ntfy deliveries against a real HTTP receiver on loopback, and the outbox's promises:
//! signed bodies, delivery once per dedup key after a target outage and across a restart, cooldown, mode.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use kw_config::{Language, NotifyKind};
use kw_notify::{Alerts, Decision, EventKind, Mode, Options, Phase, Schedule};
use support::*;

const BASE: &str = "https://nvr.example.org/";

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn keys(receiver: &HttpReceiver) -> Vec<String> {
    receiver.all().iter().map(|r| r.json()["dedup_key"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_is_signed_and_fast() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start_on(free_port()).await;
    let mut hook = notifier("hook", NotifyKind::Webhook, &receiver.url("/hook"));
    hook.secret = Some("s3cret".into());
    let opts = Options { base_url: Some(BASE.into()), ..Options::default() };
    let alerts = Arc::new(Alerts::open(&dir.path().join("index.sqlite3"), &[hook], opts).unwrap());
    let task = alerts.clone().spawn();

    let mut latencies = Vec::new();
    for id in 1..=20 {
        let t0 = Instant::now();
        let outcome = alerts.event(Phase::Start, &event(id, "door", EventKind::Motion), Some(jpeg(1))).await;
        assert_eq!(outcome.decision("hook"), Some(Decision::Queued));
        assert!(receiver.wait_count(id as usize, Duration::from_secs(10)).await, "delivery {id}");
        latencies.push(receiver.all()[id as usize - 1].at - t0);
    }
    latencies.sort();
    eprintln!(
        "LATENCY webhook event()->received over 20: min {:?} median {:?} max {:?}",
        latencies[0], latencies[10], latencies[19]
    );

    let first = &receiver.all()[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/hook");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("x-keepwatch-signature").unwrap(), hmac_hex("s3cret", &first.body));
    assert_ne!(first.header("x-keepwatch-signature").unwrap(), hmac_hex("wrong", &first.body));
    let v = first.json();
    assert_eq!(v["id"], 1);
    assert_eq!(v["camera"], "door");
    assert_eq!(v["kind"], "motion");
    assert_eq!(v["phase"], "start");
    assert_eq!(v["dedup_key"], "1-start-hook");
    assert_eq!(v["snapshot"], "https://nvr.example.org/api/events/1/snapshot.jpg");
    assert_eq!(v["end"], serde_json::Value::Null);
    assert!(v["start"].as_str().unwrap().starts_with("2026-11-25T10:00:00"));
    assert!(wait_until(Duration::from_secs(5), || alerts.outbox_counts(None).unwrap().delivered == 20).await);

    // The same phase reported twice is queued once.
    let again = alerts.event(Phase::Start, &event(1, "door", EventKind::Motion), None).await;
    assert_eq!(again.decision("hook"), Some(Decision::AlreadyQueued));

    // "Send test" reaches the receiver directly and says what happened.
    let said = alerts.test("hook").await.unwrap();
    assert!(said.contains("HTTP 200") && said.contains("127.0.0.1"), "{said}");
    let last = receiver.all().pop().unwrap();
    assert_eq!(last.json()["test"], true);
    assert_eq!(last.header("x-keepwatch-signature").unwrap(), hmac_hex("s3cret", &last.body));
    assert!(alerts.test("nobody").await.is_err());
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_down_then_up_delivers_once_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let hook = notifier("hook", NotifyKind::Webhook, &format!("http://127.0.0.1:{port}/hook"));
    let alerts = Arc::new(Alerts::open(&dir.path().join("index.sqlite3"), &[hook], Options::default()).unwrap());
    let task = alerts.clone().spawn();
    let mut ev = event(7, "door", EventKind::Motion);
    alerts.event(Phase::Start, &ev, Some(jpeg(7))).await;
    ev.end = Some(ev.start + 5_000_000);
    alerts.event(Phase::End, &ev, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(alerts.outbox_counts(Some("hook")).unwrap().pending, 2, "nobody listens yet");

    let receiver = HttpReceiver::start_on(port).await;
    assert!(receiver.wait_count(2, Duration::from_secs(20)).await, "delivered once the target is up");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(keys(&receiver), ["7-start-hook", "7-end-hook"], "each key exactly once, in order");
    let counts = alerts.outbox_counts(None).unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed), (0, 2, 0));
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_pending_alerts_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.sqlite3");
    let port = free_port();
    let hook = notifier("hook", NotifyKind::Webhook, &format!("http://127.0.0.1:{port}/hook"));
    {
        let alerts = Arc::new(Alerts::open(&db, std::slice::from_ref(&hook), Options::default()).unwrap());
        let task = alerts.clone().spawn();
        alerts.event(Phase::Start, &event(9, "door", EventKind::Motion), Some(jpeg(9))).await;
        alerts.event(Phase::Start, &event(10, "yard", EventKind::CameraOffline), None).await;
        tokio::time::sleep(Duration::from_millis(300)).await; // tried and failed at least once
        task.abort();
        let _ = task.await;
        assert_eq!(alerts.outbox_counts(None).unwrap().pending, 2);
    }
    let receiver = HttpReceiver::start_on(port).await;
    let alerts = Arc::new(Alerts::open(&db, &[hook], Options::default()).unwrap());
    let task = alerts.clone().spawn();
    assert!(receiver.wait_count(2, Duration::from_secs(15)).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(keys(&receiver), ["9-start-hook", "10-start-hook"]);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_per_notifier_camera_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start_on(free_port()).await;
    let mut hook = notifier("hook", NotifyKind::Webhook, &receiver.url("/hook"));
    hook.cooldown = Duration::from_secs(30);
    let (clock, now) = fake_clock(1_795_600_800_000_000);
    let opts = Options { clock, ..Options::default() };
    let alerts = Arc::new(Alerts::open(&dir.path().join("index.sqlite3"), &[hook], opts).unwrap());
    let task = alerts.clone().spawn();
    let decide = |outcome: kw_notify::Outcome| outcome.decision("hook").unwrap();

    assert_eq!(decide(alerts.event(Phase::Start, &event(1, "door", EventKind::Motion), None).await), Decision::Queued);
    assert_eq!(decide(alerts.event(Phase::End, &event(1, "door", EventKind::Motion), None).await), Decision::Queued);
    now.advance(Duration::from_secs(10));
    assert_eq!(
        decide(alerts.event(Phase::Start, &event(2, "door", EventKind::Motion), None).await),
        Decision::Cooldown
    );
    assert_eq!(
        decide(alerts.event(Phase::End, &event(2, "door", EventKind::Motion), None).await),
        Decision::StartNotSent,
        "an end follows its start"
    );
    assert_eq!(decide(alerts.event(Phase::Start, &event(3, "yard", EventKind::Motion), None).await), Decision::Queued);
    assert_eq!(
        decide(alerts.event(Phase::Start, &event(4, "door", EventKind::CameraOffline), None).await),
        Decision::Queued,
        "another kind has its own cooldown"
    );
    now.advance(Duration::from_secs(21));
    assert_eq!(decide(alerts.event(Phase::Start, &event(5, "door", EventKind::Motion), None).await), Decision::Queued);

    assert!(receiver.wait_count(5, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(keys(&receiver), ["1-start-hook", "1-end-hook", "3-start-hook", "4-start-hook", "5-start-hook"]);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_off_suppresses_motion_but_not_health() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.sqlite3");
    let receiver = HttpReceiver::start_on(free_port()).await;
    let hook = notifier("hook", NotifyKind::Webhook, &receiver.url("/hook"));
    let ha = notifier("ha", NotifyKind::Mqtt, "mqtt://127.0.0.1:1");
    let (clock, _) = fake_clock(1_795_600_800_000_000); // a Wednesday, 10:00 UTC
    let opts = Options { clock, timezone: Some("UTC".into()), ..Options::default() };
    let alerts = Arc::new(Alerts::open(&db, &[hook.clone(), ha.clone()], opts.clone()).unwrap());
    assert_eq!(alerts.mode(), Mode::Away, "a fresh install alerts");
    alerts.set_mode(Mode::Off).unwrap();
    let task = alerts.clone().spawn();

    let out = alerts.event(Phase::Start, &event(1, "door", EventKind::Motion), None).await;
    assert_eq!(out.decision("hook"), Some(Decision::Disarmed));
    assert_eq!(out.decision("ha"), Some(Decision::Queued), "MQTT mirrors state whatever the mode");
    let out = alerts.event(Phase::Start, &event(2, "door", EventKind::CameraMotion), None).await;
    assert_eq!(out.decision("hook"), Some(Decision::Disarmed));
    for (id, kind) in [(3, EventKind::CameraOffline), (4, EventKind::Storage)] {
        assert_eq!(
            alerts.event(Phase::Start, &event(id, "door", kind), None).await.decision("hook"),
            Some(Decision::Queued)
        );
    }
    let out = alerts.event(Phase::End, &event(1, "door", EventKind::Motion), None).await;
    assert_eq!(out.decision("hook"), Some(Decision::StartNotSent));

    // Home: motion only inside a schedule window.
    alerts.set_mode(Mode::Home).unwrap();
    let out = alerts.event(Phase::Start, &event(5, "door", EventKind::Motion), None).await;
    assert_eq!(out.decision("hook"), Some(Decision::Disarmed));
    alerts.set_schedule(Some(Schedule::parse("mon-fri 22:00-06:00").unwrap()));
    let out = alerts.event(Phase::Start, &event(6, "door", EventKind::Motion), None).await;
    assert_eq!(out.decision("hook"), Some(Decision::Disarmed), "10:00 is outside the window");
    alerts.set_schedule(Some(Schedule::parse("wed 09:00-11:00").unwrap()));
    assert!(alerts.motion_armed());
    let out = alerts.event(Phase::Start, &event(7, "door", EventKind::Motion), None).await;
    assert_eq!(out.decision("hook"), Some(Decision::Queued));
    alerts.set_mode(Mode::Away).unwrap();
    alerts.set_schedule(None);
    let out = alerts.event(Phase::Start, &event(8, "door", EventKind::Motion), None).await;
    assert_eq!(out.decision("hook"), Some(Decision::Queued));

    assert!(receiver.wait_count(4, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(keys(&receiver), ["3-start-hook", "4-start-hook", "7-start-hook", "8-start-hook"]);
    task.abort();

    // The mode survives a restart.
    alerts.set_mode(Mode::Off).unwrap();
    drop(alerts);
    let again = Alerts::open(&db, &[hook, ha], opts).unwrap();
    assert_eq!(again.mode(), Mode::Off);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntfy_publishes_with_attachment_and_click_link() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start_on(free_port()).await;
    let push = notifier("push", NotifyKind::Ntfy, &format!("http://bob:p%40ss@127.0.0.1:{}/alerts", receiver.port));
    let opts = Options {
        base_url: Some(BASE.into()),
        language: Language::De,
        timezone: Some("Europe/Berlin".into()),
        ..Options::default()
    };
    let alerts = Arc::new(Alerts::open(&dir.path().join("index.sqlite3"), &[push], opts).unwrap());
    let task = alerts.clone().spawn();

    let t0 = Instant::now();
    alerts.event(Phase::Start, &event(1, "door", EventKind::Motion), Some(jpeg(3))).await;
    alerts.event(Phase::Start, &event(2, "store", EventKind::Storage), Some(jpeg(4))).await;
    alerts.event(Phase::End, &event(2, "store", EventKind::Storage), None).await;
    assert!(receiver.wait_count(3, Duration::from_secs(10)).await);
    eprintln!("LATENCY ntfy event()->received (first): {:?}", receiver.all()[0].at - t0);
    let got = receiver.all();
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("bob:p@ss"));

    let r = &got[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("PUT", "/alerts"));
    assert_eq!(r.body, jpeg(3).to_vec(), "the JPEG is the attachment");
    assert_eq!(r.header("filename"), Some("door-1.jpg"));
    assert_eq!(r.header("title"), Some("Bewegung: door"));
    assert_eq!(r.header("message"), Some("Bewegung bei door erkannt, 2026-11-25 11:00:00 CET."));
    assert_eq!(r.header("click"), Some("https://nvr.example.org/api/events/1/snapshot.jpg"));
    assert!(r.header("tags").unwrap().contains("rotating_light"));
    assert_eq!(r.header("authorization"), Some(basic.as_str()));

    let r = &got[1];
    let message = r.header("message").unwrap();
    let encoded = message.strip_prefix("=?UTF-8?B?").and_then(|m| m.strip_suffix("?=")).expect("RFC 2047 for umlauts");
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap();
    assert!(decoded.contains("prüfen"), "{decoded}");

    let r = &got[2];
    assert_eq!(r.method, "POST");
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(text.contains("behoben"), "{text}");

    let said = alerts.test("push").await.unwrap();
    assert!(said.contains("HTTP 200"), "{said}");
    let r = receiver.all().pop().unwrap();
    assert_eq!(r.header("title"), Some("keepwatch-Test"));
    assert!(r.body.starts_with(&[0xff, 0xd8]), "the test carries a picture");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_deliveries_are_given_up_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start_on(free_port()).await;
    receiver.status.store(400, Ordering::SeqCst);
    let hook = notifier("hook", NotifyKind::Webhook, &receiver.url("/hook"));
    let alerts = Arc::new(Alerts::open(&dir.path().join("index.sqlite3"), &[hook], Options::default()).unwrap());
    let task = alerts.clone().spawn();
    alerts.event(Phase::Start, &event(1, "door", EventKind::Motion), None).await;
    assert!(wait_until(Duration::from_secs(10), || alerts.outbox_counts(None).unwrap().failed == 1).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.all().len(), 1);

    // A server error is retried.
    receiver.status.store(503, Ordering::SeqCst);
    alerts.event(Phase::Start, &event(2, "door", EventKind::Motion), None).await;
    assert!(receiver.wait_count(2, Duration::from_secs(5)).await);
    receiver.status.store(200, Ordering::SeqCst);
    assert!(receiver.wait_count(3, Duration::from_secs(10)).await);
    assert!(wait_until(Duration::from_secs(5), || alerts.outbox_counts(None).unwrap().delivered == 1).await);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_reload_restarts_changed_workers() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start_on(free_port()).await;
    let mut hook = notifier("hook", NotifyKind::Webhook, &receiver.url("/old"));
    let alerts = Arc::new(
        Alerts::open(&dir.path().join("index.sqlite3"), std::slice::from_ref(&hook), Options::default()).unwrap(),
    );
    let task = alerts.clone().spawn();
    alerts.event(Phase::Start, &event(1, "door", EventKind::Motion), None).await;
    assert!(receiver.wait_count(1, Duration::from_secs(5)).await);

    hook.target = receiver.url("/new");
    hook.cameras = Some(vec!["yard".into()]);
    alerts.update_notifiers(&[hook]);
    let out = alerts.event(Phase::Start, &event(2, "door", EventKind::Motion), None).await;
    assert_eq!(out.decision("hook"), Some(Decision::OtherCamera));
    alerts.event(Phase::Start, &event(3, "yard", EventKind::Motion), None).await;
    assert!(receiver.wait_count(2, Duration::from_secs(5)).await);
    assert_eq!(receiver.all()[1].path, "/new");

    alerts.update_notifiers(&[]);
    assert!(alerts.event(Phase::Start, &event(4, "yard", EventKind::Motion), None).await.decisions.is_empty());
    task.abort();
}
