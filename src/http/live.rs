//! `GET /api/cameras/{name}/live`: the live view as fragmented MP4 over a WebSocket, for a browser's Media
//! Source Extensions.
//!
//! Why a WebSocket: it is the one transport that lets the server push each frame the moment it arrives
//! (sub-second latency) and that a browser can feed straight into MSE; HLS (see [`super::hls`]) is for
//! clients that cannot do this.
//!
//! Each viewer is one hub subscriber with its own bounded queue ([`VIEWER_QUEUE`] events) and at most one
//! message in flight: a viewer that reads too slowly is skipped ahead to the next key frame by the hub
//! (never slowing the camera, the recorder or the other viewers), and one that stops reading for
//! [`SEND_TIMEOUT`] is disconnected, so a viewer's memory is bounded by its queue. The frames in the queue
//! are `Arc`s shared with every other subscriber; the fMP4 bytes are built per viewer, one frame at a time.

use super::auth::origin_matches;
use super::cameras::camera_access;
use super::{ApiError, Shared};
use crate::hub::{Hub, MediaEvent, Start};
use crate::live::{Fragmenter, Output};
use crate::view::CameraView;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use kw_auth::{Principal, PrincipalKind};
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use utoipa::IntoParams;

/// Hub events queued per viewer before the hub skips it ahead (a few seconds of a 25 fps camera with
/// audio); more for cameras with long GOPs ([`crate::live::queue_for`]).
pub const VIEWER_QUEUE: usize = 256;
/// A viewer that has not taken a message for this long is disconnected.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// A ping this often keeps proxies from closing a quiet connection (camera offline).
const KEEPALIVE: Duration = Duration::from_secs(20);
/// Largest message a viewer may send (it has nothing to say but close).
const MAX_INCOMING: usize = 4096;

#[derive(Deserialize, IntoParams)]
pub struct StreamQuery {
    /// `main` (default) or `sub`: the camera's `sub_url` stream (grid views; the H.264 alternative of an
    /// H.265 camera for browsers that cannot play HEVC). 404 when the camera has no `sub_url`.
    pub stream: Option<String>,
}

/// The hub of the stream a request asks for, and its name (`main` or `sub`).
pub fn pick_stream(view: &CameraView, stream: Option<&str>) -> Result<(Hub, &'static str), ApiError> {
    match stream {
        None | Some("main") => Ok((view.hub.clone(), "main")),
        Some("sub") => view
            .sub_hub
            .clone()
            .map(|h| (h, "sub"))
            .ok_or_else(|| ApiError::not_found(format!("camera {:?} has no sub_url", view.cfg.name))),
        Some(other) => Err(ApiError::bad_request(format!("stream={other:?}: use main or sub"))),
    }
}

/// Live video as fMP4 over a WebSocket.
#[utoipa::path(get, path = "/api/cameras/{name}/live", tag = "cameras",
    params(("name" = String, Path, description = "camera name"), StreamQuery),
    security(("session" = []), ("token" = [])),
    description = "A WebSocket (send `Upgrade: websocket`). Messages from the server, in this order:\n\n\
1. a **text** message, JSON `StreamInfo`: `{\"codec\": \"avc1.64001f\", \"audio\": \"mp4a.40.2\" or null, \
\"width\": 1920, \"height\": 1080, \"mime\": \"video/mp4; codecs=\\\"avc1.64001f,mp4a.40.2\\\"\"}` — enough to \
create the MSE `SourceBuffer`;\n\
2. a **binary** message: the fMP4 init segment (`ftyp` + `moov`; track 1 video with `avcC`/`hvcC`, track 2 \
`mp4a` when the camera has AAC audio);\n\
3. **binary** messages, one media segment (`moof` + `mdat`) each: one video frame and the audio since the \
previous one (or audio alone). The first starts with the latest key frame the server holds, so the picture \
appears at once. Decode times are continuous and never go back.\n\n\
When the camera reconnects or changes its parameters, 1 and 2 come again (new codec string possible), then \
media segments continue on the same timeline; append the new init segment (`changeType` if the codec \
changed). A viewer that reads too slowly is skipped ahead to the next key frame. Browsers authenticate \
with the session cookie; then the `Origin` header must match the host. Audio other than AAC is left out. \
Live views (WebSockets and HLS sessions together) are capped per user or token and in total; over a cap the \
new viewer is refused (429 or 503 with `Retry-After`). \
A browser that cannot play the codec (`MediaSource.isTypeSupported(mime)` is false, e.g. HEVC) can ask for \
the camera's sub-stream with `?stream=sub`.",
    responses((status = 101, description = "switching to the WebSocket protocol"),
              (status = 400, description = "not a WebSocket upgrade request"),
              (status = 403, description = "camera not granted, or Origin does not match"),
              (status = 404, description = "no such camera running"),
              (status = 429, description = "the user has as many live views open as one user may; see Retry-After"),
              (status = 503, description = "the server has as many live views open as it allows; see Retry-After")))]
pub async fn live(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    camera_access(&st, &p, &name).await?;
    if p.kind == PrincipalKind::Session && !origin_matches(&st, peer, &headers) {
        tracing::warn!(camera = %name, user = %p.name, "live WebSocket refused: Origin does not match the host");
        return Err(ApiError::forbidden("WebSocket from another site (Origin does not match the host)"));
    }
    let view = st.cameras.get(&name).ok_or_else(|| {
        ApiError::not_found(format!("camera {name:?} is not running (it is no longer in the config)"))
    })?;
    let (hub, stream) = pick_stream(&view, q.stream.as_deref())?;
    let ws = ws.map_err(|e| ApiError::new(e.status(), format!("this route is a WebSocket: {}", e.body_text())))?;
    // Counted from here until the viewer leaves (or the upgrade never happens).
    let permit = st.viewers.live(&p).inspect_err(|e| {
        tracing::debug!(camera = %name, user = %p.name, "live WebSocket refused: {}", e.message);
    })?;
    let opened = Instant::now();
    let user = p.name.clone();
    Ok(ws.max_message_size(MAX_INCOMING).max_frame_size(MAX_INCOMING).on_upgrade(move |socket| async move {
        viewer(socket, st, name, stream, hub, user, opened).await;
        drop(permit);
    }))
}

/// What one viewer got, logged when it leaves.
struct ViewerStats {
    media: u64,
    skips: u64,
    inits: u64,
    first_media: Option<Duration>,
    latency: LatencyHistogram,
}

async fn viewer(
    socket: WebSocket,
    st: Shared,
    camera: String,
    stream: &'static str,
    hub: Hub,
    user: String,
    opened: Instant,
) {
    let joined_wall = st.clock.wall();
    let mut rx = hub.subscribe(crate::live::queue_for(&hub, VIEWER_QUEUE), Start::LastKeyFrame);
    tracing::debug!(camera = %camera, stream, user = %user, "live viewer joined");
    let (mut tx, mut incoming) = socket.split();
    let closed = async move {
        while let Some(Ok(m)) = incoming.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    };
    tokio::pin!(closed);
    let mut frag = Fragmenter::new(true);
    let mut out = Vec::new();
    let mut stats = ViewerStats { media: 0, skips: 0, inits: 0, first_media: None, latency: LatencyHistogram::new() };
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    let why = loop {
        tokio::select! {
            _ = &mut closed => break "closed by the viewer",
            _ = keepalive.tick() => {
                if let Err(e) = send(&mut tx, Message::Ping(Bytes::new())).await {
                    break e;
                }
            }
            ev = rx.recv() => {
                let Some(ev) = ev else {
                    let close = CloseFrame { code: 1001, reason: "the camera was removed".into() };
                    let _ = send(&mut tx, Message::Close(Some(close))).await;
                    break "camera removed";
                };
                if matches!(ev, MediaEvent::Gap) {
                    stats.skips += 1;
                }
                frag.push(&ev, &mut out);
                if let Err(e) = deliver(&mut tx, &mut out, &mut stats, &st, joined_wall, opened).await {
                    break e;
                }
            }
        }
    };
    let (p50, p99, max) = (stats.latency.quantile(0.5), stats.latency.quantile(0.99), stats.latency.max_ms());
    let what = format!(
        "{} media messages, {} init segments, {} skips, first media after {} ms",
        stats.media,
        stats.inits,
        stats.skips,
        stats.first_media.map_or(-1, |d| d.as_millis() as i64)
    );
    let latency = format!("capture-to-send latency p50 {p50:.1} ms p99 {p99:.1} ms max {max:.1} ms");
    let secs = opened.elapsed().as_secs_f64();
    tracing::info!(
        camera = %camera,
        stream,
        user = %user,
        "live viewer left ({why}) after {secs:.0} s: {what}, {latency}"
    );
}

type Sink = futures::stream::SplitSink<WebSocket, Message>;

async fn send(tx: &mut Sink, msg: Message) -> Result<(), &'static str> {
    match tokio::time::timeout(SEND_TIMEOUT, tx.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("connection lost"),
        Err(_) => Err("viewer stopped reading"),
    }
}

async fn deliver(
    tx: &mut Sink,
    out: &mut Vec<Output>,
    stats: &mut ViewerStats,
    st: &Shared,
    joined_wall: i64,
    opened: Instant,
) -> Result<(), &'static str> {
    for o in out.drain(..) {
        match o {
            Output::Init(init) => {
                let info = serde_json::to_string(&init.info).unwrap_or_else(|_| "{}".into());
                send(tx, Message::Text(info.into())).await?;
                send(tx, Message::Binary(init.bytes.clone())).await?;
                stats.inits += 1;
            }
            Output::Media(m) => {
                send(tx, Message::Binary(m.bytes)).await?;
                stats.media += 1;
                if stats.first_media.is_none() {
                    stats.first_media = Some(opened.elapsed());
                }
                // Frames from the buffered GOP were captured before the viewer came; only live ones count.
                if let Some(wall) = m.wall.filter(|w| *w >= joined_wall) {
                    stats.latency.record(st.clock.wall().saturating_sub(wall));
                }
            }
            Output::Stopped => {}
        }
    }
    Ok(())
}

/// Latencies in µs: 250 µs buckets below 64 ms, then 8 ms buckets up to ~2 s (2 KiB per viewer).
struct LatencyHistogram {
    buckets: Vec<u32>,
    count: u64,
    max_us: i64,
}

impl LatencyHistogram {
    const FINE: usize = 256;
    const FINE_US: i64 = 250;
    const COARSE_US: i64 = 8000;

    fn new() -> Self {
        LatencyHistogram { buckets: vec![0; 512], count: 0, max_us: 0 }
    }

    fn record(&mut self, us: i64) {
        let us = us.max(0);
        let fine_end = Self::FINE as i64 * Self::FINE_US;
        let i = if us < fine_end {
            (us / Self::FINE_US) as usize
        } else {
            (Self::FINE + ((us - fine_end) / Self::COARSE_US) as usize).min(self.buckets.len() - 1)
        };
        if let Some(b) = self.buckets.get_mut(i) {
            *b = b.saturating_add(1);
        }
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    /// Upper bound of the bucket holding quantile `q`, in ms (0 when empty).
    fn quantile(&self, q: f64) -> f64 {
        let want = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += u64::from(*b);
            if seen >= want && self.count > 0 {
                let upper = if i < Self::FINE {
                    (i as i64 + 1) * Self::FINE_US
                } else {
                    Self::FINE as i64 * Self::FINE_US + (i - Self::FINE + 1) as i64 * Self::COARSE_US
                };
                return upper.min(self.max_us.max(1)) as f64 / 1000.0;
            }
        }
        0.0
    }

    fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::LatencyHistogram;

    #[test]
    fn histogram_quantiles() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.quantile(0.99), 0.0);
        for us in 0..1000 {
            h.record(us * 10); // 0..10 ms
        }
        h.record(500_000);
        assert!((h.quantile(0.5) - 5.0).abs() <= 0.25, "{}", h.quantile(0.5));
        assert!((h.quantile(0.99) - 9.9).abs() <= 0.25, "{}", h.quantile(0.99));
        assert_eq!(h.max_ms(), 500.0);
        h.record(i64::MAX / 2);
        h.record(-5);
    }
}
