//! [`Store::spans`]: the recorded time ranges of a camera, for a timeline.
//!
//! Why merged: a timeline wants "recorded from 08:00 to 11:32, then from 11:40 on", not one bar per
//! one-minute segment. Consecutive segments merge when the gap between them is at most two frame
//! intervals (jitter of the camera clock); a longer gap (a reconnect, an outage) splits the span.

use kw_media::WallMicros;

use crate::error::StoreError;
use crate::index::SegmentRow;
use crate::store::Store;

impl Store {
    /// Merged recorded spans of `camera` within `[start, end)`, clipped to it, in order.
    pub fn spans(
        &self,
        camera: &str,
        start: WallMicros,
        end: WallMicros,
    ) -> Result<Vec<(WallMicros, WallMicros)>, StoreError> {
        let rows = self.segments(camera, start, end)?;
        // A span also breaks where the codec parameters change (a new resolution), even without a gap.
        let mut params: std::collections::HashMap<i64, Option<kw_media::StreamParams>> = Default::default();
        for r in &rows {
            params.entry(r.run_id).or_insert_with(|| self.run_info(r.run_id).ok().map(|i| i.video));
        }
        Ok(merge(&rows, start, end, |a, b| a == b || params.get(&a) == params.get(&b)))
    }
}

/// Mean video frame interval of a segment (0 when unknown).
fn interval(r: &SegmentRow) -> i64 {
    if r.video_frames == 0 {
        0
    } else {
        r.end.saturating_sub(r.start) / i64::from(r.video_frames)
    }
}

/// Merges rows ordered by start into spans clipped to `[start, end)`.
/// `same_params(run_a, run_b)` says whether two runs have the same video parameters.
pub(crate) fn merge(
    rows: &[SegmentRow],
    start: WallMicros,
    end: WallMicros,
    same_params: impl Fn(i64, i64) -> bool,
) -> Vec<(WallMicros, WallMicros)> {
    let mut out: Vec<(WallMicros, WallMicros)> = Vec::new();
    let mut prev_interval = 0;
    let mut prev_run: Option<i64> = None;
    for r in rows {
        let (s, e) = (r.start.max(start), r.end.min(end));
        if s >= e {
            continue;
        }
        let tolerance = prev_interval.max(interval(r)).saturating_mul(2);
        match out.last_mut() {
            Some(cur) if s <= cur.1.saturating_add(tolerance) && prev_run.is_none_or(|p| same_params(p, r.run_id)) => {
                cur.1 = cur.1.max(e)
            }
            _ => out.push((s, e)),
        }
        prev_interval = interval(r);
        prev_run = Some(r.run_id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run_id: i64, seq: u32, start: i64, end: i64) -> SegmentRow {
        // 25 fps: 40 ms frames.
        let video_frames = ((end - start) / 40_000) as u32;
        SegmentRow { id: 0, camera_id: 1, run_id, seq, start, end, bytes: 0, video_frames, has_loss: false }
    }

    #[test]
    fn merges_adjacent_and_splits_gaps() {
        let s = 1_000_000_000;
        let rows = [
            row(1, 0, s, s + 60_000_000),
            row(1, 1, s + 60_000_000, s + 120_000_000), // contiguous: merges
            row(1, 2, s + 120_000_000 + 80_000, s + 180_000_000), // gap of 2 frames: merges
            row(2, 0, s + 180_000_000 + 80_040, s + 240_000_040), // gap just over 2 frames: splits
            row(3, 0, s + 300_000_000, s + 360_000_000), // a long outage
        ];
        assert_eq!(
            merge(&rows, i64::MIN, i64::MAX, |_, _| true),
            vec![(s, s + 180_000_000), (s + 180_080_040, s + 240_000_040), (s + 300_000_000, s + 360_000_000)]
        );
        // Clipped to the query.
        assert_eq!(merge(&rows, s + 10, s + 20, |_, _| true), vec![(s + 10, s + 20)]);
        assert_eq!(merge(&rows, s + 250_000_000, s + 260_000_000, |_, _| true), vec![]);
    }

    #[test]
    fn splits_where_parameters_change() {
        let s = 1_000_000_000;
        let rows = [row(1, 0, s, s + 60_000_000), row(2, 0, s + 60_000_000, s + 120_000_000)];
        let same_run_only = |a: i64, b: i64| a == b;
        assert_eq!(
            merge(&rows, i64::MIN, i64::MAX, same_run_only),
            vec![(s, s + 60_000_000), (s + 60_000_000, s + 120_000_000)]
        );
    }
}
