//! `[[offsite]]`: where encrypted copies of event clips and pictures go, as the rest of keepwatch sees it.
//!
//! A model of its own (not in `model.rs`) so the off-site settings stay one small, separate change.
//! Credentials never live in the config: they come from `credentials_file` or the environment (see
//! [`OffsiteConfig::credentials_env`]), so the config file can be shared or edited through the API without
//! carrying a storage password.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::model::NotifyEvent;

/// One `[[offsite]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OffsiteConfig {
    /// `[a-z0-9-]+`, unique among off-site targets.
    pub name: String,
    /// `s3://bucket[/prefix]`, `webdav://host[:port]/path` or `webdavs://...` (no credentials in it).
    pub target: String,
    /// S3 only: the service's address (`http://127.0.0.1:8333`, `https://s3.eu-central-003.backblazeb2.com`);
    /// `None` means AWS.
    pub endpoint: Option<String>,
    /// S3 only: the region; `None` means `us-east-1`.
    pub region: Option<String>,
    /// S3 only: path-style requests (`endpoint/bucket/key`), as MinIO, Garage and SeaweedFS want.
    pub path_style: bool,
    /// A file with `key = "..."` and `secret = "..."` (S3 access key id and secret, or WebDAV user and
    /// password); resolved against the config file's directory. `None`: the environment.
    pub credentials_file: Option<PathBuf>,
    /// age recipients (`age1...`); at least one. Only their holders can read the copies.
    pub recipients: Vec<String>,
    /// Cameras whose events are copied; `None` means all.
    pub cameras: Option<Vec<String>>,
    /// Event kinds copied (motion, camera-motion); `None` means both.
    pub events: Option<Vec<NotifyEvent>>,
    /// What is sent per event.
    pub what: OffsiteWhat,
    /// Upload cap in bits per second; `None` means none.
    pub bandwidth: Option<u64>,
    /// Keep at most this many objects on the target (oldest removed first).
    pub keep_count: Option<u64>,
    /// Remove objects older than this from the target.
    pub keep_age: Option<Duration>,
    /// Object names carry neither camera nor time (random names).
    pub hide_names: bool,
}

impl OffsiteConfig {
    /// Whether events from `camera` are copied to this target.
    pub fn wants_camera(&self, camera: &str) -> bool {
        self.cameras.as_ref().is_none_or(|c| c.iter().any(|n| n == camera))
    }

    /// Whether events of `kind` are copied to this target.
    pub fn wants_event(&self, kind: NotifyEvent) -> bool {
        match &self.events {
            Some(list) => list.contains(&kind),
            None => matches!(kind, NotifyEvent::Motion | NotifyEvent::CameraMotion),
        }
    }

    /// The environment variables read when there is no `credentials_file`:
    /// `KEEPWATCH_OFFSITE_<NAME>_KEY` and `..._SECRET` (name upper-cased, `-` as `_`).
    pub fn credentials_env(&self) -> (String, String) {
        let stem: String = self.name.chars().map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }).collect();
        (format!("KEEPWATCH_OFFSITE_{stem}_KEY"), format!("KEEPWATCH_OFFSITE_{stem}_SECRET"))
    }
}

/// The text of a `credentials_file`: `key = "..."` and `secret = "..."`, quoted as TOML wants.
pub fn credentials_toml(key: &str, secret: &str) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    doc.insert("key", toml_edit::value(key));
    doc.insert("secret", toml_edit::value(secret));
    doc.to_string()
}

/// `offsite.what`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsiteWhat {
    /// The event's clip with its pre- and post-roll (and a first part while it goes on).
    Clip,
    /// The event's picture.
    Picture,
    /// Both.
    #[default]
    Both,
}

impl OffsiteWhat {
    /// Every value, in documentation order.
    pub const ALL: &'static [OffsiteWhat] = &[OffsiteWhat::Clip, OffsiteWhat::Picture, OffsiteWhat::Both];

    /// The spelling in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            OffsiteWhat::Clip => "clip",
            OffsiteWhat::Picture => "picture",
            OffsiteWhat::Both => "both",
        }
    }

    /// Whether clips are sent.
    pub fn clip(self) -> bool {
        self != OffsiteWhat::Picture
    }

    /// Whether pictures are sent.
    pub fn picture(self) -> bool {
        self != OffsiteWhat::Clip
    }
}

impl fmt::Display for OffsiteWhat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OffsiteWhat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        OffsiteWhat::ALL
            .iter()
            .copied()
            .find(|w| w.as_str() == text)
            .ok_or_else(|| crate::model::expected_one_of(OffsiteWhat::ALL.iter().map(|w| w.as_str()), text))
    }
}
