//! Keep this clip: an admin protects a motion event through the API; on a store whose `max_size` is far
//! smaller than one segment, retention deletes every other finished segment but keeps the one holding the
//! event, reports that only protected video is left (System page, a `storage` event), and deletes it once
//! `keepwatch protected remove` lifts the protection. Bad requests name their field; viewers may look, not
//! protect.

use crate::support::keepwatch::*;
use crate::support::wait;
use serde_json::json;
use std::time::Duration;

/// Do the camera's recordings (from `keepwatch recordings`) cover wall time `at`?
fn covered(config: &std::path::Path, camera: &str, at: i64) -> bool {
    spans(config, camera).iter().any(|(s, e)| *s <= at && at < *e)
}

#[test]
fn a_protected_event_survives_retention_on_a_tiny_store_until_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let cam = camera(
        "yard",
        "demo://synthetic?width=160&height=96&fps=10&period=8&appear=1&visible=2&gop=1",
        "[cameras.motion]\nenabled = true\nmin_duration = \"0.3s\"",
    );
    let config = write_config(tmp.path(), "max_size = \"1KB\"", &cam);
    let c = config.to_str().unwrap();
    let admin = create_token(&config, "admin", "admin", None);
    let viewer = create_token(&config, "viewer", "viewer", None);
    let kw = Keepwatch::start(&config);
    let open = kw.api();
    let api = open.with_bearer(&admin);
    let ev = wait::until_some("a finished motion event", Duration::from_secs(60), || {
        let list = api.get_json("/api/events?camera=yard&kind=motion");
        list.as_array()?.iter().find(|e| !e["end"].is_null()).cloned()
    });
    let at = parse_rfc3339(ev["start"].as_str().unwrap());

    // Refused, naming the field; a viewer may not protect.
    for (body, field) in [
        (json!({"event": ev["id"], "note": "x".repeat(501)}), "note"),
        (json!({"event": ev["id"], "camera": "yard"}), "camera"),
        (json!({"event": 999_999}), "event"),
        (json!({"camera": "yard", "start": ev["start"]}), "end"),
        (json!({"camera": "yard", "start": ev["start"], "end": ev["start"]}), "end"),
        (json!({"camera": "yard", "start": "yesterday", "end": ev["start"]}), "start"),
    ] {
        let (status, j) = api.post("/api/protected", &body).status_json();
        assert!(status == 400 || status == 404, "{body}: {status} {j}");
        assert_eq!(j["field"], field, "{body}: {j}");
    }
    assert_eq!(open.with_bearer(&viewer).post("/api/protected", &json!({"event": ev["id"]})).status, 403);
    assert!(api.get_json("/api/protected").as_array().unwrap().is_empty());

    let (status, p) = api.post("/api/protected", &json!({"event": ev["id"], "note": "the fox"})).status_json();
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["camera"], "yard");
    assert_eq!(p["event"], ev["id"]);
    assert!(parse_rfc3339(p["start"].as_str().unwrap()) < at);
    let id = p["id"].as_i64().unwrap();
    assert_eq!(open.with_bearer(&viewer).get_json("/api/protected")[0]["note"], "the fox");

    // The first segment finishes after about a minute; retention keeps it (the store is far over 1 KB)
    // and says that only protected video is left.
    let sys = wait::until_some("protected video counted and the pressure reported", Duration::from_secs(150), || {
        let s = api.get_json("/api/system");
        (s["storage"]["protected_bytes"].as_u64() > Some(0) && s["storage"]["pressure"].is_string()).then_some(s)
    });
    assert!(sys["storage"]["pressure"].as_str().unwrap().contains("protected"), "{sys}");
    assert!(covered(&config, "yard", at), "the protected event's video is gone: {:?}", spans(&config, "yard"));
    wait::until("a storage event", Duration::from_secs(30), || {
        !api.get_json("/api/events?kind=storage").as_array().unwrap().is_empty()
    });
    kw.expect_log("only protected video is left", Duration::from_secs(5));

    // The CLI lists it and removes it; retention then deletes the video within seconds.
    let out = cli(&["protected", "list", "--config", c]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("the fox") && text.contains("yard"), "{text}");
    let out = cli(&["protected", "remove", "12345", "--config", c]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["protected", "remove", &id.to_string(), "--config", c]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait::until("retention deletes the unprotected video", Duration::from_secs(30), || !covered(&config, "yard", at));
    assert_eq!(api.delete(&format!("/api/protected/{id}")).status, 404);
    assert!(api.get_json("/api/protected").as_array().unwrap().is_empty());
}

/// The same from the browser: an admin keeps an event from the events list and a range from the camera
/// view's export panel (tests/ui/protect.mjs); both protections then exist with their notes.
#[test]
fn keep_this_clip_in_a_browser() {
    crate::support::browser::ensure_npm();
    let tmp = tempfile::tempdir().unwrap();
    let cam = camera(
        "yard",
        "demo://synthetic?width=160&height=96&fps=10&period=8&appear=1&visible=2&gop=1",
        "[cameras.motion]\nenabled = true\nmin_duration = \"0.3s\"",
    );
    let config = write_config(tmp.path(), "", &cam);
    add_user(&config, "root", "admin", None, "root-password-1");
    let admin = create_token(&config, "admin", "admin", None);
    let kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&admin);
    let ev = wait::until_some("a finished motion event", Duration::from_secs(60), || {
        let list = api.get_json("/api/events?camera=yard&kind=motion");
        list.as_array()?.iter().find(|e| !e["end"].is_null()).cloned()
    });
    crate::support::browser::run_node(
        "protect.mjs",
        &[
            ("BASE_URL", kw.base_url(Duration::from_secs(30))),
            ("ADMIN_USER", "root".into()),
            ("ADMIN_PASSWORD", "root-password-1".into()),
            ("CAMERA", "yard".into()),
            ("EVENT_ID", ev["id"].to_string()),
        ],
        Duration::from_secs(120),
    );
    let list = api.get_json("/api/protected");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().any(|p| p["event"] == ev["id"] && p["note"] == "from the list"), "{list:?}");
    assert!(list.iter().any(|p| p["event"].is_null() && p["note"] == "from the range" && p["camera"] == "yard"));
}
