//! From the network's output tensors to candidate boxes (in the model's input pixels), for the layouts this
//! crate knows; which one a model has is read from its output shapes ([`Layout::detect`]).
//!
//! - **NanoDet** (the shipped model; its "GFL" head): per stride s (8, 16, 32) a grid of cells, for each
//!   cell class scores `[1, cells, classes]` (sigmoid already applied) and four distance distributions
//!   `[1, cells, 4 × bins]` (left, top, right, bottom; logits over 0..bins-1 in units of s). A cell's
//!   centre is `((col + 0.5) s, (row + 0.5) s)`; each side's distance is the softmax expectation × s.
//! - **YOLOv5** `[1, N, 5 + classes]`: rows of cx, cy, w, h (input pixels), objectness, class scores;
//!   score = objectness × class score. (YOLOv5 exports; YOLOv7 exported with its grid decoding.)
//! - **YOLOv8** `[1, 4 + classes, N]` (or rows `[1, N, 4 + classes]`): cx, cy, w, h, class scores, no
//!   objectness. (YOLOv8, YOLOv9, YOLO11 exports.)

use crate::nms::{Candidate, Corners};

/// One NanoDet level: its stride, grid width, and which outputs hold its scores and distances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub stride: usize,
    pub cols: usize,
    pub cells: usize,
    pub scores: usize,
    pub dists: usize,
}

/// A model's output layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    NanoDet { levels: Vec<Level>, classes: usize, bins: usize },
    YoloV5 { rows: usize, classes: usize },
    YoloV8 { boxes: usize, classes: usize, rows_first: bool },
}

impl Layout {
    /// The layout of a model with an input of `input_w × input_h` and these output shapes. `classes`: the
    /// labels file's count, when there is one (else 80, COCO, is assumed where the shapes leave it open).
    pub fn detect(
        input_w: usize,
        input_h: usize,
        shapes: &[Vec<usize>],
        classes: Option<usize>,
    ) -> Result<Layout, String> {
        let said = || format!("outputs {shapes:?}");
        let rank3: Option<Vec<(usize, usize)>> =
            shapes.iter().map(|s| (s.len() == 3 && s[0] == 1).then(|| (s[1], s[2]))).collect();
        let Some(dims) = rank3 else {
            return Err(format!("{}: expected [1, a, b] tensors", said()));
        };
        if dims.len() == 1 {
            let (a, b) = dims[0];
            let fits = |k: usize, extra: usize| k > extra && classes.is_none_or(|c| k == c + extra);
            let coco = |k: usize, extra: usize| classes.is_some() || k == 80 + extra;
            if fits(a, 4) && coco(a, 4) && !(fits(b, 5) && coco(b, 5)) {
                return Ok(Layout::YoloV8 { boxes: b, classes: a - 4, rows_first: false });
            }
            if fits(b, 5) && coco(b, 5) {
                return Ok(Layout::YoloV5 { rows: a, classes: b - 5 });
            }
            if fits(b, 4) && coco(b, 4) {
                return Ok(Layout::YoloV8 { boxes: a, classes: b - 4, rows_first: true });
            }
            return Err(format!(
                "{}: not a YOLOv5 [1, N, 5 + classes] or YOLOv8 [1, 4 + classes, N] output for {} classes",
                said(),
                classes.map_or("80 (COCO; give a labels file for others)".to_string(), |c| c.to_string())
            ));
        }
        nanodet(input_w, input_h, &dims, classes.unwrap_or(80)).ok_or_else(|| {
            format!("{}: {} outputs fit neither a YOLO layout (one output) nor NanoDet's (score and distance pairs per stride)", said(), dims.len())
        })
    }

    /// The number of classes the model scores.
    pub fn classes(&self) -> usize {
        match self {
            Layout::NanoDet { classes, .. } | Layout::YoloV5 { classes, .. } | Layout::YoloV8 { classes, .. } => {
                *classes
            }
        }
    }

    /// Candidates scoring above `min_score`, clipped to `valid` (the scaled picture's width and height in
    /// the input; the rest is padding). `outputs` are the flat tensors in the model's output order.
    pub fn decode(&self, outputs: &[&[f32]], min_score: f32, valid: (f32, f32)) -> Vec<Candidate> {
        let clip = |c: Corners| {
            [c[0].clamp(0.0, valid.0), c[1].clamp(0.0, valid.1), c[2].clamp(0.0, valid.0), c[3].clamp(0.0, valid.1)]
        };
        let mut out = Vec::new();
        match self {
            Layout::NanoDet { levels, classes, bins } => {
                for l in levels {
                    let (scores, dists) = (outputs[l.scores], outputs[l.dists]);
                    for cell in 0..l.cells {
                        let row = &scores[cell * classes..][..*classes];
                        let mut d = None;
                        for (k, &s) in row.iter().enumerate() {
                            if s > min_score && s.is_finite() {
                                let d = *d.get_or_insert_with(|| {
                                    distances(&dists[cell * 4 * bins..][..4 * bins], *bins, l.stride as f32)
                                });
                                let cx = ((cell % l.cols) as f32 + 0.5) * l.stride as f32;
                                let cy = ((cell / l.cols) as f32 + 0.5) * l.stride as f32;
                                let corners = clip([cx - d[0], cy - d[1], cx + d[2], cy + d[3]]);
                                out.push(Candidate { corners, class: k, score: s });
                            }
                        }
                    }
                }
            }
            Layout::YoloV5 { rows, classes } => {
                let t = outputs[0];
                for r in 0..*rows {
                    let row = &t[r * (5 + classes)..][..5 + classes];
                    if row[4].partial_cmp(&min_score) != Some(std::cmp::Ordering::Greater) {
                        continue; // class scores are ≤ 1: nothing in this row can pass
                    }
                    if let Some((k, s)) = argmax(row[5..].iter().copied()) {
                        push_centre(&mut out, [row[0], row[1], row[2], row[3]], k, row[4] * s, min_score, &clip);
                    }
                }
            }
            Layout::YoloV8 { boxes, classes, rows_first } => {
                let t = outputs[0];
                let at = |j: usize, i: usize| if *rows_first { t[i * (4 + classes) + j] } else { t[j * boxes + i] };
                for i in 0..*boxes {
                    if let Some((k, s)) = argmax((0..*classes).map(|k| at(4 + k, i))) {
                        push_centre(&mut out, [at(0, i), at(1, i), at(2, i), at(3, i)], k, s, min_score, &clip);
                    }
                }
            }
        }
        out
    }
}

fn push_centre(
    out: &mut Vec<Candidate>,
    b: [f32; 4],
    class: usize,
    score: f32,
    min: f32,
    clip: &dyn Fn(Corners) -> Corners,
) {
    if score > min && score.is_finite() && b.iter().all(|v| v.is_finite()) {
        let corners = clip([b[0] - b[2] / 2.0, b[1] - b[3] / 2.0, b[0] + b[2] / 2.0, b[1] + b[3] / 2.0]);
        out.push(Candidate { corners, class, score });
    }
}

fn argmax(it: impl Iterator<Item = f32>) -> Option<(usize, f32)> {
    it.enumerate().filter(|(_, v)| v.is_finite()).max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// The four distances (left, top, right, bottom) of one cell: softmax expectation over the bins, × stride.
fn distances(logits: &[f32], bins: usize, stride: f32) -> [f32; 4] {
    let mut d = [0f32; 4];
    for (side, v) in d.iter_mut().enumerate() {
        let l = &logits[side * bins..][..bins];
        let max = l.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (mut sum, mut weighted) = (0f32, 0f32);
        for (i, &x) in l.iter().enumerate() {
            let e = (x - max).exp();
            sum += e;
            weighted += e * i as f32;
        }
        *v = if sum > 0.0 && sum.is_finite() { weighted / sum * stride } else { 0.0 };
    }
    d
}

/// NanoDet: output pairs with equal cell counts, one `classes` wide (scores), one `4 × bins` wide.
fn nanodet(input_w: usize, input_h: usize, dims: &[(usize, usize)], classes: usize) -> Option<Layout> {
    if dims.is_empty() || !dims.len().is_multiple_of(2) {
        return None;
    }
    let mut levels = Vec::new();
    let mut bins = None;
    for (i, &(cells, width)) in dims.iter().enumerate() {
        if width != classes {
            continue;
        }
        let j = dims.iter().enumerate().position(|(j, &(c, w))| j != i && c == cells && w != classes)?;
        let w = dims[j].1;
        if !w.is_multiple_of(4) || w < 8 || *bins.get_or_insert(w / 4) != w / 4 {
            return None;
        }
        let stride =
            [4, 8, 16, 32, 64, 128].into_iter().find(|s| input_w.div_ceil(*s) * input_h.div_ceil(*s) == cells)?;
        levels.push(Level { stride, cols: input_w.div_ceil(stride), cells, scores: i, dists: j });
    }
    if levels.len() * 2 != dims.len() {
        return None;
    }
    levels.sort_by_key(|l| l.stride);
    Some(Layout::NanoDet { levels, classes, bins: bins? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanodet_shapes() -> Vec<Vec<usize>> {
        vec![
            vec![1, 2704, 80],
            vec![1, 676, 80],
            vec![1, 169, 80],
            vec![1, 2704, 44],
            vec![1, 676, 44],
            vec![1, 169, 44],
        ]
    }

    #[test]
    fn layouts_are_told_apart_by_their_shapes() {
        let l = Layout::detect(416, 416, &nanodet_shapes(), None).unwrap();
        let Layout::NanoDet { levels, classes, bins } = l else { panic!("{l:?}") };
        assert_eq!((classes, bins), (80, 11));
        let got: Vec<(usize, usize, usize, usize)> =
            levels.iter().map(|l| (l.stride, l.cols, l.scores, l.dists)).collect();
        assert_eq!(got, vec![(8, 52, 0, 3), (16, 26, 1, 4), (32, 13, 2, 5)]);

        assert_eq!(
            Layout::detect(640, 640, &[vec![1, 25200, 85]], None),
            Ok(Layout::YoloV5 { rows: 25200, classes: 80 })
        );
        assert_eq!(
            Layout::detect(640, 640, &[vec![1, 84, 8400]], None),
            Ok(Layout::YoloV8 { boxes: 8400, classes: 80, rows_first: false })
        );
        assert_eq!(
            Layout::detect(640, 640, &[vec![1, 8400, 84]], None),
            Ok(Layout::YoloV8 { boxes: 8400, classes: 80, rows_first: true })
        );
        // few candidates (a tiny test model) do not confuse the two
        assert_eq!(
            Layout::detect(64, 64, &[vec![1, 84, 3]], None),
            Ok(Layout::YoloV8 { boxes: 3, classes: 80, rows_first: false })
        );
        assert_eq!(Layout::detect(64, 64, &[vec![1, 3, 85]], None), Ok(Layout::YoloV5 { rows: 3, classes: 80 }));
        // a labels file decides the class count
        assert_eq!(
            Layout::detect(640, 640, &[vec![1, 25200, 8]], Some(3)),
            Ok(Layout::YoloV5 { rows: 25200, classes: 3 })
        );
        assert_eq!(
            Layout::detect(640, 640, &[vec![1, 7, 8400]], Some(3)),
            Ok(Layout::YoloV8 { boxes: 8400, classes: 3, rows_first: false })
        );
    }

    #[test]
    fn unknown_layouts_are_refused_with_the_shapes() {
        for shapes in [
            vec![vec![1, 25200, 8]],
            vec![vec![2, 84, 8400]],
            vec![vec![1, 1000]],
            vec![vec![1, 5, 80], vec![1, 5, 44]],
        ] {
            let e = Layout::detect(640, 640, &shapes, None).unwrap_err();
            assert!(e.contains("outputs ["), "{e}");
        }
        assert!(Layout::detect(640, 640, &[vec![1, 84, 8400]], Some(3)).is_err(), "class count disagrees");
    }

    #[test]
    fn nanodet_decodes_a_cell_to_its_box() {
        let Ok(layout) = Layout::detect(32, 32, &[vec![1, 16, 2], vec![1, 16, 16]], Some(2)) else { panic!() };
        // stride 8, 4x4 cells, 2 classes, 4 bins; cell 6 = column 2, row 1 → centre (20, 12)
        let mut scores = vec![0f32; 16 * 2];
        scores[6 * 2 + 1] = 0.8;
        let mut dists = vec![-50f32; 16 * 16];
        // left: all on bin 1 (8 px); top: bin 0; right: half bin 2 half bin 3 (2.5 → 20 px); bottom: bin 3
        for (side, bins) in [(0, vec![1]), (1, vec![0]), (2, vec![2, 3]), (3, vec![3])] {
            for b in bins {
                dists[6 * 16 + side * 4 + b] = 0.0;
            }
        }
        let c = layout.decode(&[&scores, &dists], 0.5, (32.0, 32.0));
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].class, c[0].score), (1, 0.8));
        let want = [12.0, 12.0, 32.0, 36.0_f32.min(32.0)]; // right edge 40 clipped to 32, bottom 36 → 32
        for (v, w) in c[0].corners.iter().zip(want) {
            assert!((v - w).abs() < 1e-3, "{:?}", c[0].corners);
        }
    }

    #[test]
    fn yolo_layouts_decode_centre_boxes() {
        // v5: one row passes (0.9 × 0.9), one fails on objectness, one on the product (0.6 × 0.6)
        let mut v5 = vec![0f32; 3 * 7];
        v5[..7].copy_from_slice(&[10.0, 20.0, 4.0, 8.0, 0.9, 0.1, 0.9]);
        v5[7..14].copy_from_slice(&[10.0, 20.0, 4.0, 8.0, 0.2, 0.9, 0.9]);
        v5[14..].copy_from_slice(&[10.0, 20.0, 4.0, 8.0, 0.6, 0.6, 0.0]);
        let l = Layout::YoloV5 { rows: 3, classes: 2 };
        let c = l.decode(&[&v5], 0.5, (64.0, 64.0));
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].class, c[0].corners), (1, [8.0, 16.0, 12.0, 24.0]));
        assert!((c[0].score - 0.81).abs() < 1e-6);

        // v8, channels first: 2 boxes, 2 classes
        let v8 = [10.0, 50.0, 20.0, 50.0, 4.0, 10.0, 8.0, 10.0, 0.2, 0.7, 0.9, 0.1];
        let l = Layout::YoloV8 { boxes: 2, classes: 2, rows_first: false };
        let c = l.decode(&[&v8], 0.5, (64.0, 64.0));
        let got: Vec<(usize, Corners)> = c.iter().map(|c| (c.class, c.corners)).collect();
        assert_eq!(got, vec![(1, [8.0, 16.0, 12.0, 24.0]), (0, [45.0, 45.0, 55.0, 55.0])]);
        // the same as rows
        let rows = [10.0, 20.0, 4.0, 8.0, 0.2, 0.9, 50.0, 50.0, 10.0, 10.0, 0.7, 0.1];
        let l = Layout::YoloV8 { boxes: 2, classes: 2, rows_first: true };
        let c2: Vec<(usize, Corners)> =
            l.decode(&[&rows], 0.5, (64.0, 64.0)).iter().map(|c| (c.class, c.corners)).collect();
        assert_eq!(c2, got);
    }

    #[test]
    fn garbage_values_make_no_candidates() {
        let l = Layout::YoloV5 { rows: 1, classes: 1 };
        assert!(l.decode(&[&[f32::NAN, 0.0, 1.0, 1.0, 0.9, 0.9]], 0.5, (64.0, 64.0)).is_empty());
        assert!(l.decode(&[&[0.0, 0.0, 1.0, 1.0, f32::NAN, 0.9]], 0.5, (64.0, 64.0)).is_empty());
        assert!(l.decode(&[&[0.0, 0.0, 1.0, 1.0, 0.9, f32::INFINITY]], 0.5, (64.0, 64.0)).is_empty());
    }
}
