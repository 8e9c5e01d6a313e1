//! The admin API that edits cameras: `GET /api/cameras/{name}/config`, `POST /api/cameras`,
//! `PUT`/`DELETE /api/cameras/{name}` and `POST /api/cameras/probe` ("test connection").
//!
//! Why it is shaped this way: the config file stays the one source of truth (conventions.md). An edit
//! loads the file, changes it through [`kw_config::ConfigDoc`] (comments, order and unrelated keys kept,
//! validated before it is kept), saves it atomically, and nudges the daemon's config watcher, which applies
//! it exactly as it applies a hand edit. Nothing here touches running cameras directly, so a UI edit and a
//! hand edit can never disagree. Edits are serialized by one lock so two admins cannot lose each other's
//! change between load and save.
//!
//! Passwords are write-only: answers say `has_password`, never the password. A `PUT` without `password`
//! keeps the stored one (also one that was written inside the URL), `""` removes it. Credentials typed into
//! a URL move into the `username`/`password` keys, so the URL shown back never carries them. Secrets in a
//! URL's query (`?pwd=...`, cheap HTTP cameras) and a sub-stream's userinfo are shown as `***`; a form
//! that sends such a URL back unchanged keeps the stored one, so saving a form never writes `***` over them.
//!
//! A stored password goes only to the addresses it was stored for: the scheme, host and port of the
//! camera's `url` and `sub_url` ([`origin`]). A `PUT` or a probe (`camera: X`) that points X's stored
//! password at another address without sending the password again is refused (400 on `password`):
//! otherwise anyone who may edit cameras could have a camera's password sent to a host of their choosing.

use super::auth::require_admin;
use super::cameras::valid_name;
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kw_auth::Principal;
use kw_config::{CameraConfig, ConfigDoc, ConfigError, RecordMode, SourceUrl, Zone, ZoneKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A camera's settings as the UI shows them (never a password).
#[derive(Serialize, ToSchema)]
pub struct CameraSettings {
    pub name: String,
    /// The main stream's URL without credentials (secret query values as `***`).
    pub url: String,
    pub sub_url: Option<String>,
    pub username: Option<String>,
    pub has_password: bool,
    /// `continuous`, `motion`, `off` or `objects`
    pub record: String,
    /// e.g. `50GB`
    pub max_size: Option<String>,
    /// e.g. `7d`
    pub max_age: Option<String>,
    pub motion: MotionSettings,
    /// The one HTTPS certificate trusted for this camera (`sha256:...`), when one was accepted.
    pub tls_fingerprint: Option<String>,
    pub objects: super::camera_objects::ObjectsSettings,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct MotionSettings {
    pub enabled: Option<bool>,
    pub sensitivity: Option<f64>,
    /// e.g. `1s`
    pub min_duration: Option<String>,
    pub pre_roll: Option<String>,
    pub post_roll: Option<String>,
    pub keyframes_only: Option<bool>,
    pub zones: Option<Vec<ZoneSettings>>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ZoneSettings {
    pub name: Option<String>,
    /// `include` or `exclude`
    pub kind: String,
    /// Corners `[x, y]` in 0..1, origin top left; at least three.
    pub points: Vec<[f64; 2]>,
}

/// What `POST /api/cameras` and `PUT /api/cameras/{name}` take. Keys left out keep their current value
/// (on `POST`: the default).
#[derive(Deserialize, ToSchema)]
pub struct CameraForm {
    pub name: String,
    pub url: String,
    pub sub_url: Option<String>,
    pub username: Option<String>,
    /// Absent or null: keep the stored one; `""`: no password.
    pub password: Option<String>,
    pub record: Option<String>,
    /// `""` or null: no cap.
    pub max_size: Option<String>,
    pub max_age: Option<String>,
    pub motion: Option<MotionSettings>,
    /// Trust exactly this HTTPS certificate (`sha256:...`, from a probe's `tls_fingerprint`). Absent or
    /// null: keep; `""`: trust the system's certificate authorities again.
    pub tls_fingerprint: Option<String>,
    pub objects: Option<super::camera_objects::ObjectsSettings>,
}

#[derive(Deserialize, ToSchema)]
pub struct ProbeRequest {
    pub url: String,
    /// Also tests this low-resolution stream (same credentials); its answer is under `sub`.
    pub sub_url: Option<String>,
    pub username: Option<String>,
    /// Absent: use the stored password of `camera`, if given.
    pub password: Option<String>,
    /// An existing camera whose stored credentials fill in what the request leaves out.
    pub camera: Option<String>,
    /// The HTTPS certificate to trust (`sha256:...`); absent: `camera`'s accepted one, if any.
    pub tls_fingerprint: Option<String>,
}

fn settings(c: &CameraConfig) -> CameraSettings {
    let main = c.url_with_credentials();
    CameraSettings {
        name: c.name.clone(),
        url: kw_config::redacted_url(&main.url),
        sub_url: c.sub_url.as_deref().map(kw_config::redacted_url),
        username: main.username.clone(),
        has_password: main.password.is_some(),
        record: super::cameras::record_name(c.record).to_owned(),
        max_size: c.max_size.map(kw_config::format_size),
        max_age: c.max_age.map(kw_config::format_duration),
        motion: MotionSettings {
            enabled: Some(c.motion.enabled),
            sensitivity: Some(c.motion.sensitivity),
            min_duration: Some(kw_config::format_duration(c.motion.min_duration)),
            pre_roll: Some(kw_config::format_duration(c.motion.pre_roll)),
            post_roll: Some(kw_config::format_duration(c.motion.post_roll)),
            keyframes_only: Some(c.motion.keyframes_only),
            zones: Some(
                c.motion
                    .zones
                    .iter()
                    .map(|z| ZoneSettings {
                        name: Some(z.name.clone()),
                        kind: z.kind.as_str().to_owned(),
                        points: z.points.iter().map(|&(x, y)| [x, y]).collect(),
                    })
                    .collect(),
            ),
        },
        tls_fingerprint: c.tls_fingerprint.clone(),
        objects: super::camera_objects::settings(&c.objects),
    }
}

/// Scheme, host and port of a camera URL (the scheme's usual port when none is written): the address a
/// password is given to. `None` for what is not a URL.
fn origin(raw: &str) -> Option<(String, String, Option<u16>)> {
    let u = url::Url::parse(SourceUrl::new(raw, None, None).url.as_str()).ok()?;
    let scheme = u.scheme().to_ascii_lowercase();
    let port = u.port().or(match scheme.as_str() {
        "rtsp" => Some(554),
        "rtsps" => Some(322),
        "onvif" => Some(80),
        _ => u.port_or_known_default(),
    });
    Some((scheme, u.host_str().unwrap_or_default().to_ascii_lowercase(), port))
}

/// Whether `camera`'s stored password may go to `url`: it is one of the addresses it was stored for.
fn stored_password_may_go_to(camera: &CameraConfig, url: &str) -> bool {
    let Some(target) = origin(url) else { return false };
    std::iter::once(camera.url.as_str()).chain(camera.sub_url.as_deref()).any(|u| origin(u).as_ref() == Some(&target))
}

/// The 400 for a stored password pointed at another address.
fn password_needed_again() -> ApiError {
    ApiError::bad_field(
        "password",
        "password: enter the password again for the new address (a stored password is only sent to the \
         scheme, host and port it was stored for)",
    )
}

fn opt_text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn duration(field: &str, v: &Option<String>, keep: std::time::Duration) -> Result<std::time::Duration, ApiError> {
    match opt_text(v) {
        None => Ok(keep),
        Some(t) => kw_config::parse_duration(t).map_err(|e| ApiError::bad_field(field, format!("{field}: {e}"))),
    }
}

/// Applies `form` on top of `base` (the stored camera, or defaults for a new one).
fn apply_form(mut base: CameraConfig, form: CameraForm) -> Result<CameraConfig, ApiError> {
    let name = form.name.trim().to_owned();
    if !valid_name(&name) {
        return Err(ApiError::bad_field("name", "name: use a-z, 0-9 and - only (it appears in URLs)"));
    }
    let url = form.url.trim();
    if url.is_empty() {
        return Err(ApiError::bad_field("url", "url: the camera's address is missing"));
    }
    let stored = base.url_with_credentials();
    let typed = SourceUrl::new(url, None, None);
    if url::Url::parse(&typed.url).is_err() {
        return Err(ApiError::bad_field("url", format!("url: {:?} is not a URL", kw_config::redacted_url(url))));
    }
    // The URLs as `settings` showed them come back unchanged: keep the stored ones with their secrets.
    let shown_sub = base.sub_url.as_deref().map(kw_config::redacted_url);
    let stored_camera = base.clone();
    let stored_sub = base.sub_url.take();
    base.name = name;
    base.url = if typed.url == kw_config::redacted_url(&stored.url) { stored.url } else { typed.url };
    base.username = opt_text(&form.username).map(str::to_owned).or(typed.username);
    let keeps_stored_password = form.password.is_none() && typed.password.is_none() && stored.password.is_some();
    base.password = match form.password.as_deref() {
        Some("") => None,
        Some(p) => Some(p.to_owned()),
        None => typed.password.or(stored.password),
    };
    base.sub_url = match opt_text(&form.sub_url) {
        Some(u) if Some(u) == shown_sub.as_deref() => stored_sub,
        u => u.map(str::to_owned),
    };
    if keeps_stored_password
        && !std::iter::once(base.url.as_str())
            .chain(base.sub_url.as_deref())
            .all(|u| stored_password_may_go_to(&stored_camera, u))
    {
        return Err(password_needed_again());
    }
    if let Some(f) = form.tls_fingerprint.as_deref() {
        base.tls_fingerprint = fingerprint(f)?;
    }
    if let Some(r) = opt_text(&form.record) {
        base.record = r.parse::<RecordMode>().map_err(|_| {
            ApiError::bad_field("record", format!("record: expected continuous, motion, off or objects, found {r:?}"))
        })?;
    }
    base.max_size = match opt_text(&form.max_size) {
        None => None,
        Some(t) => {
            Some(kw_config::parse_size(t).map_err(|e| ApiError::bad_field("max_size", format!("max_size: {e}")))?)
        }
    };
    base.max_age = match opt_text(&form.max_age) {
        None => None,
        Some(_) => Some(duration("max_age", &form.max_age, std::time::Duration::ZERO)?),
    };
    if let Some(m) = form.motion {
        let cur = &mut base.motion;
        if let Some(e) = m.enabled {
            cur.enabled = e;
        }
        if let Some(s) = m.sensitivity {
            if !(0.0..=1.0).contains(&s) {
                return Err(ApiError::bad_field("motion.sensitivity", "motion.sensitivity: must be between 0 and 1"));
            }
            cur.sensitivity = s;
        }
        cur.min_duration = duration("motion.min_duration", &m.min_duration, cur.min_duration)?;
        cur.pre_roll = duration("motion.pre_roll", &m.pre_roll, cur.pre_roll)?;
        cur.post_roll = duration("motion.post_roll", &m.post_roll, cur.post_roll)?;
        if let Some(k) = m.keyframes_only {
            cur.keyframes_only = k;
        }
        if let Some(zones) = m.zones {
            let mut out = Vec::with_capacity(zones.len());
            for (i, z) in zones.into_iter().enumerate() {
                let field = format!("motion.zones[{i}]");
                let kind = z.kind.parse::<ZoneKind>().map_err(|_| {
                    ApiError::bad_field(
                        &field,
                        format!("{field}.kind: expected include or exclude, found {:?}", z.kind),
                    )
                })?;
                if z.points.len() < 3 {
                    return Err(ApiError::bad_field(&field, format!("{field}: a zone needs at least three corners")));
                }
                if z.points.iter().flatten().any(|v| !(0.0..=1.0).contains(v)) {
                    return Err(ApiError::bad_field(&field, format!("{field}: corners must lie within 0..1")));
                }
                out.push(Zone {
                    name: opt_text(&z.name).map(str::to_owned).unwrap_or_else(|| format!("zone-{}", i + 1)),
                    kind,
                    points: z.points.into_iter().map(|[x, y]| (x, y)).collect(),
                });
            }
            cur.zones = out;
        }
    }
    if let Some(o) = form.objects {
        super::camera_objects::apply(&mut base.objects, o)?;
    }
    Ok(base)
}

/// A `tls_fingerprint` from a form or probe: `""` none, else `sha256:...` in its one spelling (400 otherwise).
fn fingerprint(text: &str) -> Result<Option<String>, ApiError> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse::<kw_camtls::Fingerprint>()
            .map(|f| Some(f.to_string()))
            .map_err(|e| ApiError::bad_field("tls_fingerprint", format!("tls_fingerprint: {e}"))),
    }
}

/// Turns a config validation error into a 400 naming the camera's field (`cameras[2].motion.zones` →
/// `motion.zones`).
pub(super) fn config_error(e: ConfigError) -> ApiError {
    match &e {
        ConfigError::Invalid(d) if !d.is_empty() => {
            let key = &d[0].key;
            let field = key.split_once("].").map(|(_, f)| f.to_owned()).unwrap_or_else(|| key.clone());
            ApiError::bad_field(field, format!("{}: {}", d[0].key, d[0].message))
        }
        ConfigError::NoSuchCamera(n) => ApiError::not_found(format!("no camera {n:?} in the config")),
        ConfigError::Io { .. } => ApiError::internal(e),
        _ => ApiError::bad_request(e.to_string()),
    }
}

/// Loads the config file, lets `change` edit it, saves it and has the daemon apply it. Serialized. The
/// notifier editor ([`super::notify_admin`]) edits through this too.
pub(super) async fn edit_config<T: Send + 'static>(
    st: &Shared,
    change: impl FnOnce(&mut ConfigDoc) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let _one_at_a_time = st.config_edit.lock().await;
    let path = st.config_path.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut doc = ConfigDoc::load(&path).map_err(|e| match e {
            ConfigError::Io { .. } => ApiError::internal(e),
            e => {
                ApiError::new(StatusCode::CONFLICT, format!("the config file has an error; fix it by hand first: {e}"))
            }
        })?;
        let out = change(&mut doc)?;
        doc.save(&path).map_err(config_error)?;
        let saved = doc.config().map_err(config_error)?;
        Ok::<_, ApiError>((out, saved))
    })
    .await??;
    let (out, saved) = out;
    st.config_changed.notify_one();
    wait_applied(st, &saved).await;
    Ok(out)
}

/// How long an edit waits for the daemon to publish it (it is nudged, so this is normally milliseconds).
const APPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until the effective config has taken in `saved`, so the answer to an edit (and the next read)
/// shows what was written; after [`APPLY_WAIT`] it answers anyway (the edit is saved; it applies soon).
async fn wait_applied(st: &Shared, saved: &kw_config::Config) {
    let mut rx = st.config.clone();
    let waited = tokio::time::timeout(APPLY_WAIT, rx.wait_for(|c| crate::config_watch::takes_in(c, saved))).await;
    if waited.is_err() {
        tracing::warn!("a config edit was saved but not applied within {} s", APPLY_WAIT.as_secs());
    }
}

/// The effective config (what runs); the file is only read to edit it.
fn current_config(st: &Shared) -> crate::config_watch::Effective {
    st.config.borrow().clone()
}

/// A camera's settings as stored in the config (admin).
#[utoipa::path(get, path = "/api/cameras/{name}/config", tag = "cameras", security(("session" = []), ("token" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = CameraSettings), (status = 403), (status = 404)))]
pub async fn get_config(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<CameraSettings>, ApiError> {
    require_admin(&p)?;
    let cfg = current_config(&st);
    let cam = cfg.camera(&name).ok_or_else(|| ApiError::not_found(format!("no camera {name:?} in the config")))?;
    Ok(Json(settings(cam)))
}

/// Adds a camera to the config file; it starts within a moment (admin).
#[utoipa::path(post, path = "/api/cameras", tag = "cameras", security(("session" = []), ("token" = [])),
    request_body = CameraForm,
    responses((status = 201, body = CameraSettings), (status = 400), (status = 403), (status = 409)))]
pub async fn add(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Json(form): Json<CameraForm>,
) -> Result<(StatusCode, Json<CameraSettings>), ApiError> {
    require_admin(&p)?;
    let cam = apply_form(CameraConfig::new("", ""), form)?;
    tracing::info!(camera = %cam.name, by = %p.name, "camera added through the API");
    let saved = edit_config(&st, move |doc| {
        let cfg = doc.config().map_err(config_error)?;
        if cfg.camera(&cam.name).is_some() {
            return Err(ApiError::new(StatusCode::CONFLICT, format!("a camera named {:?} exists already", cam.name)));
        }
        doc.upsert_camera(&cam).map_err(config_error)?;
        Ok(settings(&cam))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Changes a camera in the config file (renaming it too, when `name` differs); applied live (admin).
#[utoipa::path(put, path = "/api/cameras/{name}", tag = "cameras", security(("session" = []), ("token" = [])),
    params(("name" = String, Path)), request_body = CameraForm,
    responses((status = 200, body = CameraSettings), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn update(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Json(form): Json<CameraForm>,
) -> Result<Json<CameraSettings>, ApiError> {
    require_admin(&p)?;
    if !valid_name(&name) {
        return Err(ApiError::not_found("no such camera (names are a-z, 0-9 and -)"));
    }
    let by = p.name.clone();
    let saved = edit_config(&st, move |doc| {
        let cfg = doc.config().map_err(config_error)?;
        let base = cfg.camera(&name).cloned().ok_or_else(|| ApiError::not_found(format!("no camera {name:?}")))?;
        let cam = apply_form(base, form)?;
        if cam.name != name && cfg.camera(&cam.name).is_some() {
            return Err(ApiError::new(StatusCode::CONFLICT, format!("a camera named {:?} exists already", cam.name)));
        }
        doc.update_camera(&name, &cam).map_err(config_error)?;
        tracing::info!(camera = %cam.name, by = %by, "camera changed through the API");
        Ok(settings(&cam))
    })
    .await?;
    Ok(Json(saved))
}

/// Removes a camera from the config file; its recordings stay until retention removes them (admin).
#[utoipa::path(delete, path = "/api/cameras/{name}", tag = "cameras", security(("session" = []), ("token" = [])),
    params(("name" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    if !valid_name(&name) {
        return Err(ApiError::not_found("no such camera (names are a-z, 0-9 and -)"));
    }
    let by = p.name.clone();
    edit_config(&st, move |doc| {
        doc.remove_camera(&name).map_err(config_error)?;
        tracing::info!(camera = %name, by = %by, "camera removed through the API");
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tests a camera address: codec, resolution and a first picture, or exactly why it failed (admin).
/// Takes up to 10 s per stream (the sub-stream is tried after the main one).
#[utoipa::path(post, path = "/api/cameras/probe", tag = "cameras", security(("session" = []), ("token" = [])),
    request_body = ProbeRequest,
    responses((status = 200, body = crate::probe::ProbeResult), (status = 403)))]
pub async fn probe(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Json(req): Json<ProbeRequest>,
) -> Result<Json<crate::probe::ProbeResult>, ApiError> {
    require_admin(&p)?;
    let typed = SourceUrl::new(req.url.trim(), None, None);
    let mut username = opt_text(&req.username).map(str::to_owned).or(typed.username);
    let mut password = req.password.clone().filter(|p| !p.is_empty()).or(typed.password);
    let sub = opt_text(&req.sub_url).map(|u| SourceUrl::new(u, None, None));
    let mut pin = match req.tls_fingerprint.as_deref() {
        Some(f) => fingerprint(f)?,
        None => None,
    };
    if let Some(cam) = req.camera.as_deref().filter(|c| valid_name(c)) {
        if req.tls_fingerprint.is_none() {
            pin = current_config(&st).camera(cam).and_then(|c| c.tls_fingerprint.clone());
        }
        if req.password.is_none() && password.is_none() {
            let cfg = current_config(&st);
            if let Some(c) = cfg.camera(cam) {
                let stored = c.url_with_credentials();
                if stored.password.is_some() {
                    // The stored password goes where it was stored for, or nowhere.
                    let sub_takes_it = sub.as_ref().filter(|s| s.password.is_none()).map(|s| s.url.as_str());
                    if !std::iter::once(typed.url.as_str()).chain(sub_takes_it).all(|u| stored_password_may_go_to(c, u))
                    {
                        return Err(password_needed_again());
                    }
                }
                password = stored.password;
                username = username.or(stored.username);
            }
        }
    }
    let timeout = crate::probe::PROBE_TIMEOUT;
    // The first picture is decoded under the same cap as snapshot.jpg's decodes.
    let turn: crate::probe::WaitForTurn<'_> = Box::pin(async {
        let pass = super::media::decode_pass(&st, &p).await.map_err(|e| e.message)?;
        Ok(Box::new(pass) as crate::probe::DecodeTurn)
    });
    let login = crate::probe::Login {
        username: username.as_deref(),
        password: password.as_deref(),
        tls_fingerprint: pin.as_deref(),
    };
    let mut r = crate::probe::probe(&typed.url, login, timeout, Some(turn)).await;
    // One after the other, never at once: cheap cameras allow only one or two sessions. No picture.
    if let Some(s) = sub {
        let (u, pw) = (s.username.or(username.clone()), s.password.or(password.clone()));
        let login =
            crate::probe::Login { username: u.as_deref(), password: pw.as_deref(), tls_fingerprint: pin.as_deref() };
        r.sub = Some(crate::probe::probe(&s.url, login, timeout, None).await.into());
    }
    tracing::info!(url = %kw_config::redacted_url(&typed.url), ok = r.ok, "camera probe");
    Ok(Json(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(url: &str, sub_url: Option<&str>) -> CameraForm {
        CameraForm {
            name: "gate".into(),
            url: url.into(),
            sub_url: sub_url.map(str::to_owned),
            username: None,
            password: None,
            record: None,
            max_size: None,
            max_age: None,
            motion: None,
            tls_fingerprint: None,
            objects: None,
        }
    }

    #[test]
    fn a_stored_password_goes_only_where_it_was_stored_for() {
        let mut c = CameraConfig::new("gate", "rtsp://cam.lan/main");
        c.sub_url = Some("rtsp://cam.lan:8554/sub".into());
        c.password = Some("s3cret".into());
        assert!(stored_password_may_go_to(&c, "rtsp://CAM.lan:554/other-path"));
        assert!(stored_password_may_go_to(&c, "rtsp://u:p@cam.lan:8554/x"));
        assert!(!stored_password_may_go_to(&c, "rtsp://other.lan/main"));
        assert!(!stored_password_may_go_to(&c, "rtsp://cam.lan:555/main"));
        assert!(!stored_password_may_go_to(&c, "rtsps://cam.lan/main"));
        assert!(!stored_password_may_go_to(&c, "not a url"));
        assert_eq!(origin("onvif://h"), origin("onvif://h:80/onvif/device_service"));
        assert_eq!(origin("http://h/a"), origin("http://h:80/b"));
        // A PUT that moves the camera elsewhere without the password: refused, naming the field.
        let e = apply_form(c.clone(), form("rtsp://other.lan/main", Some("rtsp://cam.lan:8554/sub"))).err().unwrap();
        assert_eq!(e.field.as_deref(), Some("password"), "{}", e.message);
        assert!(e.message.contains("enter the password again"), "{}", e.message);
        // ... or only its sub-stream elsewhere.
        assert!(apply_form(c.clone(), form("rtsp://cam.lan/main", Some("rtsp://evil.lan/sub"))).is_err());
        // With the password sent again, or removed, or at the same address: taken.
        let mut again = form("rtsp://other.lan/main", None);
        again.password = Some("new".into());
        assert_eq!(apply_form(c.clone(), again).unwrap().password.as_deref(), Some("new"));
        let mut removed = form("rtsp://other.lan/main", None);
        removed.password = Some(String::new());
        assert_eq!(apply_form(c.clone(), removed).unwrap().password, None);
        let kept = apply_form(c.clone(), form("rtsp://cam.lan:554/main2", None)).unwrap();
        assert_eq!(kept.password.as_deref(), Some("s3cret"));
        // In the URL's userinfo counts as sent.
        assert!(apply_form(c, form("rtsp://admin:typed@other.lan/main", None)).is_ok());
    }

    #[test]
    fn secrets_in_urls_are_not_shown_and_survive_a_round_trip() {
        let mut c = CameraConfig::new("gate", "http://cam/snapshot.cgi?user=admin&pwd=s3cret");
        c.sub_url = Some("rtsp://admin:subpw@cam/sub".into());
        let shown = settings(&c);
        assert!(!shown.url.contains("s3cret") && !shown.sub_url.as_deref().unwrap_or_default().contains("subpw"));
        // The form sent back as shown: the stored URLs stay as they were.
        let kept = apply_form(c.clone(), form(&shown.url, shown.sub_url.as_deref())).unwrap();
        assert_eq!(kept.url, c.url);
        assert_eq!(kept.sub_url, c.sub_url);
        // A changed URL is taken as typed.
        let changed =
            apply_form(c, form("http://cam/snapshot.cgi?user=admin&pwd=new", Some("rtsp://cam/sub2"))).unwrap();
        assert_eq!(changed.url, "http://cam/snapshot.cgi?user=admin&pwd=new");
        assert_eq!(changed.sub_url.as_deref(), Some("rtsp://cam/sub2"));
    }
}
