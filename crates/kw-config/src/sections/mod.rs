//! From TOML text to a validated [`Config`]: the document-level pass and the checks shared by sections.
//!
//! Each section reader fills in defaults for what is missing and records a diagnostic for what is wrong,
//! so one pass reports every problem; the result is only handed out when nothing was wrong.

mod camera;
mod notify;
mod objects;
mod offsite;
mod restream;
mod server;

use std::path::{Path, PathBuf};

use toml_edit::Document;

use crate::error::{line_of, ConfigError, Diagnostic};
use crate::model::{Config, ServerConfig};
use crate::reader::{Ctx, Field, Section};
use crate::secrets::{redacted_url, UrlParts};

/// Top-level keys.
const ROOT_KEYS: [&str; 8] = ["server", "storage", "cameras", "notify", "alerts", "objects", "restream", "offsite"];
/// Keys of `[alerts]`.
const ALERTS_KEYS: [&str; 2] = ["schedule", "public_url"];

/// Parses and validates `text`, which came from (or will go to) `file`.
pub(crate) fn parse_config(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let doc = match guarded_parse(text) {
        Ok(doc) => doc,
        Err(Some(e)) => return Err(syntax_error(text, file, &e)),
        Err(None) => {
            return Err(ConfigError::Invalid(vec![Diagnostic {
                file: file.to_path_buf(),
                line: 1,
                key: String::new(),
                message: "invalid TOML: the TOML parser gave up on this file (look for a dotted key that extends \
                          a value, or stray control characters)"
                    .into(),
            }]))
        }
    };
    let mut ctx = Ctx::new(text, file);
    let base = config_dir(file);
    let root = Section::root(doc.as_table());
    root.check_keys(&mut ctx, &ROOT_KEYS);

    let server = match root.get("server").and_then(|f| ctx.section(&f)) {
        Some(section) => server::parse_server(&mut ctx, &section, &base),
        None => ServerConfig::default(),
    };
    let storage_section = root.get("storage").and_then(|f| ctx.section(&f));
    let storage = server::parse_storage(&mut ctx, storage_section.as_ref(), &base);
    let cameras = match root.get("cameras") {
        Some(field) => camera::parse_cameras(&mut ctx, &field, &base),
        None => camera::Cameras::default(),
    };
    let notify = match root.get("notify") {
        Some(field) => notify::parse_notifiers(&mut ctx, &field, &cameras.names),
        None => Vec::new(),
    };
    let offsite = match root.get("offsite") {
        Some(field) => offsite::parse_offsite(&mut ctx, &field, &cameras.names, &base),
        None => Vec::new(),
    };

    let restream = match root.get("restream").and_then(|f| ctx.section(&f)) {
        Some(section) => restream::parse_restream(&mut ctx, &section, server.tls.is_some()),
        None => crate::model::RestreamConfig::default(),
    };

    let mut alerts = crate::model::AlertsConfig::default();
    if let Some(section) = root.get("alerts").and_then(|f| ctx.section(&f)) {
        section.check_keys(&mut ctx, &ALERTS_KEYS);
        if let Some(field) = section.get("schedule") {
            if let Some(text) = ctx.string(&field) {
                let checked = crate::schedule::parse_schedule(text).map(|_| text.to_owned());
                alerts.schedule = ctx.check(&field, checked);
            }
        }
        if let Some(field) = section.get("public_url") {
            if let Some(text) = ctx.string(&field) {
                let ok = (text.starts_with("http://") || text.starts_with("https://"))
                    && !text.contains(char::is_whitespace);
                let checked = if ok {
                    Ok(text.trim_end_matches('/').to_owned())
                } else {
                    Err(format!(
                        "expected an http:// or https:// address such as \"https://nvr.example.org\", found {text:?}"
                    ))
                };
                alerts.public_url = ctx.check(&field, checked);
            }
        }
    }

    let objects = match root.get("objects").and_then(|f| ctx.section(&f)) {
        Some(section) => objects::parse_budget(&mut ctx, &section),
        None => crate::model::ObjectsBudget::default(),
    };

    if ctx.diagnostics.is_empty() {
        Ok(Config { server, storage, cameras: cameras.configs, notify, alerts, objects, restream, offsite })
    } else {
        let mut diagnostics = ctx.diagnostics;
        diagnostics.sort_by_key(|d| d.line);
        Err(ConfigError::Invalid(diagnostics))
    }
}

/// toml_edit's parser with its panics turned into an error (`None`). toml_edit 0.23 panics ("all items have
/// spans") on some malformed input — found by fuzzing the config parser (the input is in
/// tests/data/toml-edit-span-panic.toml) — and a config file must never crash keepwatch.
fn guarded_parse(text: &str) -> Result<Document<&str>, Option<toml_edit::TomlError>> {
    std::panic::catch_unwind(|| Document::parse(text)).map_err(|_| None)?.map_err(Some)
}

fn syntax_error(text: &str, file: &Path, error: &toml_edit::TomlError) -> ConfigError {
    let line = error.span().map_or(1, |s| line_of(text, s.start));
    let message = error.message().trim().replace('\n', "; ");
    ConfigError::Invalid(vec![Diagnostic {
        file: file.to_path_buf(),
        line,
        key: String::new(),
        message: format!("invalid TOML: {message}"),
    }])
}

/// The directory relative paths in the config resolve against: the config file's own.
pub(crate) fn config_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` resolved against `base` and made absolute (without touching the file system beyond the
/// current directory, so it works for paths that do not exist yet).
pub(crate) fn resolve(base: &Path, path: &str) -> PathBuf {
    let joined = base.join(path);
    std::path::absolute(&joined).unwrap_or(joined)
}

/// Names of cameras and notifiers: `[a-z0-9-]+`.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!("expected lowercase letters, digits and '-' only (like \"front-door\"), found {name:?}"))
    }
}

/// Reads a name field, checks its spelling and that it is not already in `seen` (name, line).
pub(crate) fn unique_name<'a>(
    ctx: &mut Ctx<'a>,
    field: &Field<'a>,
    seen: &mut Vec<(String, usize)>,
    what: &str,
) -> Option<&'a str> {
    let name = ctx.string(field)?;
    ctx.check(field, check_name(name))?;
    if let Some((_, line)) = seen.iter().find(|(n, _)| n == name) {
        let message = format!("duplicate {what} name {name:?} (first used on line {line})");
        ctx.error(&field.span, &field.path, message);
        return None;
    }
    seen.push((name.to_string(), ctx.line(&field.span)));
    Some(name)
}

/// Checks that `url` is `scheme://host...` with one of `schemes` (host optional for `demo`). Errors show the
/// URL with any password hidden.
pub(crate) fn check_url(url: &str, schemes: &[&str]) -> Result<(), String> {
    let list: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
    let list = list.join(", ");
    let Some(parts) = UrlParts::split(url) else {
        // Without a scheme there is no telling where a password would be: never echo text with an '@'.
        if url.contains('@') {
            return Err(format!("expected a URL starting with {list}"));
        }
        return Err(format!("expected a URL starting with {list}, found {url:?}"));
    };
    let scheme = parts.scheme.to_ascii_lowercase();
    if !schemes.contains(&scheme.as_str()) {
        return Err(format!("unsupported URL scheme {:?} (expected {list})", parts.scheme));
    }
    if parts.host.is_empty() && scheme != "demo" {
        return Err(format!("URL {:?} has no host", redacted_url(url)));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(format!("URL {:?} contains spaces (write them as %20)", redacted_url(url)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("front-door-2").is_ok());
        for bad in ["", "Front", "front door", "front_door", "tür", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        let schemes = ["rtsp", "demo"];
        assert!(check_url("rtsp://cam/x", &schemes).is_ok());
        assert!(check_url("RTSP://cam/x", &schemes).is_ok());
        assert!(check_url("demo://", &schemes).is_ok());
        assert!(check_url("rtsp:///x", &schemes).unwrap_err().contains("no host"));
        assert!(check_url("ftp://cam", &schemes).unwrap_err().contains("\"ftp\""));
        let e = check_url("rtsp://u:hunter2@cam/a b", &schemes).unwrap_err();
        assert!(e.contains("spaces") && !e.contains("hunter2"), "{e}");
        let e = check_url("u:hunter2@cam", &schemes).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        assert_eq!(config_dir(Path::new("keepwatch.toml")), PathBuf::from("."));
        let resolved = resolve(&config_dir(Path::new("/etc/kw/keepwatch.toml")), "./data");
        assert_eq!(resolved, PathBuf::from("/etc/kw/data"));
        assert_eq!(resolve(Path::new("/etc/kw"), "/srv/data"), PathBuf::from("/srv/data"));
        assert!(resolve(Path::new("."), "data").is_absolute());
    }
}
