//! Decode times from presentation times.
//!
//! Why: RTP carries only presentation times, but MP4 stores decode times (`stts`) plus composition
//! offsets (`ctts`). With frames in decode order, the i-th smallest pts is a valid i-th decode time once
//! every such time is moved back by the largest amount any frame's pts lies below it. The decode deltas
//! are then the gaps between successive presented frames, so a gap in the recording (camera offline)
//! becomes one long frame and the timeline stays true to the wall clock.

/// Decode times for frames given in decode order with presentation times `pts`: non-decreasing, and
/// never later than the frame's own pts. Returns the times and the shift (the composition offset that a
/// frame without reordering gets; 0 without B-frames).
pub fn decode_times(pts: &[i64]) -> (Vec<i64>, i64) {
    let mut sorted = pts.to_vec();
    sorted.sort_unstable();
    let shift = sorted.iter().zip(pts).map(|(&s, &p)| (i128::from(s) - i128::from(p)).max(0)).max().unwrap_or(0);
    // The shift is the difference of two i64 values, so it fits when the values are sane; saturate
    // rather than overflow on absurd input.
    let shift = i64::try_from(shift).unwrap_or(i64::MAX);
    let dts = sorted.iter().map(|&s| s.saturating_sub(shift)).collect();
    (dts, shift)
}

/// Per-sample timing of one track, ready for `stts`/`ctts`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Timing {
    /// Decode time of the first sample (absolute, on the pts clock).
    pub first_dts: i64,
    /// Smallest pts.
    pub first_pts: i64,
    /// Composition offset of an unreordered frame.
    pub shift: i64,
    pub durations: Vec<u32>,
    /// pts - dts per sample.
    pub offsets: Vec<u32>,
}

/// Why timing could not be expressed in 32-bit sample tables.
pub(crate) type TimingError = &'static str;

/// Computes decode durations and composition offsets. The last sample lasts until `end` when that is
/// later than its presentation time (and fits), otherwise as long as the sample before it.
pub(crate) fn track_timing(pts: &[i64], end: i64, fallback: u32) -> Result<Timing, TimingError> {
    let (dts, shift) = decode_times(pts);
    let (Some(&first_dts), Some(&last_dts)) = (dts.first(), dts.last()) else {
        return Err("track has no samples");
    };
    if shift == i64::MAX {
        return Err("presentation times are out of range");
    }
    let mut durations = Vec::with_capacity(dts.len());
    for pair in dts.windows(2) {
        let d = i128::from(pair[1]) - i128::from(pair[0]);
        durations.push(u32::try_from(d).map_err(|_| "a gap between frames exceeds 2^32 ticks")?);
    }
    let last_pts = last_dts.saturating_add(shift);
    let gap = i128::from(end) - i128::from(last_pts);
    let last = match u32::try_from(gap) {
        Ok(g) if g > 0 => g,
        _ => durations.last().copied().unwrap_or(fallback),
    };
    durations.push(last);
    let offsets = pts
        .iter()
        .zip(&dts)
        .map(|(&p, &d)| u32::try_from(i128::from(p) - i128::from(d)))
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| "a composition offset exceeds 2^32 ticks")?;
    Ok(Timing { first_dts, first_pts: first_dts.saturating_add(shift), shift, durations, offsets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_reordering() {
        let t = track_timing(&[0, 3600, 7200, 18000], 21600, 1).unwrap();
        assert_eq!(t.shift, 0);
        assert_eq!(t.durations, [3600, 3600, 10800, 3600]);
        assert_eq!(t.offsets, [0, 0, 0, 0]);
        // An end before the last frame: keep the previous delta.
        let t = track_timing(&[0, 3600], 3600, 1).unwrap();
        assert_eq!(t.durations, [3600, 3600]);
        // A later end holds the last frame.
        let t = track_timing(&[0, 3600], 90_000, 1).unwrap();
        assert_eq!(t.durations, [3600, 86_400]);
    }

    #[test]
    fn with_b_frames() {
        // I P B B P B B, decode order.
        let pts = [0, 3, 1, 2, 6, 4, 5];
        let (dts, shift) = decode_times(&pts);
        assert_eq!(shift, 1);
        assert_eq!(dts, [-1, 0, 1, 2, 3, 4, 5]);
        for (p, d) in pts.iter().zip(&dts) {
            assert!(d <= p);
        }
        let t = track_timing(&pts, 7, 1).unwrap();
        assert_eq!(t.durations, [1, 1, 1, 1, 1, 1, 1]);
        assert_eq!(t.offsets, [1, 3, 0, 0, 3, 0, 0]);
        assert_eq!(t.first_pts, 0);
        assert_eq!(t.first_dts, -1);
    }

    #[test]
    fn single_sample_and_overflow() {
        let t = track_timing(&[100], 100, 42).unwrap();
        assert_eq!(t.durations, [42]);
        assert!(track_timing(&[], 0, 1).is_err());
        assert!(track_timing(&[0, 1 << 40], 0, 1).is_err());
        assert!(track_timing(&[i64::MAX, i64::MIN], 0, 1).is_err());
    }
}
