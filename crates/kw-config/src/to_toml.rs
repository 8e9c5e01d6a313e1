//! Writing a [`CameraConfig`] back as TOML, for the editing API.
//!
//! The output uses the same spellings a person would (`"50GB"`, `"1h30m"`), writes `record` and the whole
//! `[cameras.motion]` table explicitly (so editing never depends on defaults silently), and omits optional
//! keys that are unset.

use toml_edit::{value, Array, InlineTable, Item, Table, Value};

use crate::model::{CameraConfig, MotionConfig, Zone};
use crate::units::{format_duration, format_size};

/// The `[[cameras]]` table for `camera`.
pub fn camera_table(camera: &CameraConfig) -> Table {
    let mut table = Table::new();
    table.insert("name", value(camera.name.as_str()));
    table.insert("url", value(camera.url.as_str()));
    if let Some(sub) = &camera.sub_url {
        table.insert("sub_url", value(sub.as_str()));
    }
    if let Some(user) = &camera.username {
        table.insert("username", value(user.as_str()));
    }
    if let Some(password) = &camera.password {
        table.insert("password", value(password.as_str()));
    }
    table.insert("record", value(camera.record.as_str()));
    if let Some(size) = camera.max_size {
        table.insert("max_size", value(format_size(size)));
    }
    if let Some(age) = camera.max_age {
        table.insert("max_age", value(format_duration(age)));
    }
    table.insert("motion", Item::Table(motion_table(&camera.motion)));
    table
}

fn motion_table(motion: &MotionConfig) -> Table {
    let mut table = Table::new();
    table.insert("enabled", value(motion.enabled));
    table.insert("sensitivity", value(motion.sensitivity));
    table.insert("min_duration", value(format_duration(motion.min_duration)));
    table.insert("pre_roll", value(format_duration(motion.pre_roll)));
    table.insert("post_roll", value(format_duration(motion.post_roll)));
    table.insert("keyframes_only", value(motion.keyframes_only));
    if !motion.zones.is_empty() {
        let zones: Array = motion.zones.iter().map(zone_value).collect();
        table.insert("zones", value(zones));
    }
    table
}

fn zone_value(zone: &Zone) -> Value {
    let mut table = InlineTable::new();
    table.insert("name", zone.name.as_str().into());
    table.insert("kind", zone.kind.as_str().into());
    let points: Array = zone
        .points
        .iter()
        .map(|&(x, y)| Value::Array(Array::from_iter([x, y])))
        .collect();
    table.insert("points", Value::Array(points));
    Value::InlineTable(table)
}
