//! Coherence over time: a moving object shows up frame after frame in about the same place, clutter does not.
//!
//! Rain streaks, a flickering leaf or a burst of noise now and then form a region large enough to pass the
//! minimum area, but in a different place every time. Counting such frames toward `min_duration` turns
//! rain into a steady stream of events. So each region is matched to a *track*: a box that follows what
//! moved, matched when a new region overlaps it (the box is grown by how far a fast object can travel since
//! the track was last seen). A match is *consistent* when the region overlaps where the track was, or where
//! its velocity says it should be now: objects move smoothly, clutter hops about. Only a track that has
//! lasted `min_duration`, matched consistently in at least half its frames, starts an event, and only such
//! tracks seen in several frames keep one going; a region that matches nothing starts a new, young track.
//!
//! Like the event state machine, tracks end only on evidence: a frame in which the track was not matched,
//! more than `confirm_gap` after it last was. With key frames only (seconds apart) the growth of the box
//! makes any region match, which degrades gracefully to plain persistence.

use crate::{Micros, Region};

/// How far (in frame widths/heights per second) a track's box is grown to find its object in a later frame:
/// about a car crossing the whole picture in 1.5 s.
const SPEED: f32 = 0.7;
/// Growth for the next frame at any speed (shape changes, blur).
const SLACK: f32 = 0.03;
/// How close (frame units) a region must come to where the track was, or was heading, to match
/// consistently.
const CONSISTENT: f32 = 0.01;
/// Tracks kept at most (the oldest-unseen go first); more than this is clutter anyway.
const MAX_TRACKS: usize = 32;
/// Frames a track must have been seen in to keep an event going.
const ALIVE_HITS: u32 = 3;

/// How much to trust the motion in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Only young tracks (possibly clutter).
    Blip,
    /// A track seen in at least three frames.
    Alive,
    /// A track that has lasted `min_duration`: enough to start an event.
    Established,
}

/// What the tracks make of one frame's regions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Summary {
    pub level: Level,
    /// Pixels in the regions of the tracks at `level` (at least Alive where there are such, else all).
    pub area: usize,
    /// Bounding box of those regions.
    pub region: Region,
    /// First sighting of the oldest track at `level`: where an event that starts now begins.
    pub since: Micros,
}

#[derive(Debug, Clone, Copy)]
struct Track {
    region: Region,
    first: Micros,
    last: Micros,
    /// Frames it was matched in, and frames since it began (including those).
    hits: u32,
    frames: u32,
    /// Matches that were *consistent*: the region overlaps where the track was, or where its velocity
    /// says it should be now. Clutter that hops about matches, but rarely consistently.
    good: u32,
    /// Velocity of the box centre, frames per second.
    vel: (f32, f32),
    /// Matched in the current frame; regions and area gathered this frame.
    now: Option<(Region, usize)>,
    /// Merged into another track this frame.
    dead: bool,
}

impl Track {
    /// Seen consistently in at least half the frames since it began: objects are; clutter that happens to
    /// recur near the same place, or hops from one place to the next, is not.
    fn steady(&self) -> bool {
        2 * self.good >= self.frames
    }

    /// Takes this frame's region `r` at `t`: judges the match, updates velocity and position.
    fn advance(&mut self, r: Region, t: Micros) {
        let dt = (t - self.last).max(0) as f32 / 1e6;
        if self.hits > 0 && dt > 0.0 {
            let (vx, vy) = self.vel;
            let speed = (vx * vx + vy * vy).sqrt();
            let predicted = Region { x: self.region.x + vx * dt, y: self.region.y + vy * dt, ..self.region };
            let consistent = touches(grown(self.region, CONSISTENT), r)
                || touches(grown(predicted, 2.0 * CONSISTENT + 0.5 * speed * dt), r);
            self.good += u32::from(consistent);
            let (c0, c1) = (centre(self.region), centre(r));
            let v = ((c1.0 - c0.0) / dt, (c1.1 - c0.1) / dt);
            self.vel = if self.hits == 1 { v } else { (vx + (v.0 - vx) * 0.5, vy + (v.1 - vy) * 0.5) };
        }
        self.region = r;
        self.last = t;
        self.hits += 1;
    }
}

/// The set of tracks of one detector.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracks {
    list: Vec<Track>,
    /// Scratch: the track each region of the frame went to.
    owner: Vec<Option<usize>>,
    last_t: Option<Micros>,
    /// Smoothed time between frames, µs.
    interval: f32,
}

impl Tracks {
    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Tracks::default();
    }

    /// Feeds one frame's regions (box and area in pixels) at time `t`; `None` when there are none. Call it
    /// for every frame, with no regions for quiet ones: frames without a track's object are what ends it.
    pub fn update(
        &mut self,
        t: Micros,
        blobs: &[(Region, usize)],
        min_duration: Micros,
        confirm_gap: Micros,
    ) -> Option<Summary> {
        if let Some(last) = self.last_t {
            let dt = (t - last).max(0) as f32;
            self.interval = if self.interval <= 0.0 { dt } else { self.interval + (dt - self.interval) * 0.1 };
        }
        self.last_t = Some(t);
        for tr in &mut self.list {
            tr.now = None;
            tr.frames += 1;
        }
        // Phase 1: each region goes to one track: among those whose box, grown by how far the object may
        // have gone, it reaches, the oldest. A region that bridges the (barely grown) boxes of several
        // tracks joins them: the pieces of one object. Regions reaching no track start one.
        let start = self.list.len();
        self.owner.clear();
        for &(r, _) in blobs {
            let mut owner: Option<usize> = None;
            for i in 0..start {
                let tr = &self.list[i];
                // At most a few frame intervals' worth of travel, so that a young track cannot grow over the
                // whole picture while it waits.
                let dt = ((t - tr.last).max(0) as f32).min(3.0 * self.interval) / 1e6;
                if tr.dead || !touches(grown(tr.region, SLACK + SPEED * dt), r) {
                    continue;
                }
                match owner {
                    None => owner = Some(i),
                    Some(o)
                        if touches(grown(self.list[o].region, CONSISTENT), r)
                            && touches(grown(tr.region, CONSISTENT), r) =>
                    {
                        let (keep, gone) = if tr.first < self.list[o].first { (i, o) } else { (o, i) };
                        let g = self.list[gone];
                        let k = &mut self.list[keep];
                        k.first = k.first.min(g.first);
                        (k.hits, k.good, k.frames) = (k.hits.max(g.hits), k.good.max(g.good), k.frames.max(g.frames));
                        k.region = k.region.union(g.region);
                        self.list[gone].dead = true;
                        for w in &mut self.owner {
                            if *w == Some(gone) {
                                *w = Some(keep);
                            }
                        }
                        owner = Some(keep);
                    }
                    Some(o) if tr.first < self.list[o].first => owner = Some(i),
                    Some(_) => {}
                }
            }
            self.owner.push(owner);
        }
        // Phase 2: a track's region this frame is the region nearest to where it was heading, plus those
        // adjoining it (an object in pieces); regions it got that lie further off start tracks of their own,
        // so that a track never swells into a box over scattered clutter.
        for i in 0..start {
            if self.list[i].dead {
                continue;
            }
            let tr = self.list[i];
            let dt = (t - tr.last).max(0) as f32 / 1e6;
            let aim = centre(tr.region);
            let aim = (aim.0 + tr.vel.0 * dt, aim.1 + tr.vel.1 * dt);
            let dist = |r: Region| {
                let c = centre(r);
                (c.0 - aim.0).powi(2) + (c.1 - aim.1).powi(2)
            };
            let owner = &mut self.owner;
            let mine = || (0..blobs.len()).filter(|&k| owner[k] == Some(i));
            let Some(primary) = mine().min_by(|&a, &b| dist(blobs[a].0).total_cmp(&dist(blobs[b].0))) else {
                continue;
            };
            let near = grown(blobs[primary].0, 2.0 * CONSISTENT);
            let mut now = blobs[primary];
            for k in 0..blobs.len() {
                if k == primary || owner[k] != Some(i) {
                    continue;
                }
                if touches(near, blobs[k].0) {
                    now = (now.0.union(blobs[k].0), now.1 + blobs[k].1);
                } else {
                    owner[k] = None;
                }
            }
            self.list[i].now = Some(now);
        }
        for (k, &(r, area)) in blobs.iter().enumerate() {
            if self.owner[k].is_none() {
                self.list.push(Track {
                    region: r,
                    first: t,
                    last: t,
                    hits: 0,
                    frames: 1,
                    good: 1,
                    vel: (0.0, 0.0),
                    now: Some((r, area)),
                    dead: false,
                });
            }
        }
        for tr in &mut self.list {
            if let Some((r, _)) = tr.now {
                tr.advance(r, t);
            }
        }
        // Evidence of absence: unmatched this frame and not seen for longer than the gap.
        self.list.retain(|tr| !tr.dead && (tr.now.is_some() || t - tr.last <= confirm_gap));
        if self.list.len() > MAX_TRACKS {
            self.list.sort_by_key(|tr| std::cmp::Reverse(tr.last));
            self.list.truncate(MAX_TRACKS);
        }

        let level = |tr: &Track| {
            if t - tr.first >= min_duration && tr.steady() {
                Level::Established
            } else if tr.hits >= ALIVE_HITS && tr.steady() {
                Level::Alive
            } else {
                Level::Blip
            }
        };
        let matched = || self.list.iter().filter(|tr| tr.now.is_some());
        let top = matched().map(level).max()?;
        // Report the regions of everything at least Alive (or, for Blips, the blips), from the oldest.
        let floor = top.min(Level::Alive);
        let mut s = Summary { level: top, area: 0, region: Region::default(), since: t };
        let mut first = true;
        for tr in matched().filter(|tr| level(tr) >= floor) {
            let (r, a) = tr.now.unwrap_or_default();
            s.area += a;
            s.region = if first { r } else { s.region.union(r) };
            first = false;
            if level(tr) == top {
                s.since = s.since.min(tr.first);
            }
        }
        Some(s)
    }
}

fn grown(r: Region, by: f32) -> Region {
    Region { x: r.x - by, y: r.y - by, w: r.w + 2.0 * by, h: r.h + 2.0 * by }
}

fn centre(r: Region) -> (f32, f32) {
    (r.x + r.w / 2.0, r.y + r.h / 2.0)
}

fn touches(a: Region, b: Region) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Micros = 1_000;

    fn at(x: f32, y: f32) -> (Region, usize) {
        (Region { x, y, w: 0.05, h: 0.1 }, 100)
    }

    #[test]
    fn a_moving_object_establishes_after_min_duration() {
        let mut tr = Tracks::default();
        let mut levels = Vec::new();
        for i in 0..15 {
            let s = tr.update(i * 100 * MS, &[at(0.1 + i as f32 * 0.03, 0.5)], 1000 * MS, 500 * MS).unwrap();
            levels.push(s.level);
            assert_eq!(s.since, 0);
        }
        assert_eq!(&levels[..3], &[Level::Blip, Level::Blip, Level::Alive]);
        assert_eq!(levels[9], Level::Alive);
        assert_eq!(levels[10], Level::Established);
    }

    #[test]
    fn clutter_in_random_places_never_establishes() {
        let mut tr = Tracks::default();
        let mut seed = 7u32;
        for i in 0..1000i64 {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let (x, y) = ((seed >> 8) as f32 / 16777216.0, (seed.rotate_left(13) >> 8) as f32 / 16777216.0);
            // A clutter region in about every other frame, anywhere.
            let blobs = if seed.is_multiple_of(2) { vec![at(x * 0.95, y * 0.9)] } else { vec![] };
            if let Some(s) = tr.update(i * 100 * MS, &blobs, 1000 * MS, 500 * MS) {
                assert!(s.level < Level::Established, "frame {i}: {s:?}");
            }
        }
    }

    #[test]
    fn many_scattered_regions_per_frame_do_not_make_a_track() {
        // Rain: several small regions in every frame, anywhere. A track must not swell into a box over
        // them, nor hop from one to the next consistently.
        let mut tr = Tracks::default();
        let mut seed = 99u32;
        let mut rnd = move || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 8) as f32 / 16777216.0
        };
        for i in 0..600i64 {
            let blobs: Vec<_> =
                (0..6).map(|_| (Region { x: rnd() * 0.97, y: rnd() * 0.9, w: 0.02, h: 0.06 }, 20)).collect();
            if let Some(s) = tr.update(i * 100 * MS, &blobs, 1000 * MS, 500 * MS) {
                assert!(s.level < Level::Established, "frame {i}: {s:?}");
            }
        }
        assert!(tr.list.len() <= MAX_TRACKS);
    }

    #[test]
    fn gaps_end_tracks_only_with_evidence() {
        let mut tr = Tracks::default();
        tr.update(0, &[at(0.5, 0.5)], 1000 * MS, 500 * MS);
        // Two seconds without a frame (key frames only): still the same track, now established.
        let s = tr.update(2000 * MS, &[at(0.9, 0.5)], 1000 * MS, 500 * MS).unwrap();
        assert_eq!((s.level, s.since), (Level::Established, 0));
        // A quiet frame long after: the track is gone.
        assert!(tr.update(2600 * MS, &[], 1000 * MS, 500 * MS).is_none());
        let s = tr.update(2700 * MS, &[at(0.9, 0.5)], 1000 * MS, 500 * MS).unwrap();
        assert_eq!((s.level, s.since), (Level::Blip, 2700 * MS));
    }

    #[test]
    fn pieces_of_one_object_merge_into_the_oldest_track() {
        let mut tr = Tracks::default();
        tr.update(0, &[at(0.1, 0.1)], 1000 * MS, 500 * MS);
        tr.update(100 * MS, &[at(0.4, 0.1)], 1000 * MS, 500 * MS);
        // One big region covering both.
        let big = (Region { x: 0.1, y: 0.1, w: 0.35, h: 0.1 }, 500);
        let s = tr.update(200 * MS, &[big], 1000 * MS, 500 * MS).unwrap();
        assert_eq!(s.since, 0);
        assert_eq!(tr.list.len(), 1);
        assert_eq!(s.area, 500);
    }
}
