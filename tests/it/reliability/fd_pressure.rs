//! Descriptor and connection pressure (issue 12, item 1, kept up for long): keepwatch runs with its open
//! file limit at soft 128 / hard 256 (through `prlimit`) and records 4 RTSP cameras, while one address
//! keeps `KW_FD_FLOOD` (default 300) half-sent requests open for `KW_FD_SECS` (default 300), opening new
//! ones as fast as the server closes old ones. Recording must have no gap (several segment files are
//! opened during the flood), nothing may log "Too many open files" for the store, and the owner on the
//! same address must still get answers.

use super::{env_or, machine_load, report, sample, secs_env};
use crate::support;
use crate::support::keepwatch::*;
use crate::support::{ClipSpec, RtspServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CAMERAS: [&str; 4] = ["cam0", "cam1", "cam2", "cam3"];
const HALF_SENT: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: x\r\n";

fn health(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(10)) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out.starts_with(b"HTTP/1.1 200")
}

/// Whether the server has closed `s` (non-blocking).
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 256];
    match s.read(&mut b) {
        // End of stream (0), or the server's last words before closing: either way it is done with `s`.
        Ok(n) => n <= b.len(),
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[test]
#[ignore = "long reliability run: bench/reliability/run fd"]
fn a_connection_flood_under_a_low_file_limit_leaves_no_gap() {
    support::require_tools(&["ffmpeg", "ffprobe", "prlimit"]);
    let run_for = secs_env("KW_FD_SECS", 300);
    let flood: usize = env_or("KW_FD_FLOOD", 300);
    let clip = support::clip(&ClipSpec { seconds: 20, ..ClipSpec::h264() });
    let mounts: Vec<(&str, &std::path::Path)> = CAMERAS.iter().map(|c| (*c, clip.as_path())).collect();
    let server = RtspServer::start(&mounts, None);
    let dir = tempfile::tempdir().unwrap();
    let cams: String = CAMERAS.iter().map(|c| camera(c, &server.url(c), "")).collect();
    let config = write_config(dir.path(), "", &cams);
    let log = dir.path().join("keepwatch-lowfd.log");
    let f = std::fs::File::create(&log).unwrap();
    let child = Command::new("prlimit")
        .args(["--nofile=128:256", "--", bin(), "run", "--config"])
        .arg(&config)
        .env("KEEPWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .expect("start keepwatch through prlimit");
    let mut kw = Keepwatch { child: Some(child), log };
    let addr: SocketAddr = kw.base_url(Duration::from_secs(60)).trim_start_matches("http://").parse().unwrap();
    kw.expect_streaming(&CAMERAS, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(10));
    let pid = kw.pid();
    report(&format!(
        "fd pressure: NOFILE 128:256, {} cameras, {flood} half-sent requests kept open for {} s; start {}",
        CAMERAS.len(),
        run_for.as_secs(),
        machine_load()
    ));

    let start = now_us();
    let t0 = Instant::now();
    let mut open: Vec<TcpStream> = Vec::new();
    let (mut opened, mut refused, mut closed_by_server) = (0u64, 0u64, 0u64);
    let (mut health_ok, mut health_failed) = (0u64, 0u64);
    let mut peak_fds = 0;
    let mut last_health = Instant::now();
    while t0.elapsed() < run_for {
        let before = open.len();
        open.retain_mut(|s| !closed(s));
        closed_by_server += (before - open.len()) as u64;
        while open.len() < flood {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(mut s) => {
                    opened += 1;
                    if s.write_all(HALF_SENT).is_ok() && s.set_nonblocking(true).is_ok() {
                        open.push(s);
                    }
                }
                Err(_) => {
                    refused += 1;
                    break;
                }
            }
        }
        peak_fds = peak_fds.max(sample(pid).fds);
        if last_health.elapsed() >= Duration::from_secs(2) {
            last_health = Instant::now();
            if health(addr) {
                health_ok += 1;
            } else {
                health_failed += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(kw.is_running(), "keepwatch died; log:\n{}", kw.log_text());
    }
    let end = now_us();
    drop(open);
    std::thread::sleep(Duration::from_secs(3));
    kw.stop_ok();

    let text = kw.log_text();
    let emfile = text.lines().filter(|l| l.contains("Too many open files")).count();
    let raised = text.contains("open file limit 256 (raised from 128");
    let mut gaps = Vec::new();
    for cam in CAMERAS {
        let spans = spans(&config, cam);
        if !spans.iter().any(|&(s, e)| s <= start && e >= end) {
            gaps.push(format!("{cam}: {:?}", spans.iter().filter(|&&(s, e)| e > start && s < end).collect::<Vec<_>>()));
        }
    }
    report(&format!(
        "fd pressure: {opened} connections opened, {closed_by_server} closed by the server (header timeout or shed), \
         {refused} connects failed; keepwatch peak {peak_fds} fds (limit raised \
         from 128 to 256 at start: {raised}); owner's /api/health {health_ok} \
         answered, {health_failed} not; recording gaps: {}; 'Too many open files' in the log: {emfile}; end {}",
        gaps.len(),
        machine_load()
    ));
    assert!(gaps.is_empty(), "recording has gaps under the flood:\n{}\n{text}", gaps.join("\n"));
    assert_eq!(emfile, 0, "descriptors ran out:\n{text}");
    assert!(health_ok > 0, "the owner never got an answer");
}
