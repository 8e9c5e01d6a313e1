//! B-frame streams (libx264's default, some cameras): decoded in decode order, shown in presentation
//! order, every picture found by its tag, and a still of any frame is that frame's picture. The expected
//! pictures are ffmpeg's (tests/data/README.md).

use kw_codec::{jpeg_from_frames, H264Decoder};
use kw_media::{nal, Codec, StreamParams};

struct Clip {
    params: StreamParams,
    /// Access units in decode order (length-prefixed), with their key flag.
    units: Vec<(Vec<u8>, bool)>,
    /// Presentation index of each access unit, in decode order.
    pts: Vec<usize>,
    /// ffmpeg's luma sum of each picture, in presentation order.
    sums: Vec<u64>,
}

fn clip() -> Clip {
    let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/bframes-160x96.h264")).unwrap();
    let mut aus: Vec<Vec<u8>> = Vec::new();
    for unit in nal::iter_annexb(&data) {
        if nal::h264_type(unit) == 9 || aus.is_empty() {
            aus.push(Vec::new());
        }
        let au = aus.last_mut().unwrap();
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(unit);
    }
    let (mut sps, mut pps) = (None, None);
    let mut units = Vec::new();
    for au in &aus {
        let split = nal::split_h264_annexb(au).unwrap();
        sps = sps.or(split.sps);
        pps = pps.or(split.pps);
        let key = nal::h264_is_idr(&split.avc);
        units.push((split.avc, key));
    }
    let extra = nal::avcc_from_sps_pps(sps.as_deref().unwrap(), pps.as_deref().unwrap()).unwrap();
    let params = StreamParams {
        codec: Codec::H264,
        timescale: 90_000,
        width: 160,
        height: 96,
        sample_rate: 0,
        channels: 0,
        extra,
        rfc6381: String::new(),
    };
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/bframes-160x96.txt")).unwrap();
    let field = |name: &str| -> Vec<u64> {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().skip(1).map(|n| n.parse().unwrap()).collect()
    };
    let pts: Vec<usize> = field("decode_order_pts").into_iter().map(|n| n as usize).collect();
    let sums = field("luma_sums");
    assert_eq!((units.len(), pts.len(), sums.len()), (40, 40, 40));
    Clip { params, units, pts, sums }
}

fn luma_sum(p: &kw_codec::Picture<'_>) -> u64 {
    let (w, h) = p.dimensions();
    let (y, stride) = p.luma();
    (0..h).map(|r| y[r * stride..r * stride + w].iter().map(|&v| u64::from(v)).sum::<u64>()).sum()
}

/// openh264 and ffmpeg agree to within a few units in a sum of 15 360 pixels; neighbouring frames of this
/// clip differ by 90 or more.
fn same_picture(ours: u64, theirs: u64) -> bool {
    ours.abs_diff(theirs) <= 40
}

#[test]
fn every_picture_comes_out_once_in_presentation_order() {
    let c = clip();
    let mut dec = H264Decoder::new(&c.params).unwrap();
    let mut shown: Vec<(usize, u64)> = Vec::new();
    for (i, (au, key)) in c.units.iter().enumerate() {
        if let Some(p) = dec.push(au, *key, i as i64).unwrap() {
            shown.push((c.pts[p.tag() as usize], luma_sum(&p)));
        }
    }
    while let Some(p) = dec.drain().unwrap() {
        shown.push((c.pts[p.tag() as usize], luma_sum(&p)));
    }
    let order: Vec<usize> = shown.iter().map(|s| s.0).collect();
    assert_eq!(order, (0..40).collect::<Vec<_>>(), "presentation order");
    for (n, sum) in shown {
        assert!(same_picture(sum, c.sums[n]), "picture {n}: luma sum {sum}, ffmpeg's {}", c.sums[n]);
    }
    // Drained: it starts again at a key frame, and refuses anything else.
    assert!(dec.wants_key_frame());
    assert!(dec.push(&c.units[1].0, false, 1).is_err());
    assert!(dec.push(&c.units[0].0, true, 0).is_ok());
}

#[test]
fn a_key_frame_alone_comes_out_of_the_drain() {
    let c = clip();
    let mut dec = H264Decoder::new(&c.params).unwrap();
    for gop_start in [0usize, 20] {
        // Held back for reordering, so nothing comes out of the push itself.
        let _ = dec.push(&c.units[gop_start].0, true, gop_start as i64).unwrap();
        let p = dec.drain().unwrap().expect("the key frame's picture");
        assert_eq!(p.tag(), gop_start as i64);
        assert!(same_picture(luma_sum(&p), c.sums[c.pts[gop_start]]));
        assert!(dec.drain().unwrap().is_none());
    }
}

#[test]
fn a_still_of_any_frame_shows_that_frame() {
    let c = clip();
    // Every frame's picture as JPEG, from one pass over the clip (each checked against ffmpeg above).
    let mut dec = H264Decoder::new(&c.params).unwrap();
    let mut want: Vec<Option<Vec<u8>>> = vec![None; 40];
    let mut keep = |p: kw_codec::Picture<'_>| {
        want[p.tag() as usize] = Some(kw_codec::jpeg::encode(&p.to_rgb().unwrap()).unwrap());
    };
    for (i, (au, key)) in c.units.iter().enumerate() {
        if let Some(p) = dec.push(au, *key, i as i64).unwrap() {
            keep(p);
        }
    }
    while let Some(p) = dec.drain().unwrap() {
        keep(p);
    }
    // A still decodes from the key frame up to the frame (in decode order) and shows that frame's picture,
    // wherever the reordering puts it: the B-frames before it in decode order are shown later, the P-frame
    // after a run of B-frames is shown after them.
    for gop_start in [0usize, 20] {
        #[allow(clippy::needless_range_loop)] // `last` indexes three tables and is the frame's number
        for last in gop_start..gop_start + 20 {
            let frames: Vec<&[u8]> = c.units[gop_start..=last].iter().map(|u| u.0.as_slice()).collect();
            let jpeg = jpeg_from_frames(&c.params, &frames).unwrap_or_else(|e| panic!("frame {last}: {e}"));
            assert!(Some(&jpeg) == want[last].as_ref(), "frame {last} (picture {}) shows another picture", c.pts[last]);
        }
    }
}
