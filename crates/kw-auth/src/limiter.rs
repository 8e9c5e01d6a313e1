//! Login rate limiting, in memory: per client address, and per (address, user).
//!
//! Two limits, both counted only on *failed* logins and both checked *before* the password is looked
//! at (so a limited attacker cannot make the server pay for argon2 either):
//!
//! - **per (address, user)**: the first [`LimiterConfig::free_failures`] failures cost nothing; from
//!   then on each further attempt waits `base_delay · 2^k` after the last failure (30 s, 1 min, 2 min,
//!   … up to 15 min). A success clears this counter. A quiet hour forgets it.
//! - **per address**: at most [`LimiterConfig::addr_burst`] failures in a burst, refilled at that many
//!   per [`LimiterConfig::addr_window`] (20 per 10 min), whatever user names are tried. This is a
//!   GCRA (a leaky bucket kept as one instant), so it needs no list of timestamps.
//!
//! There is deliberately **no per-user limit across addresses**: it would let anyone on the internet
//! lock the admin out by failing logins as `admin`. An attacker with many addresses is slowed per
//! address; IPv6 addresses are counted per /64, since one subscriber usually holds a whole /64.
//!
//! **Check and count are one step.** [`LoginLimiter::begin`] checks the limits and, in the same locked
//! step, counts the attempt as a failure *before* the slow password check; [`LoginLimiter::succeeded`]
//! takes that count back when the password was right. Checking first and counting after the password
//! check would leave an `await` between the two, and a burst of concurrent attempts would all pass the
//! check before the first failure was counted (100 concurrent wrong passwords, 100 checks). Counted in
//! advance, at most [`LimiterConfig::free_failures`] attempts of one (address, user) are ever checked
//! before the back-off, however many arrive at once. An attempt that never finishes (the client hung up,
//! the database failed) stays counted: the safe side.
//!
//! Memory is bounded: each of the two tables holds at most [`LimiterConfig::max_entries`] entries;
//! when full, entries that no longer limit anything are dropped first, then the oldest. Time is passed
//! in (`now`) so tests need no sleeping; a `now` earlier than a stored instant counts as no time
//! passed, never as a panic.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The limits; [`LimiterConfig::default`] holds the values described in the module docs.
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Failures per (address, user) before back-off starts. Default 5.
    pub free_failures: u32,
    /// The first back-off, doubled with each further failure. Default 30 s.
    pub base_delay: Duration,
    /// The longest back-off. Default 15 min.
    pub max_delay: Duration,
    /// A (address, user) counter with no failure for this long is forgotten. Default 1 h.
    pub forget_after: Duration,
    /// Failures per address allowed in a burst. Default 20.
    pub addr_burst: u32,
    /// The time in which the per-address allowance refills completely. Default 10 min.
    pub addr_window: Duration,
    /// The most entries in each of the two tables. Default 10 000.
    pub max_entries: usize,
}

impl Default for LimiterConfig {
    fn default() -> LimiterConfig {
        LimiterConfig {
            free_failures: 5,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(3600),
            addr_burst: 20,
            addr_window: Duration::from_secs(10 * 60),
            max_entries: 10_000,
        }
    }
}

impl LimiterConfig {
    /// The back-off after `failures` failures: zero before `free_failures`, then doubling.
    fn delay(&self, failures: u32) -> Duration {
        match failures.checked_sub(self.free_failures) {
            None => Duration::ZERO,
            Some(k) => self.base_delay.saturating_mul(1u32 << k.min(31)).min(self.max_delay),
        }
    }

    /// The per-address refill interval: one failure's worth.
    fn addr_interval(&self) -> Duration {
        self.addr_window / self.addr_burst.max(1)
    }
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64 (IPv4-mapped IPv6 as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddrKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl AddrKey {
    fn of(addr: IpAddr) -> AddrKey {
        match addr {
            IpAddr::V4(a) => AddrKey::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => AddrKey::V4(v4.octets()),
                None => {
                    let o = a.octets();
                    AddrKey::V6Prefix([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

/// The user part of a key: lowercased and cut to 64 bytes, so odd spellings cannot grow memory.
fn user_key(user: &str) -> String {
    let mut out = String::with_capacity(user.len().min(64));
    for c in user.chars().flat_map(char::to_lowercase) {
        if out.len() + c.len_utf8() > 64 {
            break;
        }
        out.push(c);
    }
    out
}

/// Failures of one (address, user).
#[derive(Debug, Clone, Copy)]
struct UserEntry {
    failures: u32,
    last: Instant,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<(AddrKey, String), UserEntry>,
    /// Per address: the GCRA "theoretical arrival time"; the bucket is empty once it is in the past.
    addrs: HashMap<AddrKey, Instant>,
}

/// One login attempt let through by [`LoginLimiter::begin`], already counted as a failure. Give it to
/// [`LoginLimiter::succeeded`] when the password was right; dropping it leaves the failure counted.
#[derive(Debug)]
#[must_use = "a right password must hand the attempt to LoginLimiter::succeeded"]
pub struct Attempt {
    addr: AddrKey,
    user: String,
}

/// Limits failed logins; shared by all request handlers (it locks internally).
#[derive(Debug, Default)]
pub struct LoginLimiter {
    config: LimiterConfig,
    state: Mutex<State>,
}

impl LoginLimiter {
    /// A limiter with the default limits.
    pub fn new() -> LoginLimiter {
        LoginLimiter::default()
    }

    /// A limiter with the given limits.
    pub fn with_config(config: LimiterConfig) -> LoginLimiter {
        LoginLimiter { config, state: Mutex::default() }
    }

    /// The limits in use.
    pub fn config(&self) -> &LimiterConfig {
        &self.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves counters that are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a login attempt from `addr` as `user` would be allowed now, without counting it:
    /// `Err(retry_after)` when it would be limited. For a real attempt use [`LoginLimiter::begin`].
    pub fn check(&self, addr: IpAddr, user: &str, now: Instant) -> Result<(), Duration> {
        self.wait(&self.state(), AddrKey::of(addr), &user_key(user), now)
    }

    /// Starts a login attempt from `addr` as `user`: checks the limits and, in the same step, counts
    /// the attempt as a failure, before any password is looked at. `Err(retry_after)` means answer 429
    /// with `Retry-After` (round up to whole seconds) and check nothing. With `Ok(attempt)`, check the
    /// password; when it is right, hand the attempt to [`LoginLimiter::succeeded`]; when it is wrong
    /// (or the check fails), drop it: the failure is already counted.
    pub fn begin(&self, addr: IpAddr, user: &str, now: Instant) -> Result<Attempt, Duration> {
        let (addr, user) = (AddrKey::of(addr), user_key(user));
        let mut state = self.state();
        self.wait(&state, addr, &user, now)?;
        self.count_failure(&mut state, addr, user.clone(), now);
        Ok(Attempt { addr, user })
    }

    /// Records a failed login from `addr` as `user` (wrong password or unknown user alike) that did not
    /// go through [`LoginLimiter::begin`].
    pub fn failure(&self, addr: IpAddr, user: &str, now: Instant) {
        let mut state = self.state();
        self.count_failure(&mut state, AddrKey::of(addr), user_key(user), now);
    }

    /// The attempt's password was right: clears the (address, user) counter and gives back the
    /// attempt's share of the per-address allowance. Failures counted before it stay in the per-address
    /// count, so an attacker with one valid account cannot use it to reset their allowance.
    pub fn succeeded(&self, attempt: Attempt) {
        let interval = self.config.addr_interval();
        let mut state = self.state();
        state.users.remove(&(attempt.addr, attempt.user));
        if let Some(tat) = state.addrs.get_mut(&attempt.addr) {
            *tat = tat.checked_sub(interval).unwrap_or(*tat);
        }
    }

    /// How long `addr` as `user` must wait before the next attempt (zero: now).
    fn wait(&self, state: &State, addr: AddrKey, user: &str, now: Instant) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        if let Some(e) = state.users.get(&(addr, user.to_owned())) {
            if now.saturating_duration_since(e.last) < self.config.forget_after {
                let until = e.last.checked_add(self.config.delay(e.failures)).unwrap_or(e.last);
                wait = wait.max(until.saturating_duration_since(now));
            }
        }
        if let Some(&tat) = state.addrs.get(&addr) {
            let allowance = self.config.addr_window.saturating_sub(self.config.addr_interval());
            wait = wait.max(tat.saturating_duration_since(now).saturating_sub(allowance));
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    fn count_failure(&self, state: &mut State, addr: AddrKey, user: String, now: Instant) {
        let key = (addr, user);
        let cfg = &self.config;

        if !state.users.contains_key(&key) && state.users.len() >= cfg.max_entries {
            let forget = cfg.forget_after;
            state.users.retain(|_, e| now.saturating_duration_since(e.last) < forget);
            evict_oldest(&mut state.users, cfg.max_entries, |e| e.last);
        }
        if cfg.max_entries > 0 {
            let entry = state.users.entry(key).or_insert(UserEntry { failures: 0, last: now });
            if now.saturating_duration_since(entry.last) >= cfg.forget_after {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last = entry.last.max(now);
        }

        if !state.addrs.contains_key(&addr) && state.addrs.len() >= cfg.max_entries {
            state.addrs.retain(|_, tat| *tat > now);
            evict_oldest(&mut state.addrs, cfg.max_entries, |tat| *tat);
        }
        if cfg.max_entries > 0 {
            let tat = state.addrs.entry(addr).or_insert(now);
            let start = (*tat).max(now);
            *tat = start.checked_add(cfg.addr_interval()).unwrap_or(start);
        }
    }

    /// Drops entries that no longer limit anything; call now and then to return memory early.
    pub fn purge(&self, now: Instant) {
        let forget = self.config.forget_after;
        let mut state = self.state();
        state.users.retain(|_, e| now.saturating_duration_since(e.last) < forget);
        state.addrs.retain(|_, tat| *tat > now);
    }

    /// How many entries the two tables hold together.
    pub fn tracked(&self) -> usize {
        let state = self.state();
        state.users.len() + state.addrs.len()
    }
}

/// Removes the entries with the oldest instants until fewer than `cap` remain (room for one more).
fn evict_oldest<K: Clone + Eq + Hash, V>(map: &mut HashMap<K, V>, cap: usize, when: impl Fn(&V) -> Instant) {
    while !map.is_empty() && map.len() >= cap {
        let Some(oldest) = map.iter().min_by_key(|(_, v)| when(v)).map(|(k, _)| k.clone()) else {
            break;
        };
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 9));

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn five_failures_then_back_off_per_address_and_user() {
        let l = LoginLimiter::new();
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(l.check(A, "admin", t0), Ok(()), "attempt {i} is free");
            drop(l.begin(A, "admin", t0).unwrap());
        }
        assert_eq!(l.check(A, "admin", t0), Err(secs(30)));
        assert_eq!(l.begin(A, "admin", t0).unwrap_err(), secs(30));
        assert_eq!(l.check(A, "admin", t0 + secs(10)), Err(secs(20)));
        // Another address is not affected: no global per-user lockout.
        assert_eq!(l.check(B, "admin", t0), Ok(()));
        // Another user from A is not affected by A's failures as admin (A's address budget is 20).
        assert_eq!(l.check(A, "alice", t0), Ok(()));
        // After the wait it works.
        let t1 = t0 + secs(30);
        assert_eq!(l.check(A, "admin", t1), Ok(()));
        // Each further failure doubles the wait, up to 15 minutes.
        drop(l.begin(A, "admin", t1).unwrap());
        assert_eq!(l.check(A, "admin", t1), Err(secs(60)));
        let mut t = t1;
        for _ in 0..10 {
            t += secs(15 * 60);
            drop(l.begin(A, "admin", t).unwrap());
        }
        assert_eq!(l.check(A, "admin", t), Err(secs(15 * 60)));
        // A success clears the (address, user) counter.
        t += secs(15 * 60);
        let right = l.begin(A, "admin", t).unwrap();
        l.succeeded(right);
        for i in 0..5 {
            assert!(l.begin(A, "admin", t).is_ok(), "after a success, attempt {i} is free again");
        }
        assert!(l.check(A, "admin", t).is_err());
    }

    #[test]
    fn concurrent_attempts_are_counted_before_any_password_is_checked() {
        // 100 attempts arrive while none of their password checks has finished: only 5 get through.
        let l = std::sync::Arc::new(LoginLimiter::new());
        let t0 = Instant::now();
        let start = std::sync::Arc::new(std::sync::Barrier::new(100));
        let threads: Vec<_> = (0..100)
            .map(|_| {
                let (l, start) = (l.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    l.begin(A, "admin", t0)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let (through, limited): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        assert_eq!(through.len(), 5, "only the free failures are checked");
        assert!(limited.iter().all(|r| r.as_ref().unwrap_err() == &secs(30)));
        // The owner from another address is not affected.
        let owner = l.begin(B, "admin", t0).unwrap();
        l.succeeded(owner);
        assert_eq!(l.check(B, "admin", t0), Ok(()));
    }

    #[test]
    fn a_right_password_gives_its_count_back() {
        let l = LoginLimiter::new();
        let t0 = Instant::now();
        for _ in 0..4 {
            drop(l.begin(A, "admin", t0).unwrap());
        }
        // Five in flight at once would be the limit; one of them right clears the (address, user) count.
        let right = l.begin(A, "admin", t0).unwrap();
        assert!(l.check(A, "admin", t0).is_err(), "counted while its password is checked");
        l.succeeded(right);
        assert_eq!(l.check(A, "admin", t0), Ok(()));
        // 19 failures and one success from A leave one failure of A's 20.
        for i in 0..15 {
            drop(l.begin(A, &format!("u{i}"), t0).unwrap());
        }
        assert_eq!(l.check(A, "v", t0), Ok(()));
        drop(l.begin(A, "v", t0).unwrap());
        assert_eq!(l.check(A, "w", t0), Err(secs(30)));
    }

    #[test]
    fn quiet_hour_forgets() {
        let l = LoginLimiter::new();
        let t0 = Instant::now();
        for _ in 0..5 {
            l.failure(A, "admin", t0);
        }
        assert!(l.check(A, "admin", t0).is_err());
        let t1 = t0 + secs(3600);
        assert_eq!(l.check(A, "admin", t1), Ok(()));
        l.failure(A, "admin", t1);
        assert_eq!(l.check(A, "admin", t1), Ok(()), "counting starts again");
    }

    #[test]
    fn per_address_limit_across_user_names() {
        let l = LoginLimiter::new();
        let t0 = Instant::now();
        for i in 0..20 {
            let user = format!("user{i}");
            assert_eq!(l.check(A, &user, t0), Ok(()), "failure {i}");
            l.failure(A, &user, t0);
        }
        assert_eq!(l.check(A, "someone-new", t0), Err(secs(30)));
        assert_eq!(l.check(B, "someone-new", t0), Ok(()));
        // Refills at 20 per 10 minutes: one more after 30 s, all after 10 minutes.
        assert_eq!(l.check(A, "someone-new", t0 + secs(30)), Ok(()));
        l.failure(A, "someone-new", t0 + secs(30));
        assert_eq!(l.check(A, "x", t0 + secs(30)), Err(secs(30)));
        // A success gives back its own share of the address budget, no more.
        let t1 = t0 + secs(60);
        l.succeeded(l.begin(A, "x", t1).unwrap());
        assert_eq!(l.check(A, "y", t1), Ok(()));
        drop(l.begin(A, "y", t1).unwrap());
        assert_eq!(l.check(A, "z", t1), Err(secs(30)));
        assert_eq!(l.check(A, "z", t0 + secs(690)), Ok(()));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let l = LoginLimiter::new();
        let t0 = Instant::now();
        let a1: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let a2: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..5 {
            l.failure(a1, "admin", t0);
        }
        assert!(l.check(a2, "admin", t0).is_err(), "same /64");
        assert_eq!(l.check(other, "admin", t0), Ok(()));
        for _ in 0..5 {
            l.failure(A, "admin", t0);
        }
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert!(l.check(mapped, "admin", t0).is_err());
        assert!(l.check(A, "ADMIN", t0).is_err(), "user names are compared lowercased");
    }

    #[test]
    fn memory_is_capped() {
        let l = LoginLimiter::with_config(LimiterConfig { max_entries: 100, ..LimiterConfig::default() });
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let addr = IpAddr::from((i + 1).to_be_bytes());
            l.failure(addr, &format!("u{i}"), t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(l.tracked() <= 200, "{}", l.tracked());
        // The newest entries survive.
        let last = IpAddr::from(10_000u32.to_be_bytes());
        for _ in 0..4 {
            l.failure(last, "u9999", t0 + secs(10));
        }
        assert!(l.check(last, "u9999", t0 + secs(10)).is_err());
        // Long user names do not grow keys.
        l.failure(A, &"x".repeat(1_000_000), t0);
        assert!(l.state().users.keys().all(|(_, u)| u.len() <= 64));
        l.purge(t0 + secs(7200));
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn time_going_backwards_does_not_panic() {
        let l = LoginLimiter::new();
        let t0 = Instant::now() + secs(3600);
        for _ in 0..30 {
            l.failure(A, "admin", t0);
        }
        let earlier = t0 - secs(1800);
        assert!(l.check(A, "admin", earlier).is_err());
        l.failure(A, "admin", earlier);
        if let Ok(a) = l.begin(B, "admin", earlier) {
            l.succeeded(a);
        }
        l.purge(earlier);
    }

    #[test]
    fn zero_capacity_tracks_nothing() {
        let l = LoginLimiter::with_config(LimiterConfig { max_entries: 0, addr_burst: 0, ..LimiterConfig::default() });
        let t0 = Instant::now();
        l.failure(A, "admin", t0);
        assert_eq!(l.tracked(), 0);
        assert_eq!(l.check(A, "admin", t0), Ok(()));
    }

    #[test]
    fn delays() {
        let c = LimiterConfig::default();
        assert_eq!(c.delay(4), Duration::ZERO);
        assert_eq!(c.delay(5), secs(30));
        assert_eq!(c.delay(6), secs(60));
        assert_eq!(c.delay(9), secs(480));
        assert_eq!(c.delay(10), secs(900));
        assert_eq!(c.delay(u32::MAX), secs(900));
    }
}
