//! The restream RTSP server with real players: ffprobe/ffmpeg (TCP, and the default UDP-then-TCP
//! fallback) and GStreamer's `rtspsrc` read `rtsp://127.0.0.1:PORT/<camera>` from a keepwatch that records
//! GStreamer-server cameras; the copies decode cleanly with the camera's codecs, size and audio; logins,
//! tokens and grants are enforced; 20 players at once leave the recording without a gap.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::{ClipSpec, RtspServer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One request on a fresh connection; the status line and headers of the answer.
/// A connection the server closes or resets (it may still count a just-dropped one against
/// `max_clients`) answers the empty string.
fn rtsp_request(port: u16, method: &str, path: &str, auth: Option<&str>) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    if write!(s, "{method} rtsp://127.0.0.1:{port}{path} RTSP/1.0\r\nCSeq: 7\r\n{auth}\r\n").is_err() {
        return String::new();
    }
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn basic(user: &str, pw: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}")))
}

/// `ffmpeg -i URL -t SECS -c copy OUT` with the given transport option (None: ffmpeg's default).
fn copy(url: &str, transport: Option<&str>, secs: u32, out: &std::path::Path) -> std::process::Output {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-y"]);
    if let Some(t) = transport {
        cmd.args(["-rtsp_transport", t]);
    }
    cmd.args(["-i", url, "-t", &secs.to_string(), "-c", "copy"]).arg(out);
    support::run_with_timeout(&mut cmd, Duration::from_secs(90))
}

#[test]
fn restream_serves_players_with_logins_and_grants() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let h264 = support::clip(&ClipSpec { bframes: true, audio: true, ..ClipSpec::h264() });
    let h265 = support::clip(&ClipSpec::h265());
    let cams = RtspServer::start(&[("cam", &h264), ("hevc", &h265)], None);
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let sections = camera("cam", &cams.url("cam"), "") + &camera("hevc", &cams.url("hevc"), "");
    let config = write_config(dir.path(), "", &sections);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += &format!("\n[restream]\nlisten = \"127.0.0.1:{port}\"\n");
    std::fs::write(&config, text).unwrap();
    add_user(&config, "anna", "admin", None, "anna-pass-1234");
    add_user(&config, "ben", "viewer", Some("hevc"), "ben-pass-12345");
    let token = create_token(&config, "ha", "viewer", Some("cam"));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["cam", "hevc"], Duration::from_secs(60));
    let base = format!("rtsp://127.0.0.1:{port}");

    // Who gets in.
    let open = rtsp_request(port, "DESCRIBE", "/cam", None);
    assert!(open.starts_with("RTSP/1.0 401"), "{open}");
    assert!(open.contains("WWW-Authenticate: Basic realm=\"keepwatch\""), "{open}");
    assert!(!open.contains("Digest"), "{open}");
    let wrong = rtsp_request(port, "DESCRIBE", "/cam", Some(&basic("anna", "nope")));
    assert!(wrong.starts_with("RTSP/1.0 401"), "{wrong}");
    let ungranted = rtsp_request(port, "DESCRIBE", "/cam", Some(&basic("ben", "ben-pass-12345")));
    assert!(ungranted.starts_with("RTSP/1.0 404"), "{ungranted}");
    let granted = rtsp_request(port, "DESCRIBE", "/hevc", Some(&basic("ben", "ben-pass-12345")));
    assert!(granted.starts_with("RTSP/1.0 200") && granted.contains("H265/90000"), "{granted}");
    let missing = rtsp_request(port, "DESCRIBE", "/nope", Some(&basic("anna", "anna-pass-1234")));
    assert!(missing.starts_with("RTSP/1.0 404"), "{missing}");

    // The camera's own codecs, size and audio, through ffprobe over TCP and with its default transport
    // (UDP refused with 461, then TCP).
    let probe = support::ffprobe_json(format!("rtsp://anna:anna-pass-1234@127.0.0.1:{port}/cam"));
    assert_eq!(support::codecs_of(&probe, "video"), vec!["h264"]);
    assert_eq!(support::codecs_of(&probe, "audio"), vec!["aac"]);
    let v = probe["streams"].as_array().unwrap().iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!((v["width"].as_u64(), v["height"].as_u64()), (Some(640), Some(360)));
    let hevc = dir.path().join("hevc.mp4");
    let r = copy(&format!("rtsp://ben:ben-pass-12345@127.0.0.1:{port}/hevc"), None, 4, &hevc);
    assert!(r.status.success(), "default transport: {}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(support::codecs_of(&support::ffprobe_json(&hevc), "video"), vec!["hevc"]);

    // A token as the password (any user name); the copy decodes without a single error.
    let out = dir.path().join("cam.mp4");
    let r = copy(&format!("rtsp://ha:{token}@127.0.0.1:{port}/cam"), Some("tcp"), 6, &out);
    assert!(r.status.success(), "token: {}", String::from_utf8_lossy(&r.stderr));
    let errors = support::ffmpeg_decode_errors(&out);
    assert!(errors.trim().is_empty(), "the copied stream does not decode cleanly:\n{errors}");
    assert!(support::decoded_video_frames(&out) >= 100, "too few frames in {}", out.display());
    let probe = support::ffprobe_json(&out);
    assert_eq!(support::codecs_of(&probe, "audio"), vec!["aac"]);

    // GStreamer's rtspsrc, where gst-launch is installed.
    if support::have_tool("gst-launch-1.0") {
        let url = format!("{base}/cam");
        let mut cmd = Command::new("gst-launch-1.0");
        cmd.args(["-q", "rtspsrc", &format!("location={url}"), "user-id=anna", "user-pw=anna-pass-1234"]).args([
            "protocols=tcp",
            "!",
            "rtph264depay",
            "!",
            "h264parse",
            "!",
            "fakesink",
            "num-buffers=50",
        ]);
        let r = support::run_with_timeout(&mut cmd, Duration::from_secs(60));
        assert!(
            r.status.success(),
            "rtspsrc: {}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
    }

    // 20 players at once, while /api/cameras counts them; the recording keeps going without a gap.
    let admin = kw.api().with_bearer(&create_token(&config, "adm", "admin", None));
    let players: Vec<_> = (0..20)
        .map(|_| {
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i"])
                .arg(format!("rtsp://ha:{token}@127.0.0.1:{port}/cam"))
                .args(["-t", "8", "-c", "copy", "-f", "null", "-"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let seen = support::wait::poll(Duration::from_secs(30), || {
        let cams = admin.get_json("/api/cameras");
        cams.as_array().unwrap().iter().any(|c| c["name"] == "cam" && c["restream_clients"].as_u64() >= Some(10))
    });
    assert!(seen, "/api/cameras never counted the players");
    let metrics = admin.get("/metrics").text();
    assert!(metrics.contains("keepwatch_restream_clients{camera=\"cam\"}"), "{metrics}");
    for p in players {
        let out = p.wait_with_output().unwrap();
        assert!(out.status.success(), "a player failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("anna-pass-1234") && !log.contains(&token), "a secret reached the log");
    let spans = spans(&config, "cam");
    let longest = spans.iter().map(|(s, e)| e - s).max().unwrap_or(0);
    let total: i64 = spans.iter().map(|(s, e)| e - s).sum();
    assert!(total - longest < 1_000_000, "the recording has gaps while players watched: {spans:?}");
}

#[test]
fn restream_answers_bad_requests_and_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let config = write_config(dir.path(), "", "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += &format!("\n[restream]\nlisten = \"127.0.0.1:{port}\"\nmax_clients = 2\n");
    std::fs::write(&config, text).unwrap();
    let mut kw = Keepwatch::start(&config);
    kw.expect_log("restream: serving cameras", Duration::from_secs(30));
    let options = rtsp_request(port, "OPTIONS", "/x", None);
    assert!(options.starts_with("RTSP/1.0 200") && options.contains("DESCRIBE"), "{options}");
    // A header block that never ends is refused once it passes 8 KiB, and the connection closed.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(b"DESCRIBE rtsp://h/x RTSP/1.0\r\n");
    let _ = s.write_all(&vec![b'a'; 9000]);
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("RTSP/1.0 413"), "{answer}");
    // No CSeq: 400.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"OPTIONS * RTSP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("RTSP/1.0 400"), "{answer}");
    // Past max_clients a connection is closed at once; the held ones still work.
    let a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0, "a third connection should be closed");
    drop((a, b));
    assert!(support::wait::poll(Duration::from_secs(10), || rtsp_request(port, "OPTIONS", "/x", None)
        .starts_with("RTSP/1.0 200")));
    kw.stop_ok();
}

/// RTSPS (`[restream] tls_listen`): the same server over TLS with the web server's certificate; ffprobe and
/// ffmpeg read the camera through it with a token, and plain RTSP on the TLS port gets nowhere.
#[test]
fn restream_over_tls_with_the_servers_certificate() {
    support::require_tools(&["ffmpeg", "ffprobe", "openssl"]);
    let clip = support::clip(&ClipSpec::h264());
    let cams = RtspServer::start(&[("cam", &clip)], None);
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let config = write_config(dir.path(), "", &camera("cam", &cams.url("cam"), ""));
    serve_tls(&config);
    let text =
        std::fs::read_to_string(&config).unwrap() + &format!("\n[restream]\ntls_listen = \"127.0.0.1:{port}\"\n");
    std::fs::write(&config, text).unwrap();
    let token = create_token(&config, "ha", "viewer", Some("cam"));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["cam"], Duration::from_secs(60));
    kw.expect_log("restream: serving cameras on rtsps://", Duration::from_secs(10));
    let url = format!("rtsps://ha:{token}@127.0.0.1:{port}/cam");
    let probe = support::ffprobe_json(&url);
    assert_eq!(support::codecs_of(&probe, "video"), vec!["h264"], "{probe}");
    let copied = dir.path().join("copy.mp4");
    let r = copy(&url, None, 3, &copied);
    assert!(r.status.success(), "ffmpeg over RTSPS: {}", String::from_utf8_lossy(&r.stderr));
    assert!(support::ffmpeg_decode_errors(&copied).trim().is_empty());
    // Plain RTSP on the TLS port: no RTSP answer.
    let plain = rtsp_request(port, "OPTIONS", "/cam", None);
    assert!(!plain.starts_with("RTSP/1.0"), "{plain}");
    kw.stop_ok();
    assert!(!kw.log_text().contains(&token), "the token must not be logged");
}
