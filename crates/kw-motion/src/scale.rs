//! Resampling and noise suppression: the two passes every frame goes through before it is compared.
//!
//! Motion detection needs shapes of a few pixels, not detail, so frames are analysed at 160×90..320×180.
//! A box filter (the average of the source pixels under each output pixel) is both the cheapest correct
//! downscaler and a first noise filter: averaging `n` pixels divides uncorrelated sensor noise by `√n`.
//! [`blur3`] then adds a 3×3 box blur at the analysis resolution, so that even a frame that arrives at the
//! analysis size has its per-pixel noise cut to a third before thresholding.

use crate::FrameError;

/// Largest output side [`downscale`] produces (keeps every product far from overflowing).
pub const MAX_SIDE: usize = 8192;

/// Checks that `luma` holds a `width`×`height` plane with rows `stride` bytes apart.
pub(crate) fn check_plane(luma: &[u8], stride: usize, width: usize, height: usize) -> Result<(), FrameError> {
    if width == 0 || height == 0 {
        return Err(FrameError::Empty { width, height });
    }
    if stride < width {
        return Err(FrameError::Stride { stride, width });
    }
    let need = stride.checked_mul(height - 1).and_then(|n| n.checked_add(width)).unwrap_or(usize::MAX);
    if luma.len() < need {
        return Err(FrameError::Short { need, got: luma.len() });
    }
    Ok(())
}

/// Box-filter resampling of a luma plane to `out_w`×`out_h` (tightly packed rows).
///
/// Each output pixel is the rounded mean of the source pixels it covers; when the output is larger than the
/// source in a direction, the nearest source pixel is used. Errors on an empty, short or badly strided input
/// or an empty output size; never panics.
pub fn downscale(
    luma: &[u8],
    stride: usize,
    width: usize,
    height: usize,
    out_w: usize,
    out_h: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    downscale_into(luma, stride, width, height, out_w, out_h, &mut out)?;
    Ok(out)
}

/// [`downscale`] into a reused buffer (resized to `out_w × out_h`).
pub fn downscale_into(
    luma: &[u8],
    stride: usize,
    width: usize,
    height: usize,
    out_w: usize,
    out_h: usize,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    check_plane(luma, stride, width, height)?;
    if out_w == 0 || out_h == 0 {
        return Err(FrameError::Empty { width: out_w, height: out_h });
    }
    if out_w > MAX_SIDE || out_h > MAX_SIDE {
        return Err(FrameError::TooLarge { width: out_w, height: out_h });
    }
    // Every byte is written below: no need to clear.
    out.resize(out_w * out_h, 0);
    if out_w == width && out_h == height {
        for (dst, src) in out.chunks_exact_mut(width).zip(luma.chunks(stride)) {
            dst.copy_from_slice(&src[..width]);
        }
        return Ok(());
    }
    if width == 2 * out_w && height == 2 * out_h {
        halve(luma, stride, out_w, out);
        return Ok(());
    }
    let cols = spans(width, out_w);
    let mut acc = vec![0u32; width];
    for (oy, (y0, y1)) in spans(height, out_h).into_iter().enumerate() {
        acc.fill(0);
        for y in y0..y1 {
            let row = &luma[y * stride..y * stride + width];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += u32::from(p);
            }
        }
        let rows = (y1 - y0) as u32;
        let dst = &mut out[oy * out_w..(oy + 1) * out_w];
        for (d, &(x0, x1)) in dst.iter_mut().zip(&cols) {
            let n = rows * (x1 - x0) as u32;
            let sum: u32 = acc[x0..x1].iter().sum();
            *d = ((sum + n / 2) / n) as u8;
        }
    }
    Ok(())
}

/// The exact 2:1 case (640×360 → 320×180), which is the common one, without the general bookkeeping: add
/// the two rows, then neighbouring pairs (two simple loops the compiler vectorises).
fn halve(luma: &[u8], stride: usize, out_w: usize, out: &mut [u8]) {
    const CHUNK: usize = 64;
    let mut pair = [0u16; 2 * CHUNK];
    for (oy, dst) in out.chunks_exact_mut(out_w).enumerate() {
        let r0 = &luma[2 * oy * stride..][..2 * out_w];
        let r1 = &luma[(2 * oy + 1) * stride..][..2 * out_w];
        for ((d, a), b) in dst.chunks_mut(CHUNK).zip(r0.chunks(2 * CHUNK)).zip(r1.chunks(2 * CHUNK)) {
            for ((p, &a), &b) in pair.iter_mut().zip(a).zip(b) {
                *p = u16::from(a) + u16::from(b);
            }
            for (d, p) in d.iter_mut().zip(pair.chunks_exact(2)) {
                *d = ((p[0] + p[1] + 2) >> 2) as u8;
            }
        }
    }
}

/// The source range `[start, end)` (never empty) under each of `n_out` output positions.
fn spans(n_in: usize, n_out: usize) -> Vec<(usize, usize)> {
    (0..n_out)
        .map(|o| {
            let a = o * n_in / n_out;
            let b = ((o + 1) * n_in / n_out).max(a + 1).min(n_in);
            (a.min(n_in - 1), b)
        })
        .collect()
}

/// 3×3 box blur of a `w`×`h` plane, edges replicated; the result is the *sum* of the nine pixels (0..=2295),
/// i.e. nine times the mean, so no precision is lost to a division.
pub(crate) fn blur3(src: &[u8], w: usize, h: usize, tmp: &mut Vec<u16>, out: &mut Vec<u16>) {
    // Every element is written below (or the input is unusable): no need to clear.
    tmp.resize(w * h, 0);
    out.resize(w * h, 0);
    if w == 0 || h == 0 || src.len() < w * h {
        out.fill(0);
        return;
    }
    for (s, t) in src.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        row_sum3(s, t);
    }
    for y in 0..h {
        let up = &tmp[y.saturating_sub(1) * w..][..w];
        let mid = &tmp[y * w..][..w];
        let down = &tmp[(y + 1).min(h - 1) * w..][..w];
        let o = &mut out[y * w..][..w];
        for (((o, &a), &b), &c) in o.iter_mut().zip(up).zip(mid).zip(down) {
            *o = a + b + c;
        }
    }
}

/// `t[x] = s[x-1] + s[x] + s[x+1]` with the ends replicated.
fn row_sum3(s: &[u8], t: &mut [u16]) {
    let w = s.len();
    if w == 1 {
        t[0] = 3 * u16::from(s[0]);
        return;
    }
    t[0] = 2 * u16::from(s[0]) + u16::from(s[1]);
    t[w - 1] = 2 * u16::from(s[w - 1]) + u16::from(s[w - 2]);
    for (o, win) in t[1..w - 1].iter_mut().zip(s.windows(3)) {
        *o = u16::from(win[0]) + u16::from(win[1]) + u16::from(win[2]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downscale_averages_and_handles_odd_sizes() {
        // 4×2 → 2×1: means of 2×2 blocks.
        let src = [0u8, 10, 100, 200, 20, 30, 100, 200];
        assert_eq!(downscale(&src, 4, 4, 2, 2, 1).unwrap(), vec![15, 150]);
        // With a stride wider than the row: padding is ignored.
        let padded = [0u8, 10, 100, 200, 99, 20, 30, 100, 200, 99];
        assert_eq!(downscale(&padded, 5, 4, 2, 2, 1).unwrap(), vec![15, 150]);
        // 3×3 → 2×2 (uneven spans) and 2×2 → 4×4 (upscale: nearest).
        let src = [9u8; 9];
        assert_eq!(downscale(&src, 3, 3, 3, 2, 2).unwrap(), vec![9; 4]);
        let up = downscale(&[1, 2, 3, 4], 2, 2, 2, 4, 4).unwrap();
        assert_eq!(up, vec![1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
        // Identity copy.
        assert_eq!(downscale(&padded, 5, 4, 2, 4, 2).unwrap(), vec![0, 10, 100, 200, 20, 30, 100, 200]);
    }

    #[test]
    fn the_two_to_one_path_matches_the_definition() {
        // Wider than one chunk, with a stride.
        let (w, h, stride) = (2 * 70, 6, 150);
        let src: Vec<u8> = (0..stride * h).map(|i| (i * 37 % 251) as u8).collect();
        let out = downscale(&src, stride, w, h, 70, 3).unwrap();
        for oy in 0..3 {
            for ox in 0..70 {
                let at = |x: usize, y: usize| u32::from(src[y * stride + x]);
                let sum =
                    at(2 * ox, 2 * oy) + at(2 * ox + 1, 2 * oy) + at(2 * ox, 2 * oy + 1) + at(2 * ox + 1, 2 * oy + 1);
                assert_eq!(u32::from(out[oy * 70 + ox]), (sum + 2) / 4, "{ox},{oy}");
            }
        }
    }

    #[test]
    fn downscale_rejects_bad_input_without_panicking() {
        assert!(matches!(downscale(&[0; 10], 4, 4, 3, 2, 2), Err(FrameError::Short { need: 12, got: 10 })));
        assert!(matches!(downscale(&[0; 16], 3, 4, 3, 2, 2), Err(FrameError::Stride { .. })));
        assert!(matches!(downscale(&[0; 16], 4, 0, 3, 2, 2), Err(FrameError::Empty { .. })));
        assert!(matches!(downscale(&[0; 16], 4, 4, 4, 0, 2), Err(FrameError::Empty { .. })));
        assert!(downscale(&[], usize::MAX, usize::MAX, usize::MAX, 2, 2).is_err());
        // The last row needs only `width` bytes, not a whole stride.
        assert!(downscale(&[0; 14], 5, 4, 3, 2, 2).is_ok());
    }

    #[test]
    fn blur_sums_nine_neighbours() {
        let mut src = vec![0u8; 25];
        src[12] = 9; // centre of 5×5
        let (mut tmp, mut out) = (Vec::new(), Vec::new());
        blur3(&src, 5, 5, &mut tmp, &mut out);
        let ones: Vec<usize> = (0..25).filter(|&i| out[i] == 9).collect();
        assert_eq!(ones, vec![6, 7, 8, 11, 12, 13, 16, 17, 18]);
        assert_eq!(out.iter().map(|&v| u32::from(v)).sum::<u32>(), 81);
        // Flat input stays flat (edges replicated), 1-pixel planes work.
        blur3(&[7; 6], 3, 2, &mut tmp, &mut out);
        assert!(out.iter().all(|&v| v == 63));
        blur3(&[7], 1, 1, &mut tmp, &mut out);
        assert_eq!(out, vec![63]);
    }
}
