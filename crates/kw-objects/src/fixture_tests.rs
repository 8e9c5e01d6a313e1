//! The detector against an independent reference: `tests/fixtures/expected.json`, written by
//! `tests/fixtures/make_expected.py` (NumPy pre-processing, onnxruntime, NumPy decode + NMS) on real
//! pictures, and hand-labelled boxes (`tests/fixtures/labels.json`) for an accuracy smoke test.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::detector::Detector;
use crate::nms::iou;
use crate::preprocess::{self, Crop, Letterbox, PixelFormat};
use crate::{DetectOptions, Error, RgbFrame, Tracked};

#[derive(Deserialize)]
struct Expected {
    min_score: f32,
    iou: f32,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    image: String,
    crop: [u32; 4],
    scaled: [usize; 2],
    tensor_sum: [f64; 3],
    tensor: Vec<(usize, usize, usize, f32)>,
    raw: std::collections::HashMap<String, Vec<(usize, f32)>>,
    detections: Vec<Det>,
}

#[derive(Deserialize)]
struct Det {
    class: usize,
    score: f32,
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

#[derive(Deserialize)]
struct Labelled {
    image: String,
    objects: Vec<(String, [f32; 4])>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> Expected {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap()).unwrap()
}

/// A PNG fixture as packed RGB.
fn picture(name: &str) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(fixtures().join(name)).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight), "{name}");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn crop_of(c: &Case) -> Crop {
    Crop { x: c.crop[0], y: c.crop[1], w: c.crop[2], h: c.crop[3] }
}

/// Output names in the shipped model's order.
const OUTPUTS: [&str; 6] = ["cls_s8", "cls_s16", "cls_s32", "dist_s8", "dist_s16", "dist_s32"];

#[test]
fn preprocessing_matches_the_reference() {
    for case in expected().cases {
        let (w, h, rgb) = picture(&case.image);
        let frame = RgbFrame::new(w, h, &rgb).unwrap();
        let lb = Letterbox::new(crop_of(&case), 416, 416);
        assert_eq!([lb.width, lb.height], case.scaled, "{}", case.name);
        let t = preprocess::to_tensor(&frame, &lb, &PixelFormat::NANODET, 416, 416);
        for (c, want) in case.tensor_sum.iter().enumerate() {
            let sum: f64 = t[c * 416 * 416..(c + 1) * 416 * 416].iter().map(|&v| f64::from(v)).sum();
            assert!((sum - want).abs() < 1e-4 * want.abs().max(100.0), "{} channel {c}: {sum} vs {want}", case.name);
        }
        for &(c, y, x, want) in &case.tensor {
            let got = t[c * 416 * 416 + y * 416 + x];
            assert!((got - want).abs() < 1e-3, "{} at {c},{y},{x}: {got} vs {want}", case.name);
        }
    }
}

#[test]
fn network_outputs_match_onnxruntime() {
    let det = Detector::shipped().unwrap();
    for case in expected().cases {
        let (w, h, rgb) = picture(&case.image);
        let frame = RgbFrame::new(w, h, &rgb).unwrap();
        let lb = Letterbox::new(crop_of(&case), 416, 416);
        let out = det.run(preprocess::to_tensor(&frame, &lb, &PixelFormat::NANODET, 416, 416)).unwrap();
        assert_eq!(out.len(), OUTPUTS.len());
        for (name, t) in OUTPUTS.iter().zip(&out) {
            let flat = t.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap();
            for &(i, want) in &case.raw[*name] {
                assert!((flat[i] - want).abs() < 2e-3, "{} {name}[{i}]: {} vs {want}", case.name, flat[i]);
            }
        }
    }
}

#[test]
fn detections_match_the_reference() {
    let det = Detector::shipped().unwrap();
    let exp = expected();
    for case in exp.cases {
        let (w, h, rgb) = picture(&case.image);
        let frame = RgbFrame::new(w, h, &rgb).unwrap();
        let (cands, lb) = det.detect_classes(&frame, crop_of(&case), exp.min_score, exp.iou).unwrap();
        let got: Vec<(usize, f32, [f32; 4])> = cands
            .iter()
            .map(|c| {
                let b = lb.to_picture(c.corners, w, h);
                (c.class, c.score, [b[0] * w as f32, b[1] * h as f32, b[2] * w as f32, b[3] * h as f32])
            })
            .collect();
        assert_eq!(got.len(), case.detections.len(), "{}: {got:?}", case.name);
        for (g, e) in got.iter().zip(&case.detections) {
            assert_eq!(g.0, e.class, "{}: {got:?}", case.name);
            assert!((g.1 - e.score).abs() < 0.01, "{}: score {} vs {}", case.name, g.1, e.score);
            for (a, b) in g.2.iter().zip(e.bbox) {
                assert!((a - b).abs() <= 2.0, "{}: box {:?} vs {:?}", case.name, g.2, e.bbox);
            }
        }
    }
}

fn xywh_corners(b: [f32; 4]) -> [f32; 4] {
    [b[0], b[1], b[0] + b[2], b[1] + b[3]]
}

#[test]
fn hand_labelled_objects_are_found() {
    let det = Detector::shipped().unwrap();
    let labelled: Vec<Labelled> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("labels.json")).unwrap()).unwrap();
    for l in labelled {
        let (w, h, rgb) = picture(&l.image);
        let frame = RgbFrame::new(w, h, &rgb).unwrap();
        let seen = det.detect(&frame, None, &DetectOptions::default()).unwrap();
        let got: Vec<(&str, [f32; 4])> = seen.detections.iter().map(|d| (&*d.label, d.bbox)).collect();
        assert_eq!(got.len(), l.objects.len(), "{}: {got:?}", l.image);
        for (label, b) in &l.objects {
            let want = xywh_corners([b[0] / w as f32, b[1] / h as f32, b[2] / w as f32, b[3] / h as f32]);
            let best = got.iter().filter(|g| g.0 == label).map(|g| iou(xywh_corners(g.1), want)).fold(0.0, f32::max);
            assert!(best >= 0.7, "{}: {label} at {b:?}: best IoU {best} in {got:?}", l.image);
        }
        assert_eq!(seen.area, [0.0, 0.0, 1.0, 1.0]);
    }
}

#[test]
fn a_motion_region_in_a_large_picture_finds_the_object_there() {
    // the astronaut (320x320) pasted into a 1280x720 grey picture at (800, 300); kw-motion saw her move
    let (w, h, rgb) = picture("astronaut.png");
    let (fw, fh) = (1280u32, 720u32);
    let mut big = vec![90u8; (fw * fh * 3) as usize];
    for y in 0..h as usize {
        let dst = ((300 + y) * fw as usize + 800) * 3;
        big[dst..dst + w as usize * 3].copy_from_slice(&rgb[y * w as usize * 3..(y + 1) * w as usize * 3]);
    }
    let frame = RgbFrame::new(fw, fh, &big).unwrap();
    let region = [850.0 / 1280.0, 320.0 / 720.0, 150.0 / 1280.0, 250.0 / 720.0];
    let det = Detector::shipped().unwrap();
    let seen = det.detect(&frame, Some(region), &DetectOptions::default()).unwrap();
    assert!(seen.area[2] < 0.5, "a crop, not the whole picture: {:?}", seen.area);
    let person = seen.detections.iter().find(|d| &*d.label == "person").expect("a person");
    // hand label in the small picture: (12, 8, 212, 312) → shifted by (800, 300)
    let want = xywh_corners([812.0 / 1280.0, 308.0 / 720.0, 212.0 / 1280.0, 312.0 / 720.0]);
    let o = iou(xywh_corners(person.bbox), want);
    assert!(o >= 0.7, "IoU {o}: {:?}", person.bbox);
}

#[test]
fn untracked_labels_are_not_reported() {
    let det = Detector::shipped().unwrap();
    let (w, h, rgb) = picture("astronaut.png");
    let frame = RgbFrame::new(w, h, &rgb).unwrap();
    let opts = DetectOptions { track: Tracked::new(["car", "dog"]), ..DetectOptions::default() };
    assert!(det.detect(&frame, None, &opts).unwrap().detections.is_empty());
}

#[test]
fn a_flat_grey_picture_has_no_objects() {
    let det = Detector::shipped().unwrap();
    let grey = vec![128u8; 640 * 360 * 3];
    let frame = RgbFrame::new(640, 360, &grey).unwrap();
    let seen = det.detect(&frame, None, &DetectOptions::default()).unwrap();
    assert!(seen.detections.is_empty(), "{:?}", seen.detections);
}

#[test]
fn the_shipped_model_is_nanodet_on_coco() {
    let det = Detector::shipped().unwrap();
    assert_eq!(det.input_size(), (416, 416));
    assert_eq!(det.classes().len(), 80);
    assert_eq!(det.describe(), "NanoDet (3 strides), 80 classes, input 416x416");
    assert!(Arc::ptr_eq(&det, &Detector::shipped().unwrap()), "loaded once, shared");
}

/// The two tiny YOLO-layout models (`make_expected.py`): constant outputs with three candidates on a
/// 64x64 input — a person (0.95, and a weaker overlapping duplicate) and a truck.
#[test]
fn yolo_layouts_are_read_from_the_output_shape() {
    for (file, kind, person, truck) in [
        ("yolov5-layout.onnx", "YOLOv5 layout", 0.9 * 0.95, 0.8 * 0.9),
        ("yolov8-layout.onnx", "YOLOv8 layout", 0.95, 0.9),
    ] {
        let det = Detector::from_onnx(&fixtures().join(file), None).unwrap();
        assert_eq!(det.describe(), format!("{kind}, 80 classes, input 64x64"));
        let grey = vec![0u8; 64 * 64 * 3];
        let seen = det.detect(&RgbFrame::new(64, 64, &grey).unwrap(), None, &DetectOptions::default()).unwrap();
        let got: Vec<(&str, &str)> = seen.detections.iter().map(|d| (&*d.label, &*d.class)).collect();
        assert_eq!(got, vec![("person", "person"), ("car", "truck")], "{file}");
        assert!((seen.detections[0].score - person).abs() < 1e-5);
        assert!((seen.detections[1].score - truck).abs() < 1e-5);
        let want = [12.0 / 64.0, 9.0 / 64.0, 16.0 / 64.0, 30.0 / 64.0];
        for (a, b) in seen.detections[0].bbox.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{file}: {:?}", seen.detections[0].bbox);
        }
        // tracking the finer label reports the truck as a truck
        let opts = DetectOptions { track: Tracked::new(["truck"]), ..DetectOptions::default() };
        let seen = det.detect(&RgbFrame::new(64, 64, &grey).unwrap(), None, &opts).unwrap();
        assert_eq!(seen.detections.iter().map(|d| &*d.label).collect::<Vec<_>>(), vec!["truck"]);
    }
}

#[test]
fn bad_model_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.onnx");
    assert!(matches!(Detector::from_onnx(&missing, None), Err(Error::File { .. })));

    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not a model at all").unwrap();
    let e = Detector::from_onnx(&garbage, None).unwrap_err();
    assert!(matches!(e, Error::Model(_)) && e.to_string().contains("garbage.onnx"), "{e}");

    // a labels file that disagrees with the model's class count
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "person\ncar\nfox\n").unwrap();
    let e = Detector::from_onnx(&fixtures().join("yolov8-layout.onnx"), Some(&labels)).unwrap_err();
    assert!(e.to_string().contains("3 classes") || e.to_string().contains("for 3"), "{e}");

    // pictures that do not fit
    let det = Detector::from_onnx(&fixtures().join("yolov8-layout.onnx"), None).unwrap();
    let small = vec![0u8; 4 * 4 * 3];
    let frame = RgbFrame::new(4, 4, &small).unwrap();
    assert!(matches!(det.detect_classes(&frame, Crop { x: 2, y: 0, w: 4, h: 4 }, 0.5, 0.5), Err(Error::Picture(_))));
}
