//! The camera compatibility matrix against a second, independent RTSP server: live555 (see
//! `tests/support/live555.rs`), serving clips the way live555-based camera firmware does (the RTP marker
//! on every slice, RTCP BYE at the end of the clip). Each session plays a whole clip from its first frame,
//! so a recorded session can be compared frame by frame with the clip: the decoded frames of
//! `keepwatch export` must be a contiguous run of the clip's (`ffmpeg -f framemd5`) covering nearly all of
//! it, and the next session must follow at once (BYE → reconnect, no 10 s gap).
//!
//! Cells (H.264 Baseline/Main/High, with and without B-frames, 1 and 4 slices per picture, parameter sets
//! in-band and only at the start; H.265 IDR and CRA; AAC and G.711 audio; RTP over TCP and, for a server
//! that refuses TCP, UDP; a stream that goes silent; an unsupported codec) run in one keepwatch against
//! one server, so the whole matrix costs about one clip's time. `scripts/compat-matrix.sh` runs it and
//! writes the per-cell table to `bench/results/`.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::live555::{self, EsSpec, Live555};
use std::path::Path;
use std::time::{Duration, Instant};

struct Cell {
    name: &'static str,
    spec: EsSpec,
    audio: Option<&'static str>,
    udp: bool,
}

fn cells() -> Vec<Cell> {
    let h = |name, spec| Cell { name, spec, audio: None, udp: false };
    let d = EsSpec::default;
    vec![
        h("baseline", EsSpec { profile: "baseline", ..d() }),
        h("main", EsSpec { profile: "main", ..d() }),
        h("main-bf", EsSpec { profile: "main", bframes: true, ..d() }),
        h("high", d()),
        h("high-bf", EsSpec { bframes: true, ..d() }),
        h("high-slices", EsSpec { slices: 4, ..d() }),
        h("high-bf-slices", EsSpec { bframes: true, slices: 4, ..d() }),
        h("baseline-slices", EsSpec { profile: "baseline", slices: 4, ..d() }),
        h("headers-once", EsSpec { headers_once: true, ..d() }),
        h("hevc-idr", EsSpec { codec: "h265", ..d() }),
        h("hevc-cra", EsSpec { codec: "h265", cra: true, ..d() }),
        h("hevc-cra-once", EsSpec { codec: "h265", cra: true, headers_once: true, ..d() }),
        Cell { name: "aac", spec: d(), audio: Some("aac"), udp: false },
        Cell { name: "g711", spec: d(), audio: Some("pcmu"), udp: false },
        Cell { name: "udp-slices", spec: EsSpec { slices: 4, ..d() }, audio: None, udp: true },
    ]
}

/// What one cell showed.
#[derive(Default)]
struct Outcome {
    frames: usize,
    source_frames: usize,
    at: Option<usize>,
    next_session_gap_ms: Option<i64>,
    audio: String,
    snapshot: String,
    motion: String,
    problems: Vec<String>,
}

#[test]
#[ignore = "the whole matrix builds live555 (g++, ~1 min) and records 17 cameras: run by scripts/compat-matrix.sh"]
fn live555_matrix_records_every_cell_frame_exact() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let cells = cells();
    let seconds = EsSpec::default().seconds;
    let mut tcp_streams = Vec::new();
    let mut udp_streams = Vec::new();
    for c in &cells {
        let file = live555::es_clip(&c.spec);
        let audio = c.audio.map(|a| (a, live555::audio_clip(a, seconds)));
        let arg = live555::stream_arg(
            c.name,
            c.spec.codec,
            &file,
            c.spec.fps,
            audio.as_ref().map(|(k, f)| (*k, f.as_path())),
            None,
        );
        let list = if c.udp { &mut udp_streams } else { &mut tcp_streams };
        list.push(arg);
    }
    // A camera that goes silent 3 s into each session, and one keepwatch cannot record.
    let plain = live555::es_clip(&EsSpec::default());
    tcp_streams.push(live555::stream_arg("silent", "h264", &plain, 25, None, Some(3)));
    tcp_streams.push(live555::stream_arg("mp2t", "ts", &live555::ts_clip(), 25, None, None));
    let server = Live555::start(&tcp_streams, false);
    let udp_server = Live555::start(&udp_streams, true);

    let dir = tempfile::tempdir().unwrap();
    let mut sections = String::new();
    for c in &cells {
        let url = if c.udp { udp_server.url(c.name) } else { server.url(c.name) };
        sections += &camera(c.name, &url, "");
    }
    sections += &camera("silent", &server.url("silent"), "");
    sections += &camera("mp2t", &server.url("mp2t"), "");
    let config = write_config(dir.path(), "", &sections);
    let token = create_token(&config, "matrix", "admin", None);
    let started = Instant::now();
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    for c in &cells {
        kw.expect_streaming(&[c.name], Duration::from_secs(90));
    }
    // Two whole sessions of every cell: the first is compared with the clip, the second shows the
    // reconnect after BYE.
    let t0 = Instant::now();
    let enough = Duration::from_secs(u64::from(seconds) * 2 + 6);
    while t0.elapsed() < enough {
        std::thread::sleep(Duration::from_millis(500));
        assert!(kw.is_running(), "keepwatch exited; log:\n{}", kw.log_text());
    }
    let cams = api.get_json("/api/cameras");
    let most_frames = (started.elapsed().as_secs_f64() + 1.0) * 25.0;
    let mut snapshots = Vec::new();
    for c in &cells {
        let s = spans(&config, c.name);
        let answer = s.first().map(|(a, b)| {
            let mid = a + (b - a) / 2;
            api.get(&format!("/api/cameras/{}/snapshot.jpg?at={}", c.name, rfc3339(mid).replace('+', "%2B")))
        });
        snapshots.push(answer.map(|r| (r.status, r.body.starts_with(&[0xFF, 0xD8]))));
    }
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.contains("panicked"), "{log}");

    let mut table = String::from(
        "| cell | transport | frames recorded / clip | contiguous at | next session after | audio | snapshot | motion | result |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    let find =
        |name: &str| cams.as_array().and_then(|a| a.iter().find(|c| c["name"] == name)).cloned().unwrap_or_default();
    for (c, snap) in cells.iter().zip(&snapshots) {
        let mut o = judge(c, &config, dir.path(), snap);
        let counted = find(c.name)["frames"].as_u64().unwrap_or(0);
        if counted as f64 > most_frames {
            o.problems.push(format!("/api/cameras counts {counted} frames, more than the camera sent"));
        }
        // Motion: the clip moves all the time, so an H.264 cell raises an event with every frame decoded;
        // an H.265 cell says why it cannot (no H.265 decoder).
        let motion = find(c.name)["motion"].as_str().unwrap_or_default().to_owned();
        let event = log.contains(&format!("motion started camera={} ", c.name));
        let motion_ok =
            if c.spec.codec == "h264" { motion == "on" && event } else { motion.starts_with("unavailable") };
        if !motion_ok {
            o.problems.push(format!("motion {motion:?}, event raised: {event}"));
        }
        o.motion = if event { format!("{motion}, event") } else { motion };
        let ok = o.problems.is_empty();
        table += &format!(
            "| {} | {} | {}/{} | {} | {} | {} | {} | {} | {} |\n",
            c.name,
            if c.udp { "UDP (server refuses TCP)" } else { "TCP" },
            o.frames,
            o.source_frames,
            o.at.map_or("no".into(), |i| format!("frame {i}")),
            o.next_session_gap_ms.map_or("-".into(), |g| if g == 0 {
                "at once (one span)".into()
            } else {
                format!("{g} ms")
            }),
            o.audio,
            o.snapshot,
            o.motion,
            if ok { "ok".to_owned() } else { o.problems.join("; ") }
        );
        if !ok {
            failures.push(c.name);
        }
    }
    // The silent camera is noticed (10 s of silence) and reconnected; the MP2T camera is refused with a
    // clear reason and not hammered (it waits a minute between attempts, like a wrong password).
    let mp2t = find("mp2t");
    let mp2t_text = mp2t.to_string();
    let mp2t_ok = mp2t_text.contains("not supported") && mp2t["reconnects"].as_u64().unwrap_or(99) <= 2;
    table += &format!(
        "| mp2t (unsupported) | TCP | - | - | - | - | - | - | {} |\n",
        if mp2t_ok { "ok: refused, retried after 60 s".to_owned() } else { format!("FAILED: {mp2t_text}") }
    );
    let silent_spans = spans(&config, "silent");
    let silent_ok = log.contains("camera=silent") && log.contains("sent nothing for 10 s") && !silent_spans.is_empty();
    table += &format!(
        "| silent after 3 s | TCP | - | - | - | - | - | - | {} |\n",
        if silent_ok { "ok: timed out, reconnected" } else { "FAILED" }
    );
    if !mp2t_ok {
        failures.push("mp2t");
    }
    if !silent_ok {
        failures.push("silent");
    }
    eprintln!("compat matrix (live555):\n{table}");
    if let Ok(out) = std::env::var("KW_MATRIX_TABLE") {
        let _ = std::fs::write(out, &table);
    }
    assert!(failures.is_empty(), "cells failed: {failures:?}\n{table}\nlog:\n{log}");
}

/// Compares the first recorded session of a cell with its clip.
fn judge(c: &Cell, config: &Path, dir: &Path, snap: &Option<(u16, bool)>) -> Outcome {
    let mut o = Outcome::default();
    let clip = live555::es_clip(&c.spec);
    let source = live555::frame_hashes(&clip);
    o.source_frames = source.len();
    let s = spans(config, c.name);
    let Some(&(start, end)) = s.first() else {
        o.problems.push("nothing recorded".into());
        return o;
    };
    o.next_session_gap_ms = s.get(1).map(|(next, _)| (next - end) / 1000);
    let out = dir.join(format!("{}.mp4", c.name));
    let r = export(config, c.name, start, end, &out);
    if !r.status.success() {
        o.problems.push(format!("export failed: {}", String::from_utf8_lossy(&r.stderr).trim()));
        return o;
    }
    // Every session plays the clip from its first frame. A session that follows the one before within
    // two frame intervals (BYE, then a new session at once) shares its span, so the export may hold several:
    // split them where the clip's first frame comes again.
    let all = live555::frame_hashes(&out);
    let mut sessions: Vec<Vec<String>> = vec![Vec::new()];
    for h in all {
        if Some(&h) == source.first() && !sessions.last().is_some_and(Vec::is_empty) {
            sessions.push(Vec::new());
        }
        sessions.last_mut().expect("one session at least").push(h);
    }
    let got = &sessions[0];
    if sessions.len() >= 2 && o.next_session_gap_ms.is_none() {
        o.next_session_gap_ms = Some(0);
    }
    o.frames = got.len();
    o.at = live555::contiguous_in(&source, got);
    if o.at.is_none() {
        o.problems.push("decoded frames are not a contiguous run of the clip's".into());
    }
    // One session is the whole clip; the last picture may be cut by the end of the span.
    if got.len() + 3 < source.len() {
        o.problems.push(format!("only {} of {} frames", got.len(), source.len()));
    }
    let errors = support::ffmpeg_decode_errors(&out);
    if !errors.trim().is_empty() {
        o.problems.push(format!("ffmpeg: {}", errors.lines().next().unwrap_or_default()));
    }
    match o.next_session_gap_ms {
        Some(g) if g > 5_000 => o.problems.push(format!("next session only {g} ms later (BYE not acted on)")),
        None => o.problems.push("no second session".into()),
        _ => {}
    }
    o.audio = match c.audio {
        None => "-".into(),
        Some(kind) => {
            let probe = support::ffprobe_json(&out);
            let codecs = support::codecs_of(&probe, "audio");
            let want = if kind == "aac" { "aac" } else { "pcm_mulaw" };
            if codecs != [want] {
                o.problems.push(format!("audio {codecs:?}, expected {want}"));
            }
            let samples = live555::audio_samples(&out);
            let seconds = samples.len() as f64 / 2.0 / if kind == "aac" { 16_000.0 } else { 8_000.0 };
            if seconds < f64::from(c.spec.seconds) - 1.0 {
                o.problems.push(format!("only {seconds:.1} s of audio"));
            }
            // The first session's audio is the camera's for all but its last second: AAC byte for byte, G.711 within
            // its quantisation.
            let clip = live555::audio_clip(kind, c.spec.seconds);
            let (same, whole) = if kind == "aac" {
                let source = live555::aac_payload(&clip, true);
                (live555::bytes_run_in(&source, &live555::aac_payload(&out, false)), source.len())
            } else {
                let source = live555::audio_samples(&clip);
                (live555::g711_run_in(&source, &samples), source.len() / 2)
            };
            let part = same as f64 / whole.max(1) as f64;
            if part < 1.0 - 1.0 / f64::from(c.spec.seconds) {
                o.problems.push(format!("only {:.0} % of the audio is the camera's", part * 100.0));
            }
            format!("{want} {seconds:.1} s, {:.0} % the camera's", part * 100.0)
        }
    };
    o.snapshot = match (snap, c.spec.codec, c.spec.bframes) {
        (Some((200, true)), _, _) => "jpeg".into(),
        (Some((501, _)), "h265", _) => "501 (no H.265 decoder)".into(),
        // B-frame snapshots are the `motion` branch's (issue 20, item 2): shown, not judged here.
        (Some((st, _)), "h264", true) => format!("{st} (B-frames: item 2)"),
        (other, _, _) => {
            o.problems.push(format!("snapshot answered {other:?}"));
            format!("{other:?}")
        }
    };
    o
}

#[test]
#[ignore = "builds live555 (g++): run by scripts/compat-matrix.sh"]
fn live555_bframe_snapshots() {
    support::require_tools(&["ffmpeg"]);
    let spec = EsSpec { bframes: true, slices: 4, ..EsSpec::default() };
    let server = Live555::start(&[live555::stream_arg("cam", "h264", &live555::es_clip(&spec), 25, None, None)], false);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", &server.url("cam"), ""));
    let token = create_token(&config, "t", "admin", None);
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["cam"], Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3));
    for _ in 0..5 {
        let r = api.get("/api/cameras/cam/snapshot.jpg");
        assert_eq!(r.status, 200, "{}", r.text());
        std::thread::sleep(Duration::from_millis(300));
    }
    kw.stop_ok();
}

/// live555's answers captured once (`tests/support/live555/capture.py` against the live555 test server
/// streaming a 4-slices-per-picture clip: the SDP and the first 48 RTP packets, 12 pictures, the marker bit
/// on every slice), replayed by a fake camera, then RTCP BYE. Needs no live555 build: the quirk's test data.
#[test]
fn live555_marker_on_every_slice_replayed_from_capture() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/live555");
    let sdp = std::fs::read_to_string(data.join("h264-4-slices.sdp")).unwrap();
    let rtp = std::fs::read(data.join("h264-4-slices.rtp")).unwrap();
    let port = replaying_camera(sdp, rtp);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", &format!("rtsp://127.0.0.1:{port}/slices"), ""));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["cam"], Duration::from_secs(60));
    // A few replays (each ends with BYE, and the next session follows at once).
    let t0 = Instant::now();
    while spans(&config, "cam").len() < 3 && t0.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(500));
    }
    kw.stop_ok();
    let s = spans(&config, "cam");
    assert!(s.len() >= 2, "sessions: {s:?}\n{}", kw.log_text());
    let (start, end) = s[0];
    let out = dir.path().join("replay.mp4");
    let r = export(&config, "cam", start, end, &out);
    assert!(r.status.success(), "export: {}", String::from_utf8_lossy(&r.stderr));
    let frames = support::decoded_video_frames(&out);
    // 12 pictures of 4 slices each: one sample per picture, not per slice (48).
    assert!((11..=12).contains(&frames), "{frames} frames recorded from 12 pictures");
    let errors = support::ffmpeg_decode_errors(&out);
    assert!(errors.trim().is_empty(), "ffmpeg: {errors}");
    // The next session's first picture: reconnect + the camera's 1 s of silence.
    assert!((s[1].0 - s[0].1) < 5_000_000, "the next session came {} ms after BYE", (s[1].0 - s[0].1) / 1000);
}

/// A fake RTSP camera on loopback that answers DESCRIBE with `sdp` and, after PLAY, sends the captured RTP
/// packets (2-byte length + packet each) interleaved on channel 0, one picture per 40 ms, then RTCP BYE.
fn replaying_camera(sdp: String, rtp: Vec<u8>) -> u16 {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut packets = Vec::new();
    let mut i = 0;
    while i + 2 <= rtp.len() {
        let n = usize::from(u16::from_be_bytes([rtp[i], rtp[i + 1]]));
        packets.push(rtp[i + 2..i + 2 + n].to_vec());
        i += 2 + n;
    }
    std::thread::spawn(move || {
        for conn in listener.incoming().take(20) {
            let Ok(conn) = conn else { continue };
            let (sdp, packets) = (sdp.clone(), packets.clone());
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.trim().is_empty() {
                            break;
                        }
                        head.push(line.trim().to_owned());
                    }
                    let Some(first) = head.first().cloned() else { continue };
                    let header = |name: &str| {
                        head.iter()
                            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)))
                            .map(|(_, v)| v.trim().to_owned())
                    };
                    let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                    let mut body = vec![0; len];
                    let _ = r.read_exact(&mut body);
                    let cseq = header("cseq").unwrap_or_default();
                    let url = first.split(' ').nth(1).unwrap_or_default().to_owned();
                    let method = first.split(' ').next().unwrap_or_default().to_owned();
                    let answer = match method.as_str() {
                        "DESCRIBE" => format!(
                            "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Base: {url}/\r\nContent-Type: application/sdp\r\n\
                             Content-Length: {}\r\n\r\n{sdp}",
                            sdp.len()
                        ),
                        "SETUP" => format!(
                            "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\
                             Session: 4B1D;timeout=60\r\n\r\n"
                        ),
                        "PLAY" => format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 4B1D\r\nRange: npt=0.000-\r\n\r\n"),
                        _ => format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"),
                    };
                    if w.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                    if method == "PLAY" {
                        // A second of silence before the pictures: sessions that follow each other at once
                        // would otherwise join into one recorded span (spans merge across gaps of up to two
                        // frame intervals), and the test tells the sessions apart by their spans.
                        std::thread::sleep(Duration::from_secs(1));
                        let mut last_ts = None;
                        for p in &packets {
                            let ts = p.get(4..8).map(|b| b.to_vec());
                            if last_ts.is_some() && ts != last_ts {
                                std::thread::sleep(Duration::from_millis(40));
                            }
                            last_ts = ts;
                            let mut frame = vec![b'$', 0];
                            frame.extend_from_slice(&(p.len() as u16).to_be_bytes());
                            frame.extend_from_slice(p);
                            if w.write_all(&frame).is_err() {
                                return;
                            }
                        }
                        // RTCP BYE (RFC 3550 §6.6) from the stream's SSRC, on the RTCP channel.
                        let ssrc = packets.first().and_then(|p| p.get(8..12)).unwrap_or(&[0; 4]).to_vec();
                        let mut bye = vec![b'$', 1, 0, 8, 0x81, 203, 0, 1];
                        bye.extend_from_slice(&ssrc);
                        let _ = w.write_all(&bye);
                    }
                }
            });
        }
    });
    port
}
