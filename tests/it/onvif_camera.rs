//! ONVIF end to end: two test cameras on loopback answering like two makers (Media2 + WS-Security; Media1
//! only + HTTP Digest), both with clocks an hour off, streaming through GStreamer's RTSP server.
//! `keepwatch discover` must list both; `onvif://` cameras must record through the profiles' RTSP
//! addresses (the sub profile as sub-stream); a motion message from the camera (after the Initialized
//! replay, which must be ignored) must become one `camera-motion` event; a wrong password must show as a
//! clear auth error in `/api/cameras`. A hostile ONVIF camera (issue 12) whose every answer is a namespace
//! bomb costs that camera alone: another camera records without a gap and `/api/health` answers promptly.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::onvif_device::{namespace_bomb, Maker, OnvifDevice, Spec};
use crate::support::wait;
use crate::support::{ClipSpec, RtspServer};
use serde_json::Value;
use std::time::{Duration, Instant};

#[test]
fn onvif_cameras_are_discovered_recorded_and_report_motion() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let clip = support::clip(&ClipSpec::h264());
    let rtsp = RtspServer::start(&[("main", &clip), ("sub", &clip)], None);
    let spec = |maker, password: &str, offset| Spec {
        maker,
        user: "admin".into(),
        password: password.into(),
        rtsp_main: rtsp.url("main"),
        rtsp_sub: rtsp.url("sub"),
        clock_offset_s: offset,
    };
    let h = OnvifDevice::start(spec(Maker::H, "h-secret-1", 3600));
    let d = OnvifDevice::start(spec(Maker::D, "d-secret-2", -3600));

    // Discovery through loopback only.
    let t = Instant::now();
    let out = cli(&["discover", "--interface", "127.0.0.1", "--timeout", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "discover failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(t.elapsed() < Duration::from_secs(6), "discover took {:?}", t.elapsed());
    let want_h = format!("127.0.0.1\tHIKVISION\tDS-2CD2386G2-I\tonvif://127.0.0.1:{}", h.port);
    let want_d = format!("127.0.0.1\tDahua\tIPC-HDW2431T\tonvif://127.0.0.1:{}", d.port);
    assert!(stdout.lines().any(|l| l == want_h), "{want_h:?} not in:\n{stdout}");
    assert!(stdout.lines().any(|l| l == want_d), "{want_d:?} not in:\n{stdout}");

    // Three cameras: the two makers, and the first one with a wrong password.
    let dir = tempfile::tempdir().unwrap();
    let quiet = "\n[cameras.motion]\nenabled = false\n";
    // hik records on the camera's motion only (keepwatch's own detector is off).
    let gated = "record = \"motion\"\n\n[cameras.motion]\nenabled = false\npre_roll = \"1s\"\npost_roll = \"2s\"\n";
    let mut cams = camera("hik", &format!("onvif://admin:h-secret-1@127.0.0.1:{}", h.port), gated);
    cams += &camera(
        "dahua",
        &format!("onvif://127.0.0.1:{}", d.port),
        &format!("username = \"admin\"\npassword = \"d-secret-2\"\n{quiet}"),
    );
    cams += &camera(
        "wrong",
        &format!("onvif://admin:wrong-pw-3@127.0.0.1:{}", h.port),
        &format!("{quiet}\n[cameras.onvif]\nevents = false\n"),
    );
    let config = write_config(dir.path(), "", &cams);
    let token = create_token(&config, "t", "admin", None);

    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["hik", "dahua"], Duration::from_secs(40));
    // The sub profiles serve as sub-streams (Media2 names them differently from Media1 here).
    // Camera-chosen text reaches the log through kw_logsafe: quoted when it has spaces, bare when plain.
    let hik_sub = "(\"HIKVISION DS-2CD2386G2-I\"): Sub stream is profile subStream (H264 640x360)";
    let dahua_sub = "(\"Dahua IPC-HDW2431T\"): Sub stream is profile SubStream (H264 640x360)";
    kw.expect_log(hik_sub, Duration::from_secs(20));
    kw.expect_log(dahua_sub, Duration::from_secs(20));

    // Camera-side motion: the replay (Initialized, motion on) is ignored; on → off is one event.
    wait::until("the PullPoint subscription and its replay", Duration::from_secs(20), || {
        h.subscriptions() >= 1 && h.pulls_delivered() >= 1 && h.queued() == 0
    });
    // Quiet time first, which record = "motion" must not store.
    std::thread::sleep(Duration::from_secs(3));
    h.push_motion("Changed", false);
    std::thread::sleep(Duration::from_millis(800));
    let before_on = now_us();
    h.push_motion("Changed", true);
    std::thread::sleep(Duration::from_secs(2));
    h.push_motion("Changed", false);
    let mut events = Value::Null;
    wait::until("a finished camera-motion event", Duration::from_secs(20), || {
        events = api.get_json("/api/events?camera=hik&kind=camera-motion");
        events.as_array().is_some_and(|a| a.iter().any(|e| !e["end"].is_null()))
    });
    let list = events.as_array().unwrap();
    assert_eq!(list.len(), 1, "the replay must not make an event: {list:#?}\n{}", kw.log_text());
    let e = &list[0];
    assert_eq!(e["kind"], "camera-motion");
    assert_eq!(e["camera"], "hik");
    assert_eq!(e["score"].as_f64(), Some(1.0));
    assert!(e["region"].is_null(), "{e}");
    let start = parse_rfc3339(e["start"].as_str().unwrap());
    let end = parse_rfc3339(e["end"].as_str().unwrap());
    assert!(start >= before_on - 200_000, "started before the camera said so: {e}");
    let length = (end - start) as f64 / 1e6;
    assert!((1.0..=5.0).contains(&length), "lasts {length:.1} s: {e}");

    // The wrong password: a clear auth error, and keepwatch did not hammer the camera.
    let mut wrong = Value::Null;
    wait::until("the wrong password's error", Duration::from_secs(20), || {
        let cams = api.get_json("/api/cameras");
        wrong = cams.as_array().unwrap().iter().find(|c| c["name"] == "wrong").cloned().unwrap_or(Value::Null);
        !wrong["last_error"].is_null()
    });
    let err = wrong["last_error"].as_str().unwrap();
    assert!(err.contains("wrong username or password") && err.contains("ONVIF"), "{err}");
    assert!(h.auth_ok() > 0 && d.auth_ok() > 0, "both cameras' checks passed for the right logins");

    // Recordings of both makers (after hik's post-roll).
    std::thread::sleep(Duration::from_secs(4));
    kw.stop_ok();
    let log = kw.log_text();
    if std::env::var_os("KW_TEST_SHOW_LOG").is_some() {
        eprintln!("{log}");
    }
    assert!(!log.contains("panicked"), "{log}");
    for secret in ["h-secret-1", "d-secret-2", "wrong-pw-3"] {
        assert!(!log.contains(secret), "a password reached the log:\n{log}");
    }
    let dahua = spans(&config, "dahua");
    let total: i64 = dahua.iter().map(|(s, e)| e - s).sum();
    assert!(total >= 8_000_000, "dahua: only {} ms recorded: {dahua:?}\n{log}", total / 1000);
    // hik: the camera's motion with pre-roll (1 s, from a key frame: GOPs are 1 s) and post-roll (2 s).
    let hik = spans(&config, "hik");
    let total: i64 = hik.iter().map(|(s, e)| e - s).sum();
    assert!(total >= end - start, "hik recorded {} ms for a {} ms event: {hik:?}", total / 1000, (end - start) / 1000);
    for (s, e) in &hik {
        assert!(
            // pre-roll 1 s plus the one GOP the gate also keeps (events may be dated back by a GOP), from a
            // key frame
            *s >= start - 3_500_000 && *e <= end + 3_500_000,
            "hik recorded outside the motion: {hik:?}, event {start}..{end}"
        );
    }
    assert!(spans(&config, "wrong").is_empty());
}

#[test]
fn a_hostile_onvif_answer_costs_that_camera_alone() {
    let bomb = OnvifDevice::start(Spec {
        maker: Maker::H,
        user: "admin".into(),
        password: "pw".into(),
        rtsp_main: "rtsp://127.0.0.1:1/none".into(),
        rtsp_sub: "rtsp://127.0.0.1:1/none".into(),
        clock_offset_s: 0,
    });
    // About 190 KB, under the 1 MiB cap: before the fix, minutes of parsing per answer on the runtime.
    bomb.answer_everything_with(Some(namespace_bomb(4_500)));
    // One steady camera, and six ONVIF cameras behind the hostile device. Each of those asks from three
    // places at once (main stream, sub stream, PullPoint events): more parses than the runtime has threads
    // on any machine this runs on, so parsing on the runtime would stop everything.
    let mut cams = camera("steady", "demo://synthetic?width=160&height=96&fps=10&gop=1", "");
    for i in 0..6 {
        cams += &camera(&format!("hostile{i}"), &format!("onvif://admin:pw@127.0.0.1:{}", bomb.port), "");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &cams);
    let token = create_token(&config, "t", "admin", None);
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["steady"], Duration::from_secs(30));
    wait::until("the hostile cameras to be answered", Duration::from_secs(20), || bomb.hostile_answers() >= 6);

    // Eight seconds of hostile answers: health answers at once throughout, recording goes on.
    let answered_before = bomb.hostile_answers();
    let start = now_us();
    let t0 = Instant::now();
    let mut slowest = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(8) {
        let t = Instant::now();
        let r = api.get("/api/health");
        assert_eq!(r.status, 200, "{}", r.text());
        slowest = slowest.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    let end = now_us();
    let answered = bomb.hostile_answers() - answered_before;
    assert!(slowest < Duration::from_secs(2), "/api/health took {slowest:?} while hostile answers were read");
    // Refused at once, the hostile cameras keep retrying (the supervisor's fast retries); cameras stuck
    // reading their first answers would not ask again.
    assert!(answered >= 6, "the hostile cameras stopped asking ({answered} answers in 8 s)");

    // The hostile cameras say why; keepwatch stops on SIGTERM at once.
    let list = api.get_json("/api/cameras");
    let errors: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with("hostile")))
        .map(|c| c["last_error"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(errors.iter().any(|e| e.contains("refused XML answer")), "{errors:?}");
    let stopping = Instant::now();
    kw.stop_ok();
    assert!(stopping.elapsed() < Duration::from_secs(10), "stopping took {:?}", stopping.elapsed());

    // The steady camera recorded the whole window without a gap.
    let spans = spans(&config, "steady");
    let covering = spans.iter().find(|&&(s, e)| s <= start && e >= end);
    assert!(covering.is_some(), "a gap in [{start}, {end}]: {spans:?}\n{}", kw.log_text());
    eprintln!("hostile ONVIF: {answered} hostile answers in 8 s, /api/health at worst {slowest:?}");
}

/// A camera's own words (its manufacturer name) reach the log escaped (issue 12, item 6): a line break in
/// GetDeviceInformation's answer cannot forge a log line, and a Unicode direction override is written as
/// an escape. The stream address points nowhere: the log line of interest is written when the address is
/// resolved, before any RTSP.
#[test]
fn a_camera_cannot_forge_log_lines_through_its_device_information() {
    let dev = OnvifDevice::start(Spec {
        maker: Maker::H,
        user: "admin".into(),
        password: "pw".into(),
        rtsp_main: "rtsp://127.0.0.1:1/none".into(),
        rtsp_sub: "rtsp://127.0.0.1:1/none".into(),
        clock_offset_s: 0,
    });
    dev.say_manufacturer("Evil&#10;2026-01-01T00:00:00.000000Z  INFO forged line&#13;&#x202E;reversed");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", &format!("onvif://admin:pw@127.0.0.1:{}", dev.port), ""));
    let mut kw = Keepwatch::start(&config);
    let line = kw.expect_line(&["ONVIF camera", "Evil"], Duration::from_secs(30));
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.lines().any(|l| l.starts_with("2026-01-01T00:00:00")), "a forged line in the log:\n{log}");
    assert!(!log.contains('\r') && !log.contains('\u{202E}'), "raw control characters in the log:\n{log}");
    assert!(line.contains(r"\n2026-01-01") && line.contains(r"\u{202e}"), "not escaped: {line}");
}
