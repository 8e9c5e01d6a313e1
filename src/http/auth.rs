//! Who is calling: the login/logout/me routes and the middleware that authenticates every other request.
//!
//! The rules (docs/conventions.md, "Auth"):
//! - Open: `POST /api/login`, `GET /api/health`, `GET /api/openapi.json`, and the web UI outside `/api/`.
//!   Everything under `/api/` and `/metrics` needs a principal, else 401 (unknown paths too, so the route
//!   table cannot be probed without credentials).
//! - A session cookie (`keepwatch_session`, HttpOnly, SameSite=Strict, Secure under TLS) authenticates; a
//!   cookie-authenticated request that changes anything (not GET/HEAD) must carry the session's
//!   `X-CSRF-Token`, and a matching `Origin` when the browser sends one.
//! - `Authorization: Bearer TOKEN` authenticates without CSRF (scripts, Home Assistant). `?token=TOKEN` is
//!   accepted only on GET/HEAD of the media routes, for clients that can send no header (VLC, `<img>`).
//! - Failed logins are limited per client address and per (address, user); a limited login answers 429
//!   with `Retry-After` *before* any password check, so it costs the server nothing. There is no per-user
//!   lockout a stranger could use to lock the admin out.
//! - The client address is the TCP peer, or the `X-Forwarded-For` entry a trusted proxy vouches for.

use super::{ApiError, Shared, OPEN_PATHS};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kw_auth::{Principal, PrincipalKind};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use utoipa::ToSchema;

/// The session cookie's name (contract).
pub const COOKIE: &str = "keepwatch_session";
/// The CSRF header (contract).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// Media routes that accept `?token=` (GET/HEAD only).
fn accepts_query_token(path: &str) -> bool {
    path.starts_with("/api/cameras/")
        && (path.ends_with("/video.mp4")
            || path.ends_with("/snapshot.jpg")
            || path.ends_with("/live.m3u8")
            || path.contains("/live/"))
        || (path.starts_with("/api/events/") && path.ends_with("/snapshot.jpg"))
}

fn needs_auth(path: &str) -> bool {
    if OPEN_PATHS.contains(&path) {
        return false;
    }
    path == "/metrics" || path.starts_with("/metrics/") || path == "/api" || path.starts_with("/api/")
}

/// The client's address: the peer, or what a trusted proxy says in `X-Forwarded-For` (the right-most entry
/// that is not itself a trusted proxy).
pub fn client_addr(st: &Shared, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if !st.trusted_proxies.iter().any(|n| n.contains(peer_ip)) {
        return peer_ip;
    }
    let mut chosen = peer_ip;
    for v in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(s) = v.to_str() else { return chosen };
        for part in s.split(',').rev() {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    let ip = ip.to_canonical();
                    chosen = ip;
                    if !st.trusted_proxies.iter().any(|n| n.contains(ip)) {
                        return ip;
                    }
                }
                Err(_) => return chosen,
            }
        }
    }
    chosen
}

/// Whether the client reached us over https (directly, or through a trusted proxy that says so).
fn is_https(st: &Shared, peer: SocketAddr, headers: &HeaderMap) -> bool {
    if st.tls {
        return true;
    }
    let peer_ip = peer.ip().to_canonical();
    st.trusted_proxies.iter().any(|n| n.contains(peer_ip))
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The host the client addressed (for the `Origin` check).
fn request_host(st: &Shared, peer: SocketAddr, headers: &HeaderMap) -> Option<String> {
    let peer_ip = peer.ip().to_canonical();
    if st.trusted_proxies.iter().any(|n| n.contains(peer_ip)) {
        if let Some(h) = headers.get("x-forwarded-host").and_then(|v| v.to_str().ok()) {
            return Some(h.split(',').next().unwrap_or(h).trim().to_ascii_lowercase());
        }
    }
    headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(|h| h.to_ascii_lowercase())
}

/// Whether the request's `Origin`, when the client sent one, names the host the client addressed: required
/// of cookie-authenticated writes here and of the cookie-authenticated live WebSocket (a browser sends
/// the cookie with a cross-site WebSocket, so only `Origin` tells a stranger's page apart).
pub fn origin_matches(st: &Shared, peer: SocketAddr, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
    let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or("");
    request_host(st, peer, headers).as_deref() == Some(authority)
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

fn query_token(query: Option<&str>) -> Option<String> {
    query_value(query, "token")
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The middleware in front of every route: attaches the [`Principal`] or answers 401/403.
pub async fn authenticate(
    State(st): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if !needs_auth(&path) {
        return next.run(req).await;
    }
    let (headers, method, uri) = (req.headers().clone(), req.method().clone(), req.uri().clone());
    match principal_of(&st, peer, &headers, &method, &uri).await {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn principal_of(
    st: &Shared,
    peer: SocketAddr,
    headers: &HeaderMap,
    method: &Method,
    uri: &axum::http::Uri,
) -> Result<Principal, ApiError> {
    let safe = method == Method::GET || method == Method::HEAD;
    if let Some(token) = bearer(headers) {
        let token = token.to_owned();
        return st.with_auth(move |db| db.token(&token)).await?.ok_or_else(ApiError::unauthorized);
    }
    if let Some(id) = cookie_value(headers, COOKIE) {
        let id = id.to_owned();
        let Some((user, csrf)) = st.with_auth(move |db| db.session(&id)).await? else {
            return Err(ApiError::unauthorized());
        };
        if !safe {
            let given = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !kw_auth::csrf_matches(&csrf, given) {
                return Err(ApiError::forbidden("missing or wrong X-CSRF-Token (it comes with the login answer)"));
            }
            if !origin_matches(st, peer, headers) {
                return Err(ApiError::forbidden("request from another site (Origin does not match)"));
            }
        }
        return Ok(Principal::from_session(user));
    }
    if safe && accepts_query_token(uri.path()) {
        if let (Some(exp), Some(sig)) = (query_value(uri.query(), "exp"), query_value(uri.query(), "sig")) {
            let now = st.clock.wall().div_euclid(1_000_000);
            let exp: i64 = exp.parse().unwrap_or(0);
            if st.links.verify(uri.path(), exp, &sig, now) {
                // A signed link opens exactly its own path (the signature covers it) until it expires.
                return Ok(Principal {
                    name: "signed link".into(),
                    role: kw_auth::Role::Viewer,
                    cameras: None,
                    kind: PrincipalKind::Token,
                });
            }
            return Err(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "this link has expired or is not valid"));
        }
        if let Some(token) = query_token(uri.query()) {
            return st.with_auth(move |db| db.token(&token)).await?.ok_or_else(ApiError::unauthorized);
        }
    }
    Err(ApiError::unauthorized())
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginAnswer {
    pub user: String,
    /// `admin` or `viewer`
    pub role: String,
    /// Send as `X-CSRF-Token` on every cookie-authenticated request that is not GET/HEAD.
    pub csrf_token: String,
}

/// Log in: sets the `keepwatch_session` cookie.
#[utoipa::path(post, path = "/api/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = LoginAnswer), (status = 401, description = "wrong user name or password"),
              (status = 429, description = "too many failed logins from this address; see Retry-After")))]
pub async fn login(
    State(st): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) =
        body.map_err(|e| ApiError::bad_request(format!("expected {{\"username\", \"password\"}}: {e}")))?;
    let addr = client_addr(&st, peer, &headers);
    let user = body.username.clone();
    if let Err(wait) = st.limiter.check(addr, &user, Instant::now()) {
        tracing::warn!(user = %user, client = %addr, "login refused: too many failures, wait {} s", wait.as_secs());
        return Err(ApiError::too_many(wait));
    }
    let (name, password) = (body.username, body.password);
    let found = st.with_hashing(move |db| db.authenticate(&name, &password)).await?;
    let Some(u) = found else {
        st.limiter.failure(addr, &user, Instant::now());
        tracing::warn!(user = %user, client = %addr, "login failed: wrong user name or password");
        return Err(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "wrong user name or password"));
    };
    st.limiter.success(addr, &user, Instant::now());
    let uname = u.name.clone();
    let (sid, csrf) = st.with_auth(move |db| db.create_session(&uname, SESSION_TTL)).await?;
    tracing::info!(user = %u.name, client = %addr, "login");
    let secure = if is_https(&st, peer, &headers) { "; Secure" } else { "" };
    let cookie =
        format!("{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", SESSION_TTL.as_secs());
    let answer = LoginAnswer { user: u.name, role: u.role.as_str().to_owned(), csrf_token: csrf };
    let mut r = Json(answer).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Log out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/logout", tag = "auth", security(("session" = [])),
    responses((status = 204, description = "logged out")))]
pub async fn logout(State(st): State<Shared>, Extension(p): Extension<Principal>, headers: HeaderMap) -> Response {
    if p.kind == PrincipalKind::Session {
        if let Some(id) = cookie_value(&headers, COOKIE) {
            let id = id.to_owned();
            if let Err(e) = st.with_auth(move |db| db.end_session(&id)).await {
                return e.into_response();
            }
            tracing::info!(user = %p.name, "logout");
        }
    }
    let clear = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut r = axum::http::StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: String,
    pub role: String,
    /// The cameras this caller may see (all configured cameras for an admin).
    pub cameras: Vec<String>,
    /// `session` or `token`
    pub auth: String,
    /// For cookie sessions: the token writes must send as `X-CSRF-Token` (so a reloaded page can write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// Who am I.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("session" = []), ("token" = [])),
    responses((status = 200, body = Me)))]
pub async fn me(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Json<Me>, ApiError> {
    let cameras = st.cameras.names().into_iter().filter(|c| p.may_see(c)).collect();
    let csrf_token = match (p.kind, cookie_value(&headers, COOKIE)) {
        (PrincipalKind::Session, Some(id)) => {
            let id = id.to_owned();
            st.with_auth(move |db| db.session(&id)).await?.map(|(_, csrf)| csrf)
        }
        _ => None,
    };
    Ok(Json(Me {
        user: p.name.clone(),
        role: p.role.as_str().to_owned(),
        cameras,
        auth: match p.kind {
            PrincipalKind::Session => "session",
            PrincipalKind::Token => "token",
        }
        .to_owned(),
        csrf_token,
    }))
}

/// 403 unless the caller is an admin.
pub fn require_admin(p: &Principal) -> Result<(), ApiError> {
    if p.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("this needs an admin"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_and_protected_paths() {
        assert!(!needs_auth("/api/login"));
        assert!(!needs_auth("/api/health"));
        assert!(!needs_auth("/"));
        assert!(!needs_auth("/assets/app.js"));
        assert!(needs_auth("/api/me"));
        assert!(needs_auth("/api/nonexistent"));
        assert!(needs_auth("/api"));
        assert!(needs_auth("/metrics"));
        assert!(needs_auth("/api/login/../me"));
    }

    #[test]
    fn query_token_only_on_media() {
        assert!(accepts_query_token("/api/cameras/a/video.mp4"));
        assert!(accepts_query_token("/api/cameras/a/snapshot.jpg"));
        assert!(accepts_query_token("/api/events/4/snapshot.jpg"));
        assert!(!accepts_query_token("/api/cameras"));
        assert!(!accepts_query_token("/api/users"));
        assert_eq!(query_token(Some("start=1&token=kw_x&end=2")).as_deref(), Some("kw_x"));
        assert_eq!(query_token(Some("tokenx=1")), None);
    }

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; keepwatch_session=abc; b=2"));
        assert_eq!(cookie_value(&h, COOKIE), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer kw_123"));
        assert_eq!(bearer(&h), Some("kw_123"));
    }
}
