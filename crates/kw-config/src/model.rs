//! The validated configuration, as the rest of keepwatch sees it.
//!
//! These types hold checked values only (durations as [`Duration`], sizes in bytes, paths already resolved
//! against the config file's directory), so users of the config never re-validate. `Debug` output is safe
//! to log: passwords and secrets are replaced by `***`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::net::IpNet;
use crate::secrets::{redacted_url, SourceUrl, REDACTED};

/// The whole config file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[server]`
    pub server: ServerConfig,
    /// `[storage]`
    pub storage: StorageConfig,
    /// `[[cameras]]`, in file order; names are unique.
    pub cameras: Vec<CameraConfig>,
    /// `[[notify]]`, in file order; names are unique.
    pub notify: Vec<NotifyConfig>,
    /// `[alerts]`
    pub alerts: AlertsConfig,
    /// `[objects]`: object detection as a whole (the per-camera settings are `[cameras.objects]`).
    pub objects: ObjectsBudget,
    /// `[restream]`
    pub restream: RestreamConfig,
    /// `[[offsite]]`, in file order; names are unique.
    pub offsite: Vec<crate::offsite::OffsiteConfig>,
}

/// `[objects]`: what all cameras' object detection may use together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectsBudget {
    /// `max_per_second`: inferences per second, all cameras together (each takes about one core for
    /// ~0.1 s with the shipped model); default 4.
    pub max_per_second: f64,
}

/// Default `objects.max_per_second`.
pub const DEFAULT_OBJECTS_PER_SECOND: f64 = 4.0;

impl Default for ObjectsBudget {
    fn default() -> Self {
        ObjectsBudget { max_per_second: DEFAULT_OBJECTS_PER_SECOND }
    }
}

/// `[restream]`: the RTSP server that serves each camera's stream to other players.
#[derive(Debug, Clone, PartialEq)]
pub struct RestreamConfig {
    /// `listen`, e.g. `0.0.0.0:8554`; `None` (the default) leaves the RTSP server off.
    pub listen: Option<SocketAddr>,
    /// `tls_listen`, e.g. `0.0.0.0:8322`: the same server over TLS (RTSPS) with `[server]`'s certificate
    /// (`tls_cert`/`tls_key`, which it needs); `None` (the default): no RTSPS.
    pub tls_listen: Option<SocketAddr>,
    /// `max_clients`: RTSP connections at once, all users together (default 64). Playing clients also
    /// count as live viewers against `server.max_live_viewers` and `max_live_viewers_per_user`.
    pub max_clients: usize,
}

/// Default `restream.max_clients`.
pub const DEFAULT_RESTREAM_MAX_CLIENTS: usize = 64;

impl Default for RestreamConfig {
    fn default() -> Self {
        RestreamConfig { listen: None, tls_listen: None, max_clients: DEFAULT_RESTREAM_MAX_CLIENTS }
    }
}

/// `[alerts]`: settings of the alerts engine as a whole.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertsConfig {
    /// `schedule`: weekly windows in which motion alerts go out in `home` mode (see [`crate::parse_schedule`]);
    /// already validated.
    pub schedule: Option<String>,
    /// `public_url`: the address users reach keepwatch at (`https://nvr.example.org`), for links in alerts.
    pub public_url: Option<String>,
}

impl Config {
    /// The camera called `name`.
    pub fn camera(&self, name: &str) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| c.name == name)
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// `listen`, default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// `tls_cert` and `tls_key` (both or neither); `None` serves plain HTTP.
    pub tls: Option<TlsConfig>,
    /// `trusted_proxies`: `X-Forwarded-*` is honoured only from these; default none.
    pub trusted_proxies: Vec<IpNet>,
    /// `language`: the UI's default language; `None` means English unless the browser asks otherwise.
    pub language: Option<Language>,
    /// `timezone`, an IANA name such as `Europe/Berlin`; `None` means the system's.
    pub timezone: Option<String>,
    /// `max_connections`: HTTP connections open at once; `None` sizes it from the file descriptor limit.
    /// Never more than that limit allows, whatever is written here.
    pub max_connections: Option<usize>,
    /// `max_live_viewers`: live viewers (WebSockets and HLS sessions) at once, all users together.
    pub max_live_viewers: usize,
    /// `max_live_viewers_per_user`: live viewers at once for one user or API token.
    pub max_live_viewers_per_user: usize,
    /// `header_timeout`: how long a new connection may take to send its first request's headers.
    pub header_timeout: Duration,
    /// `idle_timeout`: how long a connection may sit between requests before it is closed.
    pub idle_timeout: Duration,
}

/// Default `server.max_live_viewers`.
pub const DEFAULT_MAX_LIVE_VIEWERS: usize = 256;
/// Default `server.max_live_viewers_per_user`: a grid of every camera of a large site fits.
pub const DEFAULT_MAX_LIVE_VIEWERS_PER_USER: usize = 128;
/// Default `server.header_timeout`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `server.idle_timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default `server.listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            trusted_proxies: Vec::new(),
            language: None,
            timezone: None,
            max_connections: None,
            max_live_viewers: DEFAULT_MAX_LIVE_VIEWERS,
            max_live_viewers_per_user: DEFAULT_MAX_LIVE_VIEWERS_PER_USER,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Certificate and key files for HTTPS, resolved against the config file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// Where segment files and the index live: `path` resolved against the config file's directory
    /// (default `./keepwatch-data` next to the config file). Always absolute.
    pub path: PathBuf,
    /// `max_size`: cap on the whole store in bytes; `None` means no cap.
    pub max_size: Option<u64>,
    /// `max_age`: recordings older than this are deleted; `None` means kept until space runs out.
    pub max_age: Option<Duration>,
    /// `index`: where the segment index lives (default: the SQLite file in `path`).
    pub index: StorageIndex,
    /// `index_password_file`: a file holding the PostgreSQL index's password (only with a `postgres://`
    /// index whose URL has none), resolved against the config file's directory.
    pub index_password_file: Option<PathBuf>,
}

/// `storage.index`: the database of the segment index. Only the segment index moves: users, sessions, API
/// tokens, events and the alert outbox stay in the SQLite file in the store directory.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StorageIndex {
    /// The SQLite file in the store directory (`index = "sqlite"`, or no `index` at all).
    #[default]
    Embedded,
    /// A PostgreSQL database, `postgres://user[:password]@host[:port]/database` as written (the password may
    /// also come from `index_password_file` or `KEEPWATCH_PG_PASSWORD`). `Debug` hides the password.
    Postgres(String),
}

impl std::fmt::Debug for StorageIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageIndex::Embedded => f.write_str("Embedded"),
            StorageIndex::Postgres(url) => f.debug_tuple("Postgres").field(&crate::redacted_url(url)).finish(),
        }
    }
}

/// Default `storage.path`, relative to the config file's directory.
pub const DEFAULT_STORAGE_PATH: &str = "./keepwatch-data";

/// One `[[cameras]]` entry.
#[derive(Clone, PartialEq)]
pub struct CameraConfig {
    /// `[a-z0-9-]+`, unique; used in URLs and file names.
    pub name: String,
    /// Main stream, as written (it may hold `user:pass@`; use [`CameraConfig::url_with_credentials`]).
    pub url: String,
    /// Optional low-resolution stream used for motion detection and the grid view.
    pub sub_url: Option<String>,
    /// `username` key; wins over the URL's userinfo.
    pub username: Option<String>,
    /// `password` key; wins over the URL's userinfo.
    pub password: Option<String>,
    /// What to record, default continuous.
    pub record: RecordMode,
    /// Per-camera cap in bytes.
    pub max_size: Option<u64>,
    /// Per-camera age limit.
    pub max_age: Option<Duration>,
    /// `[cameras.motion]`.
    pub motion: MotionConfig,
    /// `[cameras.onvif]` (keepwatch's extension; used by `onvif://` cameras only).
    pub onvif: OnvifConfig,
    /// `[cameras.encode]` (keepwatch's extension; used by MJPEG and JPEG-snapshot cameras only).
    pub encode: EncodeConfig,
    /// `tls_fingerprint`: the one certificate trusted for this camera's HTTPS (trust on first use), as
    /// `sha256:` + 64 lowercase hex digits; `None`: the system's certificate authorities decide.
    pub tls_fingerprint: Option<String>,
    /// `[cameras.objects]`: object detection on motion.
    pub objects: ObjectsConfig,
    /// `restream_anonymous`: the restream RTSP server serves this camera without a login (default false).
    pub restream_anonymous: bool,
}

impl CameraConfig {
    /// A camera with the given name and URL and every other key at its default.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        CameraConfig {
            name: name.into(),
            url: url.into(),
            sub_url: None,
            username: None,
            password: None,
            record: RecordMode::default(),
            max_size: None,
            max_age: None,
            motion: MotionConfig::default(),
            onvif: OnvifConfig::default(),
            encode: EncodeConfig::default(),
            tls_fingerprint: None,
            objects: ObjectsConfig::default(),
            restream_anonymous: false,
        }
    }

    /// The main stream's URL without userinfo, with the username and password merged from the URL and the
    /// `username`/`password` keys (the keys win).
    pub fn url_with_credentials(&self) -> SourceUrl {
        SourceUrl::new(&self.url, self.username.as_deref(), self.password.as_deref())
    }

    /// Like [`CameraConfig::url_with_credentials`] for the sub stream; the same keys apply to it.
    pub fn sub_url_with_credentials(&self) -> Option<SourceUrl> {
        let sub = self.sub_url.as_deref()?;
        Some(SourceUrl::new(sub, self.username.as_deref(), self.password.as_deref()))
    }
}

impl fmt::Debug for CameraConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CameraConfig")
            .field("name", &self.name)
            .field("url", &redacted_url(&self.url))
            .field("sub_url", &self.sub_url.as_deref().map(redacted_url))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .field("record", &self.record)
            .field("max_size", &self.max_size)
            .field("max_age", &self.max_age)
            .field("motion", &self.motion)
            .field("onvif", &self.onvif)
            .field("encode", &self.encode)
            .field("tls_fingerprint", &self.tls_fingerprint)
            .field("objects", &self.objects)
            .field("restream_anonymous", &self.restream_anonymous)
            .finish()
    }
}

/// `[cameras.encode]` (keepwatch's extension): how pictures from MJPEG and JPEG-snapshot cameras are encoded
/// to H.264. Every key is optional; other cameras ignore the table (their video is stored as sent).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EncodeConfig {
    /// Frames per second, 0.1..=60: the polling rate of snapshot cameras (default 10) and a cap for MJPEG
    /// streams (default none: as fast as pictures arrive).
    pub fps: Option<f64>,
    /// Bits per second (`"1Mbit"`, `"500kbit"` or a number); default 1 Mbit/s for 640×480 at 10 fps,
    /// scaled with picture size and frame rate.
    pub bitrate: Option<u64>,
    /// Output width in pixels (even, 16..=4096); default the camera's. Given alone, height follows the
    /// aspect ratio.
    pub width: Option<u16>,
    /// Output height in pixels (even, 16..=4096); default the camera's.
    pub height: Option<u16>,
}

/// `[cameras.motion]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MotionConfig {
    /// Run motion detection at all (default true).
    pub enabled: bool,
    /// 0 (only large changes) ..= 1 (the smallest changes); default 0.5.
    pub sensitivity: f64,
    /// Motion shorter than this is ignored; default 1s.
    pub min_duration: Duration,
    /// Recorded before motion starts (record = motion); default 5s.
    pub pre_roll: Duration,
    /// Recorded after motion ends; default 10s.
    pub post_roll: Duration,
    /// Decode key frames only (cheaper, coarser); default false.
    pub keyframes_only: bool,
    /// Regions that count (include) or are ignored (exclude); empty means the whole frame.
    pub zones: Vec<Zone>,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            enabled: true,
            sensitivity: 0.5,
            min_duration: Duration::from_secs(1),
            pre_roll: Duration::from_secs(5),
            post_roll: Duration::from_secs(10),
            keyframes_only: false,
            zones: Vec::new(),
        }
    }
}

/// `[cameras.objects]`: "is this a person, a car?" on frames where motion was found.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectsConfig {
    /// Run object detection on motion (default false: it costs CPU).
    pub enabled: bool,
    /// The labels that count (`person`, `car`, `dog`, `cat`, `bird` by default; `car` stands for every
    /// vehicle of the shipped model); 1..=[`ObjectsConfig::MAX_TRACK`] names.
    pub track: Vec<String>,
    /// Detections scoring below are ignored; 0.05..=1, default 0.45.
    pub min_score: f64,
    /// What raises an alert for this camera; default objects where a detector runs.
    pub alert_on: AlertOn,
    /// `model`: a user's ONNX model (YOLOv5/YOLOv8 layout), resolved against the config file's directory;
    /// `None` uses the shipped one.
    pub model: Option<PathBuf>,
    /// `labels`: the user's model's class names, one a line (needs `model`).
    pub labels: Option<PathBuf>,
    /// `max_per_second`: inferences per second for this camera, 0.1..=30; default 2.
    pub max_per_second: f64,
}

impl ObjectsConfig {
    /// Most names in `track`.
    pub const MAX_TRACK: usize = 32;
    /// The default `track`.
    pub const DEFAULT_TRACK: [&'static str; 5] = ["person", "car", "dog", "cat", "bird"];
}

impl Default for ObjectsConfig {
    fn default() -> Self {
        ObjectsConfig {
            enabled: false,
            track: ObjectsConfig::DEFAULT_TRACK.iter().map(|s| s.to_string()).collect(),
            min_score: 0.45,
            alert_on: AlertOn::Objects,
            model: None,
            labels: None,
            max_per_second: 2.0,
        }
    }
}

/// `[cameras.onvif]`: what keepwatch asks of an `onvif://` camera besides its streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnvifConfig {
    /// Follow the camera's own motion detector (PullPoint events → `camera-motion` events); default true.
    pub events: bool,
}

impl Default for OnvifConfig {
    fn default() -> Self {
        OnvifConfig { events: true }
    }
}

/// A motion zone: a polygon in frame coordinates (0..1, origin top left).
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Label shown in the UI; default `zone-N` (1-based position).
    pub name: String,
    /// Whether motion inside counts or is ignored.
    pub kind: ZoneKind,
    /// Three to [`Zone::MAX_POINTS`] `(x, y)` corners, each in 0..=1.
    pub points: Vec<(f64, f64)>,
}

impl Zone {
    /// Most zones one camera may have (`cameras.motion.zones`).
    pub const MAX_PER_CAMERA: usize = 16;
    /// Most corners one zone may have (`cameras.motion.zones[].points`).
    pub const MAX_POINTS: usize = 64;
}

/// One `[[notify]]` entry.
#[derive(Clone, PartialEq)]
pub struct NotifyConfig {
    /// `[a-z0-9-]+`, unique.
    pub name: String,
    /// How to deliver.
    pub kind: NotifyKind,
    /// `mqtt(s)://`, `http(s)://` (webhook, ntfy topic URL) or `smtp(s)://`; may hold credentials.
    pub target: String,
    /// Cameras this notifier is for; `None` means all.
    pub cameras: Option<Vec<String>>,
    /// Event kinds this notifier is for; `None` means all.
    pub events: Option<Vec<NotifyEvent>>,
    /// Minimum time between two deliveries for the same camera and event kind; default 30s.
    pub cooldown: Duration,
    /// MQTT only: Home Assistant discovery prefix; `None` means `homeassistant`.
    pub discovery_prefix: Option<String>,
    /// MQTT only: obey the broker's commands that switch recording or motion detection and set mode
    /// `off`. Default false: anyone who may publish on the broker could otherwise stop recording.
    pub commands: bool,
    /// Webhook only: HMAC key for signing deliveries.
    pub secret: Option<String>,
    /// Email only: sender address; `None` lets the notifier choose.
    pub from: Option<String>,
    /// Email only: recipients (at least one for email; empty otherwise).
    pub to: Vec<String>,
    /// `labels`: only events in which object detection saw one of these (`None`: all events).
    pub labels: Option<Vec<String>>,
}

/// Default `notify.cooldown`.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);

impl NotifyConfig {
    /// Whether events from `camera` go to this notifier.
    pub fn wants_camera(&self, camera: &str) -> bool {
        self.cameras.as_ref().is_none_or(|c| c.iter().any(|n| n == camera))
    }

    /// Whether an event with these labels goes to this notifier (`labels` unset: every event).
    pub fn wants_labels<'a>(&self, mut seen: impl Iterator<Item = &'a str>) -> bool {
        self.labels.as_ref().is_none_or(|want| seen.any(|l| want.iter().any(|w| w == l)))
    }

    /// Whether events of `kind` go to this notifier.
    pub fn wants_event(&self, kind: NotifyEvent) -> bool {
        self.events.as_ref().is_none_or(|e| e.contains(&kind))
    }
}

impl fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("target", &redacted_url(&self.target))
            .field("cameras", &self.cameras)
            .field("events", &self.events)
            .field("cooldown", &self.cooldown)
            .field("discovery_prefix", &self.discovery_prefix)
            .field("commands", &self.commands)
            .field("secret", &self.secret.as_ref().map(|_| REDACTED))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("labels", &self.labels)
            .finish()
    }
}

/// Defines a config enum with its spellings, `as_str`, `Display`, `FromStr` and the list of all values.
macro_rules! keyword_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in the config file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(expected_one_of(Self::ALL.iter().map(|v| v.as_str()), text)),
                }
            }
        }
    };
}

/// `expected one of a, b, c, found "x"`.
pub(crate) fn expected_one_of<'a>(choices: impl Iterator<Item = &'a str>, found: &str) -> String {
    let list: Vec<&str> = choices.collect();
    format!("expected one of {}, found {found:?}", list.join(", "))
}

keyword_enum! {
    /// `cameras.record`.
    #[derive(Default)]
    RecordMode {
        /// Record all the time.
        #[default]
        Continuous = "continuous",
        /// Record around motion events only.
        Motion = "motion",
        /// Live view only.
        Off = "off",
        /// Record around events in which object detection saw a tracked object (pre- and post-roll).
        Objects = "objects",
    }
}

keyword_enum! {
    /// `cameras.objects.alert_on`.
    #[derive(Default)]
    AlertOn {
        /// Alert only when a tracked object is seen (motion without one stays an event, silently).
        #[default]
        Objects = "objects",
        /// Alert on every motion event, as without object detection.
        Motion = "motion",
    }
}

keyword_enum! {
    /// `cameras.motion.zones[].kind`.
    #[derive(Default)]
    ZoneKind {
        /// Only motion inside include zones counts.
        #[default]
        Include = "include",
        /// Motion inside is ignored.
        Exclude = "exclude",
    }
}

keyword_enum! {
    /// `notify.kind`.
    NotifyKind {
        /// MQTT broker (Home Assistant discovery).
        Mqtt = "mqtt",
        /// HTTP POST of the event JSON.
        Webhook = "webhook",
        /// Mail through an SMTP server.
        Email = "email",
        /// ntfy topic.
        Ntfy = "ntfy",
    }
}

keyword_enum! {
    /// `notify.events` entries: the event kinds of the public contract.
    NotifyEvent {
        /// Motion detected by keepwatch.
        Motion = "motion",
        /// Motion reported by the camera itself (ONVIF).
        CameraMotion = "camera-motion",
        /// A camera stopped delivering video.
        CameraOffline = "camera-offline",
        /// Storage trouble (full, failing).
        Storage = "storage",
    }
}

keyword_enum! {
    /// `server.language`.
    Language {
        /// English.
        En = "en",
        /// German.
        De = "de",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let mut cam = CameraConfig::new("door", "rtsp://admin:urlsecret@cam/s1");
        cam.sub_url = Some("rtsp://admin:subsecret@cam/s2".into());
        cam.password = Some("keysecret".into());
        let text = format!("{cam:?}");
        for secret in ["urlsecret", "subsecret", "keysecret"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("admin:***@cam"), "{text}");

        let notify = NotifyConfig {
            name: "ha".into(),
            kind: NotifyKind::Mqtt,
            target: "mqtt://user:mqttsecret@127.0.0.1:1883".into(),
            cameras: None,
            events: None,
            cooldown: DEFAULT_COOLDOWN,
            discovery_prefix: None,
            commands: false,
            secret: Some("hmacsecret".into()),
            from: None,
            to: Vec::new(),
            labels: None,
        };
        let text = format!("{notify:?}");
        assert!(!text.contains("mqttsecret") && !text.contains("hmacsecret"), "{text}");
        assert!(notify.wants_camera("anything") && notify.wants_event(NotifyEvent::Storage));
    }

    #[test]
    fn keywords() {
        assert_eq!("motion".parse::<RecordMode>(), Ok(RecordMode::Motion));
        assert_eq!(
            "always".parse::<RecordMode>(),
            Err("expected one of continuous, motion, off, objects, found \"always\"".to_string())
        );
        assert_eq!(NotifyEvent::CameraOffline.to_string(), "camera-offline");
        assert_eq!(RecordMode::default(), RecordMode::Continuous);
    }
}
