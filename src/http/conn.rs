//! The connection tracker: every accepted HTTP connection, what it is doing, and which one goes when there
//! are too many. The server loop ([`super::server`]) asks it before serving a connection or a request and
//! closes what it is told to close.
//!
//! Why shedding rather than refusing: a flood of half-sent requests or silent sockets from one address
//! would, with a plain cap, lock everyone out until the flood stops, the owner included (who may well share
//! that address). So a new connection over a cap is let in and the **oldest connection that is not serving
//! a request** is closed instead: first those that never completed a request (half-sent headers, silent
//! sockets), oldest first; then idle keep-alive connections, least recently used first. A connection that
//! is answering a request (or has become a WebSocket) is never shed; only when every connection is busy is
//! the new one refused. The same rule applies per client address (half the total), so one address cannot
//! take every slot from the others. Reverse proxies listed in `trusted_proxies` are exempt from the
//! per-client caps.
//!
//! Time: a connection that has not completed a request's headers within the header timeout of being
//! accepted, or that sits between requests longer than the idle timeout, is due to be closed
//! ([`ConnHandle::wake`]). Times come from tokio's clock, so the tests run on its paused clock.
//!
//! Requests: at most so many in flight in total (503 beyond) and per client (429 beyond), both with
//! `Retry-After`; a request counts until its answer's last byte is sent ([`RequestGuard`]).

use super::limits::Limits;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted, no request completed yet (headers not yet complete, or nothing sent at all).
    Fresh,
    /// Answering `n` requests (HTTP/2 may have several).
    Busy(u32),
    /// Between requests since then.
    Idle(Instant),
    /// A WebSocket now: its own code decides when it ends.
    Upgraded,
}

struct Entry {
    client: IpAddr,
    exempt: bool,
    accepted: Instant,
    phase: Phase,
    /// Told to close (shed); no longer counted, but its socket is open until its task drops it.
    shed: bool,
    /// Wakes the connection's task when its phase changes or it is shed.
    signal: Arc<Notify>,
}

#[derive(Default)]
struct Client {
    conns: usize,
    requests: usize,
    fresh: BTreeSet<u64>,
    idle: BTreeSet<(Instant, u64)>,
}

/// Counters since the last [`Tracker::take_stats`], for the server's periodic report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Connections closed to make room that had never completed a request.
    pub shed_fresh: u64,
    /// Idle keep-alive connections closed to make room.
    pub shed_idle: u64,
    /// New connections refused because every connection was busy.
    pub refused: u64,
    /// Requests refused (total or per-client cap).
    pub requests_refused: u64,
}

impl Stats {
    pub fn is_empty(&self) -> bool {
        *self == Stats::default()
    }
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    conns: HashMap<u64, Entry>,
    /// Ids only grow, so the set's order is accept order: the first is the oldest.
    fresh: BTreeSet<u64>,
    idle: BTreeSet<(Instant, u64)>,
    clients: HashMap<IpAddr, Client>,
    /// Counted connections (shed ones are not).
    total: usize,
    /// Shed connections whose task has not dropped its socket yet: descriptors still held.
    closing: usize,
    /// The last refusal was for connections still closing (see [`Tracker::closing_backlog`]).
    backlog: bool,
    requests: usize,
    stats: Stats,
}

impl Inner {
    /// Takes a connection out of the shedding queues (it became busy, or goes).
    fn unqueue(&mut self, id: u64) {
        let Some(e) = self.conns.get(&id) else { return };
        let client = self.clients.get_mut(&e.client);
        match e.phase {
            Phase::Fresh => {
                self.fresh.remove(&id);
                if let Some(c) = client {
                    c.fresh.remove(&id);
                }
            }
            Phase::Idle(since) => {
                self.idle.remove(&(since, id));
                if let Some(c) = client {
                    c.idle.remove(&(since, id));
                }
            }
            Phase::Busy(_) | Phase::Upgraded => {}
        }
    }

    fn set_phase(&mut self, id: u64, phase: Phase) {
        self.unqueue(id);
        let Some(e) = self.conns.get_mut(&id) else { return };
        e.phase = phase;
        if e.shed {
            return;
        }
        let client = self.clients.entry(e.client).or_default();
        match phase {
            Phase::Fresh => {
                self.fresh.insert(id);
                client.fresh.insert(id);
            }
            Phase::Idle(since) => {
                self.idle.insert((since, id));
                client.idle.insert((since, id));
            }
            Phase::Busy(_) | Phase::Upgraded => {}
        }
        e.signal.notify_one();
    }

    /// Closes connection `id` to make room: no longer counted, its task told to drop it.
    fn shed(&mut self, id: u64) {
        self.unqueue(id);
        let Some(e) = self.conns.get_mut(&id) else { return };
        if e.shed {
            return;
        }
        e.shed = true;
        match e.phase {
            Phase::Fresh => self.stats.shed_fresh += 1,
            _ => self.stats.shed_idle += 1,
        }
        e.signal.notify_one();
        let client = e.client;
        self.total -= 1;
        self.closing += 1;
        self.drop_client_conn(client);
    }

    fn drop_client_conn(&mut self, client: IpAddr) {
        if let Some(c) = self.clients.get_mut(&client) {
            c.conns = c.conns.saturating_sub(1);
            if c.conns == 0 && c.requests == 0 {
                self.clients.remove(&client);
            }
        }
    }

    /// The connection to shed for room among `client`'s (or everyone's): the oldest that never completed a
    /// request, else the least recently used idle one.
    fn victim(&self, client: Option<IpAddr>) -> Option<u64> {
        match client {
            Some(a) => {
                let c = self.clients.get(&a)?;
                c.fresh.first().copied().or_else(|| c.idle.first().map(|(_, id)| *id))
            }
            None => self.fresh.first().copied().or_else(|| self.idle.first().map(|(_, id)| *id)),
        }
    }
}

/// Why a request was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The total cap on requests in flight (503).
    Busy,
    /// The client's cap on requests in flight (429).
    TooMany,
    /// The connection is being closed.
    Closing,
}

/// When a connection's task should look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Close it now: shed, or past its header or idle timeout.
    Close(&'static str),
    /// Nothing is due before this.
    At(Instant),
    /// Busy or a WebSocket: only a phase change (signalled) can make it due.
    Never,
}

/// The tracker, shared by the accept loop and every connection.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Mutex<Inner>>,
    limits: Arc<Limits>,
}

impl Tracker {
    pub fn new(limits: Limits) -> Tracker {
        Tracker { inner: Arc::default(), limits: Arc::new(limits) }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a connection just accepted from `client`, shedding an older one when a cap is reached; `None`
    /// (refused) when every connection over the cap is busy.
    ///
    /// A shed connection keeps its descriptor until its task has dropped it; under a fast flood those tasks
    /// can lag behind the accept loop. So at most [`Tracker::closing_allowance`] shed connections may be
    /// waiting to close: past that a new connection is refused (the server waits a moment for closes first,
    /// then closes it at once) instead of shedding another, and the descriptors HTTP holds stay within its
    /// budget (the recorder's reserve is never touched).
    pub fn admit(&self, client: IpAddr) -> Option<ConnGuard> {
        let exempt = self.limits.trusted_proxies.iter().any(|n| n.contains(client));
        let mut g = self.lock();
        let over_client =
            !exempt && g.clients.get(&client).is_some_and(|c| c.conns >= self.limits.connections_per_client);
        if (over_client || g.total >= self.limits.connections) && g.closing >= self.closing_allowance() {
            g.stats.refused += 1;
            g.backlog = true;
            return None;
        }
        g.backlog = false;
        if over_client {
            let Some(v) = g.victim(Some(client)) else {
                g.stats.refused += 1;
                return None;
            };
            g.shed(v);
        }
        if g.total >= self.limits.connections {
            let Some(v) = g.victim(None) else {
                g.stats.refused += 1;
                return None;
            };
            g.shed(v);
        }
        let id = g.next_id;
        g.next_id += 1;
        let signal = Arc::new(Notify::new());
        let entry = Entry {
            client,
            exempt,
            accepted: Instant::now(),
            phase: Phase::Fresh,
            shed: false,
            signal: signal.clone(),
        };
        g.conns.insert(id, entry);
        g.total += 1;
        g.clients.entry(client).or_default().conns += 1;
        g.set_phase(id, Phase::Fresh);
        Some(ConnGuard { handle: ConnHandle { tracker: self.clone(), id, signal } })
    }

    /// Shed connections that may wait for their task to close them before new ones are refused instead: a
    /// quarter of the connection cap, at least 8 (the cap is two thirds of HTTP's descriptor budget, so
    /// this fits in the third kept for files of requests in flight, which a flood of half-sent requests
    /// does not use).
    fn closing_allowance(&self) -> usize {
        (self.limits.connections / 4).max(8)
    }

    /// Whether the last refusal was only because shed connections are still closing (waiting a moment may
    /// let the next connection in).
    pub fn closing_backlog(&self) -> bool {
        self.lock().backlog
    }

    /// Counted connections, and requests in flight.
    pub fn load(&self) -> (usize, usize) {
        let g = self.lock();
        (g.total, g.requests)
    }

    /// The counters since the last call, reset.
    pub fn take_stats(&self) -> Stats {
        std::mem::take(&mut self.lock().stats)
    }

    fn remove(&self, id: u64) {
        let mut g = self.lock();
        g.unqueue(id);
        if let Some(e) = g.conns.remove(&id) {
            if e.shed {
                g.closing -= 1;
            } else {
                g.total -= 1;
                g.drop_client_conn(e.client);
            }
        }
    }
}

/// Held by a connection's I/O for as long as its socket is open (a WebSocket's too): dropping it uncounts
/// the connection.
pub struct ConnGuard {
    handle: ConnHandle,
}

impl ConnGuard {
    pub fn handle(&self) -> ConnHandle {
        self.handle.clone()
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.handle.tracker.remove(self.handle.id);
    }
}

/// What a connection's task and its requests use to report and to learn what is due.
#[derive(Clone)]
pub struct ConnHandle {
    tracker: Tracker,
    id: u64,
    signal: Arc<Notify>,
}

impl ConnHandle {
    /// Waits until the connection's phase changes or it is shed (a change while nobody waits is kept).
    pub async fn changed(&self) {
        self.signal.notified().await
    }

    /// What is due: close now, look again at a time, or nothing until a change.
    pub fn wake(&self) -> Wake {
        let limits = &self.tracker.limits;
        let g = self.tracker.lock();
        let Some(e) = g.conns.get(&self.id) else { return Wake::Close("gone") };
        if e.shed {
            return Wake::Close("closed to make room for a newer connection");
        }
        let (due, why) = match e.phase {
            Phase::Fresh => {
                (e.accepted + limits.header_timeout, "no complete request headers within the header timeout")
            }
            Phase::Idle(since) => (since + limits.idle_timeout, "idle for the idle timeout"),
            Phase::Busy(_) | Phase::Upgraded => return Wake::Never,
        };
        if Instant::now() >= due {
            Wake::Close(why)
        } else {
            Wake::At(due)
        }
    }

    /// A request's headers are complete: counts it, or says why not.
    pub fn start_request(&self) -> Result<RequestGuard, Refusal> {
        let limits = &self.tracker.limits;
        let mut g = self.tracker.lock();
        let Some(e) = g.conns.get(&self.id) else { return Err(Refusal::Closing) };
        if e.shed {
            return Err(Refusal::Closing);
        }
        let (client, exempt, phase) = (e.client, e.exempt, e.phase);
        if g.requests >= limits.requests {
            g.stats.requests_refused += 1;
            return Err(Refusal::Busy);
        }
        if !exempt && g.clients.get(&client).is_some_and(|c| c.requests >= limits.requests_per_client) {
            g.stats.requests_refused += 1;
            return Err(Refusal::TooMany);
        }
        g.requests += 1;
        g.clients.entry(client).or_default().requests += 1;
        let next = match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Upgraded => Phase::Upgraded,
            Phase::Fresh | Phase::Idle(_) => Phase::Busy(1),
        };
        g.set_phase(self.id, next);
        Ok(RequestGuard { handle: self.clone(), client })
    }

    /// The connection became a WebSocket: never shed or timed out by this tracker again.
    pub fn upgraded(&self) {
        self.tracker.lock().set_phase(self.id, Phase::Upgraded);
    }
}

/// One request in flight; dropped when its answer's last byte has gone (or the connection went).
pub struct RequestGuard {
    handle: ConnHandle,
    client: IpAddr,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut g = self.handle.tracker.lock();
        g.requests = g.requests.saturating_sub(1);
        if let Some(c) = g.clients.get_mut(&self.client) {
            c.requests = c.requests.saturating_sub(1);
            if c.conns == 0 && c.requests == 0 {
                g.clients.remove(&self.client);
            }
        }
        let id = self.handle.id;
        let next = match g.conns.get(&id).map(|e| e.phase) {
            Some(Phase::Busy(n)) if n > 1 => Phase::Busy(n - 1),
            Some(Phase::Busy(_)) => Phase::Idle(Instant::now()),
            _ => return,
        };
        g.set_phase(id, next);
    }
}

/// How long the server waits between reports of shed and refused connections.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(connections: usize, per_client: usize, requests: usize, per_client_requests: usize) -> Limits {
        Limits {
            connections,
            connections_per_client: per_client,
            requests,
            requests_per_client: per_client_requests,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..Limits::unlimited()
        }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    fn shed(g: &ConnGuard) -> bool {
        matches!(g.handle().wake(), Wake::Close(w) if w.contains("make room"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_sheds_its_own_oldest_half_sent_connections_and_the_owner_gets_in() {
        let t = Tracker::new(limits(8, 4, 8, 4));
        let flood: Vec<_> = (0..4).map(|_| t.admit(ip(1)).unwrap()).collect();
        // The owner's browser, on the same address, with a finished request and idle since.
        let fifth = t.admit(ip(1)).unwrap();
        assert!(shed(&flood[0]) && !shed(&flood[1]), "the oldest half-sent one goes first");
        let r = fifth.handle().start_request().unwrap();
        drop(r);
        let later: Vec<_> = (0..3).map(|_| t.admit(ip(1)).unwrap()).collect();
        assert!(flood[1..].iter().all(shed), "every half-sent one went before the idle keep-alive one");
        assert!(!shed(&fifth));
        assert_eq!(t.load().0, 4);
        // Another address is not touched by the flood: the flooder sheds its own.
        let other: Vec<_> = (0..4).map(|_| t.admit(ip(2)).unwrap()).collect();
        assert_eq!(t.load().0, 8);
        let _last = t.admit(ip(1)).unwrap();
        assert!(other.iter().all(|g| !shed(g)) && shed(&later[0]) && !shed(&fifth));
        let stats = t.take_stats();
        assert_eq!((stats.shed_fresh, stats.shed_idle, stats.refused), (5, 0, 0), "{stats:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn busy_connections_are_never_shed_and_the_newest_is_refused_when_all_are() {
        let t = Tracker::new(limits(3, 3, 8, 8));
        let conns: Vec<_> = (0..3).map(|n| t.admit(ip(n)).unwrap()).collect();
        let reqs: Vec<_> = conns.iter().map(|c| c.handle().start_request().unwrap()).collect();
        assert!(t.admit(ip(9)).is_none(), "every connection is answering a request");
        conns[2].handle().upgraded();
        drop(reqs);
        // 0 and 1 idle now, 2 a WebSocket: the least recently used idle one goes.
        tokio::time::advance(Duration::from_millis(1)).await;
        let r = conns[0].handle().start_request().unwrap();
        drop(r);
        let newest = t.admit(ip(9)).unwrap();
        assert!(shed(&conns[1]) && !shed(&conns[0]) && !shed(&conns[2]));
        assert_eq!(conns[2].handle().wake(), Wake::Never);
        drop(newest);
        assert_eq!(t.take_stats(), Stats { shed_idle: 1, refused: 1, ..Stats::default() });
    }

    #[tokio::test(start_paused = true)]
    async fn shed_connections_still_open_hold_back_more_shedding() {
        let t = Tracker::new(limits(16, 16, 8, 8));
        let mut held: Vec<_> = (0..16).map(|_| t.admit(ip(1)).unwrap()).collect();
        // Each new one sheds an older one; their tasks have not closed them yet.
        let mut newer: Vec<_> = (0..8).map(|_| t.admit(ip(1)).unwrap()).collect();
        assert!(held[..8].iter().all(shed) && !shed(&held[8]));
        assert!(t.admit(ip(1)).is_none(), "eight sockets are still closing: refuse, do not shed a ninth");
        assert!(!shed(&held[8]));
        // One closes: room to shed one more.
        drop(held.remove(0));
        newer.push(t.admit(ip(1)).unwrap());
        assert!(shed(&held[7]), "the ninth oldest went now");
        assert!(t.admit(ip(2)).is_none());
        let stats = t.take_stats();
        assert_eq!((stats.shed_fresh, stats.refused), (9, 2), "{stats:?}");
        assert_eq!(t.load().0, 16);
    }

    #[tokio::test(start_paused = true)]
    async fn header_and_idle_timeouts() {
        let t = Tracker::new(limits(8, 8, 8, 8));
        let c = t.admit(ip(1)).unwrap();
        let h = c.handle();
        let t0 = Instant::now();
        assert_eq!(h.wake(), Wake::At(t0 + Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(matches!(h.wake(), Wake::Close(w) if w.contains("header timeout")));
        // A connection that sends its request in time is busy, then idle for up to the idle timeout.
        let c = t.admit(ip(1)).unwrap();
        let h = c.handle();
        tokio::time::advance(Duration::from_secs(9)).await;
        let r = h.start_request().unwrap();
        assert_eq!(h.wake(), Wake::Never);
        tokio::time::advance(Duration::from_secs(600)).await;
        assert_eq!(h.wake(), Wake::Never, "a long answer is not idle");
        drop(r);
        assert_eq!(h.wake(), Wake::At(Instant::now() + Duration::from_secs(60)));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(matches!(h.wake(), Wake::Close(w) if w.contains("idle")));
    }

    #[tokio::test(start_paused = true)]
    async fn phase_changes_wake_the_connection_task() {
        let t = Tracker::new(limits(1, 1, 8, 8));
        let c = t.admit(ip(1)).unwrap();
        let h = c.handle();
        h.changed().await; // admitting signals once
        let waiter = tokio::spawn({
            let h = h.clone();
            async move { h.changed().await }
        });
        tokio::task::yield_now().await;
        let _newer = t.admit(ip(2)).unwrap();
        waiter.await.unwrap();
        assert!(shed(&c));
        drop(c);
        assert_eq!(t.load().0, 1, "a shed connection is counted once, and not again when it goes");
    }

    #[test]
    fn request_caps_total_and_per_client() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let _e = rt.enter();
        let t = Tracker::new(limits(16, 16, 3, 2));
        let a = t.admit(ip(1)).unwrap();
        let b = t.admit(ip(2)).unwrap();
        let r1 = a.handle().start_request().unwrap();
        let _r2 = a.handle().start_request().unwrap();
        assert_eq!(a.handle().start_request().err(), Some(Refusal::TooMany));
        let _r3 = b.handle().start_request().unwrap();
        assert_eq!(b.handle().start_request().err(), Some(Refusal::Busy));
        drop(r1);
        assert!(b.handle().start_request().is_ok());
        assert_eq!(t.take_stats().requests_refused, 2);
        drop(a);
        assert_eq!(t.load(), (1, 2), "requests of a closed connection count until their answers are dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn trusted_proxies_skip_the_per_client_cap() {
        let mut l = limits(8, 2, 8, 1);
        l.trusted_proxies = vec!["192.0.2.7/32".parse().unwrap()];
        let t = Tracker::new(l);
        let conns: Vec<_> = (0..6).map(|_| t.admit(ip(7)).unwrap()).collect();
        assert!(conns.iter().all(|c| !shed(c)));
        let _r1 = conns[0].handle().start_request().unwrap();
        assert!(conns[1].handle().start_request().is_ok());
    }
}
