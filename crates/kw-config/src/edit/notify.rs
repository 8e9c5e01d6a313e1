//! Editing `[[notify]]` entries and `[alerts]` through [`ConfigDoc`], for the admin API's notifier editor.
//!
//! Why values travel as typed text ([`NotifierEdit`]): the config's own reader is the one judge of what is
//! valid (a target's scheme for its kind, a cooldown's spelling, camera names), so an edit writes what the
//! admin typed and the validation that every edit runs names the exact key (`notify[1].target`) when it is
//! wrong. Nothing is kept unless the whole file is valid afterwards.

use std::fmt;

use toml_edit::{value, Item, Table, TableLike, Value};

use super::{named, ConfigDoc};
use crate::error::ConfigError;
use crate::model::NotifyConfig;
use crate::secrets::redacted_url;
use crate::units::format_duration;

/// One notifier as an edit writes it: every value as typed (checked when the edit is applied).
#[derive(Clone, Default, PartialEq)]
pub struct NotifierEdit {
    pub name: String,
    /// `mqtt`, `webhook`, `email` or `ntfy`.
    pub kind: String,
    /// May hold credentials.
    pub target: String,
    /// `None`: all cameras.
    pub cameras: Option<Vec<String>>,
    /// `None`: all event kinds.
    pub events: Option<Vec<String>>,
    /// `None`: the default (30 s).
    pub cooldown: Option<String>,
    pub discovery_prefix: Option<String>,
    pub commands: Option<bool>,
    /// Webhook HMAC key.
    pub secret: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
}

impl NotifierEdit {
    /// The edit that writes `n` as it is.
    pub fn from_config(n: &NotifyConfig) -> NotifierEdit {
        NotifierEdit {
            name: n.name.clone(),
            kind: n.kind.as_str().to_owned(),
            target: n.target.clone(),
            cameras: n.cameras.clone(),
            events: n.events.as_ref().map(|e| e.iter().map(|k| k.as_str().to_owned()).collect()),
            cooldown: (n.cooldown != crate::model::DEFAULT_COOLDOWN).then(|| format_duration(n.cooldown)),
            discovery_prefix: n.discovery_prefix.clone(),
            commands: n.commands.then_some(true),
            secret: n.secret.clone(),
            from: n.from.clone(),
            to: n.to.clone(),
        }
    }

    /// Checks this notifier on its own, by the config's rules (`cameras` are the camera names it may list),
    /// and returns it as a config holding it would. Errors name the key as `notify[0].<key>`.
    pub fn validate(&self, cameras: &[String]) -> Result<NotifyConfig, ConfigError> {
        let cfg = named::validate_alone(cameras, "notify", self.table())?;
        cfg.notify.into_iter().next().ok_or_else(|| ConfigError::Edit("the notifier did not survive its check".into()))
    }

    /// The `[[notify]]` table, keys in the order a person would write them, unset ones left out.
    fn table(&self) -> Table {
        let mut t = Table::new();
        t.insert("name", value(self.name.as_str()));
        t.insert("kind", value(self.kind.as_str()));
        t.insert("target", value(self.target.as_str()));
        named::insert_list(&mut t, "cameras", self.cameras.as_ref());
        named::insert_list(&mut t, "events", self.events.as_ref());
        named::insert_text(&mut t, "cooldown", self.cooldown.as_ref());
        named::insert_text(&mut t, "discovery_prefix", self.discovery_prefix.as_ref());
        if let Some(c) = self.commands {
            t.insert("commands", value(c));
        }
        named::insert_text(&mut t, "secret", self.secret.as_ref());
        named::insert_text(&mut t, "from", self.from.as_ref());
        if !self.to.is_empty() {
            named::insert_list(&mut t, "to", Some(&self.to));
        }
        t
    }
}

/// Never shows the target's credentials or the secret.
impl fmt::Debug for NotifierEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierEdit")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("target", &redacted_url(&self.target))
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl ConfigDoc {
    /// Adds a notifier (`existing` = `None`) or changes the one called `existing` in place (its comments and
    /// position kept; keys the edit leaves unset are removed; a new `name` renames it).
    pub fn upsert_notifier(&mut self, existing: Option<&str>, n: &NotifierEdit) -> Result<(), ConfigError> {
        let table = n.table();
        self.edit(|doc| named::upsert(doc, "notify", "notifier", existing, table))
    }

    /// Removes the notifier called `name`.
    pub fn remove_notifier(&mut self, name: &str) -> Result<(), ConfigError> {
        self.edit(|doc| named::remove(doc, "notify", "notifier", name))
    }

    /// Sets `[alerts] schedule` and `public_url` (`None` removes the key); an `[alerts]` table left empty
    /// goes away.
    pub fn set_alerts(&mut self, schedule: Option<&str>, public_url: Option<&str>) -> Result<(), ConfigError> {
        self.edit(|doc| {
            let root = doc.as_table_mut();
            if !root.contains_key("alerts") {
                if schedule.is_none() && public_url.is_none() {
                    return Ok(());
                }
                root.insert("alerts", Item::Table(Table::new()));
            }
            let Some(alerts) = root.get_mut("alerts").and_then(Item::as_table_like_mut) else {
                return Err(ConfigError::Edit("`alerts` is not a table".to_string()));
            };
            for (key, v) in [("schedule", schedule), ("public_url", public_url)] {
                set_string(alerts, key, v);
            }
            if alerts.is_empty() {
                root.remove("alerts");
            }
            Ok(())
        })
    }
}

/// Sets `key` to `v` keeping the line's decoration, or removes it for `None`.
fn set_string(t: &mut dyn TableLike, key: &str, v: Option<&str>) {
    match (t.get_mut(key), v) {
        (Some(Item::Value(old)), Some(v)) => {
            if old.as_str() != Some(v) {
                let decor = old.decor().clone();
                *old = Value::from(v);
                *old.decor_mut() = decor;
            }
        }
        (_, Some(v)) => {
            t.insert(key, value(v));
        }
        (_, None) => {
            t.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const TEXT: &str = r#"# my config
[storage]
path = "/tmp/kw"

[[cameras]]
name = "door"
url = "rtsp://10.0.0.2/s"

# the broker in the cellar
[[notify]]
name = "ha"
kind = "mqtt"
target = "mqtt://u:p@127.0.0.1:1883" # keep me
cooldown = "30s"

[alerts]
# weekdays only
schedule = "mon-fri 08:00-17:00"
"#;

    fn doc() -> ConfigDoc {
        ConfigDoc::parse(TEXT, Path::new("/tmp/kw.toml")).unwrap()
    }

    #[test]
    fn adds_changes_and_removes_notifiers_keeping_comments() {
        let mut d = doc();
        let hook = NotifierEdit {
            name: "hook".into(),
            kind: "webhook".into(),
            target: "https://example.org/in".into(),
            events: Some(vec!["motion".into()]),
            secret: Some("k".into()),
            ..Default::default()
        };
        d.upsert_notifier(None, &hook).unwrap();
        let mut ha = NotifierEdit::from_config(&d.config().unwrap().notify[0]);
        ha.cameras = Some(vec!["door".into()]);
        ha.name = "home".into();
        d.upsert_notifier(Some("ha"), &ha).unwrap();
        let text = d.to_string();
        assert!(text.contains("# the broker in the cellar") && text.contains("# keep me"), "{text}");
        let cfg = d.config().unwrap();
        assert_eq!(cfg.notify.len(), 2);
        assert_eq!(cfg.notify[0].name, "home");
        assert_eq!(cfg.notify[0].cameras, Some(vec!["door".to_string()]));
        assert_eq!(cfg.notify[1].secret.as_deref(), Some("k"));

        // A bad target is refused and nothing changes.
        let before = d.to_string();
        let bad = NotifierEdit { target: "ftp://x".into(), ..hook.clone() };
        let e = d.upsert_notifier(Some("hook"), &bad).unwrap_err();
        assert!(e.to_string().contains("notify[1].target"), "{e}");
        assert_eq!(d.to_string(), before);
        assert!(d.upsert_notifier(Some("nope"), &hook).is_err());

        d.remove_notifier("home").unwrap();
        d.remove_notifier("hook").unwrap();
        assert!(d.config().unwrap().notify.is_empty());
        assert!(!d.to_string().contains("[[notify]]"));
    }

    #[test]
    fn validates_one_notifier_alone() {
        let n = NotifierEdit {
            name: "n".into(),
            kind: "ntfy".into(),
            target: "https://ntfy.example.org/topic".into(),
            cameras: Some(vec!["door".into()]),
            cooldown: Some("1m".into()),
            ..Default::default()
        };
        let cfg = n.validate(&["door".into()]).unwrap();
        assert_eq!(cfg.cooldown, std::time::Duration::from_secs(60));
        let e = n.validate(&[]).unwrap_err().to_string();
        assert!(e.contains("notify[0].cameras"), "{e}");
        let e = NotifierEdit { target: "not a url".into(), ..n.clone() }.validate(&["door".into()]).unwrap_err();
        assert!(e.to_string().contains("notify[0].target"), "{e}");
    }

    #[test]
    fn sets_and_clears_the_alerts_table() {
        let mut d = doc();
        d.set_alerts(Some("sat,sun 10:00-12:00"), Some("https://nvr.example.org")).unwrap();
        let text = d.to_string();
        assert!(text.contains("# weekdays only") && text.contains("sat,sun 10:00-12:00"), "{text}");
        assert_eq!(d.config().unwrap().alerts.public_url.as_deref(), Some("https://nvr.example.org"));
        let e = d.set_alerts(Some("someday"), None).unwrap_err();
        assert!(e.to_string().contains("alerts.schedule"), "{e}");
        d.set_alerts(None, None).unwrap();
        assert!(!d.to_string().contains("[alerts]"));
    }
}
