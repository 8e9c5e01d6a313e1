//! PTZ through ONVIF against the test camera (tests/support/onvif_device.rs), which records every PTZ call:
//! moves (speeds clamped), stop, home, presets (list, go to, save, delete) through the API; a camera
//! without the PTZ service answers 404 "no PTZ"; a viewer may list presets but moves only with the `ptz`
//! grant (`keepwatch user grant NAME --ptz`), never with a viewer token; bad input answers 400.

use crate::support;
use crate::support::api::Api;
use crate::support::keepwatch::*;
use crate::support::onvif_device::{Maker, OnvifDevice, Spec};
use crate::support::{ClipSpec, RtspServer};
use serde_json::json;
use std::time::Duration;

#[test]
fn ptz_moves_and_presets_reach_the_camera_with_the_right_grants() {
    support::require_tools(&["ffmpeg"]);
    let (_rtsp, h, d, _dir, config) = two_cameras("ptz-secret-1");
    let c = config.to_str().unwrap();
    let admin_token = create_token(&config, "admin", "admin", None);
    let viewer_token = create_token(&config, "viewer", "viewer", None);
    add_user(&config, "vera", "viewer", None, "vera-password-1");
    let kw = Keepwatch::start(&config);
    let open = kw.api();
    let admin = open.with_bearer(&admin_token);

    // Presets; a camera without PTZ says so.
    let (status, list) = admin.get("/api/cameras/dome/presets").status_json();
    assert_eq!(status, 200, "{list}\n{}", kw.log_text());
    assert_eq!(list, json!([{"token": "1", "name": "Door"}]));
    let (status, j) = admin.get("/api/cameras/fixed/presets").status_json();
    assert_eq!(status, 404, "{j}");
    assert!(j["error"].as_str().unwrap().contains("no PTZ"), "{j}");
    assert_eq!(admin.post("/api/cameras/fixed/ptz", &json!({"stop": true})).status, 404);

    // Moves (clamped), stop, home, presets.
    let ptz = |api: &Api, body: serde_json::Value| api.post("/api/cameras/dome/ptz", &body).status;
    assert_eq!(ptz(&admin, json!({"move": {"x": 5, "y": -0.5}})), 204);
    assert_eq!(ptz(&admin, json!({"stop": true})), 204);
    assert_eq!(ptz(&admin, json!({"move": {"zoom": -9}})), 204);
    assert_eq!(ptz(&admin, json!({"home": true})), 204);
    assert_eq!(ptz(&admin, json!({"preset": "1"})), 204);
    assert_eq!(ptz(&admin, json!({"preset": "99"})), 502, "an unknown preset is the camera's refusal");
    let (status, made) = admin.post("/api/cameras/dome/presets", &json!({"name": "Gate"})).status_json();
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    let names: Vec<String> = admin
        .get_json("/api/cameras/dome/presets")
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Door", "Gate"]);
    let del = admin.send("DELETE", "/api/cameras/dome/presets", &[], Some(&json!({"token": token}).to_string()));
    assert_eq!(del.status, 204, "{}", del.text());
    assert_eq!(
        h.ptz_calls(),
        [
            "GetPresets",
            "ContinuousMove x=1.000 y=-0.500 zoom=0.000 profile=Profile_1",
            "Stop",
            "ContinuousMove x=0.000 y=0.000 zoom=-1.000 profile=Profile_1",
            "GotoHomePosition",
            "GotoPreset 1",
            "GotoPreset 99",
            "SetPreset Gate",
            "GetPresets",
            format!("RemovePreset {token}").as_str(),
        ]
    );
    assert!(d.ptz_calls().is_empty());

    // Bad input.
    for body in [json!({"stop": true, "home": true}), json!({}), json!({"preset": ""}), json!({"spin": 1})] {
        assert_eq!(ptz(&admin, body.clone()), 400, "{body}");
    }
    let (status, j) = admin.post("/api/cameras/dome/presets", &json!({"name": "x".repeat(65)})).status_json();
    assert_eq!((status, j["field"].as_str()), (400, Some("name")), "{j}");

    // A viewer looks but does not move, until granted; a viewer token never moves.
    let session = open.login("vera", "vera-password-1");
    let vera = open.with_session(&session);
    assert_eq!(vera.get("/api/cameras/dome/presets").status, 200);
    assert_eq!(ptz(&vera, json!({"move": {"x": 0.2}})), 403);
    assert_eq!(vera.post("/api/cameras/dome/presets", &json!({"name": "Mine"})).status, 403);
    let out = cli(&["user", "grant", "vera", "--ptz", "--config", c]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ptz(&vera, json!({"move": {"x": 0.2}})), 204);
    assert_eq!(ptz(&vera, json!({"stop": true})), 204);
    assert_eq!(ptz(&open.with_bearer(&viewer_token), json!({"stop": true})), 403);
    let out = cli(&["user", "grant", "vera", "--no-ptz", "--config", c]);
    assert!(out.status.success());
    assert_eq!(ptz(&vera, json!({"stop": true})), 403);
    assert!(!kw.log_text().contains("ptz-secret-1"), "a camera password reached the log");
}

#[test]
fn ptz_controls_in_a_browser() {
    support::require_tools(&["ffmpeg"]);
    support::browser::ensure_npm();
    let (_rtsp, h, d, _dir, config) = two_cameras("ptz-secret-2");
    add_user(&config, "root", "admin", None, "root-password-1");
    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    support::browser::run_node(
        "ptz.mjs",
        &[
            ("BASE_URL", base),
            ("ADMIN_USER", "root".into()),
            ("ADMIN_PASSWORD", "root-password-1".into()),
            ("PTZ_CAMERA", "dome".into()),
            ("FIXED_CAMERA", "fixed".into()),
        ],
        Duration::from_secs(120),
    );
    let calls = h.ptz_calls();
    println!("the camera's PTZ calls: {calls:#?}");
    // In this order (a held control may repeat its move; the pad sends several while dragged).
    let want = [
        "ContinuousMove x=0.500 y=0.000",
        "Stop",
        "ContinuousMove x=-0.500 y=0.500",
        "Stop",
        "ContinuousMove x=0.000 y=0.500",
        "Stop",
        "zoom=0.500",
        "Stop",
        "GotoHomePosition",
        "SetPreset Gate",
        "GotoPreset",
        "RemovePreset",
    ];
    let mut at = 0;
    for w in want {
        match calls[at..].iter().position(|c| c.contains(w)) {
            Some(i) => at += i + 1,
            None => panic!("{w:?} not found after call {at} in {calls:#?}"),
        }
    }
    assert!(
        calls.iter().any(|c| c.starts_with("ContinuousMove x=0.8") || c.starts_with("ContinuousMove x=0.7")),
        "the drag to the right was not sent: {calls:#?}"
    );
    assert!(d.ptz_calls().is_empty());
}

/// The test camera with PTZ (`dome`, maker H) and one without (`fixed`, maker D), both streaming one RTSP
/// clip and logging in with `password`, in a config with motion and ONVIF events off.
fn two_cameras(password: &str) -> (RtspServer, OnvifDevice, OnvifDevice, tempfile::TempDir, std::path::PathBuf) {
    let clip = support::clip(&ClipSpec::h264());
    let rtsp = RtspServer::start(&[("main", &clip)], None);
    let spec = |maker| Spec {
        maker,
        user: "admin".into(),
        password: password.into(),
        rtsp_main: rtsp.url("main"),
        rtsp_sub: rtsp.url("main"),
        clock_offset_s: 0,
    };
    let h = OnvifDevice::start(spec(Maker::H));
    let d = OnvifDevice::start(spec(Maker::D));
    let dir = tempfile::tempdir().unwrap();
    let quiet = "[cameras.motion]\nenabled = false\n\n[cameras.onvif]\nevents = false\n";
    let mut cams = camera("dome", &format!("onvif://admin:{password}@127.0.0.1:{}", h.port), quiet);
    cams += &camera("fixed", &format!("onvif://admin:{password}@127.0.0.1:{}", d.port), quiet);
    let config = write_config(dir.path(), "", &cams);
    (rtsp, h, d, dir, config)
}
