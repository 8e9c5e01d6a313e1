//! Snapshots: one JPEG of what a camera showed at a moment, from the recordings or from the live hub.
//!
//! Why it is built this way: recording never decodes (see ARCHITECTURE.md), so a snapshot is the one
//! place keepwatch decodes video, and it does so only on request, off the async runtime (the HTTP layer
//! calls these functions from `spawn_blocking`). A picture in the middle of a GOP depends on every frame
//! since its key frame, so [`at_time`] and [`latest`] both come down to the same core,
//! [`jpeg_from_frames`]: decode from the key frame at or before the wanted frame up to that frame, and
//! encode the last picture as JPEG. Nothing after the wanted frame is decoded, and at most
//! [`MAX_DECODE_FRAMES`] frames are (a GOP longer than that shows the picture that many frames after its
//! key frame, earlier than asked), so the cost of one snapshot is bounded whatever the camera sends.
//!
//! The decoding itself is `kw_codec`'s (openh264). There is no H.265 decoder in keepwatch; an H.265
//! camera gets [`SnapshotError::NoDecoder`], which tells the user to set an H.264 `sub_url` (most
//! cameras offer one as their second stream). A frame whose length prefixes do not add up is a
//! [`SnapshotError::Decode`], never a panic or a silently shortened frame.
//!
//! Timing rule: [`at_time`] shows the last video frame presented at or before the asked wall time, and
//! only where a finished segment covers that time (a gap, or the segment still being written, is
//! [`SnapshotError::NothingRecorded`]; for "now" use [`latest`], the picture presented last). With
//! B-frames the frames are decoded in decode order up to the chosen frame, and the chosen frame's own
//! picture is shown: kw-codec tags every picture with its frame, whatever order the decoder answers in.

use crate::hub::Hub;
use kw_codec::CodecError;
use kw_media::{Codec, Frame, RunInfo, StreamKind, StreamParams, WallMicros};
use kw_store::{FrameEntry, SegmentRow, Store, StoreError};
use std::sync::Arc;

pub use kw_codec::MAX_DECODE_FRAMES;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// No video frame at or before that time, or the camera is not streaming.
    #[error("no picture of camera {camera:?}: nothing was recorded at that time, or the camera is not streaming")]
    NothingRecorded { camera: String },
    /// The stream's codec cannot be decoded here (H.265).
    #[error("{}", no_decoder_message(camera, codec))]
    NoDecoder { camera: String, codec: String },
    /// The frames could not be decoded (corrupt data) or the picture not encoded.
    #[error("cannot decode the video for a snapshot: {0}")]
    Decode(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn no_decoder_message(camera: &str, codec: &str) -> String {
    let who = if camera.is_empty() { "the stream".to_owned() } else { format!("camera {camera:?}") };
    format!(
        "{who} sends {codec} video, and keepwatch has no {codec} decoder (it records {codec} as sent but \
         decodes only H.264), so it cannot take a snapshot; set the camera's sub_url to an H.264 stream \
         (most cameras offer one as their second stream) to get snapshots"
    )
}

/// `NoDecoder` unless the stream is H.264.
fn check_codec(camera: &str, params: &StreamParams) -> Result<(), SnapshotError> {
    if params.codec == Codec::H264 {
        return Ok(());
    }
    Err(SnapshotError::NoDecoder { camera: camera.to_owned(), codec: kw_codec::codec_name(params.codec).to_owned() })
}

/// The chosen frame of one segment: the video frame presented last at or before the asked time.
struct Choice {
    wall: WallMicros,
    seg: SegmentRow,
    run: RunInfo,
    frames: Vec<FrameEntry>,
    /// Index into `frames` of the chosen frame.
    target: usize,
}

/// JPEG of the picture at wall time `at`: the last video frame presented at or before `at`, decoded from
/// the key frame at or before it. Only a finished segment that covers `at` counts (see the module doc).
pub fn at_time(store: &Store, camera: &str, at: WallMicros) -> Result<Vec<u8>, SnapshotError> {
    let nothing = || SnapshotError::NothingRecorded { camera: camera.to_owned() };
    // Usually one segment covers `at`; after a wall-clock step two runs may overlap, and the frame
    // presented last at or before `at` wins (on a tie, the later segment).
    let mut best: Option<Choice> = None;
    for seg in store.segments(camera, at, at.saturating_add(1))? {
        let run = store.run_info(seg.run_id)?;
        let frames = store.frames(&seg)?;
        let pick = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.stream == StreamKind::Video)
            .map(|(i, f)| (run.video_wall(f.pts), i))
            .filter(|&(wall, _)| wall <= at)
            .max();
        if let Some((wall, target)) = pick {
            if best.as_ref().is_none_or(|b| wall >= b.wall) {
                best = Some(Choice { wall, seg, run, frames, target });
            }
        }
    }
    let Some(c) = best else { return Err(nothing()) };
    check_codec(camera, &c.run.video)?;
    // The recorder starts every segment at a key frame and resumes after a loss at one, so the key
    // frame is in the same segment; a segment without one before the target has no decodable picture.
    let Some(key) = c.frames[..=c.target].iter().rposition(|f| f.stream == StreamKind::Video && f.key) else {
        tracing::debug!(camera, segment = c.seg.id, "no key frame before the snapshot frame");
        return Err(nothing());
    };
    let mut entries: Vec<&FrameEntry> =
        c.frames[key..=c.target].iter().filter(|f| f.stream == StreamKind::Video).collect();
    if entries.len() > MAX_DECODE_FRAMES {
        tracing::debug!(camera, frames = entries.len(), "long GOP: the snapshot shows an earlier frame");
        entries.truncate(MAX_DECODE_FRAMES);
    }
    let reader = store.open_data(&c.seg)?;
    let mut data = Vec::with_capacity(entries.len());
    for e in entries {
        let bytes =
            e.read(&*reader).map_err(|source| StoreError::Io { path: store.segment_location(&c.seg.key()), source })?;
        data.push(bytes);
    }
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    jpeg_from_frames(&c.run.video, &refs)
}

/// JPEG of the newest frame the camera's hub holds: its current GOP decoded from the key frame on.
pub fn latest(camera: &str, hub: &Hub) -> Result<Vec<u8>, SnapshotError> {
    let Some((run, mut frames)) = hub.current_gop() else {
        return Err(SnapshotError::NothingRecorded { camera: camera.to_owned() });
    };
    check_codec(camera, &run.video)?;
    // The newest picture is the one presented last; with B-frames that is not the last frame received (the
    // B-frames after a P-frame in decode order are shown before it), so decode up to it and no further.
    if let Some(newest) = frames.iter().enumerate().max_by_key(|(i, f)| (f.pts, *i)).map(|(i, _)| i) {
        frames.truncate(newest + 1);
    }
    if frames.len() > MAX_DECODE_FRAMES {
        tracing::debug!(camera, frames = frames.len(), "long GOP: the snapshot shows an earlier frame");
        frames.truncate(MAX_DECODE_FRAMES);
    }
    let refs: Vec<&[u8]> = frames.iter().map(|f: &Arc<Frame>| &f.data[..]).collect();
    jpeg_from_frames(&run.video, &refs)
}

/// Decodes `frames` (4-byte length-prefixed access units in decode order, the first a key frame) with
/// the stream's parameters and encodes the last decoded picture as JPEG (see `kw_codec::jpeg_from_frames`).
pub fn jpeg_from_frames(params: &StreamParams, frames: &[&[u8]]) -> Result<Vec<u8>, SnapshotError> {
    check_codec("", params)?;
    kw_codec::jpeg_from_frames(params, frames).map_err(|e| match e {
        CodecError::NoDecoder(codec) => {
            SnapshotError::NoDecoder { camera: String::new(), codec: kw_codec::codec_name(codec).to_owned() }
        }
        other => SnapshotError::Decode(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::synthetic::{Encoding, SyntheticSource};
    use bytes::Bytes;
    use kw_media::{nal, VIDEO_TIMESCALE};
    use kw_store::Create;

    const W: u16 = 160;
    const H: u16 = 96;
    const FPS: u32 = 10;
    const TICKS: i64 = VIDEO_TIMESCALE as i64 / FPS as i64;
    /// 2024-01-01T00:00:00Z.
    const T0: WallMicros = 1_704_067_200_000_000;

    /// The demo scene with the object crossing the picture during the whole clip.
    fn scene(n: usize) -> SyntheticSource {
        SyntheticSource {
            width: W,
            height: H,
            fps: FPS,
            period: 1000.0,
            appear: 0.0,
            visible: n as f64 / f64::from(FPS),
            gop: 2.0,
            person: false,
        }
    }

    /// `n` frames of the scene encoded as the synthetic camera does (key frame every `gop` frames),
    /// stored the way ingest hands them over: length-prefixed, SPS/PPS in `avcC`.
    fn clip(n: usize, gop: usize) -> (StreamParams, Vec<Frame>) {
        let s = SyntheticSource { gop: gop as f64 / f64::from(FPS), ..scene(n) };
        let mut enc = Encoding::new(&s).unwrap();
        let frames = (0..n)
            .map(|i| {
                let (_, e) = enc.next_frame().unwrap();
                assert_eq!(e.key, i % gop == 0, "frame {i}");
                assert_eq!(nal::h264_is_idr(&e.avc), e.key, "frame {i}");
                Frame {
                    stream: StreamKind::Video,
                    pts: i as i64 * TICKS,
                    key: e.key,
                    loss_before: false,
                    data: Bytes::from(e.avc),
                }
            })
            .collect();
        (enc.params().unwrap().clone(), frames)
    }

    fn refs(frames: &[Frame]) -> Vec<&[u8]> {
        frames.iter().map(|f| &f.data[..]).collect()
    }

    /// Luma of a JPEG, checking its size.
    fn jpeg_luma(jpeg: &[u8]) -> Vec<f64> {
        let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).expect("a JPEG").to_rgb8();
        assert_eq!(img.dimensions(), (u32::from(W), u32::from(H)));
        img.pixels().map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])).collect()
    }

    /// Luma of drawn frame `n`, in full range like the decoder's RGB.
    fn drawn_luma(s: &SyntheticSource, n: usize) -> Vec<f64> {
        let mut buf = Vec::new();
        s.draw(n as u64, &mut buf);
        buf[..usize::from(W) * usize::from(H)].iter().map(|&y| (f64::from(y) - 16.0) * 255.0 / 219.0).collect()
    }

    fn mean_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
    }

    /// Mean absolute difference of `a` and `b` over the pixels where the drawn frames `x` and `y` differ
    /// (where the object moved), which the small object would otherwise drown in the still backdrop.
    fn diff_where_moved(a: &[f64], b: &[f64], x: &[f64], y: &[f64]) -> f64 {
        let moved: Vec<usize> = (0..x.len()).filter(|&i| (x[i] - y[i]).abs() > 30.0).collect();
        assert!(moved.len() > 20, "the object moved");
        moved.iter().map(|&i| (a[i] - b[i]).abs()).sum::<f64>() / moved.len() as f64
    }

    fn run_of(params: &StreamParams) -> Arc<RunInfo> {
        Arc::new(RunInfo { video: params.clone(), audio: None, wall_anchor: T0 })
    }

    fn h265(params: &StreamParams) -> StreamParams {
        StreamParams { codec: Codec::H265, rfc6381: "hvc1.1.6.L93.B0".into(), ..params.clone() }
    }

    #[test]
    fn key_frame_and_mid_gop_pictures() {
        let n = 30;
        let (params, frames) = clip(n, 20);
        let s = scene(n);
        let key = jpeg_from_frames(&params, &refs(&frames[..1])).unwrap();
        let key_luma = jpeg_luma(&key);
        assert!(mean_abs_diff(&key_luma, &drawn_luma(&s, 0)) < 4.0);
        // Frame 12 (P-frame, 12 after the key frame): the object has moved into view.
        let mid = jpeg_from_frames(&params, &refs(&frames[..=12])).unwrap();
        let mid_luma = jpeg_luma(&mid);
        let (d0, d12, d13) = (drawn_luma(&s, 0), drawn_luma(&s, 12), drawn_luma(&s, 13));
        assert!(mean_abs_diff(&mid_luma, &d12) < 4.0);
        // Where the object moved between the key frame and frame 12, the picture is frame 12's.
        let to_own = diff_where_moved(&mid_luma, &d12, &d0, &d12);
        let to_key = diff_where_moved(&mid_luma, &d0, &d0, &d12);
        assert!(to_key > 2.0 * to_own, "frame 12, not the key frame ({to_own} vs {to_key})");
        // And it is not frame 11's or 13's either.
        let d11 = drawn_luma(&s, 11);
        for (d, name) in [(&d11, "11"), (&d13, "13")] {
            let to_own = diff_where_moved(&mid_luma, &d12, d, &d12);
            let to_other = diff_where_moved(&mid_luma, d, d, &d12);
            assert!(to_other > 2.0 * to_own, "frame 12, not {name} ({to_own} vs {to_other})");
        }
        // A second GOP decodes on its own from its key frame.
        let late = jpeg_from_frames(&params, &refs(&frames[20..=27])).unwrap();
        assert!(mean_abs_diff(&jpeg_luma(&late), &drawn_luma(&s, 27)) < 4.0);
    }

    #[test]
    fn h265_has_no_decoder() {
        let (params, frames) = clip(1, 20);
        let err = jpeg_from_frames(&h265(&params), &refs(&frames)).unwrap_err();
        let SnapshotError::NoDecoder { codec, .. } = &err else { panic!("{err:?}") };
        assert_eq!(codec, "H.265");
        let msg = err.to_string();
        assert!(msg.contains("no H.265 decoder") && msg.contains("sub_url"), "{msg}");

        let hub = Hub::new();
        hub.publish_run(run_of(&h265(&params)));
        hub.publish_frame(Arc::new(frames[0].clone()));
        let err = latest("garage", &hub).unwrap_err();
        assert!(matches!(&err, SnapshotError::NoDecoder { camera, .. } if camera == "garage"), "{err:?}");
        assert!(err.to_string().contains("camera \"garage\""), "{err}");
    }

    #[test]
    fn bad_input_is_a_decode_error() {
        let (params, frames) = clip(3, 20);
        let decode_err = |params: &StreamParams, f: &[&[u8]]| match jpeg_from_frames(params, f) {
            Err(SnapshotError::Decode(msg)) => msg,
            other => panic!("expected a decode error, got {other:?}"),
        };
        // Not length-prefixed.
        decode_err(&params, &[b"\x00\x00\x00\x01\x65garbage"]);
        decode_err(&params, &[&[0, 0, 0, 9, 0x65, 1, 2]]);
        decode_err(&params, &[&[0, 0, 0]]);
        // Well-formed length prefixes around garbage slices.
        let mut junk = vec![0, 0, 0, 200, 0x65];
        junk.extend((0..199u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        decode_err(&params, &[&junk]);
        decode_err(&params, &[&junk, &frames[1].data]);
        // A P-frame without its key frame.
        decode_err(&params, &[&frames[1].data]);
        // Malformed parameters, and nothing at all.
        let broken = StreamParams { extra: vec![1, 0x42, 0, 0x1e, 0xff, 0xe1, 0, 40, 0x67], ..params.clone() };
        decode_err(&broken, &refs(&frames[..1]));
        decode_err(&params, &[]);
        // A truncated key frame must not panic, whatever the decoder makes of it.
        let body = &frames[0].data[4..];
        let mut cut = ((body.len() / 2) as u32).to_be_bytes().to_vec();
        cut.extend_from_slice(&body[..body.len() / 2]);
        match jpeg_from_frames(&params, &[&cut, &frames[1].data]) {
            Ok(jpeg) => drop(jpeg_luma(&jpeg)),
            Err(SnapshotError::Decode(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn latest_shows_the_newest_frame_of_the_hub() {
        let (params, frames) = clip(25, 20);
        let hub = Hub::new();
        assert!(matches!(latest("cam", &hub), Err(SnapshotError::NothingRecorded { .. })));
        hub.publish_run(run_of(&params));
        for f in &frames {
            hub.publish_frame(Arc::new(f.clone()));
        }
        let (_, gop) = hub.current_gop().unwrap();
        assert_eq!(gop.iter().map(|f| f.pts / TICKS).collect::<Vec<_>>(), vec![20, 21, 22, 23, 24]);
        let jpeg = latest("cam", &hub).unwrap();
        assert_eq!(jpeg, jpeg_from_frames(&params, &refs(&frames[20..])).unwrap());
        assert!(mean_abs_diff(&jpeg_luma(&jpeg), &drawn_luma(&scene(25), 24)) < 4.0);
        hub.publish_stopped();
        assert!(matches!(latest("cam", &hub), Err(SnapshotError::NothingRecorded { .. })));
    }

    #[test]
    fn at_time_from_the_store() {
        let n = 30;
        let (params, frames) = clip(n, 20);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), Create::IfMissing, None).unwrap();
        let run = run_of(&params);
        let run_id = store.begin_run("cam", &run).unwrap();
        // Two segments, split at the second key frame as the recorder does.
        for (seq, range) in [(0u32, 0..20), (1, 20..n)] {
            let end = range.end as i64 * TICKS;
            let mut w = store.create_segment("cam", run_id, seq, &run).unwrap();
            for f in &frames[range] {
                w.append(f).unwrap();
            }
            w.finish(Some(end)).unwrap();
        }
        let ms = |ms: i64| T0 + ms * 1000;
        let expect = |r: std::ops::RangeInclusive<usize>| jpeg_from_frames(&params, &refs(&frames[r])).unwrap();
        // Between frames 10 (1.0 s) and 11: frame 10; exactly at a frame: that frame.
        assert_eq!(at_time(&store, "cam", ms(1050)).unwrap(), expect(0..=10));
        assert_eq!(at_time(&store, "cam", ms(1100)).unwrap(), expect(0..=11));
        assert_eq!(at_time(&store, "cam", ms(0)).unwrap(), expect(0..=0));
        // In the second segment, from its own key frame.
        let jpeg = at_time(&store, "cam", ms(2599)).unwrap();
        assert_eq!(jpeg, expect(20..=25));
        assert!(mean_abs_diff(&jpeg_luma(&jpeg), &drawn_luma(&scene(n), 25)) < 4.0);
        // The last frame is shown until the end of its interval; nothing before or after.
        assert_eq!(at_time(&store, "cam", ms(2999)).unwrap(), expect(20..=29));
        for (camera, at) in [("cam", ms(-1)), ("cam", ms(3000)), ("cam", ms(60_000)), ("nobody", ms(1000))] {
            let err = at_time(&store, camera, at).unwrap_err();
            assert!(matches!(&err, SnapshotError::NothingRecorded { camera: c } if c == camera), "{err:?}");
        }
    }
}
