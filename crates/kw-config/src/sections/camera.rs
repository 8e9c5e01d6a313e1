//! `[[cameras]]`, `[cameras.motion]` and `[cameras.encode]`: what to record from where, how to detect
//! motion, and how to encode cameras that send JPEG pictures. `[cameras.objects]` is in [`super::objects`].

use std::path::Path;

use crate::model::{CameraConfig, EncodeConfig, MotionConfig, Zone, ZoneKind};
use crate::reader::{Ctx, Field, Section};
use crate::secrets::UrlParts;

use super::{check_url, unique_name};

const CAMERA_KEYS: [&str; 14] = [
    "name",
    "url",
    "sub_url",
    "username",
    "password",
    "record",
    "max_size",
    "max_age",
    "motion",
    "encode",
    "onvif",
    "tls_fingerprint",
    "objects",
    "restream_anonymous",
];
/// `[cameras.onvif]`: keepwatch's extension for `onvif://` cameras.
const ONVIF_KEYS: [&str; 1] = ["events"];
const ENCODE_KEYS: [&str; 4] = ["fps", "bitrate", "width", "height"];
const MOTION_KEYS: [&str; 7] =
    ["enabled", "sensitivity", "min_duration", "pre_roll", "post_roll", "keyframes_only", "zones"];
const ZONE_KEYS: [&str; 3] = ["name", "kind", "points"];

/// URL schemes a camera stream may use. `rtsps` is accepted here; whether ingest supports it is ingest's call.
pub const CAMERA_SCHEMES: [&str; 6] = ["rtsp", "rtsps", "http", "https", "onvif", "demo"];

/// The cameras read, plus every name as written (valid or not) so later checks do not pile up errors.
#[derive(Default)]
pub(super) struct Cameras {
    pub configs: Vec<CameraConfig>,
    pub names: Vec<String>,
}

pub(super) fn parse_cameras<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>, base: &Path) -> Cameras {
    let mut out = Cameras::default();
    let mut seen = Vec::new();
    for section in ctx.tables(field) {
        if let Some(name) = section.get("name").and_then(|f| f.value()?.as_str().map(str::to_string)) {
            if !out.names.contains(&name) {
                out.names.push(name);
            }
        }
        if let Some(camera) = parse_camera(ctx, &section, &mut seen, base) {
            out.configs.push(camera);
        }
    }
    out
}

fn parse_camera<'a>(
    ctx: &mut Ctx<'a>,
    section: &Section<'a>,
    seen: &mut Vec<(String, usize)>,
    base: &Path,
) -> Option<CameraConfig> {
    section.check_keys(ctx, &CAMERA_KEYS);
    let name = section.require(ctx, "name").and_then(|f| unique_name(ctx, &f, seen, "camera"));
    let url = section.require(ctx, "url").and_then(|f| stream_url(ctx, &f));
    let mut camera = CameraConfig::new(name.unwrap_or_default(), url.unwrap_or_default());
    if let Some(field) = section.get("sub_url") {
        camera.sub_url = stream_url(ctx, &field).map(str::to_string);
    }
    if let Some(field) = section.get("username") {
        camera.username = ctx.string(&field).map(str::to_string);
    }
    if let Some(field) = section.get("password") {
        camera.password = ctx.string(&field).map(str::to_string);
        let url_has_user = UrlParts::split(&camera.url).is_some_and(|p| p.userinfo.is_some());
        if !url_has_user && section.get("username").is_none() {
            ctx.error(
                &section.key_span("password"),
                &field.path,
                "password without a username (add username, or write user:pass@ in the url)",
            );
        }
    }
    if let Some(field) = section.get("record") {
        camera.record = ctx.keyword(&field).unwrap_or_default();
    }
    if let Some(field) = section.get("max_size") {
        camera.max_size = ctx.size(&field);
        if camera.max_size == Some(0) {
            ctx.error(&field.span, &field.path, "must be greater than 0 (leave it out for no cap)");
        }
    }
    if let Some(field) = section.get("max_age") {
        camera.max_age = ctx.duration(&field);
        if camera.max_age.is_some_and(|d| d.is_zero()) {
            ctx.error(&field.span, &field.path, "must be greater than 0 (leave it out for no limit)");
        }
    }
    if let Some(motion) = section.get("motion").and_then(|f| ctx.section(&f)) {
        camera.motion = parse_motion(ctx, &motion);
    }
    if let Some(onvif) = section.get("onvif").and_then(|f| ctx.section(&f)) {
        onvif.check_keys(ctx, &ONVIF_KEYS);
        if let Some(field) = onvif.get("events") {
            camera.onvif.events = ctx.bool(&field).unwrap_or(camera.onvif.events);
        }
    }
    if let Some(encode) = section.get("encode").and_then(|f| ctx.section(&f)) {
        camera.encode = parse_encode(ctx, &encode);
    }
    if let Some(field) = section.get("tls_fingerprint") {
        if let Some(text) = ctx.string(&field) {
            match fingerprint(text) {
                Some(f) => camera.tls_fingerprint = Some(f),
                None => ctx.error(
                    &field.span,
                    &field.path,
                    "must be \"sha256:\" and 64 hex digits (the certificate fingerprint the camera form shows)",
                ),
            }
        }
    }
    if let Some(objects) = section.get("objects").and_then(|f| ctx.section(&f)) {
        camera.objects = super::objects::parse_objects(ctx, &objects, base);
    }
    if camera.record == crate::model::RecordMode::Objects && !camera.objects.enabled {
        let why = "record = \"objects\" needs object detection: add [cameras.objects] with enabled = true";
        ctx.error(&section.key_span("record"), &section.key_path("record"), why);
    }
    if let Some(field) = section.get("restream_anonymous") {
        camera.restream_anonymous = ctx.bool(&field).unwrap_or(false);
    }
    (name.is_some() && url.is_some()).then_some(camera)
}

/// A `tls_fingerprint` in its one spelling (`sha256:` + 64 lowercase hex digits); colons between the pairs
/// and upper case, as browsers and `openssl x509 -fingerprint` show them, are accepted.
fn fingerprint(text: &str) -> Option<String> {
    let t = text.trim();
    let hex = t.strip_prefix("sha256:").or_else(|| t.strip_prefix("SHA256:"))?;
    let digits: String = hex.chars().filter(|&c| c != ':').collect();
    (hex.len() <= 128 && digits.len() == 64 && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", digits.to_ascii_lowercase()))
}

fn stream_url<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>) -> Option<&'a str> {
    let url = ctx.string(field)?;
    ctx.check(field, check_url(url, &CAMERA_SCHEMES))?;
    Some(url)
}

fn parse_motion<'a>(ctx: &mut Ctx<'a>, section: &Section<'a>) -> MotionConfig {
    section.check_keys(ctx, &MOTION_KEYS);
    let mut motion = MotionConfig::default();
    if let Some(field) = section.get("enabled") {
        motion.enabled = ctx.bool(&field).unwrap_or(motion.enabled);
    }
    if let Some(field) = section.get("sensitivity") {
        if let Some(n) = ctx.number(&field) {
            if (0.0..=1.0).contains(&n) {
                motion.sensitivity = n;
            } else {
                ctx.error(&field.span, &field.path, format!("must be between 0 and 1, found {n}"));
            }
        }
    }
    for (key, slot) in [
        ("min_duration", &mut motion.min_duration),
        ("pre_roll", &mut motion.pre_roll),
        ("post_roll", &mut motion.post_roll),
    ] {
        if let Some(d) = section.get(key).and_then(|f| ctx.duration(&f)) {
            *slot = d;
        }
    }
    if let Some(field) = section.get("keyframes_only") {
        motion.keyframes_only = ctx.bool(&field).unwrap_or(motion.keyframes_only);
    }
    if let Some(field) = section.get("zones") {
        let zones = ctx.tables(&field);
        if zones.len() > Zone::MAX_PER_CAMERA {
            let message = format!("at most {} zones per camera, found {}", Zone::MAX_PER_CAMERA, zones.len());
            ctx.error(&field.span, &field.path, message);
            return motion;
        }
        for (i, zone) in zones.into_iter().enumerate() {
            if let Some(zone) = parse_zone(ctx, &zone, i) {
                motion.zones.push(zone);
            }
        }
    }
    motion
}

fn parse_encode<'a>(ctx: &mut Ctx<'a>, section: &Section<'a>) -> EncodeConfig {
    section.check_keys(ctx, &ENCODE_KEYS);
    let mut encode = EncodeConfig::default();
    if let Some(field) = section.get("fps") {
        if let Some(n) = ctx.number(&field) {
            if (0.1..=60.0).contains(&n) {
                encode.fps = Some(n);
            } else {
                ctx.error(&field.span, &field.path, format!("must be between 0.1 and 60, found {n}"));
            }
        }
    }
    if let Some(field) = section.get("bitrate") {
        let bits = match field.value() {
            Some(toml_edit::Value::String(s)) => ctx.check(&field, crate::units::parse_bitrate(s.value())),
            Some(toml_edit::Value::Integer(i)) => {
                ctx.check(&field, u64::try_from(*i.value()).map_err(|_| "a bit rate cannot be negative".to_string()))
            }
            _ => {
                ctx.error(
                    &field.span,
                    &field.path,
                    "expected a bit rate such as \"1Mbit\" or a number of bits per second",
                );
                None
            }
        };
        match bits {
            Some(b) if (10_000..=100_000_000).contains(&b) => encode.bitrate = Some(b),
            Some(b) => {
                ctx.error(&field.span, &field.path, format!("must be between 10kbit and 100Mbit, found {b} bit/s"))
            }
            None => {}
        }
    }
    for (key, slot) in [("width", &mut encode.width), ("height", &mut encode.height)] {
        let Some(field) = section.get(key) else { continue };
        let Some(n) = ctx.number(&field) else { continue };
        if n.fract() == 0.0 && (16.0..=4096.0).contains(&n) && (n as u32).is_multiple_of(2) {
            *slot = Some(n as u16);
        } else {
            ctx.error(&field.span, &field.path, format!("must be an even number of pixels from 16 to 4096, found {n}"));
        }
    }
    encode
}

fn parse_zone<'a>(ctx: &mut Ctx<'a>, section: &Section<'a>, index: usize) -> Option<Zone> {
    section.check_keys(ctx, &ZONE_KEYS);
    let name = match section.get("name") {
        Some(field) => ctx.non_empty_string(&field)?.to_string(),
        None => format!("zone-{}", index + 1),
    };
    let kind = match section.get("kind") {
        Some(field) => ctx.keyword(&field)?,
        None => ZoneKind::default(),
    };
    let field = section.require(ctx, "points")?;
    let elements = ctx.array(&field);
    let count = elements.len();
    if count > Zone::MAX_POINTS {
        ctx.error(&field.span, &field.path, format!("a zone has at most {} points, found {count}", Zone::MAX_POINTS));
        return None;
    }
    let points: Vec<(f64, f64)> = elements.iter().filter_map(|e| point(ctx, e)).collect();
    if count < 3 {
        ctx.error(&field.span, &field.path, format!("a zone needs at least 3 points, found {count}"));
    }
    (points.len() == count && count >= 3).then_some(Zone { name, kind, points })
}

/// One `[x, y]` corner with both coordinates in 0..=1.
fn point<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>) -> Option<(f64, f64)> {
    let is_pair = matches!(field.value(), Some(toml_edit::Value::Array(a)) if a.len() == 2);
    if !is_pair {
        ctx.error(&field.span, &field.path, "expected a point [x, y]");
        return None;
    }
    let coords: Vec<f64> = ctx.array(field).iter().filter_map(|c| ctx.number(c)).collect();
    let [x, y] = coords[..] else {
        return None;
    };
    if (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y) {
        Some((x, y))
    } else {
        let message = format!("x and y must be between 0 and 1 (fractions of the frame), found [{x}, {y}]");
        ctx.error(&field.span, &field.path, message);
        None
    }
}
