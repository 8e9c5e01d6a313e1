//! A camera that sends H.264 with B-frames (libx264's default; some cameras too), served by GStreamer's
//! RTSP server: `snapshot.jpg` of the newest picture and at any recorded time answers the right picture
//! (issue 20: it answered 500, "openh264 … 16384"), motion detection decodes every frame it asks for
//! (`/api/cameras` says `on`, `/metrics` counts no failures), and the motion event starts at the first
//! recorded frame that shows the object although the stream has a 2 s GOP (issue 14: it started at the
//! next key frame, up to a GOP late).

use crate::support;
use crate::support::keepwatch::*;
use crate::support::{RtspServer, MOTION_CLIP_SECONDS};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Whether the clip's box covers the picture's left edge: it enters from the left (x = -192 at 8 s into
/// each loop, 208 px/s), so the left edge turns bright in the first frame that shows it. Mean luma of a
/// 16×60 strip at the left edge inside the box's rows, against the dark sky behind.
fn left_edge_bright(jpeg: &[u8]) -> bool {
    let img = image::load_from_memory(jpeg).expect("a JPEG").to_luma8();
    assert_eq!(img.dimensions(), (640, 360));
    let mut sum = 0u64;
    for y in 200..260 {
        for x in 0..16 {
            sum += u64::from(img.get_pixel(x, y).0[0]);
        }
    }
    sum / (16 * 60) > 150
}

fn metric(text: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name}{{camera=\"yard\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

#[test]
fn bframe_camera_snapshots_and_motion_onset() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let clip = support::motion_clip_bframes();
    let server = RtspServer::start(&[("cam", &clip)], None);
    let tmp = tempfile::tempdir().unwrap();
    let cam = camera("yard", &server.url("cam"), "record = \"continuous\"\n\n[cameras.motion]\nenabled = true\n");
    let config = write_config(tmp.path(), "", &cam);
    let token = create_token(&config, "t", "admin", None);
    let kw = Keepwatch::start(&config);
    kw.expect_streaming(&["yard"], Duration::from_secs(60));
    let api = kw.api().with_bearer(&token);

    // The newest picture, many times over: every place in the GOP, B-frames and P-frames.
    for i in 0..20 {
        let r = api.get("/api/cameras/yard/snapshot.jpg");
        assert_eq!(r.status, 200, "newest picture, try {i}: {}\n{}", r.text(), kw.log_text());
        assert_eq!(&r.body[..2], &[0xFF, 0xD8]);
        std::thread::sleep(Duration::from_millis(130));
    }

    // A motion event (one crossing per loop of the clip), with a few seconds recorded after its start.
    let deadline = Instant::now() + Duration::from_secs(2 * u64::from(MOTION_CLIP_SECONDS) + 30);
    let start = loop {
        let events = api.get_json("/api/events?camera=yard&kind=motion");
        let oldest = events.as_array().and_then(|a| a.last()).cloned();
        if let Some(e) = oldest {
            let start = parse_rfc3339(e["start"].as_str().unwrap());
            if now_us() > start + 4_000_000 {
                break start;
            }
        }
        assert!(Instant::now() < deadline, "no motion event\n{}", kw.log_text());
        std::thread::sleep(Duration::from_millis(500));
    };

    // The truth from the recording: step through the pictures before the event's start (every `?at=`
    // must answer) until the first one that shows the box.
    let mut first = None;
    let mut at = start - 3_000_000;
    while at <= start + 2_000_000 {
        let r = api.get(&format!("/api/cameras/yard/snapshot.jpg?at={}", rfc3339(at)));
        assert_eq!(r.status, 200, "picture at {}: {}\n{}", rfc3339(at), r.text(), kw.log_text());
        if left_edge_bright(&r.body) {
            first = Some(at);
            break;
        }
        at += 50_000;
    }
    let first = first.unwrap_or_else(|| panic!("no recorded picture shows the box near {}", rfc3339(start)));
    let onset = (start - first) as f64 / 1e6;
    let alert = kw.expect_line(&["motion started", "camera=yard"], Duration::from_secs(5));
    let alert_t = parse_rfc3339(alert.split_whitespace().next().unwrap());
    eprintln!(
        "B-frame camera: event start {:+.2} s from the first picture showing the box; 'motion started' logged {:.2} s after it",
        onset,
        (alert_t - first) as f64 / 1e6
    );
    // Within half a second of the first frame that shows it (and the 50 ms step of the search).
    assert!(onset.abs() <= 0.55, "the event starts {onset:.2} s from the first picture showing the box");

    // Motion detection decoded what it asked for, and says so.
    let cams = api.get_json("/api/cameras");
    let yard: &Value = cams.as_array().unwrap().iter().find(|c| c["name"] == "yard").unwrap();
    assert_eq!(yard["motion"], "on", "{yard}");
    let m = api.get("/metrics").text();
    let decoded = metric(&m, "keepwatch_motion_frames_decoded_total").expect("decoded frames metric");
    let failed = metric(&m, "keepwatch_motion_decode_failures_total").expect("decode failures metric");
    assert!(decoded > 20.0, "decoded {decoded}");
    assert_eq!(failed, 0.0, "motion decode failures\n{}", kw.log_text());
}
