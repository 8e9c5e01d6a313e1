//! `[cameras.onvif]` (keepwatch's extension): read, defaulted, checked, and written back only when it
//! differs from the default.

use std::path::Path;

use kw_config::{camera_table, parse, CameraConfig};

const CAMERA: &str = "[[cameras]]\nname = \"door\"\nurl = \"onvif://admin:pw@192.168.1.64\"\n";

#[test]
fn events_default_on_and_can_be_turned_off() {
    let path = Path::new("/etc/keepwatch/keepwatch.toml");
    let config = parse(CAMERA, path).unwrap();
    assert!(config.cameras[0].onvif.events, "camera events are on by default");
    let config = parse(&format!("{CAMERA}[cameras.onvif]\nevents = false\n"), path).unwrap();
    assert!(!config.cameras[0].onvif.events);

    let err = parse(&format!("{CAMERA}[cameras.onvif]\nevent = false\n"), path).unwrap_err().to_string();
    assert!(err.contains("event"), "{err}");
    let err = parse(&format!("{CAMERA}[cameras.onvif]\nevents = \"no\"\n"), path).unwrap_err().to_string();
    assert!(err.contains("events"), "{err}");
}

#[test]
fn written_back_only_when_not_default() {
    let mut camera = CameraConfig::new("door", "onvif://192.168.1.64");
    assert!(!camera_table(&camera).to_string().contains("onvif]"));
    assert!(!camera_table(&camera).contains_key("onvif"));
    camera.onvif.events = false;
    let table = camera_table(&camera);
    assert_eq!(table["onvif"]["events"].as_bool(), Some(false));
}

#[test]
fn an_explicit_default_survives_an_edit() {
    let text = format!("{CAMERA}record = \"continuous\"\n\n[cameras.onvif]\nevents = true # spelled out\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepwatch.toml");
    std::fs::write(&path, &text).unwrap();
    let mut doc = kw_config::ConfigDoc::load(&path).unwrap();
    let mut camera = parse(&text, &path).unwrap().cameras[0].clone();
    camera.record = kw_config::RecordMode::Motion;
    doc.upsert_camera(&camera).unwrap();
    let out = doc.to_string();
    assert!(out.contains("events = true # spelled out"), "{out}");
    assert!(out.contains("record = \"motion\""), "{out}");
}
