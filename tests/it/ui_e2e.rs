//! The viewer side of the web UI in a real browser: the real keepwatch binary with real RTSP cameras
//! (GStreamer's server fed by ffmpeg clips): one with a smaller sub-stream for the grid, an H.265 one with
//! an H.264 sub-stream, and a motion camera whose clip (`support::motion_clip`: a still scene that a
//! bright box crosses once every 20 s loop) gives keepwatch's detector real motion to find; headless
//! Chromium driven by `tests/ui/viewer.mjs`.
//! The script logs in, sees the grid play, checks a viewer's limits (one camera, no admin nav, "not
//! allowed"), German strings and dates, a phone viewport without sideways scrolling and session expiry,
//! opens a motion event (picture, playback, the next crossing), scrubs a minute back (recorded video
//! plays, the clock matches) and exports a range. This test then checks the downloaded MP4 with ffprobe,
//! and over the API that the motion camera's events are one short event per crossing.
//! Screenshots: `target/ui-screenshots/`.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::{browser, ClipSpec, RtspServer};
use std::time::Duration;

const ADMIN_PW: &str = "root-password-1";
const VIEWER_PW: &str = "vera-password-1";

#[test]
fn viewer_pages_in_a_browser() {
    support::require_tools(&["ffmpeg", "ffprobe", "node", "chromium"]);
    browser::ensure_npm();
    let main = support::clip(&ClipSpec { seconds: 20, ..ClipSpec::h264() });
    let sub = support::clip(&ClipSpec { width: 320, height: 180, seconds: 20, ..ClipSpec::h264() });
    let hevc = support::clip(&ClipSpec::h265());
    let motion = support::motion_clip();
    let rtsp = RtspServer::start(&[("main", &main), ("sub", &sub), ("hevc", &hevc), ("motion", &motion)], None);

    let dir = tempfile::tempdir().unwrap();
    let cameras = format!(
        "{}\n{}\n{}",
        camera("front", &rtsp.url("main"), &format!("sub_url = \"{}\"\nrecord = \"continuous\"", rtsp.url("sub"))),
        camera(
            "yard",
            &rtsp.url("motion"),
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
    let token = create_token(&config, "events-check", "admin", None);
    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    kw.expect_streaming(&["front", "yard", "garage"], Duration::from_secs(30));
    let started = now_us() / 1000;

    let download = dir.path().join("export.mp4");
    browser::run_node(
        "viewer.mjs",
        &[
            ("BASE_URL", base.clone()),
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
    assert!(support::decoded_video_frames(&download) > 100, "too few frames decode in the export");

    // The motion clip's box crosses once a loop and the scene is still otherwise: one short event per loop,
    // not one that never ends or a stream of them.
    let r = kw.api().with_bearer(&token).get("/api/events?camera=yard&kind=motion");
    assert_eq!(r.status, 200);
    let events = r.json();
    let mut spans: Vec<(i64, Option<i64>)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (parse_rfc3339(e["start"].as_str().unwrap()), e["end"].as_str().map(parse_rfc3339)))
        .collect();
    spans.sort();
    let secs = |us: i64| us as f64 / 1e6;
    let summary: Vec<String> = spans
        .iter()
        .map(|(s, e)| match e {
            Some(e) => format!("{:.1}+{:.1}", secs(s - started * 1000), secs(e - s)),
            None => format!("{:.1}+open", secs(s - started * 1000)),
        })
        .collect();
    println!("yard motion events (s after the cameras streamed + length s): {}", summary.join(", "));
    let loop_us = i64::from(support::MOTION_CLIP_SECONDS) * 1_000_000;
    let crossing_us = i64::from(support::MOTION_CLIP_CROSSING.1 - support::MOTION_CLIP_CROSSING.0) * 1_000_000;
    let elapsed_us = now_us() - started * 1000;
    assert!(spans.len() >= 2, "fewer than two motion events in {} s: {events:#}", elapsed_us / 1_000_000);
    assert!(spans.len() as i64 <= elapsed_us / loop_us + 2, "more motion events than crossings: {events:#}");
    for w in spans.windows(2) {
        assert!(w[1].0 - w[0].0 > loop_us - crossing_us, "motion events closer than a loop apart: {events:#}");
    }
    for (i, (start, end)) in spans.iter().enumerate() {
        match end {
            Some(end) => assert!(end - start < 2 * crossing_us, "a motion event longer than the crossing: {events:#}"),
            // Only the latest may still be open: its end is known once the merge gap (5 s) has passed.
            None => assert!(
                i + 1 == spans.len() && now_us() - start < 2 * crossing_us + 5_000_000,
                "a motion event that does not end: {events:#}"
            ),
        }
    }
}
