//! [`Tracker`]: one camera's objects over time, so an object that stays (a parked car) is one event, not
//! one per detection.
//!
//! Each examination's detections are matched to the tracks of the same label by box overlap (IoU, best
//! pairs first). A detection that matches nothing starts a track: that is what raises an event. A track
//! ends only when the detector looked where it was and did not see it, several times and for a while
//! (`misses_to_end`, `gone_after`): detection runs on motion regions, so "not examined" is not "gone" —
//! a car parked in a quiet corner keeps its track while people walk by elsewhere. A track nobody saw for
//! `forget_after` ends anyway.
//!
//! Pure logic: the caller passes the time (`Clock::monotonic()`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::nms::{iou, Corners};
use crate::Detection;

/// The tracker's thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// A detection continues a track of its label when their boxes overlap at least this much (IoU).
    pub iou_match: f32,
    /// Examinations that covered a track's box without finding it, in a row, before it may end.
    pub misses_to_end: u32,
    /// ... and at least this long since it was last seen.
    pub gone_after: Duration,
    /// A track not seen for this long ends even if nothing looked (its place was quiet all along).
    pub forget_after: Duration,
    /// The most tracks kept; beyond, the longest unseen is dropped.
    pub max_tracks: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            iou_match: 0.3,
            misses_to_end: 3,
            gone_after: Duration::from_secs(10),
            forget_after: Duration::from_secs(30 * 60),
            max_tracks: 64,
        }
    }
}

/// A track as the caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Unique per tracker, increasing.
    pub id: u64,
    pub label: Arc<str>,
    /// The latest detection.
    pub last: Detection,
    /// The best-scoring detection so far (for the event's score and picture).
    pub best: Detection,
    pub first_seen: Instant,
    pub last_seen: Instant,
    misses: u32,
}

/// What one examination changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// Tracks started by this examination: raise an event for each.
    pub new: Vec<Track>,
    /// Tracks seen again (the same objects as before).
    pub seen: Vec<Track>,
    /// Tracks that ended: the object is gone.
    pub ended: Vec<Track>,
}

/// One camera's tracks.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
}

fn corners(b: [f32; 4]) -> Corners {
    [b[0], b[1], b[0] + b[2], b[1] + b[3]]
}

/// The share of `b`'s area inside `area`.
fn inside(b: [f32; 4], area: [f32; 4]) -> f32 {
    let (b, a) = (corners(b), corners(area));
    let ix = (b[2].min(a[2]) - b[0].max(a[0])).max(0.0);
    let iy = (b[3].min(a[3]) - b[1].max(a[1])).max(0.0);
    let own = (b[2] - b[0]) * (b[3] - b[1]);
    if own > 0.0 {
        ix * iy / own
    } else {
        0.0
    }
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Tracker {
        Tracker { cfg, tracks: Vec::new(), next_id: 1 }
    }

    /// The live tracks.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// One examination at `now` of `area` (`[x, y, w, h]` in 0..1, [`crate::Examined::area`]) that found
    /// `detections`.
    pub fn observe(&mut self, now: Instant, area: [f32; 4], detections: &[Detection]) -> Observed {
        let mut out = Observed::default();
        // best pairs first
        let mut pairs = Vec::new();
        for (ti, t) in self.tracks.iter().enumerate() {
            for (di, d) in detections.iter().enumerate() {
                if t.label == d.label {
                    let o = iou(corners(t.last.bbox), corners(d.bbox));
                    if o >= self.cfg.iou_match {
                        pairs.push((o, ti, di));
                    }
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let (mut track_used, mut det_used) = (vec![false; self.tracks.len()], vec![false; detections.len()]);
        for (_, ti, di) in pairs {
            if track_used[ti] || det_used[di] {
                continue;
            }
            (track_used[ti], det_used[di]) = (true, true);
            let t = &mut self.tracks[ti];
            let d = &detections[di];
            t.last = d.clone();
            if d.score > t.best.score {
                t.best = d.clone();
            }
            t.last_seen = now;
            t.misses = 0;
            out.seen.push(t.clone());
        }
        // looked there and did not see it
        for (ti, t) in self.tracks.iter_mut().enumerate() {
            if !track_used[ti] && inside(t.last.bbox, area) >= 0.8 {
                t.misses += 1;
            }
        }
        for (di, d) in detections.iter().enumerate() {
            if !det_used[di] {
                let t = Track {
                    id: self.next_id,
                    label: d.label.clone(),
                    last: d.clone(),
                    best: d.clone(),
                    first_seen: now,
                    last_seen: now,
                    misses: 0,
                };
                self.next_id += 1;
                out.new.push(t.clone());
                self.tracks.push(t);
            }
        }
        out.seen.sort_by_key(|t| t.id);
        out.ended = self.expire(now);
        if self.tracks.len() > self.cfg.max_tracks {
            self.tracks.sort_by_key(|t| std::cmp::Reverse(t.last_seen));
            out.ended.extend(self.tracks.drain(self.cfg.max_tracks..));
            self.tracks.sort_by_key(|t| t.id);
        }
        out
    }

    /// Ends the tracks that are gone or forgotten by `now` (also done by [`Tracker::observe`]; call it on
    /// its own when no examination runs for a while, e.g. once a second).
    pub fn expire(&mut self, now: Instant) -> Vec<Track> {
        let cfg = self.cfg;
        let (ended, kept): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.tracks).into_iter().partition(|t| {
            let unseen = now.saturating_duration_since(t.last_seen);
            (t.misses >= cfg.misses_to_end && unseen >= cfg.gone_after) || unseen >= cfg.forget_after
        });
        self.tracks = kept;
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [f32; 4] = [0.0, 0.0, 1.0, 1.0];

    fn det(label: &str, bbox: [f32; 4], score: f32) -> Detection {
        Detection { label: Arc::from(label), class: Arc::from(label), score, bbox }
    }

    fn tracker() -> (Tracker, Instant) {
        (Tracker::new(TrackerConfig::default()), Instant::now())
    }

    #[test]
    fn a_parked_car_is_one_track_for_as_long_as_it_stays() {
        let (mut tr, t0) = tracker();
        let car = [0.6, 0.5, 0.2, 0.15];
        let first = tr.observe(t0, ALL, &[det("car", car, 0.7)]);
        assert_eq!(first.new.len(), 1);
        let id = first.new[0].id;
        // examined (whole picture) every minute for an hour, the box jittering a little
        for m in 1..=60u64 {
            let jitter = if m % 2 == 0 { 0.005 } else { -0.005 };
            let o =
                tr.observe(t0 + Duration::from_secs(60 * m), ALL, &[det("car", [0.6 + jitter, 0.5, 0.2, 0.15], 0.6)]);
            assert!(o.new.is_empty() && o.ended.is_empty(), "minute {m}: {o:?}");
            assert_eq!(o.seen[0].id, id);
        }
        assert_eq!(tr.tracks()[0].best.score, 0.7, "the best detection is kept");
    }

    #[test]
    fn a_quiet_corner_keeps_its_track_while_other_places_are_examined() {
        let (mut tr, t0) = tracker();
        tr.observe(t0, ALL, &[det("car", [0.05, 0.05, 0.2, 0.2], 0.8)]);
        // people walk by on the right for 20 minutes; only the right half is examined
        for s in 1..=1200u64 {
            let o = tr.observe(t0 + Duration::from_secs(s), [0.5, 0.0, 0.5, 1.0], &[]);
            assert!(o.ended.is_empty(), "second {s}");
        }
        // after half an hour unseen it is forgotten
        let gone = tr.expire(t0 + Duration::from_secs(30 * 60));
        assert_eq!(gone.len(), 1);
        assert!(tr.tracks().is_empty());
    }

    #[test]
    fn an_object_that_left_ends_after_misses_and_time() {
        let (mut tr, t0) = tracker();
        tr.observe(t0, ALL, &[det("person", [0.4, 0.3, 0.1, 0.4], 0.8)]);
        let at = |s: u64| t0 + Duration::from_secs(s);
        // three misses within 3 s: not yet (gone_after 10 s)
        for s in 1..=3 {
            assert!(tr.observe(at(s), ALL, &[]).ended.is_empty());
        }
        let o = tr.observe(at(11), ALL, &[]);
        assert_eq!(o.ended.len(), 1);
        assert_eq!(o.ended[0].label.as_ref(), "person");
        // the next person in the same spot is a new track (a new event)
        let o = tr.observe(at(12), ALL, &[det("person", [0.4, 0.3, 0.1, 0.4], 0.8)]);
        assert_eq!(o.new.len(), 1);
        assert_eq!(o.new[0].id, 2);
    }

    #[test]
    fn a_found_object_resets_its_misses() {
        let (mut tr, t0) = tracker();
        let b = [0.4, 0.3, 0.1, 0.4];
        tr.observe(t0, ALL, &[det("person", b, 0.8)]);
        for s in 1..=20u64 {
            // missed twice in every three looks (the model is not sure): never three in a row
            let dets = if s % 3 == 0 { vec![det("person", b, 0.5)] } else { vec![] };
            let o = tr.observe(t0 + Duration::from_secs(s), ALL, &dets);
            assert!(o.ended.is_empty() && o.new.is_empty(), "second {s}: {o:?}");
        }
    }

    #[test]
    fn labels_and_overlap_decide_identity() {
        let (mut tr, t0) = tracker();
        let o =
            tr.observe(t0, ALL, &[det("person", [0.1, 0.1, 0.1, 0.3], 0.8), det("person", [0.7, 0.1, 0.1, 0.3], 0.7)]);
        assert_eq!(o.new.iter().map(|t| t.id).collect::<Vec<_>>(), vec![1, 2]);
        // both move a little, a dog appears where person 1 was: a new track, labels never mix
        let t1 = t0 + Duration::from_millis(500);
        let o = tr.observe(
            t1,
            ALL,
            &[
                det("person", [0.12, 0.1, 0.1, 0.3], 0.8),
                det("person", [0.68, 0.1, 0.1, 0.3], 0.7),
                det("dog", [0.1, 0.1, 0.1, 0.3], 0.6),
            ],
        );
        assert_eq!(o.seen.iter().map(|t| t.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(o.new.len(), 1);
        assert_eq!(o.new[0].label.as_ref(), "dog");
        // a box that jumped across the picture is another object
        let o = tr.observe(
            t1 + Duration::from_millis(500),
            [0.0, 0.0, 0.3, 1.0],
            &[det("person", [0.5, 0.6, 0.1, 0.3], 0.8)],
        );
        assert_eq!(o.new.len(), 1);
    }

    #[test]
    fn the_number_of_tracks_is_bounded() {
        let mut tr = Tracker::new(TrackerConfig { max_tracks: 4, ..TrackerConfig::default() });
        let t0 = Instant::now();
        let mut ended = 0;
        for i in 0..10u64 {
            let x = i as f32 * 0.09;
            ended += tr
                .observe(t0 + Duration::from_secs(i), [0.0, 0.0, 0.0, 0.0], &[det("person", [x, 0.0, 0.05, 0.1], 0.9)])
                .ended
                .len();
        }
        assert_eq!(tr.tracks().len(), 4);
        assert_eq!(ended, 6);
        assert_eq!(tr.tracks().iter().map(|t| t.id).collect::<Vec<_>>(), vec![7, 8, 9, 10], "the most recent stay");
    }
}
