//! Fixtures shared by the integration tests: a run description, synthetic frames, helpers to write
//! and read back segments.
#![allow(dead_code)]

use std::path::Path;

use bytes::Bytes;
use kw_media::{Codec, Frame, RunInfo, StreamKind, StreamParams};
use kw_store::{Create, SegmentRow, Store};

/// 2024-01-01T00:00:00Z in microseconds.
pub const T0: i64 = 1_704_067_200_000_000;
/// One video frame at 25 fps, in 90 kHz ticks.
pub const FRAME: i64 = 3_600;

pub fn run_info(anchor: i64, audio: bool) -> RunInfo {
    RunInfo {
        video: StreamParams {
            codec: Codec::H264,
            timescale: 90_000,
            width: 1920,
            height: 1080,
            sample_rate: 0,
            channels: 0,
            extra: vec![1, 0x64, 0, 0x28, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x28, 1, 0, 2, 0x68, 0xee],
            rfc6381: "avc1.640028".into(),
        },
        audio: audio.then(|| StreamParams {
            codec: Codec::Aac,
            timescale: 16_000,
            width: 0,
            height: 0,
            sample_rate: 16_000,
            channels: 1,
            extra: vec![0x14, 0x08],
            rfc6381: "mp4a.40.2".into(),
        }),
        wall_anchor: anchor,
    }
}

/// Deterministic frame data of `len` bytes.
pub fn data(seed: u64, len: usize) -> Bytes {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

pub fn video(pts: i64, key: bool, len: usize) -> Frame {
    Frame { stream: StreamKind::Video, pts, key, loss_before: false, data: data(pts as u64, len) }
}

pub fn audio(pts: i64, len: usize) -> Frame {
    Frame { stream: StreamKind::Audio, pts, key: true, loss_before: false, data: data(!(pts as u64), len) }
}

/// `n` video frames at 25 fps starting at `first` (a key frame), each `len` bytes.
pub fn gop(first: i64, n: usize, len: usize) -> Vec<Frame> {
    (0..n).map(|i| video(first + i as i64 * FRAME, i == 0, len)).collect()
}

pub fn open(dir: &Path) -> Store {
    Store::open(dir, Create::IfMissing, None).expect("open store")
}

/// Writes `frames` as segment `seq` and finishes it with `end_pts`.
pub fn write_segment(
    store: &Store,
    camera: &str,
    run_id: i64,
    seq: u32,
    run: &RunInfo,
    frames: &[Frame],
    end_pts: Option<i64>,
) -> SegmentRow {
    let mut w = store.create_segment(camera, run_id, seq, run).expect("create segment");
    for f in frames {
        w.append(f).expect("append");
    }
    w.finish(end_pts).expect("finish")
}

/// Reads every frame of a segment back through the public API.
pub fn read_back(store: &Store, row: &SegmentRow) -> Vec<Frame> {
    let r = store.open_data(row).expect("open data");
    store
        .frames(row)
        .expect("frames")
        .iter()
        .map(|e| Frame {
            stream: e.stream,
            pts: e.pts,
            key: e.key,
            loss_before: e.loss_before,
            data: e.read(&*r).expect("read frame").into(),
        })
        .collect()
}

/// Writes `n` one-second segments of `len`-byte frames for `camera`, starting at `anchor`.
pub fn seconds(store: &Store, camera: &str, anchor: i64, n: u32, len: usize) -> Vec<SegmentRow> {
    let run = run_info(anchor, false);
    let run_id = store.begin_run(camera, &run).unwrap();
    (0..n)
        .map(|seq| {
            let first = i64::from(seq) * 25 * FRAME;
            write_segment(store, camera, run_id, seq, &run, &gop(first, 25, len), Some(first + 25 * FRAME))
        })
        .collect()
}

/// Whether the segment file of `r` is still on disk.
pub fn exists(store: &Store, r: &SegmentRow) -> bool {
    store.segment_location(&r.key()).exists()
}
