//! The viewer side of the web UI in a real browser: the real keepwatch binary with a real RTSP camera
//! (GStreamer's server fed by an ffmpeg clip, with a smaller sub-stream for the grid), an H.265 one with an
//! H.264 sub-stream, and the built-in synthetic camera (motion events at known times), headless Chromium
//! driven by `tests/ui/viewer.mjs`.
//! The script logs in, sees the grid play, checks a viewer's limits (one camera, no admin nav, "not
//! allowed"), German strings and dates, a phone viewport without sideways scrolling and session expiry,
//! opens a motion event (picture, playback), scrubs a minute back (recorded video plays, the clock
//! matches) and exports a range. This test then checks the downloaded MP4 with ffprobe.
//! Screenshots: `target/ui-screenshots/`.

mod kwproc;
mod support;

use kwproc::*;
use std::time::Duration;
use support::{browser, ClipSpec, RtspServer};

const ADMIN_PW: &str = "root-password-1";
const VIEWER_PW: &str = "vera-password-1";

#[test]
fn viewer_pages_in_a_browser() {
    support::require_tools(&["ffmpeg", "ffprobe", "node", "chromium"]);
    browser::ensure_npm();
    let main = support::clip(&ClipSpec { seconds: 20, ..ClipSpec::h264() });
    let sub = support::clip(&ClipSpec { width: 320, height: 180, seconds: 20, ..ClipSpec::h264() });
    let hevc = support::clip(&ClipSpec::h265());
    let rtsp = RtspServer::start(&[("main", &main), ("sub", &sub), ("hevc", &hevc)], None);

    let dir = tempfile::tempdir().unwrap();
    let cameras = format!(
        "{}\n{}\n{}",
        camera("front", &rtsp.url("main"), &format!("sub_url = \"{}\"\nrecord = \"continuous\"", rtsp.url("sub"))),
        camera(
            "yard",
            "demo://synthetic?width=320&height=180&fps=10&period=12&appear=3&visible=4&gop=2",
            "record = \"continuous\"\n\n[cameras.motion]\nenabled = true\nmin_duration = \"0.5s\"\npost_roll = \"2s\"",
        ),
        // H.265, which Chromium's MSE cannot play: the UI must switch to the H.264 sub-stream.
        camera(
            "garage",
            &rtsp.url("hevc"),
            &format!("sub_url = \"{}\"\nrecord = \"off\"\n\n[cameras.motion]\nenabled = false", rtsp.url("sub"))
        )
    );
    let config = write_config(dir.path(), "", &cameras);
    add_user(&config, "root", "admin", None, ADMIN_PW);
    add_user(&config, "vera", "viewer", Some("front"), VIEWER_PW);
    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    for cam in ["front", "yard", "garage"] {
        assert!(
            kw.wait_line(&["streaming", &format!("camera={cam}")], Duration::from_secs(30)),
            "camera {cam} did not stream:\n{}",
            kw.log_text()
        );
    }
    let started = now_us() / 1000;

    let download = dir.path().join("export.mp4");
    browser::run_node(
        "viewer.mjs",
        &[
            ("BASE_URL", base),
            ("ADMIN_USER", "root".into()),
            ("ADMIN_PASSWORD", ADMIN_PW.into()),
            ("VIEWER_USER", "vera".into()),
            ("VIEWER_PASSWORD", VIEWER_PW.into()),
            ("CAMERA", "front".into()),
            ("MOTION_CAMERA", "yard".into()),
            ("HEVC_CAMERA", "garage".into()),
            ("STARTED_MS", started.to_string()),
            ("DOWNLOAD_PATH", download.display().to_string()),
        ],
        Duration::from_secs(180),
    );

    // The exported file is a real MP4 of the camera's H.264 with a sensible length.
    let probe = support::ffprobe_json(&download);
    assert_eq!(support::codecs_of(&probe, "video"), vec!["h264".to_owned()], "{probe:#}");
    let secs: f64 = probe["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0);
    assert!((5.0..=70.0).contains(&secs), "exported {secs} s: {probe:#}");
    assert!(decoded_video_frames(&download) > 100, "too few frames decode in the export");
}
