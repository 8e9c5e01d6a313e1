//! The HTTP API (axum on tokio): the routes and auth rules of the project's contract (docs/conventions.md),
//! plain or TLS (rustls), behind a reverse proxy or not.
//!
//! Why it is shaped this way:
//! - **Every route is declared once**, with its OpenAPI description, through `utoipa-axum`'s router, so the
//!   served `/api/openapi.json` is generated from the very table that routes requests and cannot drift; the
//!   tests enumerate the protected routes from it.
//! - **Authentication is one middleware** ([`auth::authenticate`]) in front of everything: a request under
//!   `/api/` or `/metrics` gets a [`kw_auth::Principal`] (session cookie + CSRF rules, Bearer token, or
//!   `?token=` on the GET media routes) or a 401, except the three open routes. Handlers then only decide
//!   *what* the principal may do (admin-only, cameras granted to a viewer).
//! - **Blocking work never runs on the reactor**: SQLite, argon2 (also capped by a semaphore so a login
//!   flood cannot eat every core), MP4 building, file reads and JPEG decoding run in `spawn_blocking`.
//! - **Media bytes are streamed** from the segment files through the virtual MP4 (`kw_mp4::Mp4File`), so an
//!   hour-long `video.mp4` costs a few megabytes of index work, not gigabytes of memory.

pub mod alerts;
pub mod auth;
pub mod camera_admin;
pub mod camera_objects;
pub mod cameras;
pub mod conn;
pub mod error;
pub mod events;
pub mod hls;
pub mod limits;
pub mod links;
pub mod live;
pub mod media;
pub mod metrics;
pub mod notify_admin;
pub mod offsite_admin;
pub mod protected;
pub mod ptz;
pub mod server;
pub mod system;
pub mod ui;
pub mod users;
pub mod viewers;
pub mod whep;

use crate::view::Directory;
use crate::Failure;
use axum::Router;
use kw_auth::{AuthDb, LoginLimiter};
use kw_media::clock::SharedClock;
use kw_store::Store;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;

/// The paths any client may use without credentials (besides the web UI outside `/api/`).
pub const OPEN_PATHS: [&str; 3] = ["/api/login", "/api/health", "/api/openapi.json"];

/// Most argon2 computations at once (each takes ~46 MiB and ~60 ms of one core).
const HASH_PERMITS: usize = 2;

/// Everything the handlers share.
pub struct AppState {
    pub store: Arc<Store>,
    pub cameras: Directory,
    /// Sessions, tokens and user lookups: quick queries only.
    pub auth: Mutex<AuthDb>,
    /// Password checks and hashing (slow on purpose), on their own connection so they never hold up the
    /// quick queries.
    pub auth_slow: Mutex<AuthDb>,
    pub hash_permits: tokio::sync::Semaphore,
    pub limiter: LoginLimiter,
    pub clock: SharedClock,
    /// Served over TLS: cookies get `Secure`.
    pub tls: bool,
    pub trusted_proxies: Vec<kw_config::IpNet>,
    pub metrics: metrics::HttpMetrics,
    /// The config file: what the admin API edits, and what messages tell the user to edit.
    pub config_path: std::path::PathBuf,
    /// The effective config as it runs (published by the daemon's config watcher): read this, never the file.
    pub config: tokio::sync::watch::Receiver<crate::config_watch::Effective>,
    pub events: Arc<crate::events::EventStore>,
    pub alerts: Arc<kw_notify::Alerts>,
    /// Signs and checks `?exp=&sig=` links.
    pub links: links::LinkKey,
    /// The cameras' HLS segmenters (started on demand).
    pub hls: crate::live::segmenter::Registry,
    /// One config edit at a time (load, change, save).
    pub config_edit: tokio::sync::Mutex<()>,
    /// Tells the daemon's config watcher to look now rather than at its next poll.
    pub config_changed: Arc<tokio::sync::Notify>,
    /// Caps on concurrent `video.mp4` responses and builds and snapshot decodes (total and per principal).
    pub media: media::MediaLimits,
    /// The caps on connections, requests and viewers, sized at start.
    pub limits: limits::Limits,
    /// Live viewers now (WebSockets, HLS sessions), against their caps.
    pub viewers: Arc<viewers::Viewers>,
    /// Connected PTZ cameras.
    pub ptz: ptz::Cache,
    /// The WebRTC (WHEP) live views now.
    pub webrtc: Arc<crate::webrtc::Sessions>,
    /// Off-site targets' health and queue.
    pub offsite: crate::offsite::Handle,
}

pub type Shared = Arc<AppState>;

/// What the daemon hands the HTTP layer.
pub struct Parts {
    pub store: Arc<Store>,
    pub cameras: Directory,
    pub clock: SharedClock,
    pub events: Arc<crate::events::EventStore>,
    pub alerts: Arc<kw_notify::Alerts>,
    pub links: links::LinkKey,
    pub config: tokio::sync::watch::Receiver<crate::config_watch::Effective>,
    pub config_changed: Arc<tokio::sync::Notify>,
    pub limits: limits::Limits,
    /// Off-site targets' health and queue.
    pub offsite: crate::offsite::Handle,
}

impl AppState {
    pub fn new(
        parts: Parts,
        auth_path: &std::path::Path,
        config_path: std::path::PathBuf,
    ) -> Result<AppState, Failure> {
        let Parts { store, cameras, clock, events, alerts, links, config, config_changed, limits, offsite } = parts;
        let server = config.borrow().server.clone();
        let open = || {
            AuthDb::open(auth_path)
                .map_err(|e| Failure::runtime(format!("cannot open the user database in {}: {e}", auth_path.display())))
        };
        Ok(AppState {
            store,
            cameras,
            auth: Mutex::new(open()?),
            auth_slow: Mutex::new(open()?),
            hash_permits: tokio::sync::Semaphore::new(HASH_PERMITS),
            limiter: LoginLimiter::new(),
            clock,
            tls: server.tls.is_some(),
            trusted_proxies: server.trusted_proxies.clone(),
            metrics: metrics::HttpMetrics::default(),
            config_path,
            config,
            events,
            alerts,
            links,
            hls: Default::default(),
            config_edit: tokio::sync::Mutex::new(()),
            config_changed,
            media: Default::default(),
            viewers: Arc::new(viewers::Viewers::new(limits.live_viewers, limits.live_viewers_per_user)),
            webrtc: Arc::default(),
            limits,
            ptz: Default::default(),
            offsite,
        })
    }

    /// Runs `f` on the quick auth connection in a blocking task.
    pub async fn with_auth<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut AuthDb) -> kw_auth::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let st = self.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut db = st.auth.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut db)
        })
        .await?;
        Ok(r?)
    }

    /// Runs `f` (which hashes or verifies a password) on the slow connection, at most [`HASH_PERMITS`] at once.
    pub async fn with_hashing<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut AuthDb) -> kw_auth::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.hash_permits.acquire().await.map_err(ApiError::internal)?;
        let st = self.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut db = st.auth_slow.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut db)
        })
        .await?;
        Ok(r?)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keepwatch",
        description = "Self-hosted network video recorder. Times are RFC 3339; ranges are half-open [start, end). \
                       Authenticate with the session cookie from POST /api/login (writes need X-CSRF-Token), \
                       or with `Authorization: Bearer TOKEN`, or `?token=TOKEN` on GET media routes."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Login, logout, who am I"),
        (name = "cameras", description = "Cameras, their settings, recordings and media"),
        (name = "admin", description = "Users, tokens, system"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        // OpenAPI names one cookie per scheme: the plain-HTTP name, with the TLS name in the description.
        let session = ApiKeyValue::with_description(
            auth::COOKIE,
            format!(
                "The session cookie from POST /api/login: `{}` over plain HTTP, `{}` where keepwatch serves TLS \
                 (the `__Host-` prefix makes browsers refuse it unless it is Secure, for the whole host, from \
                 https). Writes also need the X-CSRF-Token header.",
                auth::COOKIE,
                auth::COOKIE_HTTPS
            )
            .as_str(),
        );
        c.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(session)));
        c.add_security_scheme("token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// The application: every route, its OpenAPI description, and the middleware.
pub fn app(state: Shared) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(system::health))
        .routes(routes!(system::system))
        .routes(routes!(cameras::list, camera_admin::add))
        .routes(routes!(camera_admin::update, camera_admin::remove))
        .routes(routes!(camera_admin::get_config))
        .routes(routes!(camera_admin::probe))
        .routes(routes!(cameras::recordings))
        .routes(routes!(media::video))
        .routes(routes!(media::snapshot))
        .routes(routes!(live::live))
        .routes(routes!(whep::offer))
        .routes(routes!(whep::end))
        .routes(routes!(hls::playlist))
        .routes(routes!(hls::file))
        .routes(routes!(alerts::get_mode, alerts::put_mode))
        .routes(routes!(alerts::notifiers, notify_admin::add))
        .routes(routes!(notify_admin::update, notify_admin::remove))
        .routes(routes!(notify_admin::get_config))
        .routes(routes!(notify_admin::get_alerts, notify_admin::put_alerts))
        .routes(routes!(notify_admin::test))
        .routes(routes!(alerts::test_notifier))
        .routes(routes!(offsite_admin::get_all, offsite_admin::add))
        .routes(routes!(offsite_admin::update, offsite_admin::remove))
        .routes(routes!(offsite_admin::test))
        .routes(routes!(events::list))
        .routes(routes!(events::snapshot))
        .routes(routes!(protected::list, protected::add))
        .routes(routes!(ptz::command))
        .routes(routes!(ptz::presets, ptz::add_preset, ptz::remove_preset))
        .routes(routes!(protected::remove))
        .routes(routes!(users::list, users::add))
        .routes(routes!(users::remove))
        .routes(routes!(users::list_tokens, users::create_token))
        .routes(routes!(users::revoke_token))
        .routes(routes!(metrics::metrics))
        .split_for_parts();
    let spec = Arc::new(api.to_pretty_json().unwrap_or_else(|_| "{}".into()));
    router
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let spec = spec.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], spec.as_str().to_owned()) }
            }),
        )
        .route("/", axum::routing::get(ui::index))
        .route("/ui/{*path}", axum::routing::get(ui::file))
        .fallback(|| async { ApiError::not_found("no such route") })
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::count))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .with_state(state)
}

/// A bound, not yet serving, listener: binding first lets `run` fail at once, with a clear message, when
/// the address is taken.
pub struct Bound {
    listener: std::net::TcpListener,
    pub addr: SocketAddr,
}

pub fn bind(addr: SocketAddr) -> Result<Bound, Failure> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        Failure::runtime(format!("cannot listen on {addr}: {e} (change [server] listen in the config)"))
    })?;
    listener.set_nonblocking(true).map_err(|e| Failure::runtime(format!("listener on {addr}: {e}")))?;
    let addr = listener.local_addr().unwrap_or(addr);
    Ok(Bound { listener, addr })
}

/// Serves until `handle` is told to shut down, under the caps and timeouts of `state.limits`.
pub async fn serve(
    bound: Bound,
    tls: Option<kw_config::TlsConfig>,
    state: Shared,
    handle: server::Handle,
) -> Result<(), Failure> {
    let tracker = conn::Tracker::new(state.limits.clone());
    let router = app(state);
    let addr = bound.addr;
    let acceptor =
        match &tls {
            None => None,
            Some(t) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                Some(server::tls_acceptor(t).map_err(|e| {
                    Failure::runtime(format!("cannot load TLS {e} (check [server] tls_cert and tls_key)"))
                })?)
            }
        };
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    tracing::info!("listening on {scheme}://{addr}/");
    server::run(bound.listener, acceptor, router, tracker, handle)
        .await
        .map_err(|e| Failure::runtime(format!("HTTP server on {addr}: {e}")))
}

/// How long open connections get to finish when `run` stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_session_scheme_names_both_cookie_names() {
        let doc = serde_json::to_value(super::ApiDoc::openapi()).unwrap();
        let session = &doc["components"]["securitySchemes"]["session"];
        assert_eq!(session["in"], "cookie", "{session}");
        assert_eq!(session["name"], super::auth::COOKIE, "{session}");
        let description = session["description"].as_str().unwrap_or_default();
        assert!(description.contains(super::auth::COOKIE_HTTPS), "{session}");
    }
}
