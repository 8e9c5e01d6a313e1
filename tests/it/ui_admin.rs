//! The admin pages in a real browser: the real keepwatch binary with a real RTSP camera (GStreamer's server
//! fed by an ffmpeg clip) and one that wants a password, headless Chromium driven by `tests/ui/admin.mjs`.
//! The script adds the camera through the form ("test connection" shows H.264, 640×360 and a picture),
//! checks a wrong password is named as such, draws a motion zone, sends a notifier test, adds a viewer and
//! a token, reads the system page, the German strings, a phone-sized viewport without sideways scrolling,
//! and a viewer refused at the camera settings. Afterwards this test checks what the browser did to the
//! config file (the camera and its zone are there, the file's own comments kept) and that the camera records.
//! Screenshots: `target/ui-screenshots/admin-*.png`.

use crate::support;
use crate::support::http_sink::HttpSink;
use crate::support::keepwatch::*;
use crate::support::{browser, Auth, ClipSpec, RtspServer};
use std::time::Duration;

#[test]
fn admin_pages_in_a_browser() {
    support::require_tools(&["ffmpeg"]);
    browser::ensure_npm();
    let clip = support::clip(&ClipSpec::h264());
    let open = RtspServer::start(&[("cam", &clip)], None);
    let secured = RtspServer::start(&[("cam", &clip)], Some(Auth::digest("admin", "right-password")));

    let dir = tempfile::tempdir().unwrap();
    let sink = HttpSink::start();
    let hook = sink.url("/hook");
    let config = write_config(
        dir.path(),
        "",
        &format!(
            "# Our cameras (this comment must survive edits from the web UI)\n\n\
             [[notify]]\nname = \"hook\"\nkind = \"webhook\"\ntarget = \"{hook}\"\nsecret = \"s3cret-key\"\n"
        ),
    );
    add_user(&config, "root", "admin", None, "root-password-1");
    add_user(&config, "vera", "viewer", None, "vera-password-1");
    let mut kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));

    // This run's screenshots only (numbers shift when steps change).
    let shots = browser::screenshot_dir();
    for e in std::fs::read_dir(&shots).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("admin-") && name.ends_with(".png") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    browser::run_node(
        "admin.mjs",
        &[
            ("BASE_URL", base),
            ("SCREENSHOT_DIR", shots.display().to_string()),
            ("ADMIN_USER", "root".into()),
            ("ADMIN_PASSWORD", "root-password-1".into()),
            ("VIEWER_USER", "vera".into()),
            ("VIEWER_PASSWORD", "vera-password-1".into()),
            ("CAMERA", "lobby".into()),
            ("RTSP_URL", open.url("cam")),
            ("AUTH_RTSP_URL", secured.url_without_credentials("cam")),
            ("AUTH_USER", "admin".into()),
            ("DEAD_RTSP_URL", format!("rtsp://127.0.0.1:{}/cam", support::free_port())),
            ("NOTIFIER", "hook".into()),
        ],
        Duration::from_secs(150),
    );

    // What the browser did to the config file: the camera with its zone, the file's comment kept.
    let text = std::fs::read_to_string(&config).unwrap();
    println!("--- the config file after the browser ---\n{text}");
    assert!(text.contains("# Our cameras (this comment must survive edits from the web UI)"), "{text}");
    assert!(text.contains("name = \"lobby\""), "{text}");
    assert!(text.contains(&format!("url = \"{}\"", open.url_without_credentials("cam"))), "{text}");
    assert!(text.contains("zones") && text.contains("\"door\"") && text.contains("exclude"), "{text}");
    assert!(text.contains("max_age = \"7d\""), "{text}");
    assert!(!text.contains("secured") && !text.contains("not-the-password"), "a tested camera was saved: {text}");
    assert!(!text.contains("\"spare\""), "the camera deleted in the browser is still there: {text}");

    assert!(kw.is_running(), "keepwatch exited; log:\n{}", kw.log_text());
    kw.stop_ok();
    let spans = spans(&config, "lobby");
    assert!(!spans.is_empty(), "the camera added in the browser recorded nothing; log:\n{}", kw.log_text());
    let log = kw.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("not-the-password"), "a password reached the log:\n{log}");
}
