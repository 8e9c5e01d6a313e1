//! Fragmented MP4 (ISO BMFF fragments) for live view: one init segment, then `moof`+`mdat` pairs.
//!
//! Why fragments: a live stream has no end, so it cannot have a `moov` describing all samples; Media
//! Source Extensions and HLS take an init segment (sample descriptions only) followed by self-contained
//! media segments. Timing is the caller's: it passes decode durations and composition offsets, e.g. from
//! [`crate::timing::decode_times`].

use crate::bx::W;
use crate::trak::{self, TrackHead};
use crate::Mp4Error;
use bytes::Bytes;
use kw_media::{StreamParams, VIDEO_TIMESCALE};

/// One sample of a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragSample {
    /// Decode duration in the track's timescale.
    pub duration: u32,
    pub size: u32,
    /// pts - dts.
    pub cts_offset: i32,
    pub key: bool,
}

/// The samples of one track in a media segment. `data` concatenated is the samples' bytes in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragTrack {
    /// 1-based, in the order of the init segment's tracks.
    pub track_id: u32,
    /// Decode time of the first sample, in the track's timescale.
    pub base_dts: u64,
    pub samples: Vec<FragSample>,
    pub data: Vec<Bytes>,
}

/// The init segment: `ftyp` and a `moov` with one track per entry (track ids 1..) and `mvex`.
pub fn init_segment(tracks: &[StreamParams]) -> Result<Vec<u8>, Mp4Error> {
    if tracks.is_empty() {
        return Err(Mp4Error::NoTracks);
    }
    let mut w = W::new();
    trak::ftyp(&mut w, b"iso6", 0, &[b"iso6", b"mp41"]);
    let moov = w.begin(b"moov");
    let next_id = u32::try_from(tracks.len() + 1).map_err(|_| Mp4Error::TooLarge)?;
    trak::mvhd(&mut w, 0, VIDEO_TIMESCALE, 0, next_id);
    for (i, p) in tracks.iter().enumerate() {
        if p.timescale == 0 {
            return Err(Mp4Error::Track { track: i, reason: "timescale is 0".into() });
        }
        let head = TrackHead {
            track_id: i as u32 + 1,
            descs: std::slice::from_ref(p),
            time: 0,
            duration: 0,
            timescale: p.timescale,
            media_duration: 0,
            edits: &[],
        };
        trak::trak(&mut w, &head, |w| {
            for typ in [b"stts", b"stsc", b"stco"] {
                let b = w.begin_full(typ, 0, 0);
                w.u32(0);
                w.end(b);
            }
            let b = w.begin_full(b"stsz", 0, 0);
            w.u64(0); // sample_size, sample_count
            w.end(b);
            Ok(())
        })?;
    }
    let mvex = w.begin(b"mvex");
    for i in 0..tracks.len() {
        let b = w.begin_full(b"trex", 0, 0);
        w.u32(i as u32 + 1);
        w.u32(1); // default_sample_description_index
        w.zeros(12); // default duration, size, flags: every trun gives its own
        w.end(b);
    }
    w.end(mvex);
    w.end(moov);
    w.finish()
}

/// Sample flags: a sync sample depends on nothing; any other depends on others and is not sync.
const KEY_FLAGS: u32 = 0x0200_0000;
const NON_KEY_FLAGS: u32 = 0x0101_0000;

/// One media segment: `moof` (sequence number `seq`, one `traf` per track) and its `mdat`.
pub fn media_segment(seq: u32, tracks: &[FragTrack]) -> Vec<u8> {
    let mut w = W::new();
    let moof = w.begin(b"moof");
    let b = w.begin_full(b"mfhd", 0, 0);
    w.u32(seq);
    w.end(b);
    let mut offset_fields = Vec::with_capacity(tracks.len());
    for t in tracks {
        let traf = w.begin(b"traf");
        let b = w.begin_full(b"tfhd", 0, 0x02_0000); // default-base-is-moof
        w.u32(t.track_id);
        w.end(b);
        let b = w.begin_full(b"tfdt", 1, 0);
        w.u64(t.base_dts);
        w.end(b);
        // data-offset, sample duration, size, flags, composition offset present
        let b = w.begin_full(b"trun", 1, 0x0f01);
        w.u32(t.samples.len() as u32);
        offset_fields.push(w.pos());
        w.i32(0);
        for s in &t.samples {
            w.u32(s.duration);
            w.u32(s.size);
            w.u32(if s.key { KEY_FLAGS } else { NON_KEY_FLAGS });
            w.i32(s.cts_offset);
        }
        w.end(b);
        w.end(traf);
    }
    w.end(moof);
    // Data offsets count from the start of moof (which starts this buffer) to each track's first byte.
    let payload: u64 = tracks.iter().flat_map(|t| &t.data).map(|d| d.len() as u64).sum();
    let large = payload + 8 > u64::from(u32::MAX);
    let mut at = w.pos() as u64 + if large { 16 } else { 8 };
    for (field, t) in offset_fields.into_iter().zip(tracks) {
        w.patch_u32(field, at as u32);
        at += t.data.iter().map(|d| d.len() as u64).sum::<u64>();
    }
    if large {
        w.u32(1);
        w.bytes(b"mdat");
        w.u64(payload + 16);
    } else {
        w.u32((payload + 8) as u32);
        w.bytes(b"mdat");
    }
    for d in tracks.iter().flat_map(|t| &t.data) {
        w.bytes(d);
    }
    w.into_vec()
}
