//! The MP4 box writers fed with what a camera decides: stream parameters (its `avcC`/`hvcC`/AAC config,
//! sizes, rates) in their stored encoding, and sample timings. Property: never panics; errors are errors.
#![no_main]
use kw_media::{Codec, StreamParams};
use kw_mp4::{DataRef, FragSample, FragTrack, MovieIn, SampleIn, TrackIn};
use libfuzzer_sys::fuzz_target;

fn sample_bytes(data: &[u8], i: usize) -> u8 {
    data.get(i % data.len().max(1)).copied().unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(2));
    let split = usize::from(head.first().copied().unwrap_or(0)).min(rest.len());
    let (params_bytes, timing) = rest.split_at(split);
    let params = match StreamParams::decode(params_bytes) {
        Ok(p) => p,
        // Not an encoding the store writes: build one from the raw bytes as a camera's avcC.
        Err(_) => StreamParams {
            codec: if head.get(1).is_some_and(|b| b & 1 == 1) { Codec::H265 } else { Codec::H264 },
            timescale: 90_000,
            width: 640,
            height: 360,
            sample_rate: 0,
            channels: 0,
            extra: params_bytes.to_vec(),
            rfc6381: "avc1.64001f".into(),
        },
    };
    let _ = kw_mp4::init_segment(std::slice::from_ref(&params));
    let n = timing.len().min(64);
    let samples: Vec<SampleIn> = (0..n)
        .map(|i| SampleIn {
            pts: i64::from(sample_bytes(timing, i)) * 3000 + i as i64 * 100,
            size: u32::from(sample_bytes(timing, i + 1)),
            key: i == 0 || sample_bytes(timing, i + 2) & 7 == 0,
            desc: 0,
            data: DataRef { source: 0, offset: i as u64 * 256 },
        })
        .collect();
    let timescale = params.timescale;
    let movie = MovieIn {
        tracks: vec![TrackIn { descs: vec![params], samples, timescale }],
        start: i64::from(sample_bytes(timing, 7)) * 1000,
        end: i64::from(sample_bytes(timing, 9)) * 50_000,
        creation_time_unix: 1_767_225_600,
    };
    if let Ok(file) = kw_mp4::build(&movie) {
        let len = file.len();
        assert!(file.parts_in(0..len).len() <= 1 + 64 * 2 + 8, "parts are bounded by the samples");
    }
    let frag = FragTrack {
        track_id: 1,
        base_dts: u64::from(sample_bytes(timing, 3)),
        samples: (0..n)
            .map(|i| FragSample {
                duration: u32::from(sample_bytes(timing, i)),
                size: 0,
                cts_offset: i32::from(sample_bytes(timing, i + 5)) - 128,
                key: i == 0,
            })
            .collect(),
        data: Vec::new(),
    };
    let _ = kw_mp4::media_segment(1, &[frag]);
});
