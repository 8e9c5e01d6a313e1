//! The camera admin API against the real binary: cameras added, changed and removed through
//! `POST/PUT/DELETE /api/cameras` land in the config file (comments kept, passwords write-only) and apply
//! live; `POST /api/cameras/probe` reports codec, resolution and a picture, or exactly why a camera failed
//! (wrong password on a real RTSP server, nothing listening, an unknown scheme); viewers may do none of it.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::{Auth, ClipSpec, RtspServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CAM: &str = "demo://synthetic?width=160&height=96&fps=10&gop=1";

struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let b = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token));
        let r = match body {
            Some(v) => self.agent.run(b.header("content-type", "application/json").body(v.to_string()).unwrap()),
            None => self.agent.run(b.body(()).unwrap()),
        };
        let mut r = r.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn cameras_are_edited_through_the_api_into_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &format!("# my front door, do not remove\n{}", camera("one", CAM, "")));
    let admin = create_token(&config, "admin-tok", "admin", None);
    let viewer = create_token(&config, "viewer-tok", "viewer", Some("one"));
    let mut kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
    let api = Api { base: base.clone(), token: admin, agent: agent.clone() };
    let as_viewer = Api { base, token: viewer, agent };

    // Add: the camera appears in the file (the hand-written comment stays) and starts recording.
    let form = json!({"name": "two", "url": CAM, "username": "u", "password": "s3cret-pw", "record": "continuous",
                      "max_age": "7d", "motion": {"sensitivity": 0.7}});
    let (st, body) = api.call("POST", "/api/cameras", Some(form.clone()));
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["has_password"], true);
    assert!(!body.to_string().contains("s3cret-pw"), "{body}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("# my front door, do not remove") && text.contains("name = \"two\""), "{text}");
    assert!(kw.wait_line(&["streaming", "camera=two"], Duration::from_secs(30)), "{}", kw.log_text());
    assert!(!kw.log_text().contains("s3cret-pw"), "a camera password reached the log");
    assert_eq!(api.call("POST", "/api/cameras", Some(form)).0, 409);

    // Read back: no password, the values as written.
    let (st, cfg) = api.call("GET", "/api/cameras/two/config", None);
    assert_eq!(st, 200, "{cfg}");
    assert_eq!((cfg["max_age"].as_str(), cfg["motion"]["sensitivity"].as_f64()), (Some("7d"), Some(0.7)));
    assert!(!cfg.to_string().contains("s3cret-pw"));

    // Change without sending the password: it is kept; zones land in the file; record mode changes live.
    let change = json!({"name": "two", "url": CAM, "username": "u", "record": "motion",
        "motion": {"zones": [{"name": "drive", "kind": "include", "points": [[0.1,0.5],[0.9,0.5],[0.9,1.0]]}]}});
    let (st, body) = api.call("PUT", "/api/cameras/two", Some(change));
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["has_password"], true, "the stored password is kept");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("s3cret-pw") && text.contains("drive") && text.contains("record = \"motion\""), "{text}");
    wait_for("record = motion in /api/cameras", Duration::from_secs(20), || {
        let (_, list) = api.call("GET", "/api/cameras", None);
        list.as_array().into_iter().flatten().any(|c| c["name"] == "two" && c["record"] == "motion")
    });

    // Bad input names the field; nothing is written.
    let before = std::fs::read_to_string(&config).unwrap();
    for (bad, field) in [
        (json!({"name": "Two!", "url": CAM}), "name"),
        (json!({"name": "two", "url": CAM, "record": "always"}), "record"),
        (json!({"name": "two", "url": CAM, "max_size": "lots"}), "max_size"),
        (
            json!({"name": "two", "url": CAM, "motion": {"zones": [{"kind": "include", "points": [[0,0],[1,1]]}]}}),
            "motion.zones[0]",
        ),
    ] {
        let (st, body) = api.call("PUT", "/api/cameras/two", Some(bad));
        assert_eq!((st, body["field"].as_str()), (400, Some(field)), "{body}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);

    // Viewers may not edit, read settings or probe.
    assert_eq!(as_viewer.call("GET", "/api/cameras/one/config", None).0, 403);
    assert_eq!(as_viewer.call("DELETE", "/api/cameras/one", None).0, 403);
    assert_eq!(as_viewer.call("POST", "/api/cameras/probe", Some(json!({"url": CAM}))).0, 403);

    // Remove: gone from the file and from the running set; its recordings stay.
    assert_eq!(api.call("DELETE", "/api/cameras/two", None).0, 204);
    assert_eq!(api.call("DELETE", "/api/cameras/two", None).0, 404);
    assert!(!std::fs::read_to_string(&config).unwrap().contains("name = \"two\""));
    wait_for("camera two to stop", Duration::from_secs(20), || {
        let (_, list) = api.call("GET", "/api/cameras", None);
        !list.as_array().into_iter().flatten().any(|c| c["name"] == "two")
    });
    assert_eq!(kw.stop(), Some(0), "{}", kw.log_text());
    assert!(!spans(&config, "two").is_empty(), "its recordings stay");
}

#[test]
fn probe_reports_the_stream_or_exactly_why_not() {
    support::require_tools(&["ffmpeg"]);
    let clip = support::clip(&ClipSpec::h264());
    let rtsp = RtspServer::start(&[("cam", &clip)], Some(Auth::digest("admin", "right-pw")));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("one", CAM, ""));
    let admin = create_token(&config, "admin-tok", "admin", None);
    let mut kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
    let api = Api { base, token: admin, agent };
    let url = rtsp.url_without_credentials("cam");

    let (st, r) = api.call(
        "POST",
        "/api/cameras/probe",
        Some(json!({"url": url, "sub_url": url, "username": "admin", "password": "right-pw"})),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!((r["ok"].as_bool(), r["codec"].as_str()), (Some(true), Some("h264")), "{r}");
    assert!(r["width"].as_u64().unwrap_or(0) > 0 && r["height"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(r["snapshot"].as_str().unwrap_or("").starts_with("data:image/jpeg;base64,"), "{r}");
    assert_eq!((r["sub"]["ok"].as_bool(), r["sub"]["codec"].as_str()), (Some(true), Some("h264")), "{r}");

    let (_, r) =
        api.call("POST", "/api/cameras/probe", Some(json!({"url": url, "username": "admin", "password": "wrong"})));
    assert_eq!((r["ok"].as_bool(), r["kind"].as_str()), (Some(false), Some("auth")), "{r}");
    assert!(r["error"].as_str().unwrap_or("").contains("wrong username or password"), "{r}");

    let port = support::free_port();
    let (_, r) = api.call("POST", "/api/cameras/probe", Some(json!({"url": format!("rtsp://127.0.0.1:{port}/x")})));
    assert_eq!(r["kind"].as_str(), Some("unreachable"), "{r}");
    let (_, r) = api.call("POST", "/api/cameras/probe", Some(json!({"url": "gopher://example/x"})));
    assert_eq!(r["kind"].as_str(), Some("bad_url"), "{r}");
    assert!(!kw.log_text().contains("right-pw"), "a camera password reached the log");
    assert_eq!(kw.stop(), Some(0));
}

#[test]
fn tokens_are_listed_and_revoked_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("one", CAM, ""));
    let admin = create_token(&config, "admin-tok", "admin", None);
    let mut kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
    let api = Api { base: base.clone(), token: admin.clone(), agent: agent.clone() };
    let (st, made) =
        api.call("POST", "/api/tokens", Some(json!({"label": "ha", "role": "viewer", "cameras": ["one"]})));
    assert_eq!(st, 201, "{made}");
    let ha = Api { base, token: made["token"].as_str().unwrap().to_owned(), agent };
    assert_eq!(ha.call("GET", "/api/cameras", None).0, 200);
    let (st, list) = api.call("GET", "/api/tokens", None);
    assert_eq!(st, 200);
    let labels: Vec<&str> = list.as_array().unwrap().iter().filter_map(|t| t["label"].as_str()).collect();
    assert_eq!(labels, ["admin-tok", "ha"]);
    assert!(!list.to_string().contains(&admin), "no secrets in the list");
    assert_eq!(ha.call("GET", "/api/tokens", None).0, 403);
    assert_eq!(api.call("DELETE", "/api/tokens/ha", None).0, 204);
    assert_eq!(api.call("DELETE", "/api/tokens/ha", None).0, 404);
    assert_eq!(ha.call("GET", "/api/cameras", None).0, 401, "a revoked token stops working at once");
    assert_eq!(kw.stop(), Some(0));
}
