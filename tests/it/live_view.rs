//! Live view against the real binary: the WebSocket fMP4 stream parsed box by box (stream info first, an
//! init segment with the right sample entries, a first fragment that starts with a key frame, decode times
//! without gaps), auth and the Origin rule, HLS played by ffprobe/ffmpeg with `?token=`, many viewers while
//! recording (the recorder loses nothing; a viewer that stops reading is skipped, and memory stays
//! bounded), and a camera that drops and returns (a new init segment on the same connection).

use crate::support;
use crate::support::keepwatch::*;
use crate::support::wait;
use crate::support::{ClipSpec, RtspServer, ServerOptions};
use serde_json::Value;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const ADMIN_PW: &str = "admin-password-1";
const VIEWER_PW: &str = "viewer-password-1";

// ---------------------------------------------------------------------------------------------------------

fn metric(text: &str, name: &str, camera: &str) -> f64 {
    let key = format!("{name}{{camera=\"{camera}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in metrics:\n{text}"))
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// WebSocket client

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// Opens the live WebSocket; Err(status) when the server answers with an HTTP error instead.
fn ws_open(base: &str, camera: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    let url = format!("{}/api/cameras/{camera}/live", base.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            tungstenite::http::HeaderValue::from_str(v).unwrap(),
        );
    }
    match tungstenite::connect(req) {
        Ok((ws, _)) => {
            if let MaybeTlsStream::Plain(s) = ws.get_ref() {
                s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            }
            Ok(ws)
        }
        Err(tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("WebSocket {camera}: {e}"),
    }
}

/// One message: text or binary (pings are answered by tungstenite while reading).
enum Msg {
    Text(String),
    Binary(Vec<u8>),
}

fn ws_next(ws: &mut Ws) -> Msg {
    loop {
        match ws.read().expect("WebSocket read") {
            Message::Text(t) => return Msg::Text(t.to_string()),
            Message::Binary(b) => return Msg::Binary(b.to_vec()),
            Message::Close(c) => panic!("server closed the live WebSocket: {c:?}"),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// ISO BMFF parsing

/// The boxes in `buf`: (type, payload).
fn boxes(buf: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= buf.len() {
        let size = u32::from_be_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
        let typ: [u8; 4] = buf[at + 4..at + 8].try_into().unwrap();
        let (head, size) = if size == 1 {
            (16, u64::from_be_bytes(buf[at + 8..at + 16].try_into().unwrap()) as usize)
        } else {
            (8, if size == 0 { buf.len() - at } else { size })
        };
        assert!(size >= head && at + size <= buf.len(), "box {} overruns", String::from_utf8_lossy(&typ));
        out.push((typ, &buf[at + head..at + size]));
        at += size;
    }
    assert_eq!(at, buf.len(), "trailing bytes after the boxes");
    out
}

fn child<'a>(buf: &'a [u8], typ: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(buf).into_iter().find(|(t, _)| t == typ).map(|(_, p)| p)
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// One track run of a media fragment.
#[derive(Debug)]
struct Run {
    track: u32,
    base_dts: u64,
    /// (duration, flags)
    samples: Vec<(u32, u32)>,
}

/// Parses `moof`+`mdat`: every traf's track id, tfdt and trun samples.
fn fragment(buf: &[u8]) -> Vec<Run> {
    let top = boxes(buf);
    assert_eq!(top.len(), 2, "a media message is moof + mdat");
    assert_eq!(&top[0].0, b"moof");
    assert_eq!(&top[1].0, b"mdat");
    let mut runs = Vec::new();
    for (t, traf) in boxes(top[0].1) {
        if &t != b"traf" {
            continue;
        }
        let tfhd = child(traf, b"tfhd").expect("tfhd");
        let tfdt = child(traf, b"tfdt").expect("tfdt");
        let trun = child(traf, b"trun").expect("trun");
        let base_dts =
            if tfdt[0] == 1 { u64::from_be_bytes(tfdt[4..12].try_into().unwrap()) } else { u64::from(be32(tfdt, 4)) };
        let flags = be32(trun, 0) & 0xff_ffff;
        let count = be32(trun, 4) as usize;
        let mut at = 8;
        if flags & 0x1 != 0 {
            at += 4;
        }
        if flags & 0x4 != 0 {
            at += 4;
        }
        let mut samples = Vec::new();
        for _ in 0..count {
            let mut d = 0;
            let mut f = 0;
            if flags & 0x100 != 0 {
                d = be32(trun, at);
                at += 4;
            }
            if flags & 0x200 != 0 {
                at += 4;
            }
            if flags & 0x400 != 0 {
                f = be32(trun, at);
                at += 4;
            }
            if flags & 0x800 != 0 {
                at += 4;
            }
            samples.push((d, f));
        }
        runs.push(Run { track: be32(tfhd, 4), base_dts, samples });
    }
    runs
}

fn is_key(flags: u32) -> bool {
    (flags >> 24) & 3 == 2 && flags & 0x1_0000 == 0
}

/// What a viewer saw, and where it is in the protocol.
#[derive(Default)]
struct Seen {
    infos: Vec<Value>,
    inits: Vec<Vec<u8>>,
    media: usize,
    bytes: usize,
    video_frames: usize,
    first_media: Option<Duration>,
    expect_init: bool,
    expect_key: bool,
    next_dts: std::collections::HashMap<u32, u64>,
}

/// Reads the live stream for `dur` (or until `stop` says so), checking the protocol as it goes: stream info
/// before each init segment, init segments with ftyp + moov, media that starts with a key frame after
/// every init segment, and video decode times that continue exactly where the last fragment ended, across
/// everything (new init segments included); audio never goes back.
fn watch(ws: &mut Ws, seen: &mut Seen, dur: Duration, mut stop: impl FnMut(&Seen) -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < dur && !stop(seen) {
        match ws_next(ws) {
            Msg::Text(t) => {
                assert!(!seen.expect_init, "two info messages in a row");
                seen.infos.push(serde_json::from_str(&t).unwrap_or_else(|e| panic!("info {t:?}: {e}")));
                seen.expect_init = true;
            }
            Msg::Binary(b) => {
                if seen.expect_init {
                    let top = boxes(&b);
                    let names: Vec<&[u8]> = top.iter().map(|(t, _)| &t[..]).collect();
                    assert_eq!(names, [&b"ftyp"[..], &b"moov"[..]], "init segment");
                    seen.inits.push(b);
                    seen.expect_init = false;
                    seen.expect_key = true;
                    continue;
                }
                assert!(!seen.inits.is_empty(), "media before the init segment");
                let runs = fragment(&b);
                seen.media += 1;
                seen.bytes += b.len();
                seen.first_media.get_or_insert(t0.elapsed());
                for r in &runs {
                    if r.track == 1 {
                        seen.video_frames += r.samples.len();
                        if seen.expect_key {
                            assert!(
                                is_key(r.samples[0].1),
                                "the first video sample after an init segment is not a key frame"
                            );
                            seen.expect_key = false;
                        }
                    }
                    if let Some(&want) = seen.next_dts.get(&r.track) {
                        assert!(
                            r.base_dts >= want,
                            "track {}: decode time went back ({} < {want})",
                            r.track,
                            r.base_dts
                        );
                        if r.track == 1 {
                            assert_eq!(r.base_dts, want, "video decode times have a gap");
                        }
                    }
                    let d: u64 = r.samples.iter().map(|s| u64::from(s.0)).sum();
                    seen.next_dts.insert(r.track, r.base_dts + d);
                }
            }
        }
    }
}

fn setup(dir: &Path, cameras: &str) -> (std::path::PathBuf, String, String) {
    let config = write_config(dir, "", cameras);
    add_user(&config, "admin", "admin", None, ADMIN_PW);
    add_user(&config, "viewer", "viewer", Some("side"), VIEWER_PW);
    let admin = create_token(&config, "script", "admin", None);
    let viewer = create_token(&config, "vlc", "viewer", Some("side"));
    (config, admin, viewer)
}

// ---------------------------------------------------------------------------------------------------------

#[test]
fn websocket_and_hls_of_the_synthetic_camera() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let tmp = tempfile::tempdir().unwrap();
    let cams = [
        camera(
            "side",
            "demo://synthetic?width=320&height=240&fps=10",
            "record = \"off\"\nsub_url = \"demo://synthetic?width=160&height=96&fps=5\"",
        ),
        camera("other", "demo://synthetic?width=160&height=96&fps=5", "record = \"off\""),
    ]
    .join("\n");
    let (config, admin_token, viewer_token) = setup(tmp.path(), &cams);
    let kw = Keepwatch::start(&config);
    let http = kw.api();
    let base = http.base().to_owned();
    kw.expect_streaming(&["side", "other"], Duration::from_secs(30));
    let admin = http.with_bearer(&admin_token);
    let bearer = format!("Bearer {admin_token}");
    let viewer_bearer = format!("Bearer {viewer_token}");

    // --- Auth: 401 without credentials, 403 for a camera not granted, Origin checked for cookies.
    assert_eq!(ws_open(&base, "side", &[]).err(), Some(401));
    for path in ["live.m3u8", "live/init.mp4", "live/0.m4s"] {
        assert_eq!(http.get(&format!("/api/cameras/side/{path}")).status, 401, "{path}");
    }
    assert_eq!(ws_open(&base, "other", &[("authorization", &viewer_bearer)]).err(), Some(403));
    assert_eq!(http.get(&format!("/api/cameras/other/live.m3u8?token={viewer_token}")).status, 403);
    assert_eq!(ws_open(&base, "nope", &[("authorization", &bearer)]).err(), Some(404));
    assert_eq!(admin.get("/api/cameras/side/live").status, 400, "not an upgrade");
    let viewer_session = http.login("viewer", VIEWER_PW);
    let session = viewer_session.cookie.clone();
    let evil = ws_open(&base, "side", &[("cookie", &session), ("origin", "http://evil.example")]);
    assert_eq!(evil.err(), Some(403), "cross-site WebSocket with the session cookie");
    assert_eq!(ws_open(&base, "other", &[("cookie", &session), ("origin", &base)]).err(), Some(403));
    let mut ws = ws_open(&base, "side", &[("cookie", &session), ("origin", &base)]).expect("same-origin WebSocket");
    let mut seen = Seen::default();
    watch(&mut ws, &mut seen, Duration::from_secs(3), |s| s.media > 0);
    assert_eq!(seen.infos.len(), 1);
    drop(ws);

    // --- The stream: info, init (avcC, no audio), key frame first, continuous decode times for ~5 s.
    let mut ws = ws_open(&base, "side", &[("authorization", &bearer)]).unwrap();
    let mut seen = Seen::default();
    watch(&mut ws, &mut seen, Duration::from_secs(5), |_| false);
    let info = &seen.infos[0];
    assert!(info["codec"].as_str().unwrap().starts_with("avc1."), "{info}");
    assert_eq!(info["audio"], Value::Null);
    assert_eq!((info["width"].as_u64(), info["height"].as_u64()), (Some(320), Some(240)));
    assert_eq!(info["mime"].as_str().unwrap(), format!("video/mp4; codecs=\"{}\"", info["codec"].as_str().unwrap()));
    assert_eq!(seen.inits.len(), 1);
    let moov = child(&seen.inits[0], b"moov").unwrap();
    assert!(moov.windows(4).any(|w| w == b"avcC") && moov.windows(4).any(|w| w == b"mvex"));
    assert!(!moov.windows(4).any(|w| w == b"mp4a"));
    // 10 fps for 5 s, plus the buffered GOP it started with.
    assert!(seen.video_frames >= 40, "{} frames in 5 s", seen.video_frames);
    assert!(seen.first_media.unwrap() < Duration::from_secs(2), "first media after {:?}", seen.first_media);
    drop(ws);

    // --- The sub-stream (`sub_url`), for grid views and browsers that cannot play the main stream's codec.
    let url = format!("{}/api/cameras/side/live?stream=sub", base.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("authorization", bearer.parse().unwrap());
    let (mut ws, _) = tungstenite::connect(req).expect("sub-stream WebSocket");
    let mut seen = Seen::default();
    watch(&mut ws, &mut seen, Duration::from_secs(10), |s| s.media > 0);
    assert_eq!((seen.infos[0]["width"].as_u64(), seen.infos[0]["height"].as_u64()), (Some(160), Some(96)));
    drop(ws);
    let r = http.get(&format!("/api/cameras/side/live.m3u8?stream=sub&token={admin_token}"));
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    let seg = text.lines().find(|l| l.starts_with("live/") && l.contains(".m4s")).unwrap();
    assert!(seg.ends_with(&format!("?stream=sub&token={admin_token}")), "{seg}");
    let r = http.get(&format!("/api/cameras/side/{seg}"));
    assert_eq!(r.status, 200, "{seg}: {}", r.text());
    let status = admin.get("/api/cameras/other/live.m3u8?stream=sub").status;
    assert_eq!(status, 404, "a camera without sub_url");

    // --- HLS: the playlist, its files, ffprobe and ffmpeg with ?token=.
    let playlist = format!("/api/cameras/side/live.m3u8?token={viewer_token}");
    let url = format!("{base}{playlist}");
    let r = http.get(&playlist);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type").unwrap_or(""), "application/vnd.apple.mpegurl");
    let text = String::from_utf8(r.body).unwrap();
    for tag in ["#EXTM3U\n", "#EXT-X-VERSION:7\n", "#EXT-X-TARGETDURATION:", "#EXT-X-MEDIA-SEQUENCE:", "#EXTINF:"] {
        assert!(text.contains(tag), "{tag} missing:\n{text}");
    }
    let map = text.lines().find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\"")).unwrap().trim_end_matches('"');
    assert!(map.ends_with(&format!("?token={viewer_token}")), "{map}");
    let seg = text.lines().find(|l| l.starts_with("live/") && l.contains(".m4s")).unwrap();
    assert!(seg.ends_with(&format!("?token={viewer_token}")), "{seg}");
    let r = http.get(&format!("/api/cameras/side/{map}"));
    assert_eq!(r.status, 200);
    assert!(child(&r.body, b"moov").unwrap().windows(4).any(|w| w == b"avcC"));
    let r = http.get(&format!("/api/cameras/side/{seg}"));
    assert_eq!(r.status, 200);
    let media = r.body;
    let first = boxes(&media);
    assert_eq!(&first[0].0, b"moof");
    let runs = fragment(&media[..first[0].1.len() + 8 + first[1].1.len() + 8]);
    assert!(is_key(runs[0].samples[0].1), "an HLS segment starts with a key frame");
    // Bearer and cookie requests get URIs without a token: the cookie is never copied into a URL.
    let plain = String::from_utf8(http.with_session(&viewer_session).get("/api/cameras/side/live.m3u8").body).unwrap();
    assert!(!plain.contains("token=") && !plain.contains(&session), "{plain}");
    let status = http.get(&format!("/api/cameras/side/live/999999.m4s?token={viewer_token}")).status;
    assert_eq!(status, 404);

    let probe = support::ffprobe_json(&url);
    assert_eq!(support::codecs_of(&probe, "video"), ["h264"], "{probe}");
    let out = support::run_with_timeout(
        Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-i", &url, "-t", "3", "-f", "null", "-"]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&out.stderr));
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(errors.trim().is_empty(), "ffmpeg decode errors: {errors}");
    assert!(!kw.log_text().contains(&viewer_token), "a token in the log");
}

/// A viewer that stops reading for a while, then reads again for a moment and leaves. In Python because
/// only a small TCP_MAXSEG (set before connecting) keeps the server's send buffer small enough to fill
/// quickly; with loopback's 64 KiB segments the kernel would absorb megabytes first.
const SLOW_VIEWER: &str = r#"
import socket, sys, time
host, port, path, token, stall = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (path, host, port, token)).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
print(head.split(b"\r\n")[0].decode(), flush=True)
time.sleep(stall)
s.settimeout(0.5)
n, t0 = 0, time.time()
while time.time() - t0 < 2:
    try:
        n += len(s.recv(65536))
    except socket.timeout:
        pass
print("read", n, flush=True)
s.close()
"#;

fn slow_viewer(base: &str, camera: &str, token: &str, stall: Duration) -> std::process::Child {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    Command::new(std::env::var_os("KW_TEST_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into()))
        .args(["-c", SLOW_VIEWER, &addr.ip().to_string(), &addr.port().to_string()])
        .arg(format!("/api/cameras/{camera}/live"))
        .arg(token)
        .arg(stall.as_secs_f64().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3")
}

#[test]
fn many_viewers_while_recording() {
    let tmp = tempfile::tempdir().unwrap();
    // 60 fps, so a viewer that stops reading fills its queue (256 events) within seconds.
    let cams = camera("side", "demo://synthetic?width=320&height=240&fps=60&gop=0.5", "");
    let (config, admin_token, _) = setup(tmp.path(), &cams);
    let slow_token = create_token(&config, "slow", "admin", None);
    let kw = Keepwatch::start(&config);
    let admin = kw.api().with_bearer(&admin_token);
    let base = admin.base().to_owned();
    kw.expect_streaming(&["side"], Duration::from_secs(30));
    let bearer = format!("Bearer {admin_token}");
    let metrics = || {
        let r = admin.get("/metrics");
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).unwrap()
    };

    // The kernel's send buffer (autotuned, so its size varies from run to run) takes the first ~10 s of
    // this camera's video; 19 s of stall leaves the hub queue (~4 s) well overflowed, and stays under the
    // viewer's 20 s send timeout.
    let slow = slow_viewer(&base, "side", &slow_token, Duration::from_secs(19));
    let viewers: Vec<_> = (0..20)
        .map(|_| {
            let base = base.clone();
            let bearer = bearer.clone();
            std::thread::spawn(move || {
                let mut ws = ws_open(&base, "side", &[("authorization", &bearer)]).unwrap();
                let mut seen = Seen::default();
                watch(&mut ws, &mut seen, Duration::from_secs(10), |_| false);
                seen
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let rss_early = rss_kib(kw.pid());
    let mut rss_max = rss_early;
    for v in viewers {
        while !v.is_finished() {
            rss_max = rss_max.max(rss_kib(kw.pid()));
            std::thread::sleep(Duration::from_millis(250));
        }
        let seen = v.join().expect("viewer thread");
        assert_eq!(seen.inits.len(), 1);
        assert!(seen.video_frames >= 300, "a viewer got {} frames in 10 s at 60 fps", seen.video_frames);
    }
    // The viewer that stopped reading fell behind and was skipped ahead, without growing keepwatch's memory.
    let out = slow.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.starts_with("HTTP/1.1 101"), "slow viewer: {said}");
    assert!(rss_max < rss_early + 24 * 1024, "RSS grew from {rss_early} KiB to {rss_max} KiB");
    let line = kw.expect_line(&["live viewer left", "user=slow"], Duration::from_secs(10));
    assert!(!line.contains(" 0 skips"), "the slow viewer was not skipped ahead: {line}");
    eprintln!("{line}");

    // The recorder lost nothing: every frame the camera sent is written (allowing for what is in flight).
    let camera_frames = metric(&metrics(), "keepwatch_camera_frames_total", "side");
    wait::until_ok("the recorder to write every frame the camera sent", Duration::from_secs(10), || {
        let recorded = metric(&metrics(), "keepwatch_recorded_frames_total", "side");
        if recorded >= camera_frames {
            Ok(())
        } else {
            Err(format!("recorded {recorded} of {camera_frames} frames"))
        }
    });
    assert!(camera_frames >= 600.0, "{camera_frames}");
    assert!(!kw.log_text().contains("recorder fell behind"), "{}", kw.log_text());
}

#[test]
fn camera_with_audio_drops_and_returns() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let clip = support::clip(&ClipSpec { audio: true, seconds: 10, ..ClipSpec::h264() });
    let mut server = RtspServer::start_with(&[("front", &clip)], None, ServerOptions { audio: "aac", port: None });
    let tmp = tempfile::tempdir().unwrap();
    let (config, admin_token, _) = setup(tmp.path(), &camera("front", &server.url("front"), "record = \"off\""));
    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    kw.expect_streaming(&["front"], Duration::from_secs(30));
    let bearer = format!("Bearer {admin_token}");

    let mut ws = ws_open(&base, "front", &[("authorization", &bearer)]).unwrap();
    let mut seen = Seen::default();
    watch(&mut ws, &mut seen, Duration::from_secs(3), |_| false);
    let info = &seen.infos[0];
    assert_eq!(info["audio"], "mp4a.40.2", "{info}");
    assert!(info["mime"].as_str().unwrap().ends_with(",mp4a.40.2\""), "{info}");
    let moov = child(&seen.inits[0], b"moov").unwrap();
    assert!(moov.windows(4).any(|w| w == b"avcC") && moov.windows(4).any(|w| w == b"mp4a"));

    // HLS carries the audio too.
    let url = format!("{base}/api/cameras/front/live.m3u8?token={admin_token}");
    let probe = support::ffprobe_json(&url);
    assert_eq!(support::codecs_of(&probe, "audio"), ["aac"], "{probe}");

    // The camera goes away and comes back: the same connection gets a new info + init segment and goes on.
    server.stop();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        server.restart();
        server
    });
    let before = seen.video_frames;
    let mut after_return = 0;
    watch(&mut ws, &mut seen, Duration::from_secs(30), |s| {
        if s.inits.len() < 2 {
            after_return = s.video_frames;
        }
        s.inits.len() == 2 && s.video_frames >= after_return + 25
    });
    assert_eq!(seen.inits.len(), 2, "no new init segment after the camera returned:\n{}", kw.log_text());
    assert_eq!(seen.infos.len(), 2);
    assert!(
        seen.video_frames >= after_return + 25,
        "{} frames after the camera returned",
        seen.video_frames - after_return
    );
    assert!(after_return >= before);
    let server = restarter.join().unwrap();
    drop(ws);
    drop(server);
}
