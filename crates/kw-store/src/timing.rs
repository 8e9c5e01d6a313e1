//! Where a segment sits on the wall clock: the `[start, end)` of its index row.
//!
//! Why here and shared: the writer (at `finish`) and recovery (rebuilding a row from a crashed file)
//! must compute the same range from the same frames, otherwise a recovered segment would overlap or
//! leave a gap next to its neighbours. `start` is the wall time of the smallest video pts. `end` is the
//! exact end pts when the writer knows it (the pts of the key frame that starts the next segment), else
//! the largest video pts plus the mean frame interval (robust against B-frame reordering). A segment
//! without video uses its audio timestamps instead.

use kw_media::{ticks_to_micros, RunInfo, StreamKind, WallMicros, VIDEO_TIMESCALE};

/// Assumed frame duration when a segment holds a single video frame (40 ms, 25 fps).
const SINGLE_FRAME_TICKS: i64 = 3_600;

#[derive(Clone, Copy, Debug, Default)]
struct Range {
    min: i64,
    max: i64,
    count: u64,
}

impl Range {
    fn push(&mut self, pts: i64) {
        if self.count == 0 {
            self.min = pts;
            self.max = pts;
        } else {
            self.min = self.min.min(pts);
            self.max = self.max.max(pts);
        }
        self.count += 1;
    }

    /// `(min, end)` in ticks: `end_pts` when it lies after every frame, else `max` + mean interval.
    fn bounds(&self, end_pts: Option<i64>, single: i64) -> (i64, i64) {
        let end = match end_pts {
            Some(e) if e > self.max => e,
            _ if self.count > 1 => {
                let mean = self.max.saturating_sub(self.min) / (self.count as i64 - 1);
                self.max.saturating_add(mean.max(1))
            }
            _ => self.max.saturating_add(single),
        };
        (self.min, end)
    }
}

/// Collects the pts range of a segment's frames.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extent {
    video: Range,
    audio: Range,
}

impl Extent {
    pub fn push(&mut self, stream: StreamKind, pts: i64) {
        match stream {
            StreamKind::Video => self.video.push(pts),
            StreamKind::Audio => self.audio.push(pts),
        }
    }

    pub fn video_frames(&self) -> u64 {
        self.video.count
    }

    /// The wall-clock `[start, end)` of the segment; `None` when it holds no frame at all.
    /// `end_pts` is in video ticks and ignored for audio-only segments.
    pub fn wall_range(&self, run: &RunInfo, end_pts: Option<i64>) -> Option<(WallMicros, WallMicros)> {
        let (timescale, (lo, hi)) = if self.video.count > 0 {
            (VIDEO_TIMESCALE, self.video.bounds(end_pts, SINGLE_FRAME_TICKS))
        } else if self.audio.count > 0 {
            let ts = run.audio.as_ref().map(|a| a.timescale).unwrap_or(VIDEO_TIMESCALE);
            (ts, self.audio.bounds(None, i64::from(ts) / 25))
        } else {
            return None;
        };
        let start = run.wall_anchor.saturating_add(ticks_to_micros(lo, timescale));
        let end = run.wall_anchor.saturating_add(ticks_to_micros(hi, timescale));
        Some((start, end.max(start.saturating_add(1))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::run_info;

    #[test]
    fn exact_end_estimated_end_and_b_frames() {
        let run = run_info(true);
        let mut e = Extent::default();
        for pts in [9000, 18000, 12000, 15000] {
            e.push(StreamKind::Video, pts);
        }
        e.push(StreamKind::Audio, 0);
        let a = run.wall_anchor;
        assert_eq!(e.wall_range(&run, Some(21000)), Some((a + 100_000, a + 233_333)));
        // Mean interval (18000-9000)/3 = 3000 ticks.
        assert_eq!(e.wall_range(&run, None), Some((a + 100_000, a + 233_333)));
        assert_eq!(e.wall_range(&run, Some(100)), e.wall_range(&run, None));
    }

    #[test]
    fn audio_only_and_empty() {
        let run = run_info(true);
        assert_eq!(Extent::default().wall_range(&run, None), None);
        let mut e = Extent::default();
        e.push(StreamKind::Audio, 8000);
        e.push(StreamKind::Audio, 16000);
        let a = run.wall_anchor;
        assert_eq!(e.wall_range(&run, None), Some((a + 1_000_000, a + 3_000_000)));
    }
}
