//! `record = "motion"`: the recorder's gate writes motion with its pre-roll (from a key frame) and
//! post-roll, and nothing else.

use super::harness::*;
use crate::ingest::IngestError;
use crate::motion_signal::MotionSignal;
use crate::recorder::Gate;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn motion_is_recorded_with_pre_roll_from_a_key_frame_and_post_roll() {
    let (_dir, store) = temp_store();
    let clock = TestClock::new();
    let signal = Arc::new(MotionSignal::default());
    let gate = Gate::new(signal.clone(), Duration::from_secs(3));
    let post_roll = 5_000_000;
    // Motion in frames 300..=350 (30.0-35.0 s) and 700..=720 (70.0-72.0 s); a key frame every second.
    let raise = signal.clone();
    let script =
        vec![Step::Play { params: params(640), shots: shots(0, 1000, 10, 0), end: End::Fail(IngestError::Ended) }];
    let source = Arc::new(ScriptedSource::new(script, &clock).on_frame(move |i| {
        if (300..=350).contains(&i) || (700..=720).contains(&i) {
            raise.record_until_at_least(T0 + i as i64 * 100_000 + post_roll);
        }
    }));
    let cam = Camera::start("door", source.clone(), &store, &clock, Some(gate));
    cam.play_out(&source, Duration::from_secs(1)).await;
    cam.stop().await;
    // Pre-roll: the last key frame at least 3 s before the motion's first frame and the GOP before it (motion
    // detection may date an onset back by a GOP), from the GOPs the gate held (25.0 s); post-roll: every frame
    // up to 5 s after the last moving one (35.0 + 5 = 40.0 s, which lasts until 40.1 s).
    assert_eq!(spans_s(&store, "door"), vec![(25.0, 40.1), (65.0, 77.1)]);
}

#[tokio::test(start_paused = true)]
async fn without_motion_detection_everything_is_recorded() {
    let (_dir, store) = temp_store();
    let clock = TestClock::new();
    let signal = Arc::new(MotionSignal::default());
    signal.set_unavailable(Some("H.265 without an H.264 sub-stream".into()));
    let script =
        vec![Step::Play { params: params(640), shots: shots(0, 100, 10, 0), end: End::Fail(IngestError::Ended) }];
    let source = Arc::new(ScriptedSource::new(script, &clock));
    let cam = Camera::start("door", source.clone(), &store, &clock, Some(Gate::new(signal, Duration::from_secs(3))));
    cam.play_out(&source, Duration::from_secs(1)).await;
    cam.stop().await;
    assert_eq!(spans_s(&store, "door"), vec![(0.0, 10.0)]);
}
