//! Proves the integration-test harness itself: generated clips, the GStreamer RTSP camera
//! stand-in (H.264 + AAC and H.265 mounts, with and without digest auth, restart on the
//! same port), and real ffprobe/ffmpeg clients against it. Everything stays on 127.0.0.1.

use crate::support;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{codecs_of, ffmpeg_decode_errors, ffprobe_json, run_with_timeout, Auth, ClipSpec, RtspServer};

/// ffprobe the URL (asserting its codecs), then record 3 s with `ffmpeg -c copy` and check
/// the recording holds the same video codec and about 3 s of it.
fn probe_and_record(url: String, video: &'static str, audio: Option<&'static str>, out_dir: std::path::PathBuf) {
    let probe = ffprobe_json(&url);
    assert_eq!(codecs_of(&probe, "video"), [video], "{url}: {probe}");
    let expected_audio: Vec<&str> = audio.into_iter().collect();
    assert_eq!(codecs_of(&probe, "audio"), expected_audio, "{url}: {probe}");

    let out = out_dir.join(format!("{}.mp4", url.rsplit('/').next().unwrap()));
    let rec = run_with_timeout(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-rtsp_transport", "tcp", "-i", &url])
            .args(["-t", "3", "-c", "copy"])
            .arg(&out),
        Duration::from_secs(60),
    );
    assert!(rec.status.success(), "recording {url} failed: {}", String::from_utf8_lossy(&rec.stderr));
    let probe = ffprobe_json(&out);
    assert_eq!(codecs_of(&probe, "video"), [video], "{}: {probe}", out.display());
    let duration: f64 = probe["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0);
    assert!((2.5..4.5).contains(&duration), "{}: duration {duration}", out.display());
}

#[test]
fn rtsp_server_serves_h264_and_h265_with_and_without_digest_auth() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let t0 = Instant::now();
    let h264 =
        support::clip(&ClipSpec { codec: "h264", seconds: 6, bframes: true, audio: true, ..ClipSpec::default() });
    let h265 = support::clip(&ClipSpec { codec: "h265", seconds: 6, ..ClipSpec::default() });
    for (clip, video, audio) in [(&h264, "h264", Some("aac")), (&h265, "hevc", None)] {
        let probe = ffprobe_json(clip);
        assert_eq!(codecs_of(&probe, "video"), [video]);
        assert_eq!(codecs_of(&probe, "audio"), audio.into_iter().collect::<Vec<_>>());
        assert_eq!(ffmpeg_decode_errors(clip), "", "{} does not decode cleanly", clip.display());
    }
    eprintln!("clips ready after {:?}", t0.elapsed());

    let mounts = [("cam264", h264.as_path()), ("cam265", h265.as_path())];
    let mut open = RtspServer::start(&mounts, None);
    let secured = RtspServer::start(&mounts, Some(Auth::digest("admin", "s3cret:/@ x")));
    assert_ne!(open.port, secured.port);
    eprintln!("servers ready after {:?}", t0.elapsed());

    let out = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    for (server, name) in [(&open, "open"), (&secured, "digest")] {
        for (mount, video, audio) in [("cam264", "h264", Some("aac")), ("cam265", "hevc", None)] {
            let url = server.url(mount);
            let dir = out.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            jobs.push(thread::spawn(move || probe_and_record(url, video, audio, dir)));
        }
    }
    // Without credentials, or with wrong ones, the secured server answers 401.
    for url in [secured.url_without_credentials("cam264"), secured.url_with_credentials("cam264", "admin", "wrong")] {
        let r = run_with_timeout(
            Command::new("ffprobe").args(["-v", "error", "-rtsp_transport", "tcp", &url]),
            Duration::from_secs(60),
        );
        assert!(!r.status.success(), "{url} should be refused");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains("401"), "{url}: {err}");
    }
    for job in jobs {
        job.join().expect("probe/record job failed");
    }
    eprintln!("probes and recordings done after {:?}", t0.elapsed());

    // A camera going away and coming back on the same port.
    let port = open.port;
    let url = open.url("cam265");
    open.stop();
    let r = run_with_timeout(
        Command::new("ffprobe").args(["-v", "error", "-rtsp_transport", "tcp", &url]),
        Duration::from_secs(60),
    );
    assert!(!r.status.success(), "stopped server still answers");
    open.restart();
    assert_eq!(open.port, port);
    assert_eq!(codecs_of(&ffprobe_json(&url), "video"), ["hevc"]);
    eprintln!("restart checked after {:?}", t0.elapsed());
}

#[test]
fn rtsp_server_reencodes_audio_to_pcmu_with_basic_auth() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let h264 =
        support::clip(&ClipSpec { codec: "h264", seconds: 6, bframes: true, audio: true, ..ClipSpec::default() });
    let server = RtspServer::start_with(
        &[("cam", h264.as_path())],
        Some(Auth::basic("viewer", "pw")),
        support::ServerOptions { audio: "pcmu", ..Default::default() },
    );
    let probe = ffprobe_json(server.url("cam"));
    assert_eq!(codecs_of(&probe, "video"), ["h264"]);
    assert_eq!(codecs_of(&probe, "audio"), ["pcm_mulaw"]);
}
