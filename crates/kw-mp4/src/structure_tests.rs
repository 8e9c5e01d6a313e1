//! Box-structure tests of both writers: everything written is parsed back with [`crate::testwalk`].

use crate::testwalk::{top, walk, Bx};
use crate::*;
use bytes::Bytes;
use kw_media::{Codec, StreamParams};

fn video_params(width: u16) -> StreamParams {
    StreamParams {
        codec: Codec::H264,
        timescale: 90_000,
        width,
        height: 240,
        sample_rate: 0,
        channels: 0,
        extra: vec![1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee],
        rfc6381: "avc1.64001f".into(),
    }
}

fn aac_params() -> StreamParams {
    StreamParams {
        codec: Codec::Aac,
        timescale: 48_000,
        width: 0,
        height: 0,
        sample_rate: 48_000,
        channels: 2,
        extra: vec![0x11, 0x90],
        rfc6381: "mp4a.40.2".into(),
    }
}

/// A video track of `n` frames at 25 fps (key every 25th) with pts as given, bytes laid out
/// contiguously in source 0 starting at `base`.
fn video(pts: &[i64], base: u64) -> TrackIn {
    let mut offset = base;
    let samples = pts
        .iter()
        .enumerate()
        .map(|(i, &pts)| {
            let size = 1000 + i as u32;
            let s = SampleIn { pts, size, key: i % 25 == 0, desc: 0, data: DataRef { source: 0, offset } };
            offset += u64::from(size);
            s
        })
        .collect();
    TrackIn { descs: vec![video_params(320)], samples, timescale: 90_000 }
}

fn audio(frames: usize, first_pts: i64) -> TrackIn {
    let samples = (0..frames)
        .map(|i| SampleIn {
            pts: first_pts + i as i64 * 1024,
            size: 300,
            key: true,
            desc: 0,
            data: DataRef { source: 1, offset: i as u64 * 300 },
        })
        .collect();
    TrackIn { descs: vec![aac_params()], samples, timescale: 48_000 }
}

fn movie(tracks: Vec<TrackIn>, start: i64, end: i64) -> MovieIn {
    MovieIn { tracks, start, end, creation_time_unix: 1_700_000_000 }
}

/// The generated head (ftyp, moov, mdat header) of a file.
fn head(f: &Mp4File) -> Vec<u8> {
    match f.parts_in(0..f.len()).into_iter().next() {
        Some(Part::Bytes(b)) => b.to_vec(),
        other => panic!("file does not start with bytes: {other:?}"),
    }
}

struct Parsed<'a> {
    moov: Bx<'a>,
    mdat: Bx<'a>,
}

fn parse(h: &[u8]) -> Parsed<'_> {
    let boxes = top(h);
    let names: Vec<String> = boxes.iter().map(|b| b.name()).collect();
    assert_eq!(names, ["ftyp", "moov", "mdat"]);
    Parsed { moov: boxes[1], mdat: boxes[2] }
}

fn stbl<'a>(trak: &Bx<'a>) -> Bx<'a> {
    trak.path(&["mdia", "minf", "stbl"])
}

/// Checks the invariants every track must satisfy and returns (stts durations, ctts offsets).
fn check_track(trak: &Bx<'_>, file: &Mp4File, input: &TrackIn, data_start: u64) -> (Vec<u32>, Vec<u32>) {
    let st = stbl(trak);
    let names: Vec<String> = st.kids().iter().map(|b| b.name()).collect();
    assert_eq!(names[0], "stsd");
    let mut durations = Vec::new();
    for row in st.kid("stts").table(2) {
        durations.extend(std::iter::repeat_n(row[1], row[0] as usize));
    }
    assert_eq!(durations.len(), input.samples.len());
    let mut offsets = Vec::new();
    for ctts in st.kids_named("ctts") {
        for row in ctts.table(2) {
            offsets.extend(std::iter::repeat_n(row[1], row[0] as usize));
        }
    }
    // mdhd duration reaches the end of the last presented sample.
    let mdhd = trak.path(&["mdia", "mdhd"]);
    assert_eq!(mdhd.version(), 0);
    let mut dts = 0u64;
    let mut last_cts = 0u64;
    for (i, d) in durations.iter().enumerate() {
        last_cts = last_cts.max(dts + u64::from(offsets.get(i).copied().unwrap_or(0)));
        dts += u64::from(*d);
    }
    assert!(u64::from(mdhd.u32(16)) >= dts);
    assert_eq!(u64::from(mdhd.u32(16)), last_cts + u64::from(*durations.last().unwrap()));
    assert!(input.timescale.is_multiple_of(mdhd.u32(12)));

    // Chunk offsets and sizes lead back to each sample's DataRef.
    let stsz = st.kid("stsz");
    assert_eq!(stsz.u32(4), 0);
    assert_eq!(stsz.u32(8) as usize, input.samples.len());
    let chunk_offsets: Vec<u64> = if let Some(co) = st.kids_named("co64").first() {
        (0..co.u32(4) as usize).map(|i| co.u64(8 + i * 8)).collect()
    } else {
        st.kid("stco").table(1).into_iter().map(|r| u64::from(r[0])).collect()
    };
    let stsc = st.kid("stsc").table(3);
    let mut sample = 0usize;
    for (ci, &off) in chunk_offsets.iter().enumerate() {
        let row = stsc.iter().rev().find(|r| r[0] as usize <= ci + 1).unwrap();
        let mut at = off;
        assert!(at >= data_start);
        for _ in 0..row[1] {
            let s = &input.samples[sample];
            assert_eq!(s.desc + 1, row[2]);
            assert_eq!(stsz.u32(12 + sample * 4), s.size);
            let parts = file.parts_in(at..at + u64::from(s.size));
            assert_eq!(parts, [Part::Data { source: s.data.source, offset: s.data.offset, len: s.size.into() }]);
            at += u64::from(s.size);
            sample += 1;
        }
    }
    assert_eq!(sample, input.samples.len());

    let keys: Vec<u32> = (1..=input.samples.len() as u32).filter(|&i| input.samples[i as usize - 1].key).collect();
    match st.kids_named("stss").first() {
        Some(stss) => assert_eq!(stss.table(1).concat(), keys),
        None => assert_eq!(keys.len(), input.samples.len()),
    }
    (durations, offsets)
}

fn elst(trak: &Bx<'_>) -> Vec<(u32, i32)> {
    let e = trak.path(&["edts", "elst"]);
    assert_eq!(e.version(), 0);
    e.table(3).into_iter().map(|r| (r[0], r[1] as i32)).collect()
}

#[test]
fn video_and_audio_structure() {
    let pts: Vec<i64> = (0..100).map(|i| 1_000 + i * 3_600).collect();
    let m = movie(vec![video(&pts, 500), audio(180, 0)], 1_000 + 30 * 3_600, 1_000 + 100 * 3_600);
    let f = build(&m).unwrap();
    let h = head(&f);
    let p = parse(&h);
    let data_start = h.len() as u64;
    assert_eq!(p.mdat.size, f.len() - (h.len() as u64 - 8));

    let mvhd = p.moov.kid("mvhd");
    assert_eq!(mvhd.u32(12), 90_000);
    assert_eq!(mvhd.u32(16), 70 * 3_600);
    assert_eq!(mvhd.u32(96), 3); // next_track_id
    let traks = p.moov.kids_named("trak");
    assert_eq!(traks.len(), 2);

    let tkhd = traks[0].kid("tkhd");
    assert_eq!(tkhd.u32(12), 1);
    assert_eq!(tkhd.u32(20), 70 * 3_600);
    assert_eq!(tkhd.u32(76), 320 << 16);
    assert_eq!(tkhd.u32(80), 240 << 16);

    let (durations, offsets) = check_track(&traks[0], &f, &m.tracks[0], data_start);
    assert!(offsets.is_empty(), "no ctts without B-frames");
    assert!(durations.iter().all(|&d| d == 3_600));
    assert_eq!(elst(&traks[0]), [(70 * 3_600, 30 * 3_600)]);

    let (durations, _) = check_track(&traks[1], &f, &m.tracks[1], data_start);
    // The last audio frame lasts until the window end.
    let end_a = (1_000 + 100 * 3_600) * 48_000 / 90_000;
    assert_eq!(*durations.last().unwrap() as i64, end_a - 179 * 1024);
    let start_a: i64 = (1_000 + 30 * 3_600) * 48_000 / 90_000;
    assert_eq!(elst(&traks[1]), [(70 * 3_600, start_a as i32)]);
    let entry = stbl(&traks[1]).kid("stsd");
    let entries = walk(&entry.body[8..], 0, true);
    assert_eq!(entries[0].name(), "mp4a");
    assert_eq!(walk(&entries[0].body[28..], 0, true)[0].name(), "esds");

    // Chunks are about a second and interleaved in time order.
    let mut chunk_starts: Vec<(u64, usize)> = Vec::new();
    for (ti, t) in traks.iter().enumerate() {
        for r in stbl(t).kid("stco").table(1) {
            chunk_starts.push((u64::from(r[0]), ti));
        }
    }
    chunk_starts.sort();
    let order: Vec<usize> = chunk_starts.iter().map(|c| c.1).collect();
    assert_eq!(order, [1, 0, 1, 0, 1, 0, 1, 0]);

    // Same input, same bytes.
    assert_eq!(build(&m).unwrap(), f);
}

#[test]
fn b_frames_get_ctts() {
    // Decode order I P B B P B B ..., presentation 0 3 1 2 6 4 5 (in frame units).
    let mut pts = Vec::new();
    for g in 0..20i64 {
        let base = g * 3;
        if g == 0 {
            pts.push(0);
        }
        pts.extend([base + 3, base + 1, base + 2]);
    }
    let pts: Vec<i64> = pts.into_iter().map(|p| p * 3_600).collect();
    let n = pts.len() as i64;
    let m = movie(vec![video(&pts, 0)], 0, n * 3_600);
    let f = build(&m).unwrap();
    let h = head(&f);
    let p = parse(&h);
    let trak = p.moov.kid("trak");
    let (durations, offsets) = check_track(&trak, &f, &m.tracks[0], h.len() as u64);
    assert!(durations.iter().all(|&d| d == 3_600));
    assert_eq!(&offsets[..5], [3_600, 10_800, 0, 0, 10_800]);
    assert_eq!(elst(&trak), [(n as u32 * 3_600, 3_600)]);
    // Composition times (dts + offset) reproduce the input pts.
    let mut dts = -3_600i64;
    for (i, (d, o)) in durations.iter().zip(&offsets).enumerate() {
        assert_eq!(dts + i64::from(*o), pts[i]);
        dts += i64::from(*d);
    }
}

#[test]
fn gap_and_late_start() {
    // Frames 0..10, then the camera is offline for 5 s, then 10 more frames.
    let mut pts: Vec<i64> = (0..10).map(|i| 90_000 + i * 3_600).collect();
    pts.extend((0..10).map(|i| 90_000 + 36_000 + 450_000 + i * 3_600));
    let m = movie(vec![video(&pts, 0)], 0, 900_000);
    let f = build(&m).unwrap();
    let h = head(&f);
    let p = parse(&h);
    let trak = p.moov.kid("trak");
    let (durations, _) = check_track(&trak, &f, &m.tracks[0], h.len() as u64);
    assert_eq!(durations[9], 3_600 + 450_000);
    assert_eq!(*durations.last().unwrap(), 900_000 - 90_000 - 36_000 - 450_000 - 9 * 3_600);
    // The window starts a second before the first frame: an empty edit first.
    assert_eq!(elst(&trak), [(90_000, -1), (810_000, 0)]);
}

#[test]
fn long_gap_uses_coarser_timescale() {
    // 20 hours offline: more than 2^32 ticks at 90 kHz.
    let gap = 20 * 3_600 * 90_000i64;
    let pts = [0, 3_600, gap, gap + 3_600];
    let m = movie(vec![video(&pts, 0)], 0, gap + 7_200);
    let f = build(&m).unwrap();
    let h = head(&f);
    let p = parse(&h);
    let trak = p.moov.kid("trak");
    assert_eq!(trak.path(&["mdia", "mdhd"]).u32(12), 9_000);
    let (durations, _) = check_track(&trak, &f, &m.tracks[0], h.len() as u64);
    assert_eq!(durations, [360, (gap / 10 - 360) as u32, 360, 360]);
    let e = trak.path(&["edts", "elst"]);
    assert_eq!(e.version(), 1, "window longer than 2^32 movie ticks");
    assert_eq!(e.u64(8), (gap + 7_200) as u64);
    assert_eq!(p.moov.kid("mvhd").version(), 1);
}

#[test]
fn several_descriptions() {
    let pts: Vec<i64> = (0..50).map(|i| i * 3_600).collect();
    let mut t = video(&pts, 0);
    t.descs.push(video_params(640));
    for s in &mut t.samples[25..] {
        s.desc = 1;
    }
    let m = movie(vec![t], 0, 50 * 3_600);
    let f = build(&m).unwrap();
    let h = head(&f);
    let p = parse(&h);
    let trak = p.moov.kid("trak");
    check_track(&trak, &f, &m.tracks[0], h.len() as u64);
    let stsd = stbl(&trak).kid("stsd");
    assert_eq!(stsd.u32(4), 2);
    assert_eq!(walk(&stsd.body[8..], 0, true).len(), 2);
    assert_eq!(stbl(&trak).kid("stsc").table(3), [vec![1, 25, 1], vec![2, 25, 2]]);
}

#[test]
fn large_files_use_64_bit_offsets() {
    let samples = (0..3)
        .map(|i| SampleIn {
            pts: i * 90_000,
            size: 0x8000_0000,
            key: true,
            desc: 0,
            data: DataRef { source: 7, offset: i as u64 * 0x8000_0000 },
        })
        .collect();
    let t = TrackIn { descs: vec![video_params(320)], samples, timescale: 90_000 };
    let m = movie(vec![t], 0, 3 * 90_000);
    let f = build(&m).unwrap();
    let h = head(&f);
    let p = parse(&h);
    assert_eq!(p.mdat.size, 16 + 3 * 0x8000_0000u64);
    assert_eq!(f.len(), h.len() as u64 + 3 * 0x8000_0000u64);
    let trak = p.moov.kid("trak");
    assert!(stbl(&trak).kids_named("stco").is_empty());
    check_track(&trak, &f, &m.tracks[0], h.len() as u64);
    // Contiguous samples merge while the merged length fits 32 bits: 2 GiB samples each stand alone.
    assert_eq!(f.parts_in(0..f.len()).len(), 4);
}

#[test]
fn bad_input_is_an_error() {
    let pts: Vec<i64> = (0..5).map(|i| i * 3_600).collect();
    assert!(matches!(build(&movie(vec![video(&pts, 0)], 10, 10)), Err(Mp4Error::Window { .. })));
    assert!(matches!(build(&movie(vec![], 0, 10)), Err(Mp4Error::NoTracks)));
    let mut t = video(&pts, 0);
    t.samples[2].desc = 4;
    assert!(matches!(build(&movie(vec![t], 0, 10)), Err(Mp4Error::Track { track: 0, .. })));
    let mut t = video(&pts, 0);
    t.samples[1].data.source = u32::MAX;
    assert!(matches!(build(&movie(vec![t], 0, 10)), Err(Mp4Error::Track { track: 0, .. })));
    let mut t = video(&pts, 0);
    t.timescale = 0;
    assert!(build(&movie(vec![t], 0, 10)).is_err());
    let mut t = video(&pts, 0);
    t.descs.push(aac_params());
    assert!(build(&movie(vec![t], 0, 10)).is_err());
    let mut t = video(&pts, 0);
    t.samples[4].pts = 1 << 40;
    assert!(build(&movie(vec![t], 0, 10)).is_err());
    // Samples only after the window: nothing to present.
    assert!(matches!(build(&movie(vec![video(&pts, 0)], -100_000, -10)), Err(Mp4Error::NoTracks)));
    // An empty audio track is left out.
    let f = build(&movie(vec![video(&pts, 0), audio(0, 0)], 0, 10)).unwrap();
    assert_eq!(parse(&head(&f)).moov.kids_named("trak").len(), 1);
}

#[test]
fn fragments() {
    let init = init_segment(&[video_params(320), aac_params()]).unwrap();
    let boxes = walk(&init, 0, true);
    assert_eq!(boxes.iter().map(|b| b.name()).collect::<Vec<_>>(), ["ftyp", "moov"]);
    assert_eq!(&boxes[0].body[..4], b"iso6");
    let moov = boxes[1];
    assert_eq!(moov.kids_named("trak").len(), 2);
    let trex = moov.kid("mvex").kids_named("trex");
    assert_eq!(trex.iter().map(|t| t.u32(4)).collect::<Vec<_>>(), [1, 2]);
    assert!(init_segment(&[]).is_err());

    let v = FragTrack {
        track_id: 1,
        base_dts: 1 << 33,
        samples: vec![
            FragSample { duration: 3_600, size: 3, cts_offset: 3_600, key: true },
            FragSample { duration: 3_600, size: 2, cts_offset: -3_600, key: false },
        ],
        data: vec![Bytes::from_static(b"abc"), Bytes::from_static(b"de")],
    };
    let a = FragTrack {
        track_id: 2,
        base_dts: 0,
        samples: vec![FragSample { duration: 1_024, size: 4, cts_offset: 0, key: true }],
        data: vec![Bytes::from_static(b"wxyz")],
    };
    let seg = media_segment(9, &[v, a]);
    let boxes = walk(&seg, 0, true);
    assert_eq!(boxes.iter().map(|b| b.name()).collect::<Vec<_>>(), ["moof", "mdat"]);
    let (moof, mdat) = (boxes[0], boxes[1]);
    assert_eq!(mdat.body, b"abcdewxyz");
    assert_eq!(moof.kid("mfhd").u32(4), 9);
    let trafs = moof.kids_named("traf");
    assert_eq!(trafs[0].kid("tfdt").u64(4), 1 << 33);
    let trun = trafs[0].kid("trun");
    assert_eq!(trun.version(), 1);
    assert_eq!(trun.u32(4), 2);
    assert_eq!(trun.u32(8) as usize, mdat.at + 8);
    assert_eq!(trun.u32(12 + 16 + 12) as i32, -3_600);
    assert_eq!(trafs[1].kid("trun").u32(8) as usize, mdat.at + 8 + 5);
    assert_eq!(trafs[1].kid("tfhd").u32(0), 0x02_0000);
}
