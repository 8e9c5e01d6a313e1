//! Morphological clean-up of the changed-pixel mask: opening, then closing, with a 3×3 square.
//!
//! After thresholding, the mask still holds isolated specks (sensor noise, rain, a flickering leaf) and the
//! blob of a real object has holes and ragged edges where the object happens to match the background.
//! *Opening* (erode, then dilate) deletes everything thinner than three pixels; *closing* (dilate, then erode)
//! fills holes and joins the pieces of one object that are a pixel or two apart, so it is counted as one
//! region. The order matters: opening first, so that noise specks are gone before closing could glue them
//! into something large.
//!
//! Masks hold 0 or 1 per pixel. Each 3×3 operation is separable (a 3-wide pass along rows, then along
//! columns), and only the rows that can be affected are touched, so a nearly empty mask costs almost nothing.

/// Opening then closing of `mask` (`w`×`h`, values 0/1) restricted to rows `rows.0..rows.1` (the rows that
/// hold set pixels; anything outside stays 0). `tmp` is scratch space.
pub(crate) fn open_close(mask: &mut [u8], w: usize, h: usize, rows: (usize, usize), tmp: &mut Vec<u8>) {
    if w == 0 || h == 0 || mask.len() < w * h || rows.0 >= rows.1 {
        return;
    }
    tmp.clear();
    tmp.resize(w * h, 0);
    // Erosion never grows the band of set rows. The opening's dilation cannot leave it either (eroded rows
    // at the band's edge are empty, since the rows beyond are), the closing's dilation grows it by one.
    let (mut lo, mut hi) = (rows.0, rows.1.min(h));
    erode(mask, tmp, w, h, lo, hi);
    dilate(mask, tmp, w, h, lo, hi);
    (lo, hi) = (lo.saturating_sub(1), (hi + 1).min(h));
    dilate(mask, tmp, w, h, lo, hi);
    erode(mask, tmp, w, h, lo, hi);
}

/// 3×3 erosion in place on rows `lo..hi`; pixels outside the frame count as set (so that an object touching
/// the border keeps its border pixels; the price is that closing fills a one-pixel gap to the border).
fn erode(mask: &mut [u8], tmp: &mut [u8], w: usize, h: usize, lo: usize, hi: usize) {
    pass(mask, tmp, w, h, lo, hi, |a, b, c| a & b & c, 1);
}

/// 3×3 dilation in place on rows `lo..hi` (which must already include every row the result can reach).
fn dilate(mask: &mut [u8], tmp: &mut [u8], w: usize, h: usize, lo: usize, hi: usize) {
    pass(mask, tmp, w, h, lo, hi, |a, b, c| a | b | c, 0);
}

/// Separable 3-tap operation `op` over rows `lo..hi`; `edge` is the value assumed outside the frame.
#[allow(clippy::too_many_arguments)]
fn pass(mask: &mut [u8], tmp: &mut [u8], w: usize, h: usize, lo: usize, hi: usize, op: fn(u8, u8, u8) -> u8, edge: u8) {
    // Horizontal: mask rows lo-1..hi+1 (those the vertical step reads) → tmp.
    let (rlo, rhi) = (lo.saturating_sub(1), (hi + 1).min(h));
    for y in rlo..rhi {
        let s = &mask[y * w..(y + 1) * w];
        let t = &mut tmp[y * w..(y + 1) * w];
        if w == 1 {
            t[0] = op(edge, s[0], edge);
            continue;
        }
        t[0] = op(edge, s[0], s[1]);
        t[w - 1] = op(s[w - 2], s[w - 1], edge);
        for (o, win) in t[1..w - 1].iter_mut().zip(s.windows(3)) {
            *o = op(win[0], win[1], win[2]);
        }
    }
    // Vertical: tmp → mask rows lo..hi; a missing neighbour row (frame edge) reads as `edge`.
    for y in lo..hi {
        let mid = &tmp[y * w..(y + 1) * w];
        let o = &mut mask[y * w..(y + 1) * w];
        let up = (y > 0).then(|| &tmp[(y - 1) * w..y * w]);
        let down = (y + 1 < h).then(|| &tmp[(y + 1) * w..(y + 2) * w]);
        match (up, down) {
            (Some(up), Some(down)) => {
                for (((o, &a), &b), &c) in o.iter_mut().zip(up).zip(mid).zip(down) {
                    *o = op(a, b, c);
                }
            }
            (Some(row), None) | (None, Some(row)) => {
                for ((o, &a), &b) in o.iter_mut().zip(row).zip(mid) {
                    *o = op(a, b, edge);
                }
            }
            (None, None) => {
                for (o, &b) in o.iter_mut().zip(mid) {
                    *o = op(edge, b, edge);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&str]) -> (Vec<u8>, usize, usize) {
        let w = rows[0].len();
        let m = rows.iter().flat_map(|r| r.bytes().map(|b| u8::from(b == b'#'))).collect();
        (m, w, rows.len())
    }

    fn show(m: &[u8], w: usize) -> Vec<String> {
        m.chunks(w).map(|r| r.iter().map(|&v| if v == 1 { '#' } else { '.' }).collect()).collect()
    }

    #[test]
    fn specks_vanish_blocks_stay_holes_fill() {
        let (mut m, w, h) = grid(&[
            "............",
            ".#........#.",
            "..#######...",
            "..#######...",
            "..#######...",
            "..###.###...",
            "..#######...",
            "..#######...",
            "..#######...",
            "............",
            "............",
        ]);
        let mut tmp = Vec::new();
        open_close(&mut m, w, h, (0, h), &mut tmp);
        let (want, _, _) = grid(&[
            "............",
            "............",
            "..#######...",
            "..#######...",
            "..#######...",
            "..#######...",
            "..#######...",
            "..#######...",
            "..#######...",
            "............",
            "............",
        ]);
        assert_eq!(show(&m, w), show(&want, w));
    }

    #[test]
    fn thin_lines_vanish_and_border_blobs_survive() {
        let (mut m, w, h) = grid(&["###.....", "###.....", "###.....", "......#.", "......#.", "......#."]);
        let mut tmp = Vec::new();
        open_close(&mut m, w, h, (0, h), &mut tmp);
        assert_eq!(show(&m, w), vec!["###.....", "###.....", "###.....", "........", "........", "........"]);
    }

    #[test]
    fn degenerate_sizes() {
        let mut tmp = Vec::new();
        let mut m = vec![1u8];
        open_close(&mut m, 1, 1, (0, 1), &mut tmp);
        assert_eq!(m, vec![1]);
        open_close(&mut [], 0, 0, (0, 0), &mut tmp);
        let mut short = vec![1u8; 3];
        open_close(&mut short, 2, 2, (0, 2), &mut tmp);
        let mut m = vec![1u8; 4];
        open_close(&mut m, 4, 1, (5, 9), &mut tmp);
        assert_eq!(m, vec![1; 4]);
    }
}
