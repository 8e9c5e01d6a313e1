//! `[[notify]]`: where events are delivered, and which keys belong to which delivery kind.

use crate::model::{NotifyConfig, NotifyKind, DEFAULT_COOLDOWN};
use crate::reader::{Ctx, Field, Section};

use super::{check_url, unique_name};

const NOTIFY_KEYS: [&str; 12] = [
    "name",
    "kind",
    "target",
    "cameras",
    "events",
    "cooldown",
    "discovery_prefix",
    "commands",
    "secret",
    "from",
    "to",
    "labels",
];

/// Keys that only make sense for one kind.
const KIND_KEYS: [(&str, NotifyKind); 5] = [
    ("discovery_prefix", NotifyKind::Mqtt),
    ("commands", NotifyKind::Mqtt),
    ("secret", NotifyKind::Webhook),
    ("from", NotifyKind::Email),
    ("to", NotifyKind::Email),
];

/// The URL schemes each kind's `target` may use.
fn target_schemes(kind: NotifyKind) -> &'static [&'static str] {
    match kind {
        NotifyKind::Mqtt => &["mqtt", "mqtts"],
        NotifyKind::Webhook | NotifyKind::Ntfy => &["http", "https"],
        NotifyKind::Email => &["smtp", "smtps"],
    }
}

pub(super) fn parse_notifiers<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>, cameras: &[String]) -> Vec<NotifyConfig> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for section in ctx.tables(field) {
        if let Some(notify) = parse_notify(ctx, &section, cameras, &mut seen) {
            out.push(notify);
        }
    }
    out
}

fn parse_notify<'a>(
    ctx: &mut Ctx<'a>,
    section: &Section<'a>,
    cameras: &[String],
    seen: &mut Vec<(String, usize)>,
) -> Option<NotifyConfig> {
    section.check_keys(ctx, &NOTIFY_KEYS);
    let name = section.require(ctx, "name").and_then(|f| unique_name(ctx, &f, seen, "notifier"));
    let kind: Option<NotifyKind> = section.require(ctx, "kind").and_then(|f| ctx.keyword(&f));
    let target_field = section.require(ctx, "target");
    let target = target_field.as_ref().and_then(|f| ctx.non_empty_string(f));
    if let (Some(kind), Some(field), Some(target)) = (kind, &target_field, target) {
        let checked = check_url(target, target_schemes(kind)).map_err(|e| format!("kind = \"{kind}\": {e}"));
        ctx.check(field, checked);
    }

    let mut notify = NotifyConfig {
        name: name.unwrap_or_default().to_string(),
        kind: kind.unwrap_or(NotifyKind::Webhook),
        target: target.unwrap_or_default().to_string(),
        cameras: None,
        events: None,
        cooldown: DEFAULT_COOLDOWN,
        discovery_prefix: None,
        commands: false,
        secret: None,
        from: None,
        to: Vec::new(),
        labels: None,
    };
    if let Some(field) = section.get("cameras") {
        notify.cameras = Some(camera_list(ctx, &field, cameras));
    }
    if let Some(field) = section.get("events") {
        let events = ctx.array(&field);
        if events.is_empty() {
            ctx.error(&field.span, &field.path, "must name at least one event (leave the key out for all)");
        }
        notify.events = Some(events.iter().filter_map(|e| ctx.keyword(e)).collect());
    }
    if let Some(field) = section.get("labels") {
        notify.labels = super::objects::label_list(ctx, &field);
    }
    if let Some(field) = section.get("cooldown") {
        notify.cooldown = ctx.duration(&field).unwrap_or(DEFAULT_COOLDOWN);
    }

    if let Some(kind) = kind {
        for (key, owner) in KIND_KEYS {
            if owner != kind && section.get(key).is_some() {
                let message = format!("only used with kind = \"{owner}\" (this notifier is \"{kind}\")");
                ctx.error(&section.key_span(key), &section.key_path(key), message);
            }
        }
    }
    if let Some(field) = section.get("discovery_prefix") {
        notify.discovery_prefix = ctx.non_empty_string(&field).map(str::to_string);
    }
    if let Some(field) = section.get("commands") {
        notify.commands = ctx.bool(&field).unwrap_or(false);
    }
    if let Some(field) = section.get("secret") {
        notify.secret = ctx.non_empty_string(&field).map(str::to_string);
    }
    if let Some(field) = section.get("from") {
        notify.from = ctx.string(&field).and_then(|s| email(ctx, &field, s));
    }
    if let Some(field) = section.get("to") {
        let list = ctx.string_or_list(&field);
        if list.is_empty() && ctx.diagnostics.iter().all(|d| d.key != field.path) {
            ctx.error(&field.span, &field.path, "must name at least one address");
        }
        notify.to = list.iter().filter_map(|(f, s)| email(ctx, f, s)).collect();
    } else if kind == Some(NotifyKind::Email) {
        ctx.error(&section.span, &section.key_path("to"), "missing (required for kind = \"email\")");
    }
    (name.is_some() && kind.is_some() && target.is_some()).then_some(notify)
}

/// `cameras = [...]`: each entry must name a camera from `[[cameras]]`.
pub(super) fn camera_list<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>, cameras: &[String]) -> Vec<String> {
    let list = ctx.string_list(field);
    if list.is_empty() && ctx.diagnostics.iter().all(|d| d.key != field.path) {
        ctx.error(&field.span, &field.path, "must name at least one camera (leave the key out for all)");
    }
    let mut out = Vec::new();
    for (element, name) in list {
        if cameras.iter().any(|c| c == name) {
            out.push(name.to_string());
        } else {
            let known = if cameras.is_empty() {
                "there are no [[cameras]]".to_string()
            } else {
                format!("cameras: {}", cameras.join(", "))
            };
            ctx.error(&element.span, &element.path, format!("unknown camera {name:?} ({known})"));
        }
    }
    out
}

/// A rough check that `text` is an email address: something, `@`, something, no spaces.
fn email<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>, text: &str) -> Option<String> {
    let ok = text
        .rsplit_once('@')
        .is_some_and(|(local, domain)| !local.trim().is_empty() && !domain.is_empty() && !domain.contains(' '));
    if ok {
        Some(text.to_string())
    } else {
        ctx.error(&field.span, &field.path, format!("expected an email address, found {text:?}"));
        None
    }
}
