//! The server loop: accepts TCP connections, does TLS (rustls, ring provider) where configured, and serves
//! each connection with hyper (HTTP/1.1 and HTTP/2, WebSocket upgrades), under the caps and timeouts of the
//! connection tracker ([`super::conn`]).
//!
//! Why by hand rather than through a ready-made server: every connection has to be counted from `accept`
//! to the close of its socket (a WebSocket's too), closed when its header or idle timeout passes, and
//! closable at once when the tracker sheds it for a newer one. That needs a task per connection that owns
//! the hyper connection and listens to the tracker; a ready-made server hides exactly that.
//!
//! - The socket carries a [`ConnGuard`] ([`Counted`]), so a connection is uncounted exactly when its
//!   descriptor is closed, whoever closes it (hyper, a WebSocket ending, a shed).
//! - Each request takes a [`RequestGuard`] before the router sees it (503 or 429 with `Retry-After` when
//!   over a cap) and holds it in the answer's body until the last byte is sent.
//! - hyper gets a timer, so its own header-read timeout works too; it is set to the longer of the two
//!   timeouts, as a backstop: the tracker's deadlines (header timeout for a new connection, idle timeout
//!   between requests) are the ones that normally close a connection.
//! - `accept` failing for want of descriptors (which the caps are sized to prevent) is logged and waited
//!   out, never spun on.

use super::conn::{ConnGuard, ConnHandle, Refusal, RequestGuard, Tracker, Wake, REPORT_EVERY};
use super::ApiError;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

type Builder = hyper_util::server::conn::auto::Builder<TokioExecutor>;

/// Tells a running server to stop: no new connections, open ones get `grace` to finish their requests.
#[derive(Clone)]
pub struct Handle {
    stop: watch::Sender<Option<Duration>>,
}

impl Default for Handle {
    fn default() -> Self {
        Handle { stop: watch::channel(None).0 }
    }
}

impl Handle {
    pub fn new() -> Handle {
        Handle::default()
    }

    pub fn graceful_shutdown(&self, grace: Duration) {
        self.stop.send_replace(Some(grace));
    }
}

/// TLS settings loaded from PEM files, ready to accept HTTP with (ALPN h2, http/1.1).
pub fn tls_acceptor(t: &kw_config::TlsConfig) -> Result<tokio_rustls::TlsAcceptor, String> {
    tls_acceptor_for(t, &[b"h2", b"http/1.1"])
}

/// TLS settings loaded from PEM files, offering the ALPN protocols `alpn` (none: whatever the client says).
pub fn tls_acceptor_for(t: &kw_config::TlsConfig, alpn: &[&[u8]]) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&t.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("certificate {}: {e}", t.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("certificate {}: no certificate in it", t.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&t.key).map_err(|e| format!("key {}: {e}", t.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate {} / key {}: {e}", t.cert.display(), t.key.display()))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `handle` says stop.
pub async fn run(
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    tracker: Tracker,
    handle: Handle,
) -> std::io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let builder = Arc::new(builder(&tracker));
    let mut stop = handle.stop.subscribe();
    let reporter = tokio::spawn(report(tracker.clone()));
    let mut accept_failures = 0u64;
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(Option::is_some) => break,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) if out_of_resources(&e) => {
                // Logged once a second at most: the caps exist so that this does not happen.
                if accept_failures.is_multiple_of(10) {
                    tracing::warn!("HTTP: cannot accept a connection: {e}");
                }
                accept_failures += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                tracing::debug!("HTTP: accept: {e}");
                continue;
            }
        };
        let Some(guard) = admit(&tracker, peer.ip()).await else {
            refuse(tcp, tls.is_some());
            continue;
        };
        tokio::spawn(connection(
            tcp,
            peer,
            guard,
            tls.clone(),
            router.clone(),
            builder.clone(),
            handle.stop.subscribe(),
        ));
    }
    reporter.abort();
    Ok(())
}

fn builder(tracker: &Tracker) -> Builder {
    let limits = tracker.limits();
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout.max(limits.idle_timeout))
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(u32::try_from(limits.requests_per_client).unwrap_or(u32::MAX));
    b
}

/// How long the accept loop waits, at most, for shed connections to finish closing before it refuses a new
/// one (in steps of [`CLOSING_STEP`]). Meanwhile further connections wait in the kernel's backlog, which
/// holds no descriptor of ours: a flood is slowed down, and the owner's connection still gets in.
const CLOSING_WAIT: Duration = Duration::from_millis(100);
const CLOSING_STEP: Duration = Duration::from_millis(5);

/// [`Tracker::admit`], giving connections that are still closing a moment to go when they are what stands
/// in the way.
async fn admit(tracker: &Tracker, client: std::net::IpAddr) -> Option<ConnGuard> {
    let t0 = tokio::time::Instant::now();
    loop {
        if let Some(g) = tracker.admit(client) {
            return Some(g);
        }
        if !tracker.closing_backlog() || t0.elapsed() >= CLOSING_WAIT {
            return None;
        }
        tokio::time::sleep(CLOSING_STEP).await;
    }
}

/// Errors of `accept` that mean the process or system is out of descriptors or memory.
fn out_of_resources(e: &std::io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Every connection is busy: a plain-HTTP client is told so (best effort, without waiting), then the
/// socket is closed.
fn refuse(tcp: TcpStream, tls: bool) {
    if !tls {
        let _ = tcp.try_write(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
}

/// Logs, at most every [`REPORT_EVERY`], what the caps did.
async fn report(tracker: Tracker) {
    let mut tick = tokio::time::interval(REPORT_EVERY);
    tick.tick().await; // the first tick is at once
    loop {
        tick.tick().await;
        let s = tracker.take_stats();
        if s.is_empty() {
            continue;
        }
        let l = tracker.limits();
        let (open, requests) = tracker.load();
        tracing::warn!(
            "HTTP under pressure in the last {} s: closed {} half-sent or silent and {} idle connections to make \
             room, refused {} connections (all busy) and {} requests; now {open} connections (cap {}, {} per \
             client), {requests} requests (cap {}, {} per client)",
            REPORT_EVERY.as_secs(),
            s.shed_fresh,
            s.shed_idle,
            s.refused,
            s.requests_refused,
            l.connections,
            l.connections_per_client,
            l.requests,
            l.requests_per_client
        );
    }
}

/// One connection, from TLS handshake to close.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    guard: ConnGuard,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    builder: Arc<Builder>,
    mut stop: watch::Receiver<Option<Duration>>,
) {
    let conn = guard.handle();
    let _ = tcp.set_nodelay(true);
    let local = tcp.local_addr().ok();
    let stream = match tls {
        None => Stream::Plain(tcp),
        // The handshake is part of "sending the request headers": the same deadline and shedding apply.
        Some(acceptor) => match until_due(&conn, acceptor.accept(tcp)).await {
            Some(Ok(s)) => Stream::Tls(Box::new(s)),
            Some(Err(e)) => {
                tracing::debug!(client = %peer, "TLS handshake failed: {e}");
                return;
            }
            None => return,
        },
    };
    let io = TokioIo::new(Counted { stream, _guard: guard });
    let svc = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req| answer(router.clone(), conn.clone(), peer, local, req))
    };
    let served = builder.serve_connection_with_upgrades(io, svc);
    tokio::pin!(served);
    let mut grace: Option<tokio::time::Instant> = None;
    loop {
        let due = match conn.wake() {
            Wake::Close(why) => {
                tracing::debug!(client = %peer, "HTTP connection closed: {why}");
                return;
            }
            Wake::At(t) => Some(t),
            Wake::Never => None,
        };
        tokio::select! {
            r = served.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(client = %peer, "HTTP connection ended: {e}");
                }
                return;
            }
            _ = conn.changed() => {}
            _ = sleep_until(due) => {}
            g = stop.wait_for(Option::is_some), if grace.is_none() => {
                served.as_mut().graceful_shutdown();
                let g = g.ok().and_then(|g| *g).unwrap_or_default();
                grace = Some(tokio::time::Instant::now() + g);
            }
            _ = sleep_until(grace) => return,
        }
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Runs `f` until it ends or the connection is due to close; `None` when it was.
async fn until_due<F: std::future::Future>(conn: &ConnHandle, f: F) -> Option<F::Output> {
    tokio::pin!(f);
    loop {
        let due = match conn.wake() {
            Wake::Close(_) => return None,
            Wake::At(t) => Some(t),
            Wake::Never => None,
        };
        tokio::select! {
            out = f.as_mut() => return Some(out),
            _ = conn.changed() => {}
            _ = sleep_until(due) => {}
        }
    }
}

/// The address a request's connection arrived at (WebRTC offers its media on the same address).
#[derive(Clone, Copy, Debug)]
pub struct LocalAddr(pub SocketAddr);

/// One request: counted (or refused) by the tracker, given the client's address, answered by the router.
async fn answer(
    router: Router,
    conn: ConnHandle,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    mut req: Request<Incoming>,
) -> Result<Response<axum::body::Body>, Infallible> {
    let guard = match conn.start_request() {
        Ok(g) => g,
        Err(r) => return Ok(refusal(r).into_response()),
    };
    req.extensions_mut().insert(ConnectInfo(peer));
    if let Some(local) = local {
        req.extensions_mut().insert(LocalAddr(local));
    }
    let Ok(resp) = router.oneshot(req.map(axum::body::Body::new)).await;
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        conn.upgraded();
    }
    Ok(resp.map(|body| axum::body::Body::new(Guarded { body, _guard: guard })))
}

fn refusal(r: Refusal) -> ApiError {
    let (status, message) = match r {
        Refusal::Busy => {
            (StatusCode::SERVICE_UNAVAILABLE, "the server is answering as many requests as it takes at once")
        }
        Refusal::TooMany => (StatusCode::TOO_MANY_REQUESTS, "too many requests at once from your address"),
        Refusal::Closing => (StatusCode::SERVICE_UNAVAILABLE, "this connection is being closed"),
    };
    ApiError { status, message: format!("{message}; try again shortly"), retry_after: Some(1), field: None }
}

/// An answer's body that holds its request's place until it is sent (or dropped).
struct Guarded {
    body: axum::body::Body,
    _guard: RequestGuard,
}

impl http_body::Body for Guarded {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// A connection's socket with its place in the tracker: the place is given up when the socket closes.
struct Counted {
    stream: Stream,
    _guard: ConnGuard,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::limits::Limits;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const HALF_SENT: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n";

    fn limits(connections: usize, requests: usize) -> Limits {
        Limits {
            connections,
            connections_per_client: connections,
            requests,
            requests_per_client: requests,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..Limits::unlimited()
        }
    }

    /// A server on a free loopback port with `/health` (answers at once) and `/wait` (answers when
    /// `release` is notified).
    async fn start(limits: Limits) -> (SocketAddr, Tracker, Arc<tokio::sync::Notify>, Handle) {
        let release = Arc::new(tokio::sync::Notify::new());
        let r = release.clone();
        let router = Router::new().route("/health", axum::routing::get(|| async { "ok" })).route(
            "/wait",
            axum::routing::get(move || {
                let r = r.clone();
                async move {
                    r.notified().await;
                    "done"
                }
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let tracker = Tracker::new(limits);
        let handle = Handle::new();
        tokio::spawn(run(listener, None, router, tracker.clone(), handle.clone()));
        (addr, tracker, release, handle)
    }

    async fn connect_from(addr: SocketAddr, from: [u8; 4]) -> TcpStream {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(SocketAddr::from((from, 0))).unwrap();
        s.connect(addr).await.unwrap()
    }

    async fn get(addr: SocketAddr, from: [u8; 4], path: &str) -> String {
        let mut s = connect_from(addr, from).await;
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Whether the server closed `s` (reads to EOF or a reset; whatever it said before is ignored).
    async fn closed(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 512];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    }

    #[tokio::test]
    async fn a_half_sent_flood_is_shed_oldest_first_and_a_real_request_gets_through() {
        let (addr, tracker, _, _h) = start(limits(8, 8)).await;
        let mut flood = Vec::new();
        for _ in 0..20 {
            let mut s = connect_from(addr, [127, 0, 0, 1]).await;
            s.write_all(HALF_SENT).await.unwrap();
            flood.push(s);
        }
        let answer = get(addr, [127, 0, 0, 1], "/health").await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
        // 21 connections for 8 places: the 13 oldest went to make room; the newer ones are still open.
        for s in &mut flood[..13] {
            assert!(tokio::time::timeout(Duration::from_secs(30), closed(s)).await.unwrap());
        }
        for s in &flood[13..] {
            let e = s.try_read(&mut [0u8; 16]).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        }
        assert_eq!(tracker.load(), (7, 0), "the 7 newest half-sent ones");
        let stats = tracker.take_stats();
        assert_eq!((stats.shed_fresh, stats.refused), (13, 0), "{stats:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn half_sent_requests_close_at_the_header_timeout_and_idle_ones_at_the_idle_timeout() {
        let (addr, _, _, _h) = start(limits(8, 8)).await;
        let t0 = tokio::time::Instant::now();
        let mut half = connect_from(addr, [127, 0, 0, 1]).await;
        half.write_all(HALF_SENT).await.unwrap();
        assert!(closed(&mut half).await);
        let waited = t0.elapsed();
        assert!(waited >= Duration::from_secs(10) && waited < Duration::from_secs(11), "{waited:?}");
        // A keep-alive connection after its answer: open until the idle timeout.
        let mut s = connect_from(addr, [127, 0, 0, 1]).await;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        let t1 = tokio::time::Instant::now();
        assert!(closed(&mut s).await);
        let idle = t1.elapsed();
        assert!(idle >= Duration::from_secs(60) && idle < Duration::from_secs(61), "{idle:?}");
    }

    #[tokio::test]
    async fn requests_over_the_caps_get_503_or_429_with_retry_after() {
        let mut l = limits(16, 2);
        l.requests_per_client = 1;
        let (addr, tracker, release, _h) = start(l).await;
        let first = tokio::spawn(get(addr, [127, 0, 0, 1], "/wait"));
        until(|| tracker.load().1 == 1).await;
        let same_client = get(addr, [127, 0, 0, 1], "/health").await;
        assert!(same_client.starts_with("HTTP/1.1 429") && same_client.contains("retry-after: 1"), "{same_client}");
        let second = tokio::spawn(get(addr, [127, 0, 0, 2], "/wait"));
        until(|| tracker.load().1 == 2).await;
        let busy = get(addr, [127, 0, 0, 3], "/health").await;
        assert!(busy.starts_with("HTTP/1.1 503") && busy.contains("retry-after: 1"), "{busy}");
        release.notify_waiters();
        assert!(first.await.unwrap().ends_with("done") && second.await.unwrap().ends_with("done"));
        until(|| tracker.load() == (0, 0)).await;
        assert!(get(addr, [127, 0, 0, 3], "/health").await.starts_with("HTTP/1.1 200"));
    }

    #[tokio::test]
    async fn every_connection_busy_refuses_the_newest() {
        let (addr, tracker, release, _h) = start(limits(2, 8)).await;
        let a = tokio::spawn(get(addr, [127, 0, 0, 1], "/wait"));
        let b = tokio::spawn(get(addr, [127, 0, 0, 2], "/wait"));
        until(|| tracker.load().1 == 2).await;
        let refused = get(addr, [127, 0, 0, 3], "/health").await;
        assert!(refused.starts_with("HTTP/1.1 503") && refused.contains("Retry-After"), "{refused}");
        release.notify_waiters();
        assert!(a.await.unwrap().ends_with("done") && b.await.unwrap().ends_with("done"));
    }

    #[tokio::test]
    async fn shutdown_stops_accepting() {
        let (addr, _, _, h) = start(limits(8, 8)).await;
        assert!(get(addr, [127, 0, 0, 1], "/health").await.ends_with("ok"));
        h.graceful_shutdown(Duration::from_millis(100));
        let refused = async {
            loop {
                let s = tokio::net::TcpSocket::new_v4().unwrap();
                if s.connect(addr).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), refused).await.expect("the listener closes");
    }

    /// Polls `f` (yielding to the server's tasks) until it holds.
    async fn until(mut f: impl FnMut() -> bool) {
        tokio::time::timeout(Duration::from_secs(30), async {
            while !f() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("condition within 30 s");
    }
}
