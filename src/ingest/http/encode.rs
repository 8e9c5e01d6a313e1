//! JPEG pictures → H.264 access units: the one place keepwatch encodes video.
//!
//! Why encode at all: the recorder, export, playback and live view all speak H.264 (stored as the camera
//! sent it, never re-encoded); an MJPEG camera becomes an H.264 camera here, once, so nothing downstream
//! needs a second code path, and a day of 640×480 at 1 Mbit/s takes ~10 GB instead of ~50 GB of JPEGs.
//!
//! Each picture is decoded (`kw_codec::jpeg`: straight to YCbCr, brought to 4:2:0 and to the configured
//! size, if any) and encoded (`kw_codec::H264Encoder`) on this dedicated thread (the tokio reactor never
//! waits for it). Key
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
use kw_codec::{EncodedFrame, H264Encoder, RateControl, I420};
use kw_media::{StreamKind, VIDEO_TIMESCALE};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Pictures in a row that fail to decode before the first good one: the camera sends something keepwatch
/// cannot decode (CMYK, lossless or arithmetic-coded JPEG), which the user should read as such rather than
/// as silence.
const UNDECODABLE_AT_START: u64 = 20;

/// Time between key frames.
pub const GOP: Duration = Duration::from_secs(2);
/// Default bit rate for 640×480 at 10 fps; other sizes and rates scale from it (see [`EncodeSettings`]).
pub const DEFAULT_BITRATE: u32 = 1_000_000;
use kw_codec::jpeg::{MAX_PIXELS, MAX_SIDE};

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

/// Decodes and converts one JPEG into `planes` at the configured size; `scratch` holds the interleaved
/// YCbCr between calls.
fn decode(jpeg: &[u8], settings: &EncodeSettings, scratch: &mut Vec<u8>, planes: &mut I420) -> Result<(), String> {
    kw_codec::jpeg::decode_to_i420(jpeg, |w, h| settings.size_for(w, h), scratch, planes).map_err(|e| e.to_string())
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
    enc: H264Encoder,
    width: usize,
    height: usize,
}

fn new_session(settings: &EncodeSettings, width: usize, height: usize) -> Result<Session, String> {
    let fps = settings.fps.unwrap_or(10.0).clamp(0.1, 60.0);
    let s = kw_codec::EncoderSettings {
        fps: fps as f32,
        bitrate: settings.bitrate_for(width, height, fps),
        rate: RateControl::Bitrate,
        // Key frames are forced by arrival time (GOP), not counted in frames: the frame rate varies.
        key_every: 0,
    };
    let enc = H264Encoder::new(&s).map_err(|e| e.to_string())?;
    Ok(Session { enc, width, height })
}

fn encode(s: &mut Session, planes: &I420, at_ms: u64) -> Result<EncodedFrame, String> {
    s.enc.encode(planes, Some(at_ms)).map_err(|e| e.to_string())
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
    still: Option<std::sync::Arc<crate::ingest::still::CameraStill>>,
) {
    let mut session: Option<Session> = None;
    let mut announced = false;
    let mut origin: Option<Instant> = None;
    let mut last_ts: i64 = -1;
    let mut last_key: Option<Instant> = None;
    let mut scratch = Vec::new();
    let mut planes = I420::default();
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
        if let Some(still) = &still {
            still.set_latest(pic.jpeg.clone(), pic.arrival);
        }
        let luma_copy = luma.as_ref().map(|_| planes.y().to_vec());
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
            s.enc.force_key();
        }
        let e = match encode(s, &planes, u64::try_from(since.as_millis()).unwrap_or(u64::MAX)) {
            Ok(e) => e,
            Err(e) => {
                let _ = tx.blocking_send(Err(IngestError::Protocol(e)));
                break;
            }
        };
        if !announced {
            let video = match e.stream_params(w, h) {
                Ok(v) => v,
                Err(err) => {
                    let _ = tx.blocking_send(Err(IngestError::Protocol(err.to_string())));
                    break;
                }
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

    /// A small gray-gradient JPEG of `w`×`h`.
    fn jpeg(w: u32, h: u32, shade: u8) -> Vec<u8> {
        let data = (0..w * h).flat_map(|i| [shade.wrapping_add((i % w * 7 + i / w * 3) as u8); 3]).collect();
        kw_codec::jpeg::encode(&kw_codec::Rgb { width: w, height: h, data }).unwrap()
    }

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
    fn decodes_at_the_configured_size() {
        let j = jpeg(64, 48, 30);
        let mut scratch = Vec::new();
        let mut p = I420::default();
        decode(&j, &EncodeSettings::default(), &mut scratch, &mut p).unwrap();
        assert_eq!((p.width, p.height, p.data.len()), (64, 48, 64 * 48 * 3 / 2));
        let half = EncodeSettings { width: Some(32), height: Some(24), ..Default::default() };
        decode(&j, &half, &mut scratch, &mut p).unwrap();
        assert_eq!((p.width, p.height, p.data.len()), (32, 24, 32 * 24 * 3 / 2));
        assert!(decode(b"\xff\xd8\xff\xe0garbage", &EncodeSettings::default(), &mut scratch, &mut p).is_err());
        // A size derived from an odd aspect ratio stays within the limit.
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
        run("t".into(), EncodeSettings::default(), prx, tx, Some(ltx), None);
        let Some(Ok(SourceEvent::Params { video, .. })) = rx.blocking_recv() else { panic!("no params first") };
        assert_eq!((video.width, video.height, video.codec), (96, 64, kw_media::Codec::H264));
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
                        assert!(kw_media::nal::h264_is_idr(&f.data));
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
