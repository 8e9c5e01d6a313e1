//! "Keep this clip": `GET/POST /api/protected` and `DELETE /api/protected/{id}`.
//!
//! A protection keeps a camera's video in `[start, end)` from retention (see `kw_store`'s protect
//! module). Made from an event it covers the event plus [`EVENT_MARGIN`] on both sides (an event still
//! going on: up to now). Protecting is for admins: protected video is never deleted, so whoever may protect
//! may fill the disk. Everyone sees the protections of the cameras they may see (a viewer's timeline
//! marks them); a protection of another camera answers 404 as one that does not exist.

use super::auth::require_admin;
use super::cameras::{camera_access, parse_time};
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kw_auth::Principal;
use kw_store::{Protection, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

/// Video kept before an event's start and after its end.
pub const EVENT_MARGIN: Duration = Duration::from_secs(10);

#[derive(Serialize, ToSchema)]
pub struct Protected {
    pub id: i64,
    pub camera: String,
    /// RFC 3339
    pub start: String,
    /// RFC 3339
    pub end: String,
    pub note: String,
    /// The event it was made from, if any.
    pub event: Option<i64>,
    /// RFC 3339: when it was made.
    pub created: String,
}

impl From<Protection> for Protected {
    fn from(p: Protection) -> Protected {
        Protected {
            id: p.id,
            camera: p.camera,
            start: crate::timefmt::format(p.start),
            end: crate::timefmt::format(p.end),
            note: p.note,
            event: p.event_id,
            created: crate::timefmt::format(p.created),
        }
    }
}

/// Either `event` or `camera` + `start` + `end`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProtected {
    /// Protect this event (plus 10 s on both sides).
    pub event: Option<i64>,
    pub camera: Option<String>,
    /// RFC 3339
    pub start: Option<String>,
    /// RFC 3339
    pub end: Option<String>,
    /// At most 500 characters.
    #[serde(default)]
    pub note: String,
}

/// The protections of the cameras the caller may see, oldest first.
#[utoipa::path(get, path = "/api/protected", tag = "cameras", security(("session" = []), ("token" = [])),
    responses((status = 200, body = [Protected])))]
pub async fn list(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Vec<Protected>>, ApiError> {
    let store = st.store.clone();
    let all = tokio::task::spawn_blocking(move || store.protections()).await?.map_err(ApiError::internal)?;
    Ok(Json(all.into_iter().filter(|x| p.may_see(&x.camera)).map(Protected::from).collect()))
}

/// Keep an event or a range from retention (admin).
#[utoipa::path(post, path = "/api/protected", tag = "cameras", security(("session" = []), ("token" = [])),
    request_body = NewProtected,
    responses((status = 201, body = Protected), (status = 400, description = "names the field"), (status = 403), (status = 404)))]
pub async fn add(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewProtected>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Protected>), ApiError> {
    require_admin(&p)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let now = st.clock.wall();
    let margin = i64::try_from(EVENT_MARGIN.as_micros()).unwrap_or(0);
    let (camera, start, end) = match (b.event, &b.camera) {
        (Some(_), Some(_)) => return Err(ApiError::bad_field("camera", "give either event or camera, not both")),
        (Some(id), None) => {
            let events = st.events.clone();
            let row = tokio::task::spawn_blocking(move || events.get(id)).await?.map_err(ApiError::internal)?;
            let row = row.filter(|r| !r.camera.is_empty()).ok_or_else(|| ApiError {
                field: Some("event".into()),
                ..ApiError::not_found("no such event (or one of no camera)")
            })?;
            (row.camera, row.start - margin, row.end.unwrap_or(now).max(row.start) + margin)
        }
        (None, Some(c)) => {
            let (Some(s), Some(e)) = (&b.start, &b.end) else {
                return Err(ApiError::bad_field(
                    if b.start.is_none() { "start" } else { "end" },
                    "a range needs start and end",
                ));
            };
            let start = parse_time("start", s).map_err(|e| ApiError { field: Some("start".into()), ..e })?;
            let end = parse_time("end", e).map_err(|e| ApiError { field: Some("end".into()), ..e })?;
            (c.clone(), start, end)
        }
        (None, None) => return Err(ApiError::bad_field("event", "give an event or a camera with start and end")),
    };
    camera_access(&st, &p, &camera).await.map_err(|e| ApiError { field: Some("camera".into()), ..e })?;
    let store = st.store.clone();
    let (event, note) = (b.event, b.note);
    let made = tokio::task::spawn_blocking(move || store.protect(&camera, start, end, &note, event, now)).await?;
    match made {
        Ok(x) => {
            tracing::info!(by = %p.name, protection = x.id, "video protected");
            Ok((StatusCode::CREATED, Json(x.into())))
        }
        Err(StoreError::Invalid { what }) => {
            let field = if what.contains("note") { "note" } else { "end" };
            Err(ApiError::bad_field(field, what))
        }
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Remove a protection (admin): retention may then delete the video.
#[utoipa::path(delete, path = "/api/protected/{id}", tag = "cameras", params(("id" = i64, Path)),
    security(("session" = []), ("token" = [])), responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("no such protection"))?;
    let store = st.store.clone();
    if tokio::task::spawn_blocking(move || store.unprotect(id)).await?.map_err(ApiError::internal)? {
        tracing::info!(by = %p.name, protection = id, "protection removed");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such protection"))
    }
}
