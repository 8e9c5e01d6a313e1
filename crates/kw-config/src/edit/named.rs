//! The arrays of named tables the admin API edits one entry at a time (`[[notify]]`, `[[offsite]]`): find
//! an entry by its `name`, add or change one in place (comments and position kept), remove one, and check
//! one entry on its own. Shared so that each kind of entry only says how its table looks.

use toml_edit::{value, ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

use crate::error::ConfigError;
use crate::merge::merge_table;
use crate::model::Config;

/// Position of the entry of `key` (`notify`, `offsite`) called `name`.
pub(super) fn find(doc: &DocumentMut, key: &str, name: &str) -> Option<usize> {
    let named = |t: &dyn TableLike| t.get("name").and_then(Item::as_str) == Some(name);
    match doc.get(key)? {
        Item::ArrayOfTables(array) => array.iter().position(|t| named(t)),
        Item::Value(Value::Array(array)) => array.iter().position(|v| v.as_inline_table().is_some_and(|t| named(t))),
        _ => None,
    }
}

/// "no notifier "x" in the config".
fn no_such(what: &str, name: &str) -> ConfigError {
    ConfigError::Edit(format!("no {what} {name:?} in the config"))
}

/// Appends `table` to the array `key` (`existing` = `None`) or makes the entry called `existing` say what
/// `table` says, in place: keys `table` leaves out are removed, a new `name` renames it.
pub(super) fn upsert(
    doc: &mut DocumentMut,
    key: &str,
    what: &str,
    existing: Option<&str>,
    table: Table,
) -> Result<(), ConfigError> {
    let index = match existing {
        Some(name) => Some(find(doc, key, name).ok_or_else(|| no_such(what, name))?),
        None => None,
    };
    let root = doc.as_table_mut();
    match (root.get_mut(key), index) {
        (None, _) => {
            let mut array = ArrayOfTables::new();
            array.push(table);
            root.insert(key, Item::ArrayOfTables(array));
        }
        (Some(Item::ArrayOfTables(array)), Some(i)) => {
            if let Some(old) = array.get_mut(i) {
                merge_table(old, &table, None, false);
            }
        }
        (Some(Item::ArrayOfTables(array)), None) => array.push(table),
        (Some(Item::Value(Value::Array(array))), Some(i)) => {
            if let Some(old) = array.get_mut(i).and_then(Value::as_inline_table_mut) {
                merge_table(old, &table, None, true);
            }
        }
        (Some(Item::Value(Value::Array(array))), None) => array.push(Value::InlineTable(table.into_inline_table())),
        (Some(_), _) => return Err(ConfigError::Edit(format!("`{key}` is not a list of tables"))),
    }
    Ok(())
}

/// Removes the entry of `key` called `name`; an array left empty goes away.
pub(super) fn remove(doc: &mut DocumentMut, key: &str, what: &str, name: &str) -> Result<(), ConfigError> {
    let index = find(doc, key, name).ok_or_else(|| no_such(what, name))?;
    let root = doc.as_table_mut();
    let now_empty = match root.get_mut(key) {
        Some(Item::ArrayOfTables(array)) => {
            array.remove(index);
            array.is_empty()
        }
        Some(Item::Value(Value::Array(array))) => {
            array.remove(index);
            array.is_empty()
        }
        _ => false,
    };
    if now_empty {
        root.remove(key);
    }
    Ok(())
}

/// Checks one entry of `key` on its own, in a config that has only the cameras named `cameras` (what the
/// entry may list) and it; errors name the key as `<key>[0].<field>`.
pub(super) fn validate_alone(cameras: &[String], key: &str, table: Table) -> Result<Config, ConfigError> {
    let mut doc = DocumentMut::new();
    let mut cams = ArrayOfTables::new();
    for c in cameras {
        let mut t = Table::new();
        t.insert("name", value(c.as_str()));
        t.insert("url", value("rtsp://127.0.0.1/check"));
        cams.push(t);
    }
    if !cams.is_empty() {
        doc.insert("cameras", Item::ArrayOfTables(cams));
    }
    let mut entries = ArrayOfTables::new();
    entries.push(table);
    doc.insert(key, Item::ArrayOfTables(entries));
    crate::sections::parse_config(&doc.to_string(), std::path::Path::new("keepwatch.toml"))
}

/// Sets `key` to the strings of `list`, or leaves it out for `None`.
pub(super) fn insert_list(t: &mut Table, key: &str, list: Option<&Vec<String>>) {
    if let Some(l) = list {
        t.insert(key, value(l.iter().map(String::as_str).collect::<toml_edit::Array>()));
    }
}

/// Sets `key` to `v`, or leaves it out for `None`.
pub(super) fn insert_text(t: &mut Table, key: &str, v: Option<&String>) {
    if let Some(v) = v {
        t.insert(key, value(v.as_str()));
    }
}
