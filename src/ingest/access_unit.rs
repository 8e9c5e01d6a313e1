//! Whole pictures out of what the RTSP client hands over.
//!
//! retina ends an access unit at every RTP marker bit. Servers built on live555 (much camera firmware)
//! feed live encoders through live555's *discrete* framer, which sets the marker after every VCL NAL
//! unit, so a picture sent as several slices (x264 `slices=N` or `-tune zerolatency`, many cameras)
//! arrives as several "frames" with one timestamp. Stored that way, each slice becomes a sample with the
//! same time: exports fail to decode and frame counts double. This module joins them back: an access
//! unit is every NAL unit with one RTP timestamp, until one that begins a new access unit by the rules of
//! H.264 7.4.1.2.3 / H.265 7.4.2.4.4 (an access unit delimiter, a parameter set or SEI, or a slice that
//! is the first of its picture: `first_mb_in_slice == 0`, `first_slice_segment_in_pic_flag`), whatever
//! the marker bit said.
//!
//! The RTSP client (retina, by its default `ParameterSetInsertion::EachKeyFrame`) puts the stream's
//! parameter sets before *each* piece that holds an IDR slice, so a later slice of a key picture arrives
//! as SPS, PPS, slice: those repeated parameter sets are dropped when the slice is joined (parameter sets
//! between the slices of one picture would begin a new access unit for any decoder).
//!
//! The price is one frame interval of latency: a picture is complete only when the next one begins (or
//! the session ends: [`AccessUnits::flush`]). Joining is bounded: past [`MAX_SLICES`] pieces or
//! [`MAX_BYTES`] the picture is passed on as it is.

use super::SourceFrame;
use kw_media::{nal, Codec};

/// Most pieces joined into one access unit (H.264 level 6.2 allows at most a few hundred slices).
pub const MAX_SLICES: usize = 1024;
/// Largest access unit built by joining.
pub const MAX_BYTES: usize = 32 << 20;

/// Joins the slices of one picture (the live555 "marker on every slice" quirk).
#[derive(Debug)]
pub struct AccessUnits {
    codec: Codec,
    /// The picture so far: its first piece, the joined data once a second piece came, the pieces.
    held: Option<(SourceFrame, Option<Vec<u8>>, usize)>,
    /// Pieces that were joined onto an earlier one (for the log: how often the quirk showed).
    pub joined: u64,
}

impl AccessUnits {
    pub fn new(codec: Codec) -> Self {
        AccessUnits { codec, held: None, joined: 0 }
    }

    /// Takes one video frame as the RTSP client made it (length-prefixed NAL units); returns the previous
    /// access unit once `f` shows that it is complete.
    pub fn push(&mut self, f: SourceFrame) -> Option<SourceFrame> {
        if let Some((first, data, pieces)) = self.held.as_mut() {
            let len = data.as_ref().map_or(first.data.len(), Vec::len);
            let rest = if f.ts == first.ts { &f.data[leading_parameter_sets(self.codec, &f.data)..] } else { &[][..] };
            let continues = !rest.is_empty()
                && !begins_access_unit(self.codec, rest)
                && *pieces < MAX_SLICES
                && len + rest.len() <= MAX_BYTES;
            if continues {
                data.get_or_insert_with(|| first.data.to_vec()).extend_from_slice(rest);
                *pieces += 1;
                first.loss |= f.loss;
                self.joined += 1;
                return None;
            }
        }
        let done = self.flush();
        self.held = Some((f, None, 1));
        done
    }

    /// The access unit held back, if any (the session ended).
    pub fn flush(&mut self) -> Option<SourceFrame> {
        let (mut f, joined, _) = self.held.take()?;
        if let Some(data) = joined {
            f.data = bytes::Bytes::from(data);
        }
        Some(f)
    }
}

/// How many bytes at the start of a piece are parameter sets (SPS/PPS; VPS/SPS/PPS in H.265).
fn leading_parameter_sets(codec: Codec, data: &[u8]) -> usize {
    let mut len = 0;
    for n in nal::iter_avc(data) {
        let param = match codec {
            Codec::H265 => matches!(nal::h265_type(n), 32..=34),
            _ => matches!(nal::h264_type(n), 7 | 8),
        };
        if !param {
            break;
        }
        len += 4 + n.len();
    }
    len
}

/// Whether a piece (length-prefixed NAL units) begins a new access unit: its first NAL unit that decides
/// is an access unit delimiter, a parameter set, an SEI (prefix SEI in H.265), or the first slice of a
/// picture. A piece of nothing but other NAL units (filler, end of sequence) continues the current one.
pub fn begins_access_unit(codec: Codec, data: &[u8]) -> bool {
    for n in nal::iter_avc(data) {
        match codec {
            Codec::H265 => {
                let t = nal::h265_type(n);
                match t {
                    0..=31 => return n.get(2).is_some_and(|b| b & 0x80 != 0),
                    32..=35 | 39 | 41..=44 | 48..=55 => return true,
                    _ => {}
                }
            }
            _ => {
                let t = nal::h264_type(n);
                match t {
                    1..=5 => return n.get(1).is_some_and(|b| b & 0x80 != 0),
                    6..=9 | 14..=18 => return true,
                    _ => {}
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kw_media::StreamKind;
    use std::time::Instant;

    fn avc(nals: &[&[u8]]) -> Bytes {
        let mut out = Vec::new();
        for n in nals {
            out.extend_from_slice(&(n.len() as u32).to_be_bytes());
            out.extend_from_slice(n);
        }
        Bytes::from(out)
    }

    fn frame(ts: i64, key: bool, data: Bytes) -> SourceFrame {
        SourceFrame {
            stream: StreamKind::Video,
            ts,
            clock_rate: 90_000,
            key,
            loss: false,
            data,
            arrival: Instant::now(),
        }
    }

    // H.264: SPS, PPS, IDR slices; the byte after the NAL header starts with first_mb_in_slice (ue(v):
    // a leading 1 bit is 0, anything else is a later slice).
    const SPS: &[u8] = &[0x67, 0x42, 0x00, 0x1e];
    const PPS: &[u8] = &[0x68, 0xce, 0x38, 0x80];
    const IDR_FIRST: &[u8] = &[0x65, 0x88, 0x84, 0x00];
    const IDR_LATER: &[u8] = &[0x65, 0x00, 0x30, 0x84];
    const P_FIRST: &[u8] = &[0x41, 0x9a, 0x02, 0x03];
    const P_LATER: &[u8] = &[0x41, 0x01, 0x9a, 0x03];

    #[test]
    fn live555_slices_with_one_timestamp_make_one_picture() {
        let mut au = AccessUnits::new(Codec::H264);
        assert!(au.push(frame(0, true, avc(&[SPS, PPS, IDR_FIRST]))).is_none());
        assert!(au.push(frame(0, true, avc(&[IDR_LATER]))).is_none());
        assert!(au.push(frame(0, true, avc(&[IDR_LATER]))).is_none());
        let first = au.push(frame(3600, false, avc(&[P_FIRST]))).expect("the IDR picture is complete");
        assert_eq!(first.ts, 0);
        assert!(first.key);
        assert_eq!(first.data, avc(&[SPS, PPS, IDR_FIRST, IDR_LATER, IDR_LATER]));
        assert!(au.push(frame(3600, false, avc(&[P_LATER]))).is_none());
        let second = au.flush().expect("held");
        assert_eq!(second.data, avc(&[P_FIRST, P_LATER]));
        assert_eq!(au.joined, 3);
        assert!(au.flush().is_none());
    }

    #[test]
    fn parameter_sets_repeated_before_each_idr_slice_are_dropped_when_joined() {
        // What retina hands over for a live555 camera's 3-slice key picture: SPS and PPS before every piece.
        let mut au = AccessUnits::new(Codec::H264);
        assert!(au.push(frame(0, true, avc(&[SPS, PPS, IDR_FIRST]))).is_none());
        assert!(au.push(frame(0, true, avc(&[SPS, PPS, IDR_LATER]))).is_none());
        assert!(au.push(frame(0, true, avc(&[SPS, PPS, IDR_LATER]))).is_none());
        let key = au.push(frame(3600, false, avc(&[P_FIRST]))).expect("the key picture is complete");
        assert_eq!(key.data, avc(&[SPS, PPS, IDR_FIRST, IDR_LATER, IDR_LATER]));
        // A new key picture with the same timestamp, and parameter sets alone, still begin their own.
        let mut au = AccessUnits::new(Codec::H264);
        au.push(frame(0, true, avc(&[SPS, PPS, IDR_FIRST])));
        assert!(au.push(frame(0, true, avc(&[SPS, PPS, IDR_FIRST]))).is_some());
        assert!(au.push(frame(0, true, avc(&[SPS, PPS]))).is_some());
    }

    #[test]
    fn a_new_picture_with_the_same_timestamp_stays_apart() {
        // A camera that repeats a timestamp: the second picture starts with first_mb_in_slice == 0.
        let mut au = AccessUnits::new(Codec::H264);
        au.push(frame(0, false, avc(&[P_FIRST])));
        let a = au.push(frame(0, false, avc(&[P_FIRST]))).expect("two pictures");
        assert_eq!(a.data, avc(&[P_FIRST]));
        // A parameter set or an access unit delimiter begins an access unit too.
        assert!(begins_access_unit(Codec::H264, &avc(&[&[0x09, 0xf0]])));
        assert!(begins_access_unit(Codec::H264, &avc(&[SPS])));
        assert!(!begins_access_unit(Codec::H264, &avc(&[&[0x0c, 0xff], IDR_LATER])));
    }

    #[test]
    fn h265_slice_segments_join_on_the_first_slice_flag() {
        let vps: &[u8] = &[0x40, 0x01, 0x0c];
        let cra_first: &[u8] = &[0x2a, 0x01, 0xaf, 0x00];
        let cra_later: &[u8] = &[0x2a, 0x01, 0x2f, 0x00];
        let trail_first: &[u8] = &[0x02, 0x01, 0xd0, 0x00];
        assert!(begins_access_unit(Codec::H265, &avc(&[vps])));
        assert!(begins_access_unit(Codec::H265, &avc(&[cra_first])));
        assert!(!begins_access_unit(Codec::H265, &avc(&[cra_later])));
        let mut au = AccessUnits::new(Codec::H265);
        au.push(frame(10, true, avc(&[vps, cra_first])));
        au.push(frame(10, true, avc(&[cra_later])));
        let a = au.push(frame(20, false, avc(&[trail_first]))).unwrap();
        assert_eq!(a.data, avc(&[vps, cra_first, cra_later]));
    }

    #[test]
    fn joining_is_bounded_and_never_panics_on_garbage() {
        let mut au = AccessUnits::new(Codec::H264);
        au.push(frame(0, false, avc(&[P_FIRST])));
        let mut out = 0;
        for _ in 0..MAX_SLICES + 5 {
            out += usize::from(au.push(frame(0, false, avc(&[P_LATER]))).is_some());
        }
        assert_eq!(out, 1, "a picture past MAX_SLICES pieces is passed on");
        for junk in [&[][..], &[0, 0, 0, 9][..], &[0, 0, 0, 1, 0x41][..], &[0xff; 7][..]] {
            let _ = begins_access_unit(Codec::H264, junk);
            let _ = begins_access_unit(Codec::H265, junk);
        }
    }
}
