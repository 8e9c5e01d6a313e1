//! WHEP (`POST /api/cameras/{name}/whep` with an SDP offer, `DELETE …/whep/{id}` to end): the WebRTC live
//! view's signalling. The media runs in [`crate::webrtc`]; this module checks who asks, counts the viewer
//! and hands over the offer. Same rules as the live WebSocket: grants, Origin for cookie sessions, the
//! live-viewer caps.

use super::auth::origin_matches;
use super::cameras::camera_access;
use super::live::{pick_stream, StreamQuery};
use super::server::LocalAddr;
use super::{ApiError, Shared};
use crate::webrtc::StartError;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use kw_auth::{Principal, PrincipalKind};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

/// Counts a camera's WebRTC viewer in the read model while its session lives.
struct Counted(std::sync::Arc<crate::view::Clients>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.webrtc.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Start a WebRTC live view: the body is the browser's SDP offer (`application/sdp`), the answer comes
/// back in the body with `Location` naming the session (DELETE it to end).
#[utoipa::path(post, path = "/api/cameras/{name}/whep", tag = "live", params(("name" = String, Path), StreamQuery),
    request_body(content = String, content_type = "application/sdp"),
    security(("session" = []), ("token" = [])),
    responses((status = 201, content_type = "application/sdp", body = String, description = "the SDP answer"),
              (status = 400, description = "not an SDP offer, or no H.264 the browser accepts"),
              (status = 403, description = "camera not granted, or Origin does not match"),
              (status = 404, description = "no such camera running"),
              (status = 409, description = "the stream is H.265 or not streaming yet: use the WebSocket view"),
              (status = 413, description = "offer larger than 64 KiB"),
              (status = 415, description = "Content-Type is not application/sdp"),
              (status = 429, description = "the user has as many live views open as one user may"),
              (status = 503, description = "the server has as many live views open as it allows")))]
#[allow(clippy::too_many_arguments)] // axum extractors, one per thing the handler checks
pub async fn offer(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    local: Option<Extension<LocalAddr>>,
    Path(name): Path<String>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    camera_access(&st, &p, &name).await?;
    if p.kind == PrincipalKind::Session && !origin_matches(&st, peer, &headers) {
        return Err(ApiError::forbidden("WebRTC offer from another site (Origin does not match the host)"));
    }
    let sdp = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !sdp.trim().to_ascii_lowercase().starts_with("application/sdp") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the offer as Content-Type: application/sdp",
        ));
    }
    if body.len() > crate::webrtc::MAX_OFFER {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "an SDP offer is at most 64 KiB"));
    }
    let offer = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the offer is not UTF-8 text"))?;
    let view = st.cameras.get(&name).ok_or_else(|| {
        ApiError::not_found(format!("camera {name:?} is not running (it is no longer in the config)"))
    })?;
    let (hub, _) = pick_stream(&view, q.stream.as_deref())?;
    let permit = st.viewers.live(&p)?;
    let local_ip = local.map(|Extension(LocalAddr(a))| a.ip()).unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    view.clients.webrtc.fetch_add(1, Ordering::Relaxed);
    let keep: Box<dyn Send> = Box::new((permit, Counted(view.clients.clone())));
    let (id, answer) = st.webrtc.start(&name, &p.name, hub, offer, local_ip, keep).await.map_err(|e| match e {
        StartError::BadOffer(m) => ApiError::bad_request(m),
        StartError::Full => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too many WebRTC sessions; try again later"),
        StartError::Unavailable(m) => ApiError::new(StatusCode::CONFLICT, m),
        StartError::Internal(m) => ApiError::internal(m),
    })?;
    tracing::info!(camera = %name, user = %p.name, client = %peer, "webrtc: viewer started");
    let mut r = (StatusCode::CREATED, answer).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/cameras/{name}/whep/{id}")) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// End a WebRTC live view.
#[utoipa::path(delete, path = "/api/cameras/{name}/whep/{id}", tag = "live",
    params(("name" = String, Path), ("id" = String, Path)), security(("session" = []), ("token" = [])),
    responses((status = 204, description = "ended"), (status = 404, description = "no such session of yours")))]
pub async fn end(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    camera_access(&st, &p, &name).await?;
    if st.webrtc.stop(&name, &id, &p.name, p.is_admin()) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such WebRTC session"))
    }
}
