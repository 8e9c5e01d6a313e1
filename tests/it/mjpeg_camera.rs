//! MJPEG and JPEG-snapshot cameras (issue 8) through the real `keepwatch run`: a small HTTP camera on
//! loopback (tests/support/mjpeg_camera.rs) streams 640×480 JPEGs at 10 fps behind Basic auth, hangs up
//! every few seconds like goform firmware and sends a malformed part now and then; a second one serves
//! snapshots behind Digest auth whose nonce goes stale. keepwatch must record both as H.264 across the
//! hang-ups, export an MP4 that ffprobe reads at 640×480, and never log the password. A camera that
//! redirects to another port is not followed there (issue 12).

use crate::support;
use crate::support::keepwatch::*;
use crate::support::mjpeg_camera::{AuthKind, CameraOptions, MjpegCamera};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const PASSWORD: &str = "se cret!";

/// `codec,width,height` of the first video stream.
fn probe(path: &Path) -> String {
    let probe = support::ffprobe_json(path);
    let streams = probe["streams"].as_array().map(Vec::as_slice).unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap_or_else(|| panic!("no video stream in {}: {probe}", path.display()));
    format!("{},{},{}", video["codec_name"].as_str().unwrap_or(""), video["width"], video["height"])
}

/// Runs keepwatch on one camera for `seconds` after it streams; returns (config, log, window start, end).
fn record(dir: &Path, name: &str, url: &str, extra: &str, seconds: u64) -> (std::path::PathBuf, String, i64, i64) {
    let section = camera(name, url, &format!("username = \"admin\"\npassword = \"{PASSWORD}\"\n{extra}"));
    let config = write_config(dir, "", &section);
    let mut kw = Keepwatch::start(&config);
    kw.expect_line(&["streaming h264 640x480", &format!("camera={name}")], Duration::from_secs(30));
    let start = now_us();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(250));
        assert!(kw.is_running(), "keepwatch exited; log:\n{}", kw.log_text());
    }
    let end = now_us();
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains(PASSWORD) && !log.contains("cret"), "the password reached the log:\n{log}");
    (config, log, start, end)
}

/// Recorded µs inside [start, end).
fn recorded_within(spans: &[(i64, i64)], start: i64, end: i64) -> i64 {
    spans.iter().map(|&(s, e)| (e.min(end) - s.max(start)).max(0)).sum()
}

fn export_and_probe(dir: &Path, config: &Path, name: &str, spans: &[(i64, i64)]) -> u64 {
    let (s, e) = *spans.iter().max_by_key(|(s, e)| e - s).unwrap();
    let mp4 = dir.join(format!("{name}.mp4"));
    let out = export(config, name, s, e, &mp4);
    assert!(out.status.success(), "export failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(probe(&mp4), "h264,640,480");
    support::decoded_video_frames(&mp4)
}

#[test]
fn mjpeg_stream_with_basic_auth_records_across_hangups() {
    if !support::have_tool("ffprobe") {
        eprintln!("skipped: ffprobe not installed");
        return;
    }
    let cam = MjpegCamera::start(CameraOptions {
        auth: AuthKind::Basic,
        password: PASSWORD.into(),
        drop_after: Duration::from_secs(4),
        bad_every: 23,
        ..CameraOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (config, log, start, end) =
        record(dir.path(), "goform", &cam.url("/goform/video"), "[cameras.encode]\nfps = 10\n", 14);
    let connections = cam.stats.stream_connections.load(Ordering::Relaxed);
    assert!(connections >= 4, "the camera hung up only {connections} times; log:\n{log}");
    assert!(cam.stats.bad_parts.load(Ordering::Relaxed) >= 3);
    assert!(log.contains("requesting it again"), "{log}");
    assert!(log.contains("skipping a malformed MJPEG part"), "{log}");

    let spans = spans(&config, "goform");
    let window = end - start;
    let got = recorded_within(&spans, start, end);
    // Hang-ups cost a reconnect's gap (milliseconds on loopback), never the session.
    assert!(got >= window * 85 / 100, "recorded {} of {} ms: {spans:?}\n{log}", got / 1000, window / 1000);
    assert!(spans.last().is_some_and(|&(_, e)| e >= end - 2_000_000), "recording stopped early: {spans:?}");
    let frames = export_and_probe(dir.path(), &config, "goform", &spans);
    eprintln!(
        "goform: {connections} connections, {} spans, {} of {} ms recorded, {frames} frames exported",
        spans.len(),
        got / 1000,
        window / 1000
    );
    assert!(frames >= 30, "only {frames} frames in the exported MP4");
}

#[test]
fn jpeg_snapshots_with_digest_auth_are_polled_and_recorded() {
    if !support::have_tool("ffprobe") {
        eprintln!("skipped: ffprobe not installed");
        return;
    }
    let cam = MjpegCamera::start(CameraOptions {
        auth: AuthKind::Digest,
        password: PASSWORD.into(),
        stale_every: 30,
        ..CameraOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (config, log, start, end) = record(dir.path(), "snap", &cam.url("/goform/snapshot"), "", 8);
    let snapshots = cam.stats.snapshots.load(Ordering::Relaxed);
    let window_s = (end - start) as f64 / 1e6;
    // Default 10 fps polling.
    assert!(snapshots as f64 >= window_s * 10.0 * 0.8, "{snapshots} snapshots in {window_s:.1} s\n{log}");
    assert!(cam.stats.stale.load(Ordering::Relaxed) >= 1, "the nonce never went stale");
    // Motion ran on the decoded snapshots (the side channel), not on a second H.264 decode, and found the
    // moving square.
    assert!(log.contains("pictures from the source"), "{log}");
    assert!(log.contains("motion started"), "{log}");

    let spans = spans(&config, "snap");
    let got = recorded_within(&spans, start, end);
    assert!(got >= (end - start) * 85 / 100, "recorded {} ms of {window_s:.1} s: {spans:?}\n{log}", got / 1000);
    let frames = export_and_probe(dir.path(), &config, "snap", &spans);
    eprintln!(
        "snap: {snapshots} snapshots, {} spans, {} ms recorded in {window_s:.1} s, {frames} frames exported",
        spans.len(),
        got / 1000
    );
    if std::env::var_os("KW_TEST_SHOW_LOG").is_some() {
        eprintln!("{log}");
    }
    assert!(frames >= 50, "only {frames} frames in the exported MP4");
}

#[test]
fn wrong_password_is_an_auth_error_and_never_logged() {
    let cam = MjpegCamera::start(CameraOptions {
        auth: AuthKind::Digest,
        password: "right one".into(),
        ..CameraOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let section =
        camera("locked", &cam.url("/goform/video"), &format!("username = \"admin\"\npassword = \"{PASSWORD}\"\n"));
    let config = write_config(dir.path(), "", &section);
    let mut kw = Keepwatch::start(&config);
    kw.expect_line(&["camera offline", "wrong username or password", "camera=locked"], Duration::from_secs(20));
    // The wrong password is not retried at once (the supervisor waits a minute after an auth error).
    std::thread::sleep(Duration::from_secs(2));
    let refused = cam.stats.unauthorized.load(Ordering::Relaxed);
    assert!(refused <= 3, "{refused} refused requests: the camera is being hammered");
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.contains(PASSWORD) && !log.contains("cret") && !log.contains("panicked"), "{log}");
}

#[test]
fn a_redirect_to_another_port_is_not_followed() {
    // Another listener that would accept the password; the camera points every request at it.
    let elsewhere = MjpegCamera::start(CameraOptions { password: PASSWORD.into(), ..CameraOptions::default() });
    let cam = MjpegCamera::start(CameraOptions {
        redirect_to: Some(elsewhere.url("/goform/snapshot")),
        ..CameraOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let section =
        camera("moved", &cam.url("/goform/snapshot"), &format!("username = \"admin\"\npassword = \"{PASSWORD}\"\n"));
    let config = write_config(dir.path(), "", &section);
    let mut kw = Keepwatch::start(&config);
    let redirect = format!("redirects to http://127.0.0.1:{}", elsewhere.port);
    kw.expect_line(&["camera offline", &redirect, "camera=moved"], Duration::from_secs(20));
    kw.stop_ok();
    assert!(cam.stats.requests.load(Ordering::Relaxed) >= 1);
    assert_eq!(elsewhere.stats.requests.load(Ordering::Relaxed), 0, "the redirect was followed");
    assert!(elsewhere.stats.authorizations.lock().unwrap().is_empty());
    let log = kw.log_text();
    assert!(!log.contains(PASSWORD) && !log.contains("cret") && !log.contains("panicked"), "{log}");
}
