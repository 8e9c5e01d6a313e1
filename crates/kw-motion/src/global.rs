//! The frame-level look: a sparse sample of pixels tells, before any per-pixel work, how the whole scene
//! changed.
//!
//! Three questions are answered from a grid of a few thousand pixels:
//!
//! 1. **Did the lighting change?** Lights, the camera's auto-exposure and the IR day/night switch change
//!    almost every pixel at once, roughly as `new ≈ gain × old + offset`. A robust straight-line fit of
//!    current against background (least squares, then again without the outliers) gives `gain` and `offset`;
//!    the per-pixel comparison then uses the background *corrected by that fit*, so a brightness change alone
//!    leaves no difference, and what remains is local: things that moved.
//! 2. **How noisy is the difference?** The median absolute residual of the fit is a robust noise measure
//!    (objects are outliers and do not inflate it); thresholds are set as a multiple of it, so heavy sensor
//!    noise at night raises them and a clean day image lowers them.
//! 3. **Is anything changing at all?** If (almost) no sample differs, the frame is quiet and the expensive
//!    per-pixel pass, clean-up and region search are skipped: the cheap early exit.

/// Result of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fit {
    /// `current ≈ gain × background + offset`.
    pub gain: f32,
    pub offset: f32,
    /// Robust standard deviation of the residual (1.4826 × median absolute residual), luma levels.
    pub sigma: f32,
    /// Mean of the sampled background (to express the fit as a brightness shift).
    pub mean_bg: f32,
}

impl Fit {
    /// How far the fit moves the mean brightness: the global shift in luma levels.
    pub fn shift(&self) -> f32 {
        (self.gain - 1.0) * self.mean_bg + self.offset
    }

    /// The identity (no change, no noise known).
    pub fn identity() -> Fit {
        Fit { gain: 1.0, offset: 0.0, sigma: 0.0, mean_bg: 128.0 }
    }
}

/// Counts over the watched samples.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Counts {
    /// Watched samples.
    pub watched: usize,
    /// Watched samples whose raw difference (no fit) exceeds the threshold.
    pub raw: usize,
    /// Watched samples whose residual after the fit exceeds the threshold.
    pub fitted: usize,
    /// Watched samples whose residual exceeds the early-exit threshold (a bit lower).
    pub early: usize,
}

/// Samples the fit looks at, at most: plenty for two parameters and a noise level, and it keeps the fit's
/// cost (a few histogram passes) to some microseconds whatever the grid.
const FIT_SAMPLES: usize = 1024;

/// Fits `cur ≈ gain × bg + offset` robustly over the sample pairs (a regular subset of at most
/// [`FIT_SAMPLES`] of them).
pub(crate) fn fit(cur: &[f32], bg: &[f32], scratch: &mut (Vec<f32>, Vec<f32>)) -> Fit {
    let n = cur.len().min(bg.len());
    if n < 8 {
        return Fit::identity();
    }
    let stride = n.div_ceil(FIT_SAMPLES);
    let (sc, sb) = scratch;
    sc.clear();
    sb.clear();
    sc.extend(cur[..n].iter().step_by(stride));
    sb.extend(bg[..n].iter().step_by(stride));
    let (cur, bg) = (&sc[..], &sb[..]);
    // Start from "no lighting change" (gain 1, median offset): most frames are that, and unlike a plain least
    // squares start it is not pulled by a large object. Then least squares over the samples within 3σ of the
    // current line, three times.
    let mut line_ = (1.0, median_offset(cur, bg));
    let mut sigma = robust_sigma(cur, bg, line_);
    for _ in 0..3 {
        line_ = line(cur, bg, line_, (3.0 * sigma).max(4.0));
        sigma = robust_sigma(cur, bg, line_);
    }
    let mean_bg = bg.iter().sum::<f32>() / bg.len() as f32;
    Fit { gain: line_.0, offset: line_.1, sigma, mean_bg }
}

/// Counts the watched samples over the thresholds. `watched[i]` says whether sample `i` is watched.
pub(crate) fn count(cur: &[f32], bg: &[f32], watched: &[bool], fit: &Fit, threshold: f32, early: f32) -> Counts {
    let mut k = Counts::default();
    for ((&c, &b), &w) in cur.iter().zip(bg).zip(watched) {
        if !w {
            continue;
        }
        k.watched += 1;
        let r = residual(c, b, fit.gain * b + fit.offset);
        k.raw += usize::from((c - b).abs() > threshold);
        k.fitted += usize::from(r > threshold);
        k.early += usize::from(r > early);
    }
    k
}

/// Levels at or above which a (blurred) value may be clipped by the sensor, and at or below which it may be
/// crushed to black.
pub(crate) const SATURATED: f32 = 250.0;
pub(crate) const BLACK: f32 = 5.0;

/// How far the current value `c` is from the prediction `pred` made from the background value `b`, knowing
/// that clipped values only bound the truth: where the background was saturated the scene may have been
/// brighter than it showed, so only a current value *below* the prediction is evidence of change; where the
/// current value is saturated only one *above* the prediction is; and the mirror images at black. Without
/// this, a bright window that comes out of saturation as the auto-exposure settles after a lamp is switched
/// on looks like a moving object.
#[inline(always)]
pub(crate) fn residual(c: f32, b: f32, pred: f32) -> f32 {
    let r = c - pred;
    // Which signs of r count: "up" (c above the prediction) and "down".
    let up = if b < SATURATED && c > BLACK { r } else { 0.0 };
    let down = if b > BLACK && c < SATURATED { -r } else { 0.0 };
    // Not `f32::max`: its NaN rules cost a vector compare per pixel.
    if up > down {
        up
    } else {
        down
    }
}

/// `residual(c, b, pred) > thr` (for `thr ≥ 0`), in the form the per-pixel pass vectorises best.
#[inline(always)]
pub(crate) fn changed(c: f32, b: f32, pred: f32, thr: f32) -> bool {
    let r = c - pred;
    ((r > thr) & (b < SATURATED) & (c > BLACK)) | ((r < -thr) & (b > BLACK) & (c < SATURATED))
}

/// Least squares line `cur = gain × bg + offset` over the pairs within `clip` of the line `prev`. Falls back to
/// offset only when the background is nearly flat, keeps the gain within 0.25..4, and keeps `prev` when too
/// few pairs are left.
fn line(cur: &[f32], bg: &[f32], prev: (f32, f32), clip: f32) -> (f32, f32) {
    let (mut n, mut sc, mut sb, mut sbb, mut sbc) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (&c, &b) in cur.iter().zip(bg) {
        if (c - (prev.0 * b + prev.1)).abs() > clip {
            continue;
        }
        let (c, b) = (f64::from(c), f64::from(b));
        n += 1.0;
        sc += c;
        sb += b;
        sbb += b * b;
        sbc += b * c;
    }
    if n < 8.0 {
        return prev;
    }
    let (mc, mb) = (sc / n, sb / n);
    let var = sbb / n - mb * mb;
    let cov = sbc / n - mb * mc;
    if var < 16.0 {
        return (1.0, (mc - mb) as f32);
    }
    let gain = (cov / var).clamp(0.25, 4.0);
    (gain as f32, (mc - gain * mb) as f32)
}

/// Bins per luma level of the residual histograms, and the levels they cover (larger residuals share the
/// last bin; a median beyond it means the frame is all change anyway).
const BINS_PER_LEVEL: f32 = 8.0;
const HIST_LEVELS: usize = 64;
const HIST_BINS: usize = HIST_LEVELS * BINS_PER_LEVEL as usize + 1;

/// 1.4826 × the median absolute residual against `line`, from a histogram (linear time: the median by
/// selection costs several times more at these sample counts).
fn robust_sigma(cur: &[f32], bg: &[f32], (g, o): (f32, f32)) -> f32 {
    let mut hist = [0u32; HIST_BINS];
    for (&c, &b) in cur.iter().zip(bg) {
        // `as` saturates and maps NaN to 0.
        hist[(((c - (g * b + o)).abs() * BINS_PER_LEVEL) as usize).min(HIST_BINS - 1)] += 1;
    }
    1.4826 * hist_median(&hist) / BINS_PER_LEVEL
}

/// Median of `cur − bg` (luma levels, within ±64), from a histogram.
fn median_offset(cur: &[f32], bg: &[f32]) -> f32 {
    let mut hist = [0u32; 2 * HIST_BINS];
    let centre = HIST_BINS as f32;
    for (&c, &b) in cur.iter().zip(bg) {
        let i = ((c - b) * BINS_PER_LEVEL + centre).max(0.0) as usize;
        hist[i.min(2 * HIST_BINS - 1)] += 1;
    }
    (hist_median(&hist) - centre) / BINS_PER_LEVEL
}

/// The (interpolated to the bin centre) position of the median in a histogram; 0 when empty.
fn hist_median(hist: &[u32]) -> f32 {
    let half = hist.iter().sum::<u32>().div_ceil(2);
    let mut acc = 0;
    for (i, &h) in hist.iter().enumerate() {
        acc += h;
        if acc >= half && acc > 0 {
            return i as f32 + 0.5;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured background, some noise, and `cur = gain·bg + offset` with `outliers` pixels replaced.
    fn pairs(gain: f32, offset: f32, outliers: usize) -> (Vec<f32>, Vec<f32>) {
        let mut seed = 1u32;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 1000) as f32 / 1000.0
        };
        let bg: Vec<f32> = (0..2000).map(|_| 40.0 + 150.0 * rnd()).collect();
        let cur = bg
            .iter()
            .enumerate()
            .map(|(i, &b)| if i < outliers { 250.0 } else { gain * b + offset + (rnd() - 0.5) * 4.0 })
            .collect();
        (cur, bg)
    }

    #[test]
    fn fits_lighting_changes_despite_objects() {
        let (cur, bg) = pairs(1.4, -10.0, 500);
        let f = fit(&cur, &bg, &mut Default::default());
        assert!((f.gain - 1.4).abs() < 0.02 && (f.offset + 10.0).abs() < 2.0, "{f:?}");
        assert!(f.sigma > 0.5 && f.sigma < 2.0, "{f:?}");
        let watched = vec![true; cur.len()];
        let k = count(&cur, &bg, &watched, &f, 10.0, 8.0);
        assert_eq!(k.watched, 2000);
        assert!((440..=520).contains(&k.fitted), "{k:?}");
        assert!(k.raw > 1500, "{k:?}");
    }

    #[test]
    fn clipped_values_only_bound_the_truth() {
        // Background saturated: brighter than predicted is no evidence, darker is.
        assert_eq!(residual(255.0, 255.0, 220.0), 0.0);
        assert_eq!(residual(240.0, 255.0, 220.0), 0.0);
        assert_eq!(residual(180.0, 255.0, 220.0), 40.0);
        // Current saturated: darker than predicted is no evidence.
        assert_eq!(residual(255.0, 200.0, 300.0), 0.0);
        assert_eq!(residual(255.0, 100.0, 150.0), 105.0);
        // Black background: only brighter than predicted counts; black now: only darker.
        assert_eq!(residual(2.0, 2.0, 40.0), 0.0);
        assert_eq!(residual(60.0, 2.0, 10.0), 50.0);
        assert_eq!(residual(0.0, 30.0, 20.0), 20.0);
        assert_eq!(residual(3.0, 30.0, 0.0), 0.0);
        // Ordinary values: the absolute difference.
        assert_eq!(residual(100.0, 90.0, 110.0), 10.0);
        assert_eq!(residual(120.0, 90.0, 110.0), 10.0);
        // `changed` agrees with `residual`.
        for c in (0..=255).step_by(5) {
            for b in (0..=255).step_by(5) {
                for pred in [0.0, 3.0, 60.0, 128.0, 251.0, 300.0] {
                    let (c, b) = (c as f32, b as f32);
                    assert_eq!(changed(c, b, pred, 12.0), residual(c, b, pred) > 12.0, "{c} {b} {pred}");
                }
            }
        }
    }

    #[test]
    fn no_change_no_counts_and_degenerate_input() {
        let (cur, bg) = pairs(1.0, 0.0, 0);
        let f = fit(&cur, &bg, &mut Default::default());
        assert!((f.shift()).abs() < 1.0, "{f:?}");
        let k = count(&cur, &bg, &vec![true; 2000], &f, 10.0, 8.0);
        assert_eq!((k.raw, k.fitted, k.early), (0, 0, 0));
        assert_eq!(fit(&[], &[], &mut Default::default()), Fit::identity());
        // Flat background: offset only.
        let f = fit(&[60.0; 100], &[50.0; 100], &mut Default::default());
        assert_eq!((f.gain, f.offset), (1.0, 10.0));
        let _ = fit(&[f32::NAN; 100], &[f32::INFINITY; 100], &mut Default::default());
    }
}
