//! JPEG pictures → H.264 access units: the one place keepwatch encodes video.
//!
//! Why encode at all: the recorder, export, playback and live view all speak H.264 (stored as the camera
//! sent it, never re-encoded); an MJPEG camera becomes an H.264 camera here, once, so nothing downstream
//! needs a second code path, and a day of 640×480 at 1 Mbit/s takes ~10 GB instead of ~50 GB of JPEGs.
//!
//! Each picture is decoded with `zune-jpeg` straight to YCbCr, brought to 4:2:0 (and to the configured size,
//! if any), and encoded with openh264 on this dedicated thread (the tokio reactor never waits for it). Key
//! frames come every [`GOP`] of *arrival* time, whatever the frame rate. Timestamps are arrival times on a
//! 90 kHz clock, strictly increasing: an MJPEG part carries no timestamp of its own.
//!
//! Rate control is openh264's bit-rate mode *without* frame skipping: a recorder must keep every picture, so
//! the rate is steered through the quantizer only (openh264 warns once per encoder that it cannot then
//! guarantee the rate; in practice it stays close).
//!
//! Because the picture is decoded here anyway, its luma plane is handed to the motion pipeline on a side
//! channel ([`crate::ingest::LumaSender`]) so motion detection needs no second (H.264) decode.

use super::super::{IngestError, LumaEvent, LumaFrame, LumaSender, SourceEvent, SourceFrame};
use bytes::Bytes;
use kw_media::{nal, Codec, StreamKind, StreamParams, VIDEO_TIMESCALE};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
};
use openh264::formats::YUVSource;
use openh264::{OpenH264API, Timestamp};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// Pictures in a row that fail to decode before the first good one: the camera sends something keepwatch
/// cannot decode (CMYK, lossless or arithmetic-coded JPEG), which the user should read as such rather than
/// as silence.
const UNDECODABLE_AT_START: u64 = 20;

/// Time between key frames.
pub const GOP: Duration = Duration::from_secs(2);
/// Default bit rate for 640×480 at 10 fps; other sizes and rates scale from it (see [`EncodeSettings`]).
pub const DEFAULT_BITRATE: u32 = 1_000_000;
/// Largest picture side accepted from a camera.
const MAX_SIDE: usize = 8192;
/// Most pixels accepted from a camera: H.264 level 5.1/5.2's largest frame (36 864 macroblocks, e.g.
/// 4096×2304). A JPEG header is a few bytes that may claim anything up to 65535×65535; this bounds what one
/// picture costs before a byte of it is decoded: ≤ 28 MiB of interleaved YCbCr plus ≤ 14 MiB of I420.
pub const MAX_PIXELS: usize = 36_864 * 256;

/// `[cameras.encode]`, as ingest uses it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EncodeSettings {
    /// Frames per second: the polling rate for snapshot cameras (default 10) and the cap for MJPEG
    /// streams (default none: the arrival rate).
    pub fps: Option<f64>,
    /// Bits per second; default [`DEFAULT_BITRATE`] scaled by pixels and frame rate, 150 kbit/s–8 Mbit/s.
    pub bitrate: Option<u32>,
    /// Output size; default the camera's own. One alone keeps the aspect ratio.
    pub width: Option<u16>,
    pub height: Option<u16>,
}

impl EncodeSettings {
    /// The bit rate for a `w`×`h` stream at `fps`.
    pub fn bitrate_for(&self, w: usize, h: usize, fps: f64) -> u32 {
        if let Some(b) = self.bitrate {
            return b;
        }
        let scale = (w * h) as f64 / (640.0 * 480.0) * (fps / 10.0).clamp(0.5, 3.0);
        (f64::from(DEFAULT_BITRATE) * scale.sqrt().max(scale.min(1.0))).clamp(150_000.0, 8_000_000.0) as u32
    }

    /// The output size for a camera picture of `w`×`h`: even, at least 16×16.
    pub fn size_for(&self, w: usize, h: usize) -> (usize, usize) {
        let (tw, th) = match (self.width.map(usize::from), self.height.map(usize::from)) {
            (Some(tw), Some(th)) => (tw, th),
            // The derived side also keeps the picture within MAX_PIXELS (a camera's odd aspect ratio
            // must not make a 4096-wide output 8192 high).
            (Some(tw), None) => (tw, (h * tw).checked_div(w).unwrap_or(h).min(MAX_PIXELS / tw.max(16))),
            (None, Some(th)) => ((w * th).checked_div(h).unwrap_or(w).min(MAX_PIXELS / th.max(16)), th),
            (None, None) => (w, h),
        };
        (tw.clamp(16, MAX_SIDE) & !1, th.clamp(16, MAX_SIDE) & !1)
    }
}

/// One JPEG as it arrived.
pub struct Picture {
    pub jpeg: Bytes,
    pub arrival: Instant,
}

/// A decoded picture in planar 4:2:0 at the output size; one per session, reused for every picture.
#[derive(Default)]
struct Planes {
    width: usize,
    height: usize,
    /// Y, then U, then V (I420), as openh264 wants them.
    i420: Vec<u8>,
}

impl YUVSource for Planes {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }
    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.width / 2, self.width / 2)
    }
    fn y(&self) -> &[u8] {
        &self.i420[..self.width * self.height]
    }
    fn u(&self) -> &[u8] {
        let (l, c) = (self.width * self.height, (self.width / 2) * (self.height / 2));
        &self.i420[l..l + c]
    }
    fn v(&self) -> &[u8] {
        let (l, c) = (self.width * self.height, (self.width / 2) * (self.height / 2));
        &self.i420[l + c..l + 2 * c]
    }
}

/// Decodes and converts one JPEG into `planes`; `scratch` holds the interleaved YCbCr between calls.
fn decode(jpeg: &[u8], settings: &EncodeSettings, scratch: &mut Vec<u8>, planes: &mut Planes) -> Result<(), String> {
    let opts = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::YCbCr)
        .set_strict_mode(false)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE);
    let mut d = JpegDecoder::new_with_options(ZCursor::new(jpeg), opts);
    d.decode_headers().map_err(|e| format!("{e:?}"))?;
    let (w, h) = d.dimensions().ok_or("no picture size")?;
    // Checked before anything is allocated for the picture (the header alone decides the sizes below).
    if w < 2 || h < 2 || w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS {
        return Err(format!("picture size {w}x{h} out of range"));
    }
    let gray = matches!(d.input_colorspace(), Some(ColorSpace::Luma | ColorSpace::LumaA));
    if gray {
        d.set_options(opts.jpeg_set_out_colorspace(ColorSpace::Luma));
    }
    let size = d.output_buffer_size().ok_or("no picture size")?;
    scratch.resize(size, 0);
    d.decode_into(scratch).map_err(|e| format!("{e:?}"))?;
    let comps = if gray { 1 } else { 3 };
    if scratch.len() < w * h * comps {
        // The slicing below relies on it; the decoder has never said otherwise, but a camera's bytes decide.
        return Err(format!("the decoder gave {} bytes for {w}x{h}", scratch.len()));
    }
    let (tw, th) = settings.size_for(w, h);
    let (cw, ch) = (tw / 2, th / 2);
    planes.width = tw;
    planes.height = th;
    planes.i420.resize(tw * th + 2 * cw * ch, 128);
    let i420 = &mut planes.i420;
    if gray {
        i420[tw * th..].fill(128);
    }
    if tw <= w && th <= h && tw + 1 >= w && th + 1 >= h {
        // The camera's own size (an odd last row or column dropped): a straight de-interleave.
        deinterleave(scratch, w, comps, tw, th, i420);
        return Ok(());
    }
    // Nearest-neighbour mapping from output to source (identity when the size is the camera's, minus an odd
    // last row or column).
    let xs: Vec<usize> = (0..tw).map(|x| (x * w / tw).min(w - 1) * comps).collect();
    let (y_plane, uv) = i420.split_at_mut(tw * th);
    for (ty, row) in y_plane.chunks_exact_mut(tw).enumerate() {
        let sy = (ty * h / th).min(h - 1);
        let src = &scratch[sy * w * comps..(sy + 1) * w * comps];
        for (dst, &sx) in row.iter_mut().zip(&xs) {
            *dst = src[sx];
        }
    }
    if !gray {
        let (u_plane, v_plane) = uv.split_at_mut(cw * ch);
        for cy in 0..ch {
            let sy = ((cy * 2) * h / th).min(h - 1);
            let src = &scratch[sy * w * 3..(sy + 1) * w * 3];
            let (urow, vrow) = (&mut u_plane[cy * cw..(cy + 1) * cw], &mut v_plane[cy * cw..(cy + 1) * cw]);
            for cx in 0..cw {
                // The sample at the 2×2 block's top left: the JPEG's own chroma was upsampled from one
                // sample per block in the usual 4:2:0 case, so this recovers it.
                let sx = xs[cx * 2];
                urow[cx] = src[sx + 1];
                vrow[cx] = src[sx + 2];
            }
        }
    }
    Ok(())
}

/// Interleaved YCbCr (or gray) rows of `src_w` pixels → I420 of `tw`×`th` taken from the top left: luma
/// as is, chroma from each 2×2 block's top-left sample (the JPEG's own 4:2:0 chroma, which the decoder
/// upsampled by repeating it).
fn deinterleave(src: &[u8], src_w: usize, comps: usize, tw: usize, th: usize, i420: &mut [u8]) {
    let (cw, ch) = (tw / 2, th / 2);
    let (y_plane, uv) = i420.split_at_mut(tw * th);
    let stride = src_w * comps;
    for (row, dst) in y_plane.chunks_exact_mut(tw).enumerate() {
        let line = &src[row * stride..row * stride + tw * comps];
        if comps == 3 {
            // A constant step lets the compiler unroll and vectorise: this loop is a tenth of the work.
            for (d, px) in dst.iter_mut().zip(line.chunks_exact(3)) {
                *d = px[0];
            }
        } else {
            dst.copy_from_slice(&line[..tw]);
        }
    }
    if comps < 3 {
        return;
    }
    let (u_plane, v_plane) = uv.split_at_mut(cw * ch);
    for cy in 0..ch {
        let line = &src[cy * 2 * stride..cy * 2 * stride + cw * 6];
        let (urow, vrow) = (&mut u_plane[cy * cw..(cy + 1) * cw], &mut v_plane[cy * cw..(cy + 1) * cw]);
        for ((u, v), px) in urow.iter_mut().zip(vrow.iter_mut()).zip(line.chunks_exact(6)) {
            *u = px[1];
            *v = px[2];
        }
    }
}

/// Logs malformed pictures once per burst: the first of a run at WARN, the count when it ends.
#[derive(Default)]
pub struct BurstLog {
    /// Malformed ones in a row.
    pub count: u64,
}

impl BurstLog {
    pub fn bad(&mut self, source: &str, what: &str, why: &str) {
        self.count += 1;
        if self.count == 1 {
            tracing::warn!(url = %source, "skipping a malformed {what}: {why} (further ones are counted)");
        }
    }
    pub fn good(&mut self, source: &str, what: &str) {
        if self.count > 1 {
            tracing::warn!(url = %source, "skipped {} malformed {what}s in a row", self.count);
        }
        self.count = 0;
    }
}

struct Session {
    enc: Encoder,
    width: usize,
    height: usize,
}

fn new_session(settings: &EncodeSettings, width: usize, height: usize) -> Result<Session, String> {
    let fps = settings.fps.unwrap_or(10.0).clamp(0.1, 60.0);
    let config = EncoderConfig::new()
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .bitrate(BitRate::from_bps(settings.bitrate_for(width, height, fps)))
        .rate_control_mode(RateControlMode::Bitrate)
        .complexity(Complexity::Low)
        // Pre-analysis passes (scene cuts, background, adaptive quantization) cost a fifth of the encoder's
        // time and buy little for a fixed camera: key frames come by the clock anyway.
        .scene_change_detect(false)
        .background_detection(false)
        .adaptive_quantization(false)
        // Key frames are forced by arrival time (GOP), not counted in frames: the frame rate varies.
        .intra_frame_period(IntraFramePeriod::from_num_frames(0))
        .skip_frames(false);
    let enc = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| format!("openh264: {e}"))?;
    Ok(Session { enc, width, height })
}

/// Access unit in MP4 form (length-prefixed) plus the parameter sets openh264 put in front of it.
struct Encoded {
    key: bool,
    avc: Vec<u8>,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

fn encode(s: &mut Session, planes: &Planes, at_ms: u64) -> Result<Encoded, String> {
    let bs = s.enc.encode_at(planes, Timestamp::from_millis(at_ms)).map_err(|e| format!("openh264: {e}"))?;
    let key = matches!(bs.frame_type(), FrameType::IDR);
    let nal::H264Split { avc, sps, pps } =
        nal::split_h264_annexb(&bs.to_vec()).map_err(|e| format!("openh264: {e}"))?;
    Ok(Encoded { key, avc, sps, pps })
}

/// Wall-clock µs of an arrival instant.
fn wall_of(arrival: Instant) -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let ago = Instant::now().saturating_duration_since(arrival);
    i64::try_from(now.saturating_sub(ago).as_micros()).unwrap_or(i64::MAX)
}

/// The encoder thread of one camera session: pictures (or the fetcher's error) in, source events out.
/// Ends when either side goes away; tells the motion pipeline the stream stopped.
pub fn run(
    camera: String,
    settings: EncodeSettings,
    mut rx: mpsc::Receiver<Result<Picture, IngestError>>,
    tx: mpsc::Sender<Result<SourceEvent, IngestError>>,
    luma: Option<LumaSender>,
) {
    let mut session: Option<Session> = None;
    let mut announced = false;
    let mut origin: Option<Instant> = None;
    let mut last_ts: i64 = -1;
    let mut last_key: Option<Instant> = None;
    let mut scratch = Vec::new();
    let mut planes = Planes::default();
    let mut burst = BurstLog::default();
    while let Some(item) = rx.blocking_recv() {
        let pic = match item {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                break;
            }
        };
        match decode(&pic.jpeg, &settings, &mut scratch, &mut planes) {
            Ok(()) => {}
            Err(why) => {
                burst.bad(&camera, "JPEG picture", &why);
                if session.is_none() && burst.count >= UNDECODABLE_AT_START {
                    let e = IngestError::Unsupported(format!("the camera's JPEG pictures cannot be decoded: {why}"));
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
                continue;
            }
        };
        burst.good(&camera, "JPEG picture");
        let luma_copy = luma.as_ref().map(|_| planes.i420[..planes.width * planes.height].to_vec());
        let (w, h) = (planes.width, planes.height);
        if session.as_ref().is_none_or(|s| (s.width, s.height) != (w, h)) {
            if session.is_some() {
                tracing::info!(url = %camera, "picture size changed to {w}x{h}");
            }
            match new_session(&settings, w, h) {
                Ok(s) => session = Some(s),
                Err(e) => {
                    let _ = tx.blocking_send(Err(IngestError::Protocol(e)));
                    break;
                }
            }
            announced = false;
            last_key = None;
        }
        let Some(s) = session.as_mut() else { break };
        let origin = *origin.get_or_insert(pic.arrival);
        let since = pic.arrival.saturating_duration_since(origin);
        let ts = i64::try_from(since.as_micros() * u128::from(VIDEO_TIMESCALE) / 1_000_000)
            .unwrap_or(i64::MAX)
            .max(last_ts + 1);
        if last_key.is_some_and(|k| pic.arrival.saturating_duration_since(k) >= GOP) {
            s.enc.force_intra_frame();
        }
        let e = match encode(s, &planes, u64::try_from(since.as_millis()).unwrap_or(u64::MAX)) {
            Ok(e) => e,
            Err(e) => {
                let _ = tx.blocking_send(Err(IngestError::Protocol(e)));
                break;
            }
        };
        if !announced {
            let (Some(sps), Some(pps)) = (&e.sps, &e.pps) else {
                let _ = tx.blocking_send(Err(IngestError::Protocol("openh264 gave no SPS/PPS".into())));
                break;
            };
            let Some(extra) = nal::avcc_from_sps_pps(sps, pps) else {
                let _ = tx.blocking_send(Err(IngestError::Protocol("openh264 gave a malformed SPS".into())));
                break;
            };
            let video = StreamParams {
                codec: Codec::H264,
                timescale: VIDEO_TIMESCALE,
                width: u16::try_from(w).unwrap_or(u16::MAX),
                height: u16::try_from(h).unwrap_or(u16::MAX),
                sample_rate: 0,
                channels: 0,
                extra,
                rfc6381: nal::h264_rfc6381(sps),
            };
            if tx.blocking_send(Ok(SourceEvent::Params { video, audio: None })).is_err() {
                break;
            }
            announced = true;
        }
        if e.key {
            last_key = Some(pic.arrival);
        }
        if e.avc.is_empty() {
            continue;
        }
        last_ts = ts;
        let frame = SourceFrame {
            stream: StreamKind::Video,
            ts,
            clock_rate: VIDEO_TIMESCALE,
            key: e.key,
            loss: false,
            data: Bytes::from(e.avc),
            arrival: pic.arrival,
        };
        if tx.blocking_send(Ok(SourceEvent::Frame(frame))).is_err() {
            break; // the session was dropped
        }
        if let (Some(l), Some(y)) = (&luma, luma_copy) {
            let f = LumaFrame { wall: wall_of(pic.arrival), width: w, height: h, y, jpeg: Some(pic.jpeg) };
            // Motion behind: it misses this picture rather than holding up recording.
            let _ = l.try_send(LumaEvent::Frame(f));
        }
    }
    if let Some(l) = &luma {
        let _ = l.send(LumaEvent::Stopped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::http::multipart::tests::jpeg;

    #[test]
    fn sizes_and_bitrates() {
        let s = EncodeSettings::default();
        assert_eq!(s.size_for(640, 480), (640, 480));
        assert_eq!(s.size_for(641, 481), (640, 480));
        let half = EncodeSettings { width: Some(320), ..Default::default() };
        assert_eq!(half.size_for(640, 480), (320, 240));
        assert_eq!(s.bitrate_for(640, 480, 10.0), DEFAULT_BITRATE);
        assert!(s.bitrate_for(1920, 1080, 10.0) > DEFAULT_BITRATE);
        assert!(s.bitrate_for(320, 240, 10.0) < DEFAULT_BITRATE);
        assert_eq!(EncodeSettings { bitrate: Some(5), ..s }.bitrate_for(1, 1, 1.0), 5);
    }

    #[test]
    fn deinterleave_takes_luma_and_block_chroma() {
        // 4x2 pixels of (Y, Cb, Cr) = (10x+y, 100+x, 200+x).
        let src: Vec<u8> = (0..2u8).flat_map(|y| (0..4u8).flat_map(move |x| [10 * x + y, 100 + x, 200 + x])).collect();
        let mut out = vec![0; 4 * 2 + 2 * 2];
        deinterleave(&src, 4, 3, 4, 2, &mut out);
        assert_eq!(out, [0, 10, 20, 30, 1, 11, 21, 31, 100, 102, 200, 202]);
    }

    #[test]
    fn decodes_to_i420_and_rejects_garbage() {
        let j = jpeg(64, 48, 30);
        let mut scratch = Vec::new();
        let mut p = Planes::default();
        decode(&j, &EncodeSettings::default(), &mut scratch, &mut p).unwrap();
        assert_eq!((p.width, p.height, p.i420.len()), (64, 48, 64 * 48 * 3 / 2));
        let half = EncodeSettings { width: Some(32), height: Some(24), ..Default::default() };
        decode(&j, &half, &mut scratch, &mut p).unwrap();
        assert_eq!((p.width, p.height, p.i420.len()), (32, 24, 32 * 24 * 3 / 2));
        assert_eq!((p.y().len(), p.u().len(), p.v().len()), (32 * 24, 16 * 12, 16 * 12));
        assert!(decode(b"\xff\xd8\xff\xe0garbage", &EncodeSettings::default(), &mut scratch, &mut p).is_err());
        // A truncated picture: an error or a partial picture, never a panic.
        let _ = decode(&j[..j.len() / 3], &EncodeSettings::default(), &mut scratch, &mut p);
    }

    /// A few hundred bytes whose header claims a huge picture are refused before any allocation for it.
    #[test]
    fn huge_claimed_sizes_are_refused_before_decoding() {
        let j = jpeg(16, 16, 9);
        let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline JPEG");
        for (w, h) in [(65535u16, 65535u16), (8000, 8000), (8192, 1200), (1, 4000)] {
            let mut big = j.clone();
            big[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
            big[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
            let mut scratch = Vec::new();
            let mut p = Planes::default();
            let r = decode(&big, &EncodeSettings::default(), &mut scratch, &mut p);
            assert!(r.is_err(), "{w}x{h} accepted");
            assert!(scratch.capacity() == 0 && p.i420.capacity() == 0, "{w}x{h}: memory taken before refusing");
        }
        // A size derived from an odd aspect ratio stays within the limit too.
        let wide = EncodeSettings { width: Some(4096), ..Default::default() };
        let (tw, th) = wide.size_for(2, 4608);
        assert!(tw * th <= MAX_PIXELS, "{tw}x{th}");
    }

    #[test]
    fn pictures_become_h264_with_params_first_and_increasing_times() {
        let (ptx, prx) = mpsc::channel(64);
        let (tx, mut rx) = mpsc::channel(64);
        let t0 = Instant::now();
        for i in 0..30u32 {
            let jpeg = Bytes::from(jpeg(96, 64, (i * 8) as u8));
            // Two pictures with the same arrival: times must still increase.
            let arrival = t0 + Duration::from_millis(u64::from(i / 2 * 2) * 100);
            ptx.try_send(Ok(Picture { jpeg, arrival })).unwrap();
        }
        ptx.try_send(Ok(Picture { jpeg: Bytes::from_static(b"not a jpeg"), arrival: t0 })).unwrap();
        ptx.try_send(Err(IngestError::Ended)).unwrap();
        drop(ptx);
        let (ltx, lrx) = std::sync::mpsc::sync_channel(64);
        run("t".into(), EncodeSettings::default(), prx, tx, Some(ltx));
        let Some(Ok(SourceEvent::Params { video, .. })) = rx.blocking_recv() else { panic!("no params first") };
        assert_eq!((video.width, video.height, video.codec), (96, 64, Codec::H264));
        let mut last = -1;
        let mut keys = 0;
        let mut frames = 0;
        loop {
            match rx.blocking_recv() {
                Some(Ok(SourceEvent::Frame(f))) => {
                    assert!(f.ts > last, "{} after {last}", f.ts);
                    last = f.ts;
                    frames += 1;
                    if f.key {
                        keys += 1;
                        assert!(nal::h264_is_idr(&f.data));
                    }
                }
                Some(Err(IngestError::Ended)) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(frames, 30);
        // 2.8 s of arrival time: key frames at 0 and after 2 s.
        assert_eq!(keys, 2);
        let mut lumas = 0;
        while let Ok(ev) = lrx.try_recv() {
            if let LumaEvent::Frame(f) = ev {
                assert_eq!(f.y.len(), 96 * 64);
                lumas += 1;
            }
        }
        assert_eq!(lumas, 30);
    }
}
