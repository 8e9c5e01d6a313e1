//! `[cameras.objects]`, `[objects]` and `[[notify]] labels`: read with defaults, mistakes named by file,
//! line and key.

use std::path::Path;

use kw_config::{parse, AlertOn, ObjectsConfig, RecordMode};

const CAMERA: &str = "[[cameras]]\nname = \"door\"\nurl = \"rtsp://127.0.0.1/s\"\n";

fn errors(text: &str, path: &Path) -> String {
    match parse(text, path) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_and_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepwatch.toml");
    let config = parse(CAMERA, &path).unwrap();
    assert_eq!(config.cameras[0].objects, ObjectsConfig::default());
    assert!(!config.cameras[0].objects.enabled);
    assert_eq!(config.objects.max_per_second, 4.0);
    std::fs::write(dir.path().join("my.onnx"), b"x").unwrap();
    std::fs::write(dir.path().join("my.txt"), b"person\n").unwrap();
    let text = format!(
        "[objects]\nmax_per_second = 8\n{CAMERA}record = \"objects\"\n[cameras.objects]\nenabled = true\n\
         track = [\"person\", \"car\"]\nmin_score = 0.6\nalert_on = \"motion\"\nmodel = \"my.onnx\"\n\
         labels = \"my.txt\"\nmax_per_second = 1.5\n\
         [[notify]]\nname = \"hook\"\nkind = \"webhook\"\ntarget = \"http://127.0.0.1:9/\"\nlabels = [\"person\"]\n"
    );
    let config = parse(&text, &path).unwrap();
    let o = &config.cameras[0].objects;
    assert!(o.enabled);
    assert_eq!(o.track, vec!["person", "car"]);
    assert_eq!((o.min_score, o.alert_on, o.max_per_second), (0.6, AlertOn::Motion, 1.5));
    assert_eq!(o.model.as_deref(), Some(dir.path().join("my.onnx").as_path()));
    assert_eq!(o.labels.as_deref(), Some(dir.path().join("my.txt").as_path()));
    assert_eq!(config.cameras[0].record, RecordMode::Objects);
    assert_eq!(config.objects.max_per_second, 8.0);
    let n = &config.notify[0];
    assert_eq!(n.labels.as_deref(), Some(&["person".to_string()][..]));
    assert!(n.wants_labels(["car", "person"].into_iter()) && !n.wants_labels(["car"].into_iter()));
    assert!(!n.wants_labels(std::iter::empty()));
}

#[test]
fn mistakes_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepwatch.toml");
    let cases = [
        ("[cameras.objects]\nmin_score = 2\n", "cameras[0].objects.min_score", "between 0.05 and 1"),
        ("[cameras.objects]\ntrack = []\n", "cameras[0].objects.track", "at least one label"),
        ("[cameras.objects]\ntrack = [\"Person!\"]\n", "cameras[0].objects.track[0]", "lowercase"),
        ("[cameras.objects]\ntrack = [\"car\", \"car\"]\n", "cameras[0].objects.track[1]", "listed twice"),
        ("[cameras.objects]\nalert_on = \"always\"\n", "cameras[0].objects.alert_on", "objects, motion"),
        ("[cameras.objects]\nmodel = \"nope.onnx\"\n", "cameras[0].objects.model", "no such file"),
        ("[cameras.objects]\nmodel = \"nope.pt\"\n", "cameras[0].objects.model", "ONNX"),
        ("[cameras.objects]\nlabels = \"keepwatch.toml\"\n", "cameras[0].objects.labels", "model ="),
        ("[cameras.objects]\nmax_per_second = 0\n", "cameras[0].objects.max_per_second", "between 0.1 and 30"),
        ("[cameras.objects]\nsize = 3\n", "cameras[0].objects.size", "unknown key"),
        ("record = \"objects\"\n", "cameras[0].record", "enabled = true"),
    ];
    std::fs::write(&path, "").unwrap();
    for (extra, key, needle) in cases {
        let text = format!("{CAMERA}{extra}");
        let e = errors(&text, &path);
        assert!(e.contains(key) && e.contains(needle), "{extra:?}: {e}");
        assert!(e.contains("keepwatch.toml:"), "{e}");
    }
    let e = errors("[objects]\nmax_per_second = 1000\n", &path);
    assert!(e.contains("objects.max_per_second") && e.contains("between 0.1 and 200"), "{e}");
}
