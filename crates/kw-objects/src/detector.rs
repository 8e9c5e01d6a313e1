//! [`Detector`]: one loaded model (the shipped NanoDet, or a user's ONNX), run with tract on a picture or a
//! motion region of it.
//!
//! Loading optimises the network for the input size once (about a second); running is `&self` and
//! thread-safe, so one detector serves every camera ([`Detector::shipped`] loads on first use and shares).
//! tract runs on the calling thread only: one inference uses one core, and the caller (with [`crate::Budget`])
//! decides how many run at once.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::decode::Layout;
use crate::labels::{self, Tracked};
use crate::nms::{self, Candidate};
use crate::preprocess::{self, CropRules, Letterbox, PixelFormat};
use crate::{Error, RgbFrame};

/// The shipped model: NanoDet-g, COCO's 80 classes, 416×416 (see `model/PROVENANCE.md`).
static SHIPPED_ONNX: &[u8] = include_bytes!("../model/nanodet-g.onnx");

/// The largest model file accepted.
pub const MAX_MODEL_BYTES: u64 = 512 << 20;
/// Input sides (pixels) a model may declare; one without fixed sides gets [`DEFAULT_SIDE`].
pub const INPUT_SIDES: std::ops::RangeInclusive<usize> = 32..=2048;
/// The input side used for a model whose input size is not fixed (YOLO exports with dynamic axes).
pub const DEFAULT_SIDE: usize = 640;
/// At most this many candidates go into NMS (it is quadratic).
const MAX_CANDIDATES: usize = 1000;

/// What the detector found.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The label keepwatch reports (`person`, `car`, ...; see [`crate::labels`]).
    pub label: Arc<str>,
    /// The model's own class name (`truck` for a `car`-labelled truck).
    pub class: Arc<str>,
    /// 0..1.
    pub score: f32,
    /// `[x, y, w, h]` in 0..1 of the whole picture (not of the crop), as motion regions.
    pub bbox: [f32; 4],
}

/// Thresholds and choices for [`Detector::detect`].
#[derive(Debug, Clone, PartialEq)]
pub struct DetectOptions {
    /// Detections scoring below are dropped.
    pub min_score: f32,
    /// Boxes of one label overlapping more than this (intersection over union) are one object.
    pub iou: f32,
    /// At most this many detections per picture, best first.
    pub max_detections: usize,
    /// The labels reported; everything else is dropped.
    pub track: Tracked,
    /// How a motion region becomes a crop.
    pub crop: CropRules,
}

impl Default for DetectOptions {
    /// Score 0.45 (the shipped model scores clear people and cars 0.6–0.8, and its confusions on
    /// furniture and clutter stay under 0.4 on the test pictures); IoU 0.6 (NanoDet's own).
    fn default() -> Self {
        DetectOptions {
            min_score: 0.45,
            iou: 0.6,
            max_detections: 20,
            track: Tracked::default(),
            crop: CropRules::default(),
        }
    }
}

/// The outcome of examining one picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Examined {
    pub detections: Vec<Detection>,
    /// The part of the picture examined, `[x, y, w, h]` in 0..1 (what the tracker may call "searched").
    pub area: [f32; 4],
    /// Time spent: pre-processing, network, post-processing.
    pub took: Timings,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timings {
    pub prepare: Duration,
    pub network: Duration,
    pub decode: Duration,
}

/// A loaded object detection model.
pub struct Detector {
    plan: Arc<TypedRunnableModel>,
    layout: Layout,
    format: PixelFormat,
    input: (usize, usize),
    classes: Vec<Arc<str>>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Detector {
    /// The shipped model, loaded on first use and shared by every caller in the process.
    pub fn shipped() -> Result<Arc<Detector>, Error> {
        static SHIPPED: OnceLock<Result<Arc<Detector>, Error>> = OnceLock::new();
        SHIPPED.get_or_init(|| Detector::from_onnx_bytes(SHIPPED_ONNX, None).map(Arc::new)).clone()
    }

    /// A user's ONNX model (YOLOv5 or YOLOv8 output layout, or NanoDet's) and its labels file (one class
    /// name per line); without one the model must score COCO's 80 classes.
    pub fn from_onnx(model: &Path, labels: Option<&Path>) -> Result<Detector, Error> {
        let bytes = read_bounded(model, MAX_MODEL_BYTES)?;
        let classes = match labels {
            Some(p) => {
                let raw = read_bounded(p, labels::MAX_LABELS_BYTES as u64)?;
                let text = String::from_utf8(raw)
                    .map_err(|_| Error::File { path: p.display().to_string(), why: "not UTF-8 text".into() })?;
                Some(labels::parse_labels(&text)?)
            }
            None => None,
        };
        Detector::from_onnx_bytes(&bytes, classes).map_err(|e| match e {
            Error::Model(m) => Error::Model(format!("{}: {m}", model.display())),
            e => e,
        })
    }

    /// A model from memory; `classes` as in [`Detector::from_onnx`].
    pub fn from_onnx_bytes(bytes: &[u8], classes: Option<Vec<Arc<str>>>) -> Result<Detector, Error> {
        // a malformed model must be an error, even where the parser would panic on it
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Detector::load(bytes, classes)))
            .unwrap_or_else(|_| Err(Error::Model("the model could not be parsed (tract panicked on it)".into())))
    }

    fn load(bytes: &[u8], classes: Option<Vec<Arc<str>>>) -> Result<Detector, Error> {
        let m = |e: TractError| Error::Model(format!("{e:#}"));
        let model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).map_err(m)?;
        if model.input_outlets().map_err(m)?.len() != 1 {
            return Err(Error::Model("expected one input (a picture)".into()));
        }
        let fact = model.input_fact(0).map_err(m)?;
        let rank = fact.shape.rank().concretize();
        if rank.is_some_and(|r| r != 4) {
            return Err(Error::Model(format!("input {}: expected [1, 3, height, width]", fact.format_dt_shape())));
        }
        let side = |i: usize, name: &str| -> Result<usize, Error> {
            match fact
                .shape
                .dim(i)
                .and_then(|d| d.concretize())
                .and_then(|d| d.as_i64())
                .and_then(|d| usize::try_from(d).ok())
            {
                Some(v) if INPUT_SIDES.contains(&v) => Ok(v),
                Some(v) => Err(Error::Model(format!("input {name} {v}: expected {INPUT_SIDES:?}"))),
                None => Ok(DEFAULT_SIDE),
            }
        };
        let (h, w) = (side(2, "height")?, side(3, "width")?);
        if let Some(c) = fact
            .shape
            .dim(1)
            .and_then(|d| d.concretize())
            .and_then(|d| d.as_i64())
            .and_then(|d| usize::try_from(d).ok())
        {
            if c != 3 {
                return Err(Error::Model(format!("input has {c} channels: expected 3 (planar RGB or BGR)")));
            }
        }
        let plan = model
            .with_input_fact(0, f32::fact([1, 3, h, w]).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(m)?;
        let mut shapes = Vec::new();
        for i in 0..plan.model().output_outlets().map_err(m)?.len() {
            let f = plan.model().output_fact(i).map_err(m)?;
            if f.datum_type != f32::datum_type() {
                return Err(Error::Model(format!("output {i} is {:?}: expected f32", f.datum_type)));
            }
            let Some(s) = f.shape.as_concrete() else {
                return Err(Error::Model(format!("output {i} has no fixed shape ({:?})", f.shape)));
            };
            shapes.push(s.to_vec());
        }
        let layout = Layout::detect(w, h, &shapes, classes.as_ref().map(Vec::len)).map_err(Error::Model)?;
        let classes = match classes {
            Some(c) => c,
            None if layout.classes() == labels::COCO.len() => labels::coco(),
            None => return Err(Error::Model(format!("{} classes: give a labels file", layout.classes()))),
        };
        let format = match layout {
            Layout::NanoDet { .. } => PixelFormat::NANODET,
            Layout::YoloV5 { .. } | Layout::YoloV8 { .. } => PixelFormat::YOLO,
        };
        Ok(Detector { plan, layout, format, input: (w, h), classes })
    }

    /// "NanoDet, 80 classes, input 416×416" and the like, for logs.
    pub fn describe(&self) -> String {
        let kind = match &self.layout {
            Layout::NanoDet { levels, .. } => format!("NanoDet ({} strides)", levels.len()),
            Layout::YoloV5 { .. } => "YOLOv5 layout".into(),
            Layout::YoloV8 { .. } => "YOLOv8 layout".into(),
        };
        format!("{kind}, {} classes, input {}x{}", self.classes.len(), self.input.0, self.input.1)
    }

    /// The model's class names, in scoring order.
    pub fn classes(&self) -> &[Arc<str>] {
        &self.classes
    }

    /// The model's input width and height.
    pub fn input_size(&self) -> (usize, usize) {
        self.input
    }

    /// Examines `frame`, or the part of it around `region` (`[x, y, w, h]` in 0..1, a motion region; see
    /// [`preprocess::plan_crop`]), and reports the tracked objects found, best first.
    pub fn detect(
        &self,
        frame: &RgbFrame<'_>,
        region: Option<[f32; 4]>,
        opts: &DetectOptions,
    ) -> Result<Examined, Error> {
        let t0 = Instant::now();
        let aspect = self.input.0 as f32 / self.input.1 as f32;
        let crop = preprocess::plan_crop(frame.width(), frame.height(), region, aspect, &opts.crop);
        let lb = Letterbox::new(crop, self.input.0, self.input.1);
        let tensor = preprocess::to_tensor(frame, &lb, &self.format, self.input.0, self.input.1);
        let t1 = Instant::now();
        let outputs = self.run(tensor)?;
        let t2 = Instant::now();
        let candidates = self.candidates(&outputs, &lb, opts.min_score, opts.iou)?;
        let mut labelled = Vec::new();
        for c in candidates {
            if let Some(label) = self.classes.get(c.class).and_then(|n| opts.track.label_of(n)) {
                labelled.push((label, c));
            }
        }
        // one box per object and label: vehicles of several classes on one spot (car and truck) are one `car`
        let merged = nms::nms_by(labelled, opts.iou, opts.max_detections, |(_, c)| c, |a, b| a.0 == b.0);
        let detections = merged
            .into_iter()
            .map(|(label, c)| Detection {
                label,
                class: self.classes[c.class].clone(),
                score: c.score,
                bbox: lb.to_picture(c.corners, frame.width(), frame.height()),
            })
            .collect();
        let (fw, fh) = (frame.width() as f32, frame.height() as f32);
        let area = [crop.x as f32 / fw, crop.y as f32 / fh, crop.w as f32 / fw, crop.h as f32 / fh];
        Ok(Examined { detections, area, took: Timings { prepare: t1 - t0, network: t2 - t1, decode: t2.elapsed() } })
    }

    /// Every class scoring above `min_score` in `crop` (after per-class NMS), in the model's input pixels,
    /// with the placement that maps them back: the untouched model output, for tests and tools.
    pub fn detect_classes(
        &self,
        frame: &RgbFrame<'_>,
        crop: preprocess::Crop,
        min_score: f32,
        iou: f32,
    ) -> Result<(Vec<Candidate>, Letterbox), Error> {
        if crop.w == 0 || crop.h == 0 || crop.x + crop.w > frame.width() || crop.y + crop.h > frame.height() {
            return Err(Error::Picture(format!("crop {crop:?} is not inside {}x{}", frame.width(), frame.height())));
        }
        let lb = Letterbox::new(crop, self.input.0, self.input.1);
        let outputs = self.run(preprocess::to_tensor(frame, &lb, &self.format, self.input.0, self.input.1))?;
        Ok((self.candidates(&outputs, &lb, min_score, iou)?, lb))
    }

    fn candidates(
        &self,
        outputs: &TVec<TValue>,
        lb: &Letterbox,
        min_score: f32,
        iou: f32,
    ) -> Result<Vec<Candidate>, Error> {
        let views: Vec<&[f32]> = outputs
            .iter()
            .map(|t| t.try_as_plain_ram().and_then(|v| v.as_slice::<f32>()))
            .collect::<TractResult<_>>()
            .map_err(|e| Error::Inference(format!("{e:#}")))?;
        let cands = self.layout.decode(&views, min_score, (lb.width as f32, lb.height as f32));
        Ok(nms::nms(nms::best(cands, MAX_CANDIDATES), iou, MAX_CANDIDATES))
    }

    /// Runs the network on a `[1, 3, h, w]` tensor.
    pub(crate) fn run(&self, tensor: Vec<f32>) -> Result<TVec<TValue>, Error> {
        let (w, h) = self.input;
        let input = tract_ndarray::Array4::from_shape_vec((1, 3, h, w), tensor)
            .map_err(|e| Error::Inference(e.to_string()))?
            .into_tensor();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.plan.run(tvec!(input.into()))))
            .map_err(|_| Error::Inference("tract panicked".into()))?
            .map_err(|e| Error::Inference(format!("{e:#}")))
    }
}

fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let err = |why: String| Error::File { path: path.display().to_string(), why };
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes).map_err(|e| err(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(err(format!("larger than {max} bytes")));
    }
    Ok(bytes)
}
