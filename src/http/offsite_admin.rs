//! The admin API that edits off-site targets: `GET /api/offsite` (the `[[offsite]]` entries as
//! configured), `POST /api/offsite`, `PUT`/`DELETE /api/offsite/{name}`, and `POST /api/offsite/{name}/test`
//! (a real round trip: a small encrypted object written to the target and removed again).
//!
//! Why it is shaped this way: like the notifier editor ([`super::notify_admin`]) it edits the config file
//! through the one serialized load-change-validate-save ([`super::camera_admin`]'s `edit_config`), values
//! are judged by the config's own rules (a 400 names the field, nothing is written), and a test answers
//! what the target said, classified for a headline (auth, unreachable, TLS, bucket missing).
//!
//! Credentials never go into the config file: a key and secret typed into the form are written to
//! `offsite-<name>.toml` beside the config (0600, the format `credentials_file` reads) and the entry names
//! that file. Answers only say whether credentials are set. Left out, the stored ones are kept, but only
//! for the address they were stored for: pointing a target elsewhere needs the secret typed again (400 on
//! `secret`), so an edit cannot send a stored WebDAV password to a host of the editor's choosing.

use super::auth::require_admin;
use super::camera_admin::{config_error, edit_config};
use super::cameras::valid_name;
use super::notify_admin::{classify, list, text, NotifierTest, MAX_TEXT};
use super::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use kw_auth::Principal;
use kw_config::{OffsiteConfig, OffsiteEdit};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use utoipa::ToSchema;

/// Longest a test may take (connect, write, remove).
const TEST_TIMEOUT: Duration = Duration::from_secs(45);

/// An off-site target as configured (never a key or secret).
#[derive(Serialize, ToSchema)]
pub struct OffsiteSettings {
    pub name: String,
    /// `s3://bucket[/prefix]` or `webdav(s)://host/path`
    pub target: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: bool,
    /// Credentials are set (a credentials file, or the environment); the key and secret are never shown.
    pub credentials: bool,
    pub credentials_file: Option<String>,
    /// age recipients (`age1...`)
    pub recipients: Vec<String>,
    /// null: all cameras
    pub cameras: Option<Vec<String>>,
    /// null: motion and camera-motion
    pub events: Option<Vec<String>>,
    /// `clip`, `picture` or `both`
    pub what: String,
    /// e.g. `2Mbit`; null: no cap
    pub bandwidth: Option<String>,
    pub keep_count: Option<u64>,
    /// e.g. `30d`
    pub keep_age: Option<String>,
    pub hide_names: bool,
}

/// What `POST /api/offsite`, `PUT /api/offsite/{name}` and (optionally) the test take. A `PUT` replaces
/// every setting but the credentials: `key` and `secret` left out keep the stored ones.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffsiteForm {
    pub name: String,
    pub target: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    /// S3 access key id or WebDAV user; `""` with `secret` `""` removes the stored credentials.
    pub key: Option<String>,
    /// S3 secret key or WebDAV password (write-only).
    pub secret: Option<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    pub cameras: Option<Vec<String>>,
    pub events: Option<Vec<String>>,
    pub what: Option<String>,
    pub bandwidth: Option<String>,
    /// A whole number (or its text).
    #[schema(value_type = Option<u64>)]
    pub keep_count: Option<serde_json::Value>,
    pub keep_age: Option<String>,
    pub hide_names: Option<bool>,
}

/// What becomes of a target's credentials.
#[derive(Debug, PartialEq)]
enum Creds {
    /// The stored `credentials_file` (or the environment) stays.
    Keep,
    /// No credentials file: the environment.
    Remove,
    /// Write these into `offsite-<name>.toml`.
    Write(String, String),
}

/// The parts of a target its credentials were stored for: scheme and host of the target, the endpoint.
fn origin(target: &str, endpoint: Option<&str>) -> (String, String, String) {
    let (scheme, rest) = target.split_once("://").unwrap_or(("", target));
    let host = rest.split('/').next().unwrap_or_default();
    (scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), endpoint.unwrap_or_default().to_ascii_lowercase())
}

/// What the form asks of the credentials, given the stored target (`stored` = its settings and its
/// credentials, when it has any).
fn plan_credentials(
    stored: Option<(&OffsiteConfig, Option<(String, String)>)>,
    form: &OffsiteForm,
    new_origin: &(String, String, String),
) -> Result<Creds, ApiError> {
    let key = form.key.as_deref().map(str::trim).filter(|k| !k.is_empty());
    let secret = form.secret.as_deref().filter(|s| !s.is_empty());
    if key.is_some_and(|k| k.len() > MAX_TEXT) || secret.is_some_and(|s| s.len() > MAX_TEXT) {
        return Err(ApiError::bad_field("secret", format!("secret: at most {MAX_TEXT} bytes")));
    }
    if form.key.as_deref() == Some("") && form.secret.as_deref() == Some("") {
        return Ok(Creds::Remove);
    }
    let (cfg, kept) = match stored {
        Some((cfg, kept)) => (Some(cfg), kept),
        None => (None, None),
    };
    let moved = cfg.is_some_and(|c| origin(&c.target, c.endpoint.as_deref()) != *new_origin);
    let again = || {
        ApiError::bad_field(
            "secret",
            "secret: enter the secret again for the new address (stored credentials are only used with the \
             target and endpoint they were stored for)",
        )
    };
    match (key, secret, kept) {
        (Some(k), Some(s), _) => Ok(Creds::Write(k.to_owned(), s.to_owned())),
        (None, None, Some(_)) if moved => Err(again()),
        (None, None, _) => Ok(Creds::Keep),
        // One of the two typed: the other comes from what is stored, for the same address only.
        (_, _, Some(_)) if moved && secret.is_none() => Err(again()),
        (k, s, Some((old_k, old_s))) => {
            Ok(Creds::Write(k.map_or(old_k, str::to_owned), s.map_or(old_s, str::to_owned)))
        }
        (Some(_), None, None) => Err(ApiError::bad_field("secret", "secret: enter the secret that goes with the key")),
        (None, Some(_), None) => {
            Err(ApiError::bad_field("key", "key: enter the key (or user) that goes with the secret"))
        }
    }
}

/// `<config dir>/offsite-<name>.toml`: where the API keeps a target's credentials.
fn credentials_path(st: &Shared, name: &str) -> PathBuf {
    st.config_path.parent().unwrap_or(std::path::Path::new(".")).join(credentials_file_name(name))
}

fn credentials_file_name(name: &str) -> String {
    format!("offsite-{name}.toml")
}

/// A path as the config file should say it: relative when it is in the config's directory.
fn as_written(st: &Shared, path: &std::path::Path) -> String {
    let dir = st.config_path.parent().and_then(|d| std::path::absolute(d).ok());
    match dir.and_then(|d| path.strip_prefix(d).ok().map(|p| p.display().to_string())) {
        Some(rel) if !rel.is_empty() => rel,
        _ => path.display().to_string(),
    }
}

fn settings(o: &OffsiteConfig) -> OffsiteSettings {
    OffsiteSettings {
        name: o.name.clone(),
        target: o.target.clone(),
        endpoint: o.endpoint.clone(),
        region: o.region.clone(),
        path_style: o.path_style,
        credentials: kw_offsite::target::credentials(o).is_ok_and(|c| c.is_some()),
        credentials_file: o.credentials_file.as_ref().map(|p| p.display().to_string()),
        recipients: o.recipients.clone(),
        cameras: o.cameras.clone(),
        events: o.events.as_ref().map(|e| e.iter().map(|k| k.as_str().to_owned()).collect()),
        what: o.what.as_str().to_owned(),
        bandwidth: o.bandwidth.map(kw_config::format_bitrate),
        keep_count: o.keep_count,
        keep_age: o.keep_age.map(kw_config::format_duration),
        hide_names: o.hide_names,
    }
}

/// A config error as a 400 naming the form's field: `recipients[1]` is the `recipients` field.
fn field_error(e: kw_config::ConfigError) -> ApiError {
    let mut a = config_error(e);
    a.field = a.field.map(|f| f.split(['[', '.']).next().unwrap_or_default().to_owned());
    a
}

fn stored(st: &Shared, name: &str) -> Option<OffsiteConfig> {
    st.config.borrow().offsite.iter().find(|o| o.name == name).cloned()
}

fn camera_names(st: &Shared) -> Vec<String> {
    st.config.borrow().cameras.iter().map(|c| c.name.clone()).collect()
}

/// The edit a form asks for on top of `old` (a `PUT`, or a test of a stored target), and what becomes of
/// the credentials. A `Write` names `offsite-<name>.toml` in the edit.
fn apply_form(st: &Shared, old: Option<&OffsiteConfig>, form: &OffsiteForm) -> Result<(OffsiteEdit, Creds), ApiError> {
    let name = form.name.trim().to_owned();
    if !valid_name(&name) {
        return Err(ApiError::bad_field("name", "name: use a-z, 0-9 and - only"));
    }
    let target = text("target", &Some(form.target.clone()))?
        .ok_or_else(|| ApiError::bad_field("target", "target: where the copies go is missing"))?;
    let endpoint = text("endpoint", &form.endpoint)?;
    let kept = old.map(|o| (o, kw_offsite::target::credentials(o).ok().flatten()));
    let creds = plan_credentials(kept, form, &origin(&target, endpoint.as_deref()))?;
    let credentials_file = match &creds {
        Creds::Keep => old.and_then(|o| o.credentials_file.as_deref()).map(|p| as_written(st, p)),
        Creds::Remove => None,
        Creds::Write(..) => Some(credentials_file_name(&name)),
    };
    let keep_count = match &form.keep_count {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::String(s)) => text("keep_count", &Some(s.clone()))?,
        Some(_) => return Err(ApiError::bad_field("keep_count", "keep_count: expected a whole number")),
    };
    let recipients = list("recipients", &Some(form.recipients.clone()))?.unwrap_or_default();
    let edit = OffsiteEdit {
        name,
        target,
        endpoint,
        region: text("region", &form.region)?,
        path_style: form.path_style.unwrap_or(false),
        credentials_file,
        recipients,
        cameras: list("cameras", &form.cameras)?.filter(|c| !c.is_empty()),
        events: list("events", &form.events)?.filter(|e| !e.is_empty()),
        what: text("what", &form.what)?,
        bandwidth: text("bandwidth", &form.bandwidth)?,
        keep_count,
        keep_age: text("keep_age", &form.keep_age)?,
        hide_names: form.hide_names.unwrap_or(false),
    };
    Ok((edit, creds))
}

/// The credentials file of `o` when it is the one the API writes for it (`offsite-<name>.toml` beside the
/// config): only that one is removed when the target stops using it.
fn our_file(st: &Shared, o: &OffsiteConfig) -> Option<PathBuf> {
    let ours = std::path::absolute(credentials_path(st, &o.name)).ok()?;
    o.credentials_file.clone().filter(|f| *f == ours)
}

fn remove_file(file: &std::path::Path) {
    if let Err(e) = std::fs::remove_file(file) {
        tracing::warn!("cannot remove {}: {e}", file.display());
    }
}

/// Saves `edit` (in place of `old`) and, with it, the credentials file a `Write` asks for; the file the API
/// wrote for `old` goes when the target no longer uses it (renamed with new credentials, or none).
async fn save(
    st: &Shared,
    old: Option<&OffsiteConfig>,
    edit: &OffsiteEdit,
    creds: Creds,
    by: &str,
) -> Result<(), ApiError> {
    let path = credentials_path(st, &edit.name);
    let wrote = matches!(creds, Creds::Write(..));
    let existing = old.map(|o| o.name.clone());
    let stale = old.and_then(|o| our_file(st, o));
    let dir = st.config_path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let used = edit.credentials_file.as_ref().and_then(|f| std::path::absolute(dir.join(f)).ok());
    let (e, by) = (edit.clone(), by.to_owned());
    edit_config(st, move |doc| {
        doc.upsert_offsite(existing.as_deref(), &e).map_err(field_error)?;
        if let Creds::Write(key, secret) = &creds {
            // Only after the entry passed its check: a refused edit writes nothing.
            kw_config::write_atomically(&path, kw_config::credentials_toml(key, secret).as_bytes())
                .map_err(|err| ApiError::internal(format!("{}: {err}", path.display())))?;
        }
        if let Some(file) = stale.filter(|f| Some(f) != used.as_ref()) {
            remove_file(&file);
        }
        let action = if existing.is_some() { "changed" } else { "added" };
        tracing::info!(offsite = %e.name, by = %by, credentials = wrote, "off-site target {action} through the API");
        Ok(())
    })
    .await?;
    if wrote {
        // The entry may be unchanged while its credentials are new: the workers read them again.
        st.offsite.reopen.notify_one();
    }
    Ok(())
}

/// After an edit: the target as the daemon runs it (or as written, should it not run it yet).
fn answer(st: &Shared, edit: &OffsiteEdit) -> Result<OffsiteSettings, ApiError> {
    match stored(st, &edit.name) {
        Some(o) => Ok(settings(&o)),
        None => Ok(settings(&edit.validate(&camera_names(st)).map_err(field_error)?)),
    }
}

fn parse_form(
    body: Result<Json<OffsiteForm>, axum::extract::rejection::JsonRejection>,
) -> Result<OffsiteForm, ApiError> {
    body.map(|Json(f)| f).map_err(|e| ApiError::bad_request(e.body_text()))
}

/// The off-site targets as configured (admin).
#[utoipa::path(get, path = "/api/offsite", tag = "admin", security(("session" = []), ("token" = [])),
    responses((status = 200, body = Vec<OffsiteSettings>), (status = 403)))]
pub async fn get_all(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Vec<OffsiteSettings>>, ApiError> {
    require_admin(&p)?;
    let targets = st.config.borrow().offsite.clone();
    // Reading the credentials files is a little file I/O: off the reactor.
    let out = tokio::task::spawn_blocking(move || targets.iter().map(settings).collect()).await?;
    Ok(Json(out))
}

/// Adds an off-site target to the config file (admin); 409 when the name is taken.
#[utoipa::path(post, path = "/api/offsite", tag = "admin", security(("session" = []), ("token" = [])),
    request_body = OffsiteForm,
    responses((status = 201, body = OffsiteSettings), (status = 400, description = "names the field"), (status = 403), (status = 409)))]
pub async fn add(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Json<OffsiteForm>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<OffsiteSettings>), ApiError> {
    require_admin(&p)?;
    let form = parse_form(body)?;
    if stored(&st, form.name.trim()).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("an off-site target {:?} exists already", form.name.trim()),
        ));
    }
    let (edit, creds) = apply_form(&st, None, &form)?;
    save(&st, None, &edit, creds, &p.name).await?;
    Ok((StatusCode::CREATED, Json(answer(&st, &edit)?)))
}

/// Changes an off-site target (admin); a different `name` renames it.
#[utoipa::path(put, path = "/api/offsite/{name}", tag = "admin", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), request_body = OffsiteForm,
    responses((status = 200, body = OffsiteSettings), (status = 400, description = "names the field"), (status = 403), (status = 404)))]
pub async fn update(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<OffsiteForm>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<OffsiteSettings>, ApiError> {
    require_admin(&p)?;
    let form = parse_form(body)?;
    let old = stored(&st, &name).ok_or_else(|| ApiError::not_found(format!("no off-site target {name:?}")))?;
    let (edit, creds) = apply_form(&st, Some(&old), &form)?;
    save(&st, Some(&old), &edit, creds, &p.name).await?;
    Ok(Json(answer(&st, &edit)?))
}

/// Removes an off-site target from the config file (admin), with the credentials file the API wrote for
/// it; what it holds on the target stays there.
#[utoipa::path(delete, path = "/api/offsite/{name}", tag = "admin", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    let old = stored(&st, &name).ok_or_else(|| ApiError::not_found(format!("no off-site target {name:?}")))?;
    let ours = our_file(&st, &old);
    let by = p.name.clone();
    edit_config(&st, move |doc| {
        doc.remove_offsite(&name).map_err(config_error)?;
        if let Some(file) = ours {
            remove_file(&file);
        }
        tracing::info!(offsite = %name, by = %by, "off-site target removed through the API");
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What kind of failure an off-site error is: `bucket` (missing), S3's and WebDAV's refusals as `auth`, a
/// request that found no server as `unreachable`, else as for notifiers.
fn classify_offsite(message: &str) -> &'static str {
    // object_store names its retry settings in every error ("retry_timeout: 60s"): not a timeout.
    let m = message.to_ascii_lowercase().replace("retry_timeout", "");
    let any = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if any(&["nosuchbucket", "bucket does not exist"]) {
        "bucket"
    } else if any(&["invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied", "401 unauthorized"]) {
        "auth"
    } else if any(&["certificate", "tls", "handshake", "x509"]) {
        "tls"
    } else if m.contains("error sending request") {
        "unreachable"
    } else {
        classify(&m)
    }
}

/// Writes a small encrypted object to the target and removes it again (admin); always 200. Without a
/// body it tests the target as stored; with a form it tests the form as typed (the stored credentials fill
/// in those left out, for the same address only), so a new target can be tested before it is saved.
#[utoipa::path(post, path = "/api/offsite/{name}/test", tag = "admin", params(("name" = String, Path)),
    security(("session" = []), ("token" = [])), request_body(content = OffsiteForm, description = "optional"),
    responses((status = 200, body = NotifierTest), (status = 403), (status = 404)))]
pub async fn test(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<NotifierTest>, ApiError> {
    require_admin(&p)?;
    let old = stored(&st, &name);
    let failed = |kind: &str, error: String, field: Option<String>| NotifierTest {
        ok: false,
        result: None,
        kind: Some(kind.into()),
        error: Some(error),
        field,
    };
    let (cfg, creds) = if body.iter().all(u8::is_ascii_whitespace) {
        let cfg = old.ok_or_else(|| ApiError::not_found(format!("no off-site target {name:?}")))?;
        (cfg, None)
    } else {
        let form: OffsiteForm = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let checked = apply_form(&st, old.as_ref(), &form).and_then(|(edit, creds)| {
            let cfg = edit.validate(&camera_names(&st)).map_err(field_error)?;
            Ok((cfg, creds))
        });
        match checked {
            Ok((mut cfg, Creds::Write(k, s))) => {
                cfg.credentials_file = None;
                (cfg, Some(Some((k, s))))
            }
            Ok((mut cfg, Creds::Remove)) => {
                cfg.credentials_file = None;
                (cfg, None)
            }
            Ok((mut cfg, Creds::Keep)) => {
                // The stored file as resolved against the config's directory (the check alone knows none).
                cfg.credentials_file = old.as_ref().and_then(|o| o.credentials_file.clone());
                (cfg, None)
            }
            Err(e) => return Ok(Json(failed("invalid", e.message, e.field))),
        }
    };
    let probe = async {
        let target = match creds {
            Some(c) => kw_offsite::Target::open_with(&cfg, c)?,
            None => kw_offsite::Target::open(&cfg)?,
        };
        target.probe(&cfg.recipients).await
    };
    let r = tokio::time::timeout(TEST_TIMEOUT, probe).await;
    let answer = match r {
        Ok(Ok(object)) => NotifierTest {
            ok: true,
            result: Some(format!("wrote and removed {object}")),
            kind: None,
            error: None,
            field: None,
        },
        Ok(Err(e)) => {
            let error = e.to_string();
            failed(classify_offsite(&error), error, None)
        }
        Err(_) => failed("timeout", format!("no answer within {} s", TEST_TIMEOUT.as_secs()), None),
    };
    tracing::info!(offsite = %cfg.name, target = %kw_logsafe::Untrusted(&cfg.target), ok = answer.ok,
        kind = answer.kind.as_deref().unwrap_or(""), "off-site target test");
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(key: Option<&str>, secret: Option<&str>) -> OffsiteForm {
        OffsiteForm {
            name: "nas".into(),
            target: "webdav://nas.local/dav".into(),
            endpoint: None,
            region: None,
            path_style: None,
            key: key.map(str::to_owned),
            secret: secret.map(str::to_owned),
            recipients: vec![],
            cameras: None,
            events: None,
            what: None,
            bandwidth: None,
            keep_count: None,
            keep_age: None,
            hide_names: None,
        }
    }

    #[test]
    fn credentials_stay_with_their_address() {
        let cfg = OffsiteEdit {
            name: "nas".into(),
            target: "webdav://nas.local/dav".into(),
            credentials_file: Some("c.toml".into()),
            recipients: vec!["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into()],
            ..Default::default()
        }
        .validate(&[])
        .unwrap();
        let kept = Some(("u".to_string(), "pw".to_string()));
        let same = origin("webdav://nas.local/dav/other", None);
        let elsewhere = origin("webdav://evil.example/dav", None);
        let plan = |f: &OffsiteForm, o: &(String, String, String)| plan_credentials(Some((&cfg, kept.clone())), f, o);
        assert_eq!(plan(&form(None, None), &same).unwrap(), Creds::Keep);
        assert_eq!(plan(&form(Some(""), Some("")), &same).unwrap(), Creds::Remove);
        assert_eq!(plan(&form(None, Some("new")), &same).unwrap(), Creds::Write("u".into(), "new".into()));
        assert_eq!(plan(&form(Some("v"), Some("s")), &elsewhere).unwrap(), Creds::Write("v".into(), "s".into()));
        for f in [form(None, None), form(Some("v"), None)] {
            assert_eq!(plan(&f, &elsewhere).unwrap_err().field.as_deref(), Some("secret"));
        }
        assert_eq!(plan_credentials(None, &form(Some("k"), None), &same).unwrap_err().field.as_deref(), Some("secret"));
        assert_eq!(plan_credentials(None, &form(None, Some("s")), &same).unwrap_err().field.as_deref(), Some("key"));
        assert_eq!(plan_credentials(None, &form(None, None), &same).unwrap(), Creds::Keep);
    }

    #[test]
    fn failures_are_classified() {
        let s3 = "s3://kw: Error performing PUT http://127.0.0.1:1/kw/x in 2ms - Server returned non-2xx status \
                  code: 403 Forbidden: <Error><Code>SignatureDoesNotMatch</Code></Error>";
        assert_eq!(classify_offsite(s3), "auth");
        assert_eq!(classify_offsite("webdav: creating the collection http://h/dav/: 401 Unauthorized"), "auth");
        assert_eq!(classify_offsite("s3://kw: ... <Code>NoSuchBucket</Code>"), "bucket");
        assert_eq!(classify_offsite("webdav: error sending request: Connection refused (os error 111)"), "unreachable");
        let refused = "s3://kw: Generic S3 error: Error performing PUT http://127.0.0.1:9/kw/x in 450ms, after 2 \
                       retries, max_retries: 2, retry_timeout: 60s  - HTTP error: error sending request";
        assert_eq!(classify_offsite(refused), "unreachable");
    }
}
