//! Zones apply to objects where they stand: a box counts when its bottom centre (the feet of a person,
//! the wheels of a car) is inside an include zone (any, when the camera has include zones) and in no
//! exclude zone. A person whose head crosses into the driveway zone from the pavement does not count.

use kw_config::{Zone, ZoneKind};

/// Whether an object with `bbox` (`[x, y, w, h]` in 0..1) counts under `zones`.
pub(super) fn counts(zones: &[Zone], bbox: [f32; 4]) -> bool {
    let p = (f64::from(bbox[0] + bbox[2] / 2.0), f64::from(bbox[1] + bbox[3]));
    let mut includes = zones.iter().filter(|z| z.kind == ZoneKind::Include).peekable();
    let included = includes.peek().is_none() || includes.any(|z| inside(&z.points, p));
    included && !zones.iter().filter(|z| z.kind == ZoneKind::Exclude).any(|z| inside(&z.points, p))
}

/// Even-odd rule: a ray to the right crosses the polygon's edges an odd number of times.
fn inside(points: &[(f64, f64)], (x, y): (f64, f64)) -> bool {
    let mut odd = false;
    let n = points.len();
    for i in 0..n {
        let (a, b) = (points[i], points[(i + n - 1) % n]);
        if (a.1 > y) != (b.1 > y) && x < (b.0 - a.0) * (y - a.1) / (b.1 - a.1) + a.0 {
            odd = !odd;
        }
    }
    odd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(kind: ZoneKind, points: &[(f64, f64)]) -> Zone {
        Zone { name: "z".into(), kind, points: points.to_vec() }
    }

    #[test]
    fn the_bottom_centre_decides() {
        let driveway = zone(ZoneKind::Include, &[(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]);
        // standing in the driveway (feet at y = 0.9), head above it
        assert!(counts(std::slice::from_ref(&driveway), [0.4, 0.3, 0.1, 0.6]));
        // on the pavement above it, even though the box reaches into it... no: its feet are at 0.45
        assert!(!counts(std::slice::from_ref(&driveway), [0.4, 0.05, 0.1, 0.4]));
        // no zones: everything counts
        assert!(counts(&[], [0.0, 0.0, 0.1, 0.1]));
        // an exclude zone (the neighbour's garden) on the left
        let garden = zone(ZoneKind::Exclude, &[(0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0)]);
        assert!(!counts(std::slice::from_ref(&garden), [0.1, 0.5, 0.1, 0.3]));
        assert!(counts(std::slice::from_ref(&garden), [0.5, 0.5, 0.1, 0.3]));
        assert!(!counts(&[driveway, garden], [0.05, 0.5, 0.1, 0.4]));
    }
}
