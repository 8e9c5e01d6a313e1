//! Records real RTSP cameras (GStreamer's RTSP server fed by ffmpeg-made clips): H.264 and H.265, 360p and
//! 1080p, with and without B-frames, with and without Digest auth, with AAC and G.711 audio. Records over
//! 30 s, stops keepwatch, exports exactly 30 s of each and checks the MP4 with ffprobe and ffmpeg.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::{Auth, ClipSpec, RtspServer, ServerOptions};
use std::time::{Duration, Instant};

struct Cam {
    name: &'static str,
    codec: &'static str,
    fps: u32,
    audio: Option<&'static str>,
}

#[test]
fn records_real_rtsp_cameras_and_exports_clean_mp4() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let h264_bf_aac = support::clip(&ClipSpec { bframes: true, audio: true, ..ClipSpec::h264() });
    let h264_1080 = support::clip(&ClipSpec { width: 1920, height: 1080, gop_seconds: 2.0, ..ClipSpec::h264() });
    let h265 = support::clip(&ClipSpec { bframes: true, ..ClipSpec::h265() });
    let h264_plain = support::clip(&ClipSpec::h264());
    let h265_1080 = support::clip(&ClipSpec { width: 1920, height: 1080, ..ClipSpec::h265() });

    let open = RtspServer::start(
        &[("bf-aac", &h264_bf_aac), ("fullhd", &h264_1080), ("hevc", &h265), ("hevc-fullhd", &h265_1080)],
        None,
    );
    let secured = RtspServer::start(&[("cam", &h264_plain)], Some(Auth::digest("admin", "pa ss")));
    let g711 = RtspServer::start_with(
        &[("cam", &h264_bf_aac)],
        None,
        ServerOptions { audio: "pcmu", ..ServerOptions::default() },
    );

    let dir = tempfile::tempdir().unwrap();
    let cams = [
        Cam { name: "bf-aac", codec: "h264", fps: 25, audio: Some("aac") },
        Cam { name: "fullhd", codec: "h264", fps: 25, audio: None },
        Cam { name: "hevc", codec: "hevc", fps: 25, audio: None },
        Cam { name: "hevc-fullhd", codec: "hevc", fps: 25, audio: None },
        Cam { name: "digest", codec: "h264", fps: 25, audio: None },
        Cam { name: "g711", codec: "h264", fps: 25, audio: Some("pcm_mulaw") },
    ];
    let mut sections = String::new();
    for c in &cams[..4] {
        sections += &camera(c.name, &open.url(c.name), "");
    }
    sections +=
        &camera("digest", &secured.url_without_credentials("cam"), "username = \"admin\"\npassword = \"pa ss\"\n");
    sections += &camera("g711", &g711.url("cam"), "");
    let config = write_config(dir.path(), "", &sections);
    let mut kw = Keepwatch::start(&config);
    // Each camera must be streaming before the clock for "30 s recorded" starts.
    for c in &cams {
        kw.expect_streaming(&[c.name], Duration::from_secs(60));
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(36) {
        std::thread::sleep(Duration::from_millis(500));
        assert!(kw.is_running(), "keepwatch exited; log:\n{}", kw.log_text());
    }
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("secret") && !log.contains("pa ss"), "a password reached the log:\n{log}");

    for c in &cams {
        let spans = spans(&config, c.name);
        let (s, e) =
            *spans.iter().max_by_key(|(s, e)| e - s).unwrap_or_else(|| panic!("{}: nothing recorded\n{log}", c.name));
        assert!(e - s >= 32_000_000, "{}: longest span only {} ms: {spans:?}", c.name, (e - s) / 1000);
        // 30 s starting mid-GOP, so the export needs its edit list.
        let start = s + 1_330_000;
        let end = start + 30_000_000;
        let out = dir.path().join(format!("{}.mp4", c.name));
        let r = export(&config, c.name, start, end, &out);
        assert!(r.status.success(), "{}: export failed: {}", c.name, String::from_utf8_lossy(&r.stderr));
        let probe = support::ffprobe_json(&out);
        let streams = probe["streams"].as_array().unwrap();
        let video = streams.iter().find(|s| s["codec_type"] == "video").expect("a video stream");
        assert_eq!(video["codec_name"], c.codec, "{}", c.name);
        let dur: f64 = probe["format"]["duration"].as_str().unwrap().parse().unwrap();
        let frame = 1.0 / f64::from(c.fps);
        assert!((dur - 30.0).abs() <= frame + 1e-3, "{}: duration {dur}", c.name);
        let frames = support::decoded_video_frames(&out);
        let expected = 30 * u64::from(c.fps);
        assert!(frames.abs_diff(expected) <= 1, "{}: {frames} frames, expected {expected}", c.name);
        match c.audio {
            Some(codec) => {
                let a = streams
                    .iter()
                    .find(|s| s["codec_type"] == "audio")
                    .unwrap_or_else(|| panic!("{}: no audio", c.name));
                assert_eq!(a["codec_name"], codec, "{}", c.name);
            }
            None => assert!(streams.iter().all(|s| s["codec_type"] != "audio"), "{}", c.name),
        }
        let errors = support::ffmpeg_decode_errors(&out);
        assert!(errors.trim().is_empty(), "{}: ffmpeg reports: {errors}", c.name);
    }
    let r = check(&config, false);
    assert!(r.status.success(), "check: {}{}", String::from_utf8_lossy(&r.stdout), String::from_utf8_lossy(&r.stderr));
}
