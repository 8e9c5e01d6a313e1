//! Editing through ConfigDoc keeps comments and order, validates, and saves atomically.

use std::path::Path;
use std::time::Duration;

use kw_config::{CameraConfig, ConfigDoc, ConfigError, RecordMode, Zone, ZoneKind};

const ORIGINAL: &str = r#"# My cameras. Do not remove this comment.

[server]
listen = "127.0.0.1:8080"   # local only

[storage]
path = "data"

# The door camera
[[cameras]]
name = "door"
url = "rtsp://admin:pw@cam1/s1"   # main stream
record = "motion"                 # saves space

[cameras.motion]
# tuned in winter
sensitivity = 0.7

# The yard camera
[[cameras]]
name = "yard"
url = "rtsp://cam2/s1"

# Alerts
[[notify]]
name = "ha"
kind = "mqtt"
target = "mqtt://127.0.0.1"
cameras = ["door", "yard"]   # both
"#;

fn doc() -> ConfigDoc {
    ConfigDoc::parse(ORIGINAL, Path::new("/etc/kw/keepwatch.toml")).unwrap()
}

#[test]
fn untouched_document_round_trips_exactly() {
    assert_eq!(doc().to_string(), ORIGINAL);
}

#[test]
fn updating_a_camera_keeps_comments_and_order() {
    let mut doc = doc();
    let mut door = doc.config().unwrap().camera("door").unwrap().clone();
    door.record = RecordMode::Continuous;
    door.motion.sensitivity = 0.4;
    door.max_age = Some(Duration::from_secs(7 * 86_400));
    doc.upsert_camera(&door).unwrap();
    let text = doc.to_string();

    for kept in [
        "# My cameras. Do not remove this comment.",
        "listen = \"127.0.0.1:8080\"   # local only",
        "# The door camera",
        "url = \"rtsp://admin:pw@cam1/s1\"   # main stream",
        "record = \"continuous\"                 # saves space",
        "# tuned in winter",
        "sensitivity = 0.4",
        "# The yard camera",
        "cameras = [\"door\", \"yard\"]   # both",
    ] {
        assert!(text.contains(kept), "lost {kept:?} in:\n{text}");
    }
    let order: Vec<usize> =
        ["[server]", "[storage]", "name = \"door\"", "[cameras.motion]", "name = \"yard\"", "[[notify]]"]
            .iter()
            .map(|s| text.find(s).unwrap())
            .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "order changed:\n{text}");

    let config = doc.config().unwrap();
    assert_eq!(config.cameras[0], door);
    assert_eq!(config.cameras.len(), 2);
}

#[test]
fn adding_a_camera_appends_it() {
    let mut doc = doc();
    let mut gate = CameraConfig::new("gate", "http://cam3/mjpeg");
    gate.motion.zones.push(Zone {
        name: "path".into(),
        kind: ZoneKind::Exclude,
        points: vec![(0.0, 0.0), (0.5, 0.0), (0.5, 0.5)],
    });
    gate.max_size = Some(10_000_000_000);
    doc.upsert_camera(&gate).unwrap();
    let text = doc.to_string();
    assert!(text.starts_with(&ORIGINAL[..ORIGINAL.find("# Alerts").unwrap()]), "{text}");
    assert!(text.contains("max_size = \"10GB\""), "{text}");
    let config = doc.config().unwrap();
    assert_eq!(config.cameras.len(), 3);
    assert_eq!(config.camera("gate"), Some(&gate));
    // Still valid and identical after a re-parse of the text.
    let again = ConfigDoc::parse(&text, Path::new("/etc/kw/keepwatch.toml")).unwrap();
    assert_eq!(again.config().unwrap(), config);
}

#[test]
fn removing_a_camera() {
    let mut doc = doc();
    doc.remove_camera("yard").unwrap();
    let text = doc.to_string();
    assert!(!text.contains("yard"), "{text}");
    assert!(text.contains("# My cameras. Do not remove this comment."));
    assert!(text.contains("# tuned in winter"));
    assert_eq!(doc.config().unwrap().notify[0].cameras.as_deref(), Some(&["door".to_string()][..]));

    assert!(matches!(doc.remove_camera("yard"), Err(ConfigError::NoSuchCamera(_))));
    // "door" is now the notifier's only camera: removing it would leave an empty list, so nothing changes.
    let before = doc.to_string();
    let err = doc.remove_camera("door").unwrap_err();
    assert!(err.to_string().contains("notify[0].cameras"), "{err}");
    assert_eq!(doc.to_string(), before);
}

#[test]
fn renaming_follows_into_notifiers() {
    let mut doc = doc();
    let mut yard = doc.config().unwrap().camera("yard").unwrap().clone();
    yard.name = "garden".into();
    doc.update_camera("yard", &yard).unwrap();
    let config = doc.config().unwrap();
    assert!(config.camera("yard").is_none() && config.camera("garden").is_some());
    assert_eq!(config.notify[0].cameras.as_deref(), Some(&["door".to_string(), "garden".to_string()][..]));
    assert!(doc.to_string().contains("# The yard camera"));
}

#[test]
fn invalid_edits_are_refused_and_change_nothing() {
    let mut doc = doc();
    let before = doc.to_string();
    let mut bad = CameraConfig::new("Bad Name", "rtsp://cam/1");
    assert!(doc.upsert_camera(&bad).is_err());
    bad = CameraConfig::new("ok", "rtsp://cam/1");
    bad.motion.sensitivity = 3.0;
    let err = doc.upsert_camera(&bad).unwrap_err();
    assert!(err.to_string().contains("motion.sensitivity: must be between 0 and 1"), "{err}");
    assert_eq!(doc.to_string(), before);
}

#[test]
fn table_edits_and_inline_arrays() {
    let text = "cameras = [ { name = \"a\", url = \"demo://x\", record = \"off\" } ]  # inline\n";
    let mut doc = ConfigDoc::parse(text, Path::new("k.toml")).unwrap();
    let mut table = toml_edit::Table::new();
    table.insert("name", toml_edit::value("a"));
    table.insert("url", toml_edit::value("demo://y"));
    doc.upsert_camera_table(table).unwrap();
    doc.upsert_camera(&CameraConfig::new("b", "demo://z")).unwrap();
    let config = doc.config().unwrap();
    assert_eq!(config.cameras[0].url, "demo://y");
    assert_eq!(config.cameras[0].record, RecordMode::Continuous);
    assert_eq!(config.cameras[1].name, "b");
    assert!(doc.to_string().contains("# inline"), "{doc}");
    assert!(doc.upsert_camera_table(toml_edit::Table::new()).is_err());
}

#[test]
fn save_writes_atomically_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepwatch.toml");
    std::fs::write(&path, ORIGINAL).unwrap();
    let mut doc = ConfigDoc::load(&path).unwrap();
    doc.remove_camera("yard").unwrap();
    doc.save(&path).unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(saved, doc.to_string());
    assert_eq!(kw_config::load(&path).unwrap().cameras.len(), 1);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temporary file left behind");
    assert!(doc.save(&dir.path().join("missing/keepwatch.toml")).is_err());
    assert!(!format!("{doc:?}").contains("admin:pw@"), "Debug shows the text");
}

#[test]
fn upserting_unchanged_cameras_changes_nothing() {
    let mut doc = doc();
    for camera in doc.config().unwrap().cameras {
        doc.upsert_camera(&camera).unwrap();
    }
    assert_eq!(doc.to_string(), ORIGINAL);

    // Lines that spell out a default, in any spelling, stay as written.
    let text = "[[cameras]]\nname = \"a\"\nurl = \"demo://x\"\nrecord = \"continuous\"  # explicit\n\n\
                [cameras.motion]\nenabled = true # on\npre_roll = \"5000ms\"\nsensitivity = 0.9\n";
    let mut doc = ConfigDoc::parse(text, Path::new("k.toml")).unwrap();
    let mut camera = doc.config().unwrap().cameras[0].clone();
    doc.upsert_camera(&camera).unwrap();
    assert_eq!(doc.to_string(), text);

    // A value changed back to its default is reset in place, keeping its comment.
    camera.motion.sensitivity = 0.5;
    camera.record = RecordMode::Off;
    doc.upsert_camera(&camera).unwrap();
    let edited = doc.to_string();
    assert!(edited.contains("record = \"off\"  # explicit"), "{edited}");
    assert!(edited.contains("sensitivity = 0.5\n"), "{edited}");
    assert!(edited.contains("pre_roll = \"5000ms\""), "{edited}");
}
