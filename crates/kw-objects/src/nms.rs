//! Candidate boxes and non-maximum suppression: a network proposes many overlapping boxes for one object;
//! NMS keeps the best of each cluster (per class: a person overlapping a car is two objects).

/// A box as corners `[x1, y1, x2, y2]`, any unit (the model's input pixels inside the crate).
pub type Corners = [f32; 4];

/// One proposal of the network: where, which class (index into the model's class list), how sure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub corners: Corners,
    pub class: usize,
    pub score: f32,
}

/// Intersection over union of two boxes; 0 for empty or degenerate boxes.
pub fn iou(a: Corners, b: Corners) -> f32 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let area = |r: Corners| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Greedy NMS over any items that carry a candidate (`cand`): best score first; an item is dropped when
/// it overlaps a kept item of the same group (`same`) by more than `iou_max`. At most `keep` come back,
/// best first. Equal scores keep their input order, so the outcome is deterministic.
pub fn nms_by<T>(
    mut items: Vec<T>,
    iou_max: f32,
    keep: usize,
    cand: impl Fn(&T) -> &Candidate,
    same: impl Fn(&T, &T) -> bool,
) -> Vec<T> {
    items.sort_by(|a, b| cand(b).score.total_cmp(&cand(a).score));
    let mut kept: Vec<T> = Vec::new();
    for item in items {
        if kept.len() >= keep {
            break;
        }
        let c = cand(&item);
        if kept.iter().all(|k| !same(k, &item) || iou(cand(k).corners, c.corners) <= iou_max) {
            kept.push(item);
        }
    }
    kept
}

/// [`nms_by`] per class.
pub fn nms(cands: Vec<Candidate>, iou_max: f32, keep: usize) -> Vec<Candidate> {
    nms_by(cands, iou_max, keep, |c| c, |a, b| a.class == b.class)
}

/// Keeps the `n` best candidates (bounds the NMS, which is quadratic, on a noisy picture).
pub fn best(mut cands: Vec<Candidate>, n: usize) -> Vec<Candidate> {
    if cands.len() > n {
        cands.select_nth_unstable_by(n, |a, b| b.score.total_cmp(&a.score));
        cands.truncate(n);
    }
    cands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(corners: Corners, class: usize, score: f32) -> Candidate {
        Candidate { corners, class, score }
    }

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]), 1.0);
        assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]), 0.0);
        // half overlap: 50 / 150
        assert!((iou([0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]), 0.0);
        assert_eq!(iou([5.0, 5.0, 0.0, 0.0], [0.0, 0.0, 10.0, 10.0]), 0.0, "inverted box counts as empty");
    }

    #[test]
    fn nms_keeps_the_best_of_each_cluster_per_class() {
        let out = nms(
            vec![
                c([0.0, 0.0, 10.0, 10.0], 0, 0.6),
                c([1.0, 0.0, 11.0, 10.0], 0, 0.9),   // same object, better
                c([1.0, 0.0, 11.0, 10.0], 2, 0.5),   // other class, same place: kept
                c([50.0, 50.0, 60.0, 60.0], 0, 0.4), // elsewhere: kept
            ],
            0.6,
            100,
        );
        let got: Vec<(usize, f32)> = out.iter().map(|c| (c.class, c.score)).collect();
        assert_eq!(got, vec![(0, 0.9), (2, 0.5), (0, 0.4)]);
    }

    #[test]
    fn nms_respects_the_cap_and_custom_groups() {
        let cands = vec![c([0.0, 0.0, 10.0, 10.0], 0, 0.9), c([0.0, 0.0, 10.0, 10.0], 1, 0.8)];
        assert_eq!(nms(cands.clone(), 0.5, 1).len(), 1);
        // one group for all classes: the overlap suppresses across classes
        assert_eq!(nms_by(cands, 0.5, 10, |c| c, |_, _| true).len(), 1);
    }

    #[test]
    fn best_keeps_the_top_n() {
        let cands: Vec<Candidate> = (0..10).map(|i| c([0.0; 4], 0, i as f32 / 10.0)).collect();
        let mut top: Vec<f32> = best(cands, 3).iter().map(|c| c.score).collect();
        top.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(top, vec![0.9, 0.8, 0.7]);
    }
}
