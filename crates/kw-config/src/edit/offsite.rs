//! Editing `[[offsite]]` entries through [`ConfigDoc`], for the admin API's off-site editor.
//!
//! As for notifiers ([`super::notify`]), values travel as typed text ([`OffsiteEdit`]) and the config's own
//! reader judges them, so a wrong value is refused naming its key (`offsite[0].endpoint`) and nothing is
//! kept. The storage credentials are not part of an entry: it only names the `credentials_file` (written
//! by the caller), so this edit never puts a secret into the config file.

use toml_edit::{value, Table};

use super::{named, ConfigDoc};
use crate::error::ConfigError;
use crate::offsite::OffsiteConfig;

/// One off-site target as an edit writes it: every value as typed (checked when the edit is applied).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OffsiteEdit {
    pub name: String,
    /// `s3://bucket[/prefix]`, `webdav(s)://host/path`.
    pub target: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: bool,
    /// As written into the file (relative paths resolve against the config's directory).
    pub credentials_file: Option<String>,
    /// age recipients (`age1...`).
    pub recipients: Vec<String>,
    /// `None`: all cameras.
    pub cameras: Option<Vec<String>>,
    /// `None`: motion and camera-motion.
    pub events: Option<Vec<String>>,
    /// `clip`, `picture` or `both`; `None`: both.
    pub what: Option<String>,
    /// e.g. `2Mbit`.
    pub bandwidth: Option<String>,
    /// A whole number as typed (anything else is refused by the check, naming the key).
    pub keep_count: Option<String>,
    /// e.g. `30d`.
    pub keep_age: Option<String>,
    pub hide_names: bool,
}

impl OffsiteEdit {
    /// Checks this target on its own, by the config's rules (`cameras` are the camera names it may list),
    /// and returns it as a config holding it would. Errors name the key as `offsite[0].<key>`.
    pub fn validate(&self, cameras: &[String]) -> Result<OffsiteConfig, ConfigError> {
        let cfg = named::validate_alone(cameras, "offsite", self.table())?;
        cfg.offsite.into_iter().next().ok_or_else(|| ConfigError::Edit("the target did not survive its check".into()))
    }

    /// The `[[offsite]]` table, keys in the order a person would write them, unset ones left out.
    fn table(&self) -> Table {
        let mut t = Table::new();
        t.insert("name", value(self.name.as_str()));
        t.insert("target", value(self.target.as_str()));
        named::insert_text(&mut t, "endpoint", self.endpoint.as_ref());
        named::insert_text(&mut t, "region", self.region.as_ref());
        if self.path_style {
            t.insert("path_style", value(true));
        }
        named::insert_text(&mut t, "credentials_file", self.credentials_file.as_ref());
        named::insert_list(&mut t, "recipients", Some(&self.recipients));
        named::insert_list(&mut t, "cameras", self.cameras.as_ref());
        named::insert_list(&mut t, "events", self.events.as_ref());
        named::insert_text(&mut t, "what", self.what.as_ref());
        named::insert_text(&mut t, "bandwidth", self.bandwidth.as_ref());
        match self.keep_count.as_deref().map(|c| (c, c.trim().parse::<i64>())) {
            Some((_, Ok(n))) => {
                t.insert("keep_count", value(n));
            }
            // Written as typed, so the check says what is wrong with it.
            Some((c, Err(_))) => {
                t.insert("keep_count", value(c));
            }
            None => {}
        }
        named::insert_text(&mut t, "keep_age", self.keep_age.as_ref());
        if self.hide_names {
            t.insert("hide_names", value(true));
        }
        t
    }
}

impl ConfigDoc {
    /// Adds an off-site target (`existing` = `None`) or changes the one called `existing` in place (its
    /// comments and position kept; keys the edit leaves unset are removed; a new `name` renames it).
    pub fn upsert_offsite(&mut self, existing: Option<&str>, o: &OffsiteEdit) -> Result<(), ConfigError> {
        let table = o.table();
        self.edit(|doc| named::upsert(doc, "offsite", "off-site target", existing, table))
    }

    /// Removes the off-site target called `name`.
    pub fn remove_offsite(&mut self, name: &str) -> Result<(), ConfigError> {
        self.edit(|doc| named::remove(doc, "offsite", "off-site target", name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    const TEXT: &str = r#"# my config
[[cameras]]
name = "door"
url = "rtsp://10.0.0.2/s"

# the bucket at the office
[[offsite]]
name = "office"
target = "s3://kw-copies/house" # keep me
endpoint = "http://10.0.0.9:8333"
path_style = true
recipients = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
"#;

    fn edit() -> OffsiteEdit {
        OffsiteEdit {
            name: "nas".into(),
            target: "webdav://10.0.0.7/dav/kw".into(),
            credentials_file: Some("offsite-nas.toml".into()),
            recipients: vec![RECIPIENT.into()],
            cameras: Some(vec!["door".into()]),
            what: Some("clip".into()),
            bandwidth: Some("2Mbit".into()),
            keep_count: Some("100".into()),
            keep_age: Some("30d".into()),
            ..Default::default()
        }
    }

    #[test]
    fn adds_changes_and_removes_targets_keeping_comments() {
        let mut d = ConfigDoc::parse(TEXT, Path::new("/etc/kw/keepwatch.toml")).unwrap();
        d.upsert_offsite(None, &edit()).unwrap();
        let cfg = d.config().unwrap();
        assert_eq!(cfg.offsite.len(), 2);
        let nas = &cfg.offsite[1];
        assert_eq!(nas.credentials_file.as_deref(), Some(Path::new("/etc/kw/offsite-nas.toml")));
        assert_eq!((nas.keep_count, nas.bandwidth), (Some(100), Some(2_000_000)));

        let office = OffsiteEdit {
            name: "office".into(),
            target: "s3://kw-copies/house".into(),
            endpoint: Some("http://10.0.0.9:8333".into()),
            path_style: true,
            recipients: vec![RECIPIENT.into()],
            hide_names: true,
            ..Default::default()
        };
        d.upsert_offsite(Some("office"), &office).unwrap();
        let text = d.to_string();
        assert!(text.contains("# the bucket at the office") && text.contains("# keep me"), "{text}");
        assert!(d.config().unwrap().offsite[0].hide_names);

        // Bad values are refused naming their key, and nothing changes.
        let before = d.to_string();
        for (bad, key) in [
            (OffsiteEdit { target: "ftp://x".into(), ..edit() }, "offsite[1].target"),
            (OffsiteEdit { keep_count: Some("many".into()), ..edit() }, "offsite[1].keep_count"),
            (OffsiteEdit { recipients: vec!["age1nope".into()], ..edit() }, "offsite[1].recipients"),
            (OffsiteEdit { endpoint: Some("http://x".into()), ..edit() }, "offsite[1].endpoint"),
        ] {
            let e = d.upsert_offsite(Some("nas"), &bad).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
        assert_eq!(d.to_string(), before);

        // A camera rename follows into the target's list; removing it is refused while it is the only one.
        let mut cam = d.config().unwrap().cameras[0].clone();
        cam.name = "front".into();
        d.update_camera("door", &cam).unwrap();
        assert_eq!(d.config().unwrap().offsite[1].cameras, Some(vec!["front".to_string()]));

        d.remove_offsite("nas").unwrap();
        d.remove_offsite("office").unwrap();
        assert!(d.config().unwrap().offsite.is_empty());
        assert!(!d.to_string().contains("[[offsite]]"));
        assert!(d.remove_offsite("office").is_err());
    }

    #[test]
    fn validates_one_target_alone() {
        let o = edit().validate(&["door".into()]).unwrap();
        assert_eq!(o.keep_age, Some(std::time::Duration::from_secs(30 * 86400)));
        let e = edit().validate(&[]).unwrap_err().to_string();
        assert!(e.contains("offsite[0].cameras"), "{e}");
    }
}
