//! `GET/PUT /api/mode` (home / away / off: which alerts go out) and the notifiers: `GET /api/notifiers`,
//! `POST /api/notifiers/{name}/test`.
//!
//! Any signed-in user may read the mode and switch it between `home` and `away` (a family member leaving
//! home arms the system from their phone with a viewer account); `off`, which silences motion alerts
//! altogether, is for admins, as disarming is for whoever holds the keys. The notifiers, whose targets may
//! hold credentials, are for admins, and their targets are shown without credentials.

use super::auth::require_admin;
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kw_auth::Principal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ModeBody {
    /// `home`, `away` or `off`
    pub mode: String,
}

/// The alert mode.
#[utoipa::path(get, path = "/api/mode", tag = "admin", security(("session" = []), ("token" = [])),
    responses((status = 200, body = ModeBody)))]
pub async fn get_mode(State(st): State<Shared>) -> Json<ModeBody> {
    Json(ModeBody { mode: st.alerts.mode().as_str().to_owned() })
}

/// Set the alert mode: `away` sends every alert, `home` motion alerts only in scheduled windows, `off` no
/// motion alerts (camera-offline and storage alerts always go out; admins only). Recording is not affected.
#[utoipa::path(put, path = "/api/mode", tag = "admin", security(("session" = []), ("token" = [])),
    request_body = ModeBody, responses((status = 200, body = ModeBody), (status = 400),
        (status = 403, description = "`off` needs an admin")))]
pub async fn put_mode(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Json<ModeBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ModeBody>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mode: kw_notify::Mode = b.mode.parse().map_err(|_| ApiError::bad_request("mode: use home, away or off"))?;
    if mode == kw_notify::Mode::Off && !p.is_admin() {
        return Err(ApiError::forbidden("mode off needs an admin (a viewer may switch between home and away)"));
    }
    let alerts = st.alerts.clone();
    tokio::task::spawn_blocking(move || alerts.set_mode(mode)).await?.map_err(ApiError::internal)?;
    tracing::info!(by = %p.name, "alert mode set to {}", mode.as_str());
    Ok(Json(ModeBody { mode: mode.as_str().to_owned() }))
}

#[derive(Serialize, ToSchema)]
pub struct NotifierInfo {
    pub name: String,
    /// `mqtt`, `webhook`, `email` or `ntfy`
    pub kind: String,
    /// The target without credentials
    pub target: String,
    /// Cameras it is for; null means all
    pub cameras: Option<Vec<String>>,
    /// Alerts waiting to be delivered (or retried)
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// The configured notifiers with their delivery counts (admin).
#[utoipa::path(get, path = "/api/notifiers", tag = "admin", security(("session" = []), ("token" = [])),
    responses((status = 200, body = [NotifierInfo]), (status = 403)))]
pub async fn notifiers(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Vec<NotifierInfo>>, ApiError> {
    require_admin(&p)?;
    let alerts = st.alerts.clone();
    let out = tokio::task::spawn_blocking(move || {
        alerts
            .notifiers()
            .iter()
            .map(|n| {
                let c = alerts.outbox_counts(Some(&n.name)).unwrap_or_default();
                NotifierInfo {
                    name: n.name.clone(),
                    kind: format!("{:?}", n.kind).to_lowercase(),
                    target: kw_config::redacted_url(&n.target),
                    cameras: n.cameras.clone(),
                    pending: c.pending,
                    delivered: c.delivered,
                    failed: c.failed,
                }
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(Json(out))
}

#[derive(Serialize, ToSchema)]
pub struct TestResult {
    pub result: String,
}

/// Send a test message through a notifier now (admin).
#[utoipa::path(post, path = "/api/notifiers/{name}/test", tag = "admin", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])),
    responses((status = 200, body = TestResult), (status = 403), (status = 404), (status = 502, description = "the delivery failed; the reason is in the answer")))]
pub async fn test_notifier(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    require_admin(&p)?;
    if !st.alerts.notifiers().iter().any(|n| n.name == name) {
        return Err(ApiError::not_found(format!("no notifier {name:?}")));
    }
    match st.alerts.test(&name).await {
        Ok(result) => Ok(Json(TestResult { result })),
        Err(e) => Err(ApiError::new(StatusCode::BAD_GATEWAY, e.to_string())),
    }
}
