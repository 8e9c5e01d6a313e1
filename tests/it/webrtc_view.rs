//! The WebRTC (WHEP) live view end to end: headless Chromium plays a real RTSP camera through keepwatch's
//! WebRTC path (tests/ui/webrtc.mjs: badge, currentTime, getStats, a drawn frame; then the WebSocket/MSE
//! fallback with WebRTC off), and the WHEP route's own rules: auth, Content-Type, size, unknown sessions.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::{browser, ClipSpec, RtspServer};
use std::time::Duration;

#[test]
fn webrtc_live_view_in_a_browser_and_whep_rules() {
    support::require_tools(&["ffmpeg", "node", "chromium"]);
    browser::ensure_npm();
    let clip = support::clip(&ClipSpec { seconds: 20, ..ClipSpec::h264() });
    let rtsp = RtspServer::start(&[("cam", &clip)], None);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("front", &rtsp.url("cam"), "record = \"off\""));
    add_user(&config, "root", "admin", None, "root-password-1");
    let token = create_token(&config, "t", "viewer", Some("front"));
    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    kw.expect_streaming(&["front"], Duration::from_secs(30));

    // The route's rules, before the browser.
    let api = kw.api().with_bearer(&token);
    let r = kw.api().send("POST", "/api/cameras/front/whep", &[("content-type", "application/sdp")], Some("v=0"));
    assert_eq!(r.status, 401);
    let r = api.send("POST", "/api/cameras/front/whep", &[("content-type", "text/plain")], Some("v=0"));
    assert_eq!(r.status, 415, "{}", r.text());
    let r = api.send("POST", "/api/cameras/front/whep", &[("content-type", "application/sdp")], Some("hello"));
    assert_eq!(r.status, 400, "{}", r.text());
    let big = "a".repeat(70 * 1024);
    let r = api.send("POST", "/api/cameras/front/whep", &[("content-type", "application/sdp")], Some(&big));
    assert!(r.status == 413 || r.status == 400, "{} {}", r.status, r.text());
    let r = api.delete("/api/cameras/front/whep/0123456789abcdef");
    assert_eq!(r.status, 404);

    let ran = std::panic::catch_unwind(|| {
        browser::run_node(
            "webrtc.mjs",
            &[
                ("BASE_URL", base),
                ("ADMIN_USER", "root".into()),
                ("ADMIN_PASSWORD", "root-password-1".into()),
                ("CAMERA", "front".into()),
            ],
            Duration::from_secs(120),
        )
    });
    let log = kw.log_text();
    if let Err(e) = ran {
        eprintln!("keepwatch's log:\n{log}");
        std::panic::resume_unwind(e);
    }
    assert!(log.contains("webrtc: viewer started"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}
