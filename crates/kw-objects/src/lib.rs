//! keepwatch's object detector: "is this a person, a car, an animal?" before an alert, on a plain CPU.
//!
//! # Why it is a crate of its own
//!
//! Object detection is pure computation on pictures: a network (run with tract, pure Rust, no system
//! libraries), the pre-processing in front of it and the decoding behind it. Kept away from cameras, the
//! store and async code, it is tested against outputs computed by an independent reference (onnxruntime +
//! NumPy, `tests/fixtures/`), measured on its own (`examples/speed.rs`, `bench/objects`), and its two pieces
//! of policy — the inference [`Budget`] and the [`Tracker`] — are pure logic on an injected clock.
//!
//! # The model
//!
//! Shipped inside the binary (`model/nanodet-g.onnx`, ~7.6 MB, Apache-2.0; `model/PROVENANCE.md` says
//! where it comes from and how it was converted): NanoDet-g, COCO's 80 classes, 416×416 input, about
//! 90 ms per inference on one core. Nothing is downloaded, ever. A user's own ONNX model with a YOLOv5
//! (`[1, N, 5 + classes]`) or YOLOv8 (`[1, 4 + classes, N]`) output works too ([`Detector::from_onnx`]),
//! the layout read from its output shape.
//!
//! # A user's own model
//!
//! [`Detector::from_onnx`] takes an ONNX file with one picture input `[1, 3, H, W]` (fixed sides, or
//! dynamic ones: then 640×640) and a labels file (one class name per line, in the model's order; optional
//! for the 80 COCO classes). The output layout is read from its shape:
//!
//! | layout | output | pixels in | public models that fit |
//! |---|---|---|---|
//! | YOLOv8 | `[1, 4 + classes, N]` (or `[1, N, 4 + classes]`) | RGB / 255 | Ultralytics YOLOv8, YOLOv9, YOLO11 (`yolo export model=yolo11n.pt format=onnx`; AGPL-3.0 weights) |
//! | YOLOv5 | `[1, N, 5 + classes]` | RGB / 255 | Ultralytics YOLOv5 (`export.py --include onnx`), YOLOv7 (`export.py --grid`) |
//! | NanoDet (GFL) | score/distance pairs per stride | BGR, ImageNet mean/std | NanoDet-m/-g/-t legacy exports |
//!
//! Not fitting: exports with NMS in the graph or end-to-end outputs (`[1, 300, 6]`, YOLOv10, `--end2end`),
//! YOLOX (raw grid outputs, 0..255 input), NanoDet-Plus (different centre priors), anything with a batch
//! above 1. Boxes with center/size in input pixels; scores already through a sigmoid.
//!
//! # Use
//!
//! ```no_run
//! use std::time::Instant;
//! use kw_objects::{Budget, BudgetConfig, DetectOptions, Detector, RgbFrame, Tracker, TrackerConfig};
//! use kw_media::clock::SystemClock;
//!
//! let detector = Detector::shipped()?; // loads once per process (about a second), shared by all cameras
//! let budget = Budget::new(SystemClock::shared(), BudgetConfig { per_camera: 2.0, global: 4.0 });
//! let mut tracker = Tracker::new(TrackerConfig::default()); // one per camera
//! let opts = DetectOptions::default(); // min_score, track = ["person", "car", "dog", "cat", "bird"], ...
//!
//! // on a frame where motion was found (RGB from kw_codec's Picture::to_rgb), with kw-motion's region:
//! # let (w, h, rgb, region) = (640u32, 360u32, vec![0u8; 640 * 360 * 3], Some([0.4f32, 0.3, 0.1, 0.3]));
//! if budget.try_acquire("front-door").is_ok() {
//!     let frame = RgbFrame::new(w, h, &rgb)?;
//!     let seen = detector.detect(&frame, region, &opts)?; // blocking, ~0.1 s: run it off the reactor
//!     let changes = tracker.observe(Instant::now(), seen.area, &seen.detections);
//!     for t in &changes.new { /* a new object: start an event labelled t.label, box t.last.bbox */ }
//!     for t in &changes.ended { /* gone: the object's event may finish */ }
//! }
//! # Ok::<(), kw_objects::Error>(())
//! ```
//!
//! # Pieces
//!
//! - [`preprocess`]: motion region → crop (margin, model aspect, minimum size; whole picture for large
//!   regions) → letterboxed, normalised tensor.
//! - [`decode`]: output layouts (NanoDet's GFL head, YOLOv5, YOLOv8) → candidate boxes; [`nms`]: overlap
//!   suppression.
//! - [`labels`]: COCO names, the `car` group for vehicles, the tracked set ([`Tracked`]), labels files.
//! - [`Detector`]: model loading (shipped or user's), input size, running, mapping back to the picture.
//! - [`Budget`]: inferences per second per camera and in total, with turns; [`Tracker`]: IoU identity.

mod budget;
pub mod decode;
mod detector;
mod error;
mod frame;
pub mod labels;
pub mod nms;
pub mod preprocess;
mod tracker;

#[cfg(test)]
mod fixture_tests;

pub use budget::{Budget, BudgetConfig, Denied, Limit};
pub use detector::{DetectOptions, Detection, Detector, Examined, Timings, DEFAULT_SIDE, INPUT_SIDES, MAX_MODEL_BYTES};
pub use error::Error;
pub use frame::{RgbFrame, MAX_SIDE};
pub use labels::Tracked;
pub use tracker::{Observed, Track, Tracker, TrackerConfig};
