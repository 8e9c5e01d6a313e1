//! Making an existing TOML table say what a new one says, touching as little text as possible.
//!
//! An edit from the UI must not reformat the user's file: unchanged values keep their spelling and trailing
//! comments, changed values keep their position and comments, and lines that merely spell out a default stay.

use toml_edit::{Item, Table, TableLike, Value};

use crate::units::{parse_bitrate, parse_duration, parse_size};

/// Keys whose string values are durations or sizes, compared by meaning (`"60s"` equals `"1m"`).
const DURATION_KEYS: [&str; 5] = ["max_age", "min_duration", "pre_roll", "post_roll", "cooldown"];
const SIZE_KEYS: [&str; 1] = ["max_size"];
/// `[cameras.encode] bitrate`: `"1Mbit"` equals `"1000kbit"` and `1000000`.
const BITRATE_KEY: &str = "bitrate";

/// Makes `old` mean what `new` means. A key only in `old` that has an entry in `defaults` is set to the
/// default in place (its line and comments stay); other keys only in `old` are removed. `inline` says `old`
/// is an inline table, whose entries must be plain values.
pub(crate) fn merge_table(old: &mut dyn TableLike, new: &Table, defaults: Option<&Table>, inline: bool) {
    let stale: Vec<String> = old.iter().map(|(k, _)| k.to_string()).filter(|k| !new.contains_key(k)).collect();
    for key in stale {
        let default = defaults.and_then(|d| d.get(&key));
        let keep = match (old.get_mut(&key), default) {
            (Some(Item::Table(sub)), Some(Item::Table(d))) => {
                merge_table(sub, &Table::new(), Some(d), false);
                !sub.is_empty()
            }
            (Some(Item::Value(Value::InlineTable(sub))), Some(Item::Table(d))) => {
                merge_table(sub, &Table::new(), Some(d), true);
                !sub.is_empty()
            }
            (Some(item @ Item::Value(_)), Some(d @ Item::Value(_))) => {
                merge_item(&key, item, d, None, inline);
                true
            }
            _ => false,
        };
        if !keep {
            old.remove(&key);
        }
    }
    for (key, new_item) in new.iter() {
        let default = defaults.and_then(|d| d.get(key)).and_then(Item::as_table);
        match old.get_mut(key) {
            Some(old_item) => merge_item(key, old_item, new_item, default, inline),
            None if inline => {
                if let Ok(v) = new_item.clone().into_value() {
                    old.insert(key, Item::Value(v));
                }
            }
            None => {
                old.insert(key, new_item.clone());
            }
        }
    }
}

fn merge_item(key: &str, old: &mut Item, new: &Item, defaults: Option<&Table>, inline: bool) {
    match (old, new) {
        (Item::Table(old_table), Item::Table(new_table)) => merge_table(old_table, new_table, defaults, false),
        (Item::Value(Value::InlineTable(old_table)), Item::Table(new_table)) => {
            merge_table(old_table, new_table, defaults, true)
        }
        (Item::Value(old_value), Item::Value(new_value)) => {
            if !same_value(key, old_value, new_value) {
                let decor = old_value.decor().clone();
                *old_value = new_value.clone();
                *old_value.decor_mut() = decor;
            }
        }
        (old, new) => {
            *old = if inline || old.is_value() {
                new.clone().into_value().map(Item::Value).unwrap_or_else(|item| item)
            } else {
                new.clone()
            };
        }
    }
}

/// Equal in meaning, ignoring formatting: numbers by value, durations and sizes by what they parse to.
pub(crate) fn same_value(key: &str, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            let (x, y) = (x.value(), y.value());
            x == y
                || DURATION_KEYS.contains(&key)
                    && matches!((parse_duration(x), parse_duration(y)), (Ok(p), Ok(q)) if p == q)
                || SIZE_KEYS.contains(&key) && matches!((parse_size(x), parse_size(y)), (Ok(p), Ok(q)) if p == q)
                || key == BITRATE_KEY && matches!((parse_bitrate(x), parse_bitrate(y)), (Ok(p), Ok(q)) if p == q)
        }
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Datetime(x), Value::Datetime(y)) => x.value() == y.value(),
        (Value::Float(_) | Value::Integer(_), Value::Float(_) | Value::Integer(_)) => number(a) == number(b),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same_value(key, p, q))
        }
        (Value::InlineTable(x), Value::InlineTable(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(k, v, w)))
        }
        (Value::Integer(_), _) if SIZE_KEYS.contains(&key) => size_of(a) == size_of(b),
        (_, Value::Integer(_)) if SIZE_KEYS.contains(&key) => size_of(a) == size_of(b),
        (Value::Integer(_), _) | (_, Value::Integer(_)) if key == BITRATE_KEY => {
            bitrate_of(a).is_some() && bitrate_of(a) == bitrate_of(b)
        }
        _ => false,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f.value()),
        // Config numbers are small; rounding of huge integers does not matter for equality here.
        Value::Integer(i) => Some(*i.value() as f64),
        _ => None,
    }
}

/// A bit rate written as a string or as an integer number of bits per second.
fn bitrate_of(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => parse_bitrate(s.value()).ok(),
        Value::Integer(i) => u64::try_from(*i.value()).ok(),
        _ => None,
    }
}

/// A size written as a string or as an integer number of bytes.
fn size_of(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => parse_size(s.value()).ok(),
        Value::Integer(i) => u64::try_from(*i.value()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        text.parse().unwrap()
    }

    #[test]
    fn meaning_not_spelling() {
        assert!(same_value("max_age", &v("\"60s\""), &v("\"1m\"")));
        assert!(!same_value("name", &v("\"60s\""), &v("\"1m\"")));
        assert!(same_value("max_size", &v("\"1KB\""), &v("1000")));
        assert!(same_value("max_size", &v("1000"), &v("\"1KB\"")));
        assert!(same_value("sensitivity", &v("1"), &v("1.0")));
        assert!(same_value("points", &v("[[0, 1]]"), &v("[[0.0, 1.0]]")));
        assert!(!same_value("url", &v("'a'"), &v("'b'")));
    }
}
