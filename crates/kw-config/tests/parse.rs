//! Valid configs: defaults, every value read correctly, relative paths, the shipped example and demo.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kw_config::{
    demo_config, example_config, parse, CameraConfig, Language, NotifyEvent, NotifyKind, RecordMode, ZoneKind,
};

#[test]
fn empty_file_means_defaults() {
    let config = parse("", Path::new("/etc/keepwatch/keepwatch.toml")).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.tls, None);
    assert!(config.server.trusted_proxies.is_empty());
    assert_eq!(config.server.max_connections, None);
    assert_eq!((config.server.max_live_viewers, config.server.max_live_viewers_per_user), (256, 128));
    assert_eq!(
        (config.server.header_timeout, config.server.idle_timeout),
        (Duration::from_secs(10), Duration::from_secs(60))
    );
    assert_eq!(config.storage.path, PathBuf::from("/etc/keepwatch/keepwatch-data"));
    assert_eq!(config.storage.max_size, None);
    assert_eq!(config.storage.max_age, None);
    assert_eq!(config.storage.index, kw_config::StorageIndex::Embedded);
    assert!(config.cameras.is_empty() && config.notify.is_empty());
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let text = "[server]\ntls_cert = \"tls/cert.pem\"\ntls_key = \"/abs/key.pem\"\n[storage]\npath = \"../data\"\n";
    let config = parse(text, Path::new("/srv/kw/keepwatch.toml")).unwrap();
    let tls = config.server.tls.unwrap();
    assert_eq!(tls.cert, PathBuf::from("/srv/kw/tls/cert.pem"));
    assert_eq!(tls.key, PathBuf::from("/abs/key.pem"));
    assert_eq!(config.storage.path, PathBuf::from("/srv/kw/../data"));

    // A bare file name means the current directory; the result is still absolute.
    let config = parse("", Path::new("keepwatch.toml")).unwrap();
    assert!(config.storage.path.is_absolute());
    assert_eq!(config.storage.path, std::env::current_dir().unwrap().join("keepwatch-data"));
}

#[test]
fn example_parses_with_every_key() {
    let config = parse(example_config(), Path::new("/etc/keepwatch/keepwatch.toml")).unwrap();
    assert_eq!(config.server.language, Some(Language::De));
    assert_eq!(config.server.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(config.server.trusted_proxies.len(), 2);
    assert_eq!(config.server.max_connections, Some(1000));
    assert_eq!((config.server.max_live_viewers, config.server.max_live_viewers_per_user), (256, 128));
    assert_eq!(config.server.header_timeout, Duration::from_secs(10));
    assert_eq!(config.server.idle_timeout, Duration::from_secs(60));
    assert!(config.server.trusted_proxies[0].contains("127.0.0.1".parse().unwrap()));
    assert_eq!(config.storage.max_size, Some(500_000_000_000));
    assert_eq!(config.storage.max_age, Some(Duration::from_secs(30 * 86_400)));

    let door = &config.cameras[0];
    assert_eq!(door.name, "front-door");
    assert_eq!(door.record, RecordMode::Continuous);
    assert_eq!(door.max_size, Some(50_000_000_000));
    assert_eq!(door.max_age, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(door.motion.zones.len(), 2);
    assert_eq!(door.motion.zones[0].name, "driveway");
    assert_eq!(door.motion.zones[0].points[2], (0.9, 1.0));
    assert_eq!(door.motion.zones[1].kind, ZoneKind::Exclude);
    let source = door.url_with_credentials();
    assert_eq!(source.url, "rtsp://192.168.1.20:554/stream1");
    assert_eq!(source.username.as_deref(), Some("admin"));
    assert_eq!(source.password.as_deref(), Some("secret"));
    assert_eq!(config.cameras[1].record, RecordMode::Motion);
    assert_eq!(config.cameras[1].motion, kw_config::MotionConfig::default());

    let kinds: Vec<NotifyKind> = config.notify.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, NotifyKind::ALL);
    assert_eq!(config.notify[0].discovery_prefix.as_deref(), Some("homeassistant"));
    assert!(!config.notify[0].commands, "commands from the broker are opt-in");
    assert_eq!(config.notify[1].secret.as_deref(), Some("change-me"));
    assert_eq!(config.notify[2].to, ["me@example.com", "you@example.com"]);
    assert!(!config.notify[2].wants_event(NotifyEvent::Motion));
    assert!(!config.notify[0].wants_camera("garage"));
    assert_eq!(config.notify[3].cooldown, Duration::from_secs(300));

    // The docs say every key is there: check that each key the parser knows appears in the example.
    for key in [
        "listen",
        "tls_cert",
        "tls_key",
        "trusted_proxies",
        "language",
        "timezone",
        "max_connections",
        "max_live_viewers",
        "max_live_viewers_per_user",
        "header_timeout",
        "idle_timeout",
        "path",
        "max_size",
        "max_age",
        "name",
        "url",
        "sub_url",
        "username",
        "password",
        "record",
        "enabled",
        "sensitivity",
        "min_duration",
        "pre_roll",
        "post_roll",
        "keyframes_only",
        "zones",
        "kind",
        "target",
        "cameras",
        "events",
        "cooldown",
        "discovery_prefix",
        "commands",
        "secret",
        "from",
        "to",
        "endpoint",
        "region",
        "path_style",
        "credentials_file",
        "recipients",
        "what",
        "bandwidth",
        "keep_count",
        "keep_age",
        "hide_names",
    ] {
        let written = example_config().lines().any(|l| l.trim_start().starts_with(&format!("{key} =")));
        assert!(written, "{key} missing from the example");
    }
}

#[test]
fn demo_config_parses() {
    let dir = Path::new("/tmp/keepwatch-demo");
    let text = demo_config("127.0.0.1:8099", dir);
    let config = parse(&text, &dir.join("keepwatch.toml")).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8099");
    assert_eq!(config.storage.path, dir.join("store"));
    assert_eq!(config.storage.max_size, Some(2_000_000_000));
    assert_eq!(config.cameras.len(), 2);
    assert!(config.cameras[1].objects.enabled && config.cameras[1].url.contains("object=person"));
    let camera = &config.cameras[0];
    assert_eq!(camera.name, "demo");
    assert_eq!(camera.url, "demo://synthetic");
    assert_eq!(camera.record, RecordMode::Continuous);
    assert!(camera.motion.enabled);
    assert!(text.starts_with('#'), "the demo config is commented");
}

#[test]
fn inline_and_dotted_forms() {
    let text = r#"
server = { listen = "[::]:9000" }
cameras = [
  { name = "a", url = "demo://x", motion = { sensitivity = 1 } },
]
[[notify]]
name = "n"
kind = "webhook"
target = "http://hook"
"#;
    let config = parse(text, Path::new("k.toml")).unwrap();
    assert_eq!(config.server.listen.to_string(), "[::]:9000");
    assert_eq!(config.cameras[0].motion.sensitivity, 1.0);
    assert_eq!(config.notify[0].cooldown, Duration::from_secs(30));

    let text = "[[cameras]]\nname = \"a\"\nurl = \"rtsp://h/\"\nmotion.enabled = false\n\
                [[cameras.motion.zones]]\npoints = [[0,0],[1,0],[1,1]]\n";
    let config = parse(text, Path::new("k.toml")).unwrap();
    assert!(!config.cameras[0].motion.enabled);
    assert_eq!(config.cameras[0].motion.zones[0].name, "zone-1");
    assert_eq!(config.cameras[0].motion.zones[0].kind, ZoneKind::Include);
}

#[test]
fn credentials_from_url_and_keys() {
    let text = "[[cameras]]\nname = \"a\"\nurl = \"rtsp://admin:pw%21@cam/1\"\nsub_url = \"rtsp://cam/2\"\n";
    let config = parse(text, Path::new("k.toml")).unwrap();
    let camera: &CameraConfig = &config.cameras[0];
    let main = camera.url_with_credentials();
    assert_eq!(
        (main.url.as_str(), main.username.as_deref(), main.password.as_deref()),
        ("rtsp://cam/1", Some("admin"), Some("pw!"))
    );
    let sub = camera.sub_url_with_credentials().unwrap();
    assert_eq!((sub.username, sub.password), (None, None));
    assert!(!format!("{config:?}").contains("pw%21"));
}

#[test]
fn secrets_never_in_debug_output() {
    let config = parse(example_config(), Path::new("keepwatch.toml")).unwrap();
    let debug = format!("{config:?} {:#?}", config);
    for secret in ["\"secret\"", "user:pass", "change-me", "alerts%40example.com:password"] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
    assert_eq!(kw_config::redacted_url("mqtt://user:pass@127.0.0.1:1883"), "mqtt://user:***@127.0.0.1:1883");
}

#[test]
fn load_reads_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepwatch.toml");
    std::fs::write(&path, "[storage]\npath = \"store\"\n").unwrap();
    let config = kw_config::load(&path).unwrap();
    assert_eq!(config.storage.path, dir.path().join("store"));
}

#[test]
fn storage_index_postgres_or_sqlite() {
    let url = "postgres://keepwatch:s3cret@127.0.0.1:5433/nvr";
    let config = parse(&format!("[storage]\nindex = \"{url}\"\n"), Path::new("/etc/kw.toml")).unwrap();
    assert_eq!(config.storage.index, kw_config::StorageIndex::Postgres(url.into()));
    assert!(!format!("{config:?}").contains("s3cret"), "Debug hides the password");
    let text = format!("[storage]\nindex = \"{url}\"\nindex_password_file = \"pg.pass\"\n");
    let config = parse(&text, Path::new("/etc/kw/kw.toml")).unwrap();
    assert_eq!(config.storage.index_password_file, Some(PathBuf::from("/etc/kw/pg.pass")));
    let config = parse("[storage]\nindex = \"sqlite\"\n", Path::new("/etc/kw.toml")).unwrap();
    assert_eq!(config.storage.index, kw_config::StorageIndex::Embedded);
    // The example documents the key (commented out: the default is the embedded index).
    assert!(example_config().lines().any(|l| l.starts_with("# index = \"postgres://")));
    assert!(example_config().lines().any(|l| l.starts_with("# index_password_file = ")));
}
