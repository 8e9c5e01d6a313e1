//! `[cameras.encode]` (keepwatch's extension for MJPEG and JPEG-snapshot cameras): read, checked with
//! `file:line: key:` errors, and written back only with the keys that are set.

use std::path::Path;

use kw_config::{camera_table, parse, CameraConfig, EncodeConfig};

const CAMERA: &str = "[[cameras]]\nname = \"garage\"\nurl = \"http://192.168.1.21/goform/video\"\n";

fn errors(text: &str) -> String {
    match parse(text, Path::new("keepwatch.toml")) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_and_every_key() {
    let path = Path::new("keepwatch.toml");
    let config = parse(CAMERA, path).unwrap();
    assert_eq!(config.cameras[0].encode, EncodeConfig::default());
    let text = format!("{CAMERA}[cameras.encode]\nfps = 5\nbitrate = \"1.5Mbit\"\nwidth = 320\nheight = 240\n");
    let e = parse(&text, path).unwrap().cameras[0].encode;
    assert_eq!(e, EncodeConfig { fps: Some(5.0), bitrate: Some(1_500_000), width: Some(320), height: Some(240) });
    let e = parse(&format!("{CAMERA}[cameras.encode]\nbitrate = 800000\nfps = 2.5\n"), path).unwrap().cameras[0].encode;
    assert_eq!((e.bitrate, e.fps), (Some(800_000), Some(2.5)));
}

#[test]
fn mistakes_name_file_line_and_key() {
    let cases = [
        ("fps = 0\n", "cameras[0].encode.fps", "between 0.1 and 60"),
        ("fps = \"ten\"\n", "cameras[0].encode.fps", "a number"),
        ("bitrate = \"1MB\"\n", "cameras[0].encode.bitrate", "unknown bit-rate unit"),
        ("bitrate = 5\n", "cameras[0].encode.bitrate", "between 10kbit and 100Mbit"),
        ("width = 641\n", "cameras[0].encode.width", "even number"),
        ("height = 8\n", "cameras[0].encode.height", "even number"),
        ("quality = 9\n", "cameras[0].encode.quality", "unknown key"),
    ];
    for (line, key, needle) in cases {
        let all = errors(&format!("{CAMERA}[cameras.encode]\n{line}"));
        let prefix = format!("keepwatch.toml:5: {key}: ");
        assert!(all.lines().any(|l| l.starts_with(&prefix) && l.contains(needle)), "{prefix}{needle} not in:\n{all}");
    }
}

#[test]
fn written_back_only_when_set() {
    let mut camera = CameraConfig::new("garage", "http://192.168.1.21/goform/snapshot");
    assert!(!camera_table(&camera).contains_key("encode"));
    camera.encode.fps = Some(5.0);
    camera.encode.bitrate = Some(2_000_000);
    let table = camera_table(&camera);
    assert_eq!(table["encode"]["bitrate"].as_str(), Some("2Mbit"));
    assert_eq!(table["encode"]["fps"].as_float(), Some(5.0));
    assert!(table["encode"].get("width").is_none());
}

#[test]
fn edits_keep_the_encode_table_and_its_comments() {
    use kw_config::ConfigDoc;
    let text = format!("{CAMERA}\n[cameras.encode]\nfps = 5 # slow camera\nbitrate = \"1000kbit\"\n");
    let mut doc = ConfigDoc::parse(&text, Path::new("k.toml")).unwrap();
    let mut camera = doc.config().unwrap().cameras[0].clone();
    doc.upsert_camera(&camera).unwrap();
    assert_eq!(doc.to_string(), text, "an unchanged camera changes nothing (\"1000kbit\" means 1Mbit)");
    camera.encode.fps = Some(2.0);
    camera.encode.width = Some(320);
    doc.upsert_camera(&camera).unwrap();
    let out = doc.to_string();
    assert!(out.contains("fps = 2") && out.contains("# slow camera") && out.contains("width = 320"), "{out}");
    assert_eq!(doc.config().unwrap().cameras[0].encode, camera.encode);
    camera.encode = EncodeConfig::default();
    doc.upsert_camera(&camera).unwrap();
    assert_eq!(doc.config().unwrap().cameras[0].encode, EncodeConfig::default(), "{}", doc);
}
