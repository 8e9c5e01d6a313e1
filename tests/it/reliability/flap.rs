//! Camera flap: 4 RTSP cameras (one GStreamer server each), every one of them stopped and started again
//! every 10 s (`KW_FLAP_UP`/`KW_FLAP_DOWN` seconds, default 5 + 5) for `KW_FLAP_SECS` (default 600), the
//! cameras out of step with each other. Afterwards each camera's timeline must have a gap for every outage
//! and no other gap, nothing recorded inside an outage, recording resumed promptly after each return, and
//! keepwatch's descriptors and threads back where they were (memory reported).

use super::{env_or, gaps, machine_load, median_max, report, sample, secs_env};
use crate::support;
use crate::support::keepwatch::*;
use crate::support::{ClipSpec, RtspServer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CAMERAS: [&str; 4] = ["cam0", "cam1", "cam2", "cam3"];

#[test]
#[ignore = "long reliability run: bench/reliability/run flap"]
fn four_cameras_flapping_leave_exact_gaps_and_leak_nothing() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let run_for = secs_env("KW_FLAP_SECS", 600);
    let up = secs_env("KW_FLAP_UP", 5);
    let down = secs_env("KW_FLAP_DOWN", 5);
    let clip = support::clip(&ClipSpec { seconds: 20, ..ClipSpec::h264() });
    let servers: Vec<RtspServer> = CAMERAS.iter().map(|c| RtspServer::start(&[(*c, clip.as_path())], None)).collect();
    let dir = tempfile::tempdir().unwrap();
    let cams: String = CAMERAS.iter().zip(&servers).map(|(c, s)| camera(c, &s.url(c), "")).collect();
    let config = write_config(dir.path(), "", &cams);
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&CAMERAS, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(20));
    let pid = kw.pid();
    let before = sample(pid);
    report(&format!(
        "flap: {} cameras, up {} s / down {} s for {} s; start {}; keepwatch before: {} KiB RSS, {} fds, {} threads",
        CAMERAS.len(),
        up.as_secs(),
        down.as_secs(),
        run_for.as_secs(),
        machine_load(),
        before.rss_kib,
        before.fds,
        before.threads
    ));

    let start = now_us();
    let stop = Arc::new(AtomicBool::new(false));
    let flappers: Vec<_> = servers
        .into_iter()
        .enumerate()
        .map(|(i, mut server)| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                // Out of step: each camera starts its cycle a quarter period after the previous one.
                std::thread::sleep((up + down) * i as u32 / 4);
                let t0 = Instant::now();
                let mut outages = Vec::new();
                while t0.elapsed() < run_for && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(up);
                    let gone = now_us();
                    server.stop();
                    std::thread::sleep(down);
                    server.restart();
                    outages.push((gone, now_us()));
                }
                (server, outages)
            })
        })
        .collect();
    let mut peak = before;
    while flappers.iter().any(|f| !f.is_finished()) {
        std::thread::sleep(Duration::from_secs(5));
        let s = sample(pid);
        peak = super::ProcSample {
            rss_kib: peak.rss_kib.max(s.rss_kib),
            fds: peak.fds.max(s.fds),
            threads: peak.threads.max(s.threads),
        };
        assert!(kw.is_running(), "keepwatch died; log:\n{}", kw.log_text());
    }
    let results: Vec<(RtspServer, Vec<(i64, i64)>)> = flappers.into_iter().map(|f| f.join().unwrap()).collect();
    // Settle: every camera back and streaming, idle pool threads gone.
    std::thread::sleep(Duration::from_secs(20));
    let after = sample(pid);
    let end = now_us();
    kw.stop_ok();

    let mut resumes = Vec::new();
    let mut report_lines = Vec::new();
    let mut problems = Vec::new();
    for (cam, (_, outages)) in CAMERAS.iter().zip(&results) {
        let spans: Vec<(i64, i64)> = spans(&config, cam).into_iter().filter(|&(s, e)| e > start && s < end).collect();
        for &(gone, back) in outages {
            // Nothing recorded while the camera was away (frames already sent may land just after `gone`).
            if let Some(x) = spans.iter().find(|&&(s, e)| s < back - 200_000 && e > gone + 500_000) {
                problems.push(format!("{cam}: recorded {x:?} inside the outage {gone}..{back}"));
            }
            match spans.iter().find(|&&(s, _)| s >= back - 200_000) {
                Some(&(s, _)) => resumes.push(s - back),
                None => problems.push(format!("{cam}: nothing recorded after the outage ending {back}")),
            }
        }
        // Every gap of the timeline is an outage.
        let unexplained: Vec<_> = gaps(&spans)
            .into_iter()
            .filter(|&(e, s)| !outages.iter().any(|&(gone, back)| e <= back && s >= gone))
            .collect();
        if !unexplained.is_empty() {
            problems.push(format!("{cam}: {} gaps that are no outage: {unexplained:?}", unexplained.len()));
        }
        report_lines.push(format!("{cam}: {} outages, {} gaps", outages.len(), gaps(&spans).len()));
    }
    let (median, worst) = median_max(resumes.clone());
    let slow = resumes.iter().filter(|&&r| r > 3_000_000).count();
    report(&format!(
        "flap: {}; recording resumed after the camera was back: median {} ms, worst {} ms, {slow} of {} over 3 s \
         (1 s GOP: the first key frame comes within 1 s of the server's return); {} problems",
        report_lines.join(", "),
        median / 1000,
        worst / 1000,
        resumes.len(),
        problems.len()
    ));
    report(&format!(
        "flap: keepwatch after: {} KiB RSS (peak {}), {} fds (peak {}), {} threads (peak {}); end {}",
        after.rss_kib,
        peak.rss_kib,
        after.fds,
        peak.fds,
        after.threads,
        peak.threads,
        machine_load()
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let slack: u64 = env_or("KW_FLAP_SLACK", 8);
    assert!(after.fds <= before.fds + slack, "descriptors leaked: {} before, {} after", before.fds, after.fds);
    assert!(after.threads <= before.threads + slack, "threads leaked: {} -> {}", before.threads, after.threads);
}
