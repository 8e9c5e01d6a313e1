//! Walking the parsed TOML with its byte spans, turning each value into a typed one or a diagnostic.
//!
//! The config is read from a `toml_edit` document rather than through serde so that every value keeps
//! its position (for `file:line: key:` messages), unknown keys can be named with their own line, and all
//! problems are collected instead of stopping at the first.

use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use toml_edit::{Item, TableLike, Value};

use crate::error::{line_of, Diagnostic};
use crate::units::{parse_duration, parse_size};

type Span = Option<Range<usize>>;

/// Collects diagnostics while the file is read.
pub(crate) struct Ctx<'a> {
    text: &'a str,
    file: &'a Path,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub fn new(text: &'a str, file: &'a Path) -> Self {
        Ctx { text, file, diagnostics: Vec::new() }
    }

    /// 1-based line of a span's start (line 1 when unknown).
    pub fn line(&self, span: &Span) -> usize {
        span.as_ref().map_or(1, |s| line_of(self.text, s.start))
    }

    /// Records a problem at `span` for `key`.
    pub fn error(&mut self, span: &Span, key: &str, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: self.line(span),
            key: key.to_string(),
            message: message.into(),
        });
    }

    fn wrong_type(&mut self, field: &Field<'_>, expected: &str) {
        let found = field.type_name();
        self.error(&field.span, &field.path, format!("expected {expected}, found {found}"));
    }

    pub fn string(&mut self, field: &Field<'a>) -> Option<&'a str> {
        let s = field.value().and_then(Value::as_str);
        if s.is_none() {
            self.wrong_type(field, "a string");
        }
        s
    }

    /// A string that must not be empty or only spaces.
    pub fn non_empty_string(&mut self, field: &Field<'a>) -> Option<&'a str> {
        let s = self.string(field)?;
        if s.trim().is_empty() {
            self.error(&field.span, &field.path, "must not be empty");
            return None;
        }
        Some(s)
    }

    pub fn bool(&mut self, field: &Field<'a>) -> Option<bool> {
        let b = field.value().and_then(Value::as_bool);
        if b.is_none() {
            self.wrong_type(field, "true or false");
        }
        b
    }

    /// An integer or float, as f64.
    pub fn number(&mut self, field: &Field<'a>) -> Option<f64> {
        let n = match field.value() {
            Some(Value::Float(f)) => Some(*f.value()),
            // Config numbers are small; i64 to f64 rounding is irrelevant here.
            Some(Value::Integer(i)) => Some(*i.value() as f64),
            _ => None,
        };
        if n.is_none() {
            self.wrong_type(field, "a number");
        }
        n
    }

    /// A duration string such as `"10s"`.
    pub fn duration(&mut self, field: &Field<'a>) -> Option<Duration> {
        let Some(text) = field.value().and_then(Value::as_str) else {
            self.wrong_type(field, "a duration string such as \"10s\" or \"1h30m\"");
            return None;
        };
        self.check(field, parse_duration(text))
    }

    /// A size string such as `"50GB"` or an integer number of bytes.
    pub fn size(&mut self, field: &Field<'a>) -> Option<u64> {
        match field.value() {
            Some(Value::String(s)) => self.check(field, parse_size(s.value())),
            Some(Value::Integer(i)) => {
                let bytes = u64::try_from(*i.value()).map_err(|_| "a size cannot be negative".to_string());
                self.check(field, bytes)
            }
            _ => {
                self.wrong_type(field, "a size such as \"50GB\"");
                None
            }
        }
    }

    /// A string naming one of an enum's values.
    pub fn keyword<T: FromStr<Err = String>>(&mut self, field: &Field<'a>) -> Option<T> {
        let text = self.string(field)?;
        self.check(field, text.parse())
    }

    /// Records `result`'s error against `field`.
    pub fn check<T>(&mut self, field: &Field<'_>, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.error(&field.span, &field.path, e)).ok()
    }

    /// A table, `[x]` or inline `{ ... }`.
    pub fn section(&mut self, field: &Field<'a>) -> Option<Section<'a>> {
        let table: &'a dyn TableLike = match field.slot {
            Slot::Item(Item::Table(t)) => t,
            Slot::Item(Item::Value(Value::InlineTable(t))) | Slot::Value(Value::InlineTable(t)) => t,
            _ => {
                self.wrong_type(field, "a table");
                return None;
            }
        };
        Some(Section { table, path: field.path.clone(), span: field.span.clone() })
    }

    /// An array of tables: `[[x]]` sections or an inline array of `{ ... }`.
    pub fn tables(&mut self, field: &Field<'a>) -> Vec<Section<'a>> {
        let mut out = Vec::new();
        match field.slot {
            Slot::Item(Item::ArrayOfTables(array)) => {
                for (i, table) in array.iter().enumerate() {
                    out.push(Section {
                        table,
                        path: format!("{}[{i}]", field.path),
                        span: table.span().or_else(|| field.span.clone()),
                    });
                }
            }
            _ => {
                for element in self.array(field) {
                    if let Some(section) = self.section(&element) {
                        out.push(section);
                    }
                }
            }
        }
        out
    }

    /// The elements of an array value.
    pub fn array(&mut self, field: &Field<'a>) -> Vec<Field<'a>> {
        let Some(Value::Array(array)) = field.value() else {
            self.wrong_type(field, "an array");
            return Vec::new();
        };
        array
            .iter()
            .enumerate()
            .map(|(i, value)| Field {
                path: format!("{}[{i}]", field.path),
                span: value.span().or_else(|| field.span.clone()),
                slot: Slot::Value(value),
            })
            .collect()
    }

    /// A string or an array of strings, as a list.
    pub fn string_or_list(&mut self, field: &Field<'a>) -> Vec<(Field<'a>, &'a str)> {
        if let Some(Value::String(s)) = field.value() {
            return vec![(field.clone(), s.value().as_str())];
        }
        self.string_list(field)
    }

    /// An array of strings, each with its field (for per-element errors).
    pub fn string_list(&mut self, field: &Field<'a>) -> Vec<(Field<'a>, &'a str)> {
        let mut out = Vec::new();
        for element in self.array(field) {
            if let Some(s) = self.string(&element) {
                out.push((element, s));
            }
        }
        out
    }
}

/// Where a value sits: a table entry or an array element.
#[derive(Clone, Copy)]
pub(crate) enum Slot<'a> {
    Item(&'a Item),
    Value(&'a Value),
}

/// One value with its key path and position.
#[derive(Clone)]
pub(crate) struct Field<'a> {
    /// `cameras[0].motion.zones[1].points`
    pub path: String,
    /// The value's span, else its key's.
    pub span: Span,
    pub slot: Slot<'a>,
}

impl<'a> Field<'a> {
    pub fn value(&self) -> Option<&'a Value> {
        match self.slot {
            Slot::Item(item) => item.as_value(),
            Slot::Value(value) => Some(value),
        }
    }

    fn type_name(&self) -> &'static str {
        match self.slot {
            Slot::Item(item) => item.type_name(),
            Slot::Value(value) => value.type_name(),
        }
    }
}

/// A table being read, with its key path and the span of its header (or of the key that opened it).
pub(crate) struct Section<'a> {
    table: &'a dyn TableLike,
    pub path: String,
    pub span: Span,
}

impl<'a> Section<'a> {
    pub fn root(table: &'a dyn TableLike) -> Self {
        Section { table, path: String::new(), span: Some(0..0) }
    }

    /// `path.key` (or `key` at the root).
    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The entry `key`, if present.
    pub fn get(&self, key: &str) -> Option<Field<'a>> {
        let (k, item) = self.table.get_key_value(key)?;
        if item.is_none() {
            return None;
        }
        Some(Field {
            path: self.key_path(key),
            span: item.span().or_else(|| k.span()).or_else(|| self.span.clone()),
            slot: Slot::Item(item),
        })
    }

    /// The entry `key`; a diagnostic at the table when it is missing.
    pub fn require(&self, ctx: &mut Ctx<'a>, key: &str) -> Option<Field<'a>> {
        let field = self.get(key);
        if field.is_none() {
            ctx.error(&self.span, &self.key_path(key), "missing (required)");
        }
        field
    }

    /// Reports every key not in `allowed`, at the key's own line.
    pub fn check_keys(&self, ctx: &mut Ctx<'a>, allowed: &[&str]) {
        for (key, _) in self.table.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let span = self
                .table
                .get_key_value(key)
                .and_then(|(k, item)| k.span().or_else(|| item.span()))
                .or_else(|| self.span.clone());
            ctx.error(&span, &self.key_path(key), format!("unknown key (expected one of {})", allowed.join(", ")));
        }
    }

    /// The span of the key `key` itself (for errors about a key's presence rather than its value).
    pub fn key_span(&self, key: &str) -> Span {
        self.table.get_key_value(key).and_then(|(k, _)| k.span()).or_else(|| self.span.clone())
    }
}
