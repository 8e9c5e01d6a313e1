//! `GET /api/cameras/{name}/live.m3u8` and its files under `/api/cameras/{name}/live/`: HLS with fMP4
//! segments, for clients that cannot use the WebSocket (iOS Safari, VLC, ffmpeg, Home Assistant).
//!
//! The segments come from the camera's [`crate::live::segmenter`], started by the first playlist request
//! and stopped when nobody has asked for a minute. Clients that can send no header use `?token=`; the
//! playlist then carries the same `?token=` on every URI in it (never the session cookie, which a browser
//! sends by itself), so a player that got the playlist can fetch the segments.

use super::cameras::camera_access;
use super::live::pick_stream;
use super::{ApiError, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use kw_auth::Principal;
use serde::Deserialize;
use std::time::Duration;
use utoipa::IntoParams;

/// How long a playlist request waits for the first segment of a segmenter that just started (a segment
/// ends at the key frame after next; cameras send one every 1–4 s, rarely 10).
const FIRST_SEGMENT_WAIT: Duration = Duration::from_secs(15);

#[derive(Deserialize, IntoParams)]
pub struct LiveQuery {
    /// API token, for clients that cannot send headers; the playlist passes it on to its segment URIs
    pub token: Option<String>,
    /// `main` (default) or `sub` (the camera's `sub_url` stream); the playlist passes it on too
    pub stream: Option<String>,
}

/// The segmenter registry's key for a camera's stream.
fn key(name: &str, stream: &str) -> String {
    if stream == "main" {
        name.to_owned()
    } else {
        format!("{name}/{stream}")
    }
}

/// HLS media playlist of the live stream (fMP4 segments, about one GOP each, the last six).
#[utoipa::path(get, path = "/api/cameras/{name}/live.m3u8", tag = "cameras",
    params(("name" = String, Path, description = "camera name"), LiveQuery),
    security(("session" = []), ("token" = [])),
    description = "HLS version 7 with fMP4 segments cut at key frames (at least 1 s, so about one GOP), the last \
six listed; `EXT-X-MAP` names the init segment, and a camera reconnect adds `EXT-X-DISCONTINUITY` with a new \
init segment. No partial segments (LL-HLS). The first request for a camera starts its segmenter and waits for \
the first segment; it stops a minute after the last request. With `?token=`, every URI in the playlist \
carries the same token; `?stream=sub` serves the camera's `sub_url` stream instead. Each user's playlist of \
a camera stream is one live view while it is reloaded (within 30 s); live views are capped per user or token \
and in total, and a new one over a cap is refused (429 or 503 with `Retry-After`).",
    responses((status = 200, content_type = "application/vnd.apple.mpegurl"), (status = 403),
              (status = 404, description = "no such camera running"),
              (status = 429, description = "the user has as many live views open as one user may; see Retry-After"),
              (status = 503, description = "the camera is not streaming, or the server has as many live views open \
as it allows; see Retry-After")))]
pub async fn playlist(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Query<LiveQuery>,
) -> Result<Response, ApiError> {
    camera_access(&st, &p, &name).await?;
    let view = st.cameras.get(&name).ok_or_else(|| {
        ApiError::not_found(format!("camera {name:?} is not running (it is no longer in the config)"))
    })?;
    let (hub, stream) = pick_stream(&view, q.stream.as_deref())?;
    let key = key(&name, stream);
    // One HLS session per user and camera stream, alive while its player keeps reloading the playlist.
    st.viewers.hls(&p, &key).inspect_err(|e| {
        tracing::debug!(camera = %name, user = %p.name, "HLS viewer refused: {}", e.message);
    })?;
    let seg = st.hls.get_or_start(&key, &hub);
    let not_streaming = || ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!("camera {name:?} is not streaming yet; try again shortly"),
        retry_after: Some(2),
        field: None,
    };
    if !seg.wait_ready(FIRST_SEGMENT_WAIT).await {
        return Err(not_streaming());
    }
    let mut params = Vec::new();
    if stream != "main" {
        params.push(format!("stream={stream}"));
    }
    if let Some(t) = q.token.as_deref() {
        params.push(format!("token={}", kw_config::percent_encode(t)));
    }
    let suffix = if params.is_empty() { String::new() } else { format!("?{}", params.join("&")) };
    let text = seg.playlist(&suffix).ok_or_else(not_streaming)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.apple.mpegurl")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store")),
        ],
        text,
    )
        .into_response())
}

/// What a file name under `live/` asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LiveFile {
    /// `init.mp4` (the newest) or `init-N.mp4`.
    Init(Option<u64>),
    /// `N.m4s`.
    Segment(u64),
}

pub(crate) fn parse_file(f: &str) -> Option<LiveFile> {
    let digits =
        |s: &str| (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?;
    if f == "init.mp4" {
        return Some(LiveFile::Init(None));
    }
    if let Some(n) = f.strip_prefix("init-").and_then(|r| r.strip_suffix(".mp4")) {
        return digits(n).map(|g| LiveFile::Init(Some(g)));
    }
    f.strip_suffix(".m4s").and_then(digits).map(LiveFile::Segment)
}

/// A file of the HLS stream: `init.mp4` / `init-N.mp4` (init segments) or `N.m4s` (media segments).
#[utoipa::path(get, path = "/api/cameras/{name}/live/{file}", tag = "cameras",
    params(("name" = String, Path, description = "camera name"),
           ("file" = String, Path, description = "`init.mp4` (the newest init segment), `init-N.mp4` or `N.m4s`, \
as listed in live.m3u8"),
           LiveQuery),
    security(("session" = []), ("token" = [])),
    responses((status = 200, content_type = "video/mp4"), (status = 403),
              (status = 404, description = "no such file (a segment that left the window, or the stream is not \
running: fetch live.m3u8 first)")))]
pub async fn file(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path((name, file)): Path<(String, String)>,
    Query(q): Query<LiveQuery>,
) -> Result<Response, ApiError> {
    camera_access(&st, &p, &name).await?;
    let what = parse_file(&file).ok_or_else(|| ApiError::not_found("no such file (init.mp4, init-N.mp4, N.m4s)"))?;
    let stream = match q.stream.as_deref() {
        None | Some("main") => "main",
        Some("sub") => "sub",
        Some(other) => return Err(ApiError::bad_request(format!("stream={other:?}: use main or sub"))),
    };
    let seg = st
        .hls
        .find(&key(&name, stream))
        .ok_or_else(|| ApiError::not_found("the live stream is not running: fetch live.m3u8 first"))?;
    let (bytes, kind) = match what {
        LiveFile::Init(g) => (seg.init(g), "video/mp4"),
        LiveFile::Segment(n) => (seg.segment(n).map(|s| s.bytes.clone()), "video/iso.segment"),
    };
    let bytes = bytes.ok_or_else(|| ApiError::not_found(format!("{file} is not (or no longer) available")))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60")),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(parse_file("init.mp4"), Some(LiveFile::Init(None)));
        assert_eq!(parse_file("init-3.mp4"), Some(LiveFile::Init(Some(3))));
        assert_eq!(parse_file("17.m4s"), Some(LiveFile::Segment(17)));
        for bad in
            ["", ".m4s", "-1.m4s", "+1.m4s", "1.mp4", "init-.mp4", "init-x.mp4", "../1.m4s", "99999999999999999999.m4s"]
        {
            assert_eq!(parse_file(bad), None, "{bad}");
        }
    }

    #[test]
    fn token_encoding() {
        assert_eq!(kw_config::percent_encode("kw_AZaz09-._~"), "kw_AZaz09-._~");
        assert_eq!(kw_config::percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
