//! The HTTP API against the real binary with a real HTTP client (ureq; curl where a source address or TLS
//! trust matters): auth rules enumerated from the served OpenAPI description, CSRF, viewer limits, path
//! tricks, `video.mp4` (same bytes as `keepwatch export`, exact Range answers, ETag, audio, clean decode),
//! snapshots (H.264 decoded, H.265 a clear 501), metrics, brute-force limits and TLS.

use crate::support;
use crate::support::api::{Api, Session};
use crate::support::keepwatch::*;
use crate::support::{Auth, ClipSpec, RtspServer, ServerOptions};
use serde_json::Value;
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

const ADMIN_PW: &str = "admin-password-1";
const VIEWER_PW: &str = "viewer-password-1";
const CAM_PW: &str = "cam-secret-Xy7";

/// A request written by hand, so that no client library normalises the path.
fn raw_get(base: &str, path: &str, auth: &str) -> (u16, String) {
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {auth}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

fn login(http: &Api, user: &str, pw: &str) -> Session {
    let s = http.login(user, pw);
    let cookie = &s.set_cookie;
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert_eq!(s.body["user"], user);
    s
}

#[test]
fn api_auth_playback_snapshots_and_metrics() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let h264 = support::clip(&ClipSpec { bframes: true, audio: true, ..ClipSpec::h264() });
    let h265 = support::clip(&ClipSpec::h265());
    let auth = Auth::digest("cam", CAM_PW);
    let server = RtspServer::start_with(
        &[("front", &h264), ("hevc", &h265)],
        Some(auth),
        ServerOptions { audio: "aac", ..Default::default() },
    );
    let tmp = tempfile::tempdir().unwrap();
    let cams = [
        camera(
            "front",
            &server.url_without_credentials("front"),
            &format!("username = \"cam\"\npassword = \"{CAM_PW}\""),
        ),
        camera(
            "hevc",
            &server.url_without_credentials("hevc"),
            &format!("username = \"cam\"\npassword = \"{CAM_PW}\""),
        ),
        camera("side", "demo://synthetic?width=320&height=240&fps=10", ""),
        camera(
            "twostreams",
            &server.url_without_credentials("hevc"),
            &format!(
                "sub_url = \"demo://synthetic?width=160&height=96&fps=5\"\nusername = \"cam\"\npassword = \"{CAM_PW}\""
            ),
        ),
    ]
    .join("\n");
    let config = write_config(tmp.path(), "", &cams);
    add_user(&config, "admin", "admin", None, ADMIN_PW);
    add_user(&config, "viewer", "viewer", Some("front"), VIEWER_PW);
    let admin_token = create_token(&config, "script", "admin", None);
    let viewer_token = create_token(&config, "vlc", "viewer", Some("front"));

    // Record a while, stop (segments are finished on a clean stop), start again and use the API.
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["front", "hevc", "side"], Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(12));
    kw.stop_ok();
    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    kw.expect_streaming(&["front", "hevc", "side", "twostreams", "sub:twostreams"], Duration::from_secs(30));
    let http = Api::new(&base);
    let admin = http.with_bearer(&admin_token);

    // --- Every protected route from the served OpenAPI description answers 401 without credentials.
    let spec = http.get("/api/openapi.json");
    assert_eq!(spec.status, 200);
    let spec = spec.json();
    let mut open = Vec::new();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let is_open =
                op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.as_object().unwrap().is_empty()));
            if is_open {
                open.push(format!("{} {path}", method.to_uppercase()));
                continue;
            }
            let concrete = path.replace("{name}", "front").replace("{id}", "1");
            let body = (method != "get").then_some("{}");
            let r = http.send(&method.to_uppercase(), &concrete, &[], body);
            assert_eq!(r.status, 401, "{method} {concrete} without credentials: {}", r.text());
            checked += 1;
        }
    }
    open.sort();
    assert_eq!(open, ["GET /api/health", "POST /api/login"], "open routes in the spec");
    assert!(checked >= 10, "only {checked} protected routes in the spec");
    assert_eq!(http.get("/api/no-such-route").status, 401);
    let page = http.get("/");
    assert_eq!(
        (page.status, page.header("content-type")),
        (200, Some("text/html; charset=utf-8")),
        "the first page is open"
    );
    assert_eq!(http.get("/api/cameras?token=".to_owned().as_str()).status, 401);
    assert_eq!(http.get(&format!("/api/cameras?token={admin_token}")).status, 401, "?token= only on media");
    assert_eq!(http.get_with("/api/me", &[("authorization", "Bearer kw_wrong")]).status, 401);

    // --- Cameras: status, codec, resolution; never the camera password.
    let r = admin.get("/api/cameras");
    assert_eq!(r.status, 200);
    assert!(!r.text().contains(CAM_PW), "camera password in /api/cameras");
    let list = r.json();
    let side = list.as_array().unwrap().iter().find(|c| c["name"] == "side").unwrap();
    assert_eq!(side["status"], "streaming");
    assert_eq!(side["codec"], "h264");
    assert_eq!(side["width"], 320);
    assert!(!kw.log_text().contains(CAM_PW), "camera password in the log");

    // --- video.mp4: the same bytes as `keepwatch export`, exact ranges, ETag, audio, clean decode.
    let spans = admin.get("/api/cameras/front/recordings").json();
    let first = &spans.as_array().unwrap()[0];
    let s0 = parse_rfc3339(first["start"].as_str().unwrap());
    let e0 = parse_rfc3339(first["end"].as_str().unwrap());
    assert!(e0 - s0 >= 8_000_000, "span too short: {first}");
    let (start, end) = (rfc3339(s0 + 1_500_000).replace('+', "%2B"), rfc3339(s0 + 7_500_000).replace('+', "%2B"));
    let video = format!("/api/cameras/front/video.mp4?start={start}&end={end}");
    let full = admin.get(&video);
    assert_eq!(full.status, 200, "{}", full.text());
    assert_eq!(full.header("content-type"), Some("video/mp4"));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(full.header("content-length").unwrap().parse::<usize>().unwrap(), full.body.len());
    assert_eq!(&full.body[4..8], b"ftyp");
    assert_eq!(&full.body[full.body[3] as usize + 4..full.body[3] as usize + 8], b"moov", "moov first");
    let exported = tmp.path().join("export.mp4");
    let out = export(&config, "front", s0 + 1_500_000, s0 + 7_500_000, &exported);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&exported).unwrap() == full.body, "HTTP and export differ for the same range");
    let probe = support::ffprobe_json(&exported);
    assert_eq!(support::codecs_of(&probe, "video"), ["h264"]);
    assert_eq!(support::codecs_of(&probe, "audio"), ["aac"], "audio track missing");
    let errors = support::ffmpeg_decode_errors(&exported);
    assert!(errors.is_empty(), "decode errors: {errors}");

    let len = full.body.len();
    for (range, want) in [
        ("bytes=0-99".to_owned(), 0..100),
        (format!("bytes={}-", len - 1000), len - 1000..len),
        ("bytes=-777".to_owned(), len - 777..len),
        (format!("bytes={}-{}", len / 3, len / 2), len / 3..len / 2 + 1),
        (format!("bytes=100-{}", len * 2), 100..len),
    ] {
        let r = admin.get_with(&video, &[("range", &range)]);
        assert_eq!(r.status, 206, "{range}");
        assert!(r.body == full.body[want.clone()], "{range}: wrong bytes");
        assert_eq!(r.header("content-range").unwrap(), format!("bytes {}-{}/{len}", want.start, want.end - 1));
    }
    let r = admin.get_with(&video, &[("range", &format!("bytes={len}-"))]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range").unwrap(), format!("bytes */{len}"));
    let etag = full.header("etag").unwrap().to_owned();
    assert_eq!(admin.get_with(&video, &[("if-none-match", &etag)]).status, 304);
    let r = admin.get_with(&video, &[("range", "bytes=0-9"), ("if-range", "\"other\"")]);
    assert_eq!(r.status, 200, "If-Range with a stale ETag gets the whole file");
    let r = http.get(&format!("{video}&token={viewer_token}"));
    assert_eq!(r.status, 200, "?token= on video.mp4");
    assert!(r.body == full.body);
    let r = admin.get(&format!("/api/cameras/front/video.mp4?start={end}&end={start}"));
    assert_eq!(r.status, 400);
    let r = admin.get("/api/cameras/front/video.mp4?start=2001-01-01T00:00:00Z&end=2001-01-01T00:01:00Z");
    assert_eq!(r.status, 404);
    let r = admin.get("/api/cameras/front/video.mp4?start=yesterday&end=now");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("RFC 3339"), "{}", r.text());

    // --- The segment being written is visible up to the recorder's last sync (about a second ago).
    std::thread::sleep(Duration::from_secs(3));
    let spans = admin.get("/api/cameras/side/recordings").json();
    let last_end = parse_rfc3339(spans.as_array().unwrap().last().unwrap()["end"].as_str().unwrap());
    assert!(now_us() - last_end < 4_000_000, "recordings lag by {} ms", (now_us() - last_end) / 1000);
    let recent = format!(
        "/api/cameras/side/video.mp4?start={}&end={}",
        rfc3339(last_end - 2_000_000).replace('+', "%2B"),
        rfc3339(last_end).replace('+', "%2B")
    );
    assert_eq!(admin.get(&recent).status, 200, "the last seconds play");

    // --- Snapshots: latest and at a time (H.264 decoded to JPEG); H.265 answers 501 with the reason.
    let r = admin.get("/api/cameras/side/snapshot.jpg");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert_eq!(&r.body[..2], &[0xFF, 0xD8]);
    let mid = rfc3339(s0 + 4_000_000).replace('+', "%2B");
    let r = admin.get(&format!("/api/cameras/front/snapshot.jpg?at={mid}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..2], &[0xFF, 0xD8]);
    let r = http.get(&format!("/api/cameras/front/snapshot.jpg?at={mid}&token={viewer_token}"));
    assert_eq!(r.status, 200, "?token= on snapshot.jpg");
    let r = admin.get("/api/cameras/hevc/snapshot.jpg");
    assert_eq!(r.status, 501, "{}", r.text());
    assert!(r.text().contains("H.265"), "{}", r.text());
    let r = admin.get("/api/cameras/twostreams/snapshot.jpg");
    assert_eq!(r.status, 200, "an H.265 camera's snapshot from its H.264 sub-stream: {}", r.text());
    assert_eq!(&r.body[..2], &[0xFF, 0xD8]);

    // --- Cookie sessions and CSRF.
    let logged_in = login(&http, "admin", ADMIN_PW);
    let (session, csrf) = (logged_in.cookie.clone(), logged_in.csrf.clone());
    let me = http.get_with("/api/me", &[("cookie", &session)]).json();
    assert_eq!(me["role"], "admin");
    let token_body = r#"{"label": "from-ui", "role": "viewer", "cameras": ["front"]}"#;
    let r = http.send("POST", "/api/tokens", &[("cookie", &session)], Some(token_body));
    assert_eq!(r.status, 403, "cookie write without CSRF token");
    let r = http.send("POST", "/api/tokens", &[("cookie", &session), ("x-csrf-token", "wrong")], Some(token_body));
    assert_eq!(r.status, 403, "cookie write with a wrong CSRF token");
    let r = http.send(
        "POST",
        "/api/tokens",
        &[("cookie", &session), ("x-csrf-token", &csrf), ("origin", "http://evil.example")],
        Some(token_body),
    );
    assert_eq!(r.status, 403, "cookie write from another origin");
    let origin = base.clone();
    let r = http.send(
        "POST",
        "/api/tokens",
        &[("cookie", &session), ("x-csrf-token", &csrf), ("origin", &origin)],
        Some(token_body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.json()["token"].as_str().unwrap().starts_with("kw_"));
    let r = admin.send("POST", "/api/tokens", &[], Some(r#"{"label": "by-bearer", "role": "admin"}"#));
    assert_eq!(r.status, 201, "Bearer needs no CSRF token: {}", r.text());
    let r = http.with_session(&logged_in).send("POST", "/api/logout", &[], Some("{}"));
    assert_eq!(r.status, 204);
    assert_eq!(http.get_with("/api/me", &[("cookie", &session)]).status, 401, "session ended by logout");
    let r = http.send("POST", "/api/login", &[], Some(r#"{"username": "admin", "password": "nope-nope-nope"}"#));
    assert_eq!(r.status, 401);
    kw.expect_line(&["login failed", "user=admin"], Duration::from_secs(5));

    // --- A viewer: its cameras only, no admin routes.
    let viewer = http.with_session(&login(&http, "viewer", VIEWER_PW));
    let names: Vec<Value> =
        viewer.get("/api/cameras").json().as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(names, ["front"]);
    assert!(viewer.get("/api/cameras").json()[0].get("url").is_none(), "viewers get no camera URL");
    for path in ["/api/users", "/metrics"] {
        assert_eq!(viewer.get(path).status, 403, "viewer on {path}");
    }
    for path in ["/api/cameras/side/recordings", "/api/cameras/side/snapshot.jpg", "/api/cameras/hevc/snapshot.jpg"] {
        assert_eq!(viewer.get(path).status, 403, "viewer on {path}");
    }
    let side_video = format!("/api/cameras/side/video.mp4?start={start}&end={end}");
    assert_eq!(viewer.get(&side_video).status, 403);
    assert_eq!(http.get(&format!("{side_video}&token={viewer_token}")).status, 403);
    assert_eq!(viewer.get(&video).status, 200);

    // --- Names with `..`, `%2e%2e` or `/` cannot reach outside the store.
    for path in [
        "/api/cameras/../../index.sqlite3",
        "/api/cameras/%2e%2e/recordings",
        "/api/cameras/%2e%2e%2f%2e%2e%2findex.sqlite3/video.mp4?start=2026-01-01T00:00:00Z&end=2027-01-01T00:00:00Z",
        "/api/cameras/..%2F..%2Fkeepwatch-store.json/snapshot.jpg",
        "/api/cameras/front%2F..%2F..%2Findex.sqlite3/recordings",
        "/api/cameras/front/../../../etc/passwd",
        "/api/cameras/%2Fetc%2Fpasswd/recordings",
    ] {
        let (status, text) = raw_get(&base, path, &admin_token);
        assert!(status == 404 || status == 400, "{path}: {status}\n{text}");
        assert!(!text.contains("SQLite format") && !text.contains("root:"), "{path} leaked a file");
    }

    // --- Users over the API, and metrics.
    let r = admin.send(
        "POST",
        "/api/users",
        &[],
        Some(r#"{"name": "kid", "role": "viewer", "cameras": ["side"], "password": "kid-password-1"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let users = admin.get("/api/users").text();
    assert!(users.contains("\"kid\"") && !users.contains("argon2"), "{users}");
    assert_eq!(admin.send("DELETE", "/api/users/kid", &[], None).status, 204);
    let m = admin.get("/metrics");
    assert_eq!(m.status, 200);
    let m = m.text();
    for needle in [
        "keepwatch_camera_frames_total{camera=\"front\"}",
        "keepwatch_camera_bytes_total{camera=\"side\"}",
        "keepwatch_camera_reconnects_total{camera=\"hevc\"}",
        "keepwatch_camera_last_frame_age_seconds{camera=\"side\"}",
        "keepwatch_storage_used_bytes ",
        "keepwatch_retention_horizon_seconds ",
        "keepwatch_http_requests_total{route=\"/api/cameras/{name}/video.mp4\",method=\"GET\",status=\"206\"}",
    ] {
        assert!(m.contains(needle), "metrics lack {needle}:\n{m}");
    }
    let system = admin.get("/api/system").json();
    assert!(system["storage"]["used_bytes"].as_u64().unwrap() > 0, "{system}");
    assert!(!kw.log_text().contains(ADMIN_PW), "a password in the log");
    drop(kw);
    drop(server);
}

fn curl(args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-D", "/dev/stderr", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn login_from(base: &str, iface: &str, forwarded: Option<&str>, pw: &str) -> (u16, String) {
    let body = serde_json::json!({"username": "admin", "password": pw}).to_string();
    let url = format!("{base}/api/login");
    let mut args = vec!["--interface", iface, "-H", "content-type: application/json", "-d", &body, &url];
    let xff;
    if let Some(f) = forwarded {
        xff = format!("x-forwarded-for: {f}");
        args.extend(["-H", &xff]);
    }
    let (code, _, headers) = curl(&args);
    (code, headers)
}

#[test]
fn brute_force_is_limited_per_address_not_per_user() {
    support::require_tools(&["curl"]);
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "", "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("[server]\n", "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n")).unwrap();
    add_user(&config, "admin", "admin", None, ADMIN_PW);
    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));

    // Five wrong passwords from 127.0.0.2, then it is limited: 429 with Retry-After, even with the right one.
    for _ in 0..5 {
        assert_eq!(login_from(&base, "127.0.0.2", None, "wrong-password").0, 401);
    }
    let fails_logged = kw.log_text().matches("login failed").count();
    let t0 = Instant::now();
    let (code, headers) = login_from(&base, "127.0.0.2", None, ADMIN_PW);
    assert_eq!(code, 429, "{headers}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    let retry: u64 = headers
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().parse().unwrap()))
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // A spoofed X-Forwarded-For from an address that is not a trusted proxy changes nothing.
    assert_eq!(login_from(&base, "127.0.0.2", Some("10.9.9.9"), ADMIN_PW).0, 429);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(kw.log_text().matches("login failed").count(), fails_logged, "a limited login checked a password");

    // The same user from another address is not locked out.
    assert_eq!(login_from(&base, "127.0.0.3", None, ADMIN_PW).0, 200);
    // Behind the trusted proxy (127.0.0.1), clients are told apart by X-Forwarded-For.
    for _ in 0..5 {
        assert_eq!(login_from(&base, "127.0.0.1", Some("10.1.1.1"), "wrong-password").0, 401);
    }
    assert_eq!(login_from(&base, "127.0.0.1", Some("10.1.1.1"), ADMIN_PW).0, 429);
    assert_eq!(login_from(&base, "127.0.0.1", Some("10.1.1.2"), ADMIN_PW).0, 200);
    kw.expect_line(&["login failed", "client=10.1.1.1"], Duration::from_secs(5));

    // After the wait, the right password works again from the limited address.
    std::thread::sleep(Duration::from_secs(retry) + Duration::from_millis(500));
    assert_eq!(login_from(&base, "127.0.0.2", None, ADMIN_PW).0, 200);
}

#[test]
fn https_with_a_self_signed_certificate() {
    support::require_tools(&["curl", "openssl"]);
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "", "");
    let cert = serve_tls(&config);
    add_user(&config, "admin", "admin", None, ADMIN_PW);
    let kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    assert!(base.starts_with("https://"), "{base}");
    let cacert = cert.to_str().unwrap();
    let (code, body, _) = curl(&["--cacert", cacert, &format!("{base}/api/health")]);
    assert_eq!((code, body.as_str()), (200, r#"{"status":"ok"}"#));
    let login = serde_json::json!({"username": "admin", "password": ADMIN_PW}).to_string();
    let (code, _, headers) =
        curl(&["--cacert", cacert, "-H", "content-type: application/json", "-d", &login, &format!("{base}/api/login")]);
    assert_eq!(code, 200, "{headers}");
    let cookie = headers.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Without trusting the certificate, or over plain HTTP, nothing gets through.
    assert_ne!(curl(&[&format!("{base}/api/health")]).0, 200);
    assert_ne!(curl(&[&base.replace("https://", "http://")]).0, 200);
}
