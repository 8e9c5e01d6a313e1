//! Admin routes for accounts: `GET/POST /api/users`, `DELETE /api/users/{name}`, `GET/POST /api/tokens`,
//! `DELETE /api/tokens/{label}`.
//! The same rules as the `user` and `token` commands (kw-auth enforces them: names, password length, the
//! last admin).

use super::auth::require_admin;
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kw_auth::{Principal, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    pub name: String,
    pub role: String,
    /// Cameras a viewer may see; null means all
    pub cameras: Option<Vec<String>>,
}

impl From<kw_auth::User> for UserInfo {
    fn from(u: kw_auth::User) -> UserInfo {
        UserInfo { name: u.name, role: u.role.as_str().to_owned(), cameras: u.cameras }
    }
}

/// All user accounts (admin).
#[utoipa::path(get, path = "/api/users", tag = "admin", security(("session" = []), ("token" = [])),
    responses((status = 200, body = [UserInfo]), (status = 403)))]
pub async fn list(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Vec<UserInfo>>, ApiError> {
    require_admin(&p)?;
    let users = st.with_auth(|db| db.list_users()).await?;
    Ok(Json(users.into_iter().map(UserInfo::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewUser {
    pub name: String,
    /// `admin` or `viewer`
    pub role: String,
    /// For a viewer: the cameras it may see; omitted means all
    pub cameras: Option<Vec<String>>,
    pub password: String,
}

/// Add a user account (admin).
#[utoipa::path(post, path = "/api/users", tag = "admin", security(("session" = []), ("token" = [])),
    request_body = NewUser, responses((status = 201, body = UserInfo), (status = 400), (status = 403)))]
pub async fn add(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&p)?;
    let Json(u) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let role = Role::parse(&u.role)?;
    let user = st.with_hashing(move |db| db.add_user(&u.name, role, u.cameras, &u.password)).await?;
    tracing::info!(user = %user.name, role = %user.role.as_str(), by = %p.name, "user added");
    Ok((StatusCode::CREATED, Json(UserInfo::from(user))).into_response())
}

/// Remove a user account and end its sessions (admin). The last admin cannot be removed.
#[utoipa::path(delete, path = "/api/users/{name}", tag = "admin", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), responses((status = 204), (status = 400), (status = 403)))]
pub async fn remove(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    let n = name.clone();
    st.with_auth(move |db| db.remove_user(&n)).await.map_err(|e| {
        if e.message.starts_with("no user") {
            ApiError::not_found(e.message)
        } else {
            e
        }
    })?;
    tracing::info!(user = %name, by = %p.name, "user removed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    pub label: String,
    /// `admin` or `viewer`
    pub role: String,
    pub cameras: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub label: String,
    /// Shown once: store it now
    pub token: String,
}

/// Create an API token (admin). The answer is the only time the token is shown.
#[utoipa::path(post, path = "/api/tokens", tag = "admin", security(("session" = []), ("token" = [])),
    request_body = NewToken, responses((status = 201, body = CreatedToken), (status = 400), (status = 403)))]
pub async fn create_token(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&p)?;
    let Json(t) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let role = Role::parse(&t.role)?;
    let label = t.label.clone();
    let token = st.with_auth(move |db| db.create_token(&t.label, role, t.cameras)).await?;
    tracing::info!(label = %label, by = %p.name, "API token created");
    Ok((StatusCode::CREATED, Json(CreatedToken { label, token })).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct TokenSummary {
    pub label: String,
    pub role: String,
    /// Cameras a viewer token may see; null means all
    pub cameras: Option<Vec<String>>,
    /// RFC 3339
    pub created: String,
    /// RFC 3339, to within a minute; null if never used
    pub last_used: Option<String>,
}

fn secs_rfc3339(s: i64) -> String {
    crate::timefmt::format(s.saturating_mul(1_000_000))
}

/// API tokens, without their secrets (admin).
#[utoipa::path(get, path = "/api/tokens", tag = "admin", security(("session" = []), ("token" = [])),
    responses((status = 200, body = [TokenSummary]), (status = 403)))]
pub async fn list_tokens(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Vec<TokenSummary>>, ApiError> {
    require_admin(&p)?;
    let tokens = st.with_auth(|db| db.list_tokens()).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenSummary {
                label: t.label,
                role: t.role.as_str().to_owned(),
                cameras: t.cameras,
                created: secs_rfc3339(t.created),
                last_used: t.last_used.map(secs_rfc3339),
            })
            .collect(),
    ))
}

/// Revoke an API token: it stops working at once (admin).
#[utoipa::path(delete, path = "/api/tokens/{label}", tag = "admin", params(("label" = String, Path)),
    security(("session" = []), ("token" = [])), responses((status = 204), (status = 403), (status = 404)))]
pub async fn revoke_token(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(label): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    let l = label.clone();
    st.with_auth(move |db| db.revoke_token(&l)).await.map_err(|e| {
        if e.status == StatusCode::BAD_REQUEST {
            ApiError::not_found(e.message)
        } else {
            e
        }
    })?;
    tracing::info!(label = %label, by = %p.name, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}
