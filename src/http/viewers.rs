//! Caps on live viewers, per user (or token) and in total: a viewer is a live WebSocket
//! ([`super::live`]) for as long as it is open, or an HLS session ([`super::hls`]) for as long as its player
//! keeps asking for the playlist.
//!
//! Why: each viewer is a hub subscriber with its own queue and its own fMP4 work per frame, so viewers cost
//! memory and CPU that recording shares; a leaked token or a runaway script must not be able to open
//! thousands. Over a cap the **newest** viewer is refused (429 over the user's cap, 503 over the total, both
//! with `Retry-After`); viewers already watching are never cut off for a newcomer.
//!
//! HLS has no connection to count: players poll the playlist. An HLS session is one user's playlist of one
//! camera stream, alive while requests for it keep coming (at least every [`HLS_SESSION_IDLE`]).

use super::ApiError;
use axum::http::StatusCode;
use kw_auth::{Principal, PrincipalKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// An HLS session nobody has asked a playlist of for this long is over (players reload every target
/// duration, a few seconds).
pub const HLS_SESSION_IDLE: Duration = Duration::from_secs(30);
/// What a refused viewer is told to wait.
const RETRY_AFTER_SECS: u64 = 10;

/// Who a viewer belongs to: a user's sessions are one, each token is one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Who {
    token: bool,
    name: String,
}

impl Who {
    fn of(p: &Principal) -> Who {
        Who { token: p.kind == PrincipalKind::Token, name: p.name.clone() }
    }
}

#[derive(Default)]
struct State {
    live: HashMap<Who, usize>,
    live_total: usize,
    /// (who, camera stream) → last playlist request.
    hls: HashMap<(Who, String), Instant>,
}

impl State {
    fn expire(&mut self, now: Instant) {
        self.hls.retain(|_, seen| now.saturating_duration_since(*seen) < HLS_SESSION_IDLE);
    }

    fn total(&self) -> usize {
        self.live_total + self.hls.len()
    }

    fn of(&self, who: &Who) -> usize {
        self.live.get(who).copied().unwrap_or(0) + self.hls.keys().filter(|(w, _)| w == who).count()
    }
}

/// The live viewers now, against the caps.
pub struct Viewers {
    state: Mutex<State>,
    total: usize,
    per_user: usize,
}

impl Viewers {
    pub fn new(total: usize, per_user: usize) -> Viewers {
        Viewers { state: Mutex::default(), total, per_user: per_user.min(total) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Room for one more viewer of `who`, or the refusal.
    fn check(&self, st: &State, who: &Who) -> Result<(), ApiError> {
        if st.of(who) >= self.per_user {
            return Err(ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "{} already has {} live views open, the most one user may ([server] max_live_viewers_per_user); \
                     close one first",
                    who.name, self.per_user
                ),
                retry_after: Some(RETRY_AFTER_SECS),
                field: None,
            });
        }
        if st.total() >= self.total {
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!(
                    "{} live views are open, the most this server allows ([server] max_live_viewers); try again later",
                    self.total
                ),
                retry_after: Some(RETRY_AFTER_SECS),
                field: None,
            });
        }
        Ok(())
    }

    /// A new live WebSocket of `p`: a permit that counts it until dropped, or the refusal.
    pub fn live(self: &Arc<Self>, p: &Principal) -> Result<ViewerPermit, ApiError> {
        let who = Who::of(p);
        let mut st = self.lock();
        st.expire(Instant::now());
        self.check(&st, &who)?;
        st.live_total += 1;
        *st.live.entry(who.clone()).or_default() += 1;
        Ok(ViewerPermit { viewers: self.clone(), who })
    }

    /// A playlist request of `p` for `stream` (a camera stream's key): renews its HLS session, or opens one
    /// if there is room.
    pub fn hls(&self, p: &Principal, stream: &str) -> Result<(), ApiError> {
        let key = (Who::of(p), stream.to_owned());
        let now = Instant::now();
        let mut st = self.lock();
        st.expire(now);
        if let Some(seen) = st.hls.get_mut(&key) {
            *seen = now;
            return Ok(());
        }
        self.check(&st, &key.0)?;
        st.hls.insert(key, now);
        Ok(())
    }

    /// Viewers now: (WebSockets, HLS sessions).
    #[cfg(test)]
    pub fn count(&self) -> (usize, usize) {
        let mut st = self.lock();
        st.expire(Instant::now());
        (st.live_total, st.hls.len())
    }
}

/// One live WebSocket viewer, counted until dropped.
pub struct ViewerPermit {
    viewers: Arc<Viewers>,
    who: Who,
}

impl Drop for ViewerPermit {
    fn drop(&mut self) {
        let mut st = self.viewers.lock();
        st.live_total = st.live_total.saturating_sub(1);
        if let Some(n) = st.live.get_mut(&self.who) {
            *n -= 1;
            if *n == 0 {
                st.live.remove(&self.who);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kw_auth::Role;

    fn user(name: &str) -> Principal {
        Principal { name: name.into(), role: Role::Viewer, cameras: None, kind: PrincipalKind::Session }
    }

    fn token(name: &str) -> Principal {
        Principal { kind: PrincipalKind::Token, ..user(name) }
    }

    #[tokio::test(start_paused = true)]
    async fn per_user_cap_refuses_the_newest_and_counts_websockets_and_hls_together() {
        let v = Arc::new(Viewers::new(10, 3));
        let alice = user("alice");
        let a1 = v.live(&alice).unwrap();
        let _a2 = v.live(&alice).unwrap();
        v.hls(&alice, "door").unwrap();
        v.hls(&alice, "door").unwrap(); // the same session, renewed
        let e = v.live(&alice).err().unwrap();
        assert_eq!((e.status, e.retry_after), (StatusCode::TOO_MANY_REQUESTS, Some(RETRY_AFTER_SECS)));
        assert!(v.hls(&alice, "garage").is_err());
        // A token with the same name is someone else.
        assert!(v.live(&token("alice")).is_ok());
        drop(a1);
        let _a3 = v.live(&alice).unwrap();
        assert_eq!(v.count(), (2, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn total_cap_and_hls_sessions_expire() {
        let v = Arc::new(Viewers::new(3, 3));
        v.hls(&user("a"), "door").unwrap();
        v.hls(&user("b"), "door").unwrap();
        let _c = v.live(&user("c")).unwrap();
        let e = v.live(&user("d")).err().unwrap();
        assert_eq!((e.status, e.retry_after), (StatusCode::SERVICE_UNAVAILABLE, Some(RETRY_AFTER_SECS)));
        assert!(v.hls(&user("d"), "door").is_err());
        // "a" keeps polling; "b" stopped.
        tokio::time::advance(HLS_SESSION_IDLE / 2).await;
        v.hls(&user("a"), "door").unwrap();
        tokio::time::advance(HLS_SESSION_IDLE / 2).await;
        assert_eq!(v.count(), (1, 1));
        v.hls(&user("d"), "door").unwrap();
        assert!(v.hls(&user("e"), "door").is_err());
    }
}
