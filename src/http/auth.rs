//! Who is calling: the login/logout/me routes and the middleware that authenticates every other request.
//!
//! The rules (docs/conventions.md, "Auth"):
//! - Open: `POST /api/login`, `GET /api/health`, `GET /api/openapi.json`, and the web UI outside `/api/`.
//!   Everything under `/api/` and `/metrics` needs a principal, else 401 (unknown paths too, so the route
//!   table cannot be probed without credentials).
//! - A session cookie authenticates: `keepwatch_session` over plain HTTP, `__Host-keepwatch_session` over
//!   https (TLS here, or a trusted proxy's `X-Forwarded-Proto: https`), always HttpOnly, SameSite=Strict,
//!   Path=/, and Secure over https. The `__Host-` prefix makes the browser refuse the cookie unless it was
//!   set over https by this very host for the whole site, so neither a sibling subdomain nor a plain-HTTP
//!   man in the middle can plant a session (the cookie is read only under the name of the request's
//!   scheme). A cookie-authenticated request that changes anything (not GET/HEAD) must carry the
//!   session's `X-CSRF-Token`, and an `Origin`, when the browser sends one, naming this scheme and host.
//! - `Authorization: Bearer TOKEN` authenticates without CSRF (scripts, Home Assistant). `?token=TOKEN`
//!   and signed links (`?exp=&sig=`) are accepted only on GET/HEAD of the media routes, matched segment by
//!   segment (a camera named `live` does not turn its other routes into media routes), for clients that
//!   can send no header (VLC, `<img>`, links in alerts); a browser request that shows another site's
//!   `Origin` gets no access through them.
//! - Failed logins are limited per client address and per (address, user); a limited login answers 429
//!   with `Retry-After` *before* any password check, so it costs the server nothing. The attempt is
//!   counted in the same step as the check (see [`kw_auth::LoginLimiter::begin`]), so concurrent attempts
//!   cannot all slip through. There is no per-user lockout a stranger could use to lock the admin out.
//! - The client address is the TCP peer, or the `X-Forwarded-For` entry a trusted proxy vouches for.
//! - User names typed at the login form reach the log only through [`kw_logsafe::Untrusted`].

use super::{ApiError, Shared, OPEN_PATHS};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kw_auth::{Principal, PrincipalKind};
use kw_logsafe::Untrusted;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use utoipa::ToSchema;

/// The session cookie's name over plain HTTP (contract).
pub const COOKIE: &str = "keepwatch_session";
/// The session cookie's name over https (contract): the `__Host-` prefix binds it to this host, https and
/// `Path=/`.
pub const COOKIE_HTTPS: &str = "__Host-keepwatch_session";
/// The CSRF header (contract).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// The media routes, which accept `?token=` and signed links (GET/HEAD only), matched on the path's
/// segments exactly: `/api/cameras/{name}/video.mp4`, `…/snapshot.jpg`, `…/live.m3u8`, `…/live/{file}`
/// (the HLS files), `…/live` (the WebSocket) and `/api/events/{id}/snapshot.jpg`.
pub(crate) fn accepts_query_token(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "api", "cameras", name, "video.mp4" | "snapshot.jpg" | "live.m3u8" | "live"] => !name.is_empty(),
        ["", "api", "cameras", name, "live", file] => !name.is_empty() && !file.is_empty(),
        ["", "api", "events", id, "snapshot.jpg"] => !id.is_empty(),
        _ => false,
    }
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

/// Whether the request's `Origin`, when the client sent one, names the scheme and host the client
/// addressed: required of cookie-authenticated writes here, of the cookie-authenticated live WebSocket (a
/// browser sends the cookie with a cross-site WebSocket, so only `Origin` tells a stranger's page apart)
/// and of requests authenticated by `?token=` or a signed link. The scheme counts: a page served over
/// plain HTTP (which anyone on the path can write) is another site to keepwatch served over https, and
/// the other way round. Default ports (80, 443) may be left out on either side.
pub fn origin_matches(st: &Shared, peer: SocketAddr, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let scheme = if is_https(st, peer, headers) { "https" } else { "http" };
    let host = request_host(st, peer, headers);
    same_origin(origin.to_str().unwrap_or(""), scheme, host.as_deref())
}

/// Whether the `Origin` value `origin` is `scheme://host` (`host` as the client addressed it).
pub(crate) fn same_origin(origin: &str, scheme: &str, host: Option<&str>) -> bool {
    let origin = origin.to_ascii_lowercase();
    let Some((origin_scheme, authority)) = origin.split_once("://") else { return false };
    let Some(host) = host else { return false };
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let bare = |a: &str| a.strip_suffix(default_port).unwrap_or(a).to_owned();
    origin_scheme == scheme && !authority.is_empty() && bare(authority) == bare(host)
}

/// The session cookie's name for this request: [`COOKIE_HTTPS`] over https, else [`COOKIE`].
fn cookie_name(st: &Shared, peer: SocketAddr, headers: &HeaderMap) -> &'static str {
    if is_https(st, peer, headers) {
        COOKIE_HTTPS
    } else {
        COOKIE
    }
}

/// The id of the session that authenticated this request (an extension the middleware adds for
/// cookie-authenticated requests), for logout and `me`.
#[derive(Clone)]
pub struct SessionId(String);

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

pub(crate) fn query_token(query: Option<&str>) -> Option<String> {
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
    // HTTP/2 (what browsers speak over TLS) carries the host as the URI's authority, not as `Host`: give
    // it the header, so the Origin checks here and in the live WebSocket compare against it.
    if !req.headers().contains_key(header::HOST) {
        if let Some(host) = req.uri().authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            req.headers_mut().insert(header::HOST, host);
        }
    }
    let (headers, method, uri) = (req.headers().clone(), req.method().clone(), req.uri().clone());
    match principal_of(&st, peer, &headers, &method, &uri).await {
        Ok((p, session)) => {
            req.extensions_mut().insert(p);
            if let Some(id) = session {
                req.extensions_mut().insert(id);
            }
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
) -> Result<(Principal, Option<SessionId>), ApiError> {
    let safe = method == Method::GET || method == Method::HEAD;
    if let Some(token) = bearer(headers) {
        let token = token.to_owned();
        let p = st.with_auth(move |db| db.token(&token)).await?.ok_or_else(ApiError::unauthorized)?;
        return Ok((p, None));
    }
    if let Some(id) = cookie_value(headers, cookie_name(st, peer, headers)) {
        let id = id.to_owned();
        let session = SessionId(id.clone());
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
        return Ok((Principal::from_session(user), Some(session)));
    }
    if safe && accepts_query_token(uri.path()) {
        let signed = query_value(uri.query(), "sig").is_some();
        let token = query_token(uri.query());
        if (signed || token.is_some()) && !origin_matches(st, peer, headers) {
            // Only browsers send Origin, and VLC or an <img> send none: this is another site's page.
            return Err(ApiError::forbidden("?token= and signed links do not work from another site's page"));
        }
        if signed {
            let now = st.clock.wall().div_euclid(1_000_000);
            if st.links.verify(uri.path(), uri.query(), now) {
                // A signed link opens exactly its own path and query (the signature covers both) until it
                // expires.
                let p = Principal {
                    name: "signed link".into(),
                    role: kw_auth::Role::Viewer,
                    cameras: None,
                    kind: PrincipalKind::Token,
                };
                return Ok((p, None));
            }
            return Err(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "this link has expired or is not valid"));
        }
        if let Some(token) = token {
            let p = st.with_auth(move |db| db.token(&token)).await?.ok_or_else(ApiError::unauthorized)?;
            return Ok((p, None));
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

/// Log in: sets the session cookie (`keepwatch_session`; over https `__Host-keepwatch_session`).
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
    // Checked and counted as a failure in one step, before the password: see the module docs.
    let attempt = match st.limiter.begin(addr, &user, Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait) => {
            tracing::warn!(user = %Untrusted(&user), client = %addr,
                "login refused: too many failures, wait {} s", wait.as_secs());
            return Err(ApiError::too_many(wait));
        }
    };
    let (name, password) = (body.username, body.password);
    let found = st.with_hashing(move |db| db.authenticate(&name, &password)).await?;
    let Some(u) = found else {
        drop(attempt);
        tracing::warn!(user = %Untrusted(&user), client = %addr, "login failed: wrong user name or password");
        return Err(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "wrong user name or password"));
    };
    st.limiter.succeeded(attempt);
    let uname = u.name.clone();
    let (sid, csrf) = st.with_auth(move |db| db.create_session(&uname, SESSION_TTL)).await?;
    tracing::info!(user = %u.name, client = %addr, "login");
    let https = is_https(&st, peer, &headers);
    let (name, secure) = if https { (COOKIE_HTTPS, "; Secure") } else { (COOKIE, "") };
    let cookie = format!("{name}={sid}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", SESSION_TTL.as_secs());
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
pub async fn logout(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Option<Extension<SessionId>>,
    headers: HeaderMap,
) -> Response {
    if let Some(Extension(SessionId(id))) = session {
        if let Err(e) = st.with_auth(move |db| db.end_session(&id)).await {
            return e.into_response();
        }
        tracing::info!(user = %p.name, "logout");
    }
    let https = is_https(&st, peer, &headers);
    let (name, secure) = if https { (COOKIE_HTTPS, "; Secure") } else { (COOKIE, "") };
    let clear = format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
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
    session: Option<Extension<SessionId>>,
) -> Result<Json<Me>, ApiError> {
    let cameras = st.cameras.names().into_iter().filter(|c| p.may_see(c)).collect();
    let csrf_token = match session {
        Some(Extension(SessionId(id))) => st.with_auth(move |db| db.session(&id)).await?.map(|(_, csrf)| csrf),
        None => None,
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
        assert!(accepts_query_token("/api/cameras/a/live.m3u8"));
        assert!(accepts_query_token("/api/cameras/a/live/init.mp4"));
        assert!(accepts_query_token("/api/cameras/a/live/17.m4s"));
        assert!(accepts_query_token("/api/cameras/a/live"));
        assert!(accepts_query_token("/api/events/4/snapshot.jpg"));
        assert!(!accepts_query_token("/api/cameras"));
        assert!(!accepts_query_token("/api/users"));
        // A camera named `live` (or `video.mp4`) makes none of its other routes a media route.
        assert!(accepts_query_token("/api/cameras/live/live"));
        assert!(accepts_query_token("/api/cameras/live/live/1.m4s"));
        assert!(!accepts_query_token("/api/cameras/live/config"));
        assert!(!accepts_query_token("/api/cameras/live/recordings"));
        assert!(!accepts_query_token("/api/cameras/live"));
        assert!(!accepts_query_token("/api/cameras/video.mp4"));
        assert!(!accepts_query_token("/api/cameras/live/live/"));
        assert!(!accepts_query_token("/api/cameras/a/live/x/y"));
        assert!(!accepts_query_token("/api/cameras//video.mp4"));
        assert!(!accepts_query_token("/api/cameras/a/video.mp4/"));
        assert!(!accepts_query_token("/api/users/live/snapshot.jpg"));
        assert!(!accepts_query_token("/api/events/4/snapshot.jpg/x"));
        assert!(!accepts_query_token("/api/events/snapshot.jpg"));
        assert!(!accepts_query_token("/metrics/live/x"));
        assert_eq!(query_token(Some("start=1&token=kw_x&end=2")).as_deref(), Some("kw_x"));
        assert_eq!(query_token(Some("tokenx=1")), None);
    }

    #[test]
    fn origin_needs_scheme_and_host() {
        let host = Some("nvr.example:8443");
        assert!(same_origin("https://nvr.example:8443", "https", host));
        assert!(same_origin("HTTPS://NVR.example:8443", "https", host));
        assert!(!same_origin("http://nvr.example:8443", "https", host), "plain-HTTP page against https");
        assert!(!same_origin("https://nvr.example:8443", "http", host), "https page against plain HTTP");
        assert!(!same_origin("https://evil.example:8443", "https", host));
        assert!(!same_origin("https://nvr.example", "https", host), "another port");
        assert!(!same_origin("null", "https", host));
        assert!(!same_origin("https://", "https", Some("")));
        assert!(!same_origin("https://nvr.example:8443", "https", None));
        // Default ports may be left out on either side.
        assert!(same_origin("https://nvr.example", "https", Some("nvr.example:443")));
        assert!(same_origin("http://nvr.example:80", "http", Some("nvr.example")));
        assert!(!same_origin("https://nvr.example:80", "https", Some("nvr.example")));
        assert!(same_origin("http://[::1]:8080", "http", Some("[::1]:8080")));
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
