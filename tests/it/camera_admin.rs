//! The camera admin API against the real binary: cameras added, changed and removed through
//! `POST/PUT/DELETE /api/cameras` land in the config file (comments kept, passwords write-only) and apply
//! live; `POST /api/cameras/probe` reports codec, resolution and a picture, or exactly why a camera failed
//! (wrong password on a real RTSP server, nothing listening, an unknown scheme); viewers may do none of it.
//! A camera's stored password goes only to the address it was stored for (issue 12): a probe or a `PUT`
//! pointing it elsewhere must send the password again.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::mjpeg_camera::{AuthKind, CameraOptions, MjpegCamera};
use crate::support::wait;
use crate::support::{Auth, ClipSpec, RtspServer};
use serde_json::json;
use std::time::Duration;

const CAM: &str = "demo://synthetic?width=160&height=96&fps=10&gop=1";

#[test]
fn cameras_are_edited_through_the_api_into_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &format!("# my front door, do not remove\n{}", camera("one", CAM, "")));
    let admin = create_token(&config, "admin-tok", "admin", None);
    let viewer = create_token(&config, "viewer-tok", "viewer", Some("one"));
    let mut kw = Keepwatch::start(&config);
    let open = kw.api();
    let api = open.with_bearer(&admin);
    let as_viewer = open.with_bearer(&viewer);

    // Add: the camera appears in the file (the hand-written comment stays) and starts recording.
    let form = json!({"name": "two", "url": CAM, "username": "u", "password": "s3cret-pw", "record": "continuous",
                      "max_age": "7d", "motion": {"sensitivity": 0.7}});
    let (st, body) = api.post("/api/cameras", &form).status_json();
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["has_password"], true);
    assert!(!body.to_string().contains("s3cret-pw"), "{body}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("# my front door, do not remove") && text.contains("name = \"two\""), "{text}");
    kw.expect_streaming(&["two"], Duration::from_secs(30));
    assert!(!kw.log_text().contains("s3cret-pw"), "a camera password reached the log");
    assert_eq!(api.post("/api/cameras", &form).status, 409);

    // Read back: no password, the values as written.
    let (st, cfg) = api.get("/api/cameras/two/config").status_json();
    assert_eq!(st, 200, "{cfg}");
    assert_eq!((cfg["max_age"].as_str(), cfg["motion"]["sensitivity"].as_f64()), (Some("7d"), Some(0.7)));
    assert!(!cfg.to_string().contains("s3cret-pw"));

    // Change without sending the password: it is kept; zones land in the file; record mode changes live.
    let change = json!({"name": "two", "url": CAM, "username": "u", "record": "motion",
        "motion": {"zones": [{"name": "drive", "kind": "include", "points": [[0.1,0.5],[0.9,0.5],[0.9,1.0]]}]}});
    let (st, body) = api.put("/api/cameras/two", &change).status_json();
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["has_password"], true, "the stored password is kept");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("s3cret-pw") && text.contains("drive") && text.contains("record = \"motion\""), "{text}");
    wait::until("record = motion in /api/cameras", Duration::from_secs(20), || {
        let (_, list) = api.get("/api/cameras").status_json();
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
        let (st, body) = api.put("/api/cameras/two", &bad).status_json();
        assert_eq!((st, body["field"].as_str()), (400, Some(field)), "{body}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);

    // Viewers may not edit, read settings or probe.
    assert_eq!(as_viewer.get("/api/cameras/one/config").status, 403);
    assert_eq!(as_viewer.delete("/api/cameras/one").status, 403);
    assert_eq!(as_viewer.post("/api/cameras/probe", &json!({"url": CAM})).status, 403);

    // Remove: gone from the file and from the running set; its recordings stay.
    assert_eq!(api.delete("/api/cameras/two").status, 204);
    assert_eq!(api.delete("/api/cameras/two").status, 404);
    assert!(!std::fs::read_to_string(&config).unwrap().contains("name = \"two\""));
    wait::until("camera two to stop", Duration::from_secs(20), || {
        let (_, list) = api.get("/api/cameras").status_json();
        !list.as_array().into_iter().flatten().any(|c| c["name"] == "two")
    });
    kw.stop_ok();
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
    let api = kw.api().with_bearer(&admin);
    let url = rtsp.url_without_credentials("cam");

    let (st, r) = api
        .post("/api/cameras/probe", &json!({"url": url, "sub_url": url, "username": "admin", "password": "right-pw"}))
        .status_json();
    assert_eq!(st, 200, "{r}");
    assert_eq!((r["ok"].as_bool(), r["codec"].as_str()), (Some(true), Some("h264")), "{r}");
    assert!(r["width"].as_u64().unwrap_or(0) > 0 && r["height"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(r["snapshot"].as_str().unwrap_or("").starts_with("data:image/jpeg;base64,"), "{r}");
    assert_eq!((r["sub"]["ok"].as_bool(), r["sub"]["codec"].as_str()), (Some(true), Some("h264")), "{r}");

    let (_, r) =
        api.post("/api/cameras/probe", &json!({"url": url, "username": "admin", "password": "wrong"})).status_json();
    assert_eq!((r["ok"].as_bool(), r["kind"].as_str()), (Some(false), Some("auth")), "{r}");
    assert!(r["error"].as_str().unwrap_or("").contains("wrong username or password"), "{r}");

    let port = support::free_port();
    let (_, r) = api.post("/api/cameras/probe", &json!({"url": format!("rtsp://127.0.0.1:{port}/x")})).status_json();
    assert_eq!(r["kind"].as_str(), Some("unreachable"), "{r}");
    let (_, r) = api.post("/api/cameras/probe", &json!({"url": "gopher://example/x"})).status_json();
    assert_eq!(r["kind"].as_str(), Some("bad_url"), "{r}");
    assert!(!kw.log_text().contains("right-pw"), "a camera password reached the log");
    kw.stop_ok();
}

#[test]
fn a_stored_password_is_not_sent_to_a_new_address() {
    let stored_pw = "stored-pw-5";
    let opts =
        |password: &str| CameraOptions { auth: AuthKind::Basic, password: password.into(), ..Default::default() };
    let home = MjpegCamera::start(opts(stored_pw));
    // Another host:port that asks for a Basic login and keeps whatever it is sent.
    let elsewhere = MjpegCamera::start(opts("elsewhere-pw"));
    let dir = tempfile::tempdir().unwrap();
    let section = camera(
        "x",
        &home.url("/goform/snapshot"),
        &format!("username = \"admin\"\npassword = \"{stored_pw}\"\n[cameras.motion]\nenabled = false\n"),
    );
    let config = write_config(dir.path(), "", &section);
    let admin = create_token(&config, "admin-tok", "admin", None);
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&admin);
    let leaked = || {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{stored_pw}"));
        elsewhere.stats.authorizations.lock().unwrap().iter().any(|a| a.contains(&basic) || a.contains(stored_pw))
    };

    // A probe of another address in camera x's name: x's password does not go there.
    let probe = json!({"url": elsewhere.url("/goform/snapshot"), "camera": "x"});
    let (st, body) = api.post("/api/cameras/probe", &probe).status_json();
    assert!(!leaked(), "camera x's password was sent to another address: {body}");
    assert_eq!((st, body["field"].as_str()), (400, Some("password")), "{body}");
    assert!(body.to_string().contains("enter the password again"), "{body}");
    // The same probe with the password typed in is the user's choice (and here the wrong one).
    let typed = json!({"url": elsewhere.url("/goform/snapshot"), "camera": "x", "password": "typed"});
    let (_, r) = api.post("/api/cameras/probe", &typed).status_json();
    assert_eq!(r["kind"].as_str(), Some("auth"), "{r}");
    // At its own address the stored password still serves the probe.
    let (st, r) =
        api.post("/api/cameras/probe", &json!({"url": home.url("/goform/snapshot"), "camera": "x"})).status_json();
    assert_eq!((st, r["ok"].as_bool()), (200, Some(true)), "{r}");

    // A PUT that changes only the port, without the password: refused, nothing written.
    let before = std::fs::read_to_string(&config).unwrap();
    let moved = json!({"name": "x", "url": elsewhere.url("/goform/snapshot"), "username": "admin"});
    let (st, body) = api.put("/api/cameras/x", &moved).status_json();
    assert_eq!((st, body["field"].as_str()), (400, Some("password")), "{body}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    std::thread::sleep(Duration::from_secs(1));
    assert!(!leaked(), "camera x's password was sent to another address");
    // With the password sent again, the move is taken.
    let mut moved = moved;
    moved["password"] = json!("elsewhere-pw");
    let (st, body) = api.put("/api/cameras/x", &moved).status_json();
    assert_eq!(st, 200, "{body}");
    kw.stop_ok();
    assert!(!leaked(), "camera x's old password was sent to its new address");
}

#[test]
fn tokens_are_listed_and_revoked_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("one", CAM, ""));
    let admin = create_token(&config, "admin-tok", "admin", None);
    let mut kw = Keepwatch::start(&config);
    let open = kw.api();
    let api = open.with_bearer(&admin);
    let (st, made) =
        api.post("/api/tokens", &json!({"label": "ha", "role": "viewer", "cameras": ["one"]})).status_json();
    assert_eq!(st, 201, "{made}");
    let ha = open.with_bearer(made["token"].as_str().unwrap());
    assert_eq!(ha.get("/api/cameras").status, 200);
    let (st, list) = api.get("/api/tokens").status_json();
    assert_eq!(st, 200);
    let labels: Vec<&str> = list.as_array().unwrap().iter().filter_map(|t| t["label"].as_str()).collect();
    assert_eq!(labels, ["admin-tok", "ha"]);
    assert!(!list.to_string().contains(&admin), "no secrets in the list");
    assert_eq!(ha.get("/api/tokens").status, 403);
    assert_eq!(api.delete("/api/tokens/ha").status, 204);
    assert_eq!(api.delete("/api/tokens/ha").status, 404);
    assert_eq!(ha.get("/api/cameras").status, 401, "a revoked token stops working at once");
    kw.stop_ok();
}
