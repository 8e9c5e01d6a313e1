//! The movie and track headers both writers share: `ftyp`, `mvhd`, and the `trak` skeleton
//! (`tkhd`, `edts`, `mdia` with `mdhd`, `hdlr`, `minf`, `dinf`, `stbl` with `stsd`). The writer that calls
//! them adds only what differs: the sample tables of a progressive file, or empty tables plus `mvex` for
//! fMP4.

use crate::bx::W;
use crate::entry::{self, Kind};
use crate::Mp4Error;
use kw_media::StreamParams;

/// Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01.
const EPOCH_1904: i64 = 2_082_844_800;

/// MP4 time (seconds since 1904) of a Unix time; times before 1904 become 0.
pub(crate) fn mp4_time(unix: i64) -> u64 {
    u64::try_from(unix.saturating_add(EPOCH_1904)).unwrap_or(0)
}

pub(crate) fn ftyp(w: &mut W, major: &[u8; 4], minor: u32, compatible: &[&[u8; 4]]) {
    let b = w.begin(b"ftyp");
    w.bytes(major);
    w.u32(minor);
    for c in compatible {
        w.bytes(*c);
    }
    w.end(b);
}

/// `mvhd`; version 1 only when a value does not fit 32 bits.
pub(crate) fn mvhd(w: &mut W, time: u64, timescale: u32, duration: u64, next_track_id: u32) {
    let v1 = time > u32::MAX.into() || duration > u32::MAX.into();
    let b = w.begin_full(b"mvhd", v1.into(), 0);
    times(w, v1, time);
    w.u32(timescale);
    sized(w, v1, duration);
    w.u32(0x0001_0000); // rate 1.0
    w.u16(0x0100); // volume 1.0
    w.zeros(10);
    w.matrix();
    w.zeros(24); // pre_defined
    w.u32(next_track_id);
    w.end(b);
}

/// One edit list entry: `media_time` in the track's timescale (-1: an empty edit), `duration` in the
/// movie's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edit {
    pub duration: u64,
    pub media_time: i64,
}

/// Everything the track header boxes need.
pub(crate) struct TrackHead<'a> {
    pub track_id: u32,
    /// The descriptions of the track, in `stsd` order; the first one gives kind and picture size.
    pub descs: &'a [StreamParams],
    pub time: u64,
    /// In the movie timescale.
    pub duration: u64,
    pub timescale: u32,
    /// In the track timescale.
    pub media_duration: u64,
    pub edits: &'a [Edit],
}

/// Writes a whole `trak`; `tables` appends the sample tables after `stsd`.
pub(crate) fn trak(
    w: &mut W,
    h: &TrackHead<'_>,
    tables: impl FnOnce(&mut W) -> Result<(), Mp4Error>,
) -> Result<(), Mp4Error> {
    let first = h.descs.first().ok_or(Mp4Error::Track { track: 0, reason: "no sample description".into() })?;
    let kind = Kind::of(first.codec);
    let trak = w.begin(b"trak");

    let v1 = h.time > u32::MAX.into() || h.duration > u32::MAX.into();
    let b = w.begin_full(b"tkhd", v1.into(), 0x3); // enabled, in movie
    times(w, v1, h.time);
    w.u32(h.track_id);
    w.u32(0);
    sized(w, v1, h.duration);
    w.zeros(8);
    w.u16(0); // layer
    w.u16(0); // alternate_group
    w.u16(if kind == Kind::Audio { 0x0100 } else { 0 });
    w.u16(0);
    w.matrix();
    let (width, height) = if kind == Kind::Video { (first.width, first.height) } else { (0, 0) };
    w.u32(u32::from(width) << 16);
    w.u32(u32::from(height) << 16);
    w.end(b);

    if !h.edits.is_empty() {
        elst(w, h.edits);
    }

    let mdia = w.begin(b"mdia");
    let v1 = h.time > u32::MAX.into() || h.media_duration > u32::MAX.into();
    let b = w.begin_full(b"mdhd", v1.into(), 0);
    times(w, v1, h.time);
    w.u32(h.timescale);
    sized(w, v1, h.media_duration);
    w.u16(0x55c4); // language "und"
    w.u16(0);
    w.end(b);

    let b = w.begin_full(b"hdlr", 0, 0);
    w.u32(0);
    w.bytes(if kind == Kind::Video { b"vide" } else { b"soun" });
    w.zeros(12);
    w.bytes(if kind == Kind::Video { b"VideoHandler\0" } else { b"SoundHandler\0" });
    w.end(b);

    let minf = w.begin(b"minf");
    if kind == Kind::Video {
        let b = w.begin_full(b"vmhd", 0, 1);
        w.zeros(8); // graphicsmode, opcolor
        w.end(b);
    } else {
        let b = w.begin_full(b"smhd", 0, 0);
        w.zeros(4); // balance, reserved
        w.end(b);
    }
    let dinf = w.begin(b"dinf");
    let dref = w.begin_full(b"dref", 0, 0);
    w.u32(1);
    let url = w.begin_full(b"url ", 0, 1); // media data is in this file
    w.end(url);
    w.end(dref);
    w.end(dinf);

    let stbl = w.begin(b"stbl");
    entry::stsd(w, h.descs)?;
    tables(w)?;
    w.end(stbl);
    w.end(minf);
    w.end(mdia);
    w.end(trak);
    Ok(())
}

fn elst(w: &mut W, edits: &[Edit]) {
    let v1 = edits.iter().any(|e| e.duration > u32::MAX.into() || i32::try_from(e.media_time).is_err());
    let edts = w.begin(b"edts");
    let b = w.begin_full(b"elst", v1.into(), 0);
    w.u32(edits.len() as u32);
    for e in edits {
        if v1 {
            w.u64(e.duration);
            w.i64(e.media_time);
        } else {
            w.u32(e.duration as u32);
            w.i32(e.media_time as i32);
        }
        w.u32(0x0001_0000); // media_rate 1.0
    }
    w.end(b);
    w.end(edts);
}

/// creation_time and modification_time.
fn times(w: &mut W, v1: bool, t: u64) {
    sized(w, v1, t);
    sized(w, v1, t);
}

fn sized(w: &mut W, v1: bool, v: u64) {
    if v1 {
        w.u64(v);
    } else {
        w.u32(v as u32);
    }
}
