//! Camera supervision → hub → recorder → store: segment cutting, run boundaries, reconnects, silence.

use super::harness::*;
use crate::ingest::IngestError;
use crate::supervisor::FRAME_TIMEOUT;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn segments_are_cut_at_the_first_key_frame_after_a_minute() {
    let (_dir, store) = temp_store();
    let clock = TestClock::new();
    // 130 s at 10 fps, a key frame every 1.5 s (15 frames): 60 s is not on a key frame.
    let script =
        vec![Step::Play { params: params(640), shots: shots(0, 1300, 15, 0), end: End::Fail(IngestError::Ended) }];
    let source = Arc::new(ScriptedSource::new(script, &clock));
    let cam = Camera::start("door", source.clone(), &store, &clock, None);
    cam.play_out(&source, Duration::from_secs(1)).await;
    let (_, stats) = cam.stop().await;
    assert_eq!(stats.frames.load(std::sync::atomic::Ordering::Relaxed), 1300, "every frame is written");
    let segs = store.segments("door", i64::MIN / 2, i64::MAX / 2).unwrap();
    let starts: Vec<f64> = segs.iter().map(|s| (s.start - T0) as f64 / 1e6).collect();
    // Key frames at 0, 1.5, .., 60.0 (frame 600 = 40 × 15): cut exactly at 60 s and 120 s.
    assert_eq!(starts, vec![0.0, 60.0, 120.0]);
    assert_eq!(spans_s(&store, "door"), vec![(0.0, 130.0)], "one unbroken span across the cuts");
}

#[tokio::test(start_paused = true)]
async fn a_reconnect_is_a_new_run_and_the_gap_is_the_outage() {
    let (_dir, store) = temp_store();
    let clock = TestClock::new();
    let unreachable = || IngestError::Unreachable("connection refused".into());
    let script = vec![
        Step::Play { params: params(640), shots: shots(0, 100, 10, 0), end: End::Fail(unreachable()) },
        Step::Refuse(unreachable()),
        Step::Refuse(unreachable()),
        // The camera restarted: its clock starts again near zero.
        Step::Play { params: params(640), shots: shots(900, 100, 10, 3), end: End::Fail(IngestError::Ended) },
    ];
    let source = Arc::new(ScriptedSource::new(script, &clock));
    let cam = Camera::start("door", source.clone(), &store, &clock, None);
    cam.play_out(&source, Duration::from_secs(1)).await;
    let (status, _) = cam.stop().await;
    let reconnects = status.reconnects;
    // The first session fails with its last frame (9.9 s); three failures each wait 0.5 s (the fast retry
    // of a new outage), so the second session's frames arrive from 11.4 s on. It is joined mid-GOP and
    // recorded from its first key frame (3 frames in: 11.7 s) to the end of its last frame (21.4 s).
    assert_eq!(spans_s(&store, "door"), vec![(0.0, 10.0), (11.7, 21.4)]);
    assert!(reconnects >= 3, "{reconnects}");
    let runs: std::collections::BTreeSet<i64> =
        store.segments("door", i64::MIN / 2, i64::MAX / 2).unwrap().iter().map(|s| s.run_id).collect();
    assert_eq!(runs.len(), 2, "one run per session");
}

#[tokio::test(start_paused = true)]
async fn changed_parameters_start_a_new_run_without_a_gap() {
    let (_dir, store) = temp_store();
    let clock = TestClock::new();
    let mut s = shots(0, 200, 10, 0);
    s[100].params = Some(params(1280));
    let script = vec![Step::Play { params: params(640), shots: s, end: End::Fail(IngestError::Ended) }];
    let source = Arc::new(ScriptedSource::new(script, &clock));
    let cam = Camera::start("door", source.clone(), &store, &clock, None);
    cam.play_out(&source, Duration::from_secs(1)).await;
    cam.stop().await;
    let segs = store.segments("door", i64::MIN / 2, i64::MAX / 2).unwrap();
    let widths: Vec<u16> = segs.iter().map(|s| store.run_info(s.run_id).unwrap().video.width).collect();
    assert_eq!(widths, vec![640, 1280]);
    // A span breaks at any change of codec parameters; the second run continues the first's wall time.
    assert_eq!(spans_s(&store, "door"), vec![(0.0, 10.0), (10.0, 20.0)]);
}

#[tokio::test(start_paused = true)]
async fn a_silent_camera_is_dropped_after_the_frame_timeout_and_called_again() {
    let (_dir, store) = temp_store();
    let clock = TestClock::new();
    let script = vec![
        Step::Play { params: params(640), shots: shots(0, 50, 10, 0), end: End::Silence },
        Step::Play { params: params(640), shots: shots(0, 50, 10, 0), end: End::Fail(IngestError::Ended) },
    ];
    let source = Arc::new(ScriptedSource::new(script, &clock));
    let cam = Camera::start("door", source.clone(), &store, &clock, None);
    cam.play_out(&source, Duration::from_secs(1)).await;
    let (status, _) = cam.stop().await;
    let last_error = status.last_error;
    let spans = spans_s(&store, "door");
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(spans[0], (0.0, 5.0));
    // Silence after the last frame (4.9 s) for the frame timeout, then the fast retry.
    let resumed = 4.9 + FRAME_TIMEOUT.as_secs_f64() + 0.5;
    assert!((spans[1].0 - resumed).abs() < 0.15, "{spans:?}");
    assert!(last_error.is_some());
}
