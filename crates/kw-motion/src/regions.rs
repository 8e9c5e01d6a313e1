//! Connected regions of the cleaned mask, and the minimum area that separates an object from clutter.
//!
//! A frame "moves" when at least one 8-connected region of changed pixels is at least `min_area` pixels large.
//! Counting per region rather than the total is what keeps many small unrelated specks (rain, leaves) from
//! adding up to an alarm, while one compact object of the same total area raises one.

/// One connected region, in analysis pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blob {
    pub area: usize,
    /// Pixels of it that differ from the earlier frame (see [`Moving`]).
    pub moving: usize,
    pub x0: usize,
    pub y0: usize,
    /// Exclusive.
    pub x1: usize,
    /// Exclusive.
    pub y1: usize,
}

/// How to tell whether a pixel is still moving: `now` and `before` (two blurred frames, 3×3 sums) differ by
/// more than `threshold` there.
pub(crate) struct Moving<'a> {
    pub now: &'a [u16],
    pub before: &'a [u16],
    pub threshold: u16,
}

impl Moving<'_> {
    fn at(&self, i: usize) -> bool {
        match (self.now.get(i), self.before.get(i)) {
            (Some(&a), Some(&b)) => a.abs_diff(b) > self.threshold,
            _ => false,
        }
    }
}

/// Finds the 8-connected regions of set pixels (value 1) in rows `rows.0..rows.1` of `mask` and appends those
/// with `area >= min_area` to `out`, counting their pixels that are `moving`. Visited pixels are set to 2 (the
/// mask is consumed). `stack` is scratch.
#[allow(clippy::too_many_arguments)] // plain buffers, called once per frame from one place
pub(crate) fn find(
    mask: &mut [u8],
    w: usize,
    h: usize,
    rows: (usize, usize),
    min_area: usize,
    moving: &Moving<'_>,
    stack: &mut Vec<u32>,
    out: &mut Vec<Blob>,
) {
    if w == 0 || h == 0 || mask.len() < w * h {
        return;
    }
    for y in rows.0..rows.1.min(h) {
        let mut x = 0;
        while x < w {
            // Skip zeros quickly.
            match mask[y * w + x..(y + 1) * w].iter().position(|&v| v == 1) {
                Some(dx) => x += dx,
                None => break,
            }
            let blob = flood(mask, w, h, x, y, moving, stack);
            if blob.area >= min_area {
                out.push(blob);
            }
            x += 1;
        }
    }
}

/// Flood-fills from `(x, y)` (which is set), marking pixels 2.
fn flood(mask: &mut [u8], w: usize, h: usize, x: usize, y: usize, moving: &Moving<'_>, stack: &mut Vec<u32>) -> Blob {
    let mut b = Blob { area: 0, moving: 0, x0: x, y0: y, x1: x + 1, y1: y + 1 };
    stack.clear();
    mask[y * w + x] = 2;
    stack.push((y * w + x) as u32);
    while let Some(i) = stack.pop() {
        let i = i as usize;
        let (px, py) = (i % w, i / w);
        b.area += 1;
        b.moving += usize::from(moving.at(i));
        b.x0 = b.x0.min(px);
        b.x1 = b.x1.max(px + 1);
        b.y0 = b.y0.min(py);
        b.y1 = b.y1.max(py + 1);
        for ny in py.saturating_sub(1)..(py + 2).min(h) {
            for nx in px.saturating_sub(1)..(px + 2).min(w) {
                let j = ny * w + nx;
                if mask[j] == 1 {
                    mask[j] = 2;
                    stack.push(j as u32);
                }
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_regions_with_their_boxes() {
        #[rustfmt::skip]
        let mut m: Vec<u8> = vec![
            1, 1, 0, 0, 0, 0,
            1, 0, 0, 0, 1, 0,
            0, 0, 0, 1, 0, 0,
            0, 0, 0, 0, 0, 0,
            1, 0, 0, 0, 0, 1,
        ];
        let (mut stack, mut out) = (Vec::new(), Vec::new());
        let mut now = vec![0u16; 30];
        now[0] = 100;
        let before = vec![0u16; 30];
        let mv = Moving { now: &now, before: &before, threshold: 50 };
        find(&mut m, 6, 5, (0, 5), 1, &mv, &mut stack, &mut out);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], Blob { area: 3, moving: 1, x0: 0, y0: 0, x1: 2, y1: 2 });
        // Diagonal neighbours join (8-connectivity).
        assert_eq!(out[1], Blob { area: 2, moving: 0, x0: 3, y0: 1, x1: 5, y1: 3 });
        assert!(m.iter().all(|&v| v != 1));
        // Minimum area.
        let mut m2 = vec![1u8, 1, 0, 1];
        out.clear();
        let none = Moving { now: &[], before: &[], threshold: 0 };
        find(&mut m2, 4, 1, (0, 1), 2, &none, &mut stack, &mut out);
        assert_eq!(out, vec![Blob { area: 2, moving: 0, x0: 0, y0: 0, x1: 2, y1: 1 }]);
        // Degenerate input.
        out.clear();
        find(&mut [], 0, 0, (0, 9), 1, &none, &mut stack, &mut out);
        find(&mut [1, 1], 4, 4, (0, 9), 1, &none, &mut stack, &mut out);
        assert!(out.is_empty());
    }
}
