//! End-to-end checks with real encoders and ffmpeg's demuxer/decoders: clips from libx264 (with and
//! without B-frames), libx265 and AAC, plus G.711; progressive files for a whole clip and for a window
//! that starts mid-GOP, and an fMP4 stream.

mod common;

use bytes::Bytes;
use common::{Pkt, Sources};
use kw_media::{Codec, StreamParams, VIDEO_TIMESCALE};
use kw_mp4::{DataRef, FragSample, FragTrack, MovieIn, SampleIn, TrackIn};
use std::path::Path;

const FRAME: i64 = 3_600; // 25 fps in 90 kHz ticks

fn samples(pkts: &[Pkt], stream: usize, source: u32) -> Vec<SampleIn> {
    pkts.iter()
        .filter(|p| p.stream == stream)
        .map(|p| SampleIn { pts: p.pts, size: p.size, key: p.key, desc: 0, data: DataRef { source, offset: p.pos } })
        .collect()
}

/// The samples a recorder would hand over for a window: from the last key frame at or before `start`
/// (decode order) through the last sample presented before `end`.
fn window(all: &[SampleIn], start: i64, end: i64) -> Vec<SampleIn> {
    let first = all.iter().rposition(|s| s.key && s.pts <= start).unwrap_or(0);
    let last = all.iter().rposition(|s| s.pts < end).unwrap();
    all[first..=last].to_vec()
}

fn rescale(v: i64, to: u32) -> i64 {
    v * i64::from(to) / i64::from(VIDEO_TIMESCALE)
}

/// Small deterministic generator for random ranges.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

struct Expect<'a> {
    video_codec: &'a str,
    audio_codec: Option<&'a str>,
    /// Frame hashes of the source clip, frame `n` presented at `n * FRAME`.
    frames: &'a [String],
}

/// Builds, writes and checks one movie. `tracks[0]` is video with pts in 90 kHz.
fn check(name: &str, sources: &Sources, tracks: Vec<TrackIn>, start: i64, end: i64, expect: &Expect<'_>) {
    let video_frames = tracks[0].samples.iter().filter(|s| s.pts >= start && s.pts < end).count();
    let m = MovieIn { tracks, start, end, creation_time_unix: 1_750_000_000 };
    let file = kw_mp4::build(&m).unwrap();
    assert_eq!(kw_mp4::build(&m).unwrap(), file, "deterministic");
    let path = common::out_dir().join(format!("{name}.mp4"));
    let bytes = sources.write(&file, &path);

    let streams = common::streams(&path);
    let video = streams.iter().find(|s| s["codec_type"] == "video").expect("video stream");
    assert_eq!(video["codec_name"], expect.video_codec);
    assert_eq!(video["width"], "320");
    assert_eq!(video["nb_read_frames"], video_frames.to_string(), "{name}: decoded frames");
    let want = (end - start) as f64 / f64::from(VIDEO_TIMESCALE);
    let got: f64 = video["duration"].parse().unwrap();
    assert!((got - want).abs() <= FRAME as f64 / 90_000.0, "{name}: duration {got}, want {want}");
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    assert_eq!(audio.map(|a| a["codec_name"].as_str()), expect.audio_codec, "{name}: audio codec");
    if let Some(a) = audio {
        let got: f64 = a["duration"].parse().unwrap();
        assert!((got - want).abs() <= 0.05, "{name}: audio duration {got}, want {want}");
    }
    let errors = common::decode_errors(&path);
    assert!(errors.is_empty(), "{name}: ffmpeg says: {errors}");
    // Exactly the source's pictures of the window, in order.
    let shown = &expect.frames[(start / FRAME) as usize..(end / FRAME) as usize];
    assert_eq!(common::frame_hashes(&path), shown, "{name}: decoded pictures");

    // Range requests: any range of parts equals that slice of the whole file.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ file.len());
    for i in 0..40 {
        let a = if i == 0 { 0 } else { rng.below(file.len()) };
        let b = if i == 1 { file.len() + 10 } else { a + rng.below(file.len() - a + 1) };
        let got = sources.parts_bytes(&file, a..b);
        assert_eq!(got, bytes[a as usize..(b.min(file.len())) as usize], "{name}: range {a}..{b}");
        let mut w = Vec::new();
        file.write_range(a..b, &mut w, &mut |s, o, buf| sources.read(s, o, buf)).unwrap();
        assert_eq!(w, got);
    }
}

/// Whole clip plus a mid-GOP window, with the clip's AAC track.
fn check_clip(name: &str, clip: &Path, video_codec: &str) {
    let params = common::stream_params(clip);
    let pkts = common::packets(clip);
    let sources = Sources::open(&[clip]);
    let video = samples(&pkts, 0, 0);
    let audio = samples(&pkts, 1, 0);
    let ats = params[1].timescale;
    let track =
        |p: &StreamParams, s: Vec<SampleIn>| TrackIn { descs: vec![p.clone()], samples: s, timescale: p.timescale };
    let frames = common::frame_hashes(clip);
    assert_eq!(frames.len(), 100);
    let expect = Expect { video_codec, audio_codec: Some("aac"), frames: &frames };

    let end = 100 * FRAME;
    let tracks =
        vec![track(&params[0], window(&video, 0, end)), track(&params[1], window(&audio, 0, rescale(end, ats)))];
    check(&format!("{name}-whole"), &sources, tracks, 0, end, &expect);

    // Starts 12 frames into the second GOP, ends mid-GOP too.
    let (start, end) = (37 * FRAME, 80 * FRAME);
    let v = window(&video, start, end);
    assert!(v[0].pts < start, "window starts mid-GOP");
    let a = window(&audio, rescale(start, ats), rescale(end, ats));
    let tracks = vec![track(&params[0], v.clone()), track(&params[1], a)];
    check(&format!("{name}-window"), &sources, tracks, start, end, &expect);

    // Video only.
    check(
        &format!("{name}-window-video"),
        &sources,
        vec![track(&params[0], v)],
        start,
        end,
        &Expect { video_codec, audio_codec: None, frames: &frames },
    );
}

#[test]
fn h264_without_b_frames() {
    if !common::have_ffmpeg("h264_without_b_frames") {
        return;
    }
    let clip = common::av_clip("h264-bf0", &["-c:v", "libx264", "-bf", "0", "-g", "25"]);
    check_clip("h264-bf0", &clip, "h264");
}

#[test]
fn h264_with_b_frames() {
    if !common::have_ffmpeg("h264_with_b_frames") {
        return;
    }
    let clip = common::av_clip("h264-bf", &["-c:v", "libx264", "-g", "25"]);
    let pkts = common::packets(&clip);
    let v: Vec<i64> = pkts.iter().filter(|p| p.stream == 0).map(|p| p.pts).collect();
    assert!(v.windows(2).any(|w| w[1] < w[0]), "clip has reordered frames");
    check_clip("h264-bf", &clip, "h264");
}

#[test]
fn h265() {
    if !common::have_ffmpeg("h265") {
        return;
    }
    let x265 = "keyint=25:min-keyint=25:open-gop=0:log-level=error";
    let clip = common::av_clip("h265", &["-c:v", "libx265", "-x265-params", x265, "-tag:v", "hvc1"]);
    check_clip("h265", &clip, "hevc");
}

#[test]
fn g711() {
    if !common::have_ffmpeg("g711") {
        return;
    }
    let video_clip = common::av_clip("h264-bf0", &["-c:v", "libx264", "-bf", "0", "-g", "25"]);
    let params = common::stream_params(&video_clip);
    let video = samples(&common::packets(&video_clip), 0, 0);
    let frames = common::frame_hashes(&video_clip);
    for (codec, fmt, name) in [(Codec::Pcmu, "mulaw", "pcm_mulaw"), (Codec::Pcma, "alaw", "pcm_alaw")] {
        let raw = common::clip(
            &format!("g711-{fmt}"),
            "raw",
            &["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", "4", "-f", fmt],
        );
        let len = std::fs::metadata(&raw).unwrap().len();
        // 20 ms packets as an RTP camera sends them.
        let audio: Vec<SampleIn> = (0..len / 160)
            .map(|i| SampleIn {
                pts: i as i64 * 160,
                size: 160,
                key: true,
                desc: 0,
                data: DataRef { source: 1, offset: i * 160 },
            })
            .collect();
        let ap = StreamParams {
            codec,
            timescale: 8_000,
            width: 0,
            height: 0,
            sample_rate: 8_000,
            channels: 1,
            extra: Vec::new(),
            rfc6381: String::new(),
        };
        let sources = Sources::open(&[&video_clip, &raw]);
        let (start, end) = (13 * FRAME, 90 * FRAME);
        let tracks = vec![
            TrackIn { descs: vec![params[0].clone()], samples: window(&video, start, end), timescale: 90_000 },
            TrackIn {
                descs: vec![ap],
                samples: window(&audio, rescale(start, 8_000), rescale(end, 8_000)),
                timescale: 8_000,
            },
        ];
        let expect = Expect { video_codec: "h264", audio_codec: Some(name), frames: &frames };
        check(&format!("g711-{fmt}"), &sources, tracks, start, end, &expect);
    }
}

/// Init segment and two media segments of the B-frame clip, decoded as one file.
#[test]
fn fragmented() {
    if !common::have_ffmpeg("fragmented") {
        return;
    }
    let clip = common::av_clip("h264-bf", &["-c:v", "libx264", "-g", "25"]);
    let params = common::stream_params(&clip);
    let pkts = common::packets(&clip);
    let data = std::fs::read(&clip).unwrap();
    let mut out = kw_mp4::init_segment(&params).unwrap();

    let frag = |track_id: u32, pkts: &[&Pkt], default_duration: u32| {
        // Decode times are the sorted pts; offsets may then be negative (trun version 1).
        let mut dts: Vec<i64> = pkts.iter().map(|p| p.pts).collect();
        dts.sort_unstable();
        let samples = pkts
            .iter()
            .enumerate()
            .map(|(i, p)| FragSample {
                duration: dts.get(i + 1).map(|n| (n - dts[i]) as u32).unwrap_or(default_duration),
                size: p.size,
                cts_offset: (p.pts - dts[i]) as i32,
                key: p.key,
            })
            .collect();
        let data = pkts.iter().map(|p| Bytes::copy_from_slice(&data[p.pos as usize..][..p.size as usize])).collect();
        FragTrack { track_id, base_dts: dts[0].max(0) as u64, samples, data }
    };
    let video: Vec<&Pkt> = pkts.iter().filter(|p| p.stream == 0).collect();
    let audio: Vec<&Pkt> = pkts.iter().filter(|p| p.stream == 1 && p.pts >= 0).collect();
    assert!(video[50].key);
    let cut_a = audio.iter().position(|p| p.pts >= 2 * 48_000).unwrap();
    for (seq, (v, a)) in [(&video[..50], &audio[..cut_a]), (&video[50..], &audio[cut_a..])].into_iter().enumerate() {
        out.extend(kw_mp4::media_segment(seq as u32 + 1, &[frag(1, v, 3_600), frag(2, a, 1_024)]));
    }
    let path = common::out_dir().join("fragmented.mp4");
    std::fs::write(&path, &out).unwrap();

    let streams = common::streams(&path);
    assert_eq!(streams[0]["codec_name"], "h264");
    assert_eq!(streams[0]["nb_read_frames"], "100");
    assert_eq!(streams[1]["codec_name"], "aac");
    let errors = common::decode_errors(&path);
    assert!(errors.is_empty(), "ffmpeg says: {errors}");
    assert_eq!(common::frame_hashes(&path), common::frame_hashes(&clip));
}
