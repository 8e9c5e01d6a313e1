//! `[cameras.objects]` and `[objects]`: object detection on motion, per camera and for all cameras
//! together; and the label lists `track` and `[[notify]] labels` share.
//!
//! The config does not know the model's classes (kw-objects does; the config crate stays free of it), so a
//! label is checked for its spelling here and against the model when the camera starts.

use std::path::Path;

use crate::model::{ObjectsBudget, ObjectsConfig};
use crate::reader::{Ctx, Field, Section};

const OBJECTS_KEYS: [&str; 7] = ["enabled", "track", "min_score", "alert_on", "model", "labels", "max_per_second"];
const BUDGET_KEYS: [&str; 1] = ["max_per_second"];
/// The longest label name.
const MAX_LABEL: usize = 64;

pub(super) fn parse_objects<'a>(ctx: &mut Ctx<'a>, section: &Section<'a>, base: &Path) -> ObjectsConfig {
    section.check_keys(ctx, &OBJECTS_KEYS);
    let mut o = ObjectsConfig::default();
    if let Some(field) = section.get("enabled") {
        o.enabled = ctx.bool(&field).unwrap_or(o.enabled);
    }
    if let Some(field) = section.get("track") {
        if let Some(list) = label_list(ctx, &field) {
            o.track = list;
        }
    }
    if let Some(field) = section.get("min_score") {
        if let Some(n) = ctx.number(&field) {
            if (0.05..=1.0).contains(&n) {
                o.min_score = n;
            } else {
                ctx.error(&field.span, &field.path, format!("must be between 0.05 and 1, found {n}"));
            }
        }
    }
    if let Some(field) = section.get("alert_on") {
        o.alert_on = ctx.keyword(&field).unwrap_or_default();
    }
    if let Some(field) = section.get("max_per_second") {
        o.max_per_second = rate(ctx, &field, 30.0).unwrap_or(o.max_per_second);
    }
    for key in ["model", "labels"] {
        let Some(field) = section.get(key) else { continue };
        let Some(text) = ctx.non_empty_string(&field) else { continue };
        let path = super::resolve(base, text);
        if key == "model" && !text.ends_with(".onnx") {
            ctx.error(
                &field.span,
                &field.path,
                format!("expected an ONNX file (name ending in .onnx), found {text:?}"),
            );
            continue;
        }
        if !path.is_file() {
            ctx.error(&field.span, &field.path, format!("no such file: {}", path.display()));
            continue;
        }
        if key == "model" {
            o.model = Some(path);
        } else {
            o.labels = Some(path);
        }
    }
    if section.get("labels").is_some() && section.get("model").is_none() {
        let message = "labels names the classes of your own model: set model = \"path.onnx\" too";
        ctx.error(&section.key_span("labels"), &section.key_path("labels"), message);
    }
    o
}

pub(super) fn parse_budget<'a>(ctx: &mut Ctx<'a>, section: &Section<'a>) -> ObjectsBudget {
    section.check_keys(ctx, &BUDGET_KEYS);
    let mut b = ObjectsBudget::default();
    if let Some(field) = section.get("max_per_second") {
        b.max_per_second = rate(ctx, &field, 200.0).unwrap_or(b.max_per_second);
    }
    b
}

/// Inferences per second in 0.1..=`max`.
fn rate<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>, max: f64) -> Option<f64> {
    let n = ctx.number(field)?;
    if (0.1..=max).contains(&n) {
        Some(n)
    } else {
        ctx.error(&field.span, &field.path, format!("inferences per second: must be between 0.1 and {max}, found {n}"));
        None
    }
}

/// A non-empty list of label names (`["person", "car"]`): lowercase letters, digits, spaces, `-` and `_`,
/// each at most 64 characters, at most [`ObjectsConfig::MAX_TRACK`], no repeats.
pub(super) fn label_list<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>) -> Option<Vec<String>> {
    let items = ctx.string_list(field);
    if items.is_empty() {
        ctx.error(&field.span, &field.path, "must name at least one label, such as [\"person\", \"car\"]");
        return None;
    }
    if items.len() > ObjectsConfig::MAX_TRACK {
        let message = format!("at most {} labels, found {}", ObjectsConfig::MAX_TRACK, items.len());
        ctx.error(&field.span, &field.path, message);
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for (f, name) in items {
        let ok = !name.is_empty()
            && name.len() <= MAX_LABEL
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b" -_".contains(&b));
        if !ok {
            let message = format!(
                "expected a label such as \"person\" (lowercase letters, digits, space, - or _), found {name:?}"
            );
            ctx.error(&f.span, &f.path, message);
        } else if out.iter().any(|n| n == name) {
            ctx.error(&f.span, &f.path, format!("{name:?} is listed twice"));
        } else {
            out.push(name.to_owned());
        }
    }
    Some(out)
}
