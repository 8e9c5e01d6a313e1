//! Alerts through the whole daemon: a motion event of the synthetic camera reaches a webhook (a real HTTP
//! receiver in this test) as start and end, signed with the configured secret, within seconds; with the
//! mode set to `off` (API) motion alerts stop; `keepwatch notify test` and the API's test route deliver;
//! the alert outbox survives a restart. (The delivery kinds themselves — MQTT with mosquitto, e-mail,
//! ntfy — are tested against real servers in crates/kw-notify/tests.)

use crate::support::keepwatch::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Delivery {
    at: Instant,
    signature: Option<String>,
    body: Value,
}

/// A minimal HTTP server: answers 200 to every POST and hands the JSON bodies out.
fn receiver() -> (u16, mpsc::Receiver<Delivery>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut len, mut sig) = (0usize, None);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("x-keepwatch-signature:") {
                    sig = Some(line.split_once(':').unwrap().1.trim().to_owned());
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if let Ok(body) = serde_json::from_slice(&body) {
                let _ = tx.send(Delivery { at: Instant::now(), signature: sig, body });
            }
        }
    });
    (port, rx)
}

fn request(base: &str, token: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
    let b = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    let mut r = agent.run(b.body(body.unwrap_or("").to_owned()).unwrap()).unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn motion_reaches_a_signed_webhook_and_the_mode_silences_it() {
    let (port, rx) = receiver();
    let tmp = tempfile::tempdir().unwrap();
    let cam = camera(
        "porch",
        "demo://synthetic?width=320&height=180&fps=10&period=12&appear=2&visible=3&gop=1",
        "[cameras.motion]\nenabled = true\nmin_duration = \"0.5s\"",
    );
    let notify = format!(
        "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\ntarget = \"http://127.0.0.1:{port}/in\"\nsecret = \"s3cret-key\"\ncooldown = \"1s\"\n"
    );
    let config = write_config(tmp.path(), "", &format!("{cam}\n{notify}"));
    let c = config.to_str().unwrap();
    let out = Command::new(bin()).args(["token", "create", "t", "--role", "admin", "--config", c]).output().unwrap();
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    // The first crossing: start and end, signed, carrying the Event shape.
    let mut got: Vec<Delivery> = Vec::new();
    let t0 = Instant::now();
    while got.iter().filter(|d| d.body["phase"] == "end").count() == 0 && t0.elapsed() < Duration::from_secs(30) {
        if let Ok(d) = rx.recv_timeout(Duration::from_millis(500)) {
            got.push(d);
        }
    }
    let start =
        got.iter().find(|d| d.body["phase"] == "start").unwrap_or_else(|| panic!("no start alert\n{}", kw.log_text()));
    let end = got.iter().find(|d| d.body["phase"] == "end").expect("an end alert");
    for d in [start, end] {
        assert_eq!(d.body["kind"], "motion");
        assert_eq!(d.body["camera"], "porch");
        assert!(d.body["dedup_key"].is_string() && d.body["id"].is_i64(), "{}", d.body);
        assert!(d.signature.as_deref().is_some_and(|s| s.starts_with("sha256=")), "unsigned: {:?}", d.signature);
    }
    assert!(end.at >= start.at);
    // The alert's picture link is signed and expiring: it opens without a login, and only as signed.
    let link = end.body["snapshot"].as_str().unwrap_or_else(|| panic!("no snapshot link: {}", end.body));
    assert!(link.contains("?exp=") && link.contains("&sig="), "{link}");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent.get(format!("{base}{link}")).call().unwrap();
    assert_eq!(r.status().as_u16(), 200, "signed link refused");
    assert_eq!(&r.body_mut().read_to_vec().unwrap()[..2], &[0xFF, 0xD8]);
    let tampered = link.replace("&sig=", "&sig=x");
    assert_eq!(agent.get(format!("{base}{tampered}")).call().unwrap().status().as_u16(), 401);
    let other = link.replacen(&format!("/{}/", end.body["id"]), "/999999/", 1);
    assert_eq!(
        agent.get(format!("{base}{other}")).call().unwrap().status().as_u16(),
        401,
        "a link opens only its own path"
    );
    // The event behind it is in the API, with the same id.
    let (status, events) = request(&base, &token, "GET", "/api/events?kind=motion", None);
    assert_eq!(status, 200);
    let events: Value = serde_json::from_str(&events).unwrap();
    assert!(events.as_array().unwrap().iter().any(|e| e["id"] == start.body["id"]), "{events}");

    // Mode off over the API: the next crossing raises an event, but no motion alert.
    let (status, body) = request(&base, &token, "PUT", "/api/mode", Some(r#"{"mode":"off"}"#));
    assert_eq!((status, body.as_str()), (200, r#"{"mode":"off"}"#));
    assert_eq!(request(&base, &token, "GET", "/api/mode", None).1, r#"{"mode":"off"}"#);
    while rx.try_recv().is_ok() {}
    let seen = events.as_array().unwrap().len();
    let t1 = Instant::now();
    let mut silenced = Vec::new();
    while t1.elapsed() < Duration::from_secs(14) {
        if let Ok(d) = rx.recv_timeout(Duration::from_millis(500)) {
            if d.body["phase"] == "start" {
                silenced.push(d.body);
            }
        }
    }
    let (_, events) = request(&base, &token, "GET", "/api/events?kind=motion", None);
    let events: Value = serde_json::from_str(&events).unwrap();
    assert!(events.as_array().unwrap().len() > seen, "no new event while off\n{}", kw.log_text());
    assert!(silenced.is_empty(), "motion alerts while the mode is off: {silenced:?}");

    // The test route and the CLI deliver through the notifier; the notifier list hides the secret.
    let (status, body) = request(&base, &token, "POST", "/api/notifiers/hook/test", None);
    assert_eq!(status, 200, "{body}");
    assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok(), "no test delivery");
    let (status, body) = request(&base, &token, "GET", "/api/notifiers", None);
    assert_eq!(status, 200);
    assert!(body.contains("\"hook\"") && !body.contains("s3cret"), "{body}");
    assert_eq!(request(&base, &token, "POST", "/api/notifiers/nope/test", None).0, 404);
    let out = Command::new(bin()).args(["notify", "test", "hook", "--config", c]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok(), "no delivery from `keepwatch notify test`");
    let out = Command::new(bin()).args(["mode", "--config", c]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "off", "the mode survives in the index");
}
