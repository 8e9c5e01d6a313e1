//! Writing a [`CameraConfig`] back as TOML, for the editing API.
//!
//! The output is what a person would write: the same spellings (`"50GB"`, `"1h30m"`), and keys at their
//! default left out, so a camera added from the UI looks like a hand-written one. [`default_camera_keys`]
//! spells out every default so an edit can tell which lines of an existing file are merely redundant.

use toml_edit::{value, Array, InlineTable, Item, Table, Value};

use crate::model::{CameraConfig, MotionConfig, RecordMode, Zone};
use crate::units::{format_duration, format_size};

/// The `[[cameras]]` table for `camera`, without keys that hold their default value.
pub fn camera_table(camera: &CameraConfig) -> Table {
    build(camera, false)
}

/// Every defaultable camera key at its default (`record`, and the whole `motion` table).
pub(crate) fn default_camera_keys() -> Table {
    build(&CameraConfig::new("", ""), true)
}

fn build(camera: &CameraConfig, full: bool) -> Table {
    let mut table = Table::new();
    if !full {
        table.insert("name", value(camera.name.as_str()));
        table.insert("url", value(camera.url.as_str()));
    }
    let optional = [
        ("sub_url", camera.sub_url.clone()),
        ("username", camera.username.clone()),
        ("password", camera.password.clone()),
        ("tls_fingerprint", camera.tls_fingerprint.clone()),
    ];
    for (key, text) in optional {
        if let Some(text) = text {
            table.insert(key, value(text));
        }
    }
    if full || camera.record != RecordMode::default() {
        table.insert("record", value(camera.record.as_str()));
    }
    if let Some(size) = camera.max_size {
        table.insert("max_size", value(format_size(size)));
    }
    if let Some(age) = camera.max_age {
        table.insert("max_age", value(format_duration(age)));
    }
    let motion = motion_table(&camera.motion, full);
    if !motion.is_empty() {
        table.insert("motion", Item::Table(motion));
    }
    // With `full`, the default spelled out, so an explicit `[cameras.onvif] events = true` line survives edits.
    if full || camera.onvif != crate::model::OnvifConfig::default() {
        let mut onvif = Table::new();
        onvif.insert("events", value(camera.onvif.events));
        table.insert("onvif", Item::Table(onvif));
    }
    if !full && camera.encode != crate::model::EncodeConfig::default() {
        table.insert("encode", Item::Table(encode_table(&camera.encode)));
    }
    if !full && camera.objects != crate::model::ObjectsConfig::default() {
        table.insert("objects", Item::Table(objects_table(&camera.objects)));
    }
    if !full && camera.restream_anonymous {
        table.insert("restream_anonymous", value(true));
    }
    table
}

/// `[cameras.objects]`: the keys that differ from their defaults, plus `enabled` always (it is the point).
/// Paths are written as resolved (absolute).
fn objects_table(o: &crate::model::ObjectsConfig) -> Table {
    let d = crate::model::ObjectsConfig::default();
    let mut table = Table::new();
    table.insert("enabled", value(o.enabled));
    if o.track != d.track {
        table.insert("track", value(o.track.iter().map(String::as_str).collect::<Array>()));
    }
    if o.min_score != d.min_score {
        table.insert("min_score", value(o.min_score));
    }
    if o.alert_on != d.alert_on {
        table.insert("alert_on", value(o.alert_on.as_str()));
    }
    for (key, path) in [("model", &o.model), ("labels", &o.labels)] {
        if let Some(p) = path {
            table.insert(key, value(p.to_string_lossy().as_ref()));
        }
    }
    if o.max_per_second != d.max_per_second {
        table.insert("max_per_second", value(o.max_per_second));
    }
    table
}

/// `[cameras.encode]`: only the keys that are set (every one is optional).
fn encode_table(encode: &crate::model::EncodeConfig) -> Table {
    let mut table = Table::new();
    if let Some(fps) = encode.fps {
        table.insert("fps", value(fps));
    }
    if let Some(bits) = encode.bitrate {
        table.insert("bitrate", value(crate::units::format_bitrate(bits)));
    }
    if let Some(w) = encode.width {
        table.insert("width", value(i64::from(w)));
    }
    if let Some(h) = encode.height {
        table.insert("height", value(i64::from(h)));
    }
    table
}

fn motion_table(motion: &MotionConfig, full: bool) -> Table {
    let defaults = MotionConfig::default();
    let mut table = Table::new();
    if full || motion.enabled != defaults.enabled {
        table.insert("enabled", value(motion.enabled));
    }
    if full || motion.sensitivity != defaults.sensitivity {
        table.insert("sensitivity", value(motion.sensitivity));
    }
    let durations = [
        ("min_duration", motion.min_duration, defaults.min_duration),
        ("pre_roll", motion.pre_roll, defaults.pre_roll),
        ("post_roll", motion.post_roll, defaults.post_roll),
    ];
    for (key, duration, default) in durations {
        if full || duration != default {
            table.insert(key, value(format_duration(duration)));
        }
    }
    if full || motion.keyframes_only != defaults.keyframes_only {
        table.insert("keyframes_only", value(motion.keyframes_only));
    }
    if full || !motion.zones.is_empty() {
        let zones: Array = motion.zones.iter().map(zone_value).collect();
        table.insert("zones", value(zones));
    }
    table
}

fn zone_value(zone: &Zone) -> Value {
    let mut table = InlineTable::new();
    table.insert("name", zone.name.as_str().into());
    table.insert("kind", zone.kind.as_str().into());
    let points: Array = zone.points.iter().map(|&(x, y)| Value::Array(Array::from_iter([x, y]))).collect();
    table.insert("points", Value::Array(points));
    Value::InlineTable(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_left_out() {
        let camera = CameraConfig::new("door", "rtsp://cam/1");
        assert_eq!(camera_table(&camera).to_string(), "name = \"door\"\nurl = \"rtsp://cam/1\"\n");
        let full = default_camera_keys();
        assert_eq!(full["record"].as_str(), Some("continuous"));
        assert_eq!(full["motion"]["zones"].as_array().map(|a| a.len()), Some(0));
        assert_eq!(full["motion"].as_table().map(|t| t.len()), Some(7));
    }
}
