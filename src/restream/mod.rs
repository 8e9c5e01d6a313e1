//! The restream RTSP server: every player (Home Assistant, VLC, ffmpeg, a phone app, another NVR) gets
//! the camera's stream from keepwatch, so the camera keeps only keepwatch's one session.
//!
//! Why here and shaped like this: a player is one more hub subscriber, exactly like a live-view
//! WebSocket, so it starts at the buffered key frame and, when it falls behind, is skipped ahead by the
//! hub — it can never slow the camera or the recorder. The protocol pieces that read outside bytes
//! (framing, paths, Transport, SDP, RTP) live in `kw-restream`; this module owns sockets, logins and
//! caps. Off unless `[restream] listen` is set.
//!
//! RTSPS: `[restream] tls_listen` serves the same over TLS with the web server's certificate (no ALPN), so
//! passwords and tokens do not cross the network readable.
//!
//! Bounds: `[restream] max_clients` connections at once, both listeners together (more are closed at
//! accept); a TLS handshake must finish within `server.header_timeout`; a connection must
//! send its first request within `server.header_timeout` and may idle at most `server.idle_timeout`
//! before PLAY; playing clients count as live viewers (`server.max_live_viewers`, per user too); a
//! request is at most 8 KiB of headers and 4 KiB of body; a client that stops reading for
//! [`WRITE_STALL`] is dropped.
//!
//! Logins: Basic only. keepwatch keeps passwords and API tokens as one-way hashes, and RTSP Digest needs
//! the secret (or a realm-bound hash of it) on the server, so offering Digest would let players pick a
//! scheme keepwatch cannot check. A user's password or an API token as the password (any user name) is
//! accepted; failures count against the same login limiter as the web login. Over plain TCP the password
//! crosses the network readable: use tokens with a camera grant for players, and keep the port on the LAN.

mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::http::Shared;

/// How long a playing client may refuse to take bytes before it is dropped.
pub const WRITE_STALL: Duration = Duration::from_secs(20);

/// Binds the restream listener (so a taken port fails `run` at start, with the config key to change).
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    let l = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("cannot listen for RTSP on {addr}: {e} (change [restream] listen in the config)"))?;
    l.set_nonblocking(true).map_err(|e| format!("RTSP listener on {addr}: {e}"))?;
    Ok(l)
}

/// Accepts players until the task is dropped; with `tls`, over TLS (RTSPS: the handshake must finish within
/// `server.header_timeout`). Both listeners share `slots` (`[restream] max_clients`).
pub async fn serve(
    listener: std::net::TcpListener,
    st: Shared,
    slots: Arc<Semaphore>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("restream: cannot use the RTSP listener: {e}");
            return;
        }
    };
    let scheme = if tls.is_some() { "rtsps" } else { "rtsp" };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("restream: serving cameras on {scheme}://{addr}/<camera>");
    }
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!("restream: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(client = %peer, "restream: refused a connection (clients at [restream] max_clients)");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let st = st.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => session::run(stream, peer, st).await,
                Some(acceptor) => {
                    let limit = st.config.borrow().server.header_timeout;
                    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => session::run(tls, peer, st).await,
                        Ok(Err(e)) => tracing::debug!(client = %peer, "restream: TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(client = %peer, "restream: TLS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
}
