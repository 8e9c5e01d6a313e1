//! The motion pipeline's decode scheduling on real H.264 (the synthetic camera's encoder): key frames
//! only while the scene is quiet, every frame from the key frame before the change once frames grow, key
//! frames only again after a quiet while; and the event it makes.

use super::harness::*;
use crate::events::{EventKind, EventSink, EventStore, Query};
use crate::hub::{Hub, Start};
use crate::ingest::synthetic::{Encoding, SyntheticSource};
use crate::motion::{self, Settings};
use crate::motion_signal::MotionSignal;
use bytes::Bytes;
use kw_media::{Frame, RunInfo, StreamKind};
use std::sync::Arc;
use std::time::Duration;

/// Publishes `frames` to `hub` one at a time, each once the pipeline has worked through the one before;
/// `each(i)` runs just before frame i is published.
fn publish_in_lockstep(hub: &Hub, p: &motion::Running, frames: Vec<Frame>, mut each: impl FnMut(usize)) {
    let wait = |n: i64| {
        while p.handled() < n {
            std::thread::yield_now();
        }
    };
    for (i, f) in frames.into_iter().enumerate() {
        wait(i as i64 + 1); // the run, then i frames
        each(i);
        hub.publish_frame(Arc::new(f));
    }
}

#[test]
fn quiet_scenes_decode_key_frames_only_and_an_object_switches_to_every_frame() {
    // 160×96 at 10 fps, a key frame every 2 s; the object is in view from 10.3 s to 13.3 s.
    let scene = SyntheticSource {
        width: 160,
        height: 96,
        fps: 10,
        period: 1000.0,
        appear: 10.3,
        visible: 3.0,
        gop: 2.0,
        person: false,
    };
    let mut enc = Encoding::new(&scene).unwrap();
    let frames: Vec<Frame> = (0..300)
        .map(|_| {
            let (n, e) = enc.next_frame().unwrap();
            let pts = n as i64 * TICKS;
            Frame { stream: StreamKind::Video, pts, key: e.key, loss_before: false, data: Bytes::from(e.avc) }
        })
        .collect();
    let dir = temp_dir();
    let sink = EventSink::new(Arc::new(EventStore::open(&dir.path().join("index.sqlite3")).unwrap()));
    let signal = Arc::new(MotionSignal::default());
    let hub = Hub::new();
    let settings = Settings {
        camera: "yard".into(),
        detector: kw_motion::DetectorConfig::default(),
        keyframes_only: false,
        objects: None,
        post_roll: Duration::from_secs(5),
    };
    let running =
        motion::spawn(settings, hub.subscribe(256, Start::LastKeyFrame), sink.clone(), signal.clone()).unwrap();
    hub.publish_run(Arc::new(RunInfo { video: enc.params().unwrap().clone(), audio: None, wall_anchor: T0 }));
    let mut decoded_at = Vec::new();
    publish_in_lockstep(&hub, &running, frames, |_| decoded_at.push(running.decoded()));
    // Frames decoded before frame i was sent.
    let decoded = |frame: usize| decoded_at[frame];
    // At first nothing is known of the frame sizes, so every frame is decoded; after 5 quiet seconds only the
    // key frames (60, 80, 100) are.
    assert_eq!(decoded(105) - decoded(45), 3, "quiet: key frames only");
    // The small object does not make its P-frames stand out from the first GOPs' sizes here, so nothing is
    // decoded until the key frame of 12.0 s, where the detector sees it and asks for every frame.
    assert_eq!(decoded(119) - decoded(105), 0, "nothing between key frames");
    assert_eq!(decoded(200) - decoded(130), 70, "moving: every frame");
    // Quiet again from 13.3 s; 5 s later a key frame goes back to key frames only.
    assert!(decoded(299) - decoded(255) <= 3, "quiet again: key frames only ({})", decoded(299) - decoded(255));
    hub.publish_stopped();
    hub.close();
    running.join();
    let events = sink.store().list(&Query { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.kind, EventKind::Motion);
    let start = (e.start - T0) as f64 / 1e6;
    let end = (e.end.unwrap() - T0) as f64 / 1e6;
    // Today the event starts at the key frame where the detector first saw the object (12.0 s), up to a GOP
    // after the object came into view (10.4 s); issue 14 dates the start back to the first frame showing it.
    assert!((10.3..=12.0).contains(&start), "starts with the object: {start}");
    assert!((13.2..=15.0).contains(&end), "ends after it left: {end}");
    assert!(signal.record_until() >= e.end.unwrap(), "the gate records through the post-roll");
}
