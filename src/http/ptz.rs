//! PTZ through ONVIF: `POST /api/cameras/{name}/ptz` (`{"move":{"x","y","zoom"}}`, `{"stop":true}`,
//! `{"preset":"token"}`, `{"home":true}`) and `GET`/`POST`/`DELETE /api/cameras/{name}/presets`.
//!
//! Who may: looking at the presets is for whoever may see the camera (the UI uses it to learn whether the
//! camera can move); moving it and changing presets is for admins and for viewers granted `ptz`
//! (`keepwatch user grant NAME --ptz`; a session, not an API token, of a viewer who may see the camera).
//!
//! Why a cache of connected cameras: a drag sends a move and a stop within a second; connecting (services,
//! profiles, the camera's clock) for each would cost several round trips and delay the stop. A connection is
//! kept per camera while its address and login stay the same, and dropped after an error so the next
//! request starts afresh. Only `onvif://` cameras whose device offers the PTZ service have PTZ; others
//! answer 404 "no PTZ", and the UI then shows no controls. Camera answers are bounded (kw_onvif), speeds are
//! clamped to -1..1 and preset names to 64 characters.

use super::cameras::camera_access;
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kw_auth::{Principal, PrincipalKind};
use kw_onvif::ptz::MAX_TOKEN;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use utoipa::ToSchema;

/// How long one PTZ request may take with the camera.
const PTZ_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected camera and the profile PTZ acts on.
struct Connected {
    cam: kw_onvif::Camera,
    profile: String,
}

/// Connected PTZ cameras by name, with the address and login they were connected with.
#[derive(Default)]
pub struct Cache(Mutex<HashMap<String, (String, Arc<Connected>)>>);

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Arc<Connected>)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Deserialize, ToSchema)]
pub struct Move {
    /// -1 (left) .. 1 (right)
    #[serde(default)]
    pub x: f32,
    /// -1 (down) .. 1 (up)
    #[serde(default)]
    pub y: f32,
    /// -1 (out) .. 1 (in)
    #[serde(default)]
    pub zoom: f32,
}

/// Exactly one of the keys.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PtzCommand {
    /// Move continuously at these speeds until `stop` (or 10 s; repeat to keep moving).
    #[serde(rename = "move")]
    pub movement: Option<Move>,
    pub stop: Option<bool>,
    /// Go to this preset token.
    pub preset: Option<String>,
    /// Go to the home position.
    pub home: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct PresetInfo {
    pub token: String,
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPreset {
    /// 1..64 characters
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetRef {
    pub token: String,
}

/// May `p` move camera `name`'s PTZ? Admins may; a viewer's session only with the `ptz` grant.
async fn may_move(st: &Shared, p: &Principal) -> Result<(), ApiError> {
    if p.is_admin() {
        return Ok(());
    }
    let granted = if p.kind == PrincipalKind::Session {
        let user = p.name.clone();
        st.with_auth(move |db| db.has_ptz(&user)).await?
    } else {
        false
    };
    if granted {
        Ok(())
    } else {
        Err(ApiError::forbidden("moving cameras needs an admin or the ptz grant (keepwatch user grant NAME --ptz)"))
    }
}

fn no_ptz(name: &str) -> ApiError {
    ApiError::not_found(format!("camera {name:?} has no PTZ (only onvif:// cameras with the PTZ service)"))
}

fn camera_error(e: kw_onvif::Error) -> ApiError {
    match e {
        kw_onvif::Error::Fault(f) => ApiError::new(StatusCode::BAD_GATEWAY, format!("the camera refused: {f}")),
        e => ApiError::new(StatusCode::BAD_GATEWAY, format!("the camera: {e}")),
    }
}

/// The connected PTZ camera `name` (connecting when needed).
async fn connected(st: &Shared, name: &str) -> Result<Arc<Connected>, ApiError> {
    let cfg = st.config.borrow().camera(name).cloned().ok_or_else(|| no_ptz(name))?;
    if !cfg.url.trim_start().to_ascii_lowercase().starts_with("onvif://") {
        return Err(no_ptz(name));
    }
    let key = format!("{}\n{:?}\n{:?}", cfg.url, cfg.username, cfg.password);
    if let Some((k, c)) = st.ptz.lock().get(name) {
        if *k == key {
            return Ok(c.clone());
        }
    }
    let addr = crate::ingest::CameraAddr::parse(&cfg.url, cfg.username.as_deref(), cfg.password.as_deref())
        .map_err(|_| no_ptz(name))?;
    let device = crate::ingest::onvif::device_url(&addr).map_err(|_| no_ptz(name))?;
    let connect = async {
        let cam = kw_onvif::Camera::connect(&device, crate::ingest::onvif::credentials(&addr)).await?;
        if !cam.has_ptz() {
            return Ok(None);
        }
        let profile = cam.ptz_profile().await?;
        Ok::<_, kw_onvif::Error>(Some(Connected { cam, profile }))
    };
    let c = tokio::time::timeout(PTZ_TIMEOUT, connect)
        .await
        .map_err(|_| ApiError::new(StatusCode::GATEWAY_TIMEOUT, "the camera did not answer in time"))?
        .map_err(camera_error)?
        .ok_or_else(|| no_ptz(name))?;
    let c = Arc::new(c);
    st.ptz.lock().insert(name.to_owned(), (key, c.clone()));
    Ok(c)
}

/// Runs `op` against the camera; an error forgets the connection (the next request reconnects).
async fn with_camera<T, F>(st: &Shared, name: &str, op: impl FnOnce(Arc<Connected>) -> F) -> Result<T, ApiError>
where
    F: std::future::Future<Output = Result<T, kw_onvif::Error>>,
{
    let c = connected(st, name).await?;
    let r = tokio::time::timeout(PTZ_TIMEOUT, op(c)).await;
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            if !matches!(e, kw_onvif::Error::Fault(_)) {
                st.ptz.lock().remove(name);
            }
            Err(camera_error(e))
        }
        Err(_) => {
            st.ptz.lock().remove(name);
            Err(ApiError::new(StatusCode::GATEWAY_TIMEOUT, "the camera did not answer in time"))
        }
    }
}

fn check_token(t: &str) -> Result<(), ApiError> {
    if t.is_empty() || t.len() > MAX_TOKEN || t.chars().any(char::is_control) {
        return Err(ApiError::bad_field("token", format!("a preset token is 1 to {MAX_TOKEN} bytes")));
    }
    Ok(())
}

/// Moves, stops, goes to a preset or home (admins, and viewers granted `ptz`).
#[utoipa::path(post, path = "/api/cameras/{name}/ptz", tag = "cameras", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), request_body = PtzCommand,
    responses((status = 204), (status = 400), (status = 403), (status = 404, description = "no such camera, or no PTZ"),
        (status = 502, description = "the camera refused or failed; the reason is in the answer")))]
pub async fn command(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<PtzCommand>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    camera_access(&st, &p, &name).await?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let given = [b.movement.is_some(), b.stop == Some(true), b.preset.is_some(), b.home == Some(true)];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::bad_request("give exactly one of move, stop: true, preset, home: true"));
    }
    may_move(&st, &p).await?;
    if let Some(m) = b.movement {
        let v = kw_onvif::Velocity { x: m.x, y: m.y, zoom: m.zoom }.clamped();
        with_camera(&st, &name, |c| async move { c.cam.ptz_move(&c.profile, v).await }).await?;
    } else if b.stop == Some(true) {
        with_camera(&st, &name, |c| async move { c.cam.ptz_stop(&c.profile).await }).await?;
    } else if let Some(t) = b.preset {
        check_token(&t).map_err(|e| ApiError { field: Some("preset".into()), ..e })?;
        with_camera(&st, &name, |c| async move { c.cam.ptz_goto_preset(&c.profile, &t).await }).await?;
    } else {
        with_camera(&st, &name, |c| async move { c.cam.ptz_home(&c.profile).await }).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The camera's presets (whoever may see the camera); 404 when it has no PTZ.
#[utoipa::path(get, path = "/api/cameras/{name}/presets", tag = "cameras", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])),
    responses((status = 200, body = [PresetInfo]), (status = 403), (status = 404), (status = 502)))]
pub async fn presets(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<Vec<PresetInfo>>, ApiError> {
    camera_access(&st, &p, &name).await?;
    let list = with_camera(&st, &name, |c| async move { c.cam.ptz_presets(&c.profile).await }).await?;
    Ok(Json(list.into_iter().map(|p| PresetInfo { token: p.token, name: p.name }).collect()))
}

/// Saves the current position as a preset (admins, and viewers granted `ptz`); answers it.
#[utoipa::path(post, path = "/api/cameras/{name}/presets", tag = "cameras", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), request_body = NewPreset,
    responses((status = 201, body = PresetInfo), (status = 400), (status = 403), (status = 404), (status = 502)))]
pub async fn add_preset(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<NewPreset>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<PresetInfo>), ApiError> {
    camera_access(&st, &p, &name).await?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let preset = kw_onvif::ptz::clean_preset_name(&b.name).map_err(|e| ApiError::bad_field("name", e.to_string()))?;
    may_move(&st, &p).await?;
    let n = preset.clone();
    let token = with_camera(&st, &name, |c| async move { c.cam.ptz_set_preset(&c.profile, &n).await }).await?;
    tracing::info!(camera = %name, by = %p.name, "PTZ preset saved");
    Ok((StatusCode::CREATED, Json(PresetInfo { token, name: preset })))
}

/// Deletes a preset (admins, and viewers granted `ptz`).
#[utoipa::path(delete, path = "/api/cameras/{name}/presets", tag = "cameras", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), request_body = PresetRef,
    responses((status = 204), (status = 400), (status = 403), (status = 404), (status = 502)))]
pub async fn remove_preset(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<PresetRef>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    camera_access(&st, &p, &name).await?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    check_token(&b.token)?;
    may_move(&st, &p).await?;
    let t = b.token;
    with_camera(&st, &name, |c| async move { c.cam.ptz_remove_preset(&c.profile, &t).await }).await?;
    tracing::info!(camera = %name, by = %p.name, "PTZ preset removed");
    Ok(StatusCode::NO_CONTENT)
}
