//! The last second from any process: while `run` records, the store commands in another process
//! (`export`, `recordings`, `check`) see the segment being written up to what the recorder has written
//! (it syncs about once a second), not only finished one-minute segments.

use crate::support;
use crate::support::keepwatch::*;
use std::time::Duration;

const SYNTHETIC: &str = "demo://synthetic?width=320&height=180&fps=25&gop=25";

#[test]
fn export_of_the_last_ten_seconds_while_recording() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", SYNTHETIC, ""));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["cam"], Duration::from_secs(60));
    // Well inside the first segment (segments last a minute): no segment is finished yet.
    std::thread::sleep(Duration::from_secs(14));
    assert!(kw.is_running(), "keepwatch died; log:\n{}", kw.log_text());

    let now = now_us();
    let recorded = spans(&config, "cam");
    let (first, last_end) = match (recorded.first(), recorded.last()) {
        (Some(f), Some(l)) => (f.0, l.1),
        _ => panic!("recordings in another process shows nothing while recording; log:\n{}", kw.log_text()),
    };
    assert!(now - last_end < 4_000_000, "recordings ends {} ms before now: {recorded:?}", (now - last_end) / 1000);
    assert!(last_end - first > 8_000_000, "recordings covers too little: {recorded:?}");

    let out = dir.path().join("last10.mp4");
    let r = export(&config, "cam", now - 10_000_000, now, &out);
    assert!(r.status.success(), "export while recording failed: {}", String::from_utf8_lossy(&r.stderr));
    let probe = support::ffprobe_json(&out);
    let duration: f64 = probe["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0);
    assert!(duration > 7.0 && duration < 11.5, "exported {duration} s of the last 10 s: {probe}");
    let errors = support::ffmpeg_decode_errors(&out);
    assert!(errors.trim().is_empty(), "{errors}");

    let c = check(&config, false);
    let report = String::from_utf8_lossy(&c.stdout).into_owned();
    assert!(c.status.success(), "check while recording: {report}{}", String::from_utf8_lossy(&c.stderr));
    assert!(report.contains("whole frames"), "check does not describe the open segment: {report}");

    assert!(kw.is_running(), "keepwatch died; log:\n{}", kw.log_text());
    kw.stop_ok();
    // The readers wrote nothing: the recorder's own finish and check agree afterwards.
    let c = check(&config, false);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stdout));
    let after = spans(&config, "cam");
    assert!(after.last().map(|s| s.1).unwrap_or(0) >= last_end, "{after:?} vs {recorded:?}");
}
