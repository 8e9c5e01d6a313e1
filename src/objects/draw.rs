//! Boxes onto the event picture: what was seen, outlined, so the picture in an alert shows it without a
//! client that reads the labels. Plain rectangles (3 px, yellow on a dark edge); no text, no fonts.

/// Outlines each `[x, y, w, h]` (0..1) on a packed RGB picture.
pub(super) fn boxes(rgb: &mut kw_codec::Rgb, boxes: &[[f32; 4]]) {
    let (w, h) = (rgb.width as i64, rgb.height as i64);
    if w == 0 || h == 0 || rgb.data.len() != (w * h * 3) as usize {
        return;
    }
    let thick = (w.max(h) / 240).clamp(2, 6);
    for b in boxes {
        let px = |v: f32, side: i64| ((f64::from(v) * side as f64).round() as i64).clamp(0, side - 1);
        let (x0, y0) = (px(b[0], w), px(b[1], h));
        let (x1, y1) = (px(b[0] + b[2], w), px(b[1] + b[3], h));
        for (t, color) in [(thick + 1, [0u8, 0, 0]), (thick, [255u8, 214, 0])] {
            rect(rgb, (x0, y0, x1, y1), t, color);
        }
    }
}

fn rect(rgb: &mut kw_codec::Rgb, (x0, y0, x1, y1): (i64, i64, i64, i64), t: i64, color: [u8; 3]) {
    let (w, h) = (rgb.width as i64, rgb.height as i64);
    let mut fill = |xa: i64, ya: i64, xb: i64, yb: i64| {
        for y in ya.max(0)..=yb.min(h - 1) {
            for x in xa.max(0)..=xb.min(w - 1) {
                let i = ((y * w + x) * 3) as usize;
                rgb.data[i..i + 3].copy_from_slice(&color);
            }
        }
    };
    fill(x0, y0, x1, y0 + t - 1);
    fill(x0, y1 - t + 1, x1, y1);
    fill(x0, y0, x0 + t - 1, y1);
    fill(x1 - t + 1, y0, x1, y1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_stay_inside_the_picture() {
        let mut p = kw_codec::Rgb { width: 100, height: 50, data: vec![10; 100 * 50 * 3] };
        boxes(&mut p, &[[0.1, 0.2, 0.5, 0.6], [0.9, 0.9, 0.5, 0.5], [-1.0, f32::NAN, 2.0, 2.0]]);
        let at = |x: usize, y: usize| &p.data[(y * 100 + x) * 3..(y * 100 + x) * 3 + 3];
        assert_eq!(at(30, 10), [255, 214, 0], "top edge of the first box");
        assert_eq!(at(30, 30), [10, 10, 10], "inside untouched");
        let mut bad = kw_codec::Rgb { width: 4, height: 4, data: vec![0; 5] };
        boxes(&mut bad, &[[0.0, 0.0, 1.0, 1.0]]);
    }
}
