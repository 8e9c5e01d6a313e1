//! The built-in synthetic camera behind `keepwatch demo` and many tests: frames drawn in-process and
//! encoded to H.264 with openh264, fed through the same [`Source`] seam as a real RTSP camera, so a
//! newcomer sees the recorder work with no camera at all.
//!
//! The scene is a still backdrop (a gradient with a few fixed shapes) that a bright object crosses now and
//! then: every `period` seconds it enters at `appear` seconds into the cycle and leaves `visible` seconds
//! later. That gives motion detection something to find and leaves quiet stretches between.
//!
//! With `object=person` the object is a photograph of a person instead of a bright square, so object
//! detection has something to recognise (`demo-person.jpg`: scikit-image's `astronaut()`, a NASA photograph
//! of Eileen Collins, public domain, scaled to 144×144; the same picture as kw-objects' test fixture).
//!
//! URL form: `demo://synthetic?width=640&height=360&fps=10&period=40&appear=20&visible=6&gop=2&object=box`.

use super::{ConnectFuture, IngestError, Source, SourceEvent, SourceFrame, SourceStream};
use bytes::Bytes;
use kw_codec::{EncodedFrame, EncoderSettings, H264Encoder, RateControl, I420};
use kw_media::{StreamKind, StreamParams, VIDEO_TIMESCALE};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticSource {
    pub width: u16,
    pub height: u16,
    pub fps: u32,
    /// Seconds between object appearances.
    pub period: f64,
    /// Seconds into each period when the object enters.
    pub appear: f64,
    /// Seconds the object stays in view.
    pub visible: f64,
    /// Seconds between key frames.
    pub gop: f64,
    /// The object is a photograph of a person (`object=person`) rather than a square (`object=box`).
    pub person: bool,
}

/// The person photograph (see the module docs), decoded once.
fn person_sprite() -> Option<&'static I420> {
    static SPRITE: std::sync::OnceLock<Option<I420>> = std::sync::OnceLock::new();
    SPRITE
        .get_or_init(|| {
            let mut out = I420::default();
            let mut scratch = Vec::new();
            let jpeg = include_bytes!("demo-person.jpg");
            kw_codec::jpeg::decode_to_i420(jpeg, |w, h| (w & !1, h & !1), &mut scratch, &mut out).ok().map(|()| out)
        })
        .as_ref()
}

impl Default for SyntheticSource {
    fn default() -> Self {
        SyntheticSource {
            width: 640,
            height: 360,
            fps: 10,
            period: 40.0,
            appear: 20.0,
            visible: 6.0,
            gop: 2.0,
            person: false,
        }
    }
}

impl SyntheticSource {
    pub fn from_url(url: &url::Url) -> Result<Self, IngestError> {
        let mut s = SyntheticSource::default();
        for (k, v) in url.query_pairs() {
            let num =
                |v: &str| v.parse::<f64>().map_err(|_| IngestError::BadUrl(format!("demo:// {k}={v} is not a number")));
            match k.as_ref() {
                "width" => s.width = num(&v)?.clamp(16.0, 3840.0) as u16 & !1,
                "height" => s.height = num(&v)?.clamp(16.0, 2160.0) as u16 & !1,
                "fps" => s.fps = num(&v)?.clamp(1.0, 60.0) as u32,
                "period" => s.period = num(&v)?.max(1.0),
                "appear" => s.appear = num(&v)?.max(0.0),
                "visible" => s.visible = num(&v)?.max(0.0),
                "gop" => s.gop = num(&v)?.clamp(0.1, 60.0),
                "object" => {
                    s.person = match v.as_ref() {
                        "person" => true,
                        "box" => false,
                        _ => return Err(IngestError::BadUrl(format!("demo:// object={v}: use box or person"))),
                    }
                }
                other => return Err(IngestError::BadUrl(format!("demo:// does not know the parameter {other:?}"))),
            }
        }
        Ok(s)
    }

    /// Where the object is at `t` seconds, as (x, y, size) in pixels, or None when out of view.
    fn object_at(&self, t: f64) -> Option<(i32, i32, i32)> {
        let phase = t % self.period - self.appear;
        if phase < 0.0 || phase >= self.visible || self.visible <= 0.0 {
            return None;
        }
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let size = (h / 5.0).max(4.0);
        let progress = phase / self.visible;
        let x = -size + progress * (w + size);
        let y = h * 0.55 + (progress * std::f64::consts::PI * 2.0).sin() * h * 0.1;
        Some((x as i32, y as i32, size as i32))
    }

    /// Draws frame `n` into an I420 buffer.
    pub fn draw(&self, n: u64, yuv: &mut Vec<u8>) {
        let (w, h) = (usize::from(self.width), usize::from(self.height));
        let (cw, ch) = (w / 2, h / 2);
        yuv.clear();
        yuv.resize(w * h + 2 * cw * ch, 128);
        for y in 0..h {
            for x in 0..w {
                // A calm backdrop: vertical gradient ("sky" to "ground") with a darker "house" block.
                let mut v = 60 + (y * 100 / h.max(1)) as u8;
                if x > w / 8 && x < w / 3 && y > h / 3 && y < h * 3 / 4 {
                    v = 50;
                }
                yuv[y * w + x] = v;
            }
        }
        let t = n as f64 / f64::from(self.fps);
        if let (true, Some((ox, _, _)), Some(sprite)) = (self.person, self.object_at(t), person_sprite()) {
            paste(yuv, (w, h), sprite, ox, h as i32 - sprite.height as i32 - h as i32 / 12);
            return;
        }
        if let Some((ox, oy, size)) = self.object_at(t) {
            for y in oy.max(0)..(oy + size).min(h as i32) {
                for x in ox.max(0)..(ox + size).min(w as i32) {
                    yuv[y as usize * w + x as usize] = 235;
                }
            }
            // Tint the object red-ish in chroma.
            let v_plane = w * h + cw * ch;
            for y in (oy / 2).max(0)..((oy + size) / 2).min(ch as i32) {
                for x in (ox / 2).max(0)..((ox + size) / 2).min(cw as i32) {
                    yuv[v_plane + y as usize * cw + x as usize] = 200;
                }
            }
        }
    }
}

/// Copies `sprite` into the I420 picture `yuv` of size `(w, h)` with its top left at `(x, y)` (even, so
/// the chroma planes line up), clipped to the picture.
fn paste(yuv: &mut [u8], (w, h): (usize, usize), sprite: &I420, x: i32, y: i32) {
    let (x, y) = (x & !1, y & !1);
    let (sw, sh) = (sprite.width as i32, sprite.height as i32);
    let planes = [
        (0usize, 0usize, w, 1i32),
        (w * h, sw as usize * sh as usize, w / 2, 2),
        (w * h + (w / 2) * (h / 2), sw as usize * sh as usize + (sw as usize / 2) * (sh as usize / 2), w / 2, 2),
    ];
    for (dst_off, src_off, dst_stride, div) in planes {
        let (pw, ph) = ((w as i32) / div, (h as i32) / div);
        let (sx0, sy0) = (x / div, y / div);
        let (spw, sph) = (sw / div, sh / div);
        for sy in 0..sph {
            let dy = sy0 + sy;
            if dy < 0 || dy >= ph {
                continue;
            }
            for sx in 0..spw {
                let dx = sx0 + sx;
                if dx < 0 || dx >= pw {
                    continue;
                }
                let src = src_off + (sy * spw + sx) as usize;
                let dst = dst_off + dy as usize * dst_stride + dx as usize;
                if let (Some(&v), true) = (sprite.data.get(src), dst < yuv.len()) {
                    yuv[dst] = v;
                }
            }
        }
    }
}

/// The scene's frames encoded one after the other, as fast as the encoder goes (the camera paces them;
/// tests take them at once).
pub(crate) struct Encoding {
    cfg: SyntheticSource,
    enc: H264Encoder,
    gop_frames: u32,
    n: u64,
    picture: I420,
    params: Option<StreamParams>,
}

impl Encoding {
    pub fn new(cfg: &SyntheticSource) -> Result<Encoding, String> {
        let gop_frames = ((cfg.gop * f64::from(cfg.fps)).round() as u32).max(1);
        let settings = EncoderSettings {
            fps: cfg.fps as f32,
            bitrate: u32::from(cfg.width) * u32::from(cfg.height) * cfg.fps / 8,
            rate: RateControl::Quality,
            key_every: gop_frames,
        };
        let enc = H264Encoder::new(&settings).map_err(|e| e.to_string())?;
        Ok(Encoding { cfg: cfg.clone(), enc, gop_frames, n: 0, picture: I420::default(), params: None })
    }

    /// The stream's parameters (known after the first frame).
    pub fn params(&self) -> Option<&StreamParams> {
        self.params.as_ref()
    }

    /// Frame number `n` (counting from 0), encoded; `n` is also its position in time (`n / fps` s).
    pub fn next_frame(&mut self) -> Result<(u64, EncodedFrame), String> {
        let n = self.n;
        self.n += 1;
        if n > 0 && n.is_multiple_of(u64::from(self.gop_frames)) {
            self.enc.force_key();
        }
        self.cfg.draw(n, &mut self.picture.data);
        (self.picture.width, self.picture.height) = (usize::from(self.cfg.width), usize::from(self.cfg.height));
        let e = self.enc.encode(&self.picture, None).map_err(|e| e.to_string())?;
        if self.params.is_none() {
            let params = e.stream_params(self.picture.width, self.picture.height).map_err(|e| e.to_string())?;
            self.params = Some(params);
        }
        Ok((n, e))
    }
}

impl Source for SyntheticSource {
    fn connect(&self) -> ConnectFuture<'_> {
        let cfg = self.clone();
        Box::pin(async move {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<SourceEvent, IngestError>>(64);
            std::thread::Builder::new()
                .name("synthetic-camera".into())
                .spawn(move || run_encoder(cfg, tx))
                .map_err(|e| IngestError::Protocol(format!("cannot start the synthetic camera: {e}")))?;
            let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|ev| (ev, rx)) });
            Ok(Box::pin(stream) as SourceStream)
        })
    }
}

/// The camera's thread: encodes frame after frame in real time until the session is dropped.
fn run_encoder(cfg: SyntheticSource, tx: tokio::sync::mpsc::Sender<Result<SourceEvent, IngestError>>) {
    let fail = |tx: &tokio::sync::mpsc::Sender<_>, e: String| {
        let _ = tx.blocking_send(Err(IngestError::Protocol(e)));
    };
    let mut enc = match Encoding::new(&cfg) {
        Ok(e) => e,
        Err(e) => return fail(&tx, e),
    };
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(cfg.fps));
    let ticks = i64::from(VIDEO_TIMESCALE) / i64::from(cfg.fps);
    let mut announced = false;
    loop {
        let due = start + interval * u32::try_from(enc.n).unwrap_or(u32::MAX);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let (n, e) = match enc.next_frame() {
            Ok(f) => f,
            Err(e) => return fail(&tx, e),
        };
        if !announced {
            let Some(video) = enc.params().cloned() else { return };
            if tx.blocking_send(Ok(SourceEvent::Params { video, audio: None })).is_err() {
                return;
            }
            announced = true;
        }
        if e.avc.is_empty() {
            continue;
        }
        let frame = SourceFrame {
            stream: StreamKind::Video,
            ts: n as i64 * ticks,
            clock_rate: VIDEO_TIMESCALE,
            key: e.key,
            loss: false,
            data: Bytes::from(e.avc),
            arrival: Instant::now(),
        };
        if tx.blocking_send(Ok(SourceEvent::Frame(frame))).is_err() {
            return; // the session was dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn url_parameters() {
        let u = url::Url::parse("demo://synthetic?width=320&height=240&fps=25").unwrap();
        let s = SyntheticSource::from_url(&u).unwrap();
        assert_eq!((s.width, s.height, s.fps), (320, 240, 25));
        let u = url::Url::parse("demo://synthetic?object=person").unwrap();
        assert!(SyntheticSource::from_url(&u).unwrap().person);
        assert!(SyntheticSource::from_url(&url::Url::parse("demo://synthetic?object=ufo").unwrap()).is_err());
        let bad = url::Url::parse("demo://synthetic?colour=red").unwrap();
        assert!(SyntheticSource::from_url(&bad).is_err());
    }

    #[test]
    fn object_comes_and_goes() {
        let s = SyntheticSource::default();
        assert!(s.object_at(5.0).is_none());
        assert!(s.object_at(21.0).is_some());
        assert!(s.object_at(27.0).is_none());
        assert!(s.object_at(61.0).is_some());
    }

    #[test]
    fn the_person_is_drawn_where_the_object_is() {
        let sprite = person_sprite().expect("the shipped picture decodes");
        assert_eq!((sprite.width, sprite.height), (144, 144));
        let s = SyntheticSource { person: true, ..Default::default() };
        let (mut quiet, mut busy) = (Vec::new(), Vec::new());
        s.draw(0, &mut quiet);
        s.draw(23 * 10, &mut busy); // 23 s: in view
        assert_eq!(quiet.len(), busy.len());
        assert!(quiet.iter().zip(&busy).filter(|(a, b)| a != b).count() > 144 * 100);
    }

    #[tokio::test]
    async fn produces_h264_with_key_frames() {
        let s = SyntheticSource { width: 160, height: 96, fps: 50, gop: 0.2, ..Default::default() };
        let mut stream = s.connect().await.unwrap();
        let Some(Ok(SourceEvent::Params { video, .. })) = stream.next().await else { panic!("no params") };
        assert_eq!((video.width, video.height), (160, 96));
        assert!(video.rfc6381.starts_with("avc1."));
        let mut keys = 0;
        for i in 0..25 {
            let Some(Ok(SourceEvent::Frame(f))) = stream.next().await else { panic!("no frame") };
            assert_eq!(f.ts, i * 1800);
            if f.key {
                keys += 1;
                assert!(kw_media::nal::h264_is_idr(&f.data));
            }
        }
        assert!(keys >= 2, "{keys} key frames");
    }
}
