//! Motion episodes: from "this frame moves" to events that start, update and end (minimum duration, gap
//! merging, the best frame).
//!
//! Per-frame motion flickers: a walking person is missed in a frame where they match the background, a car's
//! headlight flashes for one frame. Events should instead mean "something happened from `start` to `end`".
//! This state machine knows nothing about pixels; it sees one [`Observation`] per frame:
//!
//! - **Idle** → a moving frame opens a *pending* event.
//! - **Pending** → confirmed ([`Event::Started`]) once a track has lasted `min_duration` (the tracks module
//!   decides that; the event's `start` is that track's first sighting); dropped when a quiet frame comes
//!   more than `confirm_gap` after the last moving one (a flash, a bird).
//! - **Active** → frames with established motion (tracks seen in several frames) extend it; it ends
//!   ([`Event::Ended`]) when there has been none for `merge_gap`, so a person who stops for a moment stays
//!   one event. Its `end` is the first quiet frame after the last moving one (events are half-open, like
//!   recorded spans).
//!
//! Absence is only ever concluded from quiet *frames*: a long pause between frames (key frames only) is no
//! evidence that motion stopped.

use crate::tracks::Level;
use crate::{Micros, Region};

/// What an event looks like so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventInfo {
    /// Time of the first moving frame.
    pub start: Micros,
    /// Highest frame score so far (0..1); the best frame's score.
    pub score: f32,
    /// Bounding box of everything that moved during the event (0..1).
    pub region: Region,
    /// Time of the best frame (highest score): its picture is the event's snapshot.
    pub best_t: Micros,
    /// Moving region in the best frame.
    pub best_region: Region,
}

/// Something the caller should store or announce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// Motion confirmed: create the event (its `end` unknown yet). `t` is the frame that confirmed it
    /// (`info.start + min_duration` or a little later).
    Started {
        /// Time of the confirming frame.
        t: Micros,
        /// The event so far.
        info: EventInfo,
    },
    /// The running event has a better frame or a larger region; at most once per `update_interval`.
    Updated {
        /// Time of the frame that caused it.
        t: Micros,
        /// The event so far.
        info: EventInfo,
    },
    /// The event is over. `end` is when motion stopped; `t` (later by `merge_gap`) is when that became sure.
    Ended {
        /// Time of the frame that ended it (or of the last frame, from [`crate::Detector::finish`]).
        t: Micros,
        /// End of the motion, exclusive.
        end: Micros,
        /// The whole event.
        info: EventInfo,
    },
}

/// What one frame showed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Observation {
    /// Motion with this score and region, as trustworthy as `level` says; `since` is when the oldest track
    /// at that level was first seen.
    Moving { score: f32, region: Region, level: Level, since: Micros },
    /// No motion (or the detector could not tell: settling after a global change).
    Quiet,
}

/// Where the state machine is; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing going on.
    Idle,
    /// Motion seen, not yet long enough for an event.
    Pending,
    /// An event is running.
    Active,
}

/// The timings the tracker uses, in µs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub min_duration: Micros,
    pub confirm_gap: Micros,
    pub merge_gap: Micros,
    pub update_interval: Micros,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    info: EventInfo,
    last_motion: Micros,
    /// First quiet frame after `last_motion`.
    quiet_since: Option<Micros>,
    last_update: Micros,
    /// Something worth an `Updated` happened since the last one.
    dirty: bool,
}

/// The state machine.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    pub timing: Timing,
    phase: Phase,
    open: Option<Open>,
    /// End of the last event: the next one never starts before it.
    last_end: Micros,
}

/// What one step produced: an event to report, and whether this frame is the new best frame.
#[derive(Debug, Default)]
pub(crate) struct Step {
    pub events: Vec<Event>,
    pub best: bool,
}

impl Tracker {
    pub fn new(timing: Timing) -> Tracker {
        Tracker { timing, phase: Phase::Idle, open: None, last_end: Micros::MIN }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Feeds one frame at time `t` (strictly increasing).
    pub fn step(&mut self, t: Micros, obs: Observation) -> Step {
        let mut step = Step::default();
        let tm = self.timing;
        let moving = match obs {
            // Young tracks do not keep an event going: in rain they would never let it end.
            Observation::Moving { level: Level::Blip, .. } if self.phase == Phase::Active => None,
            Observation::Moving { score, region, level, since } => Some((score, region, level, since)),
            Observation::Quiet => None,
        };
        let Some((score, region, level, since)) = moving else {
            match (self.phase, self.open.as_mut()) {
                (Phase::Pending, Some(o)) if t - o.last_motion > tm.confirm_gap => {
                    self.open = None;
                    self.phase = Phase::Idle;
                }
                (Phase::Active, Some(o)) => {
                    let quiet_since = *o.quiet_since.get_or_insert(t);
                    if t - o.last_motion >= tm.merge_gap {
                        self.last_end = quiet_since;
                        step.events.push(Event::Ended { t, end: quiet_since, info: o.info });
                        self.open = None;
                        self.phase = Phase::Idle;
                    }
                }
                _ => {}
            }
            return step;
        };
        let o = self.open.get_or_insert_with(|| {
            let info = EventInfo { start: since, score: 0.0, region, best_t: t, best_region: region };
            Open { info, last_motion: t, quiet_since: None, last_update: t, dirty: false }
        });
        if self.phase == Phase::Idle {
            self.phase = Phase::Pending;
        }
        o.last_motion = t;
        o.quiet_since = None;
        if level >= Level::Alive || tm.min_duration == 0 {
            let grown = o.info.region.union(region);
            if grown != o.info.region {
                o.info.region = grown;
                o.dirty = true;
            }
            if score > o.info.score {
                o.info.score = score;
                o.info.best_t = t;
                o.info.best_region = region;
                o.dirty = true;
                step.best = true;
            }
        }
        match self.phase {
            Phase::Pending if level == Level::Established => {
                self.phase = Phase::Active;
                o.info.start = since.max(self.last_end);
                o.last_update = t;
                o.dirty = false;
                step.events.push(Event::Started { t, info: o.info });
            }
            Phase::Active if o.dirty && t - o.last_update >= tm.update_interval => {
                o.dirty = false;
                o.last_update = t;
                step.events.push(Event::Updated { t, info: o.info });
            }
            _ => {}
        }
        step
    }

    /// Something in the pending motion was recognised (an object detector saw a person, a car): the episode
    /// is confirmed now, at `t`, instead of once its track has lasted `min_duration` — what moves is known
    /// to matter, and waiting would only delay the alert. Its `start` stays the first moving frame. Nothing
    /// happens in any other phase.
    pub fn confirm(&mut self, t: Micros) -> Option<Event> {
        if self.phase != Phase::Pending {
            return None;
        }
        let o = self.open.as_mut()?;
        self.phase = Phase::Active;
        o.info.start = o.info.start.max(self.last_end);
        o.last_update = t;
        o.dirty = false;
        Some(Event::Started { t, info: o.info })
    }

    /// Ends whatever runs (stream over, time went back): an active event ends at the first quiet frame after
    /// its last motion, or at `t` if it was still moving; a pending one is dropped.
    pub fn finish(&mut self, t: Micros) -> Option<Event> {
        let open = self.open.take();
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        match (phase, open) {
            (Phase::Active, Some(o)) => {
                let end = o.quiet_since.unwrap_or(t.max(o.last_motion));
                self.last_end = end;
                Some(Event::Ended { t: t.max(end), end, info: o.info })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Micros = 1_000_000;
    const MS: Micros = 1_000;

    fn tracker() -> Tracker {
        Tracker::new(Timing { min_duration: S, confirm_gap: 500 * MS, merge_gap: 5 * S, update_interval: S })
    }

    fn r(x: f32) -> Region {
        Region { x, y: 0.1, w: 0.1, h: 0.1 }
    }

    fn moving(level: Level, since: Micros) -> Observation {
        Observation::Moving { score: 0.3, region: r(0.1), level, since }
    }

    /// Feeds 10 fps frames over `[from, to)` ms; `obs(ms)` says what each frame shows.
    fn run(tr: &mut Tracker, from: i64, to: i64, obs: impl Fn(i64) -> Observation) -> Vec<Event> {
        (from..to).step_by(100).flat_map(|ms| tr.step(ms * MS, obs(ms)).events).collect()
    }

    /// Motion over `[a, b)` ms as a track would report it: Blip, Alive from the third frame, Established
    /// after a second; `since` is `a`.
    fn track(ms: i64, a: i64, b: i64) -> Observation {
        if !(a..b).contains(&ms) {
            return Observation::Quiet;
        }
        let level = match ms - a {
            d if d >= 1000 => Level::Established,
            d if d >= 200 => Level::Alive,
            _ => Level::Blip,
        };
        moving(level, a * MS)
    }

    #[test]
    fn a_recognised_object_confirms_pending_motion_at_once() {
        let mut tr = tracker();
        assert_eq!(tr.confirm(0), None, "nothing pending");
        // Motion from 2.0 s; an object detector recognises it at 2.3 s, long before min_duration (1 s).
        assert!(run(&mut tr, 2000, 2300, |ms| track(ms, 2000, 9000)).is_empty());
        match tr.confirm(2300 * MS) {
            Some(Event::Started { t, info }) => assert_eq!((t, info.start), (2300 * MS, 2000 * MS)),
            other => panic!("{other:?}"),
        }
        assert_eq!(tr.phase(), Phase::Active);
        assert_eq!(tr.confirm(2400 * MS), None, "already an event");
        // The event then goes on and ends as any other: no second start when the track establishes.
        let later = run(&mut tr, 2300, 15_000, |ms| track(ms, 2000, 9000));
        assert!(later.iter().all(|e| !matches!(e, Event::Started { .. })), "{later:?}");
        assert!(later.iter().any(|e| matches!(e, Event::Ended { .. })), "{later:?}");
    }

    #[test]
    fn blips_and_short_tracks_are_not_events() {
        let mut tr = tracker();
        let ev =
            run(
                &mut tr,
                0,
                20_000,
                |ms| if ms < 10_000 { moving(Level::Blip, ms * MS) } else { track(ms, 12_000, 12_800) },
            );
        assert!(ev.is_empty(), "{ev:?}");
        assert_eq!(tr.phase(), Phase::Idle);
    }

    #[test]
    fn established_track_starts_then_ends() {
        let mut tr = tracker();
        let ev = run(&mut tr, 0, 30_000, |ms| track(ms, 5_000, 8_000));
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(matches!(ev[0], Event::Started { t, info } if t == 6 * S && info.start == 5 * S), "{ev:?}");
        assert!(
            matches!(ev[1], Event::Ended { t, end, info } if end == 8 * S && t == 8 * S - 100 * MS + 5 * S && info.start == 5 * S)
        );
    }

    #[test]
    fn pauses_shorter_than_merge_gap_are_one_event_and_blips_do_not_extend() {
        let mut tr = tracker();
        let obs = |ms| match track(ms, 5_000, 7_000) {
            Observation::Quiet => match track(ms, 10_000, 12_000) {
                // After the second stretch, clutter only.
                Observation::Quiet if ms > 12_000 => moving(Level::Blip, ms * MS),
                o => o,
            },
            o => o,
        };
        let ev = run(&mut tr, 0, 30_000, obs);
        let starts = ev.iter().filter(|e| matches!(e, Event::Started { .. })).count();
        let ends: Vec<_> =
            ev.iter().filter_map(|e| if let Event::Ended { end, .. } = e { Some(*end) } else { None }).collect();
        assert_eq!((starts, ends), (1, vec![12 * S]));
    }

    #[test]
    fn pauses_longer_than_merge_gap_split() {
        let mut tr = tracker();
        let ev = run(&mut tr, 0, 40_000, |ms| match track(ms, 5_000, 7_000) {
            Observation::Quiet => track(ms, 13_000, 15_000),
            o => o,
        });
        assert_eq!(ev.iter().filter(|e| matches!(e, Event::Started { .. })).count(), 2);
        assert_eq!(ev.iter().filter(|e| matches!(e, Event::Ended { .. })).count(), 2);
    }

    #[test]
    fn sparse_frames_do_not_end_pending_motion() {
        // Key frames only, 2 s apart.
        let mut tr = tracker();
        assert!(tr.step(0, moving(Level::Blip, 0)).events.is_empty());
        let ev = tr.step(2 * S, moving(Level::Established, 0)).events;
        assert!(matches!(ev[..], [Event::Started { .. }]));
    }

    #[test]
    fn best_frame_and_updates() {
        let mut tr = tracker();
        let mut best = Vec::new();
        let mut updates = 0;
        for i in 0..40 {
            let score = if i == 25 { 0.9 } else { 0.1 + i as f32 * 0.01 };
            let level = if i >= 10 { Level::Established } else { Level::Alive };
            let obs = Observation::Moving { score, region: r(i as f32 * 0.01), level, since: 0 };
            let st = tr.step(i * 100 * MS, obs);
            if st.best {
                best.push(i);
            }
            updates += st.events.iter().filter(|e| matches!(e, Event::Updated { .. })).count();
        }
        assert_eq!(best, (0..=25).collect::<Vec<_>>());
        assert!((2..=3).contains(&updates), "{updates}");
        let Some(Event::Ended { info, end, .. }) = tr.finish(4 * S) else { panic!() };
        assert_eq!((info.best_t, end), (25 * 100 * MS, 4 * S));
        assert!((info.score - 0.9).abs() < 1e-6);
        assert!(info.region.x <= 1e-6 && info.region.x + info.region.w >= 0.48);
        assert!(tr.finish(5 * S).is_none());
    }

    #[test]
    fn established_at_once_starts_at_once() {
        let mut tr = tracker();
        let ev = tr.step(0, moving(Level::Established, 0)).events;
        assert!(matches!(ev[..], [Event::Started { t: 0, .. }]));
        assert!(tr.finish(0).is_some());
    }
}
