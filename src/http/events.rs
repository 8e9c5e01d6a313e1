//! `GET /api/events` and `GET /api/events/{id}/snapshot.jpg`: the Event JSON of the contract.
//!
//! A viewer sees the events of the cameras granted to them and nothing of the others: an event of another
//! camera answers 404 "no such event", as an id that does not exist does, never a 403 naming the camera.

use super::cameras::parse_time;
use super::{ApiError, Shared};
use crate::events::{EventKind, EventRow, Query as EventQuery};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kw_auth::Principal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The Event shape of the contract (API, MQTT and webhooks).
#[derive(Serialize, ToSchema)]
pub struct Event {
    pub id: i64,
    pub camera: String,
    /// `motion`, `camera-motion`, `camera-offline` or `storage`
    pub kind: String,
    /// RFC 3339
    pub start: String,
    /// RFC 3339, or null while the event goes on
    pub end: Option<String>,
    /// 0..1
    pub score: f64,
    /// [x, y, w, h] in 0..1
    pub region: Option<[f64; 4]>,
    /// URL of the best frame, or null
    pub snapshot: Option<String>,
    /// what object detection saw, one entry per label (empty where it did not run or saw nothing)
    pub labels: Vec<EventLabel>,
    /// keepwatch's extension (API only): the `[[offsite]]` targets holding a copy of the event's clip or picture
    pub offsite: Vec<String>,
}

/// One object seen during an event.
#[derive(Serialize, ToSchema)]
pub struct EventLabel {
    /// `person`, `car`, `dog`, `cat`, `bird`, ...
    pub label: String,
    /// 0..1, the best seen
    pub score: f64,
    /// [x, y, w, h] in 0..1 of the event's picture
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
}

impl From<EventRow> for Event {
    fn from(e: EventRow) -> Event {
        Event {
            snapshot: e.has_snapshot.then(|| format!("/api/events/{}/snapshot.jpg", e.id)),
            id: e.id,
            camera: e.camera,
            kind: e.kind.as_str().to_owned(),
            start: crate::timefmt::format(e.start),
            end: e.end.map(crate::timefmt::format),
            score: (e.score * 1000.0).round() / 1000.0,
            region: e.region,
            labels: e.labels.into_iter().map(|l| EventLabel { label: l.label, score: l.score, bbox: l.bbox }).collect(),
            offsite: Vec::new(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct EventsQuery {
    /// only this camera
    pub camera: Option<String>,
    /// RFC 3339: events still going on at or after this time
    pub start: Option<String>,
    /// RFC 3339: events that started before this time
    pub end: Option<String>,
    /// `motion`, `camera-motion`, `camera-offline` or `storage`
    pub kind: Option<String>,
    /// only events in which object detection saw this label (`person`)
    pub label: Option<String>,
    /// at most this many (default 100, at most 10000)
    pub limit: Option<usize>,
}

/// Events, newest first, of the cameras the caller may see.
#[utoipa::path(get, path = "/api/events", tag = "cameras", params(EventsQuery),
    security(("session" = []), ("token" = [])), responses((status = 200, body = [Event]), (status = 400)))]
pub async fn list(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<Event>>, ApiError> {
    if let Some(k) = &q.kind {
        if EventKind::parse(k).is_none() {
            let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(ApiError::bad_request(format!("kind: use one of {}", kinds.join(", "))));
        }
    }
    if let Some(l) = &q.label {
        if l.is_empty() || l.len() > kw_events::labels::MAX_LABEL_CHARS {
            return Err(ApiError::bad_request("label: a label such as person (1 to 64 characters)"));
        }
    }
    let cameras = match (&q.camera, &p.cameras) {
        (Some(c), _) if !p.may_see(c) => return Err(ApiError::forbidden(format!("you may not see camera {c:?}"))),
        (Some(c), _) => Some(vec![c.clone()]),
        (None, _) if p.is_admin() => None,
        (None, Some(granted)) => Some(granted.clone()),
        (None, None) => None,
    };
    let query = EventQuery {
        cameras,
        kind: q.kind.as_deref().and_then(EventKind::parse),
        label: q.label.clone(),
        start: q.start.as_deref().map(|v| parse_time("start", v)).transpose()?,
        end: q.end.as_deref().map(|v| parse_time("end", v)).transpose()?,
        limit: q.limit.unwrap_or(100),
    };
    let (events, queue) = (st.events.clone(), st.offsite.queue.clone());
    let (rows, copied) = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let rows = events.list(&query).map_err(|e| e.to_string())?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        Ok((rows, queue.copied(&ids).map_err(|e| e.to_string())?))
    })
    .await?
    .map_err(ApiError::internal)?;
    let mut out: Vec<Event> = rows.into_iter().map(Event::from).collect();
    let at: std::collections::HashMap<i64, usize> = out.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    for (id, target) in copied {
        if let Some(&i) = at.get(&id) {
            out[i].offsite.push(target);
        }
    }
    Ok(Json(out))
}

/// The event's best frame as JPEG.
#[utoipa::path(get, path = "/api/events/{id}/snapshot.jpg", tag = "cameras",
    params(("id" = i64, Path, description = "event id"), ("token" = Option<String>, Query, description = "API token, for clients that cannot send headers")), security(("session" = []), ("token" = [])),
    responses((status = 200, content_type = "image/jpeg"),
              (status = 404, description = "no such event, an event of a camera the caller may not see, or no picture")))]
pub async fn snapshot(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("no such event"))?;
    let events = st.events.clone();
    let (row, jpeg) = tokio::task::spawn_blocking(move || -> Result<_, crate::events::EventError> {
        Ok((events.get(id)?, events.snapshot(id)?))
    })
    .await?
    .map_err(ApiError::internal)?;
    // An event of a camera the caller may not see answers exactly like one that does not exist: a 403
    // naming its camera would tell a viewer the names of cameras not granted to them.
    if !row.is_some_and(|row| p.may_see(&row.camera)) {
        return Err(ApiError::not_found("no such event"));
    }
    let Some(jpeg) = jpeg else { return Err(ApiError::not_found("this event has no picture")) };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"))], jpeg).into_response())
}
