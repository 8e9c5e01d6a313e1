//! [`Budget`]: how many inferences may run, per camera and in total, so a busy street cannot starve
//! recording or the other cameras.
//!
//! Two token buckets: each camera's (at most `per_camera` inferences per second, no burst: they are spaced)
//! and the global one (at most `global` per second, with a burst of one second's worth so cameras may
//! coincide). An inference needs a token from both. When the global budget is short, cameras take turns:
//! a camera that got an inference more recently yields to one that is waiting and was served longer ago,
//! so the camera that asks most often (the busiest) does not win every token.
//!
//! Pure logic on an injected clock ([`kw_media::clock::Clock`]); it never sleeps. The caller asks
//! [`Budget::try_acquire`] before each inference and skips the frame when told no.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kw_media::clock::SharedClock;

/// The rates, inferences per second. A rate that is not a positive finite number allows nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    pub per_camera: f64,
    pub global: f64,
}

impl Default for BudgetConfig {
    /// 2 per camera, 4 in total: at ~60 ms per inference on one core (bench/objects), at most about a
    /// quarter of one core.
    fn default() -> Self {
        BudgetConfig { per_camera: 2.0, global: 4.0 }
    }
}

/// Why an inference was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The camera's own rate.
    Camera,
    /// The global rate (or another camera's turn).
    Global,
}

/// A refusal, with when asking again may succeed (a hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    pub limit: Limit,
    pub retry_after: Duration,
}

/// A camera's claim on the global budget expires when it has not asked for this long.
const WAITING_FRESH: Duration = Duration::from_secs(1);
/// A camera that has not asked for this long is forgotten.
const IDLE_FORGET: Duration = Duration::from_secs(60);
/// The highest rate honoured (beyond it the clock's resolution, not the budget, would decide).
const MAX_RATE: f64 = 1000.0;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn level(&self, now: Instant, rate: f64, cap: f64) -> f64 {
        (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * rate).min(cap)
    }

    fn refill(&mut self, now: Instant, rate: f64, cap: f64) {
        self.tokens = self.level(now, rate, cap);
        self.at = now;
    }
}

#[derive(Debug)]
struct Camera {
    bucket: Bucket,
    last_grant: Option<Instant>,
    /// Last denied for the global budget alone (its own token was there), at this time.
    waiting: Option<Instant>,
    last_ask: Instant,
}

#[derive(Debug)]
struct State {
    cfg: BudgetConfig,
    global: Bucket,
    cameras: HashMap<String, Camera>,
}

/// The shared inference budget. Cheap to ask; one lock.
pub struct Budget {
    clock: SharedClock,
    state: Mutex<State>,
}

fn rate(r: f64) -> f64 {
    if r.is_finite() && r > 0.0 {
        r.min(MAX_RATE)
    } else {
        0.0
    }
}

impl Budget {
    pub fn new(clock: SharedClock, cfg: BudgetConfig) -> Budget {
        let now = clock.monotonic();
        let global = Bucket { tokens: rate(cfg.global).max(1.0), at: now };
        Budget { clock, state: Mutex::new(State { cfg, global, cameras: HashMap::new() }) }
    }

    /// Changes the rates (config reload); tokens already earned stay, within the new caps.
    pub fn set_config(&self, cfg: BudgetConfig) {
        let now = self.clock.monotonic();
        let mut s = self.lock();
        let old = s.cfg;
        s.global.refill(now, rate(old.global), rate(old.global).max(1.0));
        for c in s.cameras.values_mut() {
            c.bucket.refill(now, rate(old.per_camera), 1.0);
        }
        s.cfg = cfg;
    }

    /// The current rates.
    pub fn config(&self) -> BudgetConfig {
        self.lock().cfg
    }

    /// Forgets a camera (removed from the config).
    pub fn forget(&self, camera: &str) {
        self.lock().cameras.remove(camera);
    }

    /// May `camera` run one inference now? `Ok` takes the tokens.
    pub fn try_acquire(&self, camera: &str) -> Result<(), Denied> {
        let now = self.clock.monotonic();
        let mut s = self.lock();
        let (per, glob) = (rate(s.cfg.per_camera), rate(s.cfg.global));
        let gcap = glob.max(1.0);
        s.cameras.retain(|_, c| now.saturating_duration_since(c.last_ask) < IDLE_FORGET);
        if !s.cameras.contains_key(camera) {
            let bucket = Bucket { tokens: 1.0, at: now };
            s.cameras.insert(camera.to_string(), Camera { bucket, last_grant: None, waiting: None, last_ask: now });
        }
        let wait = |tokens: f64, r: f64| {
            if r > 0.0 {
                Duration::from_secs_f64(((1.0 - tokens) / r).clamp(0.0, 3600.0))
            } else {
                Duration::from_secs(3600)
            }
        };

        let me = s.cameras.get_mut(camera).expect("inserted above");
        me.last_ask = now;
        me.bucket.refill(now, per, 1.0);
        if per == 0.0 || me.bucket.tokens < 1.0 {
            me.waiting = None;
            return Err(Denied { limit: Limit::Camera, retry_after: wait(me.bucket.tokens, per) });
        }
        let my_last = me.last_grant;

        s.global.refill(now, glob, gcap);
        let global_tokens = s.global.tokens;
        // Another camera waiting for the global budget, ready on its own, and served longer ago: its turn.
        let someone_first = s.cameras.iter().any(|(name, c)| {
            name != camera
                && c.waiting.is_some_and(|w| now.saturating_duration_since(w) < WAITING_FRESH)
                && c.bucket.level(now, per, 1.0) >= 1.0
                && match (c.last_grant, my_last) {
                    (None, Some(_)) => true,
                    (Some(theirs), Some(mine)) => theirs < mine,
                    _ => false,
                }
        });
        let me = s.cameras.get_mut(camera).expect("inserted above");
        if glob == 0.0 || global_tokens < 1.0 || (someone_first && global_tokens < 2.0) {
            me.waiting = Some(now);
            // short of tokens: until the next one; yielding: about one token's time (the other camera's turn)
            let retry_after = wait(if global_tokens < 1.0 { global_tokens } else { 0.0 }, glob);
            return Err(Denied { limit: Limit::Global, retry_after });
        }
        me.bucket.tokens -= 1.0;
        me.last_grant = Some(now);
        me.waiting = None;
        s.global.tokens -= 1.0;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // the state stays consistent across a panic in another holder (no multi-step invariants)
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kw_media::clock::FakeClock;

    fn budget(per_camera: f64, global: f64) -> (Budget, FakeClock) {
        let clock = FakeClock::new(1_800_000_000_000_000);
        (Budget::new(clock.shared(), BudgetConfig { per_camera, global }), clock)
    }

    #[test]
    fn a_camera_gets_at_most_its_rate() {
        let (b, clock) = budget(2.0, 100.0);
        assert_eq!(b.try_acquire("door"), Ok(()));
        let d = b.try_acquire("door").unwrap_err();
        assert_eq!(d.limit, Limit::Camera);
        assert_eq!(d.retry_after, Duration::from_millis(500));
        clock.advance(Duration::from_millis(499));
        assert!(b.try_acquire("door").is_err());
        clock.advance(Duration::from_millis(1));
        assert_eq!(b.try_acquire("door"), Ok(()));
        // asking every 10 ms for 10 s: 20 inferences (spaced, no burst)
        let mut n = 0;
        for _ in 0..1000 {
            clock.advance(Duration::from_millis(10));
            n += usize::from(b.try_acquire("door").is_ok());
        }
        assert_eq!(n, 20);
    }

    #[test]
    fn the_global_budget_caps_all_cameras_together() {
        let (b, clock) = budget(10.0, 3.0);
        let mut n = 0;
        for _ in 0..1000 {
            clock.advance(Duration::from_millis(10));
            for cam in ["a", "b", "c", "d"] {
                n += usize::from(b.try_acquire(cam).is_ok());
            }
        }
        assert!((30..=33).contains(&n), "10 s at 3/s (+ the initial burst): {n}");
        let d = b.try_acquire("a").unwrap_err();
        assert_eq!(d.limit, Limit::Global);
    }

    #[test]
    fn a_busy_camera_does_not_starve_a_slower_one() {
        // the street camera asks every 10 ms, the garden camera every 250 ms (key frames); 2/s in total
        let (b, clock) = budget(10.0, 2.0);
        let (mut street, mut garden) = (0, 0);
        for tick in 1..=2000 {
            clock.advance(Duration::from_millis(10));
            street += usize::from(b.try_acquire("street").is_ok());
            if tick % 25 == 0 {
                garden += usize::from(b.try_acquire("garden").is_ok());
            }
        }
        assert!(street + garden <= 42, "{street} + {garden}");
        assert!(garden >= 18, "the garden camera gets about half: street {street}, garden {garden}");
    }

    #[test]
    fn cameras_take_turns_when_the_budget_is_short() {
        let (b, clock) = budget(10.0, 3.0);
        let mut got = HashMap::new();
        for _ in 0..3000 {
            clock.advance(Duration::from_millis(10));
            for cam in ["a", "b", "c", "d", "e", "f"] {
                if b.try_acquire(cam).is_ok() {
                    *got.entry(cam).or_insert(0) += 1;
                }
            }
        }
        let (lo, hi) = (got.values().min().unwrap(), got.values().max().unwrap());
        assert!(hi - lo <= 2, "even shares: {got:?}");
    }

    #[test]
    fn cameras_within_their_own_rates_are_never_refused_for_the_global_one() {
        let (b, clock) = budget(1.0, 4.0);
        let mut got = [0; 3];
        for _ in 0..1000 {
            clock.advance(Duration::from_millis(10));
            for (i, cam) in ["a", "b", "c"].into_iter().enumerate() {
                match b.try_acquire(cam) {
                    Ok(()) => got[i] += 1,
                    Err(d) => assert_eq!(d.limit, Limit::Camera),
                }
            }
        }
        assert_eq!(got, [10, 10, 10]);
    }

    #[test]
    fn new_rates_apply_at_once() {
        let (b, clock) = budget(1.0, 10.0);
        assert!(b.try_acquire("a").is_ok());
        b.set_config(BudgetConfig { per_camera: 10.0, global: 10.0 });
        clock.advance(Duration::from_millis(100));
        assert!(b.try_acquire("a").is_ok(), "10/s: 100 ms later is enough");
    }

    #[test]
    fn zero_or_nonsense_rates_allow_nothing() {
        for (per, glob) in [(0.0, 4.0), (2.0, 0.0), (f64::NAN, 4.0), (2.0, -1.0)] {
            let (b, clock) = budget(per, glob);
            for _ in 0..100 {
                clock.advance(Duration::from_millis(100));
                assert!(b.try_acquire("x").is_err(), "{per} {glob}");
            }
        }
    }

    #[test]
    fn idle_cameras_are_forgotten_and_forget_works() {
        let (b, clock) = budget(1.0, 10.0);
        assert!(b.try_acquire("gone").is_ok());
        b.forget("gone");
        assert!(b.try_acquire("gone").is_ok(), "forgotten: a fresh bucket");
        clock.advance(Duration::from_secs(61));
        assert!(b.try_acquire("other").is_ok());
        assert_eq!(b.lock().cameras.len(), 1, "the idle camera was dropped");
        assert_eq!(b.config(), BudgetConfig { per_camera: 1.0, global: 10.0 });
    }
}
