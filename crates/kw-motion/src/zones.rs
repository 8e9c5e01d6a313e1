//! Include/exclude zones, rasterised once into a per-pixel mask.
//!
//! Zones are polygons in 0..1 frame coordinates (so they survive a change of analysis resolution). Testing
//! points against polygons on every frame would cost more than the detection itself, so [`rasterise`] turns
//! them into one byte per analysis pixel when the detector is built; the per-frame pass just ANDs with it.

use crate::config::{Zone, ZoneKind};

/// The watched-pixel mask (1 = counts, 0 = ignored) for a `w`×`h` analysis frame.
///
/// A pixel is inside a polygon when its centre is (even-odd rule). With at least one include zone only pixels
/// inside some include zone count; exclude zones always win. Polygons with fewer than three finite corners
/// or more than [`Zone::MAX_POINTS`] cover nothing, and zones past [`Zone::MAX_PER_CAMERA`] are ignored, so
/// the work is bounded (rows × corners) whatever the settings hold.
pub(crate) fn rasterise(zones: &[Zone], w: usize, h: usize) -> Vec<u8> {
    let zones = &zones[..zones.len().min(Zone::MAX_PER_CAMERA)];
    let usable = |z: &&Zone| {
        (3..=Zone::MAX_POINTS).contains(&z.points.len())
            && z.points.iter().all(|&(x, y)| x.is_finite() && y.is_finite())
    };
    let any_include = zones.iter().filter(usable).any(|z| z.kind == ZoneKind::Include);
    let mut mask = vec![u8::from(!any_include); w * h];
    // Includes first, then excludes on top.
    for kind in [ZoneKind::Include, ZoneKind::Exclude] {
        for z in zones.iter().filter(usable).filter(|z| z.kind == kind) {
            fill(&z.points, w, h, u8::from(kind == ZoneKind::Include), &mut mask);
        }
    }
    mask
}

/// Scanline fill: for each row, the crossings of the polygon's edges with the row's centre line, sorted,
/// fill between pairs.
fn fill(points: &[(f64, f64)], w: usize, h: usize, value: u8, mask: &mut [u8]) {
    let mut xs: Vec<f64> = Vec::with_capacity(points.len());
    for y in 0..h {
        let cy = (y as f64 + 0.5) / h as f64;
        xs.clear();
        for (i, &(x0, y0)) in points.iter().enumerate() {
            let (x1, y1) = points[(i + 1) % points.len()];
            // Half-open in y so a vertex on the line is counted once.
            if (y0 <= cy) != (y1 <= cy) {
                xs.push(x0 + (cy - y0) / (y1 - y0) * (x1 - x0));
            }
        }
        xs.sort_by(f64::total_cmp);
        let row = &mut mask[y * w..(y + 1) * w];
        for pair in xs.chunks_exact(2) {
            // Pixels whose centre (x + 0.5) / w lies in [a, b).
            let first = (pair[0] * w as f64 - 0.5).ceil().max(0.0);
            let end = (pair[1] * w as f64 - 0.5).ceil().min(w as f64);
            if end > first {
                row[first as usize..end as usize].fill(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(kind: ZoneKind, pts: &[(f64, f64)]) -> Zone {
        Zone { kind, points: pts.to_vec() }
    }

    const LEFT_HALF: [(f64, f64); 4] = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)];

    #[test]
    fn no_zones_watch_everything() {
        assert!(rasterise(&[], 8, 4).iter().all(|&m| m == 1));
    }

    #[test]
    fn include_and_exclude() {
        let m = rasterise(&[zone(ZoneKind::Include, &LEFT_HALF)], 8, 4);
        for y in 0..4 {
            assert_eq!(&m[y * 8..y * 8 + 8], &[1, 1, 1, 1, 0, 0, 0, 0]);
        }
        let m = rasterise(&[zone(ZoneKind::Exclude, &LEFT_HALF)], 8, 4);
        assert_eq!(&m[..8], &[0, 0, 0, 0, 1, 1, 1, 1]);
        // Exclude wins over include wherever they overlap, whatever the order.
        let top = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)];
        let m = rasterise(&[zone(ZoneKind::Exclude, &top), zone(ZoneKind::Include, &LEFT_HALF)], 8, 4);
        assert_eq!(m.iter().filter(|&&v| v == 1).count(), 8);
        assert_eq!(&m[16..24], &[1, 1, 1, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn triangle_and_degenerate_polygons() {
        let tri = zone(ZoneKind::Include, &[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]);
        let m = rasterise(&[tri], 10, 10);
        let n = m.iter().filter(|&&v| v == 1).count();
        assert!((40..=60).contains(&n), "{n}");
        assert_eq!(m[0], 1);
        assert_eq!(m[99], 0);
        // Too few points, NaN, or far outside: ignored or clipped, never a panic.
        let bad = [
            zone(ZoneKind::Include, &[(0.0, 0.0), (1.0, 1.0)]),
            zone(ZoneKind::Exclude, &[(f64::NAN, 0.0), (1.0, 0.0), (1.0, 1.0)]),
            zone(ZoneKind::Exclude, &[(-5.0, -5.0), (9.0, -5.0), (9.0, 0.1), (-5.0, 0.1)]),
        ];
        let m = rasterise(&bad, 10, 10);
        assert!(m[..10].iter().all(|&v| v == 0));
        assert!(m[50..].iter().all(|&v| v == 1));
    }

    #[test]
    fn zones_and_corners_past_the_caps_are_ignored() {
        // A zone with too many corners covers nothing: the include below it is the only one.
        let many: Vec<(f64, f64)> =
            (0..=Zone::MAX_POINTS).map(|i| (i as f64 / Zone::MAX_POINTS as f64, (i % 2) as f64)).collect();
        let m = rasterise(&[zone(ZoneKind::Exclude, &many), zone(ZoneKind::Include, &LEFT_HALF)], 8, 4);
        assert_eq!(&m[..8], &[1, 1, 1, 1, 0, 0, 0, 0]);
        // Zones past the cap are ignored: an exclude at position MAX_PER_CAMERA changes nothing.
        let mut zones = vec![zone(ZoneKind::Include, &LEFT_HALF); Zone::MAX_PER_CAMERA];
        let before = rasterise(&zones, 8, 4);
        zones.push(zone(ZoneKind::Exclude, &LEFT_HALF));
        assert_eq!(rasterise(&zones, 8, 4), before);
        assert!(rasterise(&[zone(ZoneKind::Include, &[(1e300, 0.0), (-1e300, 1.0), (0.5, 1e300)])], 4, 4).len() == 16);
    }
}
