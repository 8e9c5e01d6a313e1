//! Cameras misbehaving: a real RTSP server that goes away and comes back (the gap stays a gap and
//! recording resumes quickly), and bad input (unreachable host, wrong password, garbage answers, a stream
//! with no video, a broken config) answered with clear messages and never a panic.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::{Auth, ClipSpec, RtspServer};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn camera_flap_leaves_a_gap_and_resumes_fast() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let clip = support::clip(&ClipSpec::h264());
    let mut server = RtspServer::start(&[("cam", &clip)], None);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", &server.url("cam"), ""));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["cam"], Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(6));
    let down = now_us();
    server.stop();
    kw.expect_line(&["camera offline", "camera=cam"], Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(4));
    server.restart();
    let back = now_us();
    std::thread::sleep(Duration::from_secs(8));
    kw.stop_ok();
    let spans = spans(&config, "cam");
    assert!(spans.len() >= 2, "expected a gap: {spans:?}\n{}", kw.log_text());
    let before = spans.iter().filter(|(_, e)| *e <= back).max_by_key(|(_, e)| *e).expect("a span before the outage");
    let after = spans.iter().find(|(s, _)| *s >= before.1).expect("a span after the outage");
    assert!(before.1 <= down + 500_000, "recording claims time after the camera went down: {spans:?}");
    assert!(after.0 >= back - 200_000, "the gap was filled: {spans:?} (back at {back})");
    // Reconnect within 1 s of the camera's return, plus its next key frame (1 s GOP), plus server start.
    let resume_ms = (after.0 - back) / 1000;
    eprintln!("recording resumed {resume_ms} ms after the RTSP server was back");
    assert!(resume_ms <= 3_500, "resumed {resume_ms} ms after the camera was back");
    let r = check(&config, false);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stdout));
}

/// A fake camera on loopback that answers every RTSP request with `answer(request_line)`; counts
/// connections.
fn fake_camera(answer: fn(&str, &str) -> String) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut first = String::new();
                    if reader.read_line(&mut first).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut cseq = String::from("1");
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = h.strip_prefix("CSeq:") {
                            cseq = v.trim().to_owned();
                        }
                        if h.trim().is_empty() {
                            break;
                        }
                    }
                    if conn.write_all(answer(first.trim(), &cseq).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, count)
}

fn garbage(_: &str, _: &str) -> String {
    "HELLO THIS IS NOT RTSP\r\n\x00\x01\x02\r\n\r\n".into()
}

fn audio_only(req: &str, cseq: &str) -> String {
    if req.starts_with("DESCRIBE") {
        let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=audio\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\na=control:track1\r\n";
        format!(
            "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1/a/\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    } else {
        format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n")
    }
}

#[test]
fn bad_cameras_get_clear_messages_and_never_a_panic() {
    support::require_tools(&["ffmpeg"]);
    let clip = support::clip(&ClipSpec::h264());
    let secured = RtspServer::start(&[("cam", &clip)], Some(Auth::digest("admin", "right")));
    let (garbage_port, garbage_conns) = fake_camera(garbage);
    let (audio_port, _) = fake_camera(audio_only);
    let unreachable = support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut cams = String::new();
    cams += &camera("unreachable", &format!("rtsp://127.0.0.1:{unreachable}/x"), "");
    cams += &camera(
        "wrongpass",
        &secured.url_without_credentials("cam"),
        "username = \"admin\"\npassword = \"wrong-secret\"\n",
    );
    cams += &camera("garbage", &format!("rtsp://127.0.0.1:{garbage_port}/x"), "");
    cams += &camera("novideo", &format!("rtsp://127.0.0.1:{audio_port}/x"), "");
    cams += &camera("tls", "rtsps://127.0.0.1:1/x", "");
    let config = write_config(dir.path(), "", &cams);
    let mut kw = Keepwatch::start(&config);
    let t0 = Instant::now();
    let expect = [
        ("unreachable", "cannot reach the camera"),
        ("wrongpass", "wrong username or password"),
        ("garbage", "does not understand"),
        ("novideo", "no video stream"),
        ("tls", "not supported yet"),
    ];
    for (cam, msg) in expect {
        kw.expect_line(&[msg, &format!("camera={cam}")], Duration::from_secs(30));
    }
    // Reconnect cadence during the first minute: about twice a second, never a hammering loop.
    let n0 = garbage_conns.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(5));
    let per_sec = (garbage_conns.load(Ordering::SeqCst) - n0) as f64 / 5.0;
    assert!((0.9..=4.0).contains(&per_sec), "garbage camera retried {per_sec}/s");
    assert!(kw.is_running(), "{}", kw.log_text());
    assert!(t0.elapsed() < Duration::from_secs(60));
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("wrong-secret"), "a camera password reached the log:\n{log}");
}

#[test]
fn broken_config_names_file_line_and_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepwatch.toml");
    std::fs::write(
        &path,
        "[storage]\npath = \"s\"\n\n[[cameras]]\nname = \"cam\"\nurl = \"rtsp://h/x\"\nrecord = \"always\"\n",
    )
    .unwrap();
    let out = cli(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keepwatch.toml:7") && err.contains("record"), "{err}");
    std::fs::write(&path, "[storage]\npath = \"s\"\nshape = \"round\"\n").unwrap();
    let out = cli(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keepwatch.toml:3") && err.contains("shape"), "{err}");
    let out = cli(&[
        "export",
        "--config",
        path.to_str().unwrap(),
        "--camera",
        "x",
        "--start",
        "soon",
        "--end",
        "later",
        "-o",
        "x.mp4",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
