//! `GET /api/cameras` and a camera's recorded spans, plus the one rule every camera route follows
//! ([`camera_access`]): a valid name, granted to the caller, known to the config or the store.

use super::{ApiError, Shared};
use crate::supervisor::State as CamState;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use kw_auth::Principal;
use kw_media::WallMicros;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Checks a camera name from a URL before it goes anywhere near the store: the config's rule
/// (`[a-z0-9-]+`) rules out `..`, `/`, `%2e%2e` (already decoded here) and every other path trick.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// May `p` use camera `name`? 404 for a malformed or unknown name (admins), 403 for a camera not granted
/// (checked before existence, so a viewer learns nothing about cameras it may not see).
pub async fn camera_access(st: &Shared, p: &Principal, name: &str) -> Result<(), ApiError> {
    if !valid_name(name) {
        return Err(ApiError::not_found("no such camera (names are a-z, 0-9 and -)"));
    }
    if !p.may_see(name) {
        return Err(ApiError::forbidden(format!("you may not see camera {name:?}")));
    }
    if st.cameras.get(name).is_some() {
        return Ok(());
    }
    // A camera removed from the config keeps its recordings until retention deletes them.
    let store = st.store.clone();
    let known = tokio::task::spawn_blocking(move || store.cameras()).await?.map_err(ApiError::internal)?;
    if known.iter().any(|c| c == name) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no camera {name:?}")))
    }
}

#[derive(Serialize, ToSchema)]
pub struct CameraInfo {
    pub name: String,
    /// `connecting`, `streaming` or `offline`
    pub status: String,
    /// Whether its video is being written to the store (`record` is not `off` and it is streaming).
    pub recording: bool,
    /// `continuous`, `motion` or `off`
    pub record: String,
    pub last_error: Option<String>,
    /// `h264` or `h265`, once connected
    pub codec: Option<String>,
    pub width: Option<u16>,
    pub height: Option<u16>,
    pub has_audio: bool,
    /// Whether a `sub_url` stream is configured (`?stream=sub` on live routes; the grid uses it).
    pub has_sub: bool,
    /// Frames received from the camera since keepwatch started it.
    pub frames: u64,
    pub bytes: u64,
    pub reconnects: u64,
    /// RFC 3339 time of the newest frame.
    pub last_frame: Option<String>,
    /// Motion detection: `off`, `on`, `unavailable: <why>` (e.g. an H.265-only camera) or `degraded: <why>`
    /// (it runs but cannot decode many of the frames)
    pub motion: String,
    /// RTSP clients playing this camera through the restream server now.
    pub restream_clients: usize,
    /// WebRTC (WHEP) viewers of this camera now.
    pub webrtc_clients: usize,
    /// The camera's address without credentials (admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The cameras the caller may see, with their status. Never a camera password.
#[utoipa::path(get, path = "/api/cameras", tag = "cameras", security(("session" = []), ("token" = [])),
    responses((status = 200, body = [CameraInfo])))]
pub async fn list(State(st): State<Shared>, Extension(p): Extension<Principal>) -> Json<Vec<CameraInfo>> {
    let out = st
        .cameras
        .list()
        .into_iter()
        .filter(|v| p.may_see(&v.cfg.name))
        .map(|v| {
            let s = v.status.borrow().clone();
            let streaming = s.state == CamState::Streaming;
            CameraInfo {
                name: v.cfg.name.clone(),
                status: match s.state {
                    CamState::Connecting => "connecting",
                    CamState::Streaming => "streaming",
                    CamState::Offline => "offline",
                }
                .to_owned(),
                recording: streaming && v.cfg.record != kw_config::RecordMode::Off,
                record: record_name(v.cfg.record).to_owned(),
                last_error: s.last_error.clone(),
                codec: s.codec.map(str::to_owned),
                width: s.width,
                height: s.height,
                has_audio: s.has_audio,
                has_sub: v.sub_hub.is_some(),
                frames: s.frames,
                bytes: s.bytes,
                reconnects: s.reconnects,
                last_frame: s.last_frame.map(crate::timefmt::format),
                motion: match &v.motion {
                    None => "off".to_owned(),
                    Some(m) => match m.unavailable() {
                        Some(why) => format!("unavailable: {why}"),
                        None => match m.degraded() {
                            Some(why) => format!("degraded: {why}"),
                            None => "on".to_owned(),
                        },
                    },
                },
                restream_clients: v.clients.restream.load(std::sync::atomic::Ordering::Relaxed),
                webrtc_clients: v.clients.webrtc.load(std::sync::atomic::Ordering::Relaxed),
                url: p.is_admin().then(|| kw_config::redacted_url(&v.cfg.url)),
            }
        })
        .collect();
    Json(out)
}

pub fn record_name(m: kw_config::RecordMode) -> &'static str {
    match m {
        kw_config::RecordMode::Continuous => "continuous",
        kw_config::RecordMode::Motion => "motion",
        kw_config::RecordMode::Off => "off",
        kw_config::RecordMode::Objects => "objects",
    }
}

#[derive(Deserialize, IntoParams)]
pub struct OptRange {
    /// RFC 3339; default: 31 days before `end` (or before now)
    pub start: Option<String>,
    /// RFC 3339; default: now
    pub end: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Span {
    pub start: String,
    pub end: String,
}

/// Parses an RFC 3339 query value, naming the parameter in the error.
pub fn parse_time(what: &str, v: &str) -> Result<WallMicros, ApiError> {
    crate::timefmt::parse(v).map_err(|e| ApiError::bad_request(format!("{what}: {e} (RFC 3339; send '+' as %2B)")))
}

/// The most recorded past one `recordings` request covers. Listing reads one index row per segment (a
/// minute each), so a year of a camera would be half a million rows for one request; a client wanting
/// more asks in parts (`keepwatch recordings` on the command line has no cap). The web UI's timeline asks
/// for at most six days.
pub const MAX_LIST_RANGE: i64 = 31 * 24 * 3600 * 1_000_000;

/// The range a `recordings` request covers, or a 400 when it covers more than [`MAX_LIST_RANGE`] of the
/// past. Only time up to now counts (nothing is recorded later), so an `end` in the future costs nothing.
fn list_range(start: Option<WallMicros>, end: Option<WallMicros>, now: WallMicros) -> Result<(i64, i64), ApiError> {
    let end = end.unwrap_or(i64::MAX / 2);
    // A minute of slack for a camera whose clock runs a little ahead.
    let past_end = end.min(now.saturating_add(60_000_000));
    let start = start.unwrap_or_else(|| past_end.saturating_sub(MAX_LIST_RANGE));
    if past_end.saturating_sub(start) > MAX_LIST_RANGE {
        return Err(ApiError::bad_field(
            "start",
            format!(
                "the range covers more than {} days of recordings, the most one request lists; ask for it in \
                 parts (or use keepwatch recordings)",
                MAX_LIST_RANGE / (24 * 3600 * 1_000_000)
            ),
        ));
    }
    Ok((start, end))
}

/// Recorded spans of a camera within `[start, end)`, at most 31 days of them.
#[utoipa::path(get, path = "/api/cameras/{name}/recordings", tag = "cameras",
    params(("name" = String, Path, description = "camera name"), OptRange),
    security(("session" = []), ("token" = [])),
    responses((status = 200, body = [Span]),
              (status = 400, description = "a bad time, or a range covering more than 31 days of the past"),
              (status = 403), (status = 404)))]
pub async fn recordings(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Query<OptRange>,
) -> Result<Json<Vec<Span>>, ApiError> {
    camera_access(&st, &p, &name).await?;
    let start = q.start.as_deref().map(|v| parse_time("start", v)).transpose()?;
    let end = q.end.as_deref().map(|v| parse_time("end", v)).transpose()?;
    let (start, end) = list_range(start, end, st.clock.wall())?;
    let store = st.store.clone();
    let spans =
        tokio::task::spawn_blocking(move || store.spans(&name, start, end)).await?.map_err(ApiError::internal)?;
    Ok(Json(
        spans
            .into_iter()
            .map(|(s, e)| Span { start: crate::timefmt::format(s), end: crate::timefmt::format(e) })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        for bad in ["", "..", "a/b", "A", "a.b", "%2e%2e", "a b", "ä"] {
            assert!(!super::valid_name(bad), "{bad}");
        }
        assert!(super::valid_name("front-door-2"));
    }

    #[test]
    fn a_listing_covers_at_most_31_days_of_the_past() {
        use super::{list_range, MAX_LIST_RANGE};
        const DAY: i64 = 24 * 3600 * 1_000_000;
        let now = 1_800_000_000 * 1_000_000;
        // Defaults: the 31 days before now (or before `end`).
        let (s, e) = list_range(None, None, now).unwrap();
        assert!(s >= now - MAX_LIST_RANGE && s < now && e > now, "{s} {e}");
        assert_eq!(list_range(None, Some(now - 40 * DAY), now).unwrap().0, now - 71 * DAY);
        // Within the cap, and an end far in the future (nothing recorded there costs nothing).
        assert!(list_range(Some(now - 30 * DAY), Some(now), now).is_ok());
        assert!(list_range(Some(now - 6 * DAY), Some(now + 365 * DAY), now).is_ok());
        assert!(list_range(Some(now - 80 * DAY), Some(now - 50 * DAY), now).is_ok());
        // More: a 400 naming the field and the cap.
        for (start, end) in
            [(Some(0), None), (Some(now - 32 * DAY), Some(now)), (Some(i64::MIN / 2), Some(i64::MAX / 2))]
        {
            let e = list_range(start, end, now).unwrap_err();
            assert_eq!((e.status.as_u16(), e.field.as_deref()), (400, Some("start")));
            assert!(e.message.contains("31 days"), "{}", e.message);
        }
    }
}
