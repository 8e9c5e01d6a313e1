//! `video.mp4` and `snapshot.jpg`.
//!
//! `video.mp4?start=&end=` is the same file `keepwatch export` writes for the range (both come from
//! [`crate::playback::build`], whose bytes depend only on the range and the index): `moov` first, length
//! known up front, served with HTTP Range (one range per request; a browser seeks by asking again), an
//! ETag derived from the file's generated header, and `If-None-Match` / `If-Range`. Bytes are read from
//! the segment files one chunk at a time, each read a short blocking task run when the client has taken
//! the chunk before, so a slow client holds one chunk and no thread.
//!
//! Bounds (see docs/conventions.md): a range longer than [`MAX_RANGE`] answers 400; building the MP4 (the
//! index work before the first byte), streaming it (a response holds the file's sample table, about 28 bytes
//! per frame, until its body ends) and decoding a snapshot each pass a [`gate::Gate`] (so many at once in
//! total and per principal, a short queue, then 503 or 429 with `Retry-After`); the segment files of a
//! response are opened as its bytes are reached, a few at a time ([`crate::playback::OPEN_READERS`]).

use super::cameras::{camera_access, parse_time};
use super::{ApiError, AppState, Shared};
use crate::playback::{Playable, PlaybackError};
use crate::snapshot::SnapshotError;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use kw_auth::Principal;
use kw_mp4::Part;
use serde::Deserialize;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use utoipa::IntoParams;

mod gate;

pub use gate::{Gate, Limits, Refused};

/// Bytes per chunk sent to the client.
const CHUNK: u64 = 512 * 1024;

/// The longest range `video.mp4` serves in one request. Building the file costs memory and index work in
/// proportion to the frames it covers (a day at 30 fps is 2.6 million samples); a longer range is asked
/// for in parts (`keepwatch export` on the command line has no such cap).
pub const MAX_RANGE: Duration = Duration::from_secs(24 * 3600);

/// The gates of the media routes, shared by all requests.
pub struct MediaLimits {
    /// `video.mp4` responses from the build to the end of the body (each holds its sample table).
    pub streams: Gate,
    /// Building a `video.mp4` (index work and the header, before the first byte).
    pub builds: Gate,
    /// Decoding a picture for `snapshot.jpg` (recorded or live).
    pub decodes: Gate,
}

impl Default for MediaLimits {
    fn default() -> Self {
        // One decode keeps one core busy for a few milliseconds per frame: as many as there are cores, and
        // no more than 8 (a bigger machine has other work to do).
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(8);
        MediaLimits {
            // A browser opens at most 6 connections to a host, so 6 per principal never stops one browser.
            streams: Gate::new(Limits {
                total: 32,
                queue: 16,
                per_principal: 6,
                per_principal_queue: 4,
                wait: Duration::from_secs(10),
            }),
            builds: Gate::new(Limits {
                total: 4,
                queue: 16,
                per_principal: 2,
                per_principal_queue: 4,
                wait: Duration::from_secs(10),
            }),
            decodes: Gate::new(Limits {
                total: cores,
                queue: 16,
                per_principal: 2,
                per_principal_queue: 6,
                wait: Duration::from_secs(5),
            }),
        }
    }
}

/// A turn to decode a picture for `p` (a snapshot, or the first picture of a camera probe).
pub(super) async fn decode_pass(st: &Shared, p: &Principal) -> Result<gate::Pass, ApiError> {
    pass(&st.media.decodes, p, "snapshot decodes").await
}

/// Waits for `gate` on behalf of `p`, or answers why not: 429 when `p` has its share, 503 when the server
/// is at its total, both with `Retry-After: 1`.
async fn pass(gate: &Gate, p: &Principal, what: &str) -> Result<gate::Pass, ApiError> {
    let key = format!("{:?}:{}", p.kind, p.name);
    gate.enter(&key).await.map_err(|refused| {
        let l = gate.limits();
        let (status, message) = match refused {
            Refused::Principal => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many {what} at once for you (at most {} running); try again shortly", l.per_principal),
            ),
            Refused::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the server is busy with {what} (at most {} at once); try again shortly", l.total),
            ),
        };
        ApiError { retry_after: Some(1), ..ApiError::new(status, message) }
    })
}

#[derive(Deserialize, IntoParams)]
pub struct VideoQuery {
    /// RFC 3339 start (inclusive)
    pub start: String,
    /// RFC 3339 end (exclusive)
    pub end: String,
    /// `1` to ask the browser to save the file (Content-Disposition: attachment)
    pub download: Option<String>,
}

/// MP4 of a recorded range, no re-encoding; supports Range requests.
#[utoipa::path(get, path = "/api/cameras/{name}/video.mp4", tag = "cameras",
    params(("name" = String, Path, description = "camera name"), VideoQuery, ("token" = Option<String>, Query, description = "API token, for clients that cannot send headers")),
    security(("session" = []), ("token" = [])),
    responses((status = 200, content_type = "video/mp4", description = "the whole file"),
              (status = 206, content_type = "video/mp4", description = "the requested byte range"),
              (status = 304), (status = 400, description = "a bad time, or a range longer than 24 h"), (status = 403),
              (status = 404, description = "nothing recorded"), (status = 416),
              (status = 429, description = "this user or token has its share of video builds or responses; see Retry-After"),
              (status = 503, description = "the server is at its total of video builds or responses; see Retry-After")))]
pub async fn video(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Query<VideoQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    camera_access(&st, &p, &name).await?;
    let start = parse_time("start", &q.start)?;
    let end = parse_time("end", &q.end)?;
    check_range(start, end)?;
    let streaming = pass(&st.media.streams, &p, "video responses").await?;
    let building = pass(&st.media.builds, &p, "video builds").await?;
    let store = st.store.clone();
    let cam = name.clone();
    let playable = tokio::task::spawn_blocking(move || {
        let _building = building;
        crate::playback::build(&store, &cam, start, end)
    })
    .await?
    .map_err(|e| match e {
        PlaybackError::NothingRecorded { .. } => ApiError::not_found(e.to_string()),
        PlaybackError::EmptyRange => ApiError::bad_request(e.to_string()),
        other => ApiError::internal(other),
    })?;
    let len = playable.file.len();
    let etag = etag_of(&playable);
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        if inm.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            r.headers_mut().insert(header::ETAG, etag_value);
            return Ok(r);
        }
    }
    let if_range_ok =
        headers.get(header::IF_RANGE).map(|v| v.to_str().map(|s| s.trim() == etag).unwrap_or(false)).unwrap_or(true);
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if if_range_ok => match parse_range(r, len) {
            RangeAnswer::Whole => None,
            RangeAnswer::Part(r) => Some(r),
            RangeAnswer::Unsatisfiable => {
                let mut resp =
                    ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range outside the file").into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(resp);
            }
        },
        _ => None,
    };
    let (status, span) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.clone()),
        None => (StatusCode::OK, 0..len),
    };
    let mut resp = Response::new(stream_body(Arc::new(playable), span.clone(), streaming));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(span.end - span.start));
    h.insert(header::ETAG, etag_value);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=0, must-revalidate"));
    if range.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{len}", span.start, span.end.saturating_sub(1))) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    let file_name = format!("{name}-{}.mp4", q.start.replace(':', ""));
    let disposition = if q.download.as_deref() == Some("1") { "attachment" } else { "inline" };
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// 400 for a range over [`MAX_RANGE`], naming the cap.
fn check_range(start: i64, end: i64) -> Result<(), ApiError> {
    let cap = i64::try_from(MAX_RANGE.as_micros()).unwrap_or(i64::MAX);
    if end.saturating_sub(start) > cap {
        let hours = MAX_RANGE.as_secs() / 3600;
        return Err(ApiError::bad_field(
            "end",
            format!(
                "the range is longer than {hours} h, the most video.mp4 serves at once; ask for it in parts of \
                 up to {hours} h (or use keepwatch export)"
            ),
        ));
    }
    Ok(())
}

/// The ETag: a hash of the generated header bytes (which list every sample's size and offset) and the
/// length, so any change of the index under the range changes it.
fn etag_of(p: &Playable) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let len = p.file.len();
    len.hash(&mut h);
    for part in p.file.parts_in(0..len) {
        match part {
            Part::Bytes(b) => b.hash(&mut h),
            Part::Data { source, offset, len } => (source, offset, len).hash(&mut h),
        }
    }
    format!("\"{:016x}-{len:x}\"", h.finish())
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    Whole,
    Part(Range<u64>),
    Unsatisfiable,
}

/// Parses `Range: bytes=...` for a file of `len` bytes. Several ranges are answered with the whole file
/// (allowed by RFC 9110; players ask for one range at a time).
pub(crate) fn parse_range(v: &str, len: u64) -> RangeAnswer {
    let Some(spec) = v.trim().strip_prefix("bytes=") else { return RangeAnswer::Whole };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeAnswer::Whole };
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else { return RangeAnswer::Whole };
        if n == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        len.saturating_sub(n)..len
    } else {
        let Ok(from) = a.parse::<u64>() else { return RangeAnswer::Whole };
        let to = if b.is_empty() {
            len
        } else {
            match b.parse::<u64>() {
                Ok(t) if t >= from => t.saturating_add(1).min(len),
                _ => return RangeAnswer::Whole,
            }
        };
        from..to
    };
    if r.start >= len || r.start >= r.end {
        RangeAnswer::Unsatisfiable
    } else {
        RangeAnswer::Part(r)
    }
}

/// Streams `range` of the file: each chunk is read by a short blocking task when the client has taken the
/// one before, and the stream ends at the first read error (the client sees a cut connection). `streaming`
/// is held until the body is done or dropped.
fn stream_body(p: Arc<Playable>, range: Range<u64>, streaming: gate::Pass) -> Body {
    let end = range.end;
    let stream = futures::stream::unfold((p, range.start, streaming), move |(p, at, streaming)| async move {
        if at >= end {
            return None;
        }
        let to = (at + CHUNK).min(end);
        let reader = p.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity((to - at) as usize);
            let mut read = |source: u32, offset: u64, out: &mut [u8]| reader.read(source, offset, out);
            reader.file.write_range(at..to, &mut buf, &mut read).map(|_| Bytes::from(buf))
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match read {
            Ok(bytes) => Some((Ok(bytes), (p, to, streaming))),
            Err(e) => {
                tracing::error!("reading recorded video failed: {e}");
                Some((Err(e), (p, end, streaming)))
            }
        }
    });
    Body::from_stream(stream)
}

#[derive(Deserialize, IntoParams)]
pub struct SnapshotQuery {
    /// RFC 3339: the picture at this time; default the newest
    pub at: Option<String>,
}

/// JPEG of the newest picture, or of the picture at time `at`.
#[utoipa::path(get, path = "/api/cameras/{name}/snapshot.jpg", tag = "cameras",
    params(("name" = String, Path, description = "camera name"), SnapshotQuery, ("token" = Option<String>, Query, description = "API token, for clients that cannot send headers")),
    security(("session" = []), ("token" = [])),
    responses((status = 200, content_type = "image/jpeg"), (status = 403), (status = 404),
              (status = 429, description = "this user or token has its share of snapshot decodes running; see Retry-After"),
              (status = 501, description = "no decoder for this camera's codec (H.265): the reason is in the answer"),
              (status = 503, description = "the server is at its total of snapshot decodes; see Retry-After")))]
pub async fn snapshot(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Query<SnapshotQuery>,
) -> Result<Response, ApiError> {
    camera_access(&st, &p, &name).await?;
    let at = q.at.as_deref().map(|v| parse_time("at", v)).transpose()?;
    // "Now" of a camera that sends JPEGs is its own last JPEG, not a decode of the H.264 made from it.
    let still = if at.is_none() { st.cameras.get(&name).and_then(|v| v.still) } else { None };
    if let Some(jpeg) = still.as_ref().and_then(|s| s.latest()) {
        return Ok(jpeg_answer(jpeg.to_vec()));
    }
    let decoding = decode_pass(&st, &p).await?;
    let st2 = st.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        let _decoding = decoding;
        snapshot_now_or_at(&st2, name, at)
    })
    .await?;
    let jpeg = match (decoded, still) {
        // No decoder for the codec (H.265): the camera's own snapshot page (ONVIF), when it has one.
        (Err(e @ SnapshotError::NoDecoder { .. }), Some(still)) => match still.fetch().await {
            Some(Ok(jpeg)) => Ok(jpeg.to_vec()),
            Some(Err(why)) => {
                tracing::debug!("the camera's snapshot page failed: {}", kw_logsafe::OneLine(&why.to_string()));
                Err(e)
            }
            None => Err(e),
        },
        (r, _) => r,
    }
    .map_err(|e| match e {
        SnapshotError::NothingRecorded { .. } => ApiError::not_found(e.to_string()),
        SnapshotError::NoDecoder { .. } => ApiError::new(StatusCode::NOT_IMPLEMENTED, e.to_string()),
        other => ApiError::internal(other),
    })?;
    Ok(jpeg_answer(jpeg))
}

fn jpeg_answer(jpeg: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        jpeg,
    )
        .into_response()
}

/// The picture at `at` from the store, or the newest from the camera's hub (blocking: decodes).
fn snapshot_now_or_at(st: &AppState, name: String, at: Option<i64>) -> Result<Vec<u8>, SnapshotError> {
    match at {
        Some(at) => crate::snapshot::at_time(&st.store, &name, at),
        None => match st.cameras.get(&name) {
            // An H.265 main stream cannot be decoded here; its H.264 sub-stream can.
            Some(v) => match (crate::snapshot::latest(&name, &v.hub), &v.sub_hub) {
                (Err(SnapshotError::NoDecoder { .. }), Some(sub)) => crate::snapshot::latest(&name, sub),
                (r, _) => r,
            },
            None => Err(SnapshotError::NothingRecorded { camera: name }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback::tests::{store_with_segments, T0};
    use RangeAnswer::*;

    #[tokio::test]
    async fn a_response_holds_its_stream_pass_until_its_body_is_done_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (store, frames) = store_with_segments(&dir.path().join("store"), 3);
        let gate =
            Gate::new(Limits { total: 1, queue: 0, per_principal: 1, per_principal_queue: 0, wait: Duration::ZERO });
        let playable = Arc::new(crate::playback::build(&store, "cam", T0, T0 + 3_000_000).unwrap());
        let len = playable.file.len();

        let body = stream_body(playable.clone(), 0..len, gate.enter("a").await.unwrap());
        assert_eq!(gate.enter("b").await.err(), Some(Refused::Busy), "held while the body is unread");
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(bytes.len() as u64, len);
        assert!(bytes.ends_with(&frames));
        let pass = gate.enter("b").await.expect("released when the body is done");

        let body = stream_body(playable, 0..len, pass);
        assert!(gate.enter("c").await.is_err());
        drop(body);
        assert!(gate.enter("c").await.is_ok(), "released when the client goes away");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Part(0..100));
        assert_eq!(parse_range("bytes=900-", 1000), Part(900..1000));
        assert_eq!(parse_range("bytes=-100", 1000), Part(900..1000));
        assert_eq!(parse_range("bytes=-2000", 1000), Part(0..1000));
        assert_eq!(parse_range("bytes=990-2000", 1000), Part(990..1000));
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Whole);
        assert_eq!(parse_range("items=0-1", 1000), Whole);
        assert_eq!(parse_range("bytes=x-1", 1000), Whole);
    }
}
