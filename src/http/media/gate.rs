//! A bound on expensive media work (building an MP4's index, decoding a picture): at most so many at once
//! in total and per principal, a short queue, then a refusal the client can act on.
//!
//! Why: each of these requests runs on the blocking pool (up to 512 threads) and costs CPU and memory in
//! proportion to what it asks for. Without a bound, one client (or a handful) asking for many at once takes
//! every core and much memory, and recording, live view and everyone else's requests wait behind it. With
//! it, a principal over its share is told to slow down (429) and a server at its total is told to come back
//! shortly (503), both with `Retry-After`, and what waits is a bounded number of cheap async tasks, never
//! threads.
//!
//! Rules, checked in this order so that a refusal is immediate and costs nothing:
//! 1. A principal may have at most `per_principal + per_principal_queue` requests admitted (running or
//!    waiting); one more is refused at once with 429.
//! 2. At most `queue` requests wait for a slot in total; one more is refused at once with 503.
//! 3. An admitted request waits up to `wait` for its principal's slot (at most `per_principal` run at once)
//!    and then for a slot in total (at most `total`); waiting longer is a 429 or 503 respectively.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The numbers of one [`Gate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Running at once, over all principals.
    pub total: usize,
    /// Waiting at once for a slot in total.
    pub queue: usize,
    /// Running at once for one principal.
    pub per_principal: usize,
    /// Waiting at once for one principal, beyond its running ones.
    pub per_principal_queue: usize,
    /// Longest wait for a slot.
    pub wait: Duration,
}

/// Why a request was not let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The principal has its share running and queued (answer 429).
    Principal,
    /// The server has its total running and queued (answer 503).
    Busy,
}

/// Admission to one kind of work; see the module docs.
pub struct Gate {
    limits: Limits,
    total: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    principals: Arc<Mutex<HashMap<String, Principal>>>,
}

/// One principal's running slots and how many of its requests are admitted.
struct Principal {
    slots: Arc<Semaphore>,
    admitted: usize,
}

/// Held while the work runs; dropping it lets the next one in.
pub struct Pass {
    _total: OwnedSemaphorePermit,
    _mine: OwnedSemaphorePermit,
    _admitted: Admitted,
}

/// Counts a request as admitted for its principal until dropped.
struct Admitted {
    key: String,
    principals: Arc<Mutex<HashMap<String, Principal>>>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut map = self.principals.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = map.get_mut(&self.key) {
            p.admitted = p.admitted.saturating_sub(1);
            if p.admitted == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Counts a request as waiting for a total slot until dropped.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    pub fn new(limits: Limits) -> Gate {
        let limits = Limits { total: limits.total.max(1), per_principal: limits.per_principal.max(1), ..limits };
        Gate {
            limits,
            total: Arc::new(Semaphore::new(limits.total)),
            waiting: Arc::new(AtomicUsize::new(0)),
            principals: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Lets the work of `principal` (a key naming who asks) in, after a bounded wait, or refuses it.
    pub async fn enter(&self, principal: &str) -> Result<Pass, Refused> {
        let l = self.limits;
        let (slots, admitted) = {
            let mut map = self.principals.lock().unwrap_or_else(|p| p.into_inner());
            let p = map
                .entry(principal.to_owned())
                .or_insert_with(|| Principal { slots: Arc::new(Semaphore::new(l.per_principal)), admitted: 0 });
            if p.admitted >= l.per_principal + l.per_principal_queue {
                return Err(Refused::Principal);
            }
            p.admitted += 1;
            (p.slots.clone(), Admitted { key: principal.to_owned(), principals: self.principals.clone() })
        };
        let deadline = tokio::time::Instant::now() + l.wait;
        let mine = match tokio::time::timeout_at(deadline, slots.acquire_owned()).await {
            Ok(Ok(p)) => p,
            _ => return Err(Refused::Principal),
        };
        let total = match self.total.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= l.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(Refused::Busy);
                }
                let _waiting = Waiting(self.waiting.clone());
                match tokio::time::timeout_at(deadline, self.total.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => return Err(Refused::Busy),
                }
            }
        };
        Ok(Pass { _total: total, _mine: mine, _admitted: admitted })
    }

    /// Principals with admitted requests (tests: entries go away when their requests are done).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.principals.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(total: usize, queue: usize, per: usize, per_queue: usize) -> Gate {
        Gate::new(Limits {
            total,
            queue,
            per_principal: per,
            per_principal_queue: per_queue,
            wait: Duration::from_secs(5),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_principal_over_its_share_is_refused_at_once() {
        let g = Arc::new(gate(10, 10, 2, 1));
        let a = g.enter("alice").await.unwrap();
        let b = g.enter("alice").await.unwrap();
        // The third waits for one of alice's slots; the fourth is over her share and refused without waiting.
        let third = tokio::spawn({
            let g = g.clone();
            async move { g.enter("alice").await.is_ok() }
        });
        tokio::task::yield_now().await;
        assert_eq!(g.enter("alice").await.err(), Some(Refused::Principal));
        // Someone else is not affected by alice's share.
        assert!(g.enter("bob").await.is_ok());
        drop(a);
        assert!(third.await.unwrap(), "the queued request got alice's freed slot");
        drop(b);
        assert_eq!(g.tracked(), 0, "no principal is remembered once its requests are done");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_server_refuses_past_its_queue_and_after_the_wait() {
        let g = Arc::new(gate(2, 1, 1, 5));
        let _a = g.enter("a").await.unwrap();
        let _b = g.enter("b").await.unwrap();
        // "c" queues for a total slot; "d" finds the queue full and is refused at once.
        let c = tokio::spawn({
            let g = g.clone();
            async move { g.enter("c").await.err() }
        });
        tokio::task::yield_now().await;
        assert_eq!(g.enter("d").await.err(), Some(Refused::Busy));
        // Nothing frees a slot: "c" gives up after the wait (paused time runs it out at once).
        assert_eq!(c.await.unwrap(), Some(Refused::Busy));
        assert_eq!(g.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_limits_still_let_one_through() {
        let g = gate(0, 0, 0, 0);
        let a = g.enter("a").await.unwrap();
        assert_eq!(g.enter("a").await.err(), Some(Refused::Principal));
        assert_eq!(g.enter("b").await.err(), Some(Refused::Busy));
        drop(a);
        assert!(g.enter("b").await.is_ok());
    }
}
