//! Hostile HTTP clients against a running `keepwatch run` (issue 12, item 1): a flood of half-sent requests
//! and silent sockets from one address, with the process's open file limit low (soft 128, hard 256, as a
//! small box or a careless unit file would have it). Recording must not notice, the owner on the same
//! address must still get answers and log in, and half-sent requests must be closed after the header
//! timeout.
//!
//! The flood is kept up for longer than a segment (60 s), so the recorder has to open a new segment file
//! while it lasts: that is where descriptors running out used to cost video.
//!
//! And live viewers beyond `[server] max_live_viewers_per_user` / `max_live_viewers` (WebSockets and HLS
//! sessions together) are refused, the newest one, with 429 / 503.

use crate::support::keepwatch::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CAM: &str = "demo://synthetic?width=160&height=96&fps=10&gop=1";
const HALF_SENT: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: x\r\n";
/// Half-sent requests and silent sockets kept open: together well over the soft limit of 128.
const HALF_SENT_COUNT: usize = 150;
const SILENT_COUNT: usize = 30;
/// Longer than a segment, so a new segment file is opened during the flood.
const FLOOD: Duration = Duration::from_secs(68);
/// keepwatch's default `[server] header_timeout`.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `keepwatch run` with its open file limit at soft 128, hard 256 (through `prlimit`, which then
/// runs keepwatch in its own process, so the pid is keepwatch's).
fn start_with_low_nofile(config: &Path) -> Keepwatch {
    let log = config.parent().unwrap().join("keepwatch-lowfd.log");
    let f = std::fs::File::create(&log).unwrap();
    let child = Command::new("prlimit")
        .args(["--nofile=128:256", "--", bin(), "run", "--config"])
        .arg(config)
        .env("KEEPWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .expect("start keepwatch through prlimit");
    Keepwatch { child: Some(child), log }
}

/// One request on a fresh connection, answered within `timeout`; the raw answer or why there was none.
fn raw(addr: SocketAddr, request: &str, timeout: Duration) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    s.write_all(request.as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if out.is_empty() => return Err(format!("no answer: {e}")),
        Err(_) => {}
    }
    if out.is_empty() {
        return Err("closed without an answer".into());
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn health(addr: SocketAddr) -> Result<String, String> {
    raw(addr, "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(10))
}

fn login(addr: SocketAddr, password: &str) -> Result<String, String> {
    let body = serde_json::json!({"username": "admin", "password": password}).to_string();
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    raw(addr, &req, Duration::from_secs(15))
}

/// Whether the server has closed `s` (EOF or an error; `s` is non-blocking).
fn is_closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // an error answer before the close
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// A socket that sends `first` (maybe nothing) and then never anything more.
fn hostile(addr: SocketAddr, first: &[u8]) -> Option<TcpStream> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    if !first.is_empty() {
        s.write_all(first).ok()?;
    }
    s.set_nonblocking(true).ok()?;
    Some(s)
}

/// Tries `f` up to three times (a browser retries a connection closed before any answer); the answer or
/// the last failure.
fn within_three(mut f: impl FnMut() -> Result<String, String>) -> (Result<String, String>, usize) {
    let mut last = Err(String::new());
    for attempt in 1..=3 {
        last = f();
        if last.as_ref().is_ok_and(|a| a.starts_with("HTTP/1.1 200")) {
            return (last, attempt);
        }
    }
    (last, 3)
}

#[test]
fn a_flood_from_one_address_neither_stops_recording_nor_locks_the_owner_out() {
    crate::support::require_tools(&["prlimit"]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", CAM, ""));
    let password = "flood-proof-1";
    add_user(&config, "admin", "admin", None, password);
    let mut kw = start_with_low_nofile(&config);
    let base = kw.base_url(Duration::from_secs(60));
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    kw.expect_streaming(&["cam"], Duration::from_secs(60));
    let api = kw.api();
    let admin = api.with_session(&api.login("admin", password));
    crate::support::wait::until("recording to start", Duration::from_secs(60), || {
        admin.get_json("/api/cameras/cam/recordings").as_array().is_some_and(|a| !a.is_empty())
    });

    // The flood: the same address as the owner; closed sockets are opened again at once.
    let flood_start = now_us();
    let t0 = Instant::now();
    let mut half: Vec<Option<TcpStream>> = (0..HALF_SENT_COUNT).map(|_| hostile(addr, HALF_SENT)).collect();
    let mut silent: Vec<Option<TcpStream>> = (0..SILENT_COUNT).map(|_| hostile(addr, b"")).collect();
    let (mut reopened, mut checks, mut retries) = (0usize, 0usize, 0usize);
    let mut next_check = Instant::now();
    let mut next_login = Instant::now() + Duration::from_secs(5);
    while t0.elapsed() < FLOOD {
        for (slot, first) in half.iter_mut().map(|s| (s, HALF_SENT)).chain(silent.iter_mut().map(|s| (s, &b""[..]))) {
            if slot.as_mut().is_none_or(is_closed) {
                *slot = hostile(addr, first);
                reopened += 1;
            }
        }
        if Instant::now() >= next_check {
            let (answer, attempts) = within_three(|| health(addr));
            let answer = answer.unwrap_or_else(|e| {
                panic!("GET /api/health during the flood: {e}; log:\n{}", kw.log_text());
            });
            assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"ok\""), "{answer}");
            checks += 1;
            retries += attempts - 1;
            next_check = Instant::now() + Duration::from_secs(2);
        }
        if Instant::now() >= next_login {
            let (answer, attempts) = within_three(|| login(addr, password));
            let answer = answer.unwrap_or_else(|e| panic!("login during the flood: {e}; log:\n{}", kw.log_text()));
            assert!(answer.starts_with("HTTP/1.1 200"), "login during the flood: {answer}");
            assert!(answer.to_ascii_lowercase().contains("set-cookie: keepwatch_session="), "{answer}");
            retries += attempts - 1;
            next_login = Instant::now() + Duration::from_secs(15);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let flood_end = now_us();
    drop(half);
    drop(silent);
    eprintln!(
        "flood of {} s: {reopened} sockets opened again after the server closed them; {checks} health checks, \
         {retries} retries",
        FLOOD.as_secs()
    );

    // Half-sent requests are closed after the header timeout (not before, and not never).
    let mut s = hostile(addr, HALF_SENT).expect("connect");
    let opened = Instant::now();
    crate::support::wait::until("the half-sent request to be closed", HEADER_TIMEOUT * 3, || is_closed(&mut s));
    let waited = opened.elapsed();
    assert!(waited >= HEADER_TIMEOUT - Duration::from_millis(500), "closed after {waited:?}");

    // Let the recorder take in a few seconds after the flood, then stop (finishing the open segment).
    crate::support::wait::until("recording past the flood", Duration::from_secs(60), || {
        let spans = spans_of(&admin.get_json("/api/cameras/cam/recordings"));
        spans.last().is_some_and(|s| s.1 >= flood_end + 2_000_000)
    });
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.contains("Too many open files"), "descriptors ran out; log:\n{log}");
    assert!(log.contains("open file limit 256 (raised from 128"), "the limit is raised and logged; log:\n{log}");
    let spans = spans(&config, "cam");
    assert!(
        spans.iter().any(|(s, e)| *s <= flood_start && *e >= flood_end),
        "the recording has a gap during the flood ({} .. {}): {spans:?}; log:\n{log}",
        rfc3339(flood_start),
        rfc3339(flood_end)
    );
}

/// Opens the live WebSocket of `camera` with `token`; the status line of the answer and the socket (kept
/// open, so the viewer stays counted).
fn open_live(addr: SocketAddr, camera: &str, token: &str) -> (String, TcpStream) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!(
        "GET /api/cameras/{camera}/live HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    (String::from_utf8_lossy(&head).trim().to_owned(), s)
}

#[test]
fn live_viewers_are_capped_per_user_and_in_total_and_the_newest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keepwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nmax_live_viewers = 3\nmax_live_viewers_per_user = 2\n\n\
             [storage]\npath = \"store\"\n\n{}",
            camera("cam", CAM, "")
        ),
    )
    .unwrap();
    let alice = create_token(&config, "alice", "viewer", None);
    let bob = create_token(&config, "bob", "viewer", None);
    let kw = Keepwatch::start(&config);
    let addr: SocketAddr = kw.base_url(Duration::from_secs(60)).trim_start_matches("http://").parse().unwrap();
    kw.expect_streaming(&["cam"], Duration::from_secs(60));
    let api = kw.api();

    // Alice: one WebSocket and one HLS session are her two; a third view of hers is refused.
    let (first, _a1) = open_live(addr, "cam", &alice);
    assert!(first.starts_with("HTTP/1.1 101"), "{first}");
    let hls = api.with_bearer(&alice).get("/api/cameras/cam/live.m3u8");
    assert_eq!(hls.status, 200, "{}", hls.text());
    assert_eq!(api.with_bearer(&alice).get("/api/cameras/cam/live.m3u8").status, 200, "the same session, reloaded");
    let (third, _) = open_live(addr, "cam", &alice);
    assert!(third.starts_with("HTTP/1.1 429"), "a third live view of one user: {third}");
    // Bob takes the last place of the three; then the server is full, for him too.
    let (b1, _b1) = open_live(addr, "cam", &bob);
    assert!(b1.starts_with("HTTP/1.1 101"), "{b1}");
    let full = api.with_bearer(&bob).get("/api/cameras/cam/live.m3u8?stream=main");
    let (b2, _) = open_live(addr, "cam", &bob);
    assert!(b2.starts_with("HTTP/1.1 503"), "over the total: {b2}");
    assert_eq!(full.status, 503, "{}", full.text());
    assert!(full.text().contains("max_live_viewers"), "{}", full.text());
    assert!(full.header("retry-after").is_some());
    // A viewer that leaves frees its place.
    drop(_a1);
    let mut kept = Vec::new();
    crate::support::wait::until("the place of the viewer that left", Duration::from_secs(30), || {
        let (s, sock) = open_live(addr, "cam", &bob);
        kept.push(sock); // Bob's second view, if it was let in
        s.starts_with("HTTP/1.1 101")
    });
}
