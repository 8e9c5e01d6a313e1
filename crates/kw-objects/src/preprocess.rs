//! From a camera picture and a motion region to the numbers the network reads.
//!
//! 1. [`plan_crop`]: the part of the picture to look at. A motion region is grown by a margin (a detector
//!    needs context: motion often covers only the legs that moved), to the model's aspect ratio and to a
//!    minimum size; when that would cover half the picture or more, the whole picture is used.
//! 2. [`Letterbox`]: the crop is scaled by one factor into the model's input, placed top left, the rest
//!    padded (objects keep their shape; the padding is the model's "no information" value).
//! 3. [`to_tensor`]: separable scaling with a triangle filter whose support widens with the shrink factor
//!    (shrinking averages every source pixel, so a 1080p picture does not alias; growing interpolates), then
//!    the model's channel order and normalisation, as one planar (NCHW) tensor.
//!
//! The exact arithmetic is the contract `tests/fixtures/make_expected.py` re-implements in NumPy.

use crate::nms::Corners;
use crate::RgbFrame;

/// A rectangle of the picture, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Crop {
    /// The whole picture.
    pub fn whole(width: u32, height: u32) -> Crop {
        Crop { x: 0, y: 0, w: width, h: height }
    }
}

/// How a motion region becomes a crop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropRules {
    /// Added on every side, as a share of the region's longer side.
    pub margin: f32,
    /// The crop's shorter side is at least this many pixels (or the picture's, when smaller): a region of a
    /// few pixels blown up to the model's input shows nothing recognisable.
    pub min_side: u32,
    /// When the grown crop covers at least this share of the picture's area, the whole picture is used.
    pub whole_above: f32,
}

impl Default for CropRules {
    fn default() -> Self {
        CropRules { margin: 0.25, min_side: 160, whole_above: 0.5 }
    }
}

/// The crop to examine for `region` (`[x, y, w, h]` in 0..1 of the picture, as kw-motion's regions;
/// `None`, empty or not finite: the whole picture). `aspect` is the model input's width / height.
pub fn plan_crop(width: u32, height: u32, region: Option<[f32; 4]>, aspect: f32, rules: &CropRules) -> Crop {
    let whole = Crop::whole(width, height);
    let Some(r) = region.filter(|r| r.iter().all(|v| v.is_finite())) else {
        return whole;
    };
    let aspect = if aspect.is_finite() && aspect > 0.0 { aspect } else { 1.0 };
    let (fw, fh) = (width as f32, height as f32);
    let x0 = r[0].clamp(0.0, 1.0) * fw;
    let y0 = r[1].clamp(0.0, 1.0) * fh;
    let x1 = (r[0] + r[2].max(0.0)).clamp(0.0, 1.0) * fw;
    let y1 = (r[1] + r[3].max(0.0)).clamp(0.0, 1.0) * fh;
    let (w, h) = (x1 - x0, y1 - y0);
    let m = rules.margin.max(0.0) * w.max(h);
    let (mut cw, mut ch) = (w + 2.0 * m, h + 2.0 * m);
    if cw < ch * aspect {
        cw = ch * aspect;
    } else {
        ch = cw / aspect;
    }
    let min_side = (rules.min_side as f32).min(fw.min(fh));
    let grow = if cw.min(ch) > 0.0 { (min_side / cw.min(ch)).max(1.0) } else { f32::INFINITY };
    if grow.is_infinite() {
        (cw, ch) = if aspect >= 1.0 { (min_side * aspect, min_side) } else { (min_side, min_side / aspect) };
    } else {
        (cw, ch) = (cw * grow, ch * grow);
    }
    if cw * ch >= rules.whole_above * fw * fh {
        return whole;
    }
    let (cw, ch) = (cw.min(fw), ch.min(fh));
    let left = ((x0 + x1) / 2.0 - cw / 2.0).clamp(0.0, fw - cw);
    let top = ((y0 + y1) / 2.0 - ch / 2.0).clamp(0.0, fh - ch);
    let (x, y) = (left.floor() as u32, top.floor() as u32);
    let right = ((left + cw).ceil() as u32).clamp(x + 1, width);
    let bottom = ((top + ch).ceil() as u32).clamp(y + 1, height);
    Crop { x, y, w: right - x, h: bottom - y }
}

/// Where a crop lands in the model's input: scaled by `scale` to `width × height`, top left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub crop: Crop,
    pub scale: f32,
    pub width: usize,
    pub height: usize,
}

impl Letterbox {
    /// The placement of `crop` in an input of `input_w × input_h`.
    pub fn new(crop: Crop, input_w: usize, input_h: usize) -> Letterbox {
        let scale = (input_w as f32 / crop.w as f32).min(input_h as f32 / crop.h as f32);
        let width = ((crop.w as f32 * scale).round() as usize).clamp(1, input_w);
        let height = ((crop.h as f32 * scale).round() as usize).clamp(1, input_h);
        Letterbox { crop, scale, width, height }
    }

    /// A box in input pixels → the picture's `[x, y, w, h]` in 0..1 (clamped to the crop's pixels).
    pub fn to_picture(&self, c: Corners, width: u32, height: u32) -> [f32; 4] {
        let (vw, vh) = (self.width as f32, self.height as f32);
        let x = |v: f32| (self.crop.x as f32 + v.clamp(0.0, vw) / self.scale) / width as f32;
        let y = |v: f32| (self.crop.y as f32 + v.clamp(0.0, vh) / self.scale) / height as f32;
        let (x1, y1, x2, y2) = (x(c[0]), y(c[1]), x(c[2]), y(c[3]));
        [x1, y1, (x2 - x1).max(0.0), (y2 - y1).max(0.0)]
    }
}

/// How a model wants its pixels: channel order, normalisation `(value - mean) / std` (per input channel,
/// values 0..255), and the pixel value (0..255, per input channel) the padding stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelFormat {
    pub bgr: bool,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub pad: [f32; 3],
}

impl PixelFormat {
    /// NanoDet's (its training pipeline reads pictures with OpenCV): BGR, ImageNet mean and std in 0..255,
    /// padding at the mean.
    pub const NANODET: PixelFormat = PixelFormat {
        bgr: true,
        mean: [103.53, 116.28, 123.675],
        std: [57.375, 57.12, 58.395],
        pad: [103.53, 116.28, 123.675],
    };
    /// The YOLO exports': RGB scaled to 0..1, padding grey 114.
    pub const YOLO: PixelFormat = PixelFormat { bgr: false, mean: [0.0; 3], std: [255.0; 3], pad: [114.0; 3] };
}

/// Scaling weights for one axis: for each output sample, the first input and its taps' weights.
struct Axis {
    start: Vec<usize>,
    taps: Vec<std::ops::Range<usize>>,
    weights: Vec<f32>,
}

fn axis(n: usize, m: usize) -> Axis {
    let r = n as f64 / m as f64;
    let support = r.max(1.0);
    let mut a = Axis { start: Vec::with_capacity(m), taps: Vec::with_capacity(m), weights: Vec::new() };
    for o in 0..m {
        let c = (o as f64 + 0.5) * r;
        let lo = ((c - support).floor().max(0.0)) as usize;
        let hi = ((c + support).ceil() as usize).min(n);
        let k: Vec<f64> = (lo..hi).map(|i| (1.0 - ((i as f64 + 0.5 - c).abs() / support)).max(0.0)).collect();
        let sum: f64 = k.iter().sum();
        let from = a.weights.len();
        if sum > 0.0 {
            a.weights.extend(k.iter().map(|w| (w / sum) as f32));
        } else {
            // cannot happen for n, m ≥ 1 (the nearest input always has weight); kept total
            a.weights.extend(k.iter().map(|_| 1.0 / k.len().max(1) as f32));
        }
        a.start.push(lo);
        a.taps.push(from..a.weights.len());
    }
    a
}

/// The crop of `frame` scaled and normalised into a `[1, 3, input_h, input_w]` tensor (planar, row-major).
pub fn to_tensor(frame: &RgbFrame<'_>, lb: &Letterbox, fmt: &PixelFormat, input_w: usize, input_h: usize) -> Vec<f32> {
    let (cw, ch) = (lb.crop.w as usize, lb.crop.h as usize);
    let (ow, oh) = (lb.width, lb.height);
    let stride = frame.width() as usize * 3;
    let data = frame.data();
    let ax = axis(cw, ow);
    let ay = axis(ch, oh);

    // Horizontal pass: every row of the crop, scaled to ow (interleaved RGB, f32).
    let mut rows = vec![0f32; ch * ow * 3];
    for y in 0..ch {
        let src = &data[(lb.crop.y as usize + y) * stride + lb.crop.x as usize * 3..][..cw * 3];
        let dst = &mut rows[y * ow * 3..][..ow * 3];
        for o in 0..ow {
            let (mut r, mut g, mut b) = (0f32, 0f32, 0f32);
            let start = ax.start[o];
            for (k, w) in ax.weights[ax.taps[o].clone()].iter().enumerate() {
                let p = &src[(start + k) * 3..][..3];
                r += w * p[0] as f32;
                g += w * p[1] as f32;
                b += w * p[2] as f32;
            }
            dst[o * 3..o * 3 + 3].copy_from_slice(&[r, g, b]);
        }
    }

    // Vertical pass into the tensor, with channel order and normalisation; the rest is padding.
    let plane = input_w * input_h;
    let mut t = vec![0f32; 3 * plane];
    let src_channel = |c: usize| if fmt.bgr { 2 - c } else { c };
    for c in 0..3 {
        let pad = (fmt.pad[c] - fmt.mean[c]) / fmt.std[c];
        t[c * plane..(c + 1) * plane].fill(pad);
    }
    let mut acc = vec![0f32; ow * 3];
    for o in 0..oh {
        acc.fill(0.0);
        let start = ay.start[o];
        for (k, w) in ay.weights[ay.taps[o].clone()].iter().enumerate() {
            let row = &rows[(start + k) * ow * 3..][..ow * 3];
            for (a, v) in acc.iter_mut().zip(row) {
                *a += w * v;
            }
        }
        for c in 0..3 {
            let (sc, mean, inv) = (src_channel(c), fmt.mean[c], 1.0 / fmt.std[c]);
            let dst = &mut t[c * plane + o * input_w..][..ow];
            for (x, d) in dst.iter_mut().enumerate() {
                *d = (acc[x * 3 + sc] - mean) * inv;
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: CropRules = CropRules { margin: 0.25, min_side: 160, whole_above: 0.5 };

    #[test]
    fn no_region_or_a_large_one_means_the_whole_picture() {
        assert_eq!(plan_crop(1920, 1080, None, 1.0, &R), Crop::whole(1920, 1080));
        assert_eq!(plan_crop(1920, 1080, Some([0.1, 0.1, 0.6, 0.6]), 1.0, &R), Crop::whole(1920, 1080));
        assert_eq!(plan_crop(640, 360, Some([f32::NAN, 0.0, 0.1, 0.1]), 1.0, &R), Crop::whole(640, 360));
    }

    #[test]
    fn a_small_region_gets_a_square_crop_with_margin_around_it() {
        // 100x200 px region at (900, 400) in 1920x1080; margin 50 → 200x300 → square 300
        let c = plan_crop(1920, 1080, Some([900.0 / 1920.0, 400.0 / 1080.0, 100.0 / 1920.0, 200.0 / 1080.0]), 1.0, &R);
        assert_eq!((c.w, c.h), (300, 300), "{c:?}");
        assert_eq!((c.x, c.y), (800, 350), "centred on the region: {c:?}");
    }

    #[test]
    fn a_tiny_region_is_grown_to_the_minimum_side() {
        let c = plan_crop(640, 360, Some([0.5, 0.5, 0.0, 0.0]), 1.0, &R);
        assert_eq!((c.w, c.h), (160, 160), "{c:?}");
        assert_eq!((c.x, c.y), (240, 100));
    }

    #[test]
    fn a_crop_at_the_edge_is_shifted_into_the_picture() {
        let c = plan_crop(1920, 1080, Some([0.0, 0.95, 0.02, 0.05]), 1.0, &R);
        assert_eq!(c.x, 0);
        assert_eq!(c.y + c.h, 1080, "{c:?}");
        assert_eq!(c.w, c.h);
    }

    #[test]
    fn the_crop_follows_the_input_aspect_and_never_leaves_the_picture() {
        let c = plan_crop(640, 360, Some([0.4, 0.4, 0.1, 0.1]), 2.0, &R);
        assert_eq!(c.w, 2 * c.h, "{c:?}");
        for region in [[0.9, 0.9, 0.5, 0.5], [-1.0, -1.0, 0.2, 0.2], [0.3, 0.0, 0.01, 1.0]] {
            let c = plan_crop(640, 360, Some(region), 1.0, &R);
            assert!(c.w >= 1 && c.h >= 1 && c.x + c.w <= 640 && c.y + c.h <= 360, "{region:?} → {c:?}");
        }
    }

    #[test]
    fn letterbox_scales_the_longer_side_to_the_input() {
        let lb = Letterbox::new(Crop::whole(1920, 1080), 416, 416);
        assert_eq!((lb.width, lb.height), (416, 234));
        // a box covering the scaled picture maps back to the whole picture
        let b = lb.to_picture([0.0, 0.0, 416.0, 234.0], 1920, 1080);
        for (v, want) in b.iter().zip([0.0, 0.0, 1.0, 1.0]) {
            assert!((v - want).abs() < 2e-3, "{b:?}");
        }
        // from a crop: offsets and scale
        let lb = Letterbox::new(Crop { x: 100, y: 50, w: 208, h: 208 }, 416, 416);
        let b = lb.to_picture([0.0, 0.0, 208.0, 416.0], 1000, 500);
        for (v, want) in b.iter().zip([0.1, 0.1, 0.104, 0.416]) {
            assert!((v - want).abs() < 1e-6, "{b:?}");
        }
        // boxes reaching into the padding are clamped to the crop
        let lb = Letterbox::new(Crop::whole(200, 100), 416, 416);
        let b = lb.to_picture([-10.0, 0.0, 500.0, 500.0], 200, 100);
        assert_eq!(b, [0.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn scaling_weights_sum_to_one_and_copy_at_equal_size() {
        for (n, m) in [(10, 10), (1920, 416), (100, 416), (3, 1), (1, 5)] {
            let a = axis(n, m);
            for t in &a.taps {
                let s: f32 = a.weights[t.clone()].iter().sum();
                assert!((s - 1.0).abs() < 1e-5, "{n}->{m}: {s}");
            }
        }
        let a = axis(10, 10);
        for (o, t) in a.taps.iter().enumerate() {
            let w = &a.weights[t.clone()];
            let one = w.iter().position(|&v| v == 1.0).expect("an exact copy");
            assert_eq!(a.start[o] + one, o);
        }
    }

    #[test]
    fn tensor_of_a_flat_picture_is_flat_and_padded() {
        let data = vec![200u8; 8 * 4 * 3];
        let f = RgbFrame::new(8, 4, &data).unwrap();
        let lb = Letterbox::new(Crop::whole(8, 4), 16, 16);
        assert_eq!((lb.width, lb.height), (16, 8));
        let t = to_tensor(&f, &lb, &PixelFormat::NANODET, 16, 16);
        let fmt = PixelFormat::NANODET;
        for c in 0..3 {
            let inside = (200.0 - fmt.mean[c]) / fmt.std[c];
            assert!((t[c * 256] - inside).abs() < 1e-4);
            assert!((t[c * 256 + 7 * 16 + 15] - inside).abs() < 1e-4);
            assert_eq!(t[c * 256 + 8 * 16], 0.0, "padding at the mean is 0");
        }
    }

    #[test]
    fn channel_order_follows_the_format() {
        // one red pixel
        let f = RgbFrame::new(1, 1, &[255, 0, 0]).unwrap();
        let lb = Letterbox::new(Crop::whole(1, 1), 2, 2);
        let bgr = to_tensor(&f, &lb, &PixelFormat { bgr: true, mean: [0.0; 3], std: [1.0; 3], pad: [0.0; 3] }, 2, 2);
        assert_eq!([bgr[0], bgr[4], bgr[8]], [0.0, 0.0, 255.0]);
        let rgb = to_tensor(&f, &lb, &PixelFormat::YOLO, 2, 2);
        assert_eq!([rgb[0], rgb[4], rgb[8]], [1.0, 0.0, 0.0]);
    }
}
