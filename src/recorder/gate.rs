//! `record = "motion"`: frames are held in memory for the pre-roll and written only while the camera's
//! [`MotionSignal`] says so (its `record_until` includes the post-roll).
//!
//! The buffer always starts at a key frame and covers at least the pre-roll plus one GOP, so a recording
//! that opens starts decodable and early enough: motion detection may reveal an onset only at the key frame
//! after it and dates the event back to it (up to a GOP earlier), and the pre-roll counts from there.
//! Where motion detection cannot run (an H.265 stream without an H.264 sub-stream) it records
//! everything rather than nothing.

use crate::motion_signal::MotionSignal;
use kw_media::{Frame, RunInfo, StreamKind};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

pub struct Gate {
    signal: Arc<MotionSignal>,
    /// For `record = "objects"`: the motion detection the object signal depends on; where that cannot run,
    /// everything is recorded, as for `record = "motion"`.
    feeds: Option<Arc<MotionSignal>>,
    pre_roll: Duration,
    buffer: VecDeque<Arc<Frame>>,
    newest_wall: i64,
}

/// What the recorder does with a frame offered to the gate.
pub(super) enum Verdict {
    /// Write these frames, in order (the buffered pre-roll, then the frame offered).
    Write(Vec<Arc<Frame>>),
    /// The frame is held (or dropped); `stop_writing`: close the open segment, motion is over.
    Hold { stop_writing: bool },
}

impl Gate {
    pub fn new(signal: Arc<MotionSignal>, pre_roll: Duration) -> Gate {
        Gate { signal, feeds: None, pre_roll, buffer: VecDeque::new(), newest_wall: i64::MIN }
    }

    /// A gate on a signal (object detection's) that is fed by `detection` (motion detection's): when that is
    /// unavailable, the gate records everything.
    pub fn fed_by(mut self, detection: Arc<MotionSignal>) -> Gate {
        self.feeds = Some(detection);
        self
    }

    /// Forgets the buffer (a new run, or frames were skipped).
    pub(super) fn clear(&mut self) {
        self.buffer.clear();
    }

    /// Decides about frame `f` of `run`; `writing`: a segment is open.
    pub(super) fn offer(&mut self, run: &RunInfo, f: Arc<Frame>, writing: bool) -> Verdict {
        if f.stream == StreamKind::Video {
            self.newest_wall = run.video_wall(f.pts);
        }
        let active = self.signal.is_unavailable()
            || self.feeds.as_ref().is_some_and(|d| d.is_unavailable())
            || self.signal.record_until() >= self.newest_wall;
        if active {
            let mut out: Vec<Arc<Frame>> = self.buffer.drain(..).collect();
            out.push(f);
            return Verdict::Write(out);
        }
        if self.buffer.is_empty() && !(f.stream == StreamKind::Video && f.key) {
            return Verdict::Hold { stop_writing: writing }; // the buffer starts at a key frame
        }
        self.buffer.push_back(f);
        // Drop whole GOPs from the front while the pre-roll and one more GOP stay covered (the key frame after
        // next is still at or before the pre-roll's start).
        let keep_from = self.newest_wall - i64::try_from(self.pre_roll.as_micros()).unwrap_or(i64::MAX);
        let is_key = |x: &Arc<Frame>| x.stream == StreamKind::Video && x.key;
        loop {
            let mut keys = self.buffer.iter().enumerate().skip(1).filter(|&(_, x)| is_key(x)).map(|(i, _)| i);
            match (keys.next(), keys.next()) {
                (Some(i), Some(j)) if run.video_wall(self.buffer[j].pts) <= keep_from => {
                    self.buffer.drain(..i);
                }
                _ => break,
            }
        }
        Verdict::Hold { stop_writing: writing }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kw_media::{Codec, StreamParams};

    fn run() -> RunInfo {
        let video = StreamParams {
            codec: Codec::H264,
            timescale: 90_000,
            width: 64,
            height: 64,
            sample_rate: 0,
            channels: 0,
            extra: vec![],
            rfc6381: "avc1.42001e".into(),
        };
        RunInfo { video, audio: None, wall_anchor: 0 }
    }

    /// Frame `i` at 10 fps, a key frame every 10.
    fn frame(i: i64) -> Arc<Frame> {
        Arc::new(Frame {
            stream: StreamKind::Video,
            pts: i * 9000,
            key: i % 10 == 0,
            loss_before: false,
            data: Bytes::new(),
        })
    }

    fn written(v: Verdict) -> Vec<i64> {
        match v {
            Verdict::Write(frames) => frames.iter().map(|f| f.pts / 9000).collect(),
            Verdict::Hold { .. } => vec![],
        }
    }

    #[test]
    fn pre_roll_starts_at_a_key_frame_and_post_roll_ends_writing() {
        let signal = Arc::new(MotionSignal::default());
        let mut g = Gate::new(signal.clone(), Duration::from_secs(1));
        let r = run();
        // Frames 1..=34 pass quietly: held, the buffer keeps whole GOPs covering 1 s.
        assert!(written(g.offer(&r, frame(1), false)).is_empty(), "no key frame yet: dropped");
        for i in 2..35 {
            assert!(written(g.offer(&r, frame(i), false)).is_empty());
        }
        // Motion at frame 35 (3.5 s) until 4.0 s: the pre-roll from key frame 20 (the last one ≥ 1 s before frame
        // 34) and the GOP before it are written.
        signal.record_until_at_least(4_000_000);
        let w = written(g.offer(&r, frame(35), false));
        assert_eq!(w.first(), Some(&10));
        assert_eq!(w.last(), Some(&35));
        assert_eq!(w.len(), 26);
        assert_eq!(written(g.offer(&r, frame(40), true)), vec![40]);
        // After record_until the gate holds and tells the recorder to stop writing, once.
        assert!(matches!(g.offer(&r, frame(41), true), Verdict::Hold { stop_writing: true }));
        assert!(matches!(g.offer(&r, frame(42), false), Verdict::Hold { stop_writing: false }));
    }

    #[test]
    fn unavailable_detection_records_everything() {
        let signal = Arc::new(MotionSignal::default());
        signal.set_unavailable(Some("H.265 without a sub-stream".into()));
        let mut g = Gate::new(signal.clone(), Duration::from_secs(5));
        assert_eq!(written(g.offer(&run(), frame(3), false)), vec![3]);
        // `record = "objects"` on an H.265 camera without a sub-stream: the objects signal never fires, but
        // the motion detection it depends on is unavailable, so everything is recorded too.
        let objects = Arc::new(MotionSignal::default());
        let mut g = Gate::new(objects, Duration::from_secs(5)).fed_by(signal);
        assert_eq!(written(g.offer(&run(), frame(3), false)), vec![3]);
    }
}
