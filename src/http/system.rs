//! `GET /api/health` (open: load balancers and Home Assistant probe it) and `GET /api/system` (storage,
//! oldest recording, cameras' health, off-site targets' health, version).

use super::{ApiError, Shared};
use axum::extract::State;
use axum::{Extension, Json};
use kw_auth::Principal;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// always `ok` while the server answers
    pub status: String,
}

/// Is the server up? Open without credentials.
#[utoipa::path(get, path = "/api/health", tag = "admin", security(()), responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

#[derive(Serialize, ToSchema)]
pub struct StorageInfo {
    pub path: Option<String>,
    pub used_bytes: u64,
    pub free_bytes: Option<u64>,
    pub max_size: Option<u64>,
    /// RFC 3339 start of the oldest recording
    pub oldest: Option<String>,
    /// Bytes of video kept from retention by protections (part of `used_bytes`)
    pub protected_bytes: u64,
    /// Set when the store cannot stay within its limits because only protected video is left
    pub pressure: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CameraHealth {
    pub name: String,
    pub status: String,
    pub last_error: Option<String>,
}

/// One off-site target's health (admins only; empty for viewers).
#[derive(Serialize, ToSchema)]
pub struct OffsiteHealth {
    pub name: String,
    /// `ok`, `failing` or `idle` (nothing sent yet since start)
    pub status: String,
    /// copies waiting
    pub queued: u64,
    pub uploaded_objects: u64,
    pub uploaded_bytes: u64,
    /// RFC 3339 of the last upload or contact
    pub last_success: Option<String>,
    /// RFC 3339 since when every attempt has failed
    pub failing_since: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SystemInfo {
    pub version: String,
    pub storage: StorageInfo,
    pub cameras: Vec<CameraHealth>,
    pub offsite: Vec<OffsiteHealth>,
}

/// Storage used and free, the oldest recording, the cameras' health, the version.
#[utoipa::path(get, path = "/api/system", tag = "admin", security(("session" = []), ("token" = [])),
    responses((status = 200, body = SystemInfo)))]
pub async fn system(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Json<SystemInfo>, ApiError> {
    let store = st.store.clone();
    let usage = tokio::task::spawn_blocking(move || store.usage()).await?.map_err(ApiError::internal)?;
    let cameras = st
        .cameras
        .list()
        .into_iter()
        .filter(|v| p.may_see(&v.cfg.name))
        .map(|v| {
            let s = v.status.borrow();
            CameraHealth {
                name: v.cfg.name.clone(),
                status: format!("{:?}", s.state).to_lowercase(),
                last_error: s.last_error.clone(),
            }
        })
        .collect();
    let cfg = st.config.borrow().clone();
    Ok(Json(SystemInfo {
        version: crate::VERSION.to_owned(),
        storage: StorageInfo {
            path: p.is_admin().then(|| cfg.storage.path.display().to_string()),
            used_bytes: usage.total_bytes(),
            free_bytes: usage.free_bytes,
            max_size: cfg.storage.max_size,
            oldest: usage.oldest.map(crate::timefmt::format),
            protected_bytes: usage.protected_bytes,
            pressure: st.store.storage_pressure(),
        },
        cameras,
        offsite: if p.is_admin() { offsite_health(&st) } else { Vec::new() },
    }))
}

fn offsite_health(st: &Shared) -> Vec<OffsiteHealth> {
    st.offsite
        .health
        .snapshot()
        .into_iter()
        .map(|(name, s)| OffsiteHealth {
            name,
            status: s.state().to_owned(),
            queued: s.queued,
            uploaded_objects: s.uploaded_objects,
            uploaded_bytes: s.uploaded_bytes,
            last_success: s.last_success.map(crate::timefmt::format),
            failing_since: s.failing_since.map(crate::timefmt::format),
            last_error: s.last_error,
        })
        .collect()
}
