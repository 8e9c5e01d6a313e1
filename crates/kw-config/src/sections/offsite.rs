//! `[[offsite]]`: off-site targets for encrypted event copies, checked so that the uploader never meets a
//! target it cannot talk to or a recipient it cannot encrypt to.

use std::path::Path;

use crate::model::NotifyEvent;
use crate::offsite::{OffsiteConfig, OffsiteWhat};
use crate::reader::{Ctx, Field, Section};

use super::notify::camera_list;
use super::{check_url, resolve, unique_name};

const OFFSITE_KEYS: [&str; 14] = [
    "name",
    "target",
    "endpoint",
    "region",
    "path_style",
    "credentials_file",
    "recipients",
    "cameras",
    "events",
    "what",
    "bandwidth",
    "keep_count",
    "keep_age",
    "hide_names",
];

/// Keys that only make sense for S3 targets.
const S3_KEYS: [&str; 3] = ["endpoint", "region", "path_style"];

pub(super) fn parse_offsite<'a>(
    ctx: &mut Ctx<'a>,
    field: &Field<'a>,
    cameras: &[String],
    base: &Path,
) -> Vec<OffsiteConfig> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for section in ctx.tables(field) {
        if let Some(o) = parse_one(ctx, &section, cameras, base, &mut seen) {
            out.push(o);
        }
    }
    out
}

fn parse_one<'a>(
    ctx: &mut Ctx<'a>,
    section: &Section<'a>,
    cameras: &[String],
    base: &Path,
    seen: &mut Vec<(String, usize)>,
) -> Option<OffsiteConfig> {
    section.check_keys(ctx, &OFFSITE_KEYS);
    let name = section.require(ctx, "name").and_then(|f| unique_name(ctx, &f, seen, "off-site target"));
    let target_field = section.require(ctx, "target");
    let mut target = None;
    if let Some(field) = &target_field {
        if let Some(text) = ctx.non_empty_string(field) {
            target = ctx.check(field, check_target(text)).map(|()| text);
        }
    }
    let is_s3 = target.is_some_and(|t| t.to_ascii_lowercase().starts_with("s3://"));
    let mut o = OffsiteConfig {
        name: name.unwrap_or_default().to_string(),
        target: target.unwrap_or_default().to_string(),
        endpoint: None,
        region: None,
        path_style: false,
        credentials_file: None,
        recipients: Vec::new(),
        cameras: None,
        events: None,
        what: OffsiteWhat::default(),
        bandwidth: None,
        keep_count: None,
        keep_age: None,
        hide_names: false,
    };
    if target.is_some() && !is_s3 {
        for key in S3_KEYS {
            if section.get(key).is_some() {
                ctx.error(&section.key_span(key), &section.key_path(key), "only used with s3:// targets");
            }
        }
    }
    if let Some(field) = section.get("endpoint") {
        if let Some(text) = ctx.non_empty_string(&field) {
            let checked = check_url(text, &["http", "https"]).and_then(|()| {
                if text.contains('@') {
                    Err("no credentials in the endpoint (use credentials_file or the environment)".to_string())
                } else {
                    Ok(text.trim_end_matches('/').to_string())
                }
            });
            o.endpoint = ctx.check(&field, checked);
        }
    }
    if let Some(field) = section.get("region") {
        o.region = ctx.non_empty_string(&field).map(str::to_string);
    }
    if let Some(field) = section.get("path_style") {
        o.path_style = ctx.bool(&field).unwrap_or(false);
    }
    if let Some(field) = section.get("credentials_file") {
        o.credentials_file = ctx.non_empty_string(&field).map(|p| resolve(base, p));
    }
    let recipients_field = section.require(ctx, "recipients");
    if let Some(field) = &recipients_field {
        let list = ctx.string_or_list(field);
        if list.is_empty() && ctx.diagnostics.iter().all(|d| d.key != field.path) {
            ctx.error(&field.span, &field.path, "must name at least one age recipient (age1...)");
        }
        for (element, text) in list {
            if let Some(r) = ctx.check(&element, check_recipient(text)) {
                o.recipients.push(r);
            }
        }
    }
    if let Some(field) = section.get("cameras") {
        o.cameras = Some(camera_list(ctx, &field, cameras));
    }
    if let Some(field) = section.get("events") {
        let events = ctx.array(&field);
        if events.is_empty() {
            ctx.error(
                &field.span,
                &field.path,
                "must name at least one event (leave the key out for motion and camera-motion)",
            );
        }
        let mut kinds = Vec::new();
        for e in &events {
            match ctx.keyword::<NotifyEvent>(e) {
                Some(k @ (NotifyEvent::Motion | NotifyEvent::CameraMotion)) => kinds.push(k),
                Some(k) => {
                    ctx.error(&e.span, &e.path, format!("{k} events have no clip to copy (motion, camera-motion)"))
                }
                None => {}
            }
        }
        o.events = Some(kinds);
    }
    if let Some(field) = section.get("what") {
        o.what = ctx.keyword(&field).unwrap_or_default();
    }
    if let Some(field) = section.get("bandwidth") {
        let bits = match field.value() {
            Some(toml_edit::Value::String(s)) => ctx.check(&field, crate::units::parse_bitrate(s.value())),
            Some(toml_edit::Value::Integer(i)) => {
                ctx.check(&field, u64::try_from(*i.value()).map_err(|_| "cannot be negative".to_string()))
            }
            _ => {
                ctx.error(&field.span, &field.path, "expected a bit rate such as \"2Mbit\"");
                None
            }
        };
        match bits {
            Some(b) if b >= 64_000 => o.bandwidth = Some(b),
            Some(_) => ctx.error(&field.span, &field.path, "at least 64kbit (a clip must be able to leave)"),
            None => {}
        }
    }
    if let Some(field) = section.get("keep_count") {
        if let Some(n) = ctx.number(&field) {
            if n >= 1.0 && n.fract() == 0.0 && n <= 10_000_000.0 {
                o.keep_count = Some(n as u64);
            } else {
                ctx.error(&field.span, &field.path, "expected a whole number from 1 to 10000000");
            }
        }
    }
    if let Some(field) = section.get("keep_age") {
        o.keep_age = ctx.duration(&field);
    }
    if let Some(field) = section.get("hide_names") {
        o.hide_names = ctx.bool(&field).unwrap_or(false);
    }
    (name.is_some() && target.is_some() && !o.recipients.is_empty()).then_some(o)
}

/// `s3://bucket[/prefix]` or `webdav(s)://host[:port]/path`, without credentials.
fn check_target(text: &str) -> Result<(), String> {
    check_url(text, &["s3", "webdav", "webdavs"])?;
    let rest = text.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let host = rest.split('/').next().unwrap_or_default();
    if host.contains('@') {
        return Err("no credentials in the target (use credentials_file or the environment)".to_string());
    }
    if text.to_ascii_lowercase().starts_with("s3://") {
        let ok = (3..=63).contains(&host.len())
            && host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !ok {
            return Err(format!("expected s3://BUCKET[/prefix] with a valid bucket name, found {host:?}"));
        }
    }
    if text.contains(['?', '#']) {
        return Err("no query or fragment in the target".to_string());
    }
    Ok(())
}

/// An age X25519 recipient: `age1` + 58 bech32 characters. The uploader parses it for real; this catches
/// typos and pasted identities (which must never be on the box) with a clear message.
fn check_recipient(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
        return Err(
            "this is a secret identity, not a recipient: keep it off this machine and give its age1... public key"
                .into(),
        );
    }
    const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let ok = t.len() == 62 && t.starts_with("age1") && t[4..].chars().all(|c| BECH32.contains(c));
    if ok {
        Ok(t.to_string())
    } else {
        Err(format!("expected an age recipient (age1 followed by 58 characters), found {t:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert!(check_target("s3://my-bucket/kw").is_ok());
        assert!(check_target("webdavs://cloud.example.org/remote.php/dav/files/me/kw").is_ok());
        assert!(check_target("s3://B").is_err());
        assert!(check_target("webdav://u:p@host/x").unwrap_err().contains("credentials"));
        assert!(check_target("ftp://host").is_err());
    }

    #[test]
    fn recipients() {
        let good = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        assert_eq!(check_recipient(good).unwrap(), good);
        assert!(check_recipient("AGE-SECRET-KEY-1XYZ").unwrap_err().contains("secret"));
        assert!(check_recipient("age1short").is_err());
    }
}
