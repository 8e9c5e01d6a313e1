//! The admin API that edits alerts: notifiers (`GET /api/notifiers/{name}/config`, `POST /api/notifiers`,
//! `PUT`/`DELETE /api/notifiers/{name}`), a test of a notifier as typed (`POST /api/alerts/test`) and the
//! `[alerts]` settings (`GET`/`PUT /api/alerts`: the home-mode schedule and `public_url`).
//!
//! Why it is shaped this way: as for cameras (see [`super::camera_admin`]), the config file stays the one
//! source of truth; edits go through the same serialized load-change-validate-save and wait until the daemon
//! runs them. Values are written as typed and judged by the config's own rules, so a 400 names the key the
//! config reader names (`notify[1].target` → `"field": "target"`), and a refused edit writes nothing.
//!
//! Secrets are write-only. A target's password is shown as `***` (`mqtt://ha:***@broker:1883`); sending the
//! target back as shown keeps it, `password` replaces it (`""` removes it). A stored password goes only to the
//! scheme, host and port it was stored for: a target that points elsewhere but still says `***` is refused
//! (400 on `password`). The webhook `secret` answers only `has_secret`; left out it is kept, `""` removes it.

use super::auth::require_admin;
use super::camera_admin::{config_error, edit_config};
use super::cameras::valid_name;
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kw_auth::Principal;
use kw_config::{NotifierEdit, NotifyConfig};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a secret looks like in an answer.
const SHOWN: &str = "***";
/// Most cameras, event kinds or recipients a form may list.
pub(super) const MAX_LIST: usize = 256;
/// Longest text a form field may hold.
pub(super) const MAX_TEXT: usize = 2048;

/// A notifier's settings as the editor shows them (never a password or secret).
#[derive(Serialize, ToSchema)]
pub struct NotifierSettings {
    pub name: String,
    /// `mqtt`, `webhook`, `email` or `ntfy`
    pub kind: String,
    /// The target with its password and secret query values as `***`.
    pub target: String,
    /// The target carries a password.
    pub has_password: bool,
    /// Webhook: an HMAC secret is stored.
    pub has_secret: bool,
    /// null: all cameras
    pub cameras: Option<Vec<String>>,
    /// null: all event kinds
    pub events: Option<Vec<String>>,
    /// e.g. `30s`
    pub cooldown: String,
    pub discovery_prefix: Option<String>,
    pub commands: bool,
    pub from: Option<String>,
    pub to: Vec<String>,
}

/// What `POST /api/notifiers`, `PUT /api/notifiers/{name}` and `POST /api/alerts/test` take. A `PUT`
/// replaces every setting but the secrets: `password` and `secret` left out (or null) keep the stored ones.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifierForm {
    pub name: String,
    pub kind: String,
    pub target: String,
    /// Replaces the password in the target's user info; `""` removes it.
    pub password: Option<String>,
    /// Webhook HMAC key; `""` removes it.
    pub secret: Option<String>,
    pub cameras: Option<Vec<String>>,
    pub events: Option<Vec<String>>,
    pub cooldown: Option<String>,
    pub discovery_prefix: Option<String>,
    pub commands: Option<bool>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// `POST /api/alerts/test` only: an existing notifier whose stored secrets fill in those left out.
    pub notifier: Option<String>,
}

/// `[alerts]`: when `home` mode sends motion alerts, and the address links in alerts point to.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// e.g. `mon-fri 08:00-17:00; sat,sun 10:00-12:00`; null or `""`: none
    pub schedule: Option<String>,
    /// e.g. `https://nvr.example.org`; null or `""`: none
    pub public_url: Option<String>,
}

/// The answer of a test: always 200 (a notifier's, and an off-site target's round trip).
#[derive(Serialize, ToSchema)]
pub struct NotifierTest {
    pub ok: bool,
    /// What the delivery answered.
    pub result: Option<String>,
    /// `auth`, `tls`, `unreachable`, `timeout`, `invalid`, `failed`, or (off-site) `bucket`
    pub kind: Option<String>,
    /// The exact error.
    pub error: Option<String>,
    /// The form field an `invalid` answer is about.
    pub field: Option<String>,
}

fn settings(n: &NotifyConfig) -> NotifierSettings {
    NotifierSettings {
        name: n.name.clone(),
        kind: n.kind.as_str().to_owned(),
        target: kw_config::redacted_url(&n.target),
        has_password: url::Url::parse(&n.target).is_ok_and(|u| u.password().is_some()),
        has_secret: n.secret.is_some(),
        cameras: n.cameras.clone(),
        events: n.events.as_ref().map(|e| e.iter().map(|k| k.as_str().to_owned()).collect()),
        cooldown: kw_config::format_duration(n.cooldown),
        discovery_prefix: n.discovery_prefix.clone(),
        commands: n.commands,
        from: n.from.clone(),
        to: n.to.clone(),
    }
}

/// Scheme, host and port (the scheme's usual one when none is written).
fn origin(u: &url::Url) -> (String, String, Option<u16>) {
    let scheme = u.scheme().to_ascii_lowercase();
    let port = u.port().or(match scheme.as_str() {
        "mqtt" => Some(1883),
        "mqtts" => Some(8883),
        "smtp" => Some(25),
        "smtps" => Some(465),
        _ => u.port_or_known_default(),
    });
    (scheme, u.host_str().unwrap_or_default().to_ascii_lowercase(), port)
}

/// The target to write: `typed` as the admin sent it, with the stored secrets where it shows `***` (only
/// for the address they were stored for) and `password` applied.
fn merge_target(stored: Option<&str>, typed: &str, password: Option<&str>) -> Result<String, ApiError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(ApiError::bad_field("target", "target: where to deliver is missing"));
    }
    let mut target = match stored {
        Some(s) if typed == kw_config::redacted_url(s) => s.to_owned(),
        _ => typed.to_owned(),
    };
    if target.contains(SHOWN) {
        let mut u = url::Url::parse(&target)
            .map_err(|_| ApiError::bad_field("target", "target: type the secrets shown as *** again"))?;
        if u.password() == Some(SHOWN) {
            let kept = stored.and_then(|s| url::Url::parse(s).ok()).filter(|s| origin(s) == origin(&u));
            let Some(pw) = kept.as_ref().and_then(|s| s.password()) else {
                return Err(ApiError::bad_field(
                    "password",
                    "password: enter the password again for the new address (a stored password is only sent to \
                     the scheme, host and port it was stored for)",
                ));
            };
            let _ = u.set_password(Some(pw));
        }
        target = u.to_string();
        if target.contains(SHOWN) {
            return Err(ApiError::bad_field("target", "target: type the secrets shown as *** again"));
        }
    }
    if let Some(pw) = password {
        let mut u = url::Url::parse(&target)
            .map_err(|_| ApiError::bad_field("target", "target: a password needs a target URL"))?;
        if pw.is_empty() {
            let _ = u.set_password(None);
        } else {
            if u.username().is_empty() {
                return Err(ApiError::bad_field(
                    "password",
                    "password: put the user name into the target (mqtt://user@host) to use a password",
                ));
            }
            u.set_password(Some(pw))
                .map_err(|_| ApiError::bad_field("password", "password: this target cannot carry a password"))?;
        }
        target = u.to_string();
    }
    Ok(target)
}

/// A trimmed text field, bounded; empty is none. Shared with the off-site editor.
pub(super) fn text(field: &str, v: &Option<String>) -> Result<Option<String>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.len() > MAX_TEXT => Err(ApiError::bad_field(field, format!("{field}: at most {MAX_TEXT} bytes"))),
        s => Ok(s.map(str::to_owned)),
    }
}

/// A list field, bounded in count and length, entries trimmed and empty ones dropped.
pub(super) fn list(field: &str, v: &Option<Vec<String>>) -> Result<Option<Vec<String>>, ApiError> {
    match v {
        Some(l) if l.len() > MAX_LIST => {
            Err(ApiError::bad_field(field, format!("{field}: at most {MAX_LIST} entries")))
        }
        Some(l) if l.iter().any(|s| s.len() > MAX_TEXT) => {
            Err(ApiError::bad_field(field, format!("{field}: an entry is too long")))
        }
        Some(l) => Ok(Some(l.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())),
        None => Ok(None),
    }
}

/// The edit a form asks for, on top of `stored` (the notifier as it is, for a `PUT` or a test of one).
fn apply_form(stored: Option<&NotifyConfig>, form: &NotifierForm) -> Result<NotifierEdit, ApiError> {
    let name = form.name.trim().to_owned();
    if !valid_name(&name) {
        return Err(ApiError::bad_field("name", "name: use a-z, 0-9 and - only"));
    }
    if form.target.len() > MAX_TEXT || form.password.as_ref().is_some_and(|p| p.len() > MAX_TEXT) {
        return Err(ApiError::bad_field("target", format!("target: at most {MAX_TEXT} bytes")));
    }
    let target = merge_target(stored.map(|s| s.target.as_str()), &form.target, form.password.as_deref())?;
    let secret = match form.secret.as_deref() {
        Some("") => None,
        Some(s) if s.len() > MAX_TEXT => return Err(ApiError::bad_field("secret", "secret: too long")),
        Some(s) => Some(s.to_owned()),
        None => stored.and_then(|s| s.secret.clone()),
    };
    let kind = form.kind.trim().to_owned();
    // Keys of other kinds (left in the form after switching kind) would make the file invalid: dropped.
    let (mqtt, webhook, email) = (kind == "mqtt", kind == "webhook", kind == "email");
    Ok(NotifierEdit {
        name,
        kind,
        target,
        cameras: list("cameras", &form.cameras)?.filter(|c| !c.is_empty()),
        events: list("events", &form.events)?.filter(|e| !e.is_empty()),
        cooldown: text("cooldown", &form.cooldown)?,
        discovery_prefix: text("discovery_prefix", &form.discovery_prefix)?.filter(|_| mqtt),
        commands: form.commands.filter(|c| *c && mqtt),
        secret: secret.filter(|_| webhook),
        from: text("from", &form.from)?.filter(|_| email),
        to: list("to", &Some(form.to.clone()))?.unwrap_or_default().into_iter().filter(|_| email).collect(),
    })
}

fn camera_names(st: &Shared) -> Vec<String> {
    st.config.borrow().cameras.iter().map(|c| c.name.clone()).collect()
}

fn stored(st: &Shared, name: &str) -> Option<NotifyConfig> {
    st.config.borrow().notify.iter().find(|n| n.name == name).cloned()
}

/// After an edit: the notifier as the daemon runs it (or as written, should it not run it yet).
fn answer(st: &Shared, edit: &NotifierEdit) -> Result<NotifierSettings, ApiError> {
    match stored(st, &edit.name) {
        Some(n) => Ok(settings(&n)),
        None => Ok(settings(&edit.validate(&camera_names(st)).map_err(config_error)?)),
    }
}

/// A notifier's settings as the config has them (admin).
#[utoipa::path(get, path = "/api/notifiers/{name}/config", tag = "admin", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])),
    responses((status = 200, body = NotifierSettings), (status = 403), (status = 404)))]
pub async fn get_config(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<NotifierSettings>, ApiError> {
    require_admin(&p)?;
    let n = stored(&st, &name).ok_or_else(|| ApiError::not_found(format!("no notifier {name:?}")))?;
    Ok(Json(settings(&n)))
}

/// Adds a notifier to the config file (admin); 409 when the name is taken.
#[utoipa::path(post, path = "/api/notifiers", tag = "admin", security(("session" = []), ("token" = [])),
    request_body = NotifierForm,
    responses((status = 201, body = NotifierSettings), (status = 400, description = "names the field"), (status = 403), (status = 409)))]
pub async fn add(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NotifierForm>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<NotifierSettings>), ApiError> {
    require_admin(&p)?;
    let Json(form) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if stored(&st, form.name.trim()).is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("a notifier {:?} exists already", form.name.trim())));
    }
    let edit = apply_form(None, &form)?;
    let (e, by) = (edit.clone(), p.name.clone());
    edit_config(&st, move |doc| {
        doc.upsert_notifier(None, &e).map_err(config_error)?;
        tracing::info!(notifier = %e.name, by = %by, "notifier added through the API");
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(answer(&st, &edit)?)))
}

/// Changes a notifier (admin); a different `name` renames it.
#[utoipa::path(put, path = "/api/notifiers/{name}", tag = "admin", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), request_body = NotifierForm,
    responses((status = 200, body = NotifierSettings), (status = 400, description = "names the field"), (status = 403), (status = 404)))]
pub async fn update(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<NotifierForm>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<NotifierSettings>, ApiError> {
    require_admin(&p)?;
    let Json(form) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let old = stored(&st, &name).ok_or_else(|| ApiError::not_found(format!("no notifier {name:?}")))?;
    let edit = apply_form(Some(&old), &form)?;
    let (e, by) = (edit.clone(), p.name.clone());
    edit_config(&st, move |doc| {
        doc.upsert_notifier(Some(&name), &e).map_err(config_error)?;
        tracing::info!(notifier = %e.name, by = %by, "notifier changed through the API");
        Ok(())
    })
    .await?;
    Ok(Json(answer(&st, &edit)?))
}

/// Removes a notifier from the config file (admin); its undelivered alerts are dropped.
#[utoipa::path(delete, path = "/api/notifiers/{name}", tag = "admin", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    if stored(&st, &name).is_none() {
        return Err(ApiError::not_found(format!("no notifier {name:?}")));
    }
    let by = p.name.clone();
    edit_config(&st, move |doc| {
        doc.remove_notifier(&name).map_err(config_error)?;
        tracing::info!(notifier = %name, by = %by, "notifier removed through the API");
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What kind of failure a delivery error is, for the editor's headline (the exact message goes with it).
/// The off-site editor classifies through this too.
pub(super) fn classify(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if any(&["certificate", "tls", "handshake", "ssl", "x509"]) {
        "tls"
    } else if any(&["auth", "not authorized", "notauthorized", "password", "credentials", "535", " 401", " 403"]) {
        "auth"
    } else if any(&["timed out", "timeout", "no answer within"]) {
        "timeout"
    } else if any(&["refused", "unreachable", "resolve", "dns", "no route", "connect", "lookup", "reset"]) {
        "unreachable"
    } else {
        "failed"
    }
}

/// Sends a test alert through a notifier as typed, before it is saved (admin); always 200.
#[utoipa::path(post, path = "/api/alerts/test", tag = "admin", security(("session" = []), ("token" = [])),
    request_body = NotifierForm, responses((status = 200, body = NotifierTest), (status = 403)))]
pub async fn test(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NotifierForm>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<NotifierTest>, ApiError> {
    require_admin(&p)?;
    let Json(form) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let invalid = |e: ApiError| NotifierTest {
        ok: false,
        result: None,
        kind: Some("invalid".into()),
        error: Some(e.message),
        field: e.field,
    };
    let old = form.notifier.as_deref().and_then(|n| stored(&st, n));
    let checked = apply_form(old.as_ref(), &form).and_then(|e| e.validate(&camera_names(&st)).map_err(config_error));
    let cfg = match checked {
        Ok(c) => c,
        Err(e) => return Ok(Json(invalid(e))),
    };
    let r = st.alerts.test_config(&cfg).await;
    tracing::info!(notifier = %cfg.name, target = %kw_config::redacted_url(&cfg.target), ok = r.is_ok(), "notifier test");
    Ok(Json(match r {
        Ok(result) => NotifierTest { ok: true, result: Some(result), kind: None, error: None, field: None },
        Err(e) => {
            let error = e.to_string();
            NotifierTest {
                ok: false,
                result: None,
                kind: Some(classify(&error).into()),
                error: Some(error),
                field: None,
            }
        }
    }))
}

/// The home-mode schedule and `public_url` (admin).
#[utoipa::path(get, path = "/api/alerts", tag = "admin", security(("session" = []), ("token" = [])),
    responses((status = 200, body = AlertSettings), (status = 403)))]
pub async fn get_alerts(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Json<AlertSettings>, ApiError> {
    require_admin(&p)?;
    let a = st.config.borrow().alerts.clone();
    Ok(Json(AlertSettings { schedule: a.schedule, public_url: a.public_url }))
}

/// Sets the home-mode schedule and `public_url` (admin); null or `""` removes one.
#[utoipa::path(put, path = "/api/alerts", tag = "admin", security(("session" = []), ("token" = [])),
    request_body = AlertSettings,
    responses((status = 200, body = AlertSettings), (status = 400, description = "names the field"), (status = 403)))]
pub async fn put_alerts(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Json<AlertSettings>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<AlertSettings>, ApiError> {
    require_admin(&p)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let schedule = text("schedule", &b.schedule)?;
    let public_url = text("public_url", &b.public_url)?;
    let by = p.name.clone();
    edit_config(&st, move |doc| {
        doc.set_alerts(schedule.as_deref(), public_url.as_deref()).map_err(config_error)?;
        tracing::info!(by = %by, "alert settings changed through the API");
        Ok(())
    })
    .await?;
    let a = st.config.borrow().alerts.clone();
    Ok(Json(AlertSettings { schedule: a.schedule, public_url: a.public_url }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_passwords_stay_with_their_address() {
        let url = "mqtt://ha:s3cret@10.0.0.5:1883";
        let stored = Some(url);
        let shown = kw_config::redacted_url(url);
        assert_eq!(shown, "mqtt://ha:***@10.0.0.5:1883");
        assert_eq!(merge_target(stored, &shown, None).unwrap(), url);
        // Same address, another path or user: the password is kept.
        assert_eq!(merge_target(stored, "mqtt://ha:***@10.0.0.5", None).unwrap(), "mqtt://ha:s3cret@10.0.0.5");
        // Another host with *** is refused; a new password is fine.
        let e = merge_target(stored, "mqtt://ha:***@evil.example:1883", None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("password"));
        assert_eq!(
            merge_target(stored, "mqtt://ha@evil.example:1883", Some("new")).unwrap(),
            "mqtt://ha:new@evil.example:1883"
        );
        assert_eq!(merge_target(stored, &shown, Some("")).unwrap(), "mqtt://ha@10.0.0.5:1883");
        assert_eq!(merge_target(None, "mqtt://10.0.0.5", Some("x")).unwrap_err().field.as_deref(), Some("password"));
        assert_eq!(merge_target(None, "  ", None).unwrap_err().field.as_deref(), Some("target"));
        let e = merge_target(Some("https://ntfy.sh/t?auth=abc"), "https://ntfy.sh/u?auth=***", None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("target"));
    }

    #[test]
    fn failures_are_classified() {
        assert_eq!(classify("mqtt mqtt://x: Connection refused, return code: `NotAuthorized`"), "auth");
        assert_eq!(classify("email smtp://x: permanent error (535): authentication failed"), "auth");
        assert_eq!(classify("webhook https://x: invalid peer certificate: UnknownIssuer"), "tls");
        assert_eq!(classify("webhook http://127.0.0.1:9: Connection refused (os error 111)"), "unreachable");
        assert_eq!(classify("mqtt mqtt://x: no answer within 15 s"), "timeout");
    }
}
