//! Synthetic scenes with known truth: the renderer behind the unit tests, the accuracy benchmark and the
//! speed measurement.
//!
//! Judging a motion detector needs clips where the right answer is known to the frame, including the hard
//! cases that make real detectors cry wolf: lights switched on, the IR day/night switch, sensor noise, rain,
//! dusk. Recording such clips with a real camera is slow and unrepeatable; rendering them is instant and
//! deterministic (every random choice comes from the scene's seed), so a change to the detector can be judged
//! against exactly the same frames.
//!
//! A [`Scene`] is a textured backdrop (smooth shapes, edges and fine grain, like a yard or a room) lit by
//! `daylight × exposure × (1 + lights)`, with objects ([`Mover`]) crossing it, optional [`Specks`] (rain,
//! flickering leaves), an optional night mode ([`IrSwitch`]) and Gaussian sensor noise. The camera's
//! auto-exposure is simulated: after a brightness change it brings the mean back most of the way within about
//! a second, as real cameras do. Frames must be rendered in time order (the exposure has state).

/// An object moving in a straight line at constant speed from `from` to `to` (centre, 0..1 frame
/// coordinates; outside the frame to enter or leave) during `[t0, t1]` seconds, absent otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mover {
    /// When it is at `from` (seconds).
    pub t0: f64,
    /// When it is at `to`.
    pub t1: f64,
    /// Centre at `t0`.
    pub from: (f64, f64),
    /// Centre at `t1`.
    pub to: (f64, f64),
    /// Width and height, 0..1 of the frame's.
    pub size: (f64, f64),
    /// Mean luma (before lighting).
    pub luma: f32,
    /// Amplitude of its own texture (a fixed pattern that moves with it).
    pub texture: f32,
}

impl Mover {
    /// Centre at time `t`, `None` outside `[t0, t1]`.
    pub fn centre(&self, t: f64) -> Option<(f64, f64)> {
        if !(self.t0..=self.t1).contains(&t) || self.t1 <= self.t0 {
            return None;
        }
        let p = (t - self.t0) / (self.t1 - self.t0);
        Some((self.from.0 + (self.to.0 - self.from.0) * p, self.from.1 + (self.to.1 - self.from.1) * p))
    }

    /// Whether any part is inside the frame at `t`.
    pub fn visible(&self, t: f64) -> bool {
        self.centre(t).is_some_and(|(x, y)| {
            (x - self.size.0 / 2.0) < 1.0
                && (x + self.size.0 / 2.0) > 0.0
                && (y - self.size.1 / 2.0) < 1.0
                && (y + self.size.1 / 2.0) > 0.0
        })
    }
}

/// A lamp switched on at `on` and off at `off` (seconds): multiplies the scene by `1 + (gain − 1) × falloff`,
/// the falloff being 1 at `centre` and decreasing with distance (`spread` 0 = uniform, larger = more local).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Light {
    /// Switched on (seconds).
    pub on: f64,
    /// Switched off.
    pub off: f64,
    /// Brightness factor at the centre when on.
    pub gain: f32,
    /// Where it shines most (0..1).
    pub centre: (f32, f32),
    /// 0 = the whole frame alike; 1 = clearly brighter near the centre.
    pub spread: f32,
    /// Seconds it takes to reach full brightness (0 = instant).
    pub ramp: f64,
}

/// The camera's switch into night mode at `night` and back at `day` (seconds): the IR-cut filter moves, the
/// picture turns grey with different contrast (materials reflect IR differently), the IR lamps light the
/// centre more, noise doubles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IrSwitch {
    /// Into night mode.
    pub night: f64,
    /// Back to day mode.
    pub day: f64,
    /// Contrast factor in night mode (e.g. 0.6).
    pub contrast: f32,
    /// Brightness offset in night mode (luma levels).
    pub offset: f32,
}

/// Small flickering specks: rain streaks at random places each frame, or leaves that flicker in place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Specks {
    /// Specks per frame per 10 000 pixels.
    pub density: f32,
    /// Brightness change of a speck (luma levels; negative darkens).
    pub amplitude: f32,
    /// Length in pixels (1 = dots, 3..6 = rain streaks), always one pixel wide.
    pub length: usize,
    /// `Some((x0, y0, x1, y1))`: only in this part of the frame (0..1), e.g. a tree.
    pub area: Option<(f32, f32, f32, f32)>,
}

/// A slow global brightness change (dusk, dawn, a cloud over the sun) from factor `from` at `t0` to `to` at
/// `t1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Daylight {
    /// Start (seconds).
    pub t0: f64,
    /// End.
    pub t1: f64,
    /// Factor at `t0`.
    pub from: f32,
    /// Factor at `t1`.
    pub to: f32,
}

/// A scene to render; see the module docs. Build with [`Scene::new`] and fill the public fields.
#[derive(Debug, Clone)]
pub struct Scene {
    /// Frame width in pixels.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Sensor noise, standard deviation in luma levels.
    pub noise: f32,
    /// Moving objects.
    pub movers: Vec<Mover>,
    /// Lamps.
    pub lights: Vec<Light>,
    /// Night mode.
    pub ir: Option<IrSwitch>,
    /// Rain or leaves.
    pub specks: Vec<Specks>,
    /// Slow brightness change.
    pub daylight: Option<Daylight>,
    /// Auto-exposure: the fraction of a brightness change the camera takes back (0 = none).
    pub exposure_comp: f32,
    /// Auto-exposure time constant, seconds.
    pub exposure_time: f64,
    backdrop: Vec<f32>,
    /// IR reflectance deviation per pixel (night mode).
    material: Vec<f32>,
    rng: Rng,
    gauss: Vec<f32>,
    /// Log of the exposure factor and the time it was last updated.
    exposure: (f64, f64),
    frame: Vec<f32>,
}

impl Scene {
    /// A still scene of `width`×`height` with a backdrop drawn from `seed`, sensor noise 2 levels, an
    /// auto-exposure that takes back 70 % of a change with a 0.7 s time constant, and nothing happening.
    pub fn new(width: usize, height: usize, seed: u64) -> Scene {
        let (width, height) = (width.max(1), height.max(1));
        let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
        let backdrop = backdrop(width, height, &mut rng);
        let material = smooth_field(width, height, 6, &mut rng).into_iter().map(|v| (v - 0.5) * 90.0).collect();
        let gauss = (0..4096).map(|_| rng.gauss()).collect();
        Scene {
            width,
            height,
            noise: 2.0,
            movers: Vec::new(),
            lights: Vec::new(),
            ir: None,
            specks: Vec::new(),
            daylight: None,
            exposure_comp: 0.7,
            exposure_time: 0.7,
            backdrop,
            material,
            rng,
            gauss,
            exposure: (0.0, f64::NEG_INFINITY),
            frame: Vec::new(),
        }
    }

    /// Periods when at least one mover is visible, `[start, end)` in seconds, merged when they overlap;
    /// checked every millisecond up to `duration`.
    pub fn truth(&self, duration: f64) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = Vec::new();
        let mut open: Option<f64> = None;
        let steps = (duration * 1000.0).max(0.0) as u64;
        for ms in 0..=steps {
            let t = ms as f64 / 1000.0;
            let vis = self.movers.iter().any(|m| m.visible(t));
            match (vis, open) {
                (true, None) => open = Some(t),
                (false, Some(s)) => {
                    out.push((s, t));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(s) = open {
            out.push((s, duration));
        }
        out
    }

    /// Renders the frame at `t` seconds into `out` (`width × height` bytes, tightly packed). Times must not
    /// go backwards (the auto-exposure has state).
    pub fn render(&mut self, t: f64, out: &mut Vec<u8>) {
        let (w, h) = (self.width, self.height);
        let n = w * h;
        // Illumination without exposure, then exposure adapting to its mean.
        let day = self.daylight.map_or(1.0, |d| {
            let p = ((t - d.t0) / (d.t1 - d.t0).max(1e-9)).clamp(0.0, 1.0) as f32;
            d.from + (d.to - d.from) * p
        });
        let night = self.ir.filter(|ir| t >= ir.night && t < ir.day);
        self.frame.clear();
        self.frame.extend_from_slice(&self.backdrop);
        if let Some(ir) = night {
            for ((v, &m), i) in self.frame.iter_mut().zip(&self.material).zip(0..) {
                let (x, y) = ((i % w) as f32 / w as f32 - 0.5, (i / w) as f32 / h as f32 - 0.5);
                let vignette = 1.25 - 1.2 * (x * x + y * y);
                *v = ((*v + m - 110.0) * ir.contrast + 110.0 + ir.offset) * vignette;
            }
        }
        for m in &self.movers {
            draw_mover(&mut self.frame, w, h, m, t);
        }
        let mut light = vec![1.0f32; 0];
        if self.lights.iter().any(|l| t >= l.on) {
            light = vec![1.0f32; n];
            for l in &self.lights {
                let level = lamp_level(l, t);
                if level <= 0.0 {
                    continue;
                }
                for (i, f) in light.iter_mut().enumerate() {
                    let (dx, dy) = ((i % w) as f32 / w as f32 - l.centre.0, (i / w) as f32 / h as f32 - l.centre.1);
                    let fall = 1.0 / (1.0 + l.spread * 4.0 * (dx * dx + dy * dy));
                    *f += level * (l.gain - 1.0) * fall;
                }
            }
        }
        let mean_light = if light.is_empty() { 1.0 } else { light.iter().sum::<f32>() / n as f32 };
        let target = -(self.exposure_comp as f64) * f64::from(day * mean_light).ln();
        let (ref mut log_e, ref mut last) = self.exposure;
        if last.is_finite() {
            let a = 1.0 - (-(t - *last).max(0.0) / self.exposure_time.max(1e-3)).exp();
            *log_e += (target - *log_e) * a;
        } else {
            *log_e = target;
        }
        *last = t;
        let gain = day * (*log_e).exp() as f32;
        for (i, v) in self.frame.iter_mut().enumerate() {
            *v *= gain * light.get(i).copied().unwrap_or(1.0);
        }
        for s in &self.specks {
            draw_specks(&mut self.frame, w, h, s, &mut self.rng);
        }
        let sigma = if night.is_some() { self.noise * 2.0 } else { self.noise };
        out.clear();
        out.reserve(n);
        let mut bits = 0u64;
        for (i, &v) in self.frame.iter().enumerate() {
            if i % 5 == 0 {
                bits = self.rng.next();
            }
            let g = self.gauss[(bits & 4095) as usize];
            bits >>= 12;
            out.push((v + g * sigma).round().clamp(0.0, 255.0) as u8);
        }
    }
}

/// How far a lamp is on at `t` (0..1).
fn lamp_level(l: &Light, t: f64) -> f32 {
    if t < l.on || t >= l.off {
        return 0.0;
    }
    if l.ramp <= 0.0 {
        1.0
    } else {
        ((t - l.on) / l.ramp).clamp(0.0, 1.0) as f32
    }
}

/// Draws an ellipse with a fixed 2-pixel checker-ish texture that moves with it.
fn draw_mover(frame: &mut [f32], w: usize, h: usize, m: &Mover, t: f64) {
    let Some((cx, cy)) = m.centre(t) else { return };
    let (rx, ry) = (m.size.0 * w as f64 / 2.0, m.size.1 * h as f64 / 2.0);
    let (cx, cy) = (cx * w as f64, cy * h as f64);
    let y0 = (cy - ry).floor().max(0.0) as usize;
    let y1 = ((cy + ry).ceil().max(0.0) as usize).min(h);
    let x0 = (cx - rx).floor().max(0.0) as usize;
    let x1 = ((cx + rx).ceil().max(0.0) as usize).min(w);
    for y in y0..y1 {
        for x in x0..x1 {
            let (dx, dy) = ((x as f64 + 0.5 - cx) / rx, (y as f64 + 0.5 - cy) / ry);
            if dx * dx + dy * dy > 1.0 {
                continue;
            }
            // Texture in object coordinates: stripes and blotches that travel with it.
            let (u, v) = ((x as f64 + 0.5 - cx) as i64, (y as f64 + 0.5 - cy) as i64);
            let pattern = hash2(u.div_euclid(2), v.div_euclid(2)) - 0.5;
            frame[y * w + x] = m.luma + m.texture * pattern as f32;
        }
    }
}

/// Adds this frame's specks at random places (within the speck area).
fn draw_specks(frame: &mut [f32], w: usize, h: usize, s: &Specks, rng: &mut Rng) {
    let (ax0, ay0, ax1, ay1) = s.area.unwrap_or((0.0, 0.0, 1.0, 1.0));
    let (ax0, ax1) = ((ax0 * w as f32) as usize, ((ax1 * w as f32) as usize).min(w));
    let (ay0, ay1) = ((ay0 * h as f32) as usize, ((ay1 * h as f32) as usize).min(h));
    if ax1 <= ax0 || ay1 <= ay0 {
        return;
    }
    let count = (s.density * ((ax1 - ax0) * (ay1 - ay0)) as f32 / 10_000.0).round() as usize;
    for _ in 0..count {
        let x = ax0 + (rng.next() % (ax1 - ax0) as u64) as usize;
        let y = ay0 + (rng.next() % (ay1 - ay0) as u64) as usize;
        for dy in 0..s.length.max(1) {
            if y + dy < h {
                frame[(y + dy) * w + x] += s.amplitude;
            }
        }
    }
}

/// A yard-like backdrop: smooth shading, a few flat shapes with hard edges, fine static grain.
fn backdrop(w: usize, h: usize, rng: &mut Rng) -> Vec<f32> {
    let smooth = smooth_field(w, h, 4, rng);
    let detail = smooth_field(w, h, 16, rng);
    let mut out: Vec<f32> = smooth
        .iter()
        .zip(&detail)
        .map(|(&s, &d)| 60.0 + 110.0 * s + 30.0 * (d - 0.5) + 20.0 * (rng.unit() - 0.5))
        .collect();
    for _ in 0..6 {
        let (x0, y0) = ((rng.unit() * w as f32) as usize, (rng.unit() * h as f32) as usize);
        let (bw, bh) = ((rng.unit() * w as f32 * 0.3) as usize + 2, (rng.unit() * h as f32 * 0.3) as usize + 2);
        let level = 40.0 + rng.unit() * 160.0;
        for y in y0..(y0 + bh).min(h) {
            for v in &mut out[y * w + x0..y * w + (x0 + bw).min(w)] {
                *v = level + (*v - 115.0) * 0.3;
            }
        }
    }
    out
}

/// Value noise in 0..1 with `cells` cells across the width, bilinear between random lattice values.
fn smooth_field(w: usize, h: usize, cells: usize, rng: &mut Rng) -> Vec<f32> {
    let cw = cells.max(1);
    let ch = (cells * h / w.max(1)).max(1);
    let lattice: Vec<f32> = (0..(cw + 1) * (ch + 1)).map(|_| rng.unit()).collect();
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let fy = y as f32 / h as f32 * ch as f32;
        let (iy, ty) = ((fy as usize).min(ch - 1), fy.fract());
        for x in 0..w {
            let fx = x as f32 / w as f32 * cw as f32;
            let (ix, tx) = ((fx as usize).min(cw - 1), fx.fract());
            let at = |i: usize, j: usize| lattice[j * (cw + 1) + i];
            let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
            let top = at(ix, iy) + (at(ix + 1, iy) - at(ix, iy)) * sx;
            let bottom = at(ix, iy + 1) + (at(ix + 1, iy + 1) - at(ix, iy + 1)) * sx;
            out.push(top + (bottom - top) * sy);
        }
    }
    out
}

/// A stable pseudo-random value in 0..1 for a lattice point.
fn hash2(x: i64, y: i64) -> f64 {
    let mut r = Rng((x as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (y as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f));
    r.next();
    (r.next() >> 11) as f64 / (1u64 << 53) as f64
}

/// splitmix64: small, fast, good enough for pictures.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box–Muller).
    fn gauss(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let (mut a, mut b) = (Scene::new(64, 36, 7), Scene::new(64, 36, 7));
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        a.render(0.0, &mut fa);
        b.render(0.0, &mut fb);
        assert_eq!(fa.len(), 64 * 36);
        assert_eq!(fa, fb);
        let c = Scene::new(64, 36, 8);
        assert_ne!(a.backdrop, c.backdrop);
    }

    #[test]
    fn truth_windows() {
        let mut s = Scene::new(64, 36, 1);
        // Crosses from fully left (x = -0.1) to fully right (1.1) in 12 s: visible while |x - 0.5| < 0.6.
        s.movers.push(Mover {
            t0: 10.0,
            t1: 22.0,
            from: (-0.1, 0.5),
            to: (1.1, 0.5),
            size: (0.2, 0.2),
            luma: 200.0,
            texture: 20.0,
        });
        let tr = s.truth(40.0);
        assert_eq!(tr.len(), 1);
        assert!((tr[0].0 - 10.0).abs() < 0.01 && (tr[0].1 - 22.0).abs() < 0.01, "{tr:?}");
        let mut f = Vec::new();
        s.render(16.0, &mut f);
        let mid = f[18 * 64 + 32];
        assert!(mid > 150, "{mid}");
    }

    #[test]
    fn exposure_takes_back_a_light() {
        let mut s = Scene::new(64, 36, 3);
        s.noise = 0.0;
        s.lights.push(Light { on: 1.0, off: 100.0, gain: 2.0, centre: (0.5, 0.5), spread: 0.0, ramp: 0.0 });
        let mean = |s: &mut Scene, t: f64| {
            let mut f = Vec::new();
            s.render(t, &mut f);
            f.iter().map(|&v| f64::from(v)).sum::<f64>() / f.len() as f64
        };
        let before = mean(&mut s, 0.9);
        let jump = mean(&mut s, 1.0);
        let later = mean(&mut s, 6.0);
        assert!(jump > before * 1.5, "{before} {jump}");
        assert!(later < jump * 0.85 && later > before, "{before} {jump} {later}");
    }
}
