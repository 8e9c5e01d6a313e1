//! How much of the process the HTTP side may take: connections, requests and live viewers at once, and how
//! long a connection may stay silent. Sized at start from the file descriptor limit, so that when something
//! has to be refused it is an HTTP client, never the recorder.
//!
//! Why from the descriptor limit: every connection, every segment file a request reads and every camera
//! socket is one descriptor out of the same per-process budget. Once it is spent, the next `open` fails
//! wherever it happens, and the recorder that cannot start its next segment loses video. So descriptors are
//! first set aside for recording ([`BASE_RESERVE`] plus [`PER_CAMERA_RESERVE`] per camera), and HTTP is
//! sized from what is left: two thirds for connections, one third for the files in-flight requests open
//! ([`FILES_PER_REQUEST`] each). `[server] max_connections` can lower the connection cap, never raise it
//! past that budget. Cameras are counted at start (the caps do not change while running): cameras added
//! live get no reserve of their own until the next start. With a usual hard limit (systemd: 524288) the
//! default caps sit far below the budget anyway; it matters on boxes held to a low limit.
//!
//! What one camera needs (ARCHITECTURE.md's parts): its main and sub-stream sessions (RTSP over TCP: one
//! socket each; up to five with UDP transport or an RTSP redirect in flight), the open segment file and the
//! store directory while a finished one is made durable, the ONVIF PullPoint and snapshot HTTP clients, and
//! a reconnect's new socket while the old one closes: 16 leaves room. The rest of the process (the SQLite
//! index on five connections with their WAL and shared-memory files, the run lock, the listener, the
//! runtime's own descriptors, notifier connections, standard streams) fits in 64.

use kw_config::{IpNet, ServerConfig};
use std::time::Duration;

/// Descriptors kept for everything but cameras and HTTP.
pub const BASE_RESERVE: u64 = 64;
/// Descriptors kept per configured camera.
pub const PER_CAMERA_RESERVE: u64 = 16;
/// Files one in-flight request may hold open besides its connection (segment files of a `video.mp4` or a
/// snapshot, a config file being rewritten).
pub const FILES_PER_REQUEST: u64 = 2;
/// Connections when the descriptor limit allows more (or there is none).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// In-flight requests when the descriptor limit allows more.
pub const DEFAULT_MAX_REQUESTS: usize = 512;
/// Floors, so that a tiny descriptor limit still leaves a usable (if small) server.
const MIN_CONNECTIONS: usize = 16;
const MIN_REQUESTS: usize = 8;
/// Below this many descriptors for HTTP the log warns that the limit is too low.
const LOW_HTTP_BUDGET: u64 = 96;

/// The caps the HTTP server and the live routes enforce.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Connections open at once (WebSockets included).
    pub connections: usize,
    /// Connections open at once from one client address.
    pub connections_per_client: usize,
    /// Requests being answered at once (a streaming answer counts until its last byte).
    pub requests: usize,
    /// Requests being answered at once for one client address.
    pub requests_per_client: usize,
    /// Live viewers (WebSockets and HLS sessions) at once.
    pub live_viewers: usize,
    /// Live viewers at once for one user or token.
    pub live_viewers_per_user: usize,
    /// A new connection must have sent its first request's headers within this.
    pub header_timeout: Duration,
    /// A connection between requests is closed after this.
    pub idle_timeout: Duration,
    /// Peers the per-client caps do not apply to (reverse proxies: everyone arrives from their address).
    pub trusted_proxies: Vec<IpNet>,
}

/// How the caps were derived, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// The soft descriptor limit in force (after raising it); `None` when unlimited or unknown.
    pub nofile: Option<u64>,
    /// Descriptors kept for recording and the rest of the process.
    pub reserve: u64,
    pub cameras: usize,
    /// `[server] max_connections` asked for more than the limit allows.
    pub clamped: bool,
}

impl Limits {
    /// The caps for a process with soft descriptor limit `nofile` recording `cameras` cameras.
    pub fn size(server: &ServerConfig, nofile: Option<u64>, cameras: usize) -> (Limits, Budget) {
        let reserve = BASE_RESERVE + PER_CAMERA_RESERVE * cameras as u64;
        let http = nofile.map(|n| n.saturating_sub(reserve));
        let by_fds = |share: u64| http.map(|h| usize::try_from(share * h / 3).unwrap_or(usize::MAX));
        let wanted = server.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        let fd_connections = by_fds(2);
        let connections = fd_connections.map_or(wanted, |f| wanted.min(f)).max(MIN_CONNECTIONS);
        let clamped =
            server.max_connections.is_some_and(|w| fd_connections.is_some_and(|f| w > f.max(MIN_CONNECTIONS)));
        let fd_requests = by_fds(1).map(|f| f / FILES_PER_REQUEST as usize);
        let requests = fd_requests
            .map_or(DEFAULT_MAX_REQUESTS, |f| f.min(DEFAULT_MAX_REQUESTS))
            .min(connections)
            .max(MIN_REQUESTS);
        let live_viewers = server.max_live_viewers.min(connections / 2).max(1);
        let limits = Limits {
            connections,
            connections_per_client: (connections / 2).max(4),
            requests,
            requests_per_client: (requests / 2).max(4),
            live_viewers,
            live_viewers_per_user: server.max_live_viewers_per_user.min(live_viewers),
            header_timeout: server.header_timeout,
            idle_timeout: server.idle_timeout,
            trusted_proxies: server.trusted_proxies.clone(),
        };
        (limits, Budget { nofile, reserve, cameras, clamped })
    }

    /// Generous caps for tests and for a process without a descriptor limit.
    #[cfg(test)]
    pub fn unlimited() -> Limits {
        Limits::size(&ServerConfig::default(), None, 0).0
    }

    /// Logs the caps and how they came about; warns when the limit leaves HTTP too little.
    pub fn log(&self, budget: &Budget) {
        let caps = format!(
            "HTTP limits: {} connections ({} per client), {} requests at once ({} per client), {} live viewers \
             ({} per user), header timeout {} s, idle timeout {} s",
            self.connections,
            self.connections_per_client,
            self.requests,
            self.requests_per_client,
            self.live_viewers,
            self.live_viewers_per_user,
            self.header_timeout.as_secs(),
            self.idle_timeout.as_secs()
        );
        match budget.nofile {
            Some(n) => tracing::info!(
                "{caps}; from the open file limit {n}, keeping {} for recording {} camera(s) and the store",
                budget.reserve,
                budget.cameras
            ),
            None => tracing::info!("{caps}; no open file limit"),
        }
        if budget.clamped {
            tracing::warn!(
                "[server] max_connections is more than the open file limit allows; using {} (raise the limit, e.g. \
                 LimitNOFILE= in the systemd unit)",
                self.connections
            );
        }
        if let Some(n) = budget.nofile.filter(|n| n.saturating_sub(budget.reserve) < LOW_HTTP_BUDGET) {
            tracing::warn!(
                "the open file limit ({n}) is low for {} camera(s): {} are kept for recording, which leaves HTTP \
                 little; raise it (systemd: LimitNOFILE=65536; shell: ulimit -n)",
                budget.cameras,
                budget.reserve
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(nofile: Option<u64>, cameras: usize, f: impl FnOnce(&mut ServerConfig)) -> (Limits, Budget) {
        let mut server = ServerConfig::default();
        f(&mut server);
        Limits::size(&server, nofile, cameras)
    }

    /// Connections plus the files of the requests in flight never reach into the recorder's reserve.
    fn fits(l: &Limits, b: &Budget) -> bool {
        let http = l.connections as u64 + l.requests as u64 * FILES_PER_REQUEST;
        b.nofile.is_none_or(|n| http + b.reserve <= n)
    }

    #[test]
    fn sized_from_the_descriptor_limit() {
        // A test box at 256 with one camera: 80 kept, 176 for HTTP.
        let (l, b) = size(Some(256), 1, |_| {});
        assert_eq!((b.reserve, l.connections, l.requests), (80, 117, 29));
        assert_eq!((l.connections_per_client, l.requests_per_client, l.live_viewers), (58, 14, 58));
        assert!(fits(&l, &b));
        // systemd's old default (1024) with 16 cameras.
        let (l, b) = size(Some(1024), 16, |_| {});
        assert_eq!(b.reserve, 320);
        assert!(fits(&l, &b) && l.connections == 469, "{l:?}");
        // A modern hard limit: the defaults rule.
        let (l, b) = size(Some(524_288), 100, |_| {});
        assert_eq!((l.connections, l.requests, l.live_viewers, l.live_viewers_per_user), (4096, 512, 256, 128));
        assert!(fits(&l, &b));
        let (l, _) = size(None, 0, |_| {});
        assert_eq!(l.connections, DEFAULT_MAX_CONNECTIONS);
    }

    #[test]
    fn config_lowers_but_never_raises_past_the_budget() {
        let (l, b) = size(Some(524_288), 4, |s| s.max_connections = Some(100));
        assert_eq!((l.connections, l.requests, l.live_viewers), (100, 100, 50));
        assert!(!b.clamped);
        let (l, b) = size(Some(1024), 4, |s| s.max_connections = Some(100_000));
        assert!(b.clamped && fits(&l, &b), "{l:?}");
        let (l, _) = size(Some(524_288), 4, |s| {
            s.max_live_viewers = 10;
            s.max_live_viewers_per_user = 50;
        });
        assert_eq!((l.live_viewers, l.live_viewers_per_user), (10, 10));
    }

    #[test]
    fn a_tiny_limit_still_serves() {
        let (l, b) = size(Some(64), 8, |_| {});
        assert_eq!(b.reserve, 192);
        assert!(l.connections >= MIN_CONNECTIONS && l.requests >= MIN_REQUESTS && l.live_viewers >= 1);
    }
}
