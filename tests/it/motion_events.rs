//! Motion detection end to end: the built-in synthetic camera sends an object across the picture at known
//! times; keepwatch must report each crossing as one motion event (start within a second of the truth,
//! with a region and a best-frame JPEG) in `/api/events`, and `record = "motion"` must store pre-roll,
//! the event and post-roll, and not the quiet time between.

use crate::support::keepwatch::*;
use serde_json::Value;
use std::time::Duration;

#[test]
fn synthetic_crossings_become_events_and_motion_recordings() {
    let tmp = tempfile::tempdir().unwrap();
    let (period, appear, visible) = (12.0, 3.0, 4.0);
    let cam = camera(
        "yard",
        &format!("demo://synthetic?width=320&height=180&fps=10&period={period}&appear={appear}&visible={visible}&gop=2"),
        "record = \"motion\"\n\n[cameras.motion]\nenabled = true\npre_roll = \"2s\"\npost_roll = \"2s\"\nmin_duration = \"0.5s\"",
    );
    let config = write_config(tmp.path(), "", &cam);
    let token = create_token(&config, "t", "admin", None);

    let kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    let line = kw.expect_line(&["streaming", "camera=yard"], Duration::from_secs(30));
    let t0 = parse_rfc3339(line.split_whitespace().next().unwrap());
    // Two crossings, each over with its post-roll and the detector's merge gap.
    std::thread::sleep(Duration::from_secs(25));

    let events = api.get_json("/api/events?camera=yard&kind=motion");
    let mut events: Vec<Value> = events.as_array().unwrap().clone();
    events.reverse(); // oldest first
    let ended: Vec<&Value> = events.iter().filter(|e| !e["end"].is_null()).collect();
    assert!(ended.len() >= 2, "expected two finished motion events, got {events:#?}\n{}", kw.log_text());
    for (k, e) in ended.iter().take(2).enumerate() {
        let truth = t0 + ((k as f64 * period + appear) * 1e6) as i64;
        let start = parse_rfc3339(e["start"].as_str().unwrap());
        let end = parse_rfc3339(e["end"].as_str().unwrap());
        let onset = (start - truth) as f64 / 1e6;
        assert!(onset.abs() <= 1.0, "event {k} starts {onset:.2} s from the truth: {e}");
        let length = (end - start) as f64 / 1e6;
        assert!((visible - 1.5..=visible + 3.0).contains(&length), "event {k} lasts {length:.1} s: {e}");
        assert!(e["score"].as_f64().unwrap() > 0.0);
        assert_eq!(e["region"].as_array().map(Vec::len), Some(4), "{e}");
        let snap = e["snapshot"].as_str().expect("a snapshot link");
        let r = api.get(snap);
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..2], &[0xFF, 0xD8]);
    }
    assert_eq!(ended.len(), events.iter().filter(|e| !e["end"].is_null()).count());
    assert!(events.len() <= 3, "one crossing must be one event: {events:#?}");

    // record = "motion": pre-roll before, post-roll after, nothing in the quiet time between.
    let spans = spans_of(&api.get_json("/api/cameras/yard/recordings"));
    for e in ended.iter().take(2) {
        let start = parse_rfc3339(e["start"].as_str().unwrap());
        let end = parse_rfc3339(e["end"].as_str().unwrap());
        assert!(
            spans.iter().any(|&(s, x)| s <= start - 1_000_000 && x >= end + 1_000_000),
            "event {e} not recorded with pre- and post-roll; spans {spans:?}"
        );
    }
    let recorded: i64 = spans.iter().map(|(s, e)| e - s).sum();
    let elapsed = now_us() - t0;
    assert!(
        (recorded as f64) < 0.8 * elapsed as f64,
        "record = motion stored {:.1} s of {:.1} s: {spans:?}\n{}",
        recorded as f64 / 1e6,
        elapsed as f64 / 1e6,
        kw.log_text().lines().filter(|l| l.contains("motion")).collect::<Vec<_>>().join("\n")
    );
}
