//! Changing the config file the way a careful person would: in place, keeping comments, order and layout.
//!
//! The web UI and admin API add, change and remove cameras (and, in [`notify`], notifiers and `[alerts]`;
//! in [`offsite`], off-site targets; [`named`] holds what those lists of named tables share) through
//! [`ConfigDoc`]. Every change is applied to a
//! copy and validated before it is kept, and [`ConfigDoc::save`] validates again and replaces the file
//! atomically, so a failed edit or a crash never leaves an invalid or half-written config behind.

mod named;
mod notify;
mod offsite;

pub use notify::NotifierEdit;
pub use offsite::OffsiteEdit;

use std::fmt;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

use crate::atomic::write_atomically;
use crate::error::ConfigError;
use crate::merge::merge_table;
use crate::model::{CameraConfig, Config};
use crate::sections::parse_config;
use crate::to_toml::{camera_table, default_camera_keys};

/// An editable config file.
#[derive(Clone)]
pub struct ConfigDoc {
    doc: DocumentMut,
    file: PathBuf,
}

impl ConfigDoc {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, "cannot read", e))?;
        Self::parse(&text, path)
    }

    /// Validates `text` (named `path` in messages) and keeps it for editing.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        parse_config(text, path)?;
        // parse_config accepted the text, so toml_edit does too; map the error anyway rather than panic.
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| ConfigError::Edit(format!("{}: {}", path.display(), e.message())))?;
        Ok(ConfigDoc { doc, file: path.to_path_buf() })
    }

    /// The config as it stands after the edits so far.
    pub fn config(&self) -> Result<Config, ConfigError> {
        parse_config(&self.doc.to_string(), &self.file)
    }

    /// Adds `camera`, or updates the camera with the same name in place.
    pub fn upsert_camera(&mut self, camera: &CameraConfig) -> Result<(), ConfigError> {
        self.upsert_camera_table(camera_table(camera))
    }

    /// Like [`ConfigDoc::upsert_camera`] with the camera given as TOML keys (`name` required). An existing
    /// camera's keys that `table` leaves out go back to their default in place, or are removed when they have
    /// none (`sub_url`, `username`, `password`, `max_size`, `max_age`).
    pub fn upsert_camera_table(&mut self, table: Table) -> Result<(), ConfigError> {
        let name = camera_name(&table)?;
        self.edit(|doc| {
            let exists = find_camera(doc, &name).is_some();
            set_camera(doc, exists.then_some(name.as_str()), table)
        })
    }

    /// Replaces the camera called `name` with `camera`, which may carry a new name; notifiers that list the
    /// camera follow the rename.
    pub fn update_camera(&mut self, name: &str, camera: &CameraConfig) -> Result<(), ConfigError> {
        let table = camera_table(camera);
        self.edit(|doc| {
            if find_camera(doc, name).is_none() {
                return Err(ConfigError::NoSuchCamera(name.to_string()));
            }
            set_camera(doc, Some(name), table)?;
            if camera.name != name {
                rename_in_notifiers(doc, name, &camera.name);
            }
            Ok(())
        })
    }

    /// Removes the camera called `name` and drops it from notifiers' `cameras` lists. Fails, changing nothing,
    /// when the camera does not exist or when a notifier would be left with an empty list.
    pub fn remove_camera(&mut self, name: &str) -> Result<(), ConfigError> {
        self.edit(|doc| {
            if find_camera(doc, name).is_none() {
                return Err(ConfigError::NoSuchCamera(name.to_string()));
            }
            named::remove(doc, "cameras", "camera", name)?;
            remove_from_notifiers(doc, name);
            Ok(())
        })
    }

    /// Points `[storage] path` at `path` (made when missing; `keepwatch restore` names the new store), the
    /// rest of the file as it was.
    pub fn set_storage_path(&mut self, path: &str) -> Result<(), ConfigError> {
        self.edit(|doc| {
            let root = doc.as_table_mut();
            if !root.contains_key("storage") {
                root.insert("storage", Item::Table(Table::new()));
            }
            match root.get_mut("storage").and_then(Item::as_table_like_mut) {
                Some(t) => {
                    t.insert("path", toml_edit::value(path));
                    Ok(())
                }
                None => Err(ConfigError::Edit("[storage] is not a table".into())),
            }
        })
    }

    /// Validates the text and writes it to `path` atomically (temporary file in the same directory, fsync,
    /// rename, fsync of the directory). The file holds camera passwords, so it comes out private: 0600, or
    /// the old file's mode where that is stricter (0400), never wider. Relative paths in the config are
    /// checked against `path`'s directory.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = self.doc.to_string();
        parse_config(&text, path)?;
        write_atomically(path, text.as_bytes()).map_err(|e| ConfigError::io(path, "cannot write", e))
    }

    /// Applies `change` to a copy and keeps it only if the result is a valid config.
    fn edit(&mut self, change: impl FnOnce(&mut DocumentMut) -> Result<(), ConfigError>) -> Result<(), ConfigError> {
        let mut doc = self.doc.clone();
        change(&mut doc)?;
        parse_config(&doc.to_string(), &self.file)?;
        self.doc = doc;
        Ok(())
    }
}

impl fmt::Display for ConfigDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.doc.fmt(f)
    }
}

/// Never shows the text: it holds passwords.
impl fmt::Debug for ConfigDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigDoc").field("file", &self.file).finish_non_exhaustive()
    }
}

fn camera_name(table: &Table) -> Result<String, ConfigError> {
    match table.get("name").and_then(Item::as_str) {
        Some(name) => Ok(name.to_string()),
        None => Err(ConfigError::Edit("a camera needs a name".to_string())),
    }
}

/// Position of the camera called `name`.
fn find_camera(doc: &DocumentMut, name: &str) -> Option<usize> {
    named::find(doc, "cameras", name)
}

/// Merges `table` into the camera called `existing`, or appends it when `existing` is `None`.
fn set_camera(doc: &mut DocumentMut, existing: Option<&str>, table: Table) -> Result<(), ConfigError> {
    let index = existing.and_then(|name| find_camera(doc, name));
    let root = doc.as_table_mut();
    match (root.get_mut("cameras"), index) {
        (None, _) => {
            let mut array = ArrayOfTables::new();
            array.push(table);
            root.insert("cameras", Item::ArrayOfTables(array));
        }
        (Some(Item::ArrayOfTables(array)), Some(i)) => {
            if let Some(old) = array.get_mut(i) {
                merge_table(old, &table, Some(&default_camera_keys()), false);
            }
        }
        (Some(Item::ArrayOfTables(array)), None) => array.push(table),
        (Some(Item::Value(Value::Array(array))), Some(i)) => {
            if let Some(old) = array.get_mut(i).and_then(Value::as_inline_table_mut) {
                merge_table(old, &table, Some(&default_camera_keys()), true);
            }
        }
        (Some(Item::Value(Value::Array(array))), None) => {
            array.push(Value::InlineTable(table.into_inline_table()));
        }
        (Some(_), _) => return Err(ConfigError::Edit("`cameras` is not a list of tables".to_string())),
    }
    Ok(())
}

/// Calls `f` on every notifier's and off-site target's `cameras` array.
fn for_each_notify_camera_list(doc: &mut DocumentMut, mut f: impl FnMut(&mut toml_edit::Array)) {
    let mut visit = |t: &mut dyn TableLike| {
        if let Some(list) = t.get_mut("cameras").and_then(Item::as_array_mut) {
            f(list);
        }
    };
    for key in ["notify", "offsite"] {
        match doc.get_mut(key) {
            Some(Item::ArrayOfTables(array)) => array.iter_mut().for_each(|t| visit(t)),
            Some(Item::Value(Value::Array(array))) => {
                array.iter_mut().filter_map(Value::as_inline_table_mut).for_each(|t| visit(t))
            }
            _ => {}
        }
    }
}

fn rename_in_notifiers(doc: &mut DocumentMut, from: &str, to: &str) {
    for_each_notify_camera_list(doc, |list| {
        for value in list.iter_mut() {
            if value.as_str() == Some(from) {
                let decor = value.decor().clone();
                *value = Value::from(to);
                *value.decor_mut() = decor;
            }
        }
    });
}

fn remove_from_notifiers(doc: &mut DocumentMut, name: &str) {
    for_each_notify_camera_list(doc, |list| {
        let before = list.len();
        list.retain(|v| v.as_str() != Some(name));
        if list.len() != before {
            list.fmt();
        }
    });
}
