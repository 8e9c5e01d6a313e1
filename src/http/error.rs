//! One error shape for every API answer: a status code and `{"error": "..."}` with a sentence a user can
//! act on. Internal errors are logged with their detail and answered without it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
    /// The request field a 400 is about (`motion.sensitivity`), so a form can mark it.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), retry_after: None, field: None }
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "log in first (POST /api/login), or send an API token")
    }
    pub fn forbidden(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, what)
    }
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, what)
    }
    pub fn bad_request(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, what)
    }
    /// A 400 about one field of the request.
    pub fn bad_field(field: impl Into<String>, what: impl Into<String>) -> ApiError {
        ApiError { field: Some(field.into()), ..ApiError::new(StatusCode::BAD_REQUEST, what) }
    }
    /// Logs the detail; the client learns only that it failed.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!("request failed: {detail}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; the server log has the detail")
    }
    pub fn too_many(retry_after: std::time::Duration) -> ApiError {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!("too many failed logins; try again in {secs} s"),
            retry_after: Some(secs.max(1)),
            field: None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(f) => serde_json::json!({ "error": self.message, "field": f }),
            None => serde_json::json!({ "error": self.message }),
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

impl From<kw_auth::AuthError> for ApiError {
    fn from(e: kw_auth::AuthError) -> ApiError {
        use kw_auth::AuthError as E;
        match &e {
            E::Db(_) | E::Hash(_) | E::Random(_) => ApiError::internal(e),
            _ => ApiError::bad_request(e.to_string()),
        }
    }
}

/// A blocking task that panicked or was cancelled.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::internal(e)
    }
}
